"""Tests of firmware_bridge/replay/samples.py: excerpt, channels, resampling, wire format."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge.errors import ConfigError, ReplayError
from firmware_bridge.protocol import SampleFormat
from firmware_bridge.replay.config import ReplayConfig
from firmware_bridge.replay.samples import load_replay_signal


def test_excerpt_and_channels_are_the_records_samples(mitdb_dir, record100):
    sig = load_replay_signal(ReplayConfig(record="100", data_dir=str(mitdb_dir), start_s=2.5,
                                          duration_s=3, channels=(1, 0)))
    np.testing.assert_array_equal(sig.adc, record100.adc[900:1980, ::-1])
    assert sig.first_index == 900 and sig.fs_hz == 360.0
    assert sig.sample_format is SampleFormat.INT16 and sig.adc.dtype == np.int32


def test_resampled_signal_emulates_a_250hz_wearable(mitdb_dir, record100):
    sig = load_replay_signal(ReplayConfig(record="100", data_dir=str(mitdb_dir), start_s=10,
                                          duration_s=4, fs_hz=250, channels=(1,)))
    assert sig.fs_hz == 250.0 and sig.adc.shape == (1000, 1) and sig.first_index == 2500
    assert sig.adc_gain == (200.0,) and sig.baseline == (1024,)
    ref = record100.adc[3600:5040, 1].astype(float)
    assert abs(sig.adc[:, 0].mean() - ref.mean()) < 5  # same signal, new rate


def test_duration_past_the_end_stops_at_the_end(mitdb_dir):
    sig = load_replay_signal(ReplayConfig(record="100", data_dir=str(mitdb_dir), start_s=1800,
                                          duration_s=60))
    assert sig.adc.shape[0] == 650000 - 1800 * 360


@pytest.mark.parametrize("kw, field", [(dict(start_s=1806.0), "start_s"),
                                       (dict(channels=(0, 2)), "channels")])
def test_outside_the_record_names_the_field(mitdb_dir, kw, field):
    with pytest.raises(ConfigError) as info:
        load_replay_signal(ReplayConfig(record="100", data_dir=str(mitdb_dir), **kw))
    assert info.value.field == field


def test_missing_record_is_a_replay_error(mitdb_dir):
    with pytest.raises(ReplayError, match="999"):
        load_replay_signal(ReplayConfig(record="999", data_dir=str(mitdb_dir)))


def _record_with_invalid_stretch(tmp_path, mitdb_dir, fmt: str):
    """30 s of record 208 written in WFDB format ``fmt`` with 5 s (10-15 s) marked invalid
    (NaN written: the format's invalid value)."""
    import wfdb

    rec = wfdb.rdrecord(str(mitdb_dir / "208"), sampto=360 * 30)
    sig = rec.p_signal.copy()
    sig[3600:5400] = np.nan
    wfdb.wrsamp("gap", fs=360, units=["mV", "mV"], sig_name=list(rec.sig_name),
                p_signal=sig, fmt=[fmt, fmt], adc_gain=[200.0, 200.0], baseline=[0, 0],
                write_dir=str(tmp_path))
    return tmp_path / "gap"


@pytest.mark.parametrize("fmt", ["16", "212"])
def test_samples_the_record_marks_invalid_go_out_as_the_wires_invalid_value(
        tmp_path, mitdb_dir, fmt):
    """Audit (session 49): the wire carried WFDB's invalid value as a count, which the daemon
    read as a -164 mV excursion; now it is the wire format's invalid value and no valid
    sample takes it."""
    path = _record_with_invalid_stretch(tmp_path, mitdb_dir, fmt)
    sig = load_replay_signal(ReplayConfig(record=str(path)))
    bad = sig.adc == sig.sample_format.invalid_value
    assert bad[3600:5400].all() and not bad[:3600].any() and not bad[5400:].any()
    rs = load_replay_signal(ReplayConfig(record=str(path), fs_hz=250))
    bad = (rs.adc == rs.sample_format.invalid_value).all(axis=1)
    assert bad[2500:3750].all()  # the stretch, and a few samples its filter reaches
    assert not bad[:2450].any() and not bad[3800:].any()
    assert rs.adc[~bad].min() > rs.sample_format.invalid_value
