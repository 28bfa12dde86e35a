"""Filter designs of the device path in numpy: ``butter``, ``iirnotch``, ``tf2sos``, ``firwin``.

The same arithmetic as scipy 1.17's :mod:`scipy.signal` (``iirfilter`` -> ``buttap`` ->
``lp2lp_zpk``/``lp2hp_zpk``/``lp2bp_zpk`` -> ``bilinear_zpk`` -> ``zpk2sos`` with "nearest"
pairing; ``iirnotch``; ``tf2zpk``; ``firwin`` with a Kaiser window), operation by operation on
the same numpy calls, so the coefficients are bit-identical to scipy's -- the tests compare them
over the parameter ranges the configurations allow -- without importing ``scipy.signal``.
The Kaiser window's Bessel function ``I0`` is Cephes' Chebyshev expansion evaluated in Python
floats with :func:`math.exp`, which reproduces ``scipy.special.i0`` bit for bit (numpy's
vectorised ``np.i0`` differs in the last bit for ~4 % of arguments).

Only what the device uses is supported: Butterworth low/high/band-pass as ``"sos"`` or
``"zpk"``, a single-cut-off low-pass ``firwin`` with a Kaiser window. Anything else raises
:class:`~edge.errors.ConfigError`.
"""
from __future__ import annotations

import math

import numpy as np

from edge.errors import ConfigError

__all__ = ["butter", "iirnotch", "tf2sos", "zpk2sos", "firwin", "kaiser", "i0"]

_BTYPES = {"low": "lowpass", "lowpass": "lowpass", "high": "highpass", "highpass": "highpass",
           "band": "bandpass", "bandpass": "bandpass", "pass": "bandpass", "bp": "bandpass",
           "lp": "lowpass", "hp": "highpass", "l": "lowpass", "h": "highpass"}


def _validate_fs(fs) -> float | None:
    if fs is None:
        return None
    if not np.isscalar(fs):
        raise ConfigError("fs", "must be a single scalar")
    return float(fs)


# ---------------------------------------------------------------- Butterworth
def butter(N: int, Wn, btype: str = "low", *, fs: float | None = None, output: str = "sos"):
    """Digital Butterworth filter of order ``N``; ``Wn`` in Hz when ``fs`` is given, else as a
    fraction of Nyquist. ``output="sos"`` (n_sections, 6) or ``"zpk"``.
    As ``scipy.signal.butter``."""
    Wn = np.asarray(Wn, dtype=np.float64)
    fs = _validate_fs(fs)
    if fs is not None:
        Wn = Wn / (fs / 2)
    if np.any(Wn <= 0):
        raise ConfigError("Wn", "filter critical frequencies must be greater than 0")
    if Wn.size > 1 and not Wn[0] < Wn[1]:
        raise ConfigError("Wn", "Wn[0] must be less than Wn[1]")
    kind = _BTYPES.get(str(btype).lower())
    if kind is None:
        raise ConfigError("btype", f"must be a low-, high- or band-pass name, got {btype!r}")
    if output not in ("sos", "zpk"):
        raise ConfigError("output", f"must be 'sos' or 'zpk', got {output!r}")
    if abs(int(N)) != N:
        raise ConfigError("N", f"filter order must be a nonnegative integer, got {N}")
    z, p, k = _buttap(N)
    if np.any(Wn <= 0) or np.any(Wn >= 1):
        where = f"fs/2 = {fs / 2}" if fs is not None else "1"
        raise ConfigError("Wn", f"digital filter critical frequencies must lie in (0, {where})")
    fs_bl = 2.0
    warped = 2 * fs_bl * np.tan(np.pi * Wn / fs_bl)
    if kind in ("lowpass", "highpass"):
        if Wn.size != 1:
            raise ConfigError("Wn", "a low- or high-pass filter takes a single critical frequency")
        if kind == "lowpass":
            z, p, k = _lp2lp_zpk(z, p, k, wo=warped)
        else:
            z, p, k = _lp2hp_zpk(z, p, k, wo=warped)
    else:
        if Wn.size != 2:
            raise ConfigError("Wn", "a band-pass filter takes [low, high]")
        bw = warped[1] - warped[0]
        wo = np.sqrt(warped[0] * warped[1])
        z, p, k = _lp2bp_zpk(z, p, k, wo=wo, bw=bw)
    z, p, k = _bilinear_zpk(z, p, k, fs=fs_bl)
    if output == "zpk":
        return z, p, k
    return zpk2sos(z, p, k)


def _buttap(N: int):
    z = np.asarray([], dtype=np.float64)
    m = np.arange(-N + 1, N, 2, dtype=np.float64)
    p = -np.exp(1j * np.pi * m / (2 * N))  # middle value 0: an exactly real pole
    return z, p, 1.0


def _relative_degree(z: np.ndarray, p: np.ndarray) -> int:
    degree = p.shape[0] - z.shape[0]
    if degree < 0:
        raise ConfigError("zpk", "improper transfer function: fewer poles than zeros")
    return degree


def _lp2lp_zpk(z, p, k, wo):
    z, p = np.atleast_1d(np.asarray(z)), np.atleast_1d(np.asarray(p))
    wo = float(wo)
    degree = _relative_degree(z, p)
    return wo * z, wo * p, k * wo ** degree


def _lp2hp_zpk(z, p, k, wo):
    z, p = np.atleast_1d(np.asarray(z)), np.atleast_1d(np.asarray(p))
    wo = float(wo)
    degree = _relative_degree(z, p)
    z_hp = wo / z
    p_hp = wo / p
    z_hp = np.concatenate((z_hp, np.zeros(degree)))
    k_hp = k * np.real(np.prod(-z) / np.prod(-p))
    return z_hp, p_hp, k_hp


def _lp2bp_zpk(z, p, k, wo, bw):
    z, p = np.asarray(z), np.asarray(p)
    dt = np.result_type(z.dtype, p.dtype, np.float64)  # xp_promote(z, p, force_floating=True)
    z, p = np.atleast_1d(z.astype(dt)), np.atleast_1d(p.astype(dt))
    wo = float(wo)
    bw = float(bw)
    degree = _relative_degree(z, p)
    z_lp = z * bw / 2
    p_lp = p * bw / 2
    z_lp = z_lp.astype(np.complex128)
    p_lp = p_lp.astype(np.complex128)
    z_bp = np.concatenate((z_lp + np.sqrt(z_lp**2 - wo**2), z_lp - np.sqrt(z_lp**2 - wo**2)))
    p_bp = np.concatenate((p_lp + np.sqrt(p_lp**2 - wo**2), p_lp - np.sqrt(p_lp**2 - wo**2)))
    z_bp = np.concatenate((z_bp, np.zeros(degree)))
    return z_bp, p_bp, k * bw ** degree


def _bilinear_zpk(z, p, k, fs):
    z, p = np.atleast_1d(np.asarray(z)), np.atleast_1d(np.asarray(p))
    fs = float(fs)
    degree = _relative_degree(z, p)
    fs2 = 2.0 * fs
    z_z = (fs2 + z) / (fs2 - z)
    p_z = (fs2 + p) / (fs2 - p)
    z_z = np.concatenate((z_z, -np.ones(degree)))
    k_z = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    return z_z, p_z, k_z


# ---------------------------------------------------------------- zpk -> sos ("nearest")
def zpk2sos(z, p, k) -> np.ndarray:
    """Second-order sections of a digital zeros/poles/gain system, scipy's "nearest" pairing
    (the sections closest to the unit circle last, the gain in the first)."""
    z, p = np.asarray(z), np.asarray(p)
    k = np.asarray(k)
    if len(z) == len(p) == 0:
        return np.asarray([[k, 0.0, 0.0, 1.0, 0.0, 0.0]])
    p = np.concatenate((p, np.zeros(max(len(z) - len(p), 0))))
    z = np.concatenate((z, np.zeros(max(len(p) - len(z), 0))))
    n_sections = (max(len(p), len(z)) + 1) // 2
    if len(p) % 2 == 1:
        p = np.concatenate((p, [0.0]))
        z = np.concatenate((z, [0.0]))
    z = np.concatenate(_cplxreal(z))
    p = np.concatenate(_cplxreal(p))
    if not np.isreal(k):
        raise ConfigError("k", "gain must be real")
    k = k.real

    def idx_worst(q):  # digital: the closest to the unit circle
        return np.argmin(np.abs(1 - np.abs(q)))

    sos = np.zeros((n_sections, 6))
    for si in range(n_sections - 1, -1, -1):
        p1_idx = idx_worst(p)
        p1 = p[p1_idx]
        p = np.delete(p, p1_idx)
        if np.isreal(p1) and np.isreal(p).sum() == 0:
            z1_idx = _nearest_real_complex_idx(z, p1, "real")
            z1 = z[z1_idx]
            z = np.delete(z, z1_idx)
            sos[si] = _single_zpksos([z1, 0], [p1, 0], 1)
        elif (len(p) + 1 == len(z) and not np.isreal(p1)
              and np.isreal(p).sum() == 1 and np.isreal(z).sum() == 1):
            z1_idx = _nearest_real_complex_idx(z, p1, "complex")
            z1 = z[z1_idx]
            z = np.delete(z, z1_idx)
            sos[si] = _single_zpksos([z1, z1.conj()], [p1, p1.conj()], 1)
        else:
            if np.isreal(p1):
                prealidx = np.flatnonzero(np.isreal(p))
                p2_idx = prealidx[idx_worst(p[prealidx])]
                p2 = p[p2_idx]
                p = np.delete(p, p2_idx)
            else:
                p2 = p1.conj()
            if len(z) > 0:
                z1_idx = _nearest_real_complex_idx(z, p1, "any")
                z1 = z[z1_idx]
                z = np.delete(z, z1_idx)
                if not np.isreal(z1):
                    sos[si] = _single_zpksos([z1, z1.conj()], [p1, p2], 1)
                elif len(z) > 0:
                    z2_idx = _nearest_real_complex_idx(z, p1, "real")
                    z2 = z[z2_idx]
                    z = np.delete(z, z2_idx)
                    sos[si] = _single_zpksos([z1, z2], [p1, p2], 1)
                else:
                    sos[si] = _single_zpksos([z1], [p1, p2], 1)
            else:
                sos[si] = _single_zpksos([], [p1, p2], 1)
    if len(p) or len(z):  # pragma: no cover - every pole and zero is paired above
        raise ConfigError("zpk", "internal error: unpaired poles or zeros")
    sos[0][:3] *= k
    return sos


def _cplxreal(z):
    z = np.atleast_1d(z)
    if z.size == 0:
        return z, z
    tol = 100 * np.finfo((1.0 * z).dtype).eps
    z = z[np.lexsort((abs(z.imag), z.real))]
    real_indices = abs(z.imag) <= tol * abs(z)
    zr = z[real_indices].real
    if len(zr) == len(z):
        return np.array([]), zr
    z = z[~real_indices]
    zp = z[z.imag > 0]
    zn = z[z.imag < 0]
    if len(zp) != len(zn):
        raise ConfigError("zpk", "a complex value has no matching conjugate")
    same_real = np.diff(zp.real) <= tol * abs(zp[:-1])
    diffs = np.diff(np.concatenate(([0], same_real, [0])))
    run_starts = np.nonzero(diffs > 0)[0]
    run_stops = np.nonzero(diffs < 0)[0]
    for i in range(len(run_starts)):
        start = run_starts[i]
        stop = run_stops[i] + 1
        for chunk in (zp[start:stop], zn[start:stop]):
            chunk[...] = chunk[np.lexsort([abs(chunk.imag)])]
    if any(abs(zp - zn.conj()) > tol * abs(zn)):
        raise ConfigError("zpk", "a complex value has no matching conjugate")
    zc = (zp + zn.conj()) / 2
    return zc, zr


def _nearest_real_complex_idx(fro, to, which):
    order = np.argsort(np.abs(fro - to))
    if which == "any":
        return order[0]
    mask = np.isreal(fro[order])
    if which == "complex":
        mask = ~mask
    return order[np.nonzero(mask)[0][0]]


def _single_zpksos(z, p, k):
    sos = np.zeros(6)
    b, a = _zpk2tf(z, p, k)
    sos[3 - len(b):3] = b
    sos[6 - len(a):6] = a
    return sos


def _poly(seq_of_zeros) -> np.ndarray:
    """scipy.signal._polyutils.poly (1-D numpy.poly with scipy's realness test)."""
    seq_of_zeros = np.atleast_1d(np.asarray(seq_of_zeros))
    if seq_of_zeros.shape[0] == 0:
        return np.asarray(1.0, dtype=np.real(seq_of_zeros).dtype)
    a = np.ones((1,), dtype=seq_of_zeros.dtype)
    one = np.ones_like(seq_of_zeros[0])
    for zero in seq_of_zeros:
        a = np.convolve(a, np.stack((one, -zero)), mode="full")
    if np.iscomplexobj(a):
        roots = np.asarray(seq_of_zeros, dtype=np.complex128)
        if np.all(np.sort(np.imag(roots)) == np.sort(np.imag(np.conj(roots)))):
            a = np.asarray(np.real(a)).copy()
    return a


def _zpk2tf(z, p, k):
    z, p = np.asarray(z), np.asarray(p)
    k = np.asarray(k, dtype=np.result_type(np.real(z), np.real(p), k))
    if k.dtype.kind in "biu":
        k = k.astype(np.float64)
    z = np.atleast_1d(z)
    k = np.atleast_1d(k)
    b = np.multiply(k, _poly(z))
    a = np.atleast_1d(np.asarray(_poly(p)))
    return b, a


# ---------------------------------------------------------------- notch, tf -> sos
def iirnotch(w0: float, Q: float, fs: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Second-order IIR notch at ``w0`` (Hz when ``fs`` is given) with quality factor ``Q``;
    returns ``(b, a)``. As ``scipy.signal.iirnotch``."""
    fs = _validate_fs(fs)
    if fs is None:
        raise ConfigError("fs", "sampling frequency can not be None")
    w0 = float(w0)
    Q = float(Q)
    w0 = 2 * w0 / fs
    if w0 > 1.0 or w0 < 0.0:
        raise ConfigError("w0", "must lie in (0, fs/2)")
    bw = w0 / Q
    bw = bw * np.pi
    w0 = w0 * np.pi
    beta = math.tan(bw / 2.0)
    gain = 1.0 / (1.0 + beta)
    b = gain * np.asarray([1.0, -2.0 * math.cos(w0), 1.0])
    a = np.asarray([1.0, -2.0 * gain * math.cos(w0), (2.0 * gain - 1.0)])
    return b, a


def tf2sos(b, a) -> np.ndarray:
    """Second-order sections of the digital transfer function ``b/a`` (1-D), "nearest" pairing."""
    return zpk2sos(*_tf2zpk(b, a))


def _tf2zpk(b, a):
    den = np.atleast_1d(np.asarray(a))
    num = np.atleast_1d(np.asarray(b))
    if den.ndim != 1 or num.ndim != 1:
        raise ConfigError("b", "numerator and denominator must be 1-D")
    if np.all(den == 0):
        raise ConfigError("a", "denominator must have at least one nonzero element")
    first = 0
    for v in den:  # trim leading zeros of the denominator
        if v != 0.0:
            break
        first += 1
    den = den[first:]
    num, den = num / den[0], den / den[0]
    leading_zeros = 0
    for v in num:
        if abs(v) <= 1e-14:
            leading_zeros += 1
        else:
            break
    if leading_zeros > 0:
        if leading_zeros == num.shape[0]:
            leading_zeros -= 1
        num = num[leading_zeros:]
    dt = np.result_type(den, num, np.float64)
    a, b = den.astype(dt), num.astype(dt)
    k = b[0]
    b = b / b[0]
    z = np.roots(b) if b.shape[0] >= 2 else np.asarray([], dtype=b.dtype)
    p = np.roots(a) if a.shape[0] >= 2 else np.asarray([], dtype=a.dtype)
    return z, p, k


# ---------------------------------------------------------------- FIR (window method)
_I0_A = (
    -4.41534164647933937950e-18, 3.33079451882223809783e-17, -2.43127984654795469359e-16,
    1.71539128555513303061e-15, -1.16853328779934516808e-14, 7.67618549860493561688e-14,
    -4.85644678311192946090e-13, 2.95505266312963983461e-12, -1.72682629144155570723e-11,
    9.67580903537323691224e-11, -5.18979560163526290666e-10, 2.65982372468238665035e-9,
    -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7,
    1.11738753912010371815e-6, -4.41673835845875056359e-6, 1.64484480707288970893e-5,
    -5.75419501008210370398e-5, 1.88502885095841655729e-4, -5.76375574538582365885e-4,
    1.63947561694133579842e-3, -4.32430999505057594430e-3, 1.05464603945949983183e-2,
    -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.49010970480476444210e-2,
    1.71620901522208775349e-1, -3.04682672343198398683e-1, 6.76795274409476084995e-1,
)
_I0_B = (
    -7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17,
    3.46122286769746109310e-17, -2.82762398051658348494e-16, -3.42548561967721913462e-16,
    1.77256013305652638360e-15, 3.81168066935262242075e-15, -9.55484669882830764870e-15,
    -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
    7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11,
    -3.14991652796324136454e-11, 1.18891471078464383424e-11, 4.94060238822496958910e-10,
    3.39623202570838634515e-9, 2.26666899049817806459e-8, 2.04891858946906374183e-7,
    2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.36911647825569408990e-3,
    8.04490411014108831608e-1,
)


def _chbevl(x: float, coefs: tuple[float, ...]) -> float:
    b0 = coefs[0]
    b1 = 0.0
    b2 = 0.0
    for c in coefs[1:]:
        b2 = b1
        b1 = b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


def i0(x: float) -> float:
    """Modified Bessel function of the first kind, order 0 (Cephes), as ``scipy.special.i0``."""
    x = abs(float(x))
    if x <= 8.0:
        return math.exp(x) * _chbevl(x / 2.0 - 2.0, _I0_A)
    return math.exp(x) * _chbevl(32.0 / x - 2.0, _I0_B) / math.sqrt(x)


def kaiser(M: int, beta: float) -> np.ndarray:
    """Symmetric Kaiser window of ``M`` points, as ``scipy.signal.windows.kaiser(M, beta)``."""
    if int(M) != M or M < 0:
        raise ConfigError("M", f"window length must be a non-negative integer, got {M}")
    if M <= 1:
        return np.ones(M, dtype=np.float64)
    n = np.arange(0, M, dtype=np.float64)
    alpha = (M - 1) / 2.0
    arg = beta * np.sqrt(1 - ((n - alpha) / alpha) ** 2.0)
    num = np.array([i0(v) for v in arg.tolist()], dtype=np.float64).reshape(arg.shape)
    return num / np.float64(i0(beta))


def _sinc(x: np.ndarray) -> np.ndarray:
    y = np.pi * np.where(x.astype(bool), x, np.asarray(np.finfo(x.dtype).eps, dtype=x.dtype))
    return np.sin(y) / y


def firwin(numtaps: int, cutoff: float, *, window=("kaiser", 5.0),
           fs: float | None = None) -> np.ndarray:
    """Linear-phase low-pass FIR of ``numtaps`` taps, cut-off ``cutoff`` (Hz when ``fs`` is
    given, else a fraction of Nyquist), Kaiser window ``("kaiser", beta)``, unit DC gain.
    As ``scipy.signal.firwin(numtaps, cutoff, window=window, fs=fs)``."""
    fs = _validate_fs(fs)
    fs = 2 if fs is None else fs
    nyq = 0.5 * fs
    if isinstance(window, tuple) and len(window) == 2 and window[0] == "kaiser":
        beta = float(window[1])
    elif not isinstance(window, (str, tuple)):
        beta = float(window)
    else:
        raise ConfigError("window", f"only ('kaiser', beta) is supported, got {window!r}")
    cutoff = np.atleast_1d(np.asarray(cutoff, dtype=np.float64)) / float(nyq)
    if cutoff.ndim > 1 or cutoff.size != 1:
        raise ConfigError("cutoff", "a single low-pass cut-off frequency is supported")
    if np.min(cutoff) <= 0 or np.max(cutoff) >= 1:
        raise ConfigError("cutoff", "must be greater than 0 and less than fs/2")
    if not (int(numtaps) == numtaps and numtaps >= 1):
        raise ConfigError("numtaps", f"must be a positive integer, got {numtaps}")
    cutoff = np.concatenate((np.zeros(1), cutoff, np.ones(0)))
    bands = np.reshape(cutoff, (-1, 2))
    alpha = 0.5 * (numtaps - 1)
    m = np.arange(0, numtaps, dtype=cutoff.dtype) - alpha
    h = 0
    for j in range(bands.shape[0]):
        left, right = bands[j, 0], bands[j, 1]
        h += right * _sinc(right * m)
        h -= left * _sinc(left * m)
    win = kaiser(numtaps, beta)
    h *= win
    left, right = bands[0, ...]
    scale_frequency = 0.0  # left == 0: the first pass band starts at DC
    c = np.cos(np.pi * m * scale_frequency)
    s = np.sum(h * c)
    h /= s
    return h
