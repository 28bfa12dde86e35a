"""training.evaluate and the shipped model: accuracy floors on DS2 records (inter-patient), and
the int8 model measured from a given ``.tflite`` (training never converts)."""
from __future__ import annotations

from pathlib import Path

import pytest

from edge.aami import AAMI_CLASSES
from tests.training.support import check_ec57_next_to_plain
from training.data import DS1, DS2, SVDB

pytest.importorskip("tensorflow")

MODELS = Path(__file__).resolve().parents[2] / "edge" / "models"
SHIPPED = MODELS / "beat_cnn.keras"
SHIPPED_INT8 = MODELS / "default.tflite"
#: DS2 records with N, S and V beats; floors sit a few points under the measured values.
FLOOR_RECORDS = ("100", "105", "200", "210", "221", "233")


@pytest.fixture(scope="module")
def shipped():
    if not SHIPPED.exists():
        pytest.skip(f"shipped model {SHIPPED} not present")
    from training.contract import load_model
    return load_model(SHIPPED)


def test_shipped_contract_never_saw_ds2(shipped):
    """Issue 16: DS1 and the SVDB records (``svdb/<record>``) may train the shipped model; DS2
    never does."""
    _, contract = shipped
    used = set(contract["training"]["records"]) | set(contract["training"]["validation_records"])
    assert used <= set(DS1) | set(SVDB)
    assert not used & set(DS2)
    assert set(contract["training"]["validation_records"]) <= set(DS1)
    assert contract["classes"] == list(AAMI_CLASSES)


def test_shipped_model_accuracy_floor_on_ds2_records(shipped, mitdb_dir):
    from training.evaluate import evaluate_reference
    from training.metrics import summarize

    model, contract = shipped
    res = evaluate_reference(model, contract, FLOOR_RECORDS, mitdb_dir, progress=False)
    m = summarize(res, AAMI_CLASSES)
    assert m["accuracy"] >= 0.93
    assert m["per_class"]["V"]["se"] >= 0.85
    assert m["per_class"]["V"]["ppv"] >= 0.80


def test_end_to_end_counts_missed_and_extra_beats(shipped, mitdb_dir):
    from training.evaluate import evaluate_end_to_end
    from training.metrics import E2E_CLASSES, NO_BEAT, summarize

    model, contract = shipped
    res = evaluate_end_to_end(model, contract, ("100",), mitdb_dir, progress=False)
    r = res["100"]
    assert sum(t != NO_BEAT for t in r["true"]) == r["n_reference"]
    assert sum(p != NO_BEAT for p in r["pred"]) == r["n_detected"]
    m = summarize(res, E2E_CLASSES)
    assert m["accuracy"] >= 0.90
    check_ec57_next_to_plain(m)


def test_the_shipped_int8_model_agrees_with_its_float_model(shipped, mitdb_dir):
    from edge.model.classifier import BeatClassifier
    from training.evaluate import int8_agreement, load_int8, reference_inputs

    if not SHIPPED_INT8.exists():
        pytest.skip(f"{SHIPPED_INT8} not present")
    model, contract = shipped
    clf = load_int8(SHIPPED_INT8, contract)
    assert isinstance(clf, BeatClassifier)
    beat, feats = reference_inputs(contract, ("100",), mitdb_dir)
    r = int8_agreement(model, contract, clf, beat, feats, n_beats=500)
    assert r["tflite"] == "default.tflite" and r["beats_compared"] == 500
    assert r["int8_bytes"] == SHIPPED_INT8.stat().st_size
    assert r["agreement_with_float"] >= 0.99 and r["latency_ms_per_beat"] > 0


def test_an_int8_model_of_another_model_version_is_refused(shipped):
    """Agreement between a float model and the conversion of another model means nothing."""
    from edge.errors import ModelError
    from training.evaluate import load_int8

    if not SHIPPED_INT8.exists():
        pytest.skip(f"{SHIPPED_INT8} not present")
    _, contract = shipped
    with pytest.raises(ModelError, match="model_version 'cnnx3-.*' is not the evaluated "
                                         "model's 'other-1'"):
        load_int8(SHIPPED_INT8, dict(contract, model_version="other-1"))


@pytest.mark.parametrize("argv, message", [
    (["--model", "a", "--model", "b", "--int8", "a.tflite"], "one .tflite per --model"),
    (["--model", "a", "--int8", "a.tflite", "--no-int8"], "contradict"),
    (["--model", "a", "--int8", "missing.tflite"], "--int8 missing.tflite: no such file"),
])
def test_int8_arguments_are_checked_before_evaluating(argv, message, tmp_path, capsys):
    from training.evaluate import main

    with pytest.raises(SystemExit) as exc:
        main(argv + ["--out", str(tmp_path)])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err



MODEL_OPTS = ["--model", str(SHIPPED), "--records", "100"]


def _one_line_error(capsys, *words: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    for w in words:
        assert w in last, (w, err)
    return last


@pytest.fixture
def damaged(tmp_path):
    """A .keras file cut in half (its contract beside it), a text file named .keras, a folder
    with the model but no contract, and one with a contract that is not JSON."""
    if not SHIPPED.exists():
        pytest.skip(f"shipped model {SHIPPED} not present")
    contract = SHIPPED.with_name("beat_cnn.contract.json").read_bytes()
    half = tmp_path / "half"
    half.mkdir()
    (half / "m.keras").write_bytes(SHIPPED.read_bytes()[:SHIPPED.stat().st_size // 2])
    (half / "m.contract.json").write_bytes(contract)
    (tmp_path / "text.keras").write_text("garbage")
    for name, text in (("no_contract", None), ("bad_contract", "not json")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "beat_cnn.keras").write_bytes(SHIPPED.read_bytes())
        if text is not None:
            (tmp_path / name / "beat_cnn.contract.json").write_text(text)
    return tmp_path


@pytest.mark.parametrize("model, words", [
    ("half/m.keras", ["half/m.keras: not a readable .keras model (damaged or not a Keras file)"]),
    ("half", ["half/m.keras: not a readable .keras model"]),
    ("text.keras", ["text.keras: not a readable .keras model"]),
    ("no_contract", ["no_contract/beat_cnn.contract.json: no such contract file"]),
    ("bad_contract", ["bad_contract/beat_cnn.contract.json: not a readable contract JSON"]),
    ("missing.keras", ["missing.keras: no such .keras file"]),
])
def test_a_damaged_model_or_contract_is_one_line(damaged, model, words, capsys):
    from training.evaluate import main

    assert main(["--model", str(damaged / model), "--records", "100",
                 "--out", str(damaged / "out")]) == 2
    _one_line_error(capsys, *words)
    assert not (damaged / "out" / "report.md").exists()


def test_a_tflite_given_as_model_is_one_line(tmp_path, capsys):
    from training.evaluate import main

    assert main(["--model", str(SHIPPED_INT8), "--records", "100", "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, "default.tflite: not a .keras model (a .tflite file)")


@pytest.mark.parametrize("content, words", [
    (None, ["--from-json", "cannot read it"]),
    ("not json", ["--from-json", "not JSON"]),
    ('{"a": 1}', ["--from-json", "not a report.json of python -m training.evaluate"]),
    ('[{"a": 1}]', ["--from-json", "not a report.json of python -m training.evaluate"]),
])
def test_a_bad_from_json_is_one_line_and_writes_nothing(tmp_path, content, words, capsys):
    from training.evaluate import main

    src = tmp_path / "in.json"
    if content is not None:
        src.write_text(content)
    with pytest.raises(SystemExit) as exc:
        main(["--from-json", str(src), "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    _one_line_error(capsys, *words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, words", [
    (["--notes", "missing.md"], ["--notes missing.md: cannot read it"]),
    (["--records"], ["--records", "expected at least one argument"]),
])
def test_bad_options_are_one_line(tmp_path, extra, words, capsys):
    from training.evaluate import main

    with pytest.raises(SystemExit) as exc:
        main(["--model", str(SHIPPED), "--out", str(tmp_path), *extra])
    assert exc.value.code == 2
    _one_line_error(capsys, *words)


def test_an_out_under_a_file_is_refused_before_evaluating(tmp_path, capsys):
    from training.evaluate import main

    (tmp_path / "afile").write_text("x")
    with pytest.raises(SystemExit) as exc:
        main([*MODEL_OPTS, "--out", str(tmp_path / "afile" / "x")])
    assert exc.value.code == 2
    _one_line_error(capsys, "--out", "is a file")


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
    import training.evaluate as ev

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ev, "evaluate_model", interrupted)
    assert ev.main([*MODEL_OPTS, "--out", str(tmp_path)]) == 130
    _one_line_error(capsys, "interrupted; no report written")
