"""Converting the VF network: full int8 with its contract; the device loader reads the file
and answers as the Keras model does; bad arguments and missing CV files refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from convert import vf_net as cv  # noqa: E402
from edge.rhythm.vf_net import load_vf_net, vf_net_contract  # noqa: E402
from tests.training.test_vf_net import _toy  # noqa: E402
from training import vf_net as tn  # noqa: E402

BEAT_KERAS = Path(__file__).resolve().parents[2] / "edge" / "models" / "beat_cnn.keras"


def test_int8_file_answers_as_the_keras_model(tmp_path):
    rng = np.random.default_rng(1)
    x, y = _toy(400, rng)
    model = tn.fit_net(x[:320], y[:320], epochs=4)
    path = tmp_path / "vf.tflite"
    path.write_bytes(cv.to_int8(model, x[:100], blend_weight=0.4))
    net = load_vf_net(path)
    assert net.blend_weight == pytest.approx(0.4)
    assert net.contract == vf_net_contract(0.4)
    rows = np.vstack([x[320:], np.full((1, x.shape[1]), np.nan, np.float32)])
    pf, pi = tn.predict_float(model, rows), cv.int8_p(net, rows)
    assert np.isnan(pi[-1])
    rep = cv._parity(pf, pi)
    assert rep["windows"] == 80 and rep["call_agreement_at_0.5"] >= 0.95
    assert rep["max_abs_p_difference"] < 0.1


def test_cv_without_the_training_output_is_one_line(tmp_path, capsys):
    assert cv.main(["--cv", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training.vf_net --cv" in err


@pytest.mark.parametrize("argv", [[], ["--cv", "d", "--model", "m"], ["--cv", "d", "--out", "x"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cv.main(argv)
    assert exc.value.code == 2


def test_another_network_is_refused_in_one_line(tmp_path, capsys):
    """The beat classifier (or the other rhythm network) given as --model: one line naming
    it, exit 2, before any data is read."""
    assert cv.main(["--model", str(BEAT_KERAS), "--out", str(tmp_path / "x.tflite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a VF network" in err and str(BEAT_KERAS) in err
    assert "Traceback" not in err and not (tmp_path / "x.tflite").exists()


@pytest.mark.parametrize("content", [b"garbage", None])
def test_a_damaged_keras_file_is_one_line(tmp_path, capsys, content):
    path = tmp_path / "m.keras"
    path.write_bytes(content if content is not None else BEAT_KERAS.read_bytes()[:5000])
    assert cv.main(["--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"vf_net: error: {path}: not a readable .keras model (damaged or not "
                           f"a Keras file)")
