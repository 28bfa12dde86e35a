import numpy as np
import pytest
from scipy import signal

from edge.dsp.filters import EcgFilter, FilterConfig, SosFilter, design_ecg_sos
from edge.errors import ConfigError, SignalError
from tests.conftest import feed_in_chunks


@pytest.mark.parametrize("sizes", [1, 7, 360, "random"])
def test_chunked_equals_whole(sizes, rng):
    x = rng.standard_normal(3000) + 2.0
    whole = EcgFilter().process(x)
    f = EcgFilter()
    parts = feed_in_chunks(f.process, x, sizes, rng)
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=0, atol=1e-12)


def test_reset_starts_a_new_stream(rng):
    x = rng.standard_normal(500)
    f = EcgFilter()
    a = f.process(x)
    f.reset()
    np.testing.assert_array_equal(f.process(x), a)


def test_response_keeps_qrs_band_and_removes_wander_and_mains():
    fs = 360.0
    sos = design_ecg_sos(FilterConfig(fs_hz=fs, notch_hz=60.0))
    w, h = signal.sosfreqz(sos, worN=[0.05, 10.0, 60.0, 100.0], fs=fs)
    gain_db = 20 * np.log10(np.abs(h))
    assert gain_db[0] < -20  # baseline wander
    assert abs(gain_db[1]) < 1  # QRS energy
    assert gain_db[2] < -30  # mains
    assert gain_db[3] < -15  # EMG / high-frequency noise


def test_notch_at_50hz_and_skipped_above_nyquist():
    sos50 = design_ecg_sos(FilterConfig(fs_hz=360.0, notch_hz=50.0))
    _, h = signal.sosfreqz(sos50, worN=[50.0], fs=360.0)
    assert 20 * np.log10(abs(h[0])) < -30
    # 60 Hz notch at a 100 Hz processing rate lies above Nyquist: skipped, not an error.
    sos = design_ecg_sos(FilterConfig(fs_hz=100.0, lowpass_hz=40.0, notch_hz=60.0))
    assert np.isfinite(sos).all()


@pytest.mark.parametrize("kwargs, field", [
    ({"fs_hz": 0}, "fs_hz"), ({"highpass_hz": 0}, "highpass_hz"),
    ({"lowpass_hz": 200}, "lowpass_hz"), ({"highpass_hz": 50, "lowpass_hz": 40}, "highpass_hz"),
    ({"notch_hz": -1}, "notch_hz"), ({"lowpass_order": 0}, "lowpass_order"),
])
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as err:
        FilterConfig(**kwargs)
    assert err.value.field == field


def test_bad_input_shapes():
    f = SosFilter(design_ecg_sos(FilterConfig()))
    with pytest.raises(SignalError):
        f.process(np.zeros((3, 2)))
    assert f.process(np.zeros(0)).size == 0
    with pytest.raises(ConfigError):
        SosFilter(np.zeros((2, 5)))
