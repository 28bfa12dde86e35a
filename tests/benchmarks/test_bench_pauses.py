"""benchmarks/bench_pauses.py: reference pauses from annotations, the matching, a real run
and the argument checks, and the stored results."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_pauses as bp

RESULTS = Path(bp.__file__).resolve().parent / "results"
FS = 100.0


def test_reference_pauses_skip_noise_and_vf():
    s = [0, 100, 400, 450, 480, 800, 900, 1000, 1400, 1500, 1900, 2000, 2400]
    y = ["N", "N", "N", "~", "N", "N", "+", "N", "N", "+", "N", "V", "N"]
    aux = ["", "", "", "", "", "", "(VF", "", "", "(N", "", "", ""]
    # 100-400: a 3-s pause; 400-480 has a noise mark; 480-800: 3.2 s, kept; inside (VF no
    # pause; 1000-1400 is in VF; 1400-1900 spans the (N change from VF (blocked); 2000-2400 kept
    assert bp.reference_pauses(s, y, aux, FS, 2.5) == [(100, 400), (480, 800), (2000, 2400)]
    assert bp.reference_pauses(s, y, aux, FS, 3.5) == [(2000, 2400)]


def test_score_matches_alerts_to_pauses_within_the_tolerance():
    pauses = [(100, 400), (1000, 1500)]  # 3 s and 5 s
    got = bp.score(pauses, pause_at=[95, 2000], asystole_at=[1400, 3000], fs_hz=FS,
                   asystole_s=4.0)
    assert got == {"ref_pauses": 2, "pauses_found": 1, "pause_alerts": 2,
                   "pause_alerts_unmatched": 1, "ref_long": 1, "asystole_found": 1,
                   "asystole_alarms": 2, "asystole_unmatched": 1}


def test_a_run_on_record_232_finds_its_pauses(mitdb_dir, tmp_path, monkeypatch):
    """232 (DS2): 76 reference pauses, 13 of them >= 4 s; run with the quiet floor off as the
    baseline, which misses a third of them."""
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    assert bp.main(["--sets", "ds1,ds2", "--records", "232", "--jobs", "1",
                    "--baseline", "quality.quiet_hf_rms_mv=0", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "pauses.json").read_text())
    assert list(res["runs"]) == ["ds2", "ds2 | baseline"]
    now, before = res["runs"]["ds2"]["total"], res["runs"]["ds2 | baseline"]["total"]
    assert now["ref_pauses"] == before["ref_pauses"] == 76 and now["ref_long"] == 13
    assert now["pauses_found"] >= 72 and before["pauses_found"] <= 50
    assert now["asystole_found"] == 13
    assert res["differ"] == ["ds2 232"]
    assert "| ds2 | as shipped | 232 |" in (tmp_path / "pauses.md").read_text()


@pytest.mark.parametrize("argv", [["--sets", "mitdb"], ["--jobs", "0"], ["--limit", "0"],
                                  ["--chunk-s", "nan"], ["--set", "alerts.pause_s=-1"],
                                  ["--baseline", "quality.nope=1"], ["--records", ","],
                                  ["--set", "quality.quiet_hf_rms_mv=15"], ["--out", __file__]])
def test_bad_arguments_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bp.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_an_unknown_record_is_one_line(mitdb_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MITDB_DIR", str(mitdb_dir))
    assert bp.main(["--sets", "ds1", "--records", "232", "--out", str(tmp_path)]) == 2
    assert "232 not in the sets ds1" in capsys.readouterr().err
    assert not (tmp_path / "pauses.json").exists()


def test_stored_results_are_complete():
    res = json.loads((RESULTS / "pauses.json").read_text())
    assert set(res["runs"]) == {"ds1", "ds2", "svdb", "cudb", "ds1 | baseline",
                                "ds2 | baseline", "svdb | baseline", "cudb | baseline"}
    ds2 = res["runs"]["ds2"]["total"]
    assert ds2["pauses_found"] >= 0.95 * ds2["ref_pauses"]
    assert ds2["asystole_found"] == ds2["ref_long"]
    cudb, before = res["runs"]["cudb"]["total"], res["runs"]["cudb | baseline"]["total"]
    assert cudb["pause_alerts_unmatched"] < before["pause_alerts_unmatched"] / 5
