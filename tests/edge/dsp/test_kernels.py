"""edge.dsp.kernels: scipy's compiled kernels loaded by file give scipy's results bit for bit,
and the public-scipy fallback takes over (for real) when the direct load fails."""
import logging
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from edge.dsp import kernels
from edge.dsp.kernels import load_kernels
from edge.errors import SignalError


def _random_sos(rng, n_sections):
    return signal.butter(2 * n_sections, rng.uniform(0.02, 0.9), output="sos")


def test_the_installed_scipy_is_loaded_directly():
    assert kernels.KERNELS == "direct"


@pytest.mark.parametrize("n_sections", [1, 2, 4, 7])
@pytest.mark.parametrize("n", [1, 2, 7, 360, 5001])
def test_sosfilt_equals_scipy_bitwise(n_sections, n, rng):
    sos = _random_sos(rng, n_sections)
    x = rng.standard_normal(n) * 100
    zi = rng.standard_normal((sos.shape[0], 2))
    y, zf = kernels.sosfilt(sos, x, zi=zi)
    y_ref, zf_ref = signal.sosfilt(sos, x, zi=zi)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(zf, zf_ref)
    assert y.dtype == np.float64 and zf.shape == (sos.shape[0], 2)


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.int32, np.float64])
def test_sosfilt_casts_real_inputs_as_scipy_does(dtype, rng):
    sos = _random_sos(rng, 2)
    x = (rng.standard_normal(400) * 1000).astype(dtype)
    zi = np.zeros((2, 2))
    y, zf = kernels.sosfilt(sos, x, zi=zi)
    y_ref, zf_ref = signal.sosfilt(sos, x, zi=zi)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(zf, zf_ref)


@pytest.mark.parametrize("sizes", [1, 7, 360, "random"])
def test_sosfilt_state_carries_across_chunks_exactly(sizes, rng):
    sos = _random_sos(rng, 3)
    x = rng.standard_normal(3000)
    zi = kernels.sosfilt_zi(sos) * x[0]
    whole, zf_whole = signal.sosfilt(sos, x, zi=zi)
    bounds = [0]
    while bounds[-1] < x.size:
        step = int(rng.integers(1, 50)) if sizes == "random" else sizes
        bounds.append(min(x.size, bounds[-1] + step))
    parts, z = [], zi
    for a, b in zip(bounds[:-1], bounds[1:]):
        y, z = kernels.sosfilt(sos, x[a:b], zi=z)
        parts.append(y)
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(z, zf_whole)


def test_sosfilt_leaves_its_inputs_alone(rng):
    sos = _random_sos(rng, 2)
    x = rng.standard_normal(50)
    zi = rng.standard_normal((2, 2))
    x0, zi0 = x.copy(), zi.copy()
    kernels.sosfilt(sos, x, zi=zi)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(zi, zi0)


def test_sosfilt_without_state_starts_at_rest(rng):
    sos = _random_sos(rng, 2)
    x = rng.standard_normal(100)
    y, _ = kernels.sosfilt(sos, x)
    np.testing.assert_array_equal(y, signal.sosfilt(sos, x))


@pytest.mark.parametrize("sos, x, zi, match", [
    (np.ones((2, 5)), np.ones(3), None, "n_sections, 6"),
    (np.array([[1, 0, 0, 2, 0, 0.0]]), np.ones(3), None, "all ones"),
    (np.array([[1, 0, 0, 1, 0, 0.0]]), np.ones((3, 2)), None, "1-D"),
    (np.array([[1, 0, 0, 1, 0, 0.0]]), np.ones(3, dtype=complex), None, "real"),
    (np.array([[1, 0, 0, 1, 0, 0.0]]), np.ones(3), np.zeros((2, 2)), r"\(1, 2\)"),
])
def test_sosfilt_rejects_bad_arguments_with_the_rule(sos, x, zi, match):
    with pytest.raises(SignalError, match=match):
        kernels.sosfilt(sos, x, zi=zi)


def test_sosfilt_zi_equals_scipy_bitwise(rng):
    for n_sections in (1, 2, 3, 5, 8):
        sos = _random_sos(rng, n_sections)
        np.testing.assert_array_equal(kernels.sosfilt_zi(sos), signal.sosfilt_zi(sos))
    notch = signal.tf2sos(*signal.iirnotch(60.0, 30.0, fs=360.0))
    np.testing.assert_array_equal(kernels.sosfilt_zi(notch), signal.sosfilt_zi(notch))


@pytest.mark.parametrize("up, down", [(1, 1), (2, 1), (1, 3), (18, 25), (25, 18), (5, 7)])
@pytest.mark.parametrize("n_h, n", [(1, 10), (7, 1), (51, 360), (401, 1000)])
def test_upfirdn_equals_scipy_bitwise(up, down, n_h, n, rng):
    h = rng.standard_normal(n_h)
    x = rng.standard_normal(n)
    np.testing.assert_array_equal(kernels.upfirdn(h, x, up, down), signal.upfirdn(h, x, up, down))


def test_upfirdn_rejects_bad_rates_and_taps():
    with pytest.raises(SignalError, match="up and down"):
        kernels.upfirdn([1.0], np.ones(4), 0, 1)
    with pytest.raises(SignalError, match="non-zero length"):
        kernels.upfirdn([], np.ones(4))


def _fake_scipy_dir(tmp_path: Path, damaged: str) -> Path:
    """A copy of scipy's two kernel files with one of them replaced by garbage."""
    real = Path(signal.__file__).resolve().parents[1]
    for sub, pattern in (("signal", "_sosfilt.*.so"), ("signal", "_upfirdn_apply.*.so")):
        (tmp_path / sub).mkdir(exist_ok=True)
        for f in (real / sub).glob(pattern):
            if f.name.startswith(damaged):
                (tmp_path / sub / f.name).write_bytes(b"not an ELF file\n" * 64)
            else:
                shutil.copy(f, tmp_path / sub / f.name)
    return tmp_path


@pytest.mark.parametrize("damaged", ["_sosfilt", "_upfirdn_apply", "missing"])
def test_fallback_to_public_scipy_when_the_direct_load_fails(damaged, tmp_path, caplog, rng,
                                                             monkeypatch):
    # Not yet in sys.modules, so the damaged/missing files are really opened.
    for name in ("scipy.signal._sosfilt", "scipy.signal._upfirdn_apply"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    where = tmp_path / "nothing" if damaged == "missing" else _fake_scipy_dir(tmp_path, damaged)
    with caplog.at_level(logging.WARNING, logger="edge.dsp.kernels"):
        k = load_kernels(str(where))
    assert k.source == "scipy"
    assert sum("could not be loaded directly" in r.getMessage() for r in caplog.records) == 1
    sos = _random_sos(rng, 2)
    x = rng.standard_normal(300)
    zi = rng.standard_normal((2, 2))
    y, zf = k.sosfilt(sos, x, zi)
    y_ref, zf_ref = signal.sosfilt(sos, x, zi=zi)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(zf, zf_ref)
    np.testing.assert_array_equal(k.upfirdn(np.ones(5), x, 3, 2),
                                  signal.upfirdn(np.ones(5), x, 3, 2))
    y2, z2 = x.reshape(1, -1).copy(), zi.reshape(1, 2, 2).copy()
    k.sosfilt_inplace(np.ascontiguousarray(sos), y2, z2)  # what SosStream runs
    np.testing.assert_array_equal(y2[0], y_ref)
    np.testing.assert_array_equal(z2[0], zf_ref)


def test_a_copy_of_the_real_files_loads_directly(tmp_path, monkeypatch):
    for name in ("scipy.signal._sosfilt", "scipy.signal._upfirdn_apply"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert load_kernels(str(_fake_scipy_dir(tmp_path, damaged="none"))).source == "direct"


@pytest.mark.parametrize("sizes", [1, 7, 36, "random"])
def test_sos_stream_equals_scipy_bitwise_over_any_chunking(sizes, rng):
    sos = _random_sos(rng, 3)
    x = rng.standard_normal(3000) * 10
    zi = kernels.sosfilt_zi(sos) * x[0]
    whole, zf_whole = signal.sosfilt(sos, x, zi=zi)
    stream = kernels.SosStream(sos, zi)
    parts, pos = [], 0
    while pos < x.size:
        step = int(rng.integers(1, 50)) if sizes == "random" else sizes
        parts.append(stream(x[pos:pos + step]))
        pos += step
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(stream.state, zf_whole)
    stream.set_state(None)  # at rest again
    np.testing.assert_array_equal(stream(x), signal.sosfilt(sos, x))


def test_sos_stream_filters_rows_of_a_work_array_in_place_bitwise(rng):
    sos = _random_sos(rng, 2)
    x = rng.standard_normal(3000) * 10
    stream, in_place = kernels.SosStream(sos), kernels.SosStream(sos)
    for pos, step in ((0, 7), (7, 36), (43, 2957)):
        work = np.full((2, 4 + step), np.nan)
        work[1, 4:] = x[pos:pos + step]
        in_place.filter_inplace(work[1:2, 4:])
        np.testing.assert_array_equal(work[1, 4:], stream(x[pos:pos + step]))
        assert np.isnan(work[0]).all() and np.isnan(work[1, :4]).all()  # nothing else written
    np.testing.assert_array_equal(in_place.state, stream.state)


def test_sos_stream_owns_its_sections_and_state_and_checks_them_once(rng):
    sos = _random_sos(rng, 2)
    zi = rng.standard_normal((2, 2))
    x = rng.standard_normal(100)
    stream = kernels.SosStream(sos, zi)
    want, _ = signal.sosfilt(sos.copy(), x, zi=zi.copy())
    sos[:] = 0.0  # the caller's arrays may change afterwards
    zi[:] = 0.0
    np.testing.assert_array_equal(stream(x), want)
    state = stream.state
    state[:] = 1e9  # a copy
    assert not np.array_equal(stream.state, state)
    with pytest.raises(SignalError, match="shape"):
        kernels.SosStream(np.ones((2, 5)))
    with pytest.raises(SignalError, match="ones"):
        kernels.SosStream(np.array([[1.0, 0, 0, 2.0, 0, 0]]))
    with pytest.raises(SignalError, match="1-D"):
        kernels.SosStream(_random_sos(rng, 1))(np.ones((2, 3)))
    with pytest.raises(SignalError, match="zi must have shape"):
        kernels.SosStream(_random_sos(rng, 1), np.zeros((2, 2)))


def test_sos_stream_casts_integer_chunks_as_sosfilt_does(rng):
    sos = _random_sos(rng, 2)
    x = (rng.standard_normal(400) * 1000).astype(np.int16)
    np.testing.assert_array_equal(kernels.SosStream(sos)(x), signal.sosfilt(sos, x))
