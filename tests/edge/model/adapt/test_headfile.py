"""The wearer head's file (:mod:`edge.model.adapt.headfile`): it round-trips, is small, and a
damaged, foreign or older file is refused with one line naming the file, or read as the version
that wrote it applied it."""
import json

import numpy as np
import pytest

from edge.errors import AdaptedModelError
from edge.model.adapt import AdaptConfig, WearerHead, fit_head
from tests.edge.model.adapt.support import v_wearer, wearer


def test_templates_are_capped_and_round_trip(rng, tmp_path):
    proba, emb, feats, y, _ = v_wearer(rng, 3000)
    head = fit_head(proba, emb, feats, y, AdaptConfig(max_templates=1000))
    assert head.templates.shape[0] == 1000
    path = head.save(tmp_path / "w.npz")
    assert path.stat().st_size < 1_000_000
    back = WearerHead.load(path)
    np.testing.assert_array_equal(back.templates, head.templates)
    assert back.template_reach == pytest.approx(head.template_reach)
    np.testing.assert_allclose(back.apply(proba, back.inputs(emb, feats), feats),
                               head.apply(proba, head.inputs(emb, feats), feats))
    with np.load(path) as z:  # damaged: templates without their labels
        arrays = {k: z[k] for k in z.files if k != "template_labels"}
    with open(tmp_path / "bad.npz", "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(AdaptedModelError):
        WearerHead.load(tmp_path / "bad.npz")


def test_head_file_round_trips_and_is_small(rng, tmp_path):
    proba, emb, feats, y = wearer(rng, 400)
    head = fit_head(proba, emb, feats, y, AdaptConfig(), base_sha256="ab" * 32,
                    base_model_version="v", base_file="m.tflite")
    path = head.save(tmp_path / "wearer.adapted")
    assert path.stat().st_size < 1_000_000
    back = WearerHead.load(path)
    assert back.adapted == head.adapted and back.fallback == head.fallback
    assert back.counts == head.counts and back.base_sha256 == head.base_sha256
    np.testing.assert_array_equal(back.weights, head.weights)
    np.testing.assert_allclose(back.apply(proba, back.inputs(emb, feats), feats),
                               head.apply(proba, head.inputs(emb, feats), feats))


def test_damaged_or_foreign_file_is_refused(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz at all")
    with pytest.raises(AdaptedModelError, match="not an ecg-edge adapted model"):
        WearerHead.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, meta=np.array('{"format": "something-else"}'), mean=np.zeros(1),
             std=np.ones(1), weights=np.zeros((2, 5)))
    with pytest.raises(AdaptedModelError, match="format 'something-else'"):
        WearerHead.load(other)
    with pytest.raises(AdaptedModelError, match="not found"):
        WearerHead.load(tmp_path / "missing.npz")
    with pytest.raises(AdaptedModelError, match="a folder, not an adapted model file"):
        WearerHead.load(tmp_path)  # session 49 audit: it said "not found"


# --- damaged files (issue 14, bad input 2) ------------------------------------------------

@pytest.fixture
def small_head_file(rng, tmp_path):
    """A valid head file with a few templates (a few kB), and the head it holds."""
    proba, emb, feats, y = wearer(rng, 40, k=4)
    head = fit_head(proba, emb, feats, y, AdaptConfig(min_beats=3, template_k=3))
    return head.save(tmp_path / "wearer.npz"), head


def _refused(path, data: bytes) -> str:
    path.write_bytes(data)
    with pytest.raises(AdaptedModelError) as err:
        WearerHead.load(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{path}: "), msg
    assert "allow_pickle" not in msg and "pickle.load" not in msg, msg
    return msg


def test_empty_truncated_and_random_files_are_refused_in_one_line(small_head_file, tmp_path):
    path, _ = small_head_file
    good = path.read_bytes()
    bad = tmp_path / "bad.adapted.npz"
    assert "empty file" in _refused(bad, b"")
    for n in (1, 3, 4, 30, len(good) // 3, len(good) // 2, len(good) - 22, len(good) - 1):
        _refused(bad, good[:n])
    rng = np.random.default_rng(7)
    assert "not an ecg-edge adapted model file" in _refused(bad, rng.bytes(5000))
    assert "not an ecg-edge adapted model file" in _refused(bad, b"\x93NUMPY" + rng.bytes(200))
    _refused(bad, b"PK\x03\x04" + rng.bytes(3000))  # a zip signature, then noise


def test_a_member_holding_python_objects_is_refused_without_numpy_advice(tmp_path):
    path = tmp_path / "objects.npz"
    with open(path, "wb") as fh:
        np.savez(fh, meta=np.array(["x", None], dtype=object), mean=np.zeros(1),
                 std=np.ones(1), weights=np.zeros((2, 5)))
    assert "Python objects" in _refused(path, path.read_bytes())


def test_every_flipped_byte_is_refused_or_harmless(small_head_file, tmp_path):
    """Bytes of a valid file flipped one at a time (every byte of the zip directory at the end,
    where one flip can hide members; every 7th elsewhere): the file is refused with one line,
    or (a byte no reader uses, e.g. a zip timestamp) reads to the very same head -- never
    another exception, never a different head."""
    path, head = small_head_file
    good = path.read_bytes()
    bad = tmp_path / "flipped.npz"
    directory = good.find(b"PK\x01\x02")
    offsets = sorted(set(range(0, directory, 7)) | set(range(directory, len(good))))
    refused = 0
    for i in offsets:
        data = bytearray(good)
        data[i] ^= 0xFF
        bad.write_bytes(bytes(data))
        try:
            back = WearerHead.load(bad)
        except AdaptedModelError as exc:
            msg = str(exc)
            assert "\n" not in msg and str(bad) in msg and "allow_pickle" not in msg, (i, msg)
            refused += 1
            continue
        for k in ("mean", "std", "weights", "templates", "template_labels"):
            np.testing.assert_array_equal(getattr(back, k), getattr(head, k), err_msg=str(i))
        assert back.config == head.config and back.adapted == head.adapted, i
    assert refused > 0.8 * len(offsets)  # most bytes matter; the rest are harmless


def test_wrong_member_types_and_bad_meta_are_refused(small_head_file, tmp_path):
    path, _ = small_head_file
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    bad = tmp_path / "bad.npz"

    def refused_with(**changes) -> str:
        with open(bad, "wb") as fh:
            np.savez(fh, **{**arrays, **changes})
        return _refused(bad, bad.read_bytes())

    assert "'weights' must hold numbers" in refused_with(weights=np.array(["a", "b"]))
    assert "'meta' must be a text scalar" in refused_with(meta=np.zeros(3))
    assert "not valid JSON" in refused_with(meta=np.array("{nope"))
    assert "inconsistent head shapes" in refused_with(mean=np.zeros(()))
    meta = json.loads(str(arrays["meta"]))
    for key, value, match in (("embedding_size", "many", "invalid meta"),
                              ("classes", None, "invalid meta"),
                              ("config", [1, 2], "'config' must be an object")):
        assert match in refused_with(meta=np.array(json.dumps({**meta, key: value})))
    del meta["base_sha256"]
    assert "meta lacks 'base_sha256'" in refused_with(meta=np.array(json.dumps(meta)))


# --- files written by older versions ------------------------------------------------------

def _rewrite_config(path, out, drop=(), **set_):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    for key in drop:
        meta["config"].pop(key)
    meta["config"].update(set_)
    arrays["meta"] = np.array(json.dumps(meta))
    with open(out, "wb") as fh:
        np.savez(fh, **arrays)
    return out


def test_older_files_without_later_settings_apply_as_before(rng, tmp_path):
    """A head file from before the template vote, the exact V fallback and the fallback cap
    (config keys missing) is applied as that version did: the features it lacked are off."""
    proba, emb, feats, y = wearer(rng, 600)  # V not adapted: the exact fallback would act
    head = fit_head(proba[:300], emb[:300], feats[:300], y[:300],
                    AdaptConfig(template_k=0, exact_fallback=(), max_fallback_gain=None,
                                template_novelty=None, novel_ectopic_log=None,
                                template_vote_unadapted=False, class_min_beats={}))
    new = head.save(tmp_path / "new.npz")
    later = ("class_min_beats", "max_fallback_gain", "exact_fallback", "template_k",
             "template_weight", "template_floor", "template_classes", "template_vote_unadapted",
             "max_templates", "template_novelty", "novel_ectopic_log")
    old = WearerHead.load(_rewrite_config(new, tmp_path / "old.npz", drop=later))
    assert old.config.template_k == 0 and old.config.exact_fallback == ()
    assert old.config.max_fallback_gain is None and not old.config.template_vote_unadapted
    x = old.inputs(emb[300:], feats[300:])
    np.testing.assert_array_equal(old.apply(proba[300:], x, feats[300:]),
                                  head.apply(proba[300:], x, feats[300:]))
    # with today's defaults the same weights would be applied differently
    today = WearerHead(**{**old.__dict__, "config": AdaptConfig()})
    assert not np.array_equal(today.apply(proba[300:], x, feats[300:]),
                              old.apply(proba[300:], x, feats[300:]))


def test_a_config_missing_what_the_head_needs_or_unknown_is_refused(small_head_file, tmp_path):
    path, _ = small_head_file
    for drop, set_, match in ((("prob_floor",), {}, "lacks 'prob_floor'"),
                              (("template_weight",), {}, "lacks 'template_weight'"),
                              ((), {"use_rr": "yes"}, "use_rr: expected true or false"),
                              ((), {"from_the_future": 1}, "from_the_future: unknown setting")):
        bad = _rewrite_config(path, tmp_path / "bad.npz", drop, **set_)
        assert match in _refused(bad, bad.read_bytes())
