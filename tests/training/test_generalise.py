"""Issue 16 training data: SVDB records through the device path, device-rate and lead
augmentation, and the DS2 guard for every record list."""
from __future__ import annotations

import numpy as np
import pytest

from edge.dsp.beats import WindowConfig
from edge.dsp.inputs import beat_inputs_at, condition_signal
from edge.errors import ConfigError
from training.data import DS2, SVDB, SVDB_FOLDS, is_ds2, reference_beats, split_record
from training.dataset import (
    AugmentConfig,
    DatasetConfig,
    augment_signal,
    build_record,
    copy_plan,
    record_signal,
    to_device_rate,
)
from training.train import TrainConfig, train_ensemble


def test_record_names_and_ds2_test():
    assert split_record("svdb/804") == ("svdb", "804")
    assert split_record("232") == ("mitdb", "232")
    assert is_ds2("232") and is_ds2("mitdb/232") and not is_ds2("svdb/232")
    assert not is_ds2("101")
    # session 48 audit: "mitdb/100.hea" and "MITDB/100" trained on DS2 record 100
    for spelled in ("mitdb/100.hea", "MITDB/100", "100.dat", " 100", "mitdb/232.atr"):
        assert is_ds2(spelled), spelled
    assert split_record("MITDB/100.hea") == ("mitdb", "100")
    with pytest.raises(ConfigError, match="val_records.*: 103"):
        TrainConfig(train_records=("101",), val_records=("103",))
    for bad in ("/804", "svdb/", "a/b/c"):
        with pytest.raises(ConfigError):
            split_record(bad)


def test_svdb_folds_are_disjoint_patients():
    flat = [r for f in SVDB_FOLDS for r in f]
    assert len(flat) == len(set(flat)) == 39 and set(flat) == set(SVDB)
    assert all(r.startswith("svdb/") for r in flat)


def test_training_refuses_ds2_in_every_record_list():
    with pytest.raises(ConfigError, match="DS2"):
        TrainConfig(train_records=("101", "mitdb/232"), val_records=("106",))
    with pytest.raises(ConfigError, match="DS2"):
        TrainConfig(extra_folds=(("svdb/804",), ("232",), ("svdb/807",)))
    with pytest.raises(ConfigError, match="one fold"):
        TrainConfig(extra_folds=(("svdb/804",), ("svdb/804",), ("svdb/807",)))
    with pytest.raises(ConfigError, match="device_rates_hz"):
        TrainConfig(device_rates_hz=(10.0,))
    with pytest.raises(ConfigError, match="width"):
        TrainConfig(width=0.0)
    # The ensemble checks its own folds too (before reading any data).
    with pytest.raises(ConfigError, match="DS2"):
        train_ensemble(TrainConfig(), "/nonexistent", folds=(("101",), (DS2[0],), ("106",)))
    with pytest.raises(ConfigError, match="one extra fold per DS1 fold"):
        train_ensemble(TrainConfig(extra_folds=(("svdb/804",),)), "/nonexistent")


def test_copy_plan_cycles_rates_and_leads():
    cfg = AugmentConfig(device_rates_hz=(128.0, 250.0, 500.0), other_lead_period=2)
    assert copy_plan(cfg, 0) == (None, False)
    assert [copy_plan(cfg, k) for k in (1, 2, 3, 4)] == [
        (128.0, False), (250.0, True), (500.0, False), (128.0, True)]
    assert copy_plan(AugmentConfig(), 3) == (None, False)


def test_new_augment_fields_keep_earlier_cache_keys():
    a, b = DatasetConfig(), DatasetConfig(augment=AugmentConfig(other_lead_period=2))
    assert "device_rates_hz" not in a.to_dict()["augment"]
    assert a.key("101", 1) != b.key("101", 1)
    assert a.key("101", 0) == b.key("101", 0)  # the clean copy does not depend on augmentation


@pytest.mark.parametrize("rate", [128.0, 250.0, 500.0])
def test_rate_round_trip_keeps_beat_positions(mitdb_dir, rate):
    """A record resampled as if recorded at ``rate`` and brought back by the device's own
    resampler: every beat lands where it was (the conditioned peak within 1 sample at
    360 Hz) and the beat windows stay close to the native ones."""
    x, fs = record_signal("100", data_dir=mitdb_dir)
    n = int(120 * fs)
    ref = reference_beats("100", data_dir=mitdb_dir)
    beats = ref.sample_index[(ref.sample_index > 400) & (ref.sample_index < n - 400)]
    y, pos = to_device_rate(x[:n], fs, beats, rate)
    assert y.size == pytest.approx(n * rate / fs, abs=1)
    np.testing.assert_allclose(pos / rate, beats / fs, atol=0.5 / rate)
    a = condition_signal(x[:n], fs).filtered_mv
    b = condition_signal(y, rate).filtered_mv
    m = min(a.size, b.size)
    lag = np.argmax(np.correlate(a[1000:m - 1000], b[1000 - 5:m - 1000 + 5], "valid")) - 5
    assert lag == 0  # no shift between the native and the round-tripped signal
    peak_a = np.array([i - 10 + np.argmax(np.abs(a[i - 10:i + 10])) for i in beats])
    peak_b = np.array([i - 10 + np.argmax(np.abs(b[i - 10:i + 10])) for i in beats])
    assert np.abs(peak_a - peak_b).max() <= 1
    w = WindowConfig()
    native = beat_inputs_at(x[:n], fs, beats, window=w)
    trip = beat_inputs_at(y, rate, pos, window=w)
    # A position rounded at the device rate is off by at most half a device sample.
    shift = np.abs(native.processing_index - trip.processing_index)
    assert shift.max() <= 0.5 * fs / rate + 0.5
    err = np.abs(native.beat[..., 0] - trip.beat[..., 0]).mean()
    assert err < (0.05 if rate == 128 else 0.02)


def test_to_device_rate_bridges_gaps_and_identity():
    x = np.sin(np.arange(3600) / 20.0)
    x[100:140] = np.nan
    y, pos = to_device_rate(x, 360.0, np.array([50, 1000, 3599]), 128.0)
    assert np.all(np.isfinite(y)) and pos.tolist() == [18, 356, 1280 - 1]
    same, p2 = to_device_rate(x, 360.0, np.array([5]), 360.0)
    assert np.array_equal(np.isnan(same), np.isnan(x)) and p2.tolist() == [5]


def test_gain_only_augmentation_scales_the_signal():
    cfg = AugmentConfig(clean_fraction=1.0, baseline_mv=0.0, gain_low=1.5, gain_high=1.5)
    x = np.random.default_rng(0).standard_normal(2000)
    y = augment_signal(x, 360.0, cfg, np.random.default_rng(1))
    np.testing.assert_allclose(y, 1.5 * x)


def test_svdb_record_through_the_device_path(svdb_dir, private_cache, monkeypatch):
    monkeypatch.setenv("SVDB_DIR", str(svdb_dir))
    cfg = DatasetConfig(n_augment=2, augment=AugmentConfig(device_rates_hz=(250.0,),
                                                           other_lead_period=2))
    clean = build_record("svdb/804", cfg, 0)
    ref = reference_beats("svdb/804")
    assert ref.fs_hz == 128.0 and len(clean) == ref.sample_index.size
    assert clean.beat.shape[1:] == (cfg.window.length, 2)
    assert np.all(np.isfinite(clean.features))
    assert list(private_cache.rglob("svdb_804_0_*.npz"))
    other = build_record("svdb/804", cfg, 2)  # 250 Hz, ECG2
    assert len(other) == len(clean) and not np.allclose(other.beat, clean.beat)
    np.testing.assert_array_equal(other.label, clean.label)


def test_width_multiplier_scales_every_layer():
    from training.models import ModelConfig
    base = ModelConfig()
    half = base.scaled(0.5)
    assert half.filters == (4, 6, 8, 8) and (half.dense_units, half.head_units) == (6, 12)
    assert base.scaled(1.0) is base
    assert min(base.scaled(0.1).filters) == 2


def test_min_epochs_keeps_no_warm_up_checkpoint(mitdb_dir, tmp_path):
    pytest.importorskip("tensorflow")
    from training.train import main
    out = tmp_path / "run"
    rc = main(["--model", "cnn", "--out", str(out), "--records", "119", "--val-records", "101",
               "--epochs", "2", "--min-epochs", "2", "--n-augment", "0",
               "--normal-per-epoch", "300", "--quiet", "--width", "0.5",
               "--data-dir", str(mitdb_dir)])
    assert rc == 0
    import json
    c = json.loads((out / "beat_cnn.contract.json").read_text())
    assert c["training"]["best_epoch"] == 2
    assert c["model"]["config"]["filters"] == [4, 6, 8, 8]


def test_train_cli_refuses_bad_settings_without_a_traceback(capsys):
    from training.train import main
    with pytest.raises(SystemExit) as e:
        main(["--out", "/nonexistent", "--min-epochs", "50"])
    assert e.value.code == 2 and "min_epochs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", "/nonexistent", "--svdb", "--single"])
    assert "--svdb works with the fold ensemble only" in capsys.readouterr().err
