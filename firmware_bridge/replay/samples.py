"""The samples a replay sends: the record's excerpt, channels, output rate and wire format."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from firmware_bridge.errors import ConfigError, ReplayError
from firmware_bridge.protocol import SampleFormat
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.records import read_header, read_samples, resolve_record

__all__ = ["ReplaySignal", "load_replay_signal"]


@dataclass(frozen=True, kw_only=True)
class ReplaySignal:
    """The samples a replay sends (after channel selection and resampling).

    Attributes
    ----------
    adc : int32 array (n_samples, n_channels), ADC counts at ``fs_hz``.
    fs_hz : output sample rate (Hz).
    adc_gain, baseline : per channel counts per mV and counts at 0 mV.
    first_index : sample counter of ``adc[0]`` (``round(start_s * fs_hz)``).
    sample_format : wire format chosen.
    channel_names : the names of the channels sent, from the record's header (``()`` when
        not known).
    """

    adc: np.ndarray
    fs_hz: float
    adc_gain: tuple[float, ...]
    baseline: tuple[int, ...]
    first_index: int
    sample_format: SampleFormat
    channel_names: tuple[str, ...] = ()


def load_replay_signal(config: ReplayConfig) -> ReplaySignal:
    """Read and prepare the samples for ``config``.

    The excerpt is ``start_s`` .. ``start_s + duration_s`` of the record (in the record's
    samples, rounded), at least one sample; with ``fs_hz`` it is resampled with
    ``scipy.signal.resample_poly`` and rounded to counts; the values are clipped to the wire
    format (int16 when they fit, else int24, unless ``sample_format`` says). Samples the
    record marks invalid (WFDB's invalid value) are sent as the wire format's
    :attr:`~firmware_bridge.protocol.SampleFormat.invalid_value` (after resampling: every
    output sample they reach), and no valid sample is.

    Raises
    ------
    ReplayError
        When the record cannot be found or read, or has more than 8 channels and none were
        chosen.
    ConfigError
        When ``start_s`` is past the end of the record or a channel does not exist.
    """
    path = resolve_record(config.record, config.database, config.data_dir)
    header = read_header(path)
    fs_in = header.fs_hz
    sampfrom = int(round(config.start_s * fs_in))
    if header.n_samples is not None and sampfrom >= header.n_samples:
        raise ConfigError("start_s", f"{config.start_s} s is past the end of the record "
                                     f"({header.n_samples / fs_in:.1f} s)")
    sampto = None
    if config.duration_s is not None:
        sampto = sampfrom + max(1, int(round(config.duration_s * fs_in)))
        if header.n_samples is not None:
            sampto = min(header.n_samples, sampto)
    if config.channels is not None and max(config.channels) >= header.n_channels:
        raise ConfigError("channels", f"record has {header.n_channels} channels, "
                                      f"got {config.channels}")
    rec = read_samples(path, channels=list(config.channels) if config.channels else None,
                       sampfrom=sampfrom, sampto=sampto)
    adc = rec.adc
    invalid = rec.invalid  # samples the record marks invalid
    if adc.shape[1] > 8:
        raise ReplayError(f"record has {adc.shape[1]} channels; choose at most 8 with --channels")
    fs_out = rec.fs_hz if config.fs_hz is None else float(config.fs_hz)
    if abs(fs_out - rec.fs_hz) > 1e-9:
        from scipy.signal import resample_poly  # noqa: PLC0415

        ratio = Fraction(fs_out / rec.fs_hz).limit_denominator(1000)
        fs_out = rec.fs_hz * ratio.numerator / ratio.denominator
        x = adc.astype(np.float64)
        x[invalid] = np.nan  # an output sample the invalid ones reach is invalid too
        x = resample_poly(x, ratio.numerator, ratio.denominator, axis=0)
        invalid = ~np.isfinite(x)
        adc = np.rint(np.where(invalid, 0.0, x)).astype(np.int64)
    valid = adc[~invalid]
    lo, hi = (int(valid.min()), int(valid.max())) if valid.size else (0, 0)
    fmt = config.sample_format
    if fmt is None:
        fmt = SampleFormat.INT16 if (lo > -32768 and hi <= 32767) else SampleFormat.INT24
    fmt = SampleFormat(fmt)
    # A valid sample never takes the wire's invalid value; an invalid one is sent as it.
    adc = np.clip(adc, fmt.invalid_value + 1, fmt.max_value).astype(np.int32)
    adc[invalid] = fmt.invalid_value
    return ReplaySignal(adc=adc, fs_hz=fs_out, adc_gain=rec.adc_gain, baseline=rec.baseline,
                        first_index=int(round(config.start_s * fs_out)), sample_format=fmt,
                        channel_names=rec.channel_names)
