"""ANSI/AAMI EC57 beat classes and the MIT-BIH symbols that map onto them: the one copy.

====  ===========================================  ==========================
class meaning                                      MIT-BIH beat symbols
====  ===========================================  ==========================
N     normal, bundle-branch block, escape beats    ``N L R e j``
S     supraventricular ectopic                     ``A a J S``
V     ventricular ectopic                          ``V E``
F     fusion of ventricular and normal             ``F``
Q     paced or unclassifiable                      ``/ f Q``
====  ===========================================  ==========================
"""
from __future__ import annotations

import numpy as np

__all__ = ["AAMI_CLASSES", "AAMI_MAP", "aami_class", "aami_classes"]

#: The classes, in the order of every model output and confusion matrix.
AAMI_CLASSES: tuple[str, ...] = ("N", "S", "V", "F", "Q")

#: MIT-BIH annotation symbol -> AAMI EC57 class. Other symbols are not beats.
AAMI_MAP: dict[str, str] = {
    **{s: "N" for s in ("N", "L", "R", "e", "j")},
    **{s: "S" for s in ("A", "a", "J", "S")},
    **{s: "V" for s in ("V", "E")},
    "F": "F",
    **{s: "Q" for s in ("/", "f", "Q")},
}


def aami_class(symbol: str) -> str | None:
    """AAMI class of an MIT-BIH beat symbol, or None for non-beat annotations."""
    return AAMI_MAP.get(symbol)


def aami_classes(symbols) -> np.ndarray:  # noqa: ANN001 - any sequence of str
    """AAMI class of each symbol as an object array (None where the symbol is not a beat)."""
    return np.array([AAMI_MAP.get(str(s)) for s in symbols], dtype=object)
