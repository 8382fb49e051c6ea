"""Output sizes, padding, receptive fields and parameter counts: by hand and by brute force."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from convscope.kernels import geometry as G
from convscope.layerspec import resolve
from convscope.server.schema import param_formula


def specs(layers, input_shape):
    """LayerSpecs for a list of geometry dicts ("pad" = (top, bottom, left, right)), named by index."""
    stored = [{"name": f"l{i}", **{("padding" if k == "pad" else k): v for k, v in layer.items()}}
              for i, layer in enumerate(layers)]
    stored[0]["shape"] = input_shape
    return resolve(stored)


def windowed(layer):
    return layer["kind"] in ("conv", "maxpool", "avgpool", "l2pool")


LENET = [
    {"kind": "input"},
    {"kind": "conv", "out_channels": 6, "kernel": (5, 5), "stride": (1, 1), "pad": (0, 0, 0, 0),
     "dilation": (1, 1)},
    {"kind": "relu"},
    {"kind": "maxpool", "kernel": (2, 2), "stride": (2, 2), "pad": (0, 0, 0, 0),
     "dilation": (1, 1)},
    {"kind": "conv", "out_channels": 16, "kernel": (5, 5), "stride": (1, 1), "pad": (0, 0, 0, 0),
     "dilation": (1, 1)},
    {"kind": "relu"},
    {"kind": "maxpool", "kernel": (2, 2), "stride": (2, 2), "pad": (0, 0, 0, 0),
     "dilation": (1, 1)},
    {"kind": "flatten"},
    {"kind": "dense", "units": 120}, {"kind": "relu"},
    {"kind": "dense", "units": 100}, {"kind": "relu"},
    {"kind": "dense", "units": 10}, {"kind": "softmax"},
]


@pytest.mark.parametrize("n, k, s, p, d, out", [
    (32, 5, 1, 0, 1, 28), (28, 2, 2, 0, 1, 14), (5, 3, 2, 2, 1, 3), (7, 3, 1, 0, 2, 3),
    (224, 7, 2, 6, 1, 112), (10, 3, 3, 0, 1, 3), (4, 5, 1, 0, 1, 0), (2, 5, 1, 0, 1, -2),
    (1, 1, 1, 0, 1, 1), (6, 3, 2, 0, 3, 0),
])
def test_conv_output_size_by_hand(n, k, s, p, d, out):
    assert G.conv_output_size(n, k, s, p, d) == out


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 40), k=st.integers(1, 7), s=st.integers(1, 5), p=st.integers(0, 6),
       d=st.integers(1, 4))
def test_conv_output_size_counts_window_positions(n, k, s, p, d):
    # Definition: window i covers padded rows i*s ... i*s + d*(k-1); it must end inside n + p rows.
    fitting = sum(1 for i in range(n + p + 1) if i * s + d * (k - 1) <= n + p - 1)
    assert max(G.conv_output_size(n, k, s, p, d), 0) == fitting


@pytest.mark.parametrize("args", [(3, 0, 1, 0, 1), (3, 2, 0, 0, 1), (3, 2, 1, -1, 1),
                                  (3, 2, 1, 0, 0), (-1, 2, 1, 0, 1), (3.0, 2, 1, 0, 1)])
def test_conv_output_size_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        G.conv_output_size(*args)


@pytest.mark.parametrize("padding, kernel, dilation, stride, size, expected", [
    ("valid", (5, 5), (1, 1), (1, 1), None, (0, 0, 0, 0)),
    (2, (5, 5), (1, 1), (1, 1), None, (2, 2, 2, 2)),
    ((1, 3), (3, 3), (1, 1), (1, 1), None, (1, 1, 3, 3)),
    ([1, 2, 3, 4], (3, 3), (1, 1), (1, 1), None, (1, 2, 3, 4)),
    ("same", (5, 5), (1, 1), (1, 1), None, (2, 2, 2, 2)),
    ("same", (4, 2), (1, 1), (1, 1), None, (1, 2, 0, 1)),      # odd total: extra pixel bottom/right
    ("same", (3, 3), (2, 3), (1, 1), None, (2, 2, 3, 3)),      # total = d*(k-1)
    ("same", (3, 3), (1, 1), (2, 2), (7, 8), (1, 1, 0, 1)),    # TF: ceil(n/s) outputs
    ("same", (1, 1), (1, 1), (5, 5), (10, 10), (0, 0, 0, 0)),
    ("SAME", (3, 3), (1, 1), (1, 1), None, (1, 1, 1, 1)),
])
def test_resolve_padding_by_hand(padding, kernel, dilation, stride, size, expected):
    assert G.resolve_padding(padding, kernel, dilation, stride, input_size=size) == expected


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), d=st.integers(1, 3))
def test_same_padding_keeps_ceil_n_over_s_outputs(n, k, s, d):
    top, bottom, _, _ = G.resolve_padding("same", (k, 1), (d, 1), (s, 1), input_size=(n, 1))
    assert 0 <= bottom - top <= 1
    assert G.conv_output_size(n, k, s, top + bottom, d) == math.ceil(n / s)


@pytest.mark.parametrize("padding, stride", [
    ("full", (1, 1)), (-1, (1, 1)), ((1, -1), (1, 1)), ((1, 2, 3), (1, 1)), (True, (1, 1)),
    (1.5, (1, 1)), (None, (1, 1)), ("same", (2, 2)),  # stride 2 "same" without input_size
])
def test_resolve_padding_rejects_bad_forms(padding, stride):
    with pytest.raises(ValueError, match="padding|input_size"):
        G.resolve_padding(padding, (3, 3), (1, 1), stride)


def test_lenet_shapes_fields_and_params():
    stack = specs(LENET, (1, 32, 32))
    shapes = [ls.out_shape for ls in stack]
    assert shapes == [(1, 32, 32), (6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10),
                      (16, 10, 10), (16, 5, 5), (400,), (120,), (120,), (100,), (100,),
                      (10,), (10,)]
    fields = G.receptive_fields(stack)
    sizes = [f["size"][0] for f in fields]
    jumps = [f["jump"][0] for f in fields]
    assert sizes[:7] == [1, 5, 5, 6, 14, 14, 16] and jumps[:7] == [1, 1, 1, 2, 2, 2, 4]
    assert all(f["offset"] == (0, 0) for f in fields)
    assert all(f == {"size": (32, 32), "jump": (0, 0), "offset": (0, 0)} for f in fields[7:])
    formulas = [param_formula(describe(ls)) for ls in stack]
    assert formulas[1] == "6 × (5·5·1 + 1) = 156"
    assert formulas[4] == "16 × (5·5·6 + 1) = 2416"
    assert formulas[8] == "120 × (400 + 1) = 48120"
    assert formulas[2] is None and G.param_count(stack[2]) == 0
    counts = [G.param_count(ls) for ls in stack]
    assert sum(counts) == 156 + 2416 + 48120 + 12100 + 1010


def describe(ls):
    """The fields of a Network.describe() entry that param_formula reads."""
    return {**ls.vocabulary(), "params": G.param_count(ls), "input_shape": list(ls.in_shape),
            "output_shape": list(ls.out_shape),
            "connections": [list(r) for r in ls.connections] if ls.connections
            else [[1] * ls.in_shape[0]] * ls.out_shape[0]}


def test_partial_connection_table_counts_links():
    mask = np.ones((16, 6), np.float32)
    mask[:, :2] = 0
    mask[:12, :] = 0
    mask[0, 0] = 1  # 4 rows × 4 links + 1 = 17 links
    layer = {"kind": "conv", "out_channels": 16, "kernel": (5, 5), "connections": mask}
    conv = specs([{"kind": "input"}, layer], (6, 14, 14))[1]
    assert G.param_count(conv) == 17 * 25 + 16
    assert param_formula(describe(conv)) == "17 connections × 5·5 + 16 = 441"
    full = specs([{"kind": "input"}, dict(layer, connections=np.ones((16, 6)))], (6, 14, 14))[1]
    assert param_formula(describe(full)) == "16 × (5·5·6 + 1) = 2416"


def test_window_that_does_not_fit_is_a_clear_error():
    layers = [{"kind": "input", "name": "input", "shape": (1, 3, 3)},
              {"kind": "conv", "name": "conv9", "out_channels": 1, "kernel": (5, 5)}]
    with pytest.raises(ValueError, match="conv9"):
        resolve(layers)
    with pytest.raises(ValueError, match="unknown kind"):
        resolve([layers[0], {"kind": "dropin", "name": "d"}])


# --- brute force: which input positions reach a unit, traced one axis at a time -------------------

def _axis(layer, a):
    return layer["kernel"][a], layer["stride"][a], layer["dilation"][a], layer["pad"][2 * a]


def _extended_set(layers, a, index, i):
    """Input coordinates read by unit i of layers[index], on grids extended past every edge."""
    if index < 0:
        return {i}
    layer = layers[index]
    if not windowed(layer):
        return _extended_set(layers, a, index - 1, i)
    k, s, d, p = _axis(layer, a)
    return set().union(*(_extended_set(layers, a, index - 1, i * s - p + d * t) for t in range(k)))


def _actual_mask(layers, shapes, input_hw, index, unit):
    """Boolean (H, W) mask of input pixels with a path to `unit` (or to every unit if None)."""
    out_hw = shapes[index][1:] if len(shapes[index]) == 3 else shapes[index - 1][1:]
    mask = np.zeros(out_hw, bool)
    if unit is None:
        mask[:] = True
    else:
        mask[unit] = True
    for j in range(index if len(shapes[index]) == 3 else index - 1, -1, -1):
        if not windowed(layers[j]):
            continue
        (kh, sh, dh, ph), (kw, sw, dw, pw) = _axis(layers[j], 0), _axis(layers[j], 1)
        h, w = shapes[j - 1][1:] if j > 0 else input_hw
        pad = layers[j]["pad"]
        padded = np.zeros((h + pad[0] + pad[1], w + pad[2] + pad[3]), bool)
        for y, x in zip(*np.nonzero(mask)):
            for ty in range(kh):
                padded[y * sh + dh * ty, x * sw + dw * np.arange(kw)] = True
        mask = padded[ph:ph + h, pw:pw + w]
    return mask


def _random_layer(draw):
    kind = draw(st.sampled_from(["conv", "maxpool", "avgpool", "l2pool", "relu"]))
    if kind == "relu":
        return {"kind": kind}
    two = lambda lo, hi: (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))  # noqa: E731
    dilation = two(1, 3) if kind == "conv" else (1, 1)
    return {"kind": kind, "out_channels": 2, "kernel": two(1, 4), "stride": two(1, 3),
            "dilation": dilation, "pad": (*two(0, 2), *two(0, 2))}


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_receptive_fields_match_brute_force(data):
    layers = [{"kind": "input"}]
    layers += [_random_layer(data.draw) for _ in range(data.draw(st.integers(1, 4)))]
    layers.append({"kind": "flatten"})
    input_hw = (data.draw(st.integers(1, 20)), data.draw(st.integers(1, 20)))
    try:
        stack = specs(layers, (1,) + input_hw)
    except ValueError:
        assume(False)
    shapes = [ls.out_shape for ls in stack]
    fields = G.receptive_fields(stack)
    no_padding = all(sum(layer.get("pad", (0,))) == 0 for layer in layers)
    for index in range(len(layers) - 1):
        f = fields[index]
        for a in (0, 1):
            for i in range(shapes[index][1 + a]):
                seen = _extended_set(layers, a, index, i)
                assert min(seen) == f["offset"][a] + i * f["jump"][a], (index, a, i)
                last = f["offset"][a] + i * f["jump"][a] + f["size"][a] - 1
                assert max(seen) == last, (index, a, i)
        unit = (shapes[index][1] - 1, shapes[index][2] - 1)
        rows, cols = np.nonzero(_actual_mask(layers, shapes, input_hw, index, unit))
        top = f["offset"][0] + unit[0] * f["jump"][0]
        left = f["offset"][1] + unit[1] * f["jump"][1]
        if rows.size:
            assert rows.min() >= top and rows.max() <= top + f["size"][0] - 1
            assert cols.min() >= left and cols.max() <= left + f["size"][1] - 1
        if no_padding:  # every path stays inside real maps: the field is exactly the pixels seen
            assert (rows.min(), rows.max() + 1 - rows.min()) == (top, f["size"][0])
            assert (cols.min(), cols.max() + 1 - cols.min()) == (left, f["size"][1])
    rows, cols = np.nonzero(_actual_mask(layers, shapes, input_hw, len(layers) - 1, None))
    flat = fields[-1]
    assert flat["jump"] == (0, 0)
    if rows.size:
        assert flat["offset"] == (rows.min(), cols.min())
        assert flat["size"] == (rows.max() - rows.min() + 1, cols.max() - cols.min() + 1)
    else:
        assert flat["size"] == (0, 0)
