"""benchmarks/bench_alarm_chain.py: episodes and onsets inside them, the sets' signals, the
argument checks and the stored results."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_alarm_chain as bac
from edge.events.model import AlertEvent

RESULTS = Path(bac.__file__).resolve().parent / "results"


def alert(kind, state, at, **detail):
    return AlertEvent(device_id=1, kind=kind, state=state, severity="warning",
                      sample_index=at, fs_hz=250.0, detail=dict(detail))


def test_episodes_and_the_onsets_dated_inside_them():
    alerts = [alert("vfib", "onset", 100), alert("v_run", "onset", 150),
              alert("v_run", "end", 180), alert("pause", "onset", 160),
              alert("vfib", "end", 300), alert("svt", "onset", 300),
              alert("tachycardia", "onset", 120, chained_under="vfib"),
              alert("vfib", "onset", 900)]  # still open at the end: not an episode
    eps = bac.vfib_episodes(alerts)
    assert eps == [(100, 300)]
    # pause is not chained; an onset at the end sample is after the episode; one raised
    # after the VF (chained_under) is not counted as inside
    assert bac.inside(alerts, eps) == {("v_run", "warning"): 1}


def test_the_svdb_set_is_read_at_its_own_rate(svdb_dir):
    assert len(bac.SETS["svdb"]) == 39 and bac.SETS["svdb"][0].startswith("svdb/")
    x, fs = bac.signal("svdb/865")
    assert fs == 128.0 and x.ndim == 1 and 1800 <= x.size / fs < 1900


@pytest.mark.parametrize("argv", [["--sets", "ds2"], ["--sets", ","], ["--chunks", "x"],
                                  ["--chunks", "1,0"], ["--chunks", "nan"]])
def test_bad_arguments_are_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        bac.main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_stored_results_are_complete():
    res = json.loads((RESULTS / "alarm_chain.json").read_text())
    assert set(res["sets"]) == {"cudb", "ds1", "svdb"}
    for name, s in res["sets"].items():
        assert s["chunk_invariant"] and s["inside_on"] == {}, name
        # every held episode is either never raised or raised after the VF
        assert sum(s["held"].values()) == (sum(s["dropped"].values())
                                           + sum(s["raised_after"].values())), name
    assert res["sets"]["cudb"]["vfib_episodes"] > 40
    assert res["chunks_s"][0] == 0.02


@pytest.mark.parametrize("env, sets", [("CUDB_DIR", "cudb"), ("SVDB_DIR", "ds1,svdb")])
def test_an_empty_data_folder_is_one_line_before_any_replay(env, sets, tmp_path, monkeypatch,
                                                            capsys):
    """Session 44 script audit: CUDB_DIR empty was a traceback; a set's folder is now read
    before any set is replayed, and the hint names the variable (no --data-dir here)."""
    monkeypatch.setenv(env, str(tmp_path))

    def no_replay(*args, **kwargs):
        raise AssertionError("a set was replayed before every folder was checked")

    monkeypatch.setattr(bac, "run_set", no_replay)
    assert bac.main(["--sets", sets, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and env in err and "--data-dir" not in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bac, "signal", lambda record: None)
    monkeypatch.setattr(bac, "run_set", interrupted)
    assert bac.main(["--sets", "cudb", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "bench_alarm_chain: interrupted; nothing written\n"
