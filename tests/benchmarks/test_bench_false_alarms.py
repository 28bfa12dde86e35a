"""benchmarks/bench_false_alarms.py: the summary counts, one real replay, the argument checks
and the stored results."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_false_alarms as bfa

RESULTS = Path(bfa.__file__).resolve().parent / "results"


def test_summary_counts_alarms_per_kind_hour_recording_and_label():
    runs = [{"path": "/x/A1", "seconds": 1800.0, "fs_hz": 300.0,
             "alarms": [("vfib", 6.0), ("vfib", 20.0), ("vt", 3.0)]},
            {"path": "/x/A2", "seconds": 1800.0, "fs_hz": 300.0, "alarms": [("vflutter", 9.0)],
             "vflutter_warnings": 2},
            {"path": "/x/A3", "seconds": 3600.0, "fs_hz": 300.0, "alarms": []}]
    s = bfa.summarise(runs, ["N", "~", "N"])
    assert s["recordings"] == 3 and s["hours"] == 2.0 and s["rates_hz"] == [300.0]
    assert s["alarms"]["vfib"] == {"n": 2, "per_hour": 1.0, "recordings": 1}
    assert s["alarms"]["vflutter"]["recordings"] == 1 and s["alarms"]["vt"]["n"] == 1
    assert s["vfib_within_start_s"] == 1  # 6.0 s < 8 s; 20 s is not
    assert s["by_label"]["N"] == {"recordings": 2, "hours": 1.5, "vfib": 2, "vt": 1}
    assert s["by_label"]["~"]["vflutter"] == 1
    assert s["vfib_recordings"] == ["A1"]
    md = bfa.markdown({"date": "d", "git": "g", "wall_s": 1, "command": "c",
                       "sets": {"cinc": s}})
    assert s["vflutter_warnings"] == 2
    assert ("| cinc | 3 | 2.0 | 300 | 2 (1.0/h; 1) | 1 | 1 (0.5/h; 1) | 2 | 1 (0.5/h; 1) | "
            "0 | none |") in md


def test_one_real_recording_is_replayed(cinc2017_dir, monkeypatch):
    monkeypatch.setenv("CINC2017_DIR", str(cinc2017_dir))
    (path, label), = bfa.recordings("cinc", limit=1)
    assert Path(path).name == "A00001" and label == "N"
    r = bfa.alarms_of(path)
    assert r["fs_hz"] == 300.0 and 9 <= r["seconds"] <= 61
    assert all(isinstance(k, str) and t >= 0 for k, t in r["alarms"])
    graded = bfa.alarms_of((path, ('rhythm.preset="handheld"',)))
    assert graded["seconds"] == r["seconds"] and graded["vt_warnings"] >= 0


@pytest.mark.parametrize("argv", [["--sets", "mitdb"], ["--sets", ","], ["--jobs", "0"],
                                  ["--limit", "0"], ["--vt-alarm-min-beats", "2"],
                                  ["--preset", "ward"], ["--preset", "handheld"]])
def test_bad_arguments_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bfa.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_cinc_folds_need_the_cinc_set_and_every_fold_file(tmp_path, capsys):
    for argv, why in ((["--sets", "svdb", "--cinc-folds", str(tmp_path)], "needs the cinc set"),
                      (["--sets", "cinc", "--cinc-folds", str(tmp_path)], "fold0")):
        with pytest.raises(SystemExit) as exc:
            bfa.main(argv)
        assert exc.value.code == 2 and why in capsys.readouterr().err
    for k in range(5):
        (tmp_path / f"vf_trees_fold{k}.json").write_text("{}")
        (tmp_path / f"fold{k}.tflite").write_bytes(b"")
    assert bfa.check_folds_dir(tmp_path) is None


def test_a_recording_out_of_fold_gets_its_fold_models(cinc2017_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("CINC2017_DIR", str(cinc2017_dir))
    from training.ventricular import cinc_records
    names, f = cinc_records()
    pick = [names[i] for i in (0, 1, 2)]
    got = bfa.fold_settings(tmp_path, pick)
    for name, (trees, net) in zip(pick, got):
        k = f[names.index(name)]
        assert trees == f'rhythm.vf.model_path="{tmp_path / f"vf_trees_fold{k}.json"}"'
        assert net == f'rhythm.vf.net_path="{tmp_path / f"fold{k}.tflite"}"'


def test_a_missing_set_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SVDB_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exc:
        bfa.main(["--sets", "svdb"])
    assert exc.value.code == 2 and "SVDB_DIR" in capsys.readouterr().err


def test_stored_results_are_complete():
    res = json.loads((RESULTS / "false_alarms.json").read_text())
    assert res["limit"] is None and {"svdb", "cinc"} <= set(res["sets"])
    assert res["sets"]["svdb"]["recordings"] == 39 and res["sets"]["cinc"]["recordings"] == 5970
    assert set(res["sets"]["cinc"]["by_label"]) == {"N", "A", "O", "~"}


def test_stored_flutter_grading_results_pair_every_set():
    res = json.loads((RESULTS / "false_alarms_flutter.json").read_text())
    for name in ("svdb", "cinc"):
        plain, graded = res["sets"][name], res["sets"][f"{name}, vflutter graded by the VF stage"]
        assert plain["vflutter_warnings"] == 0 and plain["hours"] == graded["hours"]
        n = plain["alarms"]["vflutter"]["n"]
        # grading only moves vflutter alarms to warnings; vfib is untouched
        assert graded["alarms"]["vflutter"]["n"] + graded["vflutter_warnings"] == n
        assert graded["alarms"]["vfib"] == plain["alarms"]["vfib"]


def test_stored_vt_grading_results_pair_every_set():
    res = json.loads((RESULTS / "false_alarms_vt.json").read_text())
    for name in ("svdb", "cinc"):
        plain, graded = res["sets"][name], res["sets"][f"{name}, vt an alarm from 5 beats"]
        assert plain.get("vt_warnings", 0) == 0 and plain["hours"] == graded["hours"]
        # grading only moves short vt runs to warnings; the other alarms are untouched
        assert graded["alarms"]["vt"]["n"] + graded["vt_warnings"] == plain["alarms"]["vt"]["n"]
        assert graded["alarms"]["vfib"] == plain["alarms"]["vfib"]
        assert graded["alarms"]["vflutter"] == plain["alarms"]["vflutter"]


def test_stored_preset_results_only_grade_what_the_preset_grades():
    res = json.loads((RESULTS / "false_alarms_preset.json").read_text())
    models = res["sets"]["cinc out of fold, handheld recipe"]
    preset = res["sets"]["cinc out of fold, preset handheld"]
    assert preset["recordings"] == models["recordings"] == 5970
    # the same VF models: vfib identical; vflutter and vt only moved to warnings
    assert preset["alarms"]["vfib"] == models["alarms"]["vfib"]
    for kind in ("vflutter", "vt"):
        assert preset["alarms"][kind]["n"] + preset[f"{kind}_warnings"] == \
            models["alarms"][kind]["n"]
