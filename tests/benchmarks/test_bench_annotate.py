"""benchmarks/bench_annotate.py: EC57 (bxb) statistics next to the plain ones, and the stored
results re-render from their own confusion matrices."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_annotate as ba

RESULTS = Path(ba.__file__).resolve().parent / "results"
MODES = ("reference", "detected")


def _same(a, b) -> bool:
    """Equal JSON content (NaN equals NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _check_ec57_next_to_plain(m: dict) -> None:
    for c in ("S", "V"):
        plain, g = m["per_class"][c], m["ec57"][c]
        assert (g["tp"], g["fn"]) == (plain["tp"], plain["fn"])
        assert g["se"] == plain["se"]
        assert g["fp"] <= plain["fp"]
        assert g["ppv"] >= plain["ppv"] and g["f1"] >= plain["f1"]


def test_confusion_counts_missed_and_extra_and_ec57_exempts_fusion():
    fs_hz = 360.0
    ref_idx = np.array([1000, 2000, 3000, 4000, 5000, 6000])
    ref_cls = np.array(["N", "V", "F", "Q", "S", "V"], dtype=object)
    # the last V is missed; one extra detection at 7000 called V
    det_idx = np.array([1002, 1998, 3001, 4003, 5000, 7000])
    det_lab = np.array(["N", "V", "V", "S", "S", "V"], dtype=object)
    cm = ba.detection_confusion(ref_idx, ref_cls, det_idx, det_lab, fs_hz)
    i = {c: k for k, c in enumerate(ba.CLASSES)}
    assert cm[i["V"], i[ba.NONE]] == 1 and cm[i[ba.NONE], i["V"]] == 1
    res = ba.add_ec57({m: {"confusion": cm.tolist(), "classes": list(ba.CLASSES),
                           **ba.detection_metrics(cm)} for m in MODES})
    v, s = res["detected"]["ec57"]["V"], res["detected"]["ec57"]["S"]
    assert (v["tp"], v["fp"], v["fn"]) == (1, 1, 1)  # F->V is not a false VEB; the extra is
    assert res["detected"]["per_class"]["V"]["fp"] == 2
    assert (s["tp"], s["fp"], s["fn"]) == (1, 0, 0)  # Q->S is not a false SVEB
    assert res["detected"]["per_class"]["S"]["fp"] == 1
    _check_ec57_next_to_plain(res["detected"])


def test_confusion_from_a_start_sample_counts_only_the_scored_part():
    fs_hz = 360.0
    ref_idx = np.array([1000, 2000, 3000, 4000])
    ref_cls = np.array(["V", "N", "V", "N"], dtype=object)
    det_idx = np.array([1001, 2500, 2999, 3500])  # 2000 missed; extras at 2500 and 3500
    det_lab = np.array(["V", "V", "N", "V"], dtype=object)
    cm = ba.detection_confusion(ref_idx, ref_cls, det_idx, det_lab, fs_hz, start=2990)
    i = {c: k for k, c in enumerate(ba.CLASSES)}
    assert cm.sum() == 3  # refs 3000 and 4000, the extra at 3500
    assert cm[i["V"], i["N"]] == 1 and cm[i["N"], i[ba.NONE]] == 1
    assert cm[i[ba.NONE], i["V"]] == 1
    # a detection just before the start matching a reference inside it still counts
    cm = ba.detection_confusion(ref_idx, ref_cls, det_idx, det_lab, fs_hz, start=3000)
    assert cm[i["V"], i["N"]] == 1


def test_stored_results_carry_ec57_from_their_confusion_matrices():
    stored = json.loads((RESULTS / "annotate.json").read_text())
    recomputed = ba.add_ec57(json.loads((RESULTS / "annotate.json").read_text()))
    assert _same(recomputed, stored)
    for mode in MODES:
        _check_ec57_next_to_plain(stored[mode])
    md = (RESULTS / "annotate.md").read_text()
    command = md.split("Reproduce: `", 1)[1].split("`", 1)[0]
    assert ba.markdown(stored, command) == md
    assert "EC57 gross statistics" in md


def test_from_json_rerenders_without_running(tmp_path, capsys):
    assert ba.main(["--from-json", str(RESULTS / "annotate.json"), "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert _same(json.loads((tmp_path / "annotate.json").read_text()),
                 json.loads((RESULTS / "annotate.json").read_text()))
    got = json.loads((tmp_path / "annotate.json").read_text())
    for mode in MODES:
        assert set(got[mode]["ec57"]) == {"S", "V"}


def test_a_stored_run_of_another_model_says_so():
    """annotate.md kept an earlier model's DS2 figures with nothing saying whose they were."""
    from edge.model.classifier import BeatClassifier

    stored = json.loads((RESULTS / "annotate.json").read_text())
    now = BeatClassifier(ba.default_model_path()).model_version
    for version, warned in ((now, False), ("cnnx3-0.0.0", True)):
        md = ba.markdown({**stored, "model_version": version, "date": "2026-11-25"}, "cmd")
        assert f"(`{version}`)" not in md and f"({version}), measured 2026-11-25" in md
        assert ("**Not the bundled model**" in md) is warned


@pytest.mark.parametrize("content, words", [
    (None, ["--from-json", "cannot read it"]), ("not json", ["--from-json", "not JSON"]),
    ('{"a": 1}', ["not an annotate.json"]), ("[1]", ["not an annotate.json"])])
def test_a_bad_from_json_is_one_line_and_writes_nothing(content, words, tmp_path, capsys):
    src = tmp_path / "in.json"
    if content is not None:
        src.write_text(content)
    with pytest.raises(SystemExit) as exc:
        ba.main(["--from-json", str(src), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(w in err.splitlines()[-1] for w in words)
    assert not (tmp_path / "out").exists()


def test_a_damaged_model_or_unknown_record_is_one_line(truncated_tflite, tmp_path, capsys,
                                                       mitdb_dir):
    assert ba.main(["--model", str(truncated_tflite), "--records", "100",
                    "--out", str(tmp_path / "out")]) == 2
    assert "damaged .tflite" in capsys.readouterr().err
    assert ba.main(["--records", "100,999", "--data-dir", str(mitdb_dir),
                    "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "record '999' not found" in err
    assert not (tmp_path / "out").exists()


def test_a_run_on_other_records_is_not_titled_ds2():
    """Session 48 audit: ``--records 101`` (a training record) was titled "on DS2"."""
    stored = json.loads((RESULTS / "annotate.json").read_text())
    first = ba.markdown({**stored, "records": ["101"]}, "cmd").splitlines()[0]
    assert "records 101 (not DS2 alone" in first and "on DS2 (" not in first
    assert ba.markdown({**stored, "records": ["232"]}, "cmd").startswith(
        "# `ecg-edge annotate` on DS2 records (1 records)")
