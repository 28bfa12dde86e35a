"""edge.dsp.designs: the device's filter designs equal scipy.signal's bit for bit over the
parameter ranges the configurations allow (orders 1-8, sample rates 100-1000 Hz)."""
from math import gcd

import numpy as np
import pytest
import scipy.special
from scipy import signal

from edge.dsp import designs
from edge.dsp.filters import FilterConfig, design_ecg_sos
from edge.errors import ConfigError

RATES_HZ = [100, 125, 128, 200, 250, 256, 300, 360, 500, 512, 1000]


@pytest.mark.parametrize("fs", RATES_HZ)
@pytest.mark.parametrize("btype", ["highpass", "lowpass"])
def test_butter_low_and_high_pass_equal_scipy(fs, btype):
    for order in range(1, 9):
        for hz in (0.05, 0.5, 0.67, 5.0, 25.0, 40.0, 0.45 * fs, 0.49 * fs):
            got = designs.butter(order, hz, btype=btype, fs=fs, output="sos")
            want = signal.butter(order, hz, btype=btype, fs=fs, output="sos")
            np.testing.assert_array_equal(got, want, err_msg=f"{order=} {hz=}")
        # Wn as a fraction of Nyquist (as quality.py calls it)
        got = designs.butter(2, 40.0 / (fs / 2), btype=btype)
        np.testing.assert_array_equal(got, signal.butter(2, 40.0 / (fs / 2), btype=btype,
                                                         output="sos"))


@pytest.mark.parametrize("fs", RATES_HZ)
def test_butter_band_pass_equals_scipy(fs):
    for order in (1, 2, 3, 4):
        for lo, hi in ((5, 18), (5, 15), (18, 40), (8, 20), (0.5, 40), (1, 0.45 * fs)):
            if hi >= fs / 2:
                continue
            got = designs.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
            want = signal.butter(order, [lo, hi], btype="bandpass", fs=fs, output="sos")
            np.testing.assert_array_equal(got, want, err_msg=f"{order=} {lo=} {hi=}")


def test_butter_zpk_output_equals_scipy():
    for got, want in zip(designs.butter(4, 0.2, output="zpk"),
                         signal.butter(4, 0.2, output="zpk")):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("fs", RATES_HZ)
def test_notch_and_its_sections_equal_scipy(fs):
    for f0 in (50.0, 60.0):
        if f0 >= fs / 2:
            continue
        for q in (1.0, 5.0, 30.0, 35.0, 100.0):
            b, a = designs.iirnotch(f0, q, fs=fs)
            b_ref, a_ref = signal.iirnotch(f0, q, fs=fs)
            np.testing.assert_array_equal(b, b_ref)
            np.testing.assert_array_equal(a, a_ref)
            np.testing.assert_array_equal(designs.tf2sos(b, a), signal.tf2sos(b_ref, a_ref))


@pytest.mark.parametrize("fs", RATES_HZ)
def test_ecg_chain_equals_the_scipy_design(fs):
    for hp_order, lp_order in ((1, 1), (2, 4), (8, 8), (3, 5)):
        cfg = FilterConfig(fs_hz=fs, highpass_order=hp_order, lowpass_order=lp_order,
                           lowpass_hz=min(40.0, 0.45 * fs))
        want = [signal.butter(hp_order, cfg.highpass_hz, btype="highpass", fs=fs, output="sos"),
                signal.butter(lp_order, cfg.lowpass_hz, btype="lowpass", fs=fs, output="sos")]
        if cfg.notch_hz < fs / 2:
            want.append(signal.tf2sos(*signal.iirnotch(cfg.notch_hz, cfg.notch_q, fs=fs)))
        np.testing.assert_array_equal(design_ecg_sos(cfg), np.vstack(want))


@pytest.mark.parametrize("fs_in", RATES_HZ)
def test_resampler_fir_equals_scipy(fs_in):
    for fs_out in (360, 250, 128):
        g = gcd(fs_in, fs_out)
        up, down = fs_out // g, fs_in // g
        if up == down == 1:
            continue
        for half in (2, 10):
            n_taps = 2 * half * max(up, down) + 1
            got = designs.firwin(n_taps, 1.0 / max(up, down), window=("kaiser", 5.0))
            want = signal.firwin(n_taps, 1.0 / max(up, down), window=("kaiser", 5.0))
            np.testing.assert_array_equal(got, want, err_msg=f"{fs_out=} {half=}")


def test_firwin_equals_scipy_for_small_and_even_lengths():
    for n_taps in range(1, 80):
        for cutoff in (0.1, 0.5, 0.9):
            for beta in (0.5, 5.0, 14.0):
                np.testing.assert_array_equal(
                    designs.firwin(n_taps, cutoff, window=("kaiser", beta)),
                    signal.firwin(n_taps, cutoff, window=("kaiser", beta)))
    np.testing.assert_array_equal(designs.firwin(31, 40.0, fs=360.0),
                                  signal.firwin(31, 40.0, window=("kaiser", 5.0), fs=360.0))


def test_i0_equals_scipy_special_bitwise():
    x = np.linspace(0.0, 40.0, 40001)  # both Cephes branches (<= 8 and > 8)
    np.testing.assert_array_equal([designs.i0(v) for v in x], scipy.special.i0(x))
    assert designs.i0(-3.0) == scipy.special.i0(-3.0)


def test_kaiser_window_equals_scipy():
    for m in (0, 1, 2, 3, 10, 101, 1000):
        np.testing.assert_array_equal(designs.kaiser(m, 5.0),
                                      signal.windows.kaiser(m, 5.0))


@pytest.mark.parametrize("call, field", [
    (lambda: designs.butter(2, 0.0), "Wn"),
    (lambda: designs.butter(2, 1.0), "Wn"),
    (lambda: designs.butter(2, 200.0, fs=360.0), "Wn"),
    (lambda: designs.butter(2, [20.0, 10.0], btype="bandpass", fs=360.0), "Wn"),
    (lambda: designs.butter(2, 0.3, btype="bandstop"), "btype"),
    (lambda: designs.butter(2, 0.3, output="ba"), "output"),
    (lambda: designs.butter(2.5, 0.3), "N"),
    (lambda: designs.butter(2, [0.1, 0.3], btype="lowpass"), "Wn"),
    (lambda: designs.iirnotch(200.0, 30.0, fs=360.0), "w0"),
    (lambda: designs.firwin(31, 0.3, window="hamming"), "window"),
    (lambda: designs.firwin(31, [0.1, 0.3]), "cutoff"),
    (lambda: designs.firwin(31, 1.2), "cutoff"),
])
def test_unsupported_or_invalid_designs_name_the_field(call, field):
    with pytest.raises(ConfigError) as exc:
        call()
    assert exc.value.field == field
