"""benchmarks/bench_classifier.py: every --model is NAME=PATH and a trained Keras model, checked
before any is converted or timed."""
from __future__ import annotations

import pytest

from benchmarks import bench_classifier as bc
from tests.benchmarks.support import MODELS, exits_2, one_line_error

pytest.importorskip("tensorflow")


@pytest.mark.parametrize("argv, words", [(["--model", "a"], ["expected NAME=PATH"]),
                                         (["--model", "=x"], ["expected NAME=PATH"]),
                                         (["--model", "a=x", "--beats", "0"], ["--beats"])])
def test_bad_arguments_are_refused(argv, words, tmp_path, capsys):
    exits_2(bc.main, [*argv, "--out", str(tmp_path)])
    one_line_error(capsys, *words)


def test_a_tflite_or_damaged_keras_model_is_one_line(truncated_tflite, tmp_path, capsys):
    assert bc.main(["--model", f"a={truncated_tflite}", "--out", str(tmp_path / "o")]) == 2
    one_line_error(capsys, "trunc.tflite: not a .keras model")
    half = tmp_path / "m.keras"
    half.write_bytes((MODELS / "beat_cnn.keras").read_bytes()[:10000])
    (tmp_path / "m.contract.json").write_bytes((MODELS / "beat_cnn.contract.json").read_bytes())
    assert bc.main(["--model", f"cnn={MODELS / 'beat_cnn.keras'}", "--model", f"b={half}",
                    "--out", str(tmp_path / "o")]) == 2
    one_line_error(capsys, "m.keras: not a readable .keras model (damaged or not a Keras file)")
    assert not (tmp_path / "o").exists()
