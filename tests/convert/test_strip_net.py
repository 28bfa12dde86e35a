"""Converting the strip network: full int8 with its contract; the device loader reads the file
and answers as the Keras model does; bad arguments and missing CV files refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from convert import strip_net as cs  # noqa: E402
from edge.rhythm.strip import STRIP_CLASSES  # noqa: E402
from edge.rhythm.strip_net import load_strip_net, net_contract, net_crops  # noqa: E402
from tests.training.support import TINY_STRIP_NET, toy_strips  # noqa: E402
from training import strip_net as sn  # noqa: E402

BEAT_KERAS = Path(__file__).resolve().parents[2] / "edge" / "models" / "beat_cnn.keras"


def test_int8_file_answers_as_the_keras_model(tmp_path):
    rng = np.random.default_rng(0)
    sigs, y = toy_strips(320, rng)
    idx = np.arange(256)
    model = sn.fit_net(sigs, y, idx, epochs=10, arch=TINY_STRIP_NET, verbose=0)
    test = np.arange(256, 320)
    pf = sn.predict_float(model, sigs, test)
    path = tmp_path / "net.tflite"
    path.write_bytes(cs.to_int8(model, sigs, idx, blend_weight=0.3, n_calibration=20))
    net = load_strip_net(path)
    assert net.blend_weight == pytest.approx(0.3)
    assert net.contract == net_contract(STRIP_CLASSES, 0.3, sn.CLASS_SCALE)
    assert net.class_scale == sn.CLASS_SCALE  # the converter writes training's class scale
    pi = cs.int8_probabilities(net, sigs, test)
    assert np.mean(pf.argmax(1) == pi.argmax(1)) >= 0.9
    assert np.max(np.abs(pf - pi)) < 0.2
    rep = cs._parity(pf, pi)
    assert rep["recordings"] == 64 and rep["label_agreement_float_int8"] >= 0.9
    one = net.predict_crops(net_crops(sigs[300]))
    assert one.shape == (4,) and abs(one.sum() - 1) < 1e-9


def test_cv_without_the_training_output_is_one_line(tmp_path, capsys):
    assert cs.main(["--cv", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "training.strip_net --cv" in err


@pytest.mark.parametrize("argv", [[], ["--cv", "d", "--model", "m"], ["--cv", "d", "--out", "x"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cs.main(argv)
    assert exc.value.code == 2


def test_another_network_is_refused_in_one_line(tmp_path, capsys):
    """The beat classifier (or the other rhythm network) given as --model: one line naming
    it, exit 2, before any data is read."""
    assert cs.main(["--model", str(BEAT_KERAS), "--out", str(tmp_path / "x.tflite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a strip network" in err and str(BEAT_KERAS) in err
    assert "Traceback" not in err and not (tmp_path / "x.tflite").exists()


@pytest.mark.parametrize("content", [b"garbage", None])
def test_a_damaged_keras_file_is_one_line(tmp_path, capsys, content):
    path = tmp_path / "m.keras"
    path.write_bytes(content if content is not None else BEAT_KERAS.read_bytes()[:5000])
    assert cs.main(["--model", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"strip_net: error: {path}: not a readable .keras model (damaged or not "
                           f"a Keras file)")
