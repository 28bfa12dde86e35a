"""Reading an evaluation report written by training.evaluate."""
from __future__ import annotations

import json

import pytest

from edge.dashboard.report import confusion_rows, load_report, metrics_rows
from edge.errors import DataError
from tests.edge.dashboard.support import make_report

pytest.importorskip("matplotlib")


def test_load_report_written_by_training_evaluate(tmp_path):
    rep = load_report(make_report(tmp_path))
    assert rep is not None and len(rep.models) == 1
    m = rep.models[0]
    assert rep.plot_path(m, "reference_confusion").is_file()
    assert rep.plot_path(m, "V_FP_strips").is_file()
    assert rep.plot_path(m, "no_such_plot") is None
    rows = metrics_rows(m["reference"])
    assert [r["class"] for r in rows] == ["N", "S", "V", "F", "Q"]
    v = next(r for r in rows if r["class"] == "V")
    assert v["FP"] >= 1 and v["Se %"] != "–"
    conf = confusion_rows(m["end_to_end"])
    assert [r["reference \\ predicted"] for r in conf] == ["N", "S", "V", "F", "Q", "-"]
    assert sum(sum(v for k, v in r.items() if k != "reference \\ predicted") for r in conf) \
        == m["end_to_end"]["n_beats"]


def test_missing_and_damaged_reports(tmp_path):
    assert load_report(tmp_path / "none") is None
    (tmp_path / "report.json").write_text("[1, 2]")
    with pytest.raises(DataError):
        load_report(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"kind": "cnn"}))
    assert len(load_report(tmp_path).models) == 1


def test_the_shipped_report_folder_loads_when_present():
    from edge.dashboard.config import DEFAULT_REPORT_DIR
    from tests.edge.runtime.daemon_support import REPO

    rep = load_report(REPO / DEFAULT_REPORT_DIR)
    if rep is None:
        pytest.skip("no report in the repository yet")
    for m in rep.models:
        assert metrics_rows(m["reference"]) and confusion_rows(m["reference"])
