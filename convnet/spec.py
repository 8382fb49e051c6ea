"""The shipped architectures, as the stored spec lists (the format: ``convscope.layerspec``)."""
from __future__ import annotations

import copy

# LeNet-5's partial C3 table (LeCun et al. 1998, table I): column j lists the S2 maps that C3 map j
# reads.  Six maps see 3 contiguous inputs, nine see 4, one sees all 6.  Rows here are C3 maps.
LENET5_C3_TABLE = [
    [1, 1, 1, 0, 0, 0], [0, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1],
    [1, 0, 0, 0, 1, 1], [1, 1, 0, 0, 0, 1], [1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 0],
    [0, 0, 1, 1, 1, 1], [1, 0, 0, 1, 1, 1], [1, 1, 0, 0, 1, 1], [1, 1, 1, 0, 0, 1],
    [1, 1, 0, 1, 1, 0], [0, 1, 1, 0, 1, 1], [1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1],
]


def _conv(name, out_channels, k=5, connections=None):
    return {"name": name, "kind": "conv", "out_channels": out_channels, "kernel": [k, k],
            "stride": [1, 1], "padding": "valid", "dilation": [1, 1], "connections": connections}


def _pool(name, kind="maxpool"):
    return {"name": name, "kind": kind, "size": [2, 2], "stride": [2, 2], "padding": [0, 0, 0, 0]}


# Adam Harley's LeNet layout (docs/ARCHITECTURE.md): ReLU, max-pool, full C3 connections.
LENET = [
    {"name": "input", "kind": "input", "shape": [1, 32, 32]},
    _conv("conv1", 6), {"name": "relu1", "kind": "relu"}, _pool("pool1"),
    _conv("conv2", 16), {"name": "relu2", "kind": "relu"}, _pool("pool2"),
    {"name": "flatten", "kind": "flatten"},
    {"name": "fc1", "kind": "dense", "units": 120}, {"name": "relu3", "kind": "relu"},
    {"name": "fc2", "kind": "dense", "units": 100}, {"name": "relu4", "kind": "relu"},
    {"name": "fc3", "kind": "dense", "units": 10},
    {"name": "softmax", "kind": "softmax"},
]

# The 1998 flavour, for comparison: scaled tanh, average pooling and the partial C3 table.
LENET5_CLASSIC = [
    {"name": "input", "kind": "input", "shape": [1, 32, 32]},
    _conv("c1", 6), {"name": "act1", "kind": "lecun_tanh"}, _pool("s2", "avgpool"),
    _conv("c3", 16, connections=LENET5_C3_TABLE), {"name": "act3", "kind": "lecun_tanh"},
    _pool("s4", "avgpool"),
    {"name": "flatten", "kind": "flatten"},
    {"name": "c5", "kind": "dense", "units": 120}, {"name": "act5", "kind": "lecun_tanh"},
    {"name": "f6", "kind": "dense", "units": 84}, {"name": "act6", "kind": "lecun_tanh"},
    {"name": "output", "kind": "dense", "units": 10},
    {"name": "softmax", "kind": "softmax"},
]

ARCHITECTURES = {"lenet": LENET, "lenet5-classic": LENET5_CLASSIC}


def architecture(name: str) -> list[dict]:
    """A deep copy of a named architecture (KeyError for an unknown name)."""
    return copy.deepcopy(ARCHITECTURES[name])
