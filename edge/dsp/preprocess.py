"""The shared front end: device samples (mV, any rate) -> conditioned ECG at the processing rate.

:class:`Preprocessor` chains input repair (non-finite samples are held at the last good value
and counted), :class:`~edge.dsp.resample.StreamingResampler` and
:class:`~edge.dsp.filters.EcgFilter`, and
marks every output sample as valid or not: a sample is invalid when the input was non-finite,
stuck at one value for ``flat_ms`` or longer (lead-off, a flat line, or an ADC at its rail), or
at or beyond the configured ADC rails. The detector blanks invalid signal, so lead-off and
saturation produce no beats. Training calls the same class on whole records.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from edge.dsp.filters import EcgFilter, FilterConfig
from edge.dsp.resample import StreamingResampler
from edge.errors import ConfigError, SignalError

__all__ = ["PreprocessConfig", "Conditioned", "Preprocessor", "PROCESSING_FS_HZ"]

logger = logging.getLogger(__name__)

#: The processing rate of the whole pipeline (detector, beat windows, classifier), in Hz.
PROCESSING_FS_HZ = 360.0


@dataclass(frozen=True, kw_only=True)
class PreprocessConfig:
    """Front-end settings.

    Attributes
    ----------
    fs_in_hz : the device's sample rate in Hz.
    filter : conditioning filters, designed at the processing rate ``filter.fs_hz``.
    flat_ms : a run of (near-)identical input samples this long or longer is a flat line.
    flat_tolerance_mv : samples closer than this count as identical, in mV.
    rail_low_mv, rail_high_mv : ADC rails in mV; samples at or beyond them are saturated.
    """

    fs_in_hz: float = PROCESSING_FS_HZ
    filter: FilterConfig = field(default_factory=FilterConfig)
    flat_ms: float = 100.0
    flat_tolerance_mv: float = 0.0
    rail_low_mv: float | None = None
    rail_high_mv: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.fs_in_hz) and self.fs_in_hz > 0):
            raise ConfigError("fs_in_hz", f"must be a positive finite rate, got {self.fs_in_hz}")
        if not self.flat_ms > 0:
            raise ConfigError("flat_ms", f"must be positive, got {self.flat_ms}")
        if self.flat_tolerance_mv < 0:
            raise ConfigError("flat_tolerance_mv", "must be >= 0")
        if (self.rail_low_mv is not None and self.rail_high_mv is not None
                and self.rail_low_mv >= self.rail_high_mv):
            raise ConfigError("rail_low_mv", "must be below rail_high_mv")

    @property
    def fs_out_hz(self) -> float:
        return self.filter.fs_hz


@dataclass(frozen=True)
class Conditioned:
    """One chunk of conditioned ECG at the processing rate.

    ``sample_index`` is the absolute processing-rate index of ``filtered_mv[0]``; ``valid`` is
    False where the input was non-finite, flat or saturated.
    """

    sample_index: int
    filtered_mv: np.ndarray
    valid: np.ndarray

    def __len__(self) -> int:
        return int(self.filtered_mv.size)


class _FlatTracker:
    """Causal run-length detector: a sample is flat once its run of near-identical values,
    counted up to and including it, is ``n_flat`` samples long."""

    def __init__(self, n_flat: int, tolerance: float) -> None:
        self.n_flat = n_flat
        self.tolerance = tolerance
        self.reset()

    def reset(self) -> None:
        self._last: float | None = None
        self._run = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0:
            return np.zeros(0, dtype=bool)
        prev = np.empty_like(x)
        prev[0] = x[0] if self._last is None else self._last
        prev[1:] = x[:-1]
        same = np.abs(x - prev) <= self.tolerance
        if self._last is None:
            same[0] = True  # the first sample starts a run of length 1
            run_start = 1
        else:
            run_start = self._run + 1
        # Run length ending at each sample: resets to 1 where not same.
        idx = np.arange(x.size)
        breaks = np.where(~same, idx, -1)
        last_break = np.maximum.accumulate(breaks)
        run = np.where(last_break >= 0, idx - last_break + 1, idx + run_start)
        self._run = int(run[-1])
        self._last = float(x[-1])
        return run >= self.n_flat


class Preprocessor:
    """Streaming front end: repair -> resample -> filter, with a validity mask."""

    def __init__(self, config: PreprocessConfig | None = None) -> None:
        self.config = config or PreprocessConfig()
        cfg = self.config
        self.resampler = StreamingResampler(cfg.fs_in_hz, cfg.fs_out_hz)
        self.filter = EcgFilter(cfg.filter)
        self._valid_resampler = StreamingResampler(cfg.fs_in_hz, cfg.fs_out_hz)
        self._flat = _FlatTracker(max(2, int(round(cfg.flat_ms * 1e-3 * cfg.fs_in_hz))),
                                  cfg.flat_tolerance_mv)
        self.reset()

    @property
    def lookahead_in_samples(self) -> int:
        """Input samples the resampler needs beyond an output before it is emitted."""
        return self.resampler.lookahead_samples

    def reset(self) -> None:
        self.resampler.reset()
        self._valid_resampler.reset()
        self.filter.reset()
        self._flat.reset()
        self._hold = 0.0
        self._n_out = 0
        self.n_nonfinite = 0  # input samples replaced because they were NaN or infinite
        self.n_invalid = 0  # output samples marked invalid

    def flush(self) -> Conditioned:
        """End of stream: emit the samples held back by the resampler's look-ahead (the input
        is extended with its last value). Call :meth:`reset` before a new stream."""
        tail = self.resampler.flush()
        y = self.filter.process(tail) if tail.size else tail
        if tail.size and not self.resampler.identity:
            v = self._valid_resampler.flush()[:tail.size] < 0.05
        else:
            v = np.ones(y.size, dtype=bool)
        out = Conditioned(self._n_out, y, v)
        self._n_out += y.size
        return out

    def process(self, x_mv: np.ndarray, *, bridge_mv: np.ndarray | None = None) -> Conditioned:
        """Condition one chunk of device samples (1-D, mV, at ``fs_in_hz``).

        ``bridge_mv`` (same shape, optional): the values a non-finite sample takes instead of
        the last finite one, where finite (a link gap bridged by a line between the samples
        around it, so the filters see no step); the sample is invalid all the same."""
        x = np.asarray(x_mv, dtype=np.float64)
        if x.ndim != 1:
            raise SignalError(f"Preprocessor expects a 1-D chunk of one channel, got {x.shape}")
        bad = ~np.isfinite(x)
        flat_x = None
        if bad.any():
            n_bad = int(bad.sum())
            self.n_nonfinite += n_bad
            logger.debug("replacing %d non-finite samples by the last finite value", n_bad)
            x = x.copy()
            good_idx = np.where(~bad, np.arange(x.size), -1)
            good_idx = np.maximum.accumulate(good_idx)
            x = np.where(good_idx >= 0, x[np.maximum(good_idx, 0)], self._hold)
            if bridge_mv is not None:
                bridge = np.asarray(bridge_mv, dtype=np.float64)
                if bridge.shape != x.shape:
                    raise SignalError(f"bridge_mv has shape {bridge.shape}, the chunk "
                                      f"{x.shape}")
                use = bad & np.isfinite(bridge)
                x[use] = bridge[use]
                if use.any():  # a flat-line run neither runs through a bridge nor starts in one
                    flat_x = x.copy()
                    flat_x[use] = np.nan
        if x.size:
            self._hold = float(x[-1])
        cfg = self.config
        invalid = bad | self._flat.process(x if flat_x is None else flat_x)
        if cfg.rail_low_mv is not None:
            invalid |= x <= cfg.rail_low_mv
        if cfg.rail_high_mv is not None:
            invalid |= x >= cfg.rail_high_mv
        y = self.filter.process(self.resampler.process(x))
        if self.resampler.identity:
            valid = ~invalid
        else:
            # Carry the mask through the same resampler: any invalid input nearby -> invalid.
            v = self._valid_resampler.process(invalid.astype(np.float64))
            valid = v < 0.05
        self.n_invalid += valid.size - int(np.count_nonzero(valid))
        out = Conditioned(self._n_out, y, valid)
        self._n_out += y.size
        return out
