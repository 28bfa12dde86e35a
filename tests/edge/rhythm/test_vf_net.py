"""The VF network on the device: its input, the bundled int8 file, bad files, and the VF
detector's average of trees and network (screening stays exact, chunk invariance, the
trees alone when it is off)."""
from pathlib import Path

import numpy as np
import pytest

from edge.dsp.preprocess import PreprocessConfig, Preprocessor
from edge.errors import ConfigError, ModelError, SignalError
from edge.io.records import read_record
from edge.rhythm.ventricular import VentricularConfig, VfDetector, load_vf_model
from edge.rhythm.vf_net import (
    CLIP_MV,
    DECIMATION,
    NET_LENGTH,
    PEAK_FLOOR_MV,
    decimate_rows,
    default_vf_net_path,
    load_vf_net,
    vf_net_contract,
    vf_net_input,
)
from tests.edge.rhythm.test_ventricular import (
    EXCERPT,
    _windows_and_changes,
    synthetic_ecg,
    synthetic_vf,
)

REPO = Path(__file__).resolve().parents[3]
FS = 360.0
N_WINDOW = NET_LENGTH * DECIMATION


def _rows(x, step=360):
    """4-s windows of a signal at 360 Hz stepped ``step`` samples."""
    starts = range(0, x.size - N_WINDOW + 1, step)
    return np.stack([x[s:s + N_WINDOW] for s in starts])


def test_decimate_rows_means_blocks_and_checks_shape_and_rate():
    rows = np.arange(2 * N_WINDOW, dtype=float).reshape(2, N_WINDOW)
    z = decimate_rows(rows, FS)
    assert z.shape == (2, NET_LENGTH) and z.dtype == np.float32
    assert z[0, 0] == pytest.approx(1.5) and z[1, -1] == pytest.approx(2 * N_WINDOW - 2.5)
    with pytest.raises(SignalError, match="360 Hz"):
        decimate_rows(rows, 250.0)
    with pytest.raises(SignalError, match="windows must be"):
        decimate_rows(rows[:, :-4], FS)
    with pytest.raises(SignalError, match="windows must be"):
        decimate_rows(rows[0], FS)


def test_input_channels_clip_normalise_and_zero_non_finite():
    z = np.zeros((2, NET_LENGTH), dtype=np.float32)
    z[0, 10] = 10.0  # a huge spike: clipped in mV, 1 when normalised
    z[0, 11] = -2.5
    z[1, :] = np.nan
    x = vf_net_input(z)
    assert x.shape == (2, NET_LENGTH, 2) and x.dtype == np.float32
    assert x[0, 10, 0] == CLIP_MV and x[0, 11, 0] == -2.5
    assert x[0, 10, 1] == pytest.approx(10 / (10 + PEAK_FLOOR_MV))
    assert x[0, 11, 1] == pytest.approx(-2.5 / (10 + PEAK_FLOOR_MV))
    assert np.all(x[1] == 0)  # NaN reads as 0, not NaN
    # gain: the second channel does not move with it (up to the small floor)
    g = vf_net_input(np.sin(np.linspace(0, 20, NET_LENGTH))[None, :] * np.array([[0.5], [2.0]]))
    assert np.max(np.abs(g[0, :, 1] - g[1, :, 1])) < 0.1
    with pytest.raises(SignalError, match="decimated windows"):
        vf_net_input(np.zeros((1, 10)))


def test_bundled_network_contract_and_answers():
    net = load_vf_net()
    assert net.contract == vf_net_contract(net.blend_weight)
    assert 0.0 < net.blend_weight <= 1.0
    vf = net.predict(_rows(synthetic_vf(30, FS)), FS)
    sinus = net.predict(_rows(synthetic_ecg(30, FS)), FS)
    assert vf.shape == (27,) and np.all((vf >= 0) & (vf <= 1))
    assert np.median(vf) > 0.7 and np.max(sinus) < 0.3
    # one window at a time = a batch (each is run alone)
    rows = _rows(synthetic_vf(8, FS))
    assert np.array_equal(net.predict(rows, FS),
                          np.concatenate([net.predict(r[None], FS) for r in rows]))


def test_bad_network_files_are_one_line_model_errors(tmp_path):
    data = default_vf_net_path().read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(data[: len(data) // 3])
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model at all" * 50)
    cases = {tmp_path / "missing.tflite": "cannot read",
             cut: str(cut), junk: str(junk),
             REPO / "edge" / "models" / "rhythm_strip_net.tflite": "kind",
             REPO / "edge" / "models" / "default.tflite": "default.tflite"}
    for path, match in cases.items():
        with pytest.raises(ModelError, match=match) as exc:
            load_vf_net(path)
        assert "\n" not in str(exc.value)


def _run(x, fs, step, screen=True, **config):
    return _windows_and_changes(x, fs, screen, step, **config)


def _excerpt(seconds=60):
    rec = read_record(EXCERPT)
    return rec.signal_mv[:, 0][: int(rec.fs_hz * seconds)], rec.fs_hz


def test_detector_averages_trees_and_network():
    x, fs = _excerpt()
    wins, _, det = _run(x, fs, 250, screen=False)
    trees, _, _ = _run(x, fs, 250, screen=False, net=False)
    assert det.net is not None
    rows_p = np.array([w.p for w in wins])
    tree_p = np.array([w.p for w in trees])
    ok = np.isfinite(tree_p)
    assert ok.sum() > 40
    # recompute the average from the two parts on the same windows
    pre = Preprocessor(PreprocessConfig(fs_in_hz=fs))
    c = pre.process(x)
    cond = np.concatenate([c.filtered_mv, pre.flush().filtered_mv])
    ends = np.array([w.end_index for w in wins])[ok]
    net_p = det.net.predict(np.stack([cond[e - N_WINDOW:e] for e in ends]), FS)
    w = det.net.blend_weight
    assert np.allclose(rows_p[ok], (1 - w) * tree_p[ok] + w * net_p, atol=1e-12)


@pytest.mark.parametrize("step", [1, 97, 250, 2500])
def test_screening_with_the_network_changes_no_episode(step):
    x, fs = _excerpt(60)
    x = np.concatenate([synthetic_ecg(20, fs), x])
    full_w, full_c, _ = _run(x, fs, 2500, screen=False)
    w, c, det = _run(x, fs, step)
    assert det.n_screened > 0
    assert [(k.state, k.sample_index, k.alarm_index, k.rhythm) for k in c] == \
        [(k.state, k.sample_index, k.alarm_index, k.rhythm) for k in full_c]
    # every window the screen let through has the unscreened P; a screened one's bound
    # lies at or above it
    for a, b in zip(w, full_w):
        assert a.end_index == b.end_index
        if np.isfinite(a.p):
            assert a.p == pytest.approx(b.p, abs=1e-12)
        elif np.isfinite(b.p):
            assert a.p_max + 1e-9 >= b.p
    # the network's P comes first: windows it rules out alone have no feature at all, and
    # their bound is what a tree P of 1 would give
    bare = [a for a in w if np.isnan(a.p) and np.isfinite(a.p_max)
            and np.isnan(a.features).all()]
    assert bare and all(a.p_max < det.config.p_shockable for a in bare)
    assert all(a.p_max >= 1 - det.net.blend_weight for a in bare)


def test_network_needs_four_second_windows_at_360_hz():
    with pytest.raises(ConfigError, match="window_s.*net = false"):
        VentricularConfig(window_s=3.0)  # refused with the settings, before any device runs
    with pytest.raises(ConfigError, match="net"):
        VfDetector(VentricularConfig(fs_hz=250.0))
    assert VfDetector(VentricularConfig(window_s=3.0, net=False)).net is None
    with pytest.raises(ConfigError, match="net"):
        VentricularConfig(net="yes")
    with pytest.raises(ModelError, match="cannot read"):
        VfDetector(VentricularConfig(net_path="/nonexistent/vf.tflite"))
    # an explicit network wins over the config; False turns it off
    net = load_vf_net()
    assert VfDetector(VentricularConfig(net=False), load_vf_model(), net).net is net
    assert VfDetector(net=False).net is None
