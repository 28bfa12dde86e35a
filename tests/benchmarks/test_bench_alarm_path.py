"""benchmarks/bench_alarm_path.py and bench_outbox_durability.py: the offline evidence pass,
the summary statistics, the event mix, and the stored results are complete."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import bench_alarm_path as bap
from benchmarks import bench_outbox_durability as bod
from tests.benchmarks.support import exits_2, one_line_error

RESULTS = Path(bap.__file__).resolve().parent / "results"


def test_summary():
    assert bap.summary([]) == {"n": 0}
    s = bap.summary([10.0, 20.0, 30.0])
    assert s["n"] == 3 and s["median_ms"] == 20.0 and s["worst_ms"] == 30.0


def test_offline_pass_finds_the_sample_completing_a_ventricular_run():
    """The excerpt's first V run (a ``vt`` alarm): its onset is dated at the first V, but the
    evidence is complete only once the third V has been classified (two RR intervals later,
    plus the look-ahead): the evidence sample lies 1-3 s after the onset's sample_index."""
    from firmware_bridge.replay import ReplayConfig

    rc = ReplayConfig(record=str(bap.EXCERPT), start_s=15.0, duration_s=20.0, speed=None,
                      device_id=1)
    first, fs, expected = bap.offline(rc, bap.daemon_config(str(bap.EXCERPT)))
    assert first == 15 * 360 and fs == 360.0
    onset = next(e for e in expected if e.kind == "vt" and e.state == "onset")
    assert onset.severity == "alarm" and onset.nth == 0 and bap._first_timed(expected) == onset
    assert 1.0 * fs < onset.evidence_index - onset.sample_index < 3.0 * fs
    # the V run is also a v_run, a warning (the daemon's ventricular stage raises the alarm),
    # whose evidence is complete in the same sample
    run = next(e for e in expected if e.kind == "v_run" and e.state == "onset")
    assert run.severity == "warning" and run.evidence_index == onset.evidence_index


def test_event_mix_schedule():
    kinds = bod.schedule(10)
    assert len(kinds) == sum(int(r * 600) for r, _ in bod.MIX.values())
    assert kinds.count("alert") == 24 and kinds.count("beat") == 1038


def test_stored_results_are_complete():
    res = json.loads((RESULTS / "alarm_path.json").read_text())
    assert res["steady"]["lost"] == 0 and res["steady"]["all_alerts"]["n"] > 20
    assert {b["policy"] for b in res["broker_restart"]} == {"new", "old"}
    assert all(b["lost"] == 0 for b in res["broker_restart"])
    assert res["half_open"]["lost"] == 0
    assert res["idle_keepalive"]["declared_dead_after_freeze_s"] is not None
    dur = json.loads((RESULTS / "outbox_durability.json").read_text())
    assert [r["config"] for r in dur["results"]] == list(bod.CONFIGS)


@pytest.mark.parametrize("value", ["-5", "0", "nan"])
def test_a_bad_steady_duration_is_refused(value, tmp_path, capsys):
    exits_2(bap.main, ["--steady-s", value, "--out", str(tmp_path)])
    one_line_error(capsys, "--steady-s", "> 0")


def test_an_empty_mitdb_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch, capsys):
    import shutil
    import tempfile

    monkeypatch.setenv("MITDB_DIR", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert bap.main(["--out", str(tmp_path / "out")]) == 2
    one_line_error(capsys, "MITDB_DIR")
    assert not list(tmp_path.glob("bench-alarm-*")) and not (tmp_path / "out").exists()
