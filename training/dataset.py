"""Beat examples for training and evaluation, built with the edge's own DSP code.

For each record (and each augmented copy of it) the builder runs exactly the device chain,
:func:`edge.dsp.inputs.beat_inputs_at` (conditioning of the whole record, windows, RR intervals
and beat features at the reference beat positions, or at any given positions). Results are
cached as ``.npz`` files under ``$ECG_EDGE_CACHE`` (default ``cache/`` in the working
directory), keyed by a hash of the configuration, the record and the augmentation index, so a
rebuild is quick.

Augmentation (copies ``1 .. n_augment`` of a record; copy 0 is the clean record) works on the
raw signal, before the filters, as a wearable would see it: a random gain, a slow baseline
drift, and Noise Stress Test Database noise (``bw``, ``em``, ``ma``) added in segments at a
random SNR. Every random draw comes from ``np.random.default_rng`` seeded with the
configuration seed, the record name and the copy index. Two device-path options
(:class:`AugmentConfig`): ``device_rates_hz`` records copy *k* as if sampled at another rate
(anti-aliased resampling of the noisy signal, :func:`to_device_rate`), and the device's own
resampler brings it back to the processing rate (:func:`edge.dsp.inputs.beat_inputs_at`);
``other_lead_period`` takes every such copy from the record's other channel (another
electrode position; MIT-BIH: mostly V1, SVDB: ECG2).

Records of other databases are named ``"<database>/<record>"`` (:func:`training.data.
split_record`), e.g. ``"svdb/804"`` at 128 Hz: the device path resamples them like any input.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.aami import AAMI_CLASSES
from edge.dsp.beats import WindowConfig
from edge.dsp.features import FeatureConfig
from edge.dsp.inputs import beat_inputs_at
from edge.errors import ConfigError
from edge.io.records import read_record
from training.data import reference_beats, split_record

__all__ = ["AugmentConfig", "DatasetConfig", "BeatSet", "record_signal", "to_device_rate",
           "copy_plan", "signal_beats", "build_record", "build_dataset", "cache_dir",
           "DATASET_VERSION"]

logger = logging.getLogger(__name__)

#: Bump when the builder's output changes for the same configuration (4: the record is
#: conditioned through edge.dsp.inputs, flushed, so the last beats see the real signal end).
DATASET_VERSION = 4
NOISE_RECORDS = ("bw", "em", "ma")


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    """Signal-level augmentation of the raw record (mV) before conditioning.

    Attributes
    ----------
    snr_db_low, snr_db_high : SNR range of added NSTDB noise in dB (signal power = variance of
        the record's raw channel).
    noise_types : NSTDB noise records to draw from.
    segment_s : length of a noise segment (one noise type and SNR each), seconds.
    clean_fraction : share of segments left without noise.
    gain_low, gain_high : range of the random amplitude gain.
    baseline_mv : peak amplitude of the added slow baseline drift, mV.
    baseline_hz_high : highest drift frequency, Hz (drift is a sum of two sinusoids).
    device_rates_hz : if given, copy *k* is recorded at ``device_rates_hz[(k - 1) % n]``
        (a rate equal to the record's own leaves it as it is).
    other_lead_period : if > 0, copies *k* with ``k % other_lead_period == 0`` are read from
        the record's other channel (records with one channel keep theirs).
    invert_probability : chance that a copy's signal is inverted (an electrode pair placed the
        other way round, a lead of opposite polarity); 0 draws nothing, so the copies of
        earlier configurations are unchanged.
    """

    snr_db_low: float = 6.0
    snr_db_high: float = 24.0
    noise_types: tuple[str, ...] = NOISE_RECORDS
    segment_s: float = 20.0
    clean_fraction: float = 0.25
    gain_low: float = 0.5
    gain_high: float = 2.0
    baseline_mv: float = 0.5
    baseline_hz_high: float = 0.4
    device_rates_hz: tuple[float, ...] = ()
    other_lead_period: int = 0
    invert_probability: float = 0.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.invert_probability) and 0 <= self.invert_probability <= 1):
            raise ConfigError("invert_probability", "must be in [0, 1]")
        if any(not (np.isfinite(r) and 50 <= r <= 2000) for r in self.device_rates_hz):
            raise ConfigError("device_rates_hz", "rates must be within 50 .. 2000 Hz")
        if self.other_lead_period < 0:
            raise ConfigError("other_lead_period", "must be >= 0 (0: never)")
        if self.snr_db_low > self.snr_db_high:
            raise ConfigError("snr_db_low", "must be <= snr_db_high")
        if not set(self.noise_types) <= set(NOISE_RECORDS):
            raise ConfigError("noise_types", f"must be drawn from {NOISE_RECORDS}")
        if not self.segment_s > 0:
            raise ConfigError("segment_s", "must be positive")
        if not 0 <= self.clean_fraction <= 1:
            raise ConfigError("clean_fraction", "must be in [0, 1]")
        if not 0 < self.gain_low <= self.gain_high:
            raise ConfigError("gain_low", "need 0 < gain_low <= gain_high")
        if self.baseline_mv < 0 or self.baseline_hz_high <= 0:
            raise ConfigError("baseline_mv", "need baseline_mv >= 0 and baseline_hz_high > 0")


@dataclass(frozen=True, kw_only=True)
class DatasetConfig:
    """What a beat example is made of.

    Attributes
    ----------
    lead : preferred channel name (MIT-BIH records carry MLII in channel 0 except record 114).
    window : beat window and RR settings (shared with the device).
    features : beat-relative feature settings (shared with the device).
    augment : augmentation settings, used for copies ``1 .. n_augment``.
    n_augment : augmented copies per record (training only).
    seed : base seed of the augmentation.
    """

    lead: str = "MLII"
    window: WindowConfig = field(default_factory=WindowConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    n_augment: int = 2
    seed: int = 20240

    def __post_init__(self) -> None:
        if self.n_augment < 0:
            raise ConfigError("n_augment", "must be >= 0")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["window"] = self.window.to_dict()
        d["augment"]["noise_types"] = list(self.augment.noise_types)
        d["augment"]["device_rates_hz"] = list(self.augment.device_rates_hz)
        if not self.augment.device_rates_hz and not self.augment.other_lead_period:
            # The keys of earlier configurations (and their cached copies) stay as they were.
            del d["augment"]["device_rates_hz"], d["augment"]["other_lead_period"]
        if not self.augment.invert_probability:
            del d["augment"]["invert_probability"]
        return d

    def key(self, record: str, copy: int) -> str:
        """Cache key of one record copy (copy 0 does not depend on the augmentation)."""
        d = self.to_dict()
        if copy == 0:
            d.pop("augment")
        d.pop("n_augment")
        blob = json.dumps({"cfg": d, "record": record, "copy": copy, "v": DATASET_VERSION},
                          sort_keys=True)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]


@dataclass
class BeatSet:
    """Beat examples of one or more records.

    Attributes
    ----------
    beat : float32 (n, length, 2) model window input (see :func:`edge.dsp.features.beat_inputs`).
    features : float32 (n, n_features) unstandardised scalar features.
    label : int64 (n,) index into :data:`edge.eval.scoring.AAMI_CLASSES`.
    record : str (n,) record name.
    copy : int16 (n,) 0 for the clean record, k for augmented copy k.
    sample_index : int64 (n,) beat position (input-time sample index).
    rr_s : float32 (n, 4) RR features in seconds.
    """

    beat: np.ndarray
    features: np.ndarray
    label: np.ndarray
    record: np.ndarray
    copy: np.ndarray
    sample_index: np.ndarray
    rr_s: np.ndarray

    def __len__(self) -> int:
        return int(self.label.size)

    def subset(self, mask: np.ndarray) -> "BeatSet":
        return BeatSet(**{k: v[mask] for k, v in self.__dict__.items()})

    @staticmethod
    def concatenate(sets: list["BeatSet"]) -> "BeatSet":
        keys = ("beat", "features", "label", "record", "copy", "sample_index", "rr_s")
        return BeatSet(**{k: np.concatenate([getattr(s, k) for s in sets]) for k in keys})

    def class_counts(self) -> dict[str, int]:
        return {c: int((self.label == i).sum()) for i, c in enumerate(AAMI_CLASSES)}


def cache_dir() -> Path:
    """``$ECG_EDGE_CACHE`` or ``./cache``."""
    return Path(os.environ.get("ECG_EDGE_CACHE", "cache"))


def record_signal(record: str, lead: str = "MLII",
                  data_dir: str | os.PathLike | None = None, *,
                  other_lead: bool = False) -> tuple[np.ndarray, float]:
    """Raw signal (mV, 1-D float64) of the preferred lead (channel 0 if absent) and its rate.

    ``record`` is a MIT-BIH name or ``"<database>/<record>"`` (``data_dir`` names the MIT-BIH
    directory only). ``other_lead``: the first other channel instead (the same one if the
    record has a single channel)."""
    db, name = split_record(record)
    rec = read_record(name, database=db, data_dir=data_dir if db == "mitdb" else None)
    ch = rec.sig_names.index(lead) if lead in rec.sig_names else 0
    if other_lead and rec.signal_mv.shape[1] > 1:
        ch = 1 if ch == 0 else 0
    return rec.signal_mv[:, ch].astype(np.float64), float(rec.fs_hz)


def to_device_rate(x_mv: np.ndarray, fs_hz: float, beats: np.ndarray,
                   device_fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """The signal as a device sampling at ``device_fs_hz`` would have recorded it
    (anti-aliased polyphase resampling, zero phase) and the beat positions at that rate
    (``round(index * device_fs_hz / fs_hz)``).

    Non-finite samples (gaps) are bridged by linear interpolation first: a device records
    numbers, and the gap's flat bridge is what its validity checks then see."""
    from scipy.signal import resample_poly

    from edge.dsp.resample import rate_ratio

    x = np.asarray(x_mv, dtype=np.float64)
    b = np.asarray(beats, dtype=np.int64)
    if device_fs_hz == fs_hz:
        return x.copy(), b.copy()
    bad = ~np.isfinite(x)
    if bad.all():
        raise ConfigError("record", "signal has no finite samples")
    if bad.any():
        i = np.arange(x.size)
        x = x.copy()
        x[bad] = np.interp(i[bad], i[~bad], x[~bad])
    up, down = rate_ratio(fs_hz, device_fs_hz)
    y = resample_poly(x, up, down)
    pos = np.rint(b * (device_fs_hz / fs_hz)).astype(np.int64)
    return y, np.clip(pos, 0, max(y.size - 1, 0))


def copy_plan(cfg: "AugmentConfig", copy: int) -> tuple[float | None, bool]:
    """``(device rate Hz or None, other lead?)`` of copy ``copy`` of a record: None keeps the
    record's own rate; copy 0, the clean record, is always ``(None, False)``."""
    if copy <= 0:
        return None, False
    rate = (float(cfg.device_rates_hz[(copy - 1) % len(cfg.device_rates_hz)])
            if cfg.device_rates_hz else None)
    other = cfg.other_lead_period > 0 and copy % cfg.other_lead_period == 0
    return rate, other


_NOISE_CACHE: dict[str, np.ndarray] = {}


def _noise(name: str) -> np.ndarray:
    if name not in _NOISE_CACHE:
        rec = read_record(name, database="nstdb")
        _NOISE_CACHE[name] = rec.signal_mv.astype(np.float64)
    return _NOISE_CACHE[name]


def augment_signal(x_mv: np.ndarray, fs_hz: float, cfg: AugmentConfig,
                   rng: np.random.Generator) -> np.ndarray:
    """Gain (inverted with ``invert_probability``), baseline drift and segment-wise NSTDB noise
    at random SNR (see module doc)."""
    x = np.asarray(x_mv, dtype=np.float64)
    n = x.size
    gain = float(np.exp(rng.uniform(np.log(cfg.gain_low), np.log(cfg.gain_high))))
    if cfg.invert_probability and rng.uniform() < cfg.invert_probability:
        gain = -gain  # drawn only when enabled: the other configurations' copies stay as they were
    t = np.arange(n) / fs_hz
    drift = np.zeros(n)
    for _ in range(2):
        f = rng.uniform(0.05, cfg.baseline_hz_high)
        drift += 0.5 * cfg.baseline_mv * rng.uniform(0, 1) * np.sin(2 * np.pi * f * t
                                                                     + rng.uniform(0, 6.3))
    y = gain * x + drift
    p_sig = float(np.var(gain * x))
    seg = max(1, int(round(cfg.segment_s * fs_hz)))
    for start in range(0, n, seg):
        stop = min(n, start + seg)
        if rng.uniform() < cfg.clean_fraction:
            continue
        noise = _noise(str(rng.choice(cfg.noise_types)))
        ch = int(rng.integers(noise.shape[1]))
        off = int(rng.integers(0, noise.shape[0] - (stop - start)))
        z = noise[off:off + stop - start, ch]
        z = z - z.mean()
        snr_db = rng.uniform(cfg.snr_db_low, cfg.snr_db_high)
        p_noise = float(np.var(z)) or 1.0
        y[start:stop] += z * np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))
    return y


def _record_seed(cfg: DatasetConfig, record: str, copy: int) -> int:
    return (cfg.seed * 1_000_003 + zlib.crc32(record.encode()) * 101 + copy) % (2 ** 32)


def signal_beats(x_mv: np.ndarray, fs_hz: float, sample_index: np.ndarray,
                 cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model inputs ``(beat, features, rr_s)`` at given beat positions (input-rate sample
    indices) of a whole raw signal (1-D mV at ``fs_hz``): the device's own path,
    :func:`edge.dsp.inputs.beat_inputs_at`."""
    inp = beat_inputs_at(x_mv, fs_hz, sample_index, window=cfg.window, features=cfg.features)
    return inp.beat, inp.features, inp.rr_s


def _source_tag(record: str, data_dir: str | os.PathLike | None) -> str:
    """Short digest of the record's header file where ``data_dir`` (or its database's
    ``$<DATABASE>_DIR``) finds it: cached beats are only reused for the same files, and a
    folder without the record fails as an uncached read does (one clear error).

    Raises
    ------
    DataNotFoundError
        The record is not there.
    """
    from edge.io.records import resolve_record  # noqa: PLC0415

    db, name = split_record(record)
    base = resolve_record(name, db, data_dir if db == "mitdb" else None)
    header = base.with_name(base.name + ".hea")
    try:
        data = header.read_bytes()
    except OSError as exc:
        from edge.errors import DataError  # noqa: PLC0415

        raise DataError(f"cannot read {header}: {exc.strerror or exc}") from None
    return hashlib.sha256(data).hexdigest()[:8]


def build_record(record: str, cfg: DatasetConfig, copy: int = 0, *, use_cache: bool = True,
                 data_dir: str | os.PathLike | None = None) -> BeatSet:
    """Beat examples of one record copy at its reference beat positions (all AAMI beats)."""
    stem = str(record).replace("/", "_")
    path = cache_dir() / "beats" / f"{stem}_{copy}_{cfg.key(record, copy)}.npz"
    if use_cache:  # the record as this data folder holds it: another copy is another cache
        path = path.with_name(f"{path.stem}_{_source_tag(record, data_dir)}.npz")
    if use_cache and path.exists():
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        return BeatSet(beat=d["beat"], features=d["features"], label=d["label"],
                       record=d["record"].astype(str).astype(object), copy=d["copy"],
                       sample_index=d["sample_index"], rr_s=d["rr_s"])
    rate, other = copy_plan(cfg.augment, copy)
    x, fs = record_signal(record, cfg.lead, data_dir, other_lead=other)
    ref = reference_beats(record, data_dir=data_dir)
    positions = ref.sample_index
    if copy > 0:
        x = augment_signal(x, fs, cfg.augment, np.random.default_rng(_record_seed(cfg, record,
                                                                                   copy)))
        if rate is not None and rate != fs:
            x, positions = to_device_rate(x, fs, positions, rate)
            fs = rate
    beat, feats, rr = signal_beats(x, fs, positions, cfg)
    index = {c: i for i, c in enumerate(AAMI_CLASSES)}
    n = ref.sample_index.size
    out = BeatSet(beat=beat, features=feats,
                  label=np.array([index[c] for c in ref.aami], dtype=np.int64),
                  record=np.full(n, record, dtype=object), copy=np.full(n, copy, np.int16),
                  sample_index=ref.sample_index.astype(np.int64), rr_s=rr)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, beat=out.beat, features=out.features, label=out.label,
                 record=out.record.astype(str), copy=out.copy, sample_index=out.sample_index,
                 rr_s=out.rr_s)
        os.replace(tmp, path)
    return out


def build_dataset(records, cfg: DatasetConfig, *, augment: bool = False,
                  use_cache: bool = True, progress: bool = True,
                  data_dir: str | os.PathLike | None = None) -> BeatSet:
    """Beat examples of several records (clean copies, plus ``n_augment`` copies if asked)."""
    jobs = [(r, c) for r in records for c in range(1 + (cfg.n_augment if augment else 0))]
    it = jobs
    if progress and sys.stderr.isatty():  # a log file gets no carriage-return bar lines
        from tqdm import tqdm
        it = tqdm(jobs, desc="beats", unit="record", leave=False)
    sets = [build_record(r, cfg, c, use_cache=use_cache, data_dir=data_dir) for r, c in it]
    return BeatSet.concatenate(sets)
