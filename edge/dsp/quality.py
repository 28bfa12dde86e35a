"""Signal quality of one ECG channel, window by window: lead-off / flat line, saturation,
excessive noise.

:class:`SignalQuality` is a streaming stage over the device's samples (mV, device rate; ``NaN``
marks samples that were lost or non-finite). It cuts the stream into windows of ``window_s``
and grades each:

``lead_off``   more than ``lead_off_fraction`` of the window is non-finite or flat (a run of
               identical samples of ``flat_ms`` or longer: electrode off, amplifier at a rail).
``saturated``  more than ``clip_fraction`` of the samples sit exactly at the window's maximum or
               minimum (the ADC clips the QRS complexes), in a window spanning at least
               :data:`SATURATION_MIN_SPAN_MV` (a few quantisation steps of baseline noise put
               many samples at the extremes too: a stopped heart read at 5 µV per step was
               graded saturated, which restarts the asystole clock; session 50 audit).
``noisy``      high-frequency energy (above ``hf_cutoff_hz``; muscle noise, mains) exceeds
               ``noise_ratio_max`` times the QRS-band energy (``qrs_band_hz``) and is more than
               the ADC's quiet floor (RMS above ``quiet_hf_rms_mv``), or the QRS-band
               peak-to-peak amplitude exceeds ``max_amplitude_mv`` (motion artefact).
``good``       none of the above.

The daemon flags beats that fall into a bad window (``quality`` in the beat event) instead
of silently trusting their class.

A quiet window is not a noisy one: a window without a QRS complex (a sinus pause, asystole)
has almost no QRS-band energy, so its high-frequency / QRS-band ratio only reads the
recorder's noise floor and can be large. Below ``quiet_hf_rms_mv`` of high-frequency RMS the
ratio is not judged (measured on MIT-BIH DS1: no window graded noisy by real noise has an
HF RMS under 0.015 mV, while record 232's QRS-less pause windows read 0.004-0.014 mV and
were all "noisy", which made their RR intervals untrusted and hid their ``pause`` alerts).

Band energies are computed with streaming SOS filters
(explicit state), so chunking does not change the result.
"""
from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from edge.dsp import scisig as signal
from edge.errors import ConfigError

__all__ = ["QualityConfig", "QualityWindow", "SignalQuality", "QUALITY_RANK"]

logger = logging.getLogger(__name__)

#: Quality levels, best first, by rank (the order of ``edge.events.model.QUALITY_LEVELS``).
QUALITY_RANK = {"good": 0, "noisy": 1, "saturated": 2, "lead_off": 3}


#: The highest quiet floor accepted (mV of HF RMS): DS1's windows graded noisy by real muscle
#: noise start at 0.015-0.03 mV, so a floor above this would hide real noise; a value meant in
#: µV (15) is refused, not taken as 15 mV.
QUIET_HF_RMS_MAX_MV = 0.05

#: The least span (max - min, mV) of a window graded ``saturated``: an amplifier at its rail
#: has clipped a QRS complex or an excursion at least this large.
SATURATION_MIN_SPAN_MV = 0.3

#: The lowest sample rate the device analyses (Hz): below it a QRS complex (≈ 80-120 ms)
#: spans too few samples to detect or to grade; records and streams are refused under it.
MIN_FS_HZ = 50.0

#: The highest sample rate the device accepts (Hz): a rate no ECG front end has is a damaged
#: header or frame, not a recording.
MAX_FS_HZ = 10000.0


@dataclass(frozen=True, kw_only=True)
class QualityConfig:
    """Settings of :class:`SignalQuality`.

    Attributes
    ----------
    fs_hz : device sample rate (Hz).
    window_s : analysis window (s).
    flat_ms : identical samples for this long or longer are a flat line (ms).
    lead_off_fraction : fraction of flat or non-finite samples above which a window is lead-off.
    clip_fraction : fraction of samples at the window's extreme above which it is saturated.
    hf_cutoff_hz : lower edge of the "noise" band (Hz; limited to 0.45 x fs_hz).
    qrs_band_hz : (low, high) edges of the QRS band (Hz).
    noise_ratio_max : highest acceptable HF / QRS-band energy ratio.
    quiet_hf_rms_mv : HF RMS (mV) at or below which the window is quiet and its HF / QRS-band
        ratio is not judged (0: always judged).
    max_amplitude_mv : highest plausible QRS-band peak-to-peak amplitude (mV).
    history_windows : graded windows kept for looking up the quality of late beats.
    """

    fs_hz: float
    window_s: float = 2.0
    flat_ms: float = 100.0
    lead_off_fraction: float = 0.5
    clip_fraction: float = 0.03
    hf_cutoff_hz: float = 40.0
    qrs_band_hz: tuple[float, float] = (5.0, 15.0)
    noise_ratio_max: float = 0.35
    quiet_hf_rms_mv: float = 0.015
    max_amplitude_mv: float = 5.0
    history_windows: int = 16

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fs_hz) and self.fs_hz >= MIN_FS_HZ):
            raise ConfigError("fs_hz", f"must be >= {MIN_FS_HZ:g} Hz, got {self.fs_hz}")
        if not self.window_s * self.fs_hz >= 16:
            raise ConfigError("window_s", f"must hold at least 16 samples, got {self.window_s}")
        if not self.window_s <= 10.0:  # a lead-off must be said within seconds
            raise ConfigError("window_s", f"must be <= 10 s, got {self.window_s}")
        if not self.flat_ms > 0:
            raise ConfigError("flat_ms", f"must be > 0 ms, got {self.flat_ms}")
        for name in ("lead_off_fraction", "clip_fraction"):
            if not 0 < getattr(self, name) <= 1:
                raise ConfigError(name, f"must lie in (0, 1], got {getattr(self, name)}")
        lo, hi = self.qrs_band_hz
        if not 0 < lo < hi < self.fs_hz / 2:
            raise ConfigError("qrs_band_hz", f"need 0 < low < high < fs_hz / 2, got "
                                             f"{self.qrs_band_hz}")
        if not self.hf_cutoff_hz > hi:
            raise ConfigError("hf_cutoff_hz", f"must be above the QRS band ({hi} Hz)")
        if not self.noise_ratio_max > 0:
            raise ConfigError("noise_ratio_max", "must be > 0")
        if not (isinstance(self.quiet_hf_rms_mv, (int, float))
                and not isinstance(self.quiet_hf_rms_mv, bool)
                and 0 <= self.quiet_hf_rms_mv <= QUIET_HF_RMS_MAX_MV):
            raise ConfigError("quiet_hf_rms_mv",
                              f"must be a number in 0..{QUIET_HF_RMS_MAX_MV:g} mV (the HF RMS of "
                              f"a quiet window, in mV: 0.015 = 15 µV), got "
                              f"{self.quiet_hf_rms_mv!r}")
        if not self.max_amplitude_mv > 0:
            raise ConfigError("max_amplitude_mv", "must be > 0 mV")
        if self.history_windows < 1:
            raise ConfigError("history_windows", "must be >= 1")


@dataclass(frozen=True)
class QualityWindow:
    """One graded window: ``[start_index, end_index)`` in device samples, its ``level`` and the
    ``metrics`` behind it."""

    start_index: int
    end_index: int
    level: str
    metrics: dict[str, float] = field(default_factory=dict)


class SignalQuality:
    """Streaming signal-quality grader (see the module docstring).

    Parameters
    ----------
    config : QualityConfig
    first_index : absolute device index of the first sample that will be fed.
    """

    def __init__(self, config: QualityConfig, first_index: int = 0) -> None:
        self.config = cfg = config
        nyq = cfg.fs_hz / 2
        self._sos_qrs = signal.butter(2, [cfg.qrs_band_hz[0], cfg.qrs_band_hz[1]],
                                      btype="bandpass", fs=cfg.fs_hz, output="sos")
        hf = min(cfg.hf_cutoff_hz, 0.45 * cfg.fs_hz)
        self._sos_hf = signal.butter(2, hf / nyq, btype="highpass", output="sos")
        self.n_window = int(round(cfg.window_s * cfg.fs_hz))
        self.n_flat = max(2, int(round(cfg.flat_ms * 1e-3 * cfg.fs_hz)))
        self.reset(first_index)

    def reset(self, first_index: int = 0) -> None:
        """Forget the stream; the next sample fed has index ``first_index``."""
        self._zi_qrs = np.zeros((self._sos_qrs.shape[0], 2))
        self._zi_hf = np.zeros((self._sos_hf.shape[0], 2))
        self._start = int(first_index)
        self._raw: list[np.ndarray] = []
        self._filled: list[np.ndarray] = []  # raw with missing samples held, for the filters
        self._n = 0
        self._run = 0
        self._last = math.nan
        self._hold = 0.0
        self.history: deque[QualityWindow] = deque(maxlen=self.config.history_windows)
        self.level = "good"

    @property
    def next_window_end(self) -> int:
        """Absolute index after the last sample of the window being filled: :meth:`process`
        grades (returns) nothing before samples up to there have been fed."""
        return self._start + self.n_window

    def _flat_mask(self, x: np.ndarray) -> np.ndarray:
        """True for samples inside a run of identical samples at least ``n_flat`` long (a
        run is counted from the sample where it reaches that length on)."""
        prev = np.concatenate([[self._last], x[:-1]])
        same = (x == prev) & np.isfinite(x)
        # run length ending at each sample (streaming: carries self._run)
        idx = np.arange(x.size)
        breaks = np.where(~same, idx, -1)
        last_break = np.maximum.accumulate(breaks)
        run = np.where(last_break >= 0, idx - last_break + 1, self._run + idx + 1)
        run = np.where(same, run, 1)
        self._run = int(run[-1])
        self._last = float(x[-1])
        return run >= self.n_flat

    def process(self, x_mv: np.ndarray) -> list[QualityWindow]:
        """Feed consecutive samples (1-D, mV, NaN = missing); returns the windows completed."""
        x = np.asarray(x_mv, dtype=np.float64).ravel()
        if x.size == 0:
            return []
        finite = np.isfinite(x)
        if finite.all():
            filled = x
        else:  # hold the last good value through missing samples so the filters stay sane
            filled = x.copy()
            idx = np.where(finite, np.arange(x.size), -1)
            idx = np.maximum.accumulate(idx)
            filled[idx < 0] = self._hold
            filled[idx >= 0] = x[idx[idx >= 0]]
        self._hold = float(filled[-1])
        out: list[QualityWindow] = []
        pos = 0
        while pos < x.size:
            take = min(self.n_window - self._n, x.size - pos)
            sl = slice(pos, pos + take)
            self._raw.append(x[sl])
            self._filled.append(filled[sl])
            self._n += take
            pos += take
            if self._n == self.n_window:
                out.append(self._grade())
        return out

    def _grade(self) -> QualityWindow:
        cfg = self.config
        raw = np.concatenate(self._raw)
        # The filters and the flat-run tracker run once per window, not per chunk: with their
        # state carried between windows the output is the same however the samples arrived.
        filled = np.concatenate(self._filled)
        qrs, self._zi_qrs = signal.sosfilt(self._sos_qrs, filled, zi=self._zi_qrs)
        hf, self._zi_hf = signal.sosfilt(self._sos_hf, filled, zi=self._zi_hf)
        flat = self._flat_mask(raw) | ~np.isfinite(raw)
        n = raw.size
        flat_fraction = float(flat.mean())
        fin = raw[np.isfinite(raw)]
        clip = 0.0
        if fin.size:
            hi, lo = fin.max(), fin.min()
            if hi - lo >= SATURATION_MIN_SPAN_MV:
                clip = max(int((fin == hi).sum()), int((fin == lo).sum())) / n
        e_qrs = float(np.mean(qrs * qrs))
        e_hf = float(np.mean(hf * hf))
        ratio = e_hf / e_qrs if e_qrs > 1e-12 else (0.0 if e_hf <= 1e-12 else math.inf)
        hf_rms = math.sqrt(e_hf)
        amp = float(qrs.max() - qrs.min())
        if flat_fraction > cfg.lead_off_fraction:
            level = "lead_off"
        elif clip > cfg.clip_fraction:
            level = "saturated"
        elif ((ratio > cfg.noise_ratio_max and hf_rms > cfg.quiet_hf_rms_mv)
              or amp > cfg.max_amplitude_mv):
            level = "noisy"
        else:
            level = "good"
        win = QualityWindow(self._start, self._start + n, level,
                            {"flat_fraction": round(flat_fraction, 4),
                             "clip_fraction": round(clip, 4),
                             "noise_ratio": round(ratio, 4) if math.isfinite(ratio) else None,
                             "amplitude_mv": round(amp, 4),
                             "hf_rms_mv": round(hf_rms, 5)})
        self.history.append(win)
        self.level = level
        self._start += n
        self._raw, self._filled = [], []
        self._n = 0
        return win

    def level_at(self, sample_index: int, horizon: int | None = None) -> str:
        """Quality of the window holding ``sample_index``; for a sample in the window still
        being filled, the latest graded window's level (``"good"`` before the first).

        ``horizon``: only windows ending at or before this index count, as though the stream
        had been graded up to there -- a caller that asks at a fixed delay after
        ``sample_index`` (no longer than the stream has surely reached) gets the same answer
        however the samples were chunked."""
        newest = None
        for win in reversed(self.history):
            if horizon is not None and win.end_index > horizon:
                continue
            newest = newest or win
            if win.start_index <= sample_index < win.end_index:
                return win.level
            if win.end_index <= sample_index:
                break
        return newest.level if newest is not None else "good"

    def worst_between(self, a: int, b: int, horizon: int | None = None) -> str:
        """Worst level of the graded windows overlapping ``[a, b)`` (``"good"`` if none);
        ``horizon`` as in :meth:`level_at`."""
        worst = "good"
        for win in self.history:
            if horizon is not None and win.end_index > horizon:
                continue
            if (win.end_index > a and win.start_index < b
                    and QUALITY_RANK[win.level] > QUALITY_RANK[worst]):
                worst = win.level
        return worst
