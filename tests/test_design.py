"""Designs: presets, every choice's limits, and impossible designs explained, never a crash."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from convscope.convnet import design
from convscope.convnet.network import Network
from convscope.convnet.spec import LENET, LENET5_C3_TABLE
from convscope.layerspec import resolve


def test_every_preset_builds_a_network_that_traces():
    for name in design.PRESETS:
        spec = design.build({"preset": name})
        net = Network.from_spec(spec, seed=0)
        assert net.trace(__import__("numpy").zeros((1, 32, 32), "float32")).probabilities.shape == (10,)


def test_the_lenet_preset_is_the_shipped_lenet_and_classic_has_the_c3_table():
    assert design.build({"preset": "lenet"}) == LENET
    classic = design.build({"preset": "lenet5-classic"})
    assert next(la for la in classic if la["name"] == "conv2")["connections"] == LENET5_C3_TABLE
    assert [la["kind"] for la in classic].count("avgpool") == 2


def test_overrides_apply_on_top_of_the_preset():
    d = design.normalise({"preset": "tiny", "dense": [32]})
    assert d["blocks"][0]["filters"] == 4 and d["dense"] == [32]


def test_shapes_and_parameters_follow_the_choices():
    s = design.summary({"blocks": [{"filters": 8, "kernel": 3, "padding": "same", "pool": "none"},
                                   {"filters": 4, "kernel": 3, "stride": 2}], "dense": []})
    shapes = {la["name"]: la["output_shape"] for la in s["layers"]}
    assert shapes["conv1"] == [8, 32, 32] and shapes["conv2"] == [4, 15, 15] and shapes["pool2"] == [4, 7, 7]
    assert s["parameters"] == (8 * 9 + 8) + (4 * 8 * 9 + 4) + (4 * 7 * 7 * 10 + 10)
    assert s["layers"][[la["name"] for la in s["layers"]].index("conv2")]["receptive_field"] == [5, 5]


@pytest.mark.parametrize("bad, words", [
    ({"blocks": [{"kernel": 9}] * 3}, "does not fit"),
    ({"blocks": [{"kernel": 5, "pool_size": 4}] * 3}, "pool does not fit"),
    ({"blocks": [{"filters": 8, "connections": "lenet5"}]}, "partial table"),
    ({"blocks": [{"filters": 0}]}, "filters"),
    ({"blocks": [{"filters": 1.5}]}, "filters"),
    ({"blocks": [{"padding": "sometimes"}]}, "padding"),
    ({"blocks": [{"activation": "swish"}]}, "activation"),
    ({"blocks": [{"color": "red"}]}, "unknown key"),
    ({"blocks": "three"}, "blocks"),
    ({"dense": [0]}, "width"),
    ({"dense": [600]}, "width"),
    ({"input": [2, 32, 32]}, "input"),
    ({"classes": 1}, "classes"),
    ({"preset": "resnet"}, "preset"),
])
def test_impossible_designs_say_why(bad, words):
    with pytest.raises(design.DesignError, match=words):
        design.build(bad)
    summary = design.summary(bad)
    assert summary["ok"] is False and words in summary["error"]


def test_load_reads_presets_files_and_text(tmp_path):
    assert design.load("tiny") == {"preset": "tiny"}
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"blocks": [{"filters": 3}]}))
    assert design.load(str(path)) == {"blocks": [{"filters": 3}]}
    with pytest.raises(design.DesignError, match="neither a preset"):
        design.load(str(tmp_path / "missing.json"))
    path.write_text("{not json")
    with pytest.raises(design.DesignError, match="not valid JSON"):
        design.load(str(path))


values = st.one_of(st.integers(-3, 40), st.sampled_from(["valid", "same", "max", "avg", "none", "relu",
                                                         "tanh", "lenet5", "full"]), st.none(), st.booleans(),
                   st.floats(allow_nan=True), st.text(max_size=3))
block = st.dictionaries(st.sampled_from(list(design.BLOCK_DEFAULTS)), values, max_size=5)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={"blocks": st.lists(block, max_size=4),
                                           "dense": st.lists(values, max_size=3),
                                           "dense_activation": values, "preset": values}))
def test_any_design_builds_a_valid_stack_or_is_refused_in_words(d):
    try:
        spec = design.build(d)
    except design.DesignError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    layers = resolve(spec)   # the engine accepts what build accepted
    assert layers[-1].out_shape == (10,) and design.parameter_count(spec) <= design.LIMITS["parameters"]
