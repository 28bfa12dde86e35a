import numpy as np
import pytest

from edge.dsp.quality import QualityConfig, SignalQuality
from edge.errors import ConfigError


@pytest.fixture(scope="module")
def ecg(mitdb_dir):
    from edge.io.records import read_record

    return read_record("100", data_dir=mitdb_dir, sampto=360 * 60).signal_mv[:, 0]


def levels(x, fs=360.0, chunk=None):
    q = SignalQuality(QualityConfig(fs_hz=fs))
    step = chunk or x.size
    return [w.level for i in range(0, x.size, step) for w in q.process(x[i:i + step])]


def test_clean_ecg_is_good_and_chunking_does_not_matter(ecg, rng):
    whole = levels(ecg)
    assert set(whole) == {"good"} and len(whole) == 30
    q1, q2 = SignalQuality(QualityConfig(fs_hz=360)), SignalQuality(QualityConfig(fs_hz=360))
    a = q1.process(ecg)
    b, i = [], 0
    while i < ecg.size:
        n = int(rng.integers(1, 500))
        b += q2.process(ecg[i:i + n])
        i += n
    assert [w.metrics for w in a] == [w.metrics for w in b]


def test_lead_off_saturation_and_noise(ecg, rng):
    x = ecg.copy()
    x[720 * 3:720 * 5] = 0.0  # flat: lead off
    x[720 * 6:720 * 7] = np.nan  # lost samples
    y = np.minimum(ecg, np.percentile(ecg, 95))  # ADC clipping the R waves
    z = ecg + rng.normal(0, 0.3, ecg.size)  # muscle-like broadband noise
    lx = levels(x)
    assert lx[3:5] == ["lead_off", "lead_off"] and lx[6] == "lead_off" and lx[0] == "good"
    assert levels(y).count("saturated") >= 20
    assert levels(z).count("noisy") >= 28


def test_quantised_baseline_noise_is_not_saturation(rng):
    """A stopped heart with the electrodes on, read at 5 µV per step: its few quantisation
    levels put many samples at the window's extremes, which graded it ``saturated`` (a
    technical state that restarts the asystole clock; session 50 audit). A window must span
    at least SATURATION_MIN_SPAN_MV to be at an amplifier's rail."""
    from edge.dsp.quality import SATURATION_MIN_SPAN_MV

    quiet = np.round(rng.normal(0, 0.004, 360 * 20) / 0.005) * 0.005
    assert np.ptp(quiet) < SATURATION_MIN_SPAN_MV
    assert "saturated" not in levels(quiet)


def test_level_lookup_and_worst_between(ecg):
    q = SignalQuality(QualityConfig(fs_hz=360.0), first_index=1000)
    x = ecg[:720 * 3].copy()
    x[720:1440] = 0.0
    q.process(x)
    assert q.level_at(1000 + 100) == "good"
    assert q.level_at(1000 + 800) == "lead_off"
    assert q.worst_between(1000, 1000 + 2000) == "lead_off"
    assert q.worst_between(1000, 1000 + 500) == "good"


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError) as err:
        QualityConfig(fs_hz=360, clip_fraction=0)
    assert err.value.field == "clip_fraction"
    with pytest.raises(ConfigError) as err:
        QualityConfig(fs_hz=360, qrs_band_hz=(20.0, 10.0))
    assert err.value.field == "qrs_band_hz"


def test_quality_rank_follows_the_event_levels():
    from edge.dsp.quality import QUALITY_RANK
    from edge.events.model import QUALITY_LEVELS

    assert sorted(QUALITY_RANK, key=QUALITY_RANK.get) == list(QUALITY_LEVELS)


def test_a_quiet_window_without_a_qrs_is_a_pause_not_noise(mitdb_dir):
    """MIT-BIH 232, 40-42 s lies inside a 2.8-s sinus pause (reference beats at 39.77 and
    42.55 s): almost no QRS-band energy, so the HF / QRS-band ratio (0.46) reads the
    recorder's noise floor. Its HF RMS (0.014 mV) is under ``quiet_hf_rms_mv``: good. With the
    floor off it is graded noisy, as it was before the floor."""
    from edge.io.records import read_record

    x = read_record("232", data_dir=mitdb_dir, sampto=360 * 46).signal_mv[:, 0]
    wins = SignalQuality(QualityConfig(fs_hz=360.0)).process(x)
    pause = wins[20]
    assert pause.start_index == 360 * 40
    assert pause.metrics["noise_ratio"] > 0.35 and pause.metrics["hf_rms_mv"] < 0.015
    assert {w.level for w in wins} == {"good"}
    off = SignalQuality(QualityConfig(fs_hz=360.0, quiet_hf_rms_mv=0.0)).process(x)
    assert off[20].level == "noisy"
    assert [w.level for w in off[:20]] == ["good"] * 20


def test_noise_above_the_quiet_floor_is_still_noise(ecg, rng):
    """A QRS-less stretch with muscle-like noise of 0.05 mV RMS is noisy; the same stretch with
    0.003 mV (an ADC's floor) is quiet and good."""
    x = ecg[:720 * 4].copy()
    x[720:2160] = np.median(ecg)
    loud = x.copy()
    loud[720:2160] += rng.normal(0, 0.05, 1440)
    quiet = x.copy()
    quiet[720:2160] += np.round(rng.normal(0, 0.003, 1440) / 0.005) * 0.005  # 5-µV ADC steps
    assert levels(loud)[1] == "noisy"
    assert levels(quiet)[1] == "good"


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf"), 15, 1e200, True, "0.01"])
def test_quiet_floor_must_be_a_plausible_mv(bad):
    with pytest.raises(ConfigError) as err:
        QualityConfig(fs_hz=360, quiet_hf_rms_mv=bad)
    assert err.value.field == "quiet_hf_rms_mv" and "0..0.05 mV" in str(err.value)
    assert QualityConfig(fs_hz=360, quiet_hf_rms_mv=0).quiet_hf_rms_mv == 0
