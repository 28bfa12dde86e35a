"""benchmarks/bench_ventricular.py: the stored result re-renders to the stored markdown, it
was made with the shipped alarm rule and the VF network, and a network CV directory that was
not made is refused with the commands that make it (before anything is trained)."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_ventricular  # noqa: E402

from edge.rhythm.ventricular import VentricularConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def test_stored_result_re_renders_to_the_stored_markdown():
    res = json.loads((RESULTS / "ventricular.json").read_text())
    assert bench_ventricular.markdown(res) == (RESULTS / "ventricular.md").read_text()


def test_stored_result_is_the_shipped_rule_with_the_network_and_a_before_row():
    res = json.loads((RESULTS / "ventricular.json").read_text())
    cfg = VentricularConfig()
    assert res["config"]["vf_net"] is True
    for k in ("p_shockable", "onset_k", "onset_n", "offset_windows"):
        assert res["config"][k] == getattr(cfg, k)
    assert {"cudb", "mitdb_vf", "mitdb_false_vf"} <= set(res["trees_alone"])
    rule = bench_ventricular.TREES_RULE
    assert rule != {k: getattr(cfg, k) for k in rule}  # "before" is the old rule


def test_a_missing_network_cv_names_the_commands(tmp_path):
    from edge.errors import ModelError

    with pytest.raises(ModelError) as exc:
        bench_ventricular.fold_nets(tmp_path)
    msg = str(exc.value)
    assert "training.vf_net --cv" in msg and "convert/vf_net.py --cv" in msg


def test_a_missing_network_cv_is_one_line_before_any_fitting(tmp_path, monkeypatch, capsys):
    """Session 44 script audit: --net-cv was checked only after the fold models were fitted
    (a minute of work)."""
    def fitting():
        raise AssertionError("fold models fitted before --net-cv was checked")

    monkeypatch.setattr(bench_ventricular, "fold_models", fitting)
    assert bench_ventricular.main(["--net-cv", str(tmp_path / "nonexist"),
                                   "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--net-cv" in err and "convert/vf_net.py --cv" in err


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(bench_ventricular, "fold_models", interrupted)
    assert bench_ventricular.main(["--no-net", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert err.startswith("bench_ventricular: interrupted") and "Traceback" not in err


def test_no_net_and_net_cv_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        bench_ventricular.main(["--no-net", "--net-cv", "x"])
    assert exc.value.code == 2


def test_an_alarm_inside_annotated_vt_is_true_in_the_secondary_row(monkeypatch):
    """``with_vt_references``: a ``vfib`` episode inside a record's own ``(VT`` run counts as
    true (VF and VT references together); the headline's VF-only score calls it false. The
    row renders only when the result has it (older results re-render unchanged)."""
    from training.ventricular import Episodes

    fs = 250.0
    ep = Episodes(shockable=[(1000, 2000)], vt=[(5000, 6000)], n_samples=10000, fs_hz=fs)
    alerts = [{"kind": "vfib", "state": s, "sample_index": i, "detail": d}
              for s, i, d in (("onset", 5400, {"onset_index": 5100}),
                              ("end", 5600, {"end_index": 5500}))]
    monkeypatch.setattr(bench_ventricular, "episodes", lambda r: ep)
    monkeypatch.setattr(bench_ventricular, "daemon_alerts", lambda r, m, net_path=None: {
        "alerts": alerts, "n_samples": ep.n_samples, "fs_hz": fs})
    both = bench_ventricular.with_vt_references(["x"], {"x": "m"}, None)
    assert (both["episodes"], both["alarm_episodes"], both["episode_pp"],
            both["episode_se"]) == (2, 1, 1.0, 0.5)
    vf_only = bench_ventricular.score_episodes(
        ep.shockable, bench_ventricular.episodes_of(alerts, ("vfib",), ep.n_samples), fs)
    assert (vf_only["det"], vf_only["det_true"]) == (1, 0)
    res = json.loads((RESULTS / "ventricular.json").read_text())
    res["cudb_vt_references"] = both
    md = bench_ventricular.markdown(res)
    assert "| CUDB, VF/VFL and `(VT` references (secondary) | vfib (new) | 2 | 1 |" in md
