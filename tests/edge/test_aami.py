"""edge.aami: the one AAMI EC57 class map."""
from __future__ import annotations

from edge.aami import AAMI_CLASSES, AAMI_MAP, aami_class, aami_classes


def test_aami_map_covers_the_mitbih_beat_symbols():
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in expected.items():
        for s in symbols:
            assert AAMI_MAP[s] == cls
    assert set(AAMI_MAP.values()) == {"N", "S", "V", "F", "Q"}
    for non_beat in ("+", "~", "|", "[", "]", "!", "x", '"'):
        assert aami_class(non_beat) is None


def test_class_helpers():
    assert AAMI_CLASSES == ("N", "S", "V", "F", "Q")
    assert aami_class("L") == "N" and aami_class("+") is None
    assert list(aami_classes(["V", "~", "a"])) == ["V", None, "S"]
