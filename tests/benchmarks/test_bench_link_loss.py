"""benchmarks/bench_link_loss.py: the frames lost, the scoring, a short real run with its
baseline, the argument checks, and the stored results."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import bench_link_loss as bl

RESULTS = Path(bl.__file__).resolve().parent / "results"


def test_lost_frames_are_seeded_by_record_and_never_the_first():
    a = bl.lost_frames("119", 10_000, 0.05)
    assert not a[0] and 400 < a.sum() < 600
    assert np.array_equal(a, bl.lost_frames("119", 10_000, 0.05))
    assert not np.array_equal(a, bl.lost_frames("200", 10_000, 0.05))
    assert not bl.lost_frames("119", 100, 0.0).any()


def test_score_counts_received_beats_false_beats_and_classes():
    fs = 100.0
    ref_at = [100, 200, 300, 400]
    ref_label = ["N", "V", "N", "S"]
    lost = np.zeros(600, dtype=bool)
    lost[290:310] = True  # the third reference beat was lost
    got = bl.score(ref_at, ref_label, lost, [105, 210, 302, 520], ["N", "N", "Q", "V"], fs)
    # 520 is 120 samples (1.2 s) from any reference beat: false; 302 matches a lost beat
    assert got["ref"] == 3 and got["found"] == 2 and got["false"] == 1
    assert got["confusion"] == {"NN": 1, "VN": 1, "NQ": 1}
    t = bl.totals([dict(got, alerts={"vt": 1}, hours=1.0, lost_share=0.1)])
    assert t["se"] == pytest.approx(2 / 3) and t["ppv"] == pytest.approx(3 / 4)
    assert t["q_share"] == pytest.approx(1 / 3) and t["V_se"] == 0.0
    assert t["alerts"] == {"vt": 1}


def test_hr_errors_score_each_hr_event_against_the_reference_rate():
    from types import SimpleNamespace as Ev

    fs = 100.0
    ref_at = np.arange(0, 3000, 100)  # a beat every 1 s: 60 bpm
    events = [Ev(sample_index=1000, window_s=5.0, hr_bpm=63.0),
              Ev(sample_index=2000, window_s=5.0, hr_bpm=None),
              Ev(sample_index=2500, window_s=5.0, hr_bpm=54.0),
              Ev(sample_index=50, window_s=5.0, hr_bpm=70.0)]  # no reference rate yet
    got = bl.hr_errors(ref_at, events, fs)
    assert got["hr_ref"] == 3 and got["hr_n"] == 2 and got["hr_none"] == 1
    assert got["hr_err"] == pytest.approx(-3.0) and got["hr_abs"] == pytest.approx(9.0)
    assert got["hr_big"] == 1  # 6 bpm off
    t = bl.totals([dict(got, ref=1, found=1, false=0, confusion={}, alerts={}, hours=1.0,
                        lost_share=0.0)])
    assert t["hr_bias_bpm"] == -1.5 and t["hr_mae_bpm"] == 4.5
    assert t["hr_big_share"] == 0.5 and t["hr_none_share"] == pytest.approx(1 / 3)


def test_a_short_run_with_its_baseline(mitdb_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    assert bl.main(["--sets", "ds1", "--records", "119", "--loss", "0,10", "--max-s", "120",
                    "--jobs", "1", "--baseline", "pipeline.bridge_gaps=false",
                    "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "link_loss.json").read_text())
    runs = {(tuple(r["settings"]), r["loss"]): r["total"] for r in res["runs"]}
    assert set(runs) == {((), 0.0), ((), 0.1), (("pipeline.bridge_gaps=false",), 0.0),
                         (("pipeline.bridge_gaps=false",), 0.1)}
    assert runs[((), 0.0)] == runs[(("pipeline.bridge_gaps=false",), 0.0)]
    assert runs[((), 0.1)]["se"] >= 0.97 > 0.8 > runs[(("pipeline.bridge_gaps=false",), 0.1)][
        "se"]
    assert "| ds1 | pipeline.bridge_gaps=false |" in (tmp_path / "link_loss.md").read_text()
    assert runs[((), 0.1)]["hr_none_share"] < 0.1  # a lossy link keeps its heart rate
    assert abs(runs[((), 0.1)]["hr_bias_bpm"]) < 2.0


@pytest.mark.parametrize("argv", [["--sets", "cudb"], ["--jobs", "0"], ["--limit", "0"],
                                  ["--loss", "100"], ["--loss", "-1"], ["--loss", "x"],
                                  ["--frame-ms", "0"], ["--max-s", "nan"],
                                  ["--set", "pipeline.bridge_gaps=1"], ["--records", ","],
                                  ["--out", __file__]])
def test_bad_arguments_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bl.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_stored_results_are_complete():
    res = json.loads((RESULTS / "link_loss.json").read_text())
    sets = {r["set"] for r in res["runs"]}
    assert sets == {"ds1", "ds2", "svdb"}
    shipped = {(r["set"], r["loss"]): r["total"] for r in res["runs"] if not r["settings"]}
    before = {(r["set"], r["loss"]): r["total"] for r in res["runs"] if r["settings"]}
    for s in sets:
        assert shipped[(s, 0.05)]["se"] >= 0.97 and shipped[(s, 0.05)]["ppv"] >= 0.98
        assert before[(s, 0.05)]["se"] < shipped[(s, 0.05)]["se"]
        # the heart rate under loss: nearly always there, and within a bpm on average
        assert shipped[(s, 0.05)]["hr_none_share"] < 0.03
        assert abs(shipped[(s, 0.05)]["hr_bias_bpm"]) < 1.0


def test_repeated_loss_rates_and_sets_run_once():
    assert bl._losses("5,5.0,05,1") == [0.01, 0.05]
