"""training.dataset: the builder cuts exactly what the streaming device path releases."""
from __future__ import annotations

import numpy as np
import pytest

from edge.dsp.beats import BeatWindower, WindowConfig, extract_windows, rr_features
from edge.dsp.features import BeatFeaturizer, beat_inputs
from edge.dsp.preprocess import PreprocessConfig, Preprocessor
from edge.errors import ConfigError
from training.data import reference_beats
from training.dataset import (
    AugmentConfig,
    DatasetConfig,
    augment_signal,
    build_record,
    record_signal,
)

EXCERPT_S = 90


def _excerpt(mitdb_dir, record="208"):
    x, fs = record_signal(record, data_dir=mitdb_dir)
    n = int(EXCERPT_S * fs)
    ref = reference_beats(record, data_dir=mitdb_dir)
    beats = ref.sample_index[ref.sample_index < n - 400]
    return x[:n], fs, beats


@pytest.mark.parametrize("chunk", [1, 97, 360, 5000])
def test_builder_windows_equal_streaming_windower(mitdb_dir, chunk):
    x, fs, beats = _excerpt(mitdb_dir)
    cfg = WindowConfig()
    # Training path: the whole excerpt at once.
    cond = Preprocessor(PreprocessConfig(fs_in_hz=fs)).process(x).filtered_mv
    win_ref = extract_windows(cond, beats, cfg)
    rr_ref = rr_features(beats, cfg)
    beat_ref, feat_ref = beat_inputs(win_ref, rr_ref)
    # Device path: chunks through Preprocessor -> BeatWindower -> BeatFeaturizer, each beat
    # handed over once the stream has passed it (as the detector would report it).
    pre, bw, fz = Preprocessor(PreprocessConfig(fs_in_hz=fs)), BeatWindower(cfg), BeatFeaturizer()
    wins, rrs, feats = [], [], []
    k = 0
    for i in range(0, x.size, chunk):
        c = pre.process(x[i:i + chunk])
        end = c.sample_index + len(c)
        j = int(np.searchsorted(beats, end))
        batch = bw.process(c.filtered_mv, beats[k:j])
        k = j
        for b in (batch,):
            if len(b):
                wins.append(b.windows), rrs.append(b.rr_s)
                feats.append(fz.process(b.windows, b.rr_s))
    tail = bw.flush()
    wins.append(tail.windows), rrs.append(tail.rr_s), feats.append(fz.process(tail.windows,
                                                                              tail.rr_s))
    np.testing.assert_allclose(np.concatenate(wins), win_ref, atol=1e-6)
    np.testing.assert_allclose(np.concatenate(rrs), rr_ref, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([f[0] for f in feats]), beat_ref, atol=1e-5)
    np.testing.assert_allclose(np.concatenate([f[1] for f in feats]), feat_ref, atol=1e-5)


def test_build_record_matches_device_chain_and_caches(mitdb_dir, private_cache):
    cfg = DatasetConfig(n_augment=0)
    a = build_record("100", cfg, data_dir=mitdb_dir)
    ref = reference_beats("100", data_dir=mitdb_dir)
    assert len(a) == ref.sample_index.size
    assert a.beat.shape == (len(a), cfg.window.length, 2)
    x, fs = record_signal("100", data_dir=mitdb_dir)
    cond = Preprocessor(PreprocessConfig(fs_in_hz=fs)).process(x).filtered_mv
    beat, feats = beat_inputs(extract_windows(cond, ref.sample_index, cfg.window),
                              rr_features(ref.sample_index, cfg.window))
    np.testing.assert_array_equal(a.beat, beat)
    np.testing.assert_array_equal(a.features, feats)
    assert list(private_cache.rglob("100_0_*.npz"))
    b = build_record("100", cfg, data_dir=mitdb_dir)  # from the cache
    np.testing.assert_array_equal(a.beat, b.beat)
    np.testing.assert_array_equal(a.label, b.label)
    # session 48 audit: the cache answered for a data folder without the record
    from edge.errors import DataError

    empty = private_cache.parent / "empty_mitdb"
    empty.mkdir(exist_ok=True)
    with pytest.raises(DataError):
        build_record("100", cfg, data_dir=empty)


def test_augmentation_is_seeded_and_changes_the_signal(mitdb_dir, nstdb_dir):
    x, fs = record_signal("100", data_dir=mitdb_dir)
    x = x[: int(60 * fs)]
    cfg = AugmentConfig(clean_fraction=0.0)
    y1 = augment_signal(x, fs, cfg, np.random.default_rng(1))
    y2 = augment_signal(x, fs, cfg, np.random.default_rng(1))
    y3 = augment_signal(x, fs, cfg, np.random.default_rng(2))
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(y1, y3)
    assert not np.allclose(y1, x)


def test_configs_validate():
    with pytest.raises(ConfigError, match="snr_db_low"):
        AugmentConfig(snr_db_low=30, snr_db_high=10)
    with pytest.raises(ConfigError, match="noise_types"):
        AugmentConfig(noise_types=("xx",))
    with pytest.raises(ConfigError, match="n_augment"):
        DatasetConfig(n_augment=-1)
    assert DatasetConfig().key("100", 0) != DatasetConfig().key("100", 1)
    assert DatasetConfig().key("100", 0) == DatasetConfig(n_augment=5).key("100", 0)


def test_inversion_augmentation(mitdb_dir):
    """invert_probability 1 flips the copy (an electrode pair the other way round); 0 draws
    nothing, so the copies and cache keys of the configurations before it are unchanged."""
    x, fs = record_signal("100", data_dir=mitdb_dir)
    x = x[: int(10 * fs)]
    plain = dict(clean_fraction=1.0, baseline_mv=0.0, gain_low=1.0, gain_high=1.0)
    np.testing.assert_array_equal(
        augment_signal(x, fs, AugmentConfig(**plain, invert_probability=1.0),
                       np.random.default_rng(3)), -x)
    np.testing.assert_array_equal(
        augment_signal(x, fs, AugmentConfig(**plain), np.random.default_rng(3)), x)
    noisy = AugmentConfig(clean_fraction=0.0)
    before = augment_signal(x, fs, noisy, np.random.default_rng(4))
    np.testing.assert_array_equal(
        augment_signal(x, fs, AugmentConfig(clean_fraction=0.0, invert_probability=0.0),
                       np.random.default_rng(4)), before)
    assert "invert_probability" not in DatasetConfig().to_dict()["augment"]
    flipped = DatasetConfig(augment=AugmentConfig(invert_probability=0.5))
    assert flipped.key("100", 1) != DatasetConfig().key("100", 1)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="invert_probability"):
            AugmentConfig(invert_probability=bad)
