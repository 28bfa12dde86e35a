"""benchmarks/bench_adapt.py: the unseen-morphology safety check on a constructed fold, and the
Noise Stress Test protocol used to judge the novelty guard's timing condition."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from bench_adapt import nst_noise, unseen_morphology_v  # noqa: E402

from edge.dsp.features import FEATURE_NAMES  # noqa: E402
from edge.model.adapt import AdaptConfig  # noqa: E402


def _record(rng, n, v_centre):
    """A record at 360 Hz, one beat per second: N beats near 0, V beats near ``v_centre``."""
    y = np.where(rng.uniform(size=n) < 0.15, "V", "N").astype(object)
    e = rng.standard_normal((n, 6)) * 0.5 + np.outer(y == "V", v_centre)
    f = rng.standard_normal((n, 14))
    r = np.zeros((n, 14))  # raw features: V beats come 30 % early
    r[:, FEATURE_NAMES.index("log_pre_over_local")] = np.where(y == "V", np.log(0.7), 0.0)
    p = np.where((y == "V")[:, None], [0.05, 0.01, 0.92, 0.01, 0.01],
                 [0.9, 0.04, 0.04, 0.01, 0.01])
    return {"y": y, "s": np.arange(n) * 360, "p": p, "e": e, "f": f, "r": r}


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
    assert shares["guard sparing every new beat (no timing condition)"] > 0.9


def test_unseen_morphology_on_time_is_voted_on(rng):
    """The same foreign beats arriving on time (a deformed normal beat, as far as timing
    tells) are not spared by the guard's timing condition."""
    wearer = _record(rng, 600, np.array([4.0, 0, 0, 0, 0, 0]))
    other = _record(rng, 600, np.array([0, 0, 0, 0, 0, 12.0]))
    other["r"][:] = 0.0
    shares = unseen_morphology_v({"A": wearer, "B": other}, AdaptConfig(), [["A", "B"]],
                                 per_record=50)["called_v"]
    assert 0.4 < shares["shipped configuration"] < 0.6  # B's beats on A's head: vetoed
    assert shares["guard sparing every new beat (no timing condition)"] > 0.9


def test_nst_noise_follows_the_protocol(rng):
    fs = 360.0
    n = int(15 * 60 * fs)
    beats = np.arange(200, n - 200, 300)
    x = np.zeros(n)
    x[beats] = 1.0  # 1 mV spikes: QRS peak-to-peak 1 mV
    noise = rng.standard_normal(100_000)
    for snr in (0.0, 6.0):
        y = nst_noise(x, beats, noise, snr, offset=123)
        d = y - x
        minute = d.reshape(-1, int(60 * fs))
        noisy = np.array([m.std() > 0 for m in minute])
        # minutes 0-4 clean, then 2 noisy / 2 clean
        assert noisy.tolist() == [False] * 5 + [True, True, False, False] * 2 + [True, True]
        s_over_n = (1.0 ** 2 / 8) / d[noisy.repeat(int(60 * fs))].var()
        assert 10 * np.log10(s_over_n) == pytest.approx(snr, abs=0.3)


def test_first_pvcs_of_a_wearer_without_v_keep_the_base_call(rng):
    from bench_adapt import FIRST_PVC_VARIANTS

    wearer = _record(rng, 600, np.array([4.0, 0, 0, 0, 0, 0]))
    wearer["y"][:] = "N"  # a window (and record) without PVCs
    wearer["p"][:] = [0.9, 0.04, 0.04, 0.01, 0.01]
    other = _record(rng, 600, np.array([0, 0, 0, 0, 0, 12.0]))
    other["p"][other["y"] == "V"] = [0.45, 0.01, 0.52, 0.01, 0.01]  # a close call
    res = unseen_morphology_v({"A": wearer, "B": other}, AdaptConfig(), [["A", "B"]],
                              per_record=50, first_pvcs=True, variants=FIRST_PVC_VARIANTS)
    shares = res["called_v"]
    assert res["n_beats"] == 50  # only A lacks V: B's PVCs on A's head
    assert shares["base model"] == 1.0 and shares["shipped configuration"] == 1.0
    assert shares["without the exact V fallback"] < 1.0  # an N-only head lowers V
