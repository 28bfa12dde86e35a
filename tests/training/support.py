"""Helpers shared by the evaluation tests (metrics, report, evaluate)."""
from __future__ import annotations

import numpy as np


def check_ec57_next_to_plain(m: dict) -> None:
    """EC57 (bxb) VEB/SVEB statistics sit next to the plain ones: same Se, never more FPs."""
    for c in ("S", "V"):
        plain, g = m["per_class"][c], m["ec57"][c]
        assert (g["tp"], g["fn"]) == (plain["tp"], plain["fn"])
        assert g["se"] == plain["se"] or (np.isnan(g["se"]) and np.isnan(plain["se"]))
        assert g["fp"] <= plain["fp"]
        if g["tp"]:
            assert g["ppv"] >= plain["ppv"] and g["f1"] >= plain["f1"]
