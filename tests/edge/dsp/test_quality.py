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
