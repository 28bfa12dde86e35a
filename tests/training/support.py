"""Helpers shared by the training tests (evaluation: metrics, report, evaluate; the strip
network's toy strips, also used by tests/convert)."""
from __future__ import annotations

import numpy as np

from edge.rhythm.strip import STRIP_CLASSES
from edge.rhythm.strip_net import NET_LENGTH


def check_ec57_next_to_plain(m: dict) -> None:
    """EC57 (bxb) VEB/SVEB statistics sit next to the plain ones: same Se, never more FPs."""
    for c in ("S", "V"):
        plain, g = m["per_class"][c], m["ec57"][c]
        assert (g["tp"], g["fn"]) == (plain["tp"], plain["fn"])
        assert g["se"] == plain["se"] or (np.isnan(g["se"]) and np.isnan(plain["se"]))
        assert g["fp"] <= plain["fp"]
        if g["tp"]:
            assert g["ppv"] >= plain["ppv"] and g["f1"] >= plain["f1"]


#: A strip-network architecture small enough to train in seconds.
TINY_STRIP_NET = ((4, 7), (4, 5), (6, 5), (6, 3), (8, 3), (8, 3), (8, 3))


def toy_strips(n: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """Class N: regular spikes; class A: irregular spikes on a 6-Hz wobble (f-wave-like)."""
    sigs, y = [], []
    for i in range(n):
        a = i % 2 == 1
        length = int(rng.integers(NET_LENGTH - 400, NET_LENGTH + 900))
        z = np.zeros(length, np.float32)
        t = 0.0
        while t < length - 1:
            z[int(t)] = 1.0
            t += 72 * (rng.uniform(0.5, 1.5) if a else 1.0)
        if a:
            z += 0.15 * np.sin(2 * np.pi * 6.0 * np.arange(length) / 90.0).astype(np.float32)
        sigs.append(z)
        y.append(STRIP_CLASSES.index("A" if a else "N"))
    return sigs, np.array(y)
