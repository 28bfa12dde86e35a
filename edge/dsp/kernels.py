"""The compiled numeric kernels of the device path, without importing ``scipy.signal``.

``import scipy.signal`` costs ~75 MB of RSS and ~0.5 s (it imports ``scipy.stats``,
``scipy.linalg``, ``scipy.special``...), yet the device path needs only two compiled loops.
This module loads scipy's own compiled extension modules by file -- ``signal/_sosfilt`` and
``signal/_upfirdn_apply`` -- without running the package's ``__init__``, and calls them with
the contract scipy's public wrappers use, so the results are bit-identical to
:func:`scipy.signal.sosfilt` and :func:`scipy.signal.upfirdn` (the same machine code runs):

``sosfilt(sos, x, zi) -> (y, zf)``   cascaded second-order sections, state in and out
``sosfilt_zi(sos)``                  step-response steady state (numpy; scipy's arithmetic)
``upfirdn(h, x, up, down)``          upsample, FIR filter, downsample (zero extension)
``SosStream(sos, zi)``               a stream's sosfilt: sections checked once, state kept and
                                     updated in place (no per-chunk checks or state copies;
                                     the same kernel, so the same numbers)

The kernels are float64 (scipy computes in float64 for every real input the device sees).
On a scipy whose files or kernel signatures differ, loading (or a probe run on a tiny input
checked against numpy) fails; then the public scipy functions are used instead, logged once,
and :data:`KERNELS` says which set runs (``"direct"`` or ``"scipy"``; ``ecg-edge check`` prints it).
"""
from __future__ import annotations

import glob
import importlib.util
import logging
import os
import sys
from types import ModuleType
from typing import Callable, NamedTuple

import numpy as np

from edge.errors import SignalError

__all__ = ["KERNELS", "Kernels", "SosStream", "load_kernels", "sosfilt", "sosfilt_zi",
           "upfirdn"]

logger = logging.getLogger(__name__)

_CONSTANT_MODE_UPFIRDN = 0  # scipy.signal._upfirdn_apply.mode_enum("constant")


class Kernels(NamedTuple):
    """One set of kernels and where it came from (``"direct"`` or ``"scipy"``)."""

    source: str
    sosfilt: Callable[[np.ndarray, np.ndarray, np.ndarray | None], tuple[np.ndarray, np.ndarray]]
    upfirdn: Callable[..., np.ndarray]
    #: ``sosfilt_inplace(sos, y, z)``: checked C-contiguous float64 ``sos`` (n, 6), ``y``
    #: (1, m) filtered in place, state ``z`` (1, n, 2) updated in place.
    sosfilt_inplace: Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None = None


# ---------------------------------------------------------------- shared argument handling
def _as_sos(sos: np.ndarray) -> np.ndarray:
    # Called on every chunk: the cheap checks first (a wearable sends 20-ms chunks).
    if not (type(sos) is np.ndarray and sos.dtype == np.float64 and sos.flags.c_contiguous):
        sos = np.ascontiguousarray(sos, dtype=np.float64)
    if sos.ndim != 2 or sos.shape[1] != 6:
        raise SignalError(f"sos must have shape (n_sections, 6), got {sos.shape}")
    if any(a0 != 1.0 for a0 in sos[:, 3].tolist()):
        raise SignalError("sos[:, 3] must be all ones")
    return sos


def _as_signal(x: np.ndarray, name: str = "x") -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 1:
        raise SignalError(f"{name} must be 1-D, got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise SignalError(f"{name} must be real numbers, got dtype {x.dtype}")
    return x


def _as_zi(zi: np.ndarray | None, n_sections: int) -> np.ndarray:
    if zi is None:
        return np.zeros((1, n_sections, 2))
    zi = np.array(zi, dtype=np.float64, order="C")  # a copy: the kernel works in place
    if zi.shape != (n_sections, 2):
        raise SignalError(f"zi must have shape ({n_sections}, 2), got {zi.shape}")
    return zi.reshape(1, n_sections, 2)


# ---------------------------------------------------------------- direct kernels
def _load_extension(name: str, pattern: str) -> ModuleType:
    """Load the compiled module ``name`` from the file matching ``pattern``, by file."""
    if name in sys.modules:  # scipy's own package already loaded it: share that copy
        return sys.modules[name]
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise ImportError(f"no file matches {pattern}")
    spec = importlib.util.spec_from_file_location(name, paths[0])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {paths[0]}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _direct_kernels(scipy_dir: str) -> Kernels:
    ext_sos = _load_extension("scipy.signal._sosfilt",
                              os.path.join(scipy_dir, "signal", "_sosfilt.*.so"))
    ext_upf = _load_extension("scipy.signal._upfirdn_apply",
                              os.path.join(scipy_dir, "signal", "_upfirdn_apply.*.so"))
    k_sosfilt = ext_sos._sosfilt
    k_output_len, k_apply = ext_upf._output_len, ext_upf._apply
    if ext_upf.mode_enum("constant") != _CONSTANT_MODE_UPFIRDN:
        raise ImportError("scipy's upfirdn mode codes changed")

    def sosfilt(sos, x, zi=None):
        # scipy.signal.sosfilt: C-contiguous float64 copies of x (1 row) and zi, filtered in place.
        sos = _as_sos(sos)
        x = _as_signal(x)
        y = np.array(x, dtype=np.float64, order="C").reshape(1, -1)
        z = _as_zi(zi, sos.shape[0])
        k_sosfilt(sos, y, z)
        return y.reshape(-1), z.reshape(-1, 2)

    def upfirdn(h, x, up=1, down=1):
        # scipy.signal._upfirdn._UpFIRDn with float64 output, axis 0, mode "constant", cval 0.
        h, x, up, down = _upfirdn_args(h, x, up, down)
        h_trans_flip = np.ascontiguousarray(_pad_h(h, up))
        out = np.zeros(k_output_len(h.size, x.size, up, down), dtype=np.float64)
        k_apply(x, h_trans_flip, out, up, down, 0, _CONSTANT_MODE_UPFIRDN, 0)
        return out

    return Kernels("direct", sosfilt, upfirdn, k_sosfilt)


def _upfirdn_args(h, x, up, down) -> tuple[np.ndarray, np.ndarray, int, int]:
    h = np.asarray(h)
    if h.ndim != 1 or h.size == 0 or h.dtype.kind not in "biuf":
        raise SignalError(f"h must be 1-D real with non-zero length, got shape {h.shape}")
    x = np.ascontiguousarray(_as_signal(x), dtype=np.float64)
    up, down = int(up), int(down)
    if up < 1 or down < 1:
        raise SignalError(f"up and down must be >= 1, got {up}, {down}")
    return np.asarray(h, dtype=np.float64), x, up, down


def _pad_h(h: np.ndarray, up: int) -> np.ndarray:
    """scipy.signal._upfirdn._pad_h: coefficients transposed and flipped per phase."""
    h_padlen = len(h) + (-len(h) % up)
    h_full = np.zeros(h_padlen, h.dtype)
    h_full[:len(h)] = h
    return h_full.reshape(-1, up).T[:, ::-1].ravel()


# ---------------------------------------------------------------- public scipy fallback
def _scipy_kernels() -> Kernels:
    from scipy import signal  # the heavy import the direct route avoids

    def sosfilt(sos, x, zi=None):
        sos = _as_sos(sos)
        x = np.asarray(_as_signal(x), dtype=np.float64)
        y, zf = signal.sosfilt(sos, x, zi=_as_zi(zi, sos.shape[0])[0])
        return y, zf

    def upfirdn(h, x, up=1, down=1):
        h, x, up, down = _upfirdn_args(h, x, up, down)
        return signal.upfirdn(h, x, up, down)

    def sosfilt_inplace(sos, y, z):
        y[0], z[0] = signal.sosfilt(sos, y[0], zi=z[0])

    return Kernels("scipy", sosfilt, upfirdn, sosfilt_inplace)


# ---------------------------------------------------------------- selection
def _probe(k: Kernels) -> None:
    """Run each kernel on a tiny input and check it against plain numpy arithmetic."""
    sos = np.array([[0.5, 0.25, 0.0, 1.0, -0.5, 0.0]])  # y[n] = .5x[n] + .25x[n-1] + .5y[n-1]
    x = np.array([1.0, 2.0, -1.0, 0.5])
    y, zf = k.sosfilt(sos, x, np.array([[0.125, 0.0]]))
    want, prev_x, prev_y = [], 0.0, None
    for n, xn in enumerate(x):
        yn = 0.5 * xn + 0.125 if n == 0 else 0.5 * xn + 0.25 * prev_x + 0.5 * prev_y
        want.append(yn)
        prev_x, prev_y = xn, yn
    if not (np.allclose(y, want, rtol=1e-12, atol=0) and zf.shape == (1, 2)):
        raise ImportError("sosfilt kernel probe failed")
    y2, z2 = x.reshape(1, -1).copy(), np.array([[[0.125, 0.0]]])
    k.sosfilt_inplace(sos, y2, z2)
    if not (np.array_equal(y2[0], y) and np.array_equal(z2[0], zf)):
        raise ImportError("in-place sosfilt kernel probe failed")
    h = np.array([0.5, 1.0, 0.5])
    if not np.allclose(k.upfirdn(h, x, 2, 3), np.convolve(np.kron(x, [1.0, 0.0]), h)[::3][:3]):
        raise ImportError("upfirdn kernel probe failed")


def _scipy_dir() -> str:
    spec = importlib.util.find_spec("scipy")
    if spec is None or spec.origin is None:
        raise ImportError("scipy is not installed")
    return os.path.dirname(spec.origin)


def load_kernels(scipy_dir: str | None = None) -> Kernels:
    """The direct kernels from ``scipy_dir`` (default: the installed scipy), probed; on any
    failure the public scipy functions, with a warning naming the reason."""
    try:
        kernels = _direct_kernels(scipy_dir or _scipy_dir())
        _probe(kernels)
        return kernels
    except Exception as exc:  # any load/probe failure: the public functions are the fallback
        logger.warning("compiled kernels could not be loaded directly (%s: %s); using "
                       "scipy.signal (slower start, ~75 MB more memory)",
                       type(exc).__name__, exc)
        kernels = _scipy_kernels()
        _probe(kernels)
        return kernels


_KERNELS = load_kernels()
#: ``"direct"`` (scipy's compiled kernels loaded by file) or ``"scipy"`` (the public functions).
KERNELS: str = _KERNELS.source


def sosfilt(sos: np.ndarray, x: np.ndarray,
            zi: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Filter the 1-D ``x`` through the sections ``sos`` (n_sections, 6) from state ``zi``
    (n_sections, 2; None = at rest). Returns ``(y, zf)``, both float64; ``zi`` is not modified.
    Bit-identical to ``scipy.signal.sosfilt(sos, x, zi=zi)``."""
    return _KERNELS.sosfilt(sos, x, zi)


class SosStream:
    """:func:`sosfilt` for a stream, its state kept here: the sections are checked once, and
    each chunk is filtered with the state updated in place -- no per-chunk argument checks or
    state copies (a wearable's 20-ms chunks make those the cost). The same kernel on the same
    numbers, so every chunk's output is bit-identical to ``sosfilt(sos, x, zi=state)``.

    Parameters
    ----------
    sos : (n_sections, 6) sections.
    zi : initial state (n_sections, 2); None = at rest.
    """

    def __init__(self, sos: np.ndarray, zi: np.ndarray | None = None) -> None:
        self.sos = np.array(_as_sos(sos), dtype=np.float64, order="C")  # own copy
        self._kernel = _KERNELS.sosfilt_inplace
        self.set_state(zi)

    def set_state(self, zi: np.ndarray | None) -> None:
        """Set the state (n_sections, 2; None = at rest)."""
        self._z = _as_zi(zi, self.sos.shape[0])  # a fresh C-contiguous (1, n, 2) copy

    @property
    def state(self) -> np.ndarray:
        """A copy of the current state, (n_sections, 2)."""
        return self._z[0].copy()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter the next chunk (1-D real); returns float64 of its length."""
        if not (type(x) is np.ndarray and x.ndim == 1 and x.dtype.kind == "f"):
            x = _as_signal(x)
        y = np.array(x, dtype=np.float64, order="C").reshape(1, -1)
        self._kernel(self.sos, y, self._z)
        return y.reshape(-1)

    def filter_inplace(self, y: np.ndarray) -> None:
        """Filter the next chunk where it lies: ``y`` is (1, n) C-contiguous float64, e.g. one
        row of a caller's work array. The numbers :meth:`__call__` would return, without its
        input checks and copy."""
        self._kernel(self.sos, y, self._z)


def upfirdn(h: np.ndarray, x: np.ndarray, up: int = 1, down: int = 1) -> np.ndarray:
    """Upsample the 1-D ``x`` by ``up``, FIR-filter with ``h``, downsample by ``down`` (zero
    extension). Bit-identical to ``scipy.signal.upfirdn(h, x, up, down)`` for float64."""
    return _KERNELS.upfirdn(h, x, up, down)


def sosfilt_zi(sos: np.ndarray) -> np.ndarray:
    """Initial state of :func:`sosfilt` for the steady state of a unit step, (n_sections, 2).
    The arithmetic of ``scipy.signal.sosfilt_zi`` (per section ``lfilter_zi``: a 2x2
    ``numpy.linalg.solve``), so bit-identical to it."""
    sos = np.asarray(sos)
    if sos.ndim != 2 or sos.shape[1] != 6:
        raise SignalError(f"sos must have shape (n_sections, 6), got {sos.shape}")
    if sos.dtype.kind in "biu":
        sos = sos.astype(np.float64)
    zi = np.empty((sos.shape[0], 2), dtype=sos.dtype)
    scale = 1.0
    for section in range(sos.shape[0]):
        b = sos[section, :3]
        a = sos[section, 3:]
        zi[section, ...] = scale * _lfilter_zi(b, a)
        scale *= np.sum(b) / np.sum(a)
    return zi


def _lfilter_zi(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """scipy.signal.lfilter_zi for 1-D ``b``, ``a`` (its arithmetic, step by step)."""
    b = np.atleast_1d(np.asarray(b))
    a = np.atleast_1d(np.asarray(a))
    while a.shape[0] > 1 and a[0] == 0.0:
        a = a[1:]
    if a.size < 1:
        raise SignalError("there must be at least one nonzero `a` coefficient")
    if a[0] != 1.0:
        b = b / a[0]
        a = a / a[0]
    n = max(a.shape[0], b.shape[0])
    if a.shape[0] < n:
        a = np.concatenate((a, np.zeros(n - a.shape[0], dtype=a.dtype)))
    elif b.shape[0] < n:
        b = np.concatenate((b, np.zeros(n - b.shape[0], dtype=b.dtype)))
    dt = np.result_type(a, b)
    first_row = -a[1:] / (1.0 * a[0:1])  # scipy.linalg.companion(a)
    companion = np.zeros((n - 1, n - 1), dtype=first_row.dtype)
    companion[0, :] = first_row
    companion[np.arange(1, n - 1), np.arange(0, n - 2)] = 1
    i_minus_a = np.asarray(np.eye(n - 1) - companion.T, dtype=dt)
    rhs = b[1:] - a[1:] * b[0]
    return np.linalg.solve(i_minus_a, rhs)
