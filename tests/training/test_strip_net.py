"""Training the strip network: it learns a separable toy task, crops, bad arguments refused
(the int8 conversion: tests/convert/test_strip_net.py)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from edge.rhythm.strip_net import NET_LENGTH  # noqa: E402
from tests.training.support import TINY_STRIP_NET, toy_strips  # noqa: E402
from training import strip_net as sn  # noqa: E402


def test_fit_learns_a_toy_task_and_predicts_per_recording():
    rng = np.random.default_rng(0)
    sigs, y = toy_strips(320, rng)
    model = sn.fit_net(sigs, y, np.arange(256), epochs=10, arch=TINY_STRIP_NET, verbose=0)
    assert sn.arch_of(model) == TINY_STRIP_NET
    test = np.arange(256, 320)
    pf = sn.predict_float(model, sigs, test)
    assert pf.shape == (64, 4) and np.allclose(pf.sum(axis=1), 1, atol=1e-5)
    assert np.mean(pf.argmax(1) == y[test]) >= 0.75  # chance is 0.5
    assert sn.predict_float(model, sigs, np.arange(0)).shape == (0, 4)


def test_random_crops_pad_short_strips():
    rng = np.random.default_rng(1)
    z = np.ones(10, np.float32)
    c = sn._random_crop(z, rng)
    assert c.shape == (NET_LENGTH,) and c[:10].all() and not c[10:].any()
    long = np.arange(NET_LENGTH + 50, dtype=np.float32)
    c = sn._random_crop(long, rng)
    assert c.size == NET_LENGTH and np.all(np.diff(c) == 1)


@pytest.mark.parametrize("argv", [[], ["--cv", "d", "--fit", "m.keras"],
                                  ["--fit", "m.keras", "--epochs", "0"],
                                  ["--cv", "d", "--folds", "1"], ["--cv", "d", "--folds", "50"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        sn.main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--cv", "{afile}"], ["--cv", "is not a directory"]),
    (["--fit", "{afile}/m.keras"], ["--fit", "is a file"]),
    (["--fit", "{tmp}/m.h5"], ["--fit", "a model is saved as a .keras file"]),
])
@pytest.mark.parametrize("module", ["training.strip_net", "training.vf_net"])
def test_an_output_it_cannot_write_is_refused_before_training(tmp_path, argv, words, capsys,
                                                              module):
    """Session 44 script audit: --fit under a file or named .h5 failed after the whole fit
    (both rhythm networks' commands: ``training.tool.net_training_parser``)."""
    import importlib

    (tmp_path / "afile").write_text("x")
    argv = [a.format(afile=tmp_path / "afile", tmp=tmp_path) for a in argv]
    with pytest.raises(SystemExit) as exc:
        importlib.import_module(module).main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert all(w in err for w in words) and "Traceback" not in err


@pytest.mark.parametrize("cinc", ["empty", "file", "malformed"])
def test_a_missing_or_damaged_cinc_folder_is_one_line(tmp_path, monkeypatch, capsys, cinc):
    path = tmp_path / "cinc"
    if cinc == "file":
        path.write_text("x")
    else:
        path.mkdir()
        if cinc == "malformed":
            (path / "REFERENCE.csv").write_text("A00001,N\nA00002\n")
    monkeypatch.setenv("CINC2017_DIR", str(path))
    assert sn.main(["--cv", str(tmp_path / "cv"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "Traceback" not in err
