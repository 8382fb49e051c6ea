"""The one layer description: resolve() on stored specs, the vocabulary /api/model sends, and the
fusion matcher the trace and the training share."""
import pytest

from convscope.convnet import architecture
from convscope.convnet.layers import TRACE_FUSIONS, TRAIN_FUSIONS, chains
from convscope.layerspec import KINDS, REDUCE, resolve

INPUT = {"name": "input", "kind": "input", "shape": [3, 17, 12]}


def test_every_pool_kind_says_how_it_reduces_and_nothing_else_does():
    assert {k for k, op in KINDS.items() if op == "pool"} == set(REDUCE)


def test_lenet_vocabulary():
    stack = resolve(architecture("lenet"))
    ops = [ls.op for ls in stack]
    assert ops == ["input", "conv", "activation", "pool", "conv", "activation", "pool", "flatten",
                   "dense", "activation", "dense", "activation", "dense", "softmax"]
    families = [ls.family for ls in stack]
    assert families == ["map"] * 7 + ["vector"] * 7       # relu3/relu4 are vectors, not maps
    assert [ls.inputs for ls in stack[1:]] == [(prev.name,) for prev in stack[:-1]]
    assert stack[0].inputs == ()
    pool = stack[3].vocabulary()
    assert pool == {"op": "pool", "family": "map", "inputs": ["relu1"], "reduce": "max",
                    "window": {"kernel": [2, 2], "stride": [2, 2], "pad": [0, 0, 0, 0], "dilation": [1, 1]}}
    assert stack[2].vocabulary()["window"] is None and "reduce" not in stack[2].vocabulary()


@pytest.mark.parametrize("padding, stride, dilation, pad, out_hw", [
    # worked by hand for a 3×2 kernel on 17×12: out = ⌊(n + p − d·(k − 1) − 1) / s⌋ + 1
    ("same", (2, 3), (1, 1), (1, 1, 0, 0), (9, 4)),          # ⌈17/2⌉, ⌈12/3⌉; height pads 8·2 + 3 − 17 = 2
    ("valid", (1, 1), (2, 1), (0, 0, 0, 0), (13, 11)),       # 17 − 2·2, 12 − 1
    (1, (2, 2), (1, 2), (1, 1, 1, 1), (9, 6)),               # ⌊16/2⌋ + 1, ⌊11/2⌋ + 1
    ((0, 2, 1, 3), (3, 1), (1, 1), (0, 2, 1, 3), (6, 15)),   # ⌊16/3⌋ + 1, 16 − 1
])
def test_conv_window_is_resolved_against_its_input(padding, stride, dilation, pad, out_hw):
    conv = {"name": "c", "kind": "conv", "out_channels": 4, "kernel": [3, 2], "stride": list(stride),
            "padding": padding, "dilation": list(dilation)}
    ls = resolve([INPUT, conv])[1]
    assert ls.window.pad == pad and ls.window.stride == stride and ls.window.dilation == dilation
    assert ls.out_shape == (4, *out_hw)
    assert ls.hyper() == {"out_channels": 4, "kernel": [3, 2], "stride": list(stride), "pad": list(pad),
                          "dilation": list(dilation), "bias": True}


def test_pool_stride_defaults_to_its_size_and_leaky_relu_keeps_its_slope():
    stack = resolve([INPUT, {"name": "p", "kind": "avgpool", "size": [3, 2]},
                     {"name": "a", "kind": "leaky_relu", "alpha": 0.2}])
    assert stack[1].window.stride == (3, 2) and stack[1].out_shape == (3, 5, 6)
    assert stack[1].reduce == "mean" and stack[2].hyper() == {"alpha": 0.2}


@pytest.mark.parametrize("layers, message", [
    ([{"name": "d", "kind": "dense", "units": 3}], "flat input"),
    ([{"name": "c", "kind": "conv", "out_channels": 2, "kernel": [5, 5], "connections": [[1, 1, 1]]}],
     "connection table must be 2×3"),
    ([{"name": "f", "kind": "flatten"}, {"name": "p", "kind": "maxpool", "size": [2, 2]}], r"needs a \(C, H, W\)"),
    ([{"name": "input", "kind": "relu"}], "unique"),
    ([{"name": "x", "kind": "dropin"}], "unknown kind 'dropin'"),
    ([{"name": "c", "kind": "conv", "out_channels": 600, "kernel": [3, 3]}], "from 1 to 512"),
    ([{"name": "c", "kind": "conv", "out_channels": 2, "kernel": [13, 3]}], "at most 11×11"),
    ([{"name": "c", "kind": "conv", "out_channels": 2, "kernel": [3, 3], "bias": "no"}], "true or false"),
    ([{"name": "n", "kind": "normalize", "steps": [{"op": "sub", "value": [1, 2]}]}], "3 finite numbers"),
    ([{"name": "n", "kind": "normalize", "steps": [{"op": "div", "value": [1, 0, 2]}]}], "divides by zero"),
    ([{"name": "n", "kind": "normalize", "steps": [{"op": "pow", "value": [1, 1, 1]}]}], "each step"),
])
def test_impossible_specs_name_the_layer(layers, message):
    with pytest.raises(ValueError, match=message):
        resolve([INPUT, *layers])


@pytest.mark.parametrize("kinds, patterns, runs", [
    (["conv", "relu", "maxpool", "flatten", "dense", "relu", "dense", "softmax"], TRACE_FUSIONS,
     [(0, 3), (3, 1), (4, 2), (6, 2)]),
    (["conv", "relu", "maxpool", "flatten", "dense", "relu", "dense"], TRAIN_FUSIONS,
     [(0, 3), (3, 1), (4, 1), (5, 1), (6, 1)]),
    (["conv", "relu", "avgpool", "conv", "relu", "maxpool"], TRACE_FUSIONS, [(0, 1), (1, 1), (2, 1), (3, 3)]),
    (["conv", "relu"], TRACE_FUSIONS, [(0, 1), (1, 1)]),
    ([], TRACE_FUSIONS, []),
])
def test_one_fusion_matcher_for_trace_and_training(kinds, patterns, runs):
    assert chains(kinds, patterns) == runs


@pytest.mark.parametrize("shape, message", [
    ([2, 28, 28], "1 \\(gray\\) or 3 \\(RGB\\)"), ([1, 7, 28], "from 8×8"), ([1, 28, 300], "to 256×256"),
])
def test_image_input_limits_are_enforced(shape, message):
    from convscope.layerspec import check_image_input
    resolve([{"name": "input", "kind": "input", "shape": shape}])   # the engine reads any shape…
    with pytest.raises(ValueError, match=message):                   # …ConvScope serves images
        check_image_input(shape)


@pytest.mark.parametrize("shape", [[1, 28], [0, 8, 8], [600, 8, 8], "28x28"])
def test_input_shape_must_be_three_counts(shape):
    with pytest.raises(ValueError, match="input"):
        resolve([{"name": "input", "kind": "input", "shape": shape}])


def test_new_kinds_resolve_with_their_shapes_and_words():
    stack = resolve([INPUT,
                     {"name": "n", "kind": "normalize", "steps": [{"op": "sub", "value": [0.5] * 3}]},
                     {"name": "c", "kind": "conv", "out_channels": 4, "kernel": [3, 3], "bias": False},
                     {"name": "bn", "kind": "batchnorm", "eps": 1e-3},
                     {"name": "e", "kind": "elu", "alpha": 0.5},
                     {"name": "p", "kind": "avgpool", "size": [2, 2], "padding": 1, "count_pad": False},
                     {"name": "d", "kind": "dropout"},
                     {"name": "g", "kind": "global_maxpool"},
                     {"name": "f", "kind": "flatten"}, {"name": "fc", "kind": "dense", "units": 3, "bias": False}])
    by = {ls.name: ls for ls in stack}
    assert [by[k].op for k in "n c bn e p d g f fc".split()] == [
        "affine", "conv", "affine", "activation", "pool", "activation", "pool", "flatten", "dense"]
    assert by["c"].out_shape == (4, 15, 10) and by["c"].hyper()["bias"] is False
    assert by["p"].out_shape == (4, 8, 6) and by["p"].hyper()["count_pad"] is False
    assert by["g"].window.kernel == (8, 6) and by["g"].out_shape == (4, 1, 1) and by["g"].reduce == "max"
    assert by["e"].hyper() == {"alpha": 0.5} and by["bn"].hyper() == {"eps": 1e-3}
    assert by["fc"].hyper() == {"units": 3, "bias": False}
