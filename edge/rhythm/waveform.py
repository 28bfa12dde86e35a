"""Waveform features of a strip: median-beat morphology, the atrial residual after QRST
cancellation, and signal quality.

The strip classifier (:mod:`edge.rhythm.strip`) reads these next to the RR and P-wave features.
They answer three questions the RR series cannot:

* **what do the beats look like** (``O``: bundle-branch block, ectopic beats, ST/T changes):
  the median beat over the strip, its polarity normalised (largest QRS deflection up) and
  scaled to its QRS peak-to-peak, sampled every :data:`TEMPLATE_STEP_S` from
  :data:`TEMPLATE_SPAN_S`; QRS width, T-wave and ST level; how well each beat matches the
  median one (premature beats of another shape);
* **what do the atria do between beats** (``A``): every beat's QRST complex is cancelled with
  the median beat (scaled to that beat by least squares); the residual holds f-waves in atrial
  fibrillation (4-10 Hz, irregular), flutter waves (organised, 4-6 Hz) or noise. Its size
  relative to the QRS, its 4-10 Hz share, dominant frequency and how concentrated its spectrum
  is around that frequency; and the size of the signal itself between the end of the T wave
  and 0.1 s before the next beat (``tq_rms_to_qrs``: P waves, f-waves or noise);
* **is this a recording at all** (``~``): amplitude, high-frequency and baseline-wander power
  of the raw input, the share of 1-s stretches much louder than the rest, kurtosis.

The signal is conditioned by the device's own front end (:func:`edge.rhythm.atrial.condition`)
except the quality features, which read the raw input. All features are finite; a strip with
fewer than four whole beats gets zeros for the beat-based ones.
"""
from __future__ import annotations

import logging

import numpy as np

from edge.dsp.detection import to_processing_index
from edge.rhythm.atrial import condition, corr_rows

__all__ = ["TEMPLATE_SPAN_S", "TEMPLATE_STEP_S", "WAVEFORM_FEATURE_NAMES", "waveform_features",
           "conditioned_waveform_features", "quality_features"]

logger = logging.getLogger(__name__)

TEMPLATE_SPAN_S = (-0.25, 0.50)  # median-beat window relative to the R peak (s)
TEMPLATE_STEP_S = 0.025  # template sampling step of the features (s)
_N_TEMPLATE = int(round((TEMPLATE_SPAN_S[1] - TEMPLATE_SPAN_S[0]) / TEMPLATE_STEP_S)) + 1
_QRS_S = (-0.06, 0.06)
_QRS_BLANK_S = (-0.05, 0.07)  # residual samples around each R blanked before the spectrum
_MIN_BEATS = 4
_WELCH_S = 2.0  # Welch segment (s)

MORPH_NAMES = (tuple(f"tmpl_{i:02d}" for i in range(_N_TEMPLATE))
               + ("qrs_ptp_mv", "qrs_width2_s", "qrs_polarity", "t_amp", "st_level",
                  "beat_corr_median", "beat_corr_p10", "beat_low_corr_share",
                  "premature_share", "premature_odd_share", "tmpl_abs_area"))
RESIDUAL_NAMES = ("resid_rms_to_qrs", "tq_rms_to_qrs", "resid_band_4_10",
                  "resid_peak_hz", "resid_peak_conc", "resid_spec_entropy")
QUALITY_NAMES = ("sq_amp_mv", "sq_hf_share", "sq_lf_share", "sq_loud_share", "sq_kurtosis",
                 "sq_flat_share")
WAVEFORM_FEATURE_NAMES = MORPH_NAMES + RESIDUAL_NAMES + QUALITY_NAMES


def _band_power(x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectrum (Hann, 50 % overlap, :data:`_WELCH_S` segments) of ``x``."""
    n = int(round(_WELCH_S * fs_hz))
    if x.size < n:
        n = max(8, x.size)
    win = np.hanning(n)
    step = max(1, n // 2)
    segs = [x[i:i + n] for i in range(0, x.size - n + 1, step)]
    if not segs:
        return np.zeros(1), np.zeros(1)
    p = np.mean([np.abs(np.fft.rfft((s - s.mean()) * win)) ** 2 for s in segs], axis=0)
    return np.fft.rfftfreq(n, 1.0 / fs_hz), p


def quality_features(x_mv: np.ndarray, fs_hz: float, y_mv: np.ndarray, fs_p: float
                     ) -> np.ndarray:
    """The :data:`QUALITY_NAMES` part: raw input ``x_mv`` at ``fs_hz``, conditioned ``y_mv``
    at ``fs_p``."""
    x = np.asarray(x_mv, dtype=np.float64)
    y = np.asarray(y_mv, dtype=np.float64)
    if x.size < 8 or y.size < 8:
        return np.zeros(len(QUALITY_NAMES))
    amp = float(np.percentile(y, 99.5) - np.percentile(y, 0.5))
    f, p = _band_power(x, fs_hz)
    tot = float(p[f > 0].sum()) + 1e-12
    hf = float(p[f > 40.0].sum()) / tot
    lf = float(p[(f > 0) & (f < 1.0)].sum()) / tot
    sec = int(round(fs_p))
    n_sec = y.size // sec
    if n_sec >= 2:
        sd = y[:n_sec * sec].reshape(n_sec, sec).std(axis=1)
        loud = float(np.mean(sd > 2.5 * (np.median(sd) + 1e-9)))
    else:
        loud = 0.0
    c = y - y.mean()
    var = float(np.mean(c * c))
    kurt = float(np.mean(c ** 4) / (var * var)) if var > 1e-12 else 0.0
    flat = float(np.mean(np.abs(np.diff(x)) < 1e-9))
    return np.array([amp, hf, lf, loud, min(kurt, 1e3), flat])


def conditioned_waveform_features(y_mv: np.ndarray, fs_p: float, r_index: np.ndarray
                                  ) -> np.ndarray:
    """The :data:`MORPH_NAMES` + :data:`RESIDUAL_NAMES` part from the conditioned signal
    ``y_mv`` at ``fs_p`` and the beats at processing-rate indices ``r_index``."""
    y = np.asarray(y_mv, dtype=np.float64)
    r_all = np.asarray(r_index, dtype=np.int64)
    n_morph = len(MORPH_NAMES)
    out = np.zeros(n_morph + len(RESIDUAL_NAMES))
    a0, a1 = (int(round(v * fs_p)) for v in TEMPLATE_SPAN_S)
    r = r_all[(r_all + a0 >= 0) & (r_all + a1 < y.size)]
    if r.size < _MIN_BEATS:
        return out
    seg = y[r[:, None] + np.arange(a0, a1 + 1)[None, :]]
    tmpl = np.median(seg, axis=0)
    q0, q1 = (int(round(v * fs_p)) - a0 for v in _QRS_S)
    qrs = tmpl[q0:q1 + 1]
    base = float(np.median(tmpl[:int(round(0.1 * fs_p))]))  # before the P wave, roughly
    dev = qrs - base
    k = int(np.argmax(np.abs(dev)))
    sign = 1.0 if dev[k] >= 0 else -1.0
    ptp = float(np.ptp(qrs)) + 1e-6
    norm = sign * (tmpl - base) / ptp
    pos = np.round(np.arange(_N_TEMPLATE) * TEMPLATE_STEP_S * fs_p).astype(np.int64)
    pos = np.minimum(pos, norm.size - 1)
    width = float(np.count_nonzero(np.abs(dev) > 0.5 * np.abs(dev[k]))) / fs_p
    t0, t1 = (int(round(v * fs_p)) - a0 for v in (0.15, 0.45))
    t_seg = norm[t0:t1]
    t_amp = float(t_seg[np.argmax(np.abs(t_seg))]) if t_seg.size else 0.0
    s0, s1 = (int(round(v * fs_p)) - a0 for v in (0.08, 0.12))
    st = float(norm[s0:s1].mean())
    cw = seg[:, q0 - int(round(0.04 * fs_p)):q1 + int(round(0.1 * fs_p))]
    corr = corr_rows(cw, np.median(cw, axis=0))
    rr = np.diff(r_all) / fs_p
    if rr.size >= 3:
        med = np.array([np.median(rr[max(0, i - 2):i + 3]) for i in range(rr.size)])
        prem = rr < 0.85 * med
        prem_share = float(prem.mean())
        # premature beats that also look different: the beat ending the short interval
        corr_of = dict(zip(r.tolist(), corr.tolist()))
        odd = [corr_of.get(int(b), 1.0) < 0.9 for b in r_all[1:][prem]]
        prem_odd = float(np.sum(odd)) / rr.size
    else:
        prem_share = prem_odd = 0.0
    out[:n_morph] = np.concatenate([
        norm[pos],
        [ptp, width, sign, t_amp, st, float(np.median(corr)), float(np.percentile(corr, 10)),
         float(np.mean(corr < 0.8)), prem_share, prem_odd, float(np.mean(np.abs(norm)))]])
    out[n_morph:] = _residual_features(y, fs_p, r, seg, tmpl, a0, ptp, rr)
    return out


def _residual_features(y: np.ndarray, fs_p: float, r: np.ndarray, seg: np.ndarray,
                       tmpl: np.ndarray, a0: int, qrs_ptp: float, rr_s: np.ndarray
                       ) -> np.ndarray:
    """QRST cancellation with the median beat (scaled per beat), then the residual's size and
    spectrum (QRS neighbourhoods blanked)."""
    resid = y.copy()
    covered = np.zeros(y.size, dtype=bool)
    tc = tmpl - tmpl.mean()
    den = float(tc @ tc) + 1e-12
    span = np.arange(seg.shape[1])
    for b, row in zip(r, seg):
        gain = float(np.clip(((row - row.mean()) @ tc) / den, 0.5, 2.0))
        fit = gain * tc + row.mean()
        idx = b + a0 + span
        resid[idx] = np.where(covered[idx], resid[idx], y[idx] - fit)
        covered[idx] = True
    b0, b1 = (int(round(v * fs_p)) for v in _QRS_BLANK_S)
    blank = np.zeros(y.size, dtype=bool)
    for b in r:
        blank[max(0, b + b0):min(y.size, b + b1)] = True
    use = covered & ~blank
    if use.sum() < fs_p:
        return np.zeros(len(RESIDUAL_NAMES))
    rms = float(np.sqrt(np.mean(resid[use] ** 2)))
    # the T-Q stretch: from 0.45 s (or 60 % of the interval) after a beat to 0.1 s before next
    tq = np.zeros(y.size, dtype=bool)
    for b, nb in zip(r[:-1], r[1:]):
        s = b + int(round(min(0.45 * fs_p, 0.6 * (nb - b))))
        e = nb - int(round(0.1 * fs_p))
        if e > s:
            tq[s:e] = True
    tq_rms = float(np.sqrt(np.mean(y[tq] ** 2))) if tq.any() else rms
    z = np.where(use, resid, 0.0)
    f, p = _band_power(z, fs_p)
    band = (f >= 1.0) & (f <= 40.0)
    tot = float(p[band].sum()) + 1e-12
    af_band = (f >= 4.0) & (f <= 10.0)
    share = float(p[af_band].sum()) / tot
    pk_band = (f >= 3.0) & (f <= 12.0)
    if p[pk_band].sum() > 0:
        fp = f[pk_band]
        pp = p[pk_band]
        peak = float(fp[np.argmax(pp)])
        conc = float(pp[np.abs(fp - peak) <= 1.0].sum() / pp.sum())
    else:
        peak, conc = 0.0, 0.0
    q = p[band] / tot
    q = q[q > 0]
    ent = float(-(q * np.log2(q)).sum() / np.log2(max(2, band.sum())))
    return np.array([rms / qrs_ptp, tq_rms / qrs_ptp, share, peak, conc, ent])


def waveform_features(x_mv: np.ndarray, fs_hz: float, sample_index: np.ndarray) -> np.ndarray:
    """The :data:`WAVEFORM_FEATURE_NAMES` vector of a strip (``x_mv`` at ``fs_hz``, beats at
    input sample indices)."""
    x = np.nan_to_num(np.asarray(x_mv, dtype=np.float64))
    y, fs_p = condition(x, fs_hz)
    r = to_processing_index(np.asarray(sample_index, dtype=np.int64), fs_hz, fs_p)
    return np.concatenate([conditioned_waveform_features(y, fs_p, r),
                           quality_features(x, fs_hz, y, fs_p)])
