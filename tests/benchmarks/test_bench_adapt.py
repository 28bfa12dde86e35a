"""benchmarks/bench_adapt.py, the thin runner of the adaptation benchmark and of the DS1 tuning
(:mod:`training.adapt_tuning`, tested in tests/training/test_adapt_tuning.py): the stored result
re-renders byte for byte, and the tuning result it stores maps to the configuration it ran."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_adapt  # noqa: E402

from edge.model.adapt import AdaptConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def test_stored_result_re_renders_byte_for_byte(tmp_path):
    assert bench_adapt.main(["--from-json", str(RESULTS / "adapt.json"),
                             "--out", str(tmp_path)]) == 0
    assert (tmp_path / "adapt.md").read_text() == (RESULTS / "adapt.md").read_text()
    assert json.loads((tmp_path / "adapt.json").read_text()) == \
        json.loads((RESULTS / "adapt.json").read_text())


def test_the_stored_tuning_chose_the_configuration_it_ran_and_ships():
    res = json.loads((RESULTS / "adapt.json").read_text())
    cfg = bench_adapt.tuned_config(res["tuning"])
    assert cfg == AdaptConfig.from_dict(res["config"])
    assert cfg == AdaptConfig()  # the shipped defaults are the DS1 tuning's choice


def test_help_runs_no_model(capsys):
    with pytest.raises(SystemExit) as exc:
        bench_adapt.main(["--help"])
    assert exc.value.code == 0
    assert "--tune-ds1" in capsys.readouterr().out
