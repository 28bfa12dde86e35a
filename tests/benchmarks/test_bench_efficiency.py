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
