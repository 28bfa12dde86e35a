"""benchmarks/bench_adapt.py: the unseen-morphology safety check on a constructed fold."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_adapt import unseen_morphology_v  # noqa: E402

from edge.adapt import AdaptConfig  # noqa: E402


def _record(rng, n, v_centre):
    """A record at 360 Hz, one beat per second: N beats near 0, V beats near ``v_centre``."""
    y = np.where(rng.uniform(size=n) < 0.15, "V", "N").astype(object)
    e = rng.standard_normal((n, 6)) * 0.5 + np.outer(y == "V", v_centre)
    f = rng.standard_normal((n, 14))
    p = np.where((y == "V")[:, None], [0.05, 0.01, 0.92, 0.01, 0.01],
                 [0.9, 0.04, 0.04, 0.01, 0.01])
    return {"y": y, "s": np.arange(n) * 360, "p": p, "e": e, "f": f}


def test_unseen_morphology_check_counts_foreign_pvcs(rng):
    wearer = _record(rng, 600, np.array([4.0, 0, 0, 0, 0, 0]))
    other = _record(rng, 600, np.array([0, 0, 0, 0, 0, 12.0]))  # a morphology never seen
    res = unseen_morphology_v({"A": wearer, "B": other}, AdaptConfig(), [["A", "B"]],
                              per_record=50)
    shares = res["called_v"]
    assert res["n_beats"] == 100  # both adapt V: 50 of B's PVCs on A's head and vice versa
    assert shares["base model"] == 1.0
    assert shares["shipped configuration"] > 0.9  # the novelty guard keeps them V
    assert shares["templates, no novelty guard"] < 0.5  # the plain vote vetoes them
