"""The contract-carrying small networks' runner (edge.model.small_net.SmallNet)."""
import numpy as np
import pytest

from edge.rhythm.strip_net import load_strip_net
from edge.rhythm.vf_net import load_vf_net


@pytest.fixture(scope="module", params=["vf", "strip"])
def net(request):
    return (load_vf_net() if request.param == "vf" else load_strip_net())._net


def _one(net, x):
    """One example through the interpreter by hand: int8 quantisation (round half to even,
    clipped), one invocation, dequantisation."""
    it = net._interp
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    scale, zero = inp["quantization"]
    q = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
    it.set_tensor(inp["index"], q[None])
    it.invoke()
    o_scale, o_zero = out["quantization"]
    return (it.get_tensor(out["index"])[0].astype(np.float64) - o_zero) * o_scale


def test_rows_at_once_are_the_examples_one_by_one(net, rng):
    """Quantising a batch at once gives each example's own output bits, inputs beyond the
    int8 range (clipped) included."""
    assert net._in.dtype == np.int8  # the bundled networks are full int8
    xs = rng.normal(0.0, 2.0, size=(9, *net.input_shape)).astype(np.float32)
    xs[0] = 0.0
    xs[1] *= 1e3  # clipped at both ends
    rows = net.invoke_rows(xs)
    assert rows.dtype == np.float64 and rows.shape == (9, net._out_shape[0])
    for x, row in zip(xs, rows):
        np.testing.assert_array_equal(_one(net, x), row)
        np.testing.assert_array_equal(net.invoke(x), row)
    assert len({r.tobytes() for r in rows}) > 1  # the inputs matter
    assert net.invoke_rows(xs[:0]).shape == (0, net._out_shape[0])


def test_an_example_of_another_size_is_refused(net):
    with pytest.raises(ValueError):
        net.invoke(np.zeros(7, dtype=np.float32))
