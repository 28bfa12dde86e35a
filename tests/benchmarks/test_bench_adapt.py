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


@pytest.mark.parametrize("content, words", [
    (None, ["--from-json", "cannot read it"]), ("not json", ["--from-json", "not JSON"]),
    ('{"a": 1}', ["not an adapt.json"]), ("[1]", ["not an adapt.json"])])
def test_a_bad_from_json_is_one_line_and_writes_nothing(content, words, tmp_path, capsys):
    src = tmp_path / "in.json"
    if content is not None:
        src.write_text(content)
    with pytest.raises(SystemExit) as exc:
        bench_adapt.main(["--from-json", str(src), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(w in err.splitlines()[-1] for w in words)
    assert not (tmp_path / "out").exists()


def test_a_damaged_or_one_output_model_is_one_line(tmp_path, capsys):
    bad = tmp_path / "trunc.tflite"
    bad.write_bytes((ROOT / "edge" / "models" / "default.tflite").read_bytes()[:5000])
    one_output = ROOT / "edge" / "models" / "default.tflite"
    for model, words in ((bad, "damaged .tflite"), (one_output, "no embedding output")):
        assert bench_adapt.main(["--model", str(model), "--records", "100",
                                 "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_record_is_one_line_before_any_work(tmp_path, capsys, monkeypatch,
                                                       mitdb_dir):
    def no_tuning(**kwargs):
        raise AssertionError("tuned before the records were checked")

    monkeypatch.setattr(bench_adapt, "tune_ds1", no_tuning)
    assert bench_adapt.main(["--records", "100,999", "--tune-ds1", "--data-dir",
                             str(mitdb_dir), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "record '999' not found" in err
