"""convert/seal.py: seals a model made before seals existed without changing what it computes,
leaves a sealed one alone, refuses a damaged one (file unchanged), and checks without writing."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from convert import seal as cs
from edge.model.bundled import MODELS_DIR
from edge.model.seal import JSON_SEAL_KEY
from edge.model.tflite_meta import CONTRACT_METADATA_NAME, read_contract, read_sealed_contract
from tests.edge.runtime.daemon_support import REPO, subprocess_env


def _unsealed_tflite(data: bytes) -> bytes:
    """The model with its contract stored without the seal fields (as made before seals)."""
    pytest.importorskip("tensorflow")
    from tensorflow.lite.tools import flatbuffer_utils

    obj = flatbuffer_utils.convert_bytearray_to_object(bytearray(data))
    contract = read_contract(data)
    blob = json.dumps(contract, sort_keys=True, separators=(",", ":")).encode()
    for m in obj.metadata:
        name = m.name.decode() if isinstance(m.name, bytes) else m.name
        if name == CONTRACT_METADATA_NAME:
            obj.buffers[m.buffer].data = np.frombuffer(blob, dtype=np.uint8)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))


def _outputs(data: bytes) -> np.ndarray:
    from edge.model.interpreter import create_interpreter

    it = create_interpreter(data)
    it.allocate_tensors()
    rng = np.random.default_rng(5)
    out = []
    for _ in range(20):
        for d in it.get_input_details():
            it.set_tensor(d["index"], rng.integers(-128, 128, d["shape"]).astype(d["dtype"]))
        it.invoke()
        out.append(np.concatenate([it.get_tensor(o["index"]).ravel()
                                   for o in it.get_output_details()]))
    return np.array(out)


def test_the_bundled_models_check_intact(capsys):
    assert cs.main(["--bundled", "--check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(cs.bundled_models()) >= 9
    assert all(": intact (sha256 " in line for line in out)


def test_an_unsealed_tflite_is_sealed_computing_the_same(tmp_path, capsys):
    old = _unsealed_tflite((MODELS_DIR / "rhythm_vf_net.tflite").read_bytes())
    assert not read_sealed_contract(old)[1]
    p = tmp_path / "old.tflite"
    p.write_bytes(old)
    assert cs.main(["--check", str(p)]) == 1
    assert "not sealed" in capsys.readouterr().out and p.read_bytes() == old
    assert cs.main([str(p)]) == 0
    assert f"{p}: sealed (sha256 " in capsys.readouterr().out
    new = p.read_bytes()
    contract, seal = read_sealed_contract(new)
    assert len(seal.sha256) == 64 and len(new) - len(old) < 200  # no second contract left
    assert seal.sealed_from_sha256 == hashlib.sha256(old).hexdigest()
    assert contract == read_contract(old)
    assert np.array_equal(_outputs(old), _outputs(new))
    assert cs.main([str(p)]) == 0
    assert "already sealed" in capsys.readouterr().out and p.read_bytes() == new


def test_a_contract_without_the_field_cannot_be_sealed_in_place():
    from edge.errors import ModelError
    from edge.model.seal import seal_tflite
    from edge.model.tflite_meta import contract_span

    old = _unsealed_tflite((MODELS_DIR / "rhythm_vf_net.tflite").read_bytes())
    with pytest.raises(ModelError, match="no file_sha256 field"):
        seal_tflite(old, contract_span(old))


def test_a_damaged_model_is_never_resealed(tmp_path, capsys):
    bad = bytearray((MODELS_DIR / "rhythm_vf_net.tflite").read_bytes())
    bad[len(bad) // 3] ^= 0x01
    p = tmp_path / "bad.tflite"
    p.write_bytes(bytes(bad))
    assert cs.main([str(p)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"seal: error: {p}: the file is damaged") and err.count("\n") == 1
    assert p.read_bytes() == bytes(bad)


def test_json_models_and_bad_arguments(tmp_path, capsys):
    doc = json.loads((MODELS_DIR / "rhythm_vf.json").read_text())
    del doc[JSON_SEAL_KEY]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    missing = tmp_path / "missing.tflite"
    assert cs.main([str(old), str(other), str(missing), str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert f"{old}: sealed" in captured.out and old.read_text().endswith("}\n")
    assert json.loads(old.read_text())[JSON_SEAL_KEY] == json.loads(
        (MODELS_DIR / "rhythm_vf.json").read_text())[JSON_SEAL_KEY]   # same content, same seal
    err = captured.err.splitlines()
    assert len(err) == 3 and "not a model file" in err[0] and "no such file" in err[1]
    assert "a directory" in err[2]
    with pytest.raises(SystemExit) as exit_:
        cs.main([])
    assert exit_.value.code == 2


def test_runs_as_a_script():
    r = subprocess.run([sys.executable, "convert/seal.py", "--check",
                        str(MODELS_DIR / "rhythm_af.json")], cwd=REPO, env=subprocess_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "rhythm_af.json: intact" in r.stdout, r.stderr


def test_seal_keeps_mode_follows_symlinks_and_refuses_nan(tmp_path, capsys):
    import os
    import stat

    doc = json.loads((MODELS_DIR / "rhythm_vf.json").read_text())
    del doc[JSON_SEAL_KEY]
    real = tmp_path / "v1.json"
    real.write_text(json.dumps(doc))
    os.chmod(real, 0o440)
    link = tmp_path / "current.json"
    link.symlink_to(real)
    assert cs.main([str(link)]) == 0
    assert link.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o440
    assert cs.check_file(real) and not list(tmp_path.glob("*.sealing"))
    nan = tmp_path / "nan.json"
    nan.write_text(json.dumps(doc).replace(str(doc["threshold"][0][0]), "NaN", 1))
    empty = tmp_path / "empty.json"
    empty.write_text("")
    capsys.readouterr()
    assert cs.main([str(nan), str(empty)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"seal: error: {nan}: not a usable model: it holds NaN or infinity",
                   f"seal: error: {empty}: an empty file, not a model"]


def test_sealing_a_tflite_without_tensorflow_is_one_line(tmp_path, capsys, monkeypatch):
    import convert.quantize as q

    def no_tf(*a, **k):
        raise ModuleNotFoundError("No module named 'tensorflow'", name="tensorflow")

    monkeypatch.setattr(q, "embed_contract", no_tf)
    p = tmp_path / "old.tflite"
    p.write_bytes(_unsealed_tflite((MODELS_DIR / "rhythm_vf_net.tflite").read_bytes()))
    before = p.read_bytes()
    assert cs.main([str(p)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs TensorFlow" in err and "tensorflow" in err
    assert p.read_bytes() == before
