"""benchmarks/bench_efficiency.py: the before run's summary (events compared per record and chunk
size) and the command-line errors (the run itself is a benchmark, not a test)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bench_efficiency import _before_summary, main


def _run(fingerprints: dict[str, dict[str, str]]) -> dict:
    return {"git": "abc1234", "date": "2026-11-30", "command": "python benchmarks/x.py",
            "gqrs_cpu_s_per_h": 5.0, "annotate_cpu_s_per_h": 3.0,
            "annotate_ratio_to_gqrs": 0.6, "chunks": {"10.0": {"cpu_s_per_h": 4.0}},
            "per_record": {r: {"chunks": {c: {"fingerprint": f} for c, f in ch.items()}}
                           for r, ch in fingerprints.items()}}


def test_the_before_run_is_compared_on_the_records_and_chunks_both_have():
    now = _run({"100": {"1.0": "a", "10.0": "b"}, "203": {"1.0": "c"}})
    same = _before_summary(_run({"100": {"1.0": "a", "0.1": "z"}, "999": {"1.0": "q"}}), now,
                           Path("/x/before.json"))
    assert same["same_events"] and same["compared"] == 1 and same["file"] == "before.json"
    other = _before_summary(_run({"100": {"1.0": "a"}, "203": {"1.0": "X"}}), now,
                            Path("b.json"))
    assert not other["same_events"] and other["compared"] == 2
    none = _before_summary(_run({"555": {"1.0": "a"}}), now, Path("b.json"))
    assert not none["same_events"] and none["compared"] == 0  # nothing compared: not "same"


@pytest.mark.parametrize("content, words", [(None, "cannot read"), ("{not json", "cannot read"),
                                            ("{}", "is not a bench_efficiency result"),
                                            ("[1]", "is not a bench_efficiency result")])
def test_a_bad_before_file_is_a_usage_error(tmp_path, capsys, content, words):
    path = tmp_path / "before.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as exc:
        main(["--data-dir", str(tmp_path), "--before", str(path)])
    assert exc.value.code == 2
    assert words in capsys.readouterr().err


def test_a_good_before_file_gets_past_its_check(tmp_path, capsys):
    path = tmp_path / "before.json"
    path.write_text(json.dumps(_run({"100": {"1.0": "a"}})))
    with pytest.raises(SystemExit) as exc:  # stops at the next check: no records here
        main(["--data-dir", str(tmp_path), "--records", "100", "--before", str(path)])
    assert exc.value.code == 2
    assert "--records" in capsys.readouterr().err


def test_repeat_below_one_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--data-dir", str(tmp_path), "--repeat", "0"])
    assert exc.value.code == 2 and "--repeat" in capsys.readouterr().err


def test_repeat_keeps_the_least_cpu_and_refuses_runs_that_disagree(monkeypatch):
    """``measure(..., repeat=N)``: each stream, gqrs and annotate figure is the least of N runs
    (the machine's noise only adds time), and repeated streams must give the same events."""
    import numpy as np

    import benchmarks.bench_efficiency as be

    cpu = iter([3.0, 1.0, 2.0] * 10)
    prints = iter(["f"] * 30)

    def fake_stream(clf, cfg, x, fs, chunk_s, **kw):  # noqa: ANN001, ANN202
        return {"cpu_s": next(cpu), "vf_windows": {}, "stages": dict.fromkeys(be.STAGES, 0.1),
                "calls": {}, "beats": 10, "events": {}, "fingerprint": next(prints),
                "chunks": 1, "blocks_held": 0}

    gq = iter([9.0, 5.0, 4.0, 6.0])  # the warm-up call, then the record's three
    ann = iter([0.9, 0.5, 0.7, 0.6, 1.3, 1.1, 1.2])  # the warm-up, 3 at 60 s, 3 at 10 s
    monkeypatch.setattr(be, "read_record", lambda d, r: (np.zeros(3600 * 360), 360.0, {}))
    monkeypatch.setattr(be, "_pin_one_core", lambda: None)
    monkeypatch.setattr(be, "stream_cost", fake_stream)
    monkeypatch.setattr(be, "gqrs_cpu_s", lambda x, fs, m: (next(gq, 0.0), 5))
    monkeypatch.setattr(be, "annotate_cpu_s", lambda r, d, o, chunk_s=None: next(ann, 0.0))
    res = be.measure(["x"], [1.0], "/nowhere", repeat=3)
    assert res["gqrs_cpu_s_per_h"] == 4.0  # least of 5, 4, 6
    assert res["chunks"]["1.0"]["cpu_s_per_h"] == 1.0  # least of 1, 2, 3 (after the warm-up)
    assert res["annotate_cpu_s_per_h"] == 0.5 and res["annotate_10s_cpu_s_per_h"] == 1.1
    prints = iter(["a", "b", "a"] + ["f"] * 30)
    cpu = iter([3.0] * 30)
    gq = iter([5.0] * 10)
    with pytest.raises(RuntimeError, match="other events"):
        be.measure(["x"], [1.0], "/nowhere", repeat=3)
