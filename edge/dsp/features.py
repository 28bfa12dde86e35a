"""Per-beat classifier inputs derived from beat windows and RR intervals.

The classifier sees each beat relative to the patient's own rhythm and morphology, which is
what makes an inter-patient model work:

* :func:`rr_ratio_features` -- RR intervals relative to the patient's local and long-term
  rhythm (log ratios) next to the raw intervals.
* :class:`TemplateTracker` -- a running "average beat" (per-sample median of the last
  ``n_template_beats`` non-premature beats) and each beat's difference from it.
* :func:`beat_inputs` / :class:`BeatFeaturizer` -- the model input tensors (``beat`` of shape
  (n, length, 2) and ``features`` of shape (n, n_features)), normalised as the model contract
  says.

Everything is pure numpy and causal: row *i* depends only on beats ``0 .. i`` as released by
:class:`edge.dsp.beats.BeatWindower` (the window of beat *i* and its RR features, which include
the post RR, known once beat *i + 1* is detected). Training calls :func:`beat_inputs` on a whole
record; the device calls :class:`BeatFeaturizer` on each :class:`~edge.dsp.beats.BeatBatch`; both
run the same :class:`TemplateTracker` code, so the results are identical however the stream
is chunked.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from edge.dsp.medians import median, median_of
from edge.errors import ConfigError, SignalError

__all__ = ["FeatureConfig", "FEATURE_NAMES", "rr_ratio_features", "TemplateTracker",
           "RhythmTracker",
           "BeatFeaturizer", "beat_inputs", "apply_standardization"]

logger = logging.getLogger(__name__)

#: Columns of the scalar feature vector, in order (before standardisation).
FEATURE_NAMES = (
    "pre_rr_s", "post_rr_s", "local_rr_s", "long_rr_s",
    "log_pre_over_local", "log_pre_over_long", "log_post_over_pre", "log_post_over_local",
    "log_local_over_long", "log_post_over_long",
    "template_corr", "log_template_diff_rel",
    "rr_irregularity", "log_pre_over_prev_pre",
)


@dataclass(frozen=True, kw_only=True)
class FeatureConfig:
    """Settings of the beat-relative features.

    Attributes
    ----------
    n_template_beats : beats in the running median template.
    premature_ratio : a beat joins the template only if ``pre_rr >= premature_ratio *
        local_rr`` (premature beats, mostly ectopic, are kept out).
    rhythm_beats : pre-RR intervals over which the rhythm irregularity is measured.
    min_amplitude_mv : floor of the template's peak-to-peak amplitude used to normalise the
        windows, in mV (protects against flat templates).
    clip : normalised window samples are clipped to ``[-clip, clip]`` (int8-friendly range).
    """

    n_template_beats: int = 16
    rhythm_beats: int = 10
    premature_ratio: float = 0.9
    min_amplitude_mv: float = 0.2
    clip: float = 4.0

    def __post_init__(self) -> None:
        if self.n_template_beats < 1:
            raise ConfigError("n_template_beats", "must be >= 1")
        if self.rhythm_beats < 2:
            raise ConfigError("rhythm_beats", "must be >= 2")
        if not 0 < self.premature_ratio <= 2:
            raise ConfigError("premature_ratio", "must be in (0, 2]")
        if not self.min_amplitude_mv > 0:
            raise ConfigError("min_amplitude_mv", "must be positive")
        if not self.clip > 0:
            raise ConfigError("clip", "must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


def rr_ratio_features(rr_s: np.ndarray) -> np.ndarray:
    """RR features relative to the patient's rhythm.

    Parameters
    ----------
    rr_s : array (n, 4), seconds, columns :data:`edge.dsp.beats.RR_FEATURE_NAMES`
        (pre, post, local mean, long mean).

    Returns
    -------
    array (n, 10), float32: the four raw intervals (s) followed by the natural-log ratios
    pre/local, pre/long, post/pre, post/local, local/long, post/long.
    """
    rr = np.asarray(rr_s, dtype=np.float64)
    if rr.ndim != 2 or rr.shape[1] != 4:
        raise SignalError(f"rr_s must have shape (n, 4), got {rr.shape}")
    out = np.empty((rr.shape[0], 10), dtype=np.float32)
    _rr_ratios_into(rr, out)
    return out


def _rr_ratios_into(rr: np.ndarray, out: np.ndarray) -> None:
    """Columns 0-9 of ``out`` (float32, (n, >= 10)): the RR features of
    :func:`rr_ratio_features` for float64 ``rr`` (n, 4)."""
    if rr.ndim != 2 or rr.shape[1] != 4:
        raise SignalError(f"rr_s must have shape (n, 4), got {rr.shape}")
    lg = np.log(np.maximum(rr, 1e-3))
    pre, post, loc, lng = lg[:, 0], lg[:, 1], lg[:, 2], lg[:, 3]
    out[:, :4] = rr
    out[:, 4] = pre - loc
    out[:, 5] = pre - lng
    out[:, 6] = post - pre
    out[:, 7] = post - loc
    out[:, 8] = loc - lng
    out[:, 9] = post - lng


class TemplateTracker:
    """Streaming running-median template of the patient's usual beat.

    ``process(windows, rr_s)`` returns, for each beat, the template *before* that beat was
    added (so a beat is never compared with itself). The first beat of a stream, having no
    history, is its own template. Beats marked in ``exclude`` (windows touching invalid
    samples) never join the template.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self.reset()

    def reset(self) -> None:
        self._normal = _Ring(self.config.n_template_beats)  # non-premature beats
        self._any = _Ring(self.config.n_template_beats)  # fallback before any normal beat
        self._template: np.ndarray | None = None

    def _current(self) -> np.ndarray | None:
        if self._template is None:
            src = self._normal if self._normal.count else self._any
            if src.count:
                self._template = src.median()
        return self._template

    def process(self, windows_mv: np.ndarray, rr_s: np.ndarray,
                exclude: np.ndarray | None = None) -> np.ndarray:
        """Templates (float64, shape like ``windows_mv``) for a batch of consecutive beats.

        Parameters
        ----------
        windows_mv : (n, length) conditioned beat windows in mV, baseline-removed.
        rr_s : (n, 4) RR features in seconds (pre, post, local, long).
        exclude : bool (n,), beats kept out of the template (None: none).
        """
        w = np.asarray(windows_mv, dtype=np.float64)
        rr = np.asarray(rr_s, dtype=np.float64)
        if w.ndim != 2 or rr.shape != (w.shape[0], 4):
            raise SignalError(f"need windows (n, length) and rr (n, 4), got {w.shape}, {rr.shape}")
        out = np.empty_like(w)
        normal = (rr[:, 0] >= self.config.premature_ratio * rr[:, 2]).tolist()
        skip = [False] * w.shape[0] if exclude is None else np.asarray(exclude, bool).tolist()
        for i in range(w.shape[0]):
            t = self._current()
            out[i] = w[i] if t is None else t
            if skip[i]:
                continue
            self._any.add(w[i])
            if normal[i]:
                self._normal.add(w[i])
                self._template = None
            elif not self._normal.count:
                self._template = None
        return out


class _Ring:
    """The last ``size`` beat windows, in a preallocated array held one window per column
    (column order is not kept: the template is their median, which does not depend on it).
    Each sample's values lie contiguous, so the median sorts short contiguous rows."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._cols: np.ndarray | None = None
        self.count = 0
        self._next = 0

    def add(self, w: np.ndarray) -> None:
        if self._cols is None:
            self._cols = np.empty((w.size, self.size))
        self._cols[:, self._next] = w
        self._next = (self._next + 1) % self.size
        self.count = min(self.count + 1, self.size)

    def median(self) -> np.ndarray:
        """``np.median`` of the windows held, sample by sample."""
        return median(self._cols[:, :self.count], axis=1)


class RhythmTracker:
    """Streaming rhythm descriptors from the sequence of pre-RR intervals.

    For beat *i*: ``rr_irregularity`` = median absolute successive difference of the last
    ``rhythm_beats`` pre-RR intervals (up to and including beat *i*'s) divided by the local
    mean RR -- high in atrial fibrillation ("irregularly irregular"), where prematurity alone
    does not mean an ectopic beat, but low when a regular rhythm is broken by isolated ectopic
    beats or pauses (the median ignores those); ``log_pre_over_prev_pre`` =
    log(pre_rr(i) / pre_rr(i - 1)) (0 for the first beat).
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self.reset()

    def reset(self) -> None:
        self._pre: deque[float] = deque(maxlen=self.config.rhythm_beats)

    def process(self, rr_s: np.ndarray) -> np.ndarray:
        """(n, 2) float64 descriptors for the next beats' RR rows (n, 4), in seconds."""
        rr = np.asarray(rr_s, dtype=np.float64)
        out = np.zeros((rr.shape[0], 2))
        pres, locs = rr[:, 0].tolist(), rr[:, 2].tolist()
        ratios = []
        for i, pre in enumerate(pres):
            prev = self._pre[-1] if self._pre else pre
            self._pre.append(pre)
            if len(self._pre) > 1:
                p = list(self._pre)
                med = median_of(abs(b - a) for a, b in zip(p, p[1:]))
                out[i, 0] = med / max(locs[i], 1e-3)
            ratios.append(max(pre, 1e-3) / max(prev, 1e-3))
        out[:, 1] = np.log(np.asarray(ratios, dtype=np.float64))
        return out


def _baseline_removed(windows_mv: np.ndarray) -> np.ndarray:
    w = np.asarray(windows_mv, dtype=np.float64)
    if w.shape[0] == 0:
        return w
    return w - median(w, axis=1)[:, None]


def _inputs_from(w: np.ndarray, templates: np.ndarray, rr_s: np.ndarray,
                 rhythm: np.ndarray, config: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    # The arithmetic of ptp, clip, mean, sum, stack and concatenate, op by op on the same
    # arrays, written into the float32 outputs directly: a few numpy calls fewer per batch
    # (most batches on the device are one beat), the same numbers.
    n, length = w.shape
    amp = np.maximum(np.subtract(np.maximum.reduce(templates, 1),
                                 np.minimum.reduce(templates, 1)),
                     config.min_amplitude_mv)[:, None]
    lim = config.clip
    beat = np.empty((n, length, 2), dtype=np.float32)
    diff = w - templates
    t = w / amp
    beat[:, :, 0] = np.minimum(np.maximum(t, -lim, out=t), lim, out=t)
    t = diff / amp
    beat[:, :, 1] = np.minimum(np.maximum(t, -lim, out=t), lim, out=t)
    wc = w - np.add.reduce(w, 1, keepdims=True) / length
    tc = templates - np.add.reduce(templates, 1, keepdims=True) / length
    t2 = np.add.reduce(tc ** 2, 1)
    denom = np.sqrt(np.add.reduce(wc ** 2, 1) * t2)
    corr = np.where(denom > 0, np.add.reduce(wc * tc, 1) / np.maximum(denom, 1e-12), 1.0)
    diff_rel = np.sqrt(np.add.reduce(diff ** 2, 1)
                       / np.maximum(np.add.reduce(templates ** 2, 1), 1e-6))
    feats = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32)
    _rr_ratios_into(np.asarray(rr_s, dtype=np.float64), feats)
    feats[:, 10] = corr
    feats[:, 11] = np.log(diff_rel + 1e-3)
    feats[:, 12:] = rhythm
    return beat, feats


def beat_inputs(windows_mv: np.ndarray, rr_s: np.ndarray,
                config: FeatureConfig | None = None, *,
                exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for all beats of one stream (a whole record), in beat order.

    Parameters
    ----------
    windows_mv : (n, length) conditioned windows from :func:`edge.dsp.beats.extract_windows`, mV.
    rr_s : (n, 4) from :func:`edge.dsp.beats.rr_features`, seconds.
    config : feature settings.
    exclude : bool (n,), beats kept out of the running template (windows touching invalid
        samples); None: none.

    Returns
    -------
    beat : float32 (n, length, 2): channel 0 the baseline-removed window, channel 1 its
        difference from the running template, both divided by the template's peak-to-peak
        amplitude (dimensionless, clipped to ``±config.clip``).
    features : float32 (n, len(FEATURE_NAMES)) unstandardised scalar features.
    """
    config = config or FeatureConfig()
    w = _baseline_removed(windows_mv)
    templates = TemplateTracker(config).process(w, rr_s, exclude)
    rhythm = RhythmTracker(config).process(rr_s)
    return _inputs_from(w, templates, rr_s, rhythm, config)


class BeatFeaturizer:
    """Streaming equivalent of :func:`beat_inputs` for :class:`edge.dsp.beats.BeatBatch` output."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self.tracker = TemplateTracker(self.config)
        self.rhythm = RhythmTracker(self.config)

    def reset(self) -> None:
        self.tracker.reset()
        self.rhythm.reset()

    def process(self, windows_mv: np.ndarray, rr_s: np.ndarray,
                exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Inputs for the next released beats (same shapes and ``exclude`` as
        :func:`beat_inputs`)."""
        w = _baseline_removed(windows_mv)
        if w.shape[0] == 0:
            return (np.zeros((0, w.shape[1], 2), np.float32),
                    np.zeros((0, len(FEATURE_NAMES)), np.float32))
        templates = self.tracker.process(w, rr_s, exclude)
        rhythm = self.rhythm.process(rr_s)
        return _inputs_from(w, templates, rr_s, rhythm, self.config)


def apply_standardization(features: np.ndarray, mean: np.ndarray | list,
                          std: np.ndarray | list) -> np.ndarray:
    """``(features - mean) / std`` with the contract's per-column statistics (float32)."""
    f = np.asarray(features, dtype=np.float32)
    m = np.asarray(mean, dtype=np.float32)
    s = np.asarray(std, dtype=np.float32)
    if f.shape[-1] != m.size or m.size != s.size:
        raise SignalError(f"feature width {f.shape[-1]} does not match statistics ({m.size})")
    return (f - m) / s
