"""Export a ConvScope network to ONNX: the inverse of convnet/onnx_import.py, with the ``onnx`` package only.

One node (or a short fixed run of nodes) per layer, in layer order, each layer's output tensor named
after the layer; weights are initializers ``<layer>.<param>``.  The graph reads ``(N, C, H, W)``
float32, the model's own input (for a ``preprocess: mnist`` model: the 32×32 image in [0, 1]), and
gives what the last layer gives: class probabilities after a final softmax, else the logits.

- ``conv``: ``Conv`` with explicit pads (ConvScope's (top, bottom, left, right) → ONNX's
  [top, left, bottom, right]); a ``connections`` table is exported as the weights times the table,
  which is the engine's own arithmetic (kernels/conv.py skips or zeroes those taps);
- the pools: ``MaxPool`` (its padding is −∞, as the engine's), ``AveragePool`` (``count_pad`` →
  ``count_include_pad``), ``LpPool`` p=2 for ``l2pool`` (√ of the window's sum of squares, zero
  padding), ``GlobalAveragePool`` / ``GlobalMaxPool``;
- the activations by their ONNX names; ``lecun_tanh`` as Mul(2/3) → Tanh → Mul(1.7159);
  ``dropout`` as an inference ``Dropout`` (the identity);
- ``batchnorm`` as ``BatchNormalization``, ``normalize`` as its Sub/Div/Mul/Add steps by
  per-channel constants; ``flatten``; ``dense`` as ``Gemm`` (transB: weights are (units, inputs));
  ``softmax`` over the vector.

Anything else — a kind this module does not know, a softmax over a map, a pool whose padding is
as wide as its window (onnxruntime refuses it) — is a ValueError naming the layer, before any bytes exist.
The card's name, test accuracy and preprocessing go into the model's ``metadata_props``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import convscope

OPSET = 17
IR_VERSION = 8     # the IR released with opset 17 (onnx 1.12): runtimes older than the onnx package read it
ACTIVATIONS = {"relu": "Relu", "leaky_relu": "LeakyRelu", "sigmoid": "Sigmoid", "tanh": "Tanh",
               "softplus": "Softplus", "elu": "Elu"}
POOLS = {"maxpool": "MaxPool", "avgpool": "AveragePool", "l2pool": "LpPool"}
GLOBAL_POOLS = {"global_avgpool": "GlobalAveragePool", "global_maxpool": "GlobalMaxPool"}
STEP_OPS = {"sub": "Sub", "div": "Div", "mul": "Mul", "add": "Add"}


def export_onnx(net) -> bytes:
    """The network ``net`` (a convnet.network.Network) as a serialised ONNX ModelProto."""
    from onnx import TensorProto, checker, helper

    graph = _Graph()
    head = net.specs[0].name
    for ls, layer in zip(net.specs[1:], net.layers[1:]):
        head = graph.layer(ls, layer, head)
    c, h, w = net.input_shape
    inputs = [helper.make_tensor_value_info(net.specs[0].name, TensorProto.FLOAT, ["N", c, h, w])]
    outputs = [helper.make_tensor_value_info(head, TensorProto.FLOAT, ["N", *net.specs[-1].out_shape])]
    g = helper.make_graph(graph.nodes, net.name or "model", inputs, outputs, graph.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              producer_name="convscope", producer_version=convscope.__version__,
                              doc_string=f"ConvScope model {net.name!r}: {len(net.specs)} layers, input "
                                         f"float32 (N, {c}, {h}, {w})")
    props = {"convscope.name": str(net.name)}
    for key in ("test_accuracy", "preprocess"):
        if isinstance(net.card.get(key), (str, int, float)) and not isinstance(net.card[key], bool):
            props[f"convscope.{key}"] = str(net.card[key])
    helper.set_model_props(model, props)
    try:
        checker.check_model(model)
    except checker.ValidationError as exc:   # e.g. a layer named like another's weights
        raise ValueError(f"the exported graph is not valid ONNX: {str(exc).splitlines()[0]}") from None
    return model.SerializeToString()


def save_onnx(net, path) -> None:
    """Write ``export_onnx(net)`` to ``path`` atomically (a temp file beside it, then a rename)."""
    from .network import _atomic_write
    data = export_onnx(net)        # any ValueError before the disk is touched
    _atomic_write(Path(path), lambda f: f.write(data))


class _Graph:
    """The nodes and initializers so far; ``layer()`` appends one layer's and returns its output."""

    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, value):
        from onnx import numpy_helper
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(self, op, inputs, output, name, **attrs):
        from onnx import helper
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def layer(self, ls, layer, x) -> str:
        kind, name, p = ls.kind, ls.name, layer.params

        def fail(why):
            return ValueError(f"layer {name!r} ({kind}): {why}")
        if kind == "conv":
            win = ls.window
            weight = p["weight"] * layer.mask[:, :, None, None]
            inputs = [x, self.const(f"{name}.weight", weight)]
            if "bias" in p:
                inputs.append(self.const(f"{name}.bias", p["bias"]))
            return self.node("Conv", inputs, name, name, kernel_shape=list(win.kernel),
                             strides=list(win.stride), dilations=list(win.dilation), pads=_pads(win.pad))
        if kind in ACTIVATIONS:
            attrs = {"alpha": float(ls.alpha)} if ls.alpha is not None else {}
            return self.node(ACTIVATIONS[kind], [x], name, name, **attrs)
        if kind == "lecun_tanh":
            u = self.node("Mul", [x, self.const(f"{name}.two_thirds", 2.0 / 3.0)], f"{name}/scaled",
                          f"{name}/scale")
            t = self.node("Tanh", [u], f"{name}/tanh", f"{name}/tanh")
            return self.node("Mul", [t, self.const(f"{name}.gain", 1.7159)], name, name)
        if kind == "dropout":
            return self.node("Dropout", [x], name, name)
        if kind in POOLS:
            win = ls.window
            if win.pad[0] >= win.kernel[0] or win.pad[1] >= win.kernel[0] or max(win.pad[2:]) >= win.kernel[1]:
                raise fail(f"padding {list(win.pad)} is as wide as the {win.kernel[0]}×{win.kernel[1]} window; "
                           "ONNX runtimes need pool padding smaller than the window")
            attrs = {"kernel_shape": list(win.kernel), "strides": list(win.stride), "pads": _pads(win.pad)}
            if kind == "avgpool":
                attrs["count_include_pad"] = int(ls.count_pad)
            if kind == "l2pool":
                attrs["p"] = 2
            return self.node(POOLS[kind], [x], name, name, **attrs)
        if kind in GLOBAL_POOLS:
            return self.node(GLOBAL_POOLS[kind], [x], name, name)
        if kind == "flatten":
            return self.node("Flatten", [x], name, name, axis=1)
        if kind == "dense":
            inputs = [x, self.const(f"{name}.weight", p["weight"])]
            if "bias" in p:
                inputs.append(self.const(f"{name}.bias", p["bias"]))
            return self.node("Gemm", inputs, name, name, transB=1)
        if kind == "batchnorm":
            inputs = [x] + [self.const(f"{name}.{k}", p[k]) for k in ("gamma", "beta", "mean", "var")]
            return self.node("BatchNormalization", inputs, name, name, epsilon=float(layer.eps))
        if kind == "normalize":
            shape = (1, -1, 1, 1) if len(ls.in_shape) == 3 else (-1,)
            steps = ls.source["steps"]
            for i, step in enumerate(steps):
                out = name if i == len(steps) - 1 else f"{name}/{i}"
                value = np.asarray(step["value"], np.float32).reshape(shape)
                x = self.node(STEP_OPS[step["op"]], [x, self.const(f"{name}.step{i}", value)], out, out)
            return x
        if kind == "softmax":
            if len(ls.in_shape) != 1:
                raise fail(f"a softmax over a {ls.in_shape} map cannot be exported; flatten it first")
            return self.node("Softmax", [x], name, name, axis=1)
        raise fail("this kind of layer cannot be exported to ONNX")


def _pads(pad) -> list[int]:
    """ConvScope's (top, bottom, left, right) → ONNX's [top, left, bottom, right]."""
    top, bottom, left, right = pad
    return [top, left, bottom, right]
