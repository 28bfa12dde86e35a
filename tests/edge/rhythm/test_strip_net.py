"""The strip network: its input (conditioning, 90 Hz, gain removed, crops), the bundled int8
file and its contract, damaged or foreign files refused, and the average with the strip model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.errors import ModelError, SignalError
from edge.rhythm.strip import (
    STRIP_CLASSES,
    STRIP_SETTLE_S,
    blend_probabilities,
    classify_strip,
    default_strip_net,
    load_strip_model,
)
from edge.rhythm.strip_net import (
    DECIMATION,
    NET_CLIP,
    NET_CROP_STEP,
    NET_FS_HZ,
    NET_LENGTH,
    StripNet,
    default_net_path,
    load_strip_net,
    net_contract,
    net_crops,
    net_signal,
)
from tests.edge.rhythm.support import cinc_strip


def _pulses(seconds: float, fs: float, rr_s: float = 0.8) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros_like(t)
    for c in np.arange(0.5, seconds, rr_s):
        x += np.exp(-0.5 * ((t - c) / 0.012) ** 2)
    return x


def test_the_settling_time_is_the_strip_models():
    from edge.rhythm import strip_net

    assert strip_net._SETTLE_S == STRIP_SETTLE_S


@pytest.mark.parametrize("fs", [128.0, 250.0, 300.0, 360.0, 500.0])
def test_signal_rate_length_and_range_at_any_input_rate(fs):
    z = net_signal(_pulses(30.0, fs), fs)
    assert z.dtype == np.float32
    # 29 s after the settling second, at 90 Hz (the front end's delay trims a little)
    assert abs(z.size - (30.0 - STRIP_SETTLE_S) * NET_FS_HZ) <= NET_FS_HZ
    assert np.abs(z).max() <= NET_CLIP
    # the QRS height is the unit: the median 1-s block peak is 1
    per_s = int(NET_FS_HZ)
    peaks = np.abs(z[:z.size // per_s * per_s]).reshape(-1, per_s).max(axis=1)
    assert np.median(peaks) == pytest.approx(1.0, abs=1e-6)


def test_gain_and_units_do_not_matter_polarity_does():
    x = _pulses(20.0, 300.0)
    z = net_signal(x, 300.0)
    np.testing.assert_allclose(net_signal(x * 1000.0, 300.0), z, atol=1e-5)
    np.testing.assert_allclose(net_signal(-x, 300.0), -z, atol=1e-6)


def test_flat_nan_and_tiny_strips_do_not_crash():
    assert not np.any(net_signal(np.zeros(3000), 300.0))
    z = net_signal(np.full(3000, np.nan), 300.0)
    assert np.all(np.isfinite(z))
    assert net_signal(np.zeros(0), 300.0).size == 0
    assert net_signal(np.ones(100), 300.0).size == 0  # shorter than the settling second


@pytest.mark.parametrize("x, fs, words", [(np.zeros((2, 100)), 300.0, "1-D"),
                                          (np.zeros(100), 0.0, "fs_hz"),
                                          (np.zeros(100), float("nan"), "fs_hz")])
def test_bad_signal_is_refused(x, fs, words):
    with pytest.raises(SignalError, match=words):
        net_signal(x, fs)


def test_crops_pad_a_short_strip_and_cover_a_long_one():
    short = np.arange(100, dtype=np.float32)
    c = net_crops(short)
    assert c.shape == (1, NET_LENGTH) and np.all(c[0, :100] == short) and not c[0, 100:].any()
    assert net_crops(np.ones(NET_LENGTH)).shape == (1, NET_LENGTH)
    long = np.arange(NET_LENGTH + NET_CROP_STEP + 7, dtype=np.float32)
    c = net_crops(long)
    assert c.shape == (3, NET_LENGTH)
    assert c[0, 0] == 0 and c[1, 0] == NET_CROP_STEP and c[-1, -1] == long[-1]


def test_bundled_network_contract_and_probabilities():
    net = default_strip_net()
    assert net.classes == STRIP_CLASSES
    assert 0.0 < net.blend_weight < 1.0
    assert net.contract == net_contract(STRIP_CLASSES, net.blend_weight, net.class_scale)
    assert default_net_path().stat().st_size < 256 * 1024
    p = net.predict_proba(_pulses(30.0, 300.0), 300.0)
    assert p.shape == (4,) and abs(p.sum() - 1.0) < 1e-9 and np.all(p >= 0)
    with pytest.raises(SignalError, match="crops"):
        net.predict_crops(np.zeros((0, NET_LENGTH)))
    with pytest.raises(SignalError, match="crops"):
        net.predict_crops(np.zeros((1, 10)))


def _with_contract(tmp_path, contract: dict) -> Path:
    """The bundled network's bytes with another contract embedded (needs TensorFlow)."""
    pytest.importorskip("tensorflow")
    from convert.quantize import embed_contract

    p = tmp_path / "other.tflite"
    p.write_bytes(embed_contract(default_net_path().read_bytes(), contract))
    return p


@pytest.mark.parametrize("change, words", [({"length": 1000}, "length"),
                                           ({"kind": "beat"}, "kind"),
                                           ({"fs_hz": 100.0}, "fs_hz"),
                                           ({"blend_weight": 1.5}, "blend_weight"),
                                           ({"classes": []}, "classes"),
                                           ({"class_scale": {"A": 0.0}}, "class_scale"),
                                           ({"class_scale": {"A": "x"}}, "class_scale"),
                                           ({"class_scale": [0.85]}, "class_scale"),
                                           ({"class_scale": {"X": 2.0}}, "does not have")])
def test_a_contract_that_does_not_match_is_refused(tmp_path, change, words):
    contract = {**net_contract(STRIP_CLASSES, 0.5), **change}
    with pytest.raises(ModelError, match=words):
        load_strip_net(_with_contract(tmp_path, contract))


def test_damaged_foreign_and_missing_files_are_refused(tmp_path):
    good = default_net_path().read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(good[: len(good) // 3])
    noise = tmp_path / "noise.tflite"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    from edge.model.bundled import default_model_path

    for path in (cut, noise, default_model_path()):  # the beat model: a model, not a strip net
        with pytest.raises(ModelError):
            load_strip_net(path)
    with pytest.raises(ModelError, match="cannot read"):
        load_strip_net(tmp_path / "missing.tflite")


def test_blend_matches_classes_by_name():
    tree = np.array([0.7, 0.1, 0.1, 0.1])
    net = np.array([0.2, 0.4, 0.2, 0.2])[[1, 0, 3, 2]]  # classes A, N, ~, O
    out = blend_probabilities(tree, STRIP_CLASSES, net, ("A", "N", "~", "O"), 0.5)
    np.testing.assert_allclose(out, [0.45, 0.25, 0.15, 0.15])
    np.testing.assert_allclose(blend_probabilities(tree, STRIP_CLASSES, net,
                                                   ("A", "N", "~", "O"), 0.0), tree)
    rows = blend_probabilities(np.stack([tree, tree[::-1]]), STRIP_CLASSES,
                               np.stack([net, net]), ("A", "N", "~", "O"), 0.5)
    np.testing.assert_allclose(rows[0], [0.45, 0.25, 0.15, 0.15])  # rows: strip by strip
    np.testing.assert_allclose(rows[1], blend_probabilities(tree[::-1], STRIP_CLASSES, net,
                                                            ("A", "N", "~", "O"), 0.5))
    with pytest.raises(ModelError, match="lacks"):
        blend_probabilities(tree, STRIP_CLASSES, np.ones(5) / 5, STRIP_CLASSES + ("X",), 0.5)


def test_class_scale_multiplies_the_average_and_renormalises():
    tree = np.array([0.4, 0.4, 0.1, 0.1])  # N, A, O, ~
    net = np.array([0.2, 0.6, 0.1, 0.1])
    plain = blend_probabilities(tree, STRIP_CLASSES, net, STRIP_CLASSES, 0.5)
    assert STRIP_CLASSES[int(np.argmax(plain))] == "A"
    out = blend_probabilities(tree, STRIP_CLASSES, net, STRIP_CLASSES, 0.5, {"A": 0.5})
    want = plain * [1.0, 0.5, 1.0, 1.0]
    np.testing.assert_allclose(out, want / want.sum())
    assert STRIP_CLASSES[int(np.argmax(out))] == "N"  # the scale moves the answer
    rows = blend_probabilities(np.stack([tree, tree]), STRIP_CLASSES, np.stack([net, net]),
                               STRIP_CLASSES, 0.5, {"A": 0.5})
    np.testing.assert_allclose(rows, np.stack([out, out]))  # row by row, summing 1
    np.testing.assert_allclose(
        blend_probabilities(tree, STRIP_CLASSES, net, STRIP_CLASSES, 0.5, {}), plain)
    with pytest.raises(ModelError, match="lacks"):
        blend_probabilities(tree, STRIP_CLASSES, net, STRIP_CLASSES, 0.5, {"X": 2.0})


def test_a_file_without_class_scale_scales_nothing(tmp_path):
    net = load_strip_net(_with_contract(tmp_path, net_contract(STRIP_CLASSES, 0.5)))
    assert net.class_scale == {}
    scaled = load_strip_net(_with_contract(tmp_path, net_contract(STRIP_CLASSES, 0.5,
                                                                  {"A": 0.85})))
    assert scaled.class_scale == {"A": 0.85}


def test_classify_strip_averages_the_two_opinions():
    x, fs = cinc_strip("A00004")  # AF
    model = load_strip_model()
    alone = classify_strip(x, fs, model=model, net=False)
    both = classify_strip(x, fs, model=model)
    net = default_strip_net()
    p_net = net.predict_proba(x, fs)
    want = {c: ((1 - net.blend_weight) * alone.probabilities[c]
                + net.blend_weight * float(p_net[net.classes.index(c)]))
            * net.class_scale.get(c, 1.0) for c in STRIP_CLASSES}
    total = sum(want.values())
    want = {c: v / total for c, v in want.items()}
    assert both.probabilities == pytest.approx(want, abs=1e-12)
    assert net.class_scale == {"A": 0.85}  # the bundled file's (training.strip_net.CLASS_SCALE)
    assert both.label == "A" and alone.label == "A"
    assert classify_strip(x, fs, model=model, net=net).probabilities == both.probabilities


def test_two_loads_give_identical_probabilities():
    x, fs = cinc_strip("A00001")
    net = StripNet(default_net_path().read_bytes())
    a = net.predict_proba(x, fs)
    b = default_strip_net().predict_proba(x.copy(), fs)
    np.testing.assert_array_equal(a, b)


def test_decimation_matches_the_processing_rate():
    from edge.dsp.preprocess import PreprocessConfig

    assert PreprocessConfig().fs_out_hz == DECIMATION * NET_FS_HZ
