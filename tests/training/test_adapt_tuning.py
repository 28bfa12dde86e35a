"""training.adapt_tuning: the patient-specific protocol, the DS1 safety checks and the staged
grid search, on constructed wearers (no data, no model)."""
from __future__ import annotations

import numpy as np
import pytest

from edge.dsp.features import FEATURE_NAMES
from edge.errors import ConfigError
from edge.model.adapt import AdaptConfig
from training.adapt_tuning import (
    FIRST_PVC_VARIANTS,
    TuningGrid,
    grid_config,
    protocol,
    tune_ds1,
    unseen_morphology_v,
)


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


def test_first_pvcs_of_a_wearer_without_v_keep_the_base_call(rng):
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


def test_protocol_scores_only_after_the_adaptation_window(rng):
    outs = {"A": _record(rng, 600, np.array([4.0, 0, 0, 0, 0, 0]))}
    res = protocol(outs, AdaptConfig(adapt_s=300.0))
    assert res["n_scored"] == 300  # one beat per second: beats 300..599
    assert np.sum(res["base"]["confusion"]) == 300
    assert res["per_record"]["A"]["adapted"] == "NV"
    assert res["base"]["per_class"]["V"]["se"] == 1.0


def test_protocol_rhythm_context_reports_svt_runs_as_the_device_does(rng):
    """Beats 400..419 are a supraventricular run at 0.5 s (truth S) the model calls N: with
    the rhythm context both models' calls there are S after the run's first beat."""
    d = _record(rng, 600, np.array([4.0, 0, 0, 0, 0, 0]))
    d["y"][:] = "N"
    d["p"][:] = [0.9, 0.04, 0.04, 0.01, 0.01]
    rr_s = np.r_[np.ones(400), np.full(20, 0.5), np.ones(180)]  # beat i's pre interval
    d["s"] = np.round(np.cumsum(rr_s) * 360).astype(np.int64)
    d["y"][401:420] = "S"  # beat 400 starts the run and keeps the model's call
    plain = protocol({"A": d}, AdaptConfig(adapt_s=300.0))
    ctx = protocol({"A": d}, AdaptConfig(adapt_s=300.0), rhythm_context=True)
    assert plain["base"]["per_class"]["S"]["se"] == 0.0
    assert ctx["base"]["per_class"]["S"]["se"] == 1.0
    assert ctx["adapted"]["per_class"]["S"]["se"] == 1.0


def test_grid_config_sets_per_class_minimum_beats():
    cfg = grid_config({"weight_l2": 10.0, "min_beats_F": None, "min_beats_V": 5})
    assert cfg.weight_l2 == 10.0
    assert cfg.min_beats_for("F") is None
    assert cfg.min_beats_for("V") == AdaptConfig().min_beats == 5
    assert "V" not in cfg.class_min_beats  # equal to the global minimum: no override


def _wearer(rng, n=400, v_share=0.15):
    """N and V beats that no linear head separates (each class in two clusters at opposite
    ends of its own axis) and a base model calling 40 % of the N beats V: the templates' vote
    (nearest neighbours) is what fixes them."""
    u = rng.uniform(size=n)
    y = np.where(u < v_share, "V", np.where(u < v_share + 0.08, "S", "N")).astype(object)
    sign = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
    e = rng.standard_normal((n, 6)) * 0.4
    for axis, c in enumerate("NVS"):
        e[:, axis] += np.where(y == c, 3 * sign, 0)
    r = np.zeros((n, 14))
    r[:, FEATURE_NAMES.index("log_pre_over_local")] = np.where(y != "N", np.log(0.7), 0.0)
    p = rng.dirichlet(np.full(5, 0.5), size=n) * 0.4
    wrong = (y == "N") & (rng.uniform(size=n) < 0.4)
    p[np.arange(n), np.where(wrong, 2, np.select([y == "S", y == "V"], [1, 2], 0))] += 0.6
    return {"y": y, "s": np.arange(n) * 360, "p": p, "e": e, "f": rng.standard_normal((n, 14)),
            "r": r}


def test_tune_ds1_runs_every_stage_on_a_tiny_case(rng):
    outs = {"a": _wearer(rng), "b": _wearer(rng), "c": _wearer(rng, v_share=0.004),
            "d": _wearer(rng)}
    noisy = {"em 6 dB": {k: dict(v, e=v["e"] + rng.standard_normal(v["e"].shape) * 0.8)
                         for k, v in outs.items()}}
    grid = TuningGrid(head={"weight_l2": (1.0, 10.0), "min_beats_V": (5,),
                            "max_fallback_gain": (None, 0.0)},
                      exact_fallback=((), ("V",)),
                      template={"template_k": (5,), "template_weight": (8.0,),
                                "template_floor": (0.5,), "template_classes": (("N", "V"),)},
                      novelty=(1.0,), ectopic=(None, 0.1), noise_conditions=())
    res = tune_ds1(outs, folds=[["a", "b"], ["c", "d"]], noisy=noisy, grid=grid)
    assert len(res["grid"]) == 4 and len(res["exact_fallback_grid"]) == 2
    assert len(res["template_grid"]) == 2  # off, then the one template configuration
    tb = res["template_best"]
    assert tb["template_k"] == 5  # the vote fixes what the linear head cannot
    assert tb["criterion"] > res["template_grid"][0]["criterion"]
    assert [r["template_novelty"] for r in res["novelty_grid"]] == [1.0]
    assert [r["novel_ectopic_log"] for r in res["ectopic_grid"]] == [None, 0.1, "no guard"]
    assert list(res["ectopic_grid"][0]["noisy_V_f1"]) == ["em 6 dB"]
    assert [r["template_vote_unadapted"] for r in res["unadapted_vote_grid"]] == [False, True]
    assert {"template_novelty", "novel_ectopic_log", "template_vote_unadapted"} <= set(tb)
    assert res["best"]["max_fallback_gain"] == 0.0 or \
        res["best"]["criterion"] > max(r["criterion"] for r in res["grid"]
                                       if r["max_fallback_gain"] == 0.0)
    assert res["unseen_morphology_v"]["first_pvcs"]["n_beats"] > 0  # "c" has too few V


@pytest.mark.parametrize("kwargs, match", [
    ({"head": {"weight_l3": (1.0,)}}, r"head\.weight_l3: is not an AdaptConfig field"),
    ({"head": {"min_beats_X": (5,)}}, r"head\.min_beats_X"),
    ({"template": {"template_k": ()}}, r"template\.template_k: needs at least one value"),
    ({"novelty": ()}, "novelty: needs at least one value"),
    ({"ectopic_tolerance": -0.1}, "ectopic_tolerance: must be a finite number >= 0"),
    ({"tie_preference": {"bias_l2": 0.0}, "head": {"weight_l2": (1.0,)}},
     r"tie_preference\.bias_l2"),
])
def test_tuning_grid_names_the_bad_field(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TuningGrid(**kwargs)


def test_running_the_module_says_it_has_no_command_line():
    """Session 44 script audit: `python -m training.adapt_tuning` printed nothing and exited 0."""
    import subprocess
    import sys
    from pathlib import Path

    p = subprocess.run([sys.executable, "-m", "training.adapt_tuning"], capture_output=True,
                       text=True, cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith("python -m training.adapt_tuning: a library module with no "
                               "command line")
