"""The part of :mod:`scipy.signal` the device path uses, without importing ``scipy.signal``.

One namespace so a stage reads as before (``from edge.dsp import scisig as signal``):
designs from :mod:`edge.dsp.designs` (numpy, scipy's arithmetic), kernels from
:mod:`edge.dsp.kernels` (scipy's compiled loops loaded by file). Every result is bit-identical
to the :mod:`scipy.signal` function of the same name for the arguments the device uses.
"""
from __future__ import annotations

from edge.dsp.designs import butter, firwin, iirnotch, tf2sos
from edge.dsp.kernels import sosfilt, sosfilt_zi, upfirdn

__all__ = ["butter", "firwin", "iirnotch", "tf2sos", "sosfilt", "sosfilt_zi", "upfirdn"]
