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
    with pytest.raises(SystemExit) as exc:
        bench_ventricular.fold_nets(tmp_path)
    msg = str(exc.value)
    assert "training.vf_net --cv" in msg and "convert/vf_net.py --cv" in msg


def test_no_net_and_net_cv_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exc:
        bench_ventricular.main(["--no-net", "--net-cv", "x"])
    assert exc.value.code == 2
