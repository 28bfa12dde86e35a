"""Integrity seals of model files (edge.model.seal): every bundled model is sealed, one changed
byte anywhere in a ``.tflite`` or one changed digit in a rhythm model is refused with one line
naming the file, and an unsealed file still loads with a logged warning."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from edge.errors import ModelError
from edge.model.bundled import MODELS_DIR
from edge.model.seal import (
    JSON_SEAL_KEY,
    UNSEALED,
    seal_json,
    seal_tflite,
    verify_json,
)
from edge.model.tflite_meta import contract_span, read_contract, read_sealed_contract
from edge.rhythm.model import load_tree_model

TFLITES = sorted(MODELS_DIR.glob("*.tflite"))
TREES = sorted(MODELS_DIR.glob("rhythm_*.json"))
TREES = [p for p in TREES if "format" in json.loads(p.read_text())]


def test_every_bundled_model_is_sealed_and_intact():
    assert len(TFLITES) >= 5 and len(TREES) >= 4
    for p in TFLITES:
        contract, seal = read_sealed_contract(p.read_bytes())
        assert len(seal.sha256) == 64 and len(seal.sealed_from_sha256) == 64, p
        assert "file_sha256" not in contract and "sealed_from_sha256" not in contract
    for p in TREES:
        assert len(verify_json(json.loads(p.read_text()))) == 64, p


@pytest.mark.parametrize("where", [0.02, 0.2, 0.4, 0.6, 0.8, 0.97])
def test_one_flipped_bit_anywhere_in_a_tflite_is_refused(where):
    data = (MODELS_DIR / "default.tflite").read_bytes()
    pos = int(where * len(data))
    bad = bytearray(data)
    bad[pos] ^= 0x04
    with pytest.raises(ModelError):
        read_contract(bytes(bad))


def test_a_flip_inside_the_contract_and_inside_the_seal_digits_are_refused():
    data = (MODELS_DIR / "default.tflite").read_bytes()
    start, stop = contract_span(data)
    blob = data[start:stop]
    digits = start + blob.index(b'"file_sha256":"') + len(b'"file_sha256":"')
    std = start + blob.index(b'"std"') + 10  # a digit of the feature standardization
    for pos, new in ((digits, b"f" if data[digits:digits + 1] != b"f" else b"e"),
                     (std, b"7" if data[std:std + 1] != b"7" else b"3")):
        bad = bytearray(data)
        bad[pos:pos + 1] = new
        with pytest.raises(ModelError, match="damaged"):
            read_contract(bytes(bad))


def test_sealing_again_is_idempotent_and_only_touches_the_digits():
    data = (MODELS_DIR / "rhythm_vf_net.tflite").read_bytes()
    assert seal_tflite(data, contract_span(data)) == data
    start, _ = contract_span(data)
    blank = bytearray(data)
    i = data.index(b'"file_sha256":"', start) + len(b'"file_sha256":"')
    blank[i:i + 64] = b"1" * 64
    resealed = seal_tflite(bytes(blank), contract_span(bytes(blank)))
    assert resealed == data


def test_a_renamed_seal_is_damage_and_is_not_sealed_again():
    data = bytearray((MODELS_DIR / "rhythm_vf_net.tflite").read_bytes())
    start, _ = contract_span(bytes(data))
    i = bytes(data).index(b'"file_sha256"', start)
    data[i:i + 13] = b'"file_xxxxxx"'   # same length: the flatbuffer stays readable
    with pytest.raises(ModelError, match="damaged key"):
        read_sealed_contract(bytes(data))
    with pytest.raises(ModelError, match="damaged key"):
        seal_tflite(bytes(data), contract_span(bytes(data)))


def test_json_seal_round_trip_and_a_changed_number():
    doc = {"format": "x", "version": 1, "threshold": [[0.1, 1e308, -2.5]], "n": 3}
    sealed = seal_json(doc)
    assert verify_json(json.loads(json.dumps(sealed))) == sealed[JSON_SEAL_KEY]
    assert verify_json(doc) == UNSEALED
    assert seal_json(sealed) == sealed  # resealing replaces the old seal with the same one
    changed = json.loads(json.dumps(sealed))
    changed["threshold"][0][0] = 0.10000000000000002  # one ulp
    with pytest.raises(ModelError, match="damaged"):
        verify_json(changed)
    for bad in ("ABC", 12, "0" * 63):
        with pytest.raises(ModelError, match="64 lowercase hex"):
            verify_json({**sealed, JSON_SEAL_KEY: bad})
    with pytest.raises(ModelError, match="non-finite"):
        verify_json({**sealed, "n": float("nan")})


def test_a_changed_digit_in_a_rhythm_model_file_is_refused_naming_the_file(tmp_path):
    src = MODELS_DIR / "rhythm_vf.json"
    text = src.read_text()
    doc = json.loads(text)
    t = doc["threshold"][0][0]
    old = json.dumps(t)
    assert text.count(old) >= 1
    bad = tmp_path / "rhythm_vf.json"
    bad.write_text(text.replace(old, json.dumps(t + 1.0), 1))
    with pytest.raises(ModelError) as err:
        load_tree_model(bad, kind="vf_window")
    msg = str(err.value)
    assert msg.startswith(f"{bad}: the file is damaged") and "\n" not in msg


def test_an_unsealed_rhythm_model_loads_with_one_warning(tmp_path, caplog):
    src = MODELS_DIR / "rhythm_vf.json"
    doc = json.loads(src.read_text())
    del doc[JSON_SEAL_KEY]
    p = tmp_path / "old.json"
    p.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="edge.model.seal"):
        a = load_tree_model(p, kind="vf_window")
        b = load_tree_model(p, kind="vf_window")
    warned = [r for r in caplog.records if "no integrity seal" in r.getMessage()]
    assert len(warned) == 1 and str(p) in warned[0].getMessage()
    sealed = load_tree_model(src, kind="vf_window")
    assert np.array_equal(a.threshold, sealed.threshold) and np.array_equal(a.leaf, b.leaf)


def test_a_changed_byte_in_the_seals_name_is_damage_not_an_unsealed_file():
    data = bytearray((MODELS_DIR / "default.tflite").read_bytes())
    i = bytes(data).index(b'"file_sha256"') + 3
    data[i] ^= 0x01
    with pytest.raises(ModelError, match="damaged key"):
        read_contract(bytes(data))
    doc = json.loads((MODELS_DIR / "rhythm_af.json").read_text())
    doc["shx256"] = doc.pop(JSON_SEAL_KEY)
    with pytest.raises(ModelError, match="damaged key"):
        verify_json(doc)


def test_a_json_file_or_a_device_where_a_network_is_expected_is_named(tmp_path):
    from edge.model.classifier import BeatClassifier

    with pytest.raises(ModelError, match="a JSON file .* where a .tflite network is expected"):
        BeatClassifier(MODELS_DIR / "rhythm_af.json")
    with pytest.raises(ModelError, match="not a regular file"):
        BeatClassifier("/dev/null")
