"""Import a small sequential CNN from ONNX into ConvScope's layer vocabulary (convscope.layerspec).

Read with the ``onnx`` package only: the file is parsed (protobuf), never run, and nothing it names
outside itself (external tensor data) is opened.  The graph is walked in its (topological) order:

- **Static parts are folded**: initializers and ``Constant`` nodes, and the ``Shape`` → ``Gather`` →
  ``Concat`` … chains exporters emit to compute a flatten's shape, are evaluated here with NumPy, so
  only the layers remain.  ``Identity`` and a float ``Cast`` on the chain are folded too (listed in
  the card's ``import.folded``).
- **Every other node becomes a layer** of the single chain from the input to the output: ``Conv``
  (a zero ``Pad`` before it becomes its padding), ``BatchNormalization``, the activations, the pools,
  ``Flatten`` / ``Reshape`` to a vector, ``Gemm``, ``MatMul`` (+ ``Add``, its bias), ``Dropout``,
  ``Softmax``; leading ``Sub``/``Div``/``Mul``/``Add`` by per-channel constants become one
  ``normalize`` layer.
- **Anything else is refused** with :class:`ImportError_` naming the node, its op type and the
  supported set, before any model exists: a half-loaded model is never served, and no op is skipped.
  A graph that is not one chain (a residual ``Add`` of two layers' outputs) is refused with that
  explanation.

``import_model(path_or_bytes)`` returns ``(spec, params, card)``; ``load_onnx`` builds the Network.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from convscope.layerspec import LIMITS

MAX_MODEL_BYTES = 64 * 2 ** 20        # a file larger than this is refused before it is parsed
MAX_PARAMETERS = 16_000_000
# what folding may build: a constant node of a 100-byte file can ask for any shape (ConstantOfShape
# [10**5, 1024] is 400 MB), so each folded tensor, and all of them together, are bounded before
# they are made
MAX_FOLDED_ELEMENTS = MAX_PARAMETERS
MAX_FOLDED_TOTAL = 2 * MAX_PARAMETERS
MIN_OPSET = 11

LAYER_OPS = ("Conv", "BatchNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Elu",
             "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool", "ReduceMean",
             "ReduceMax", "Flatten", "Reshape", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Softmax",
             "Dropout", "Identity", "Pad", "Cast")
STATIC_OPS = ("Constant", "Shape", "Gather", "Concat", "Unsqueeze", "Squeeze", "Cast", "Reshape",
              "Identity", "Transpose", "Slice", "Mul", "Div", "Add", "Sub", "ConstantOfShape")
SUPPORTED = ", ".join(sorted(set(LAYER_OPS) | set(STATIC_OPS)))
ACTIVATIONS = {"Relu": "relu", "LeakyRelu": "leaky_relu", "Sigmoid": "sigmoid", "Tanh": "tanh",
               "Softplus": "softplus", "Elu": "elu", "LeCunTanh": "lecun_tanh"}   # the last: see _peephole
NORMALIZE = {"Sub": "sub", "Div": "div", "Mul": "mul", "Add": "add"}


class ImportError_(ValueError):
    """The file cannot become a ConvScope model; the message says why in one line."""


@dataclass
class _Chain:
    """The walk's state: the chain's current tensor, its shape (C, H, W) or (D,), the layers so far."""
    head: str
    shape: tuple
    spec: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    sources: list = field(default_factory=list)     # per layer: the ONNX nodes it came from
    folded: list = field(default_factory=list)
    pending_pad: tuple | None = None                 # a Pad node's (top, bottom, left, right)
    counts: dict = field(default_factory=dict)
    folded_elements: int = 0                         # the elements of every tensor folded so far

    def add(self, kind, node, shape=None, **keys):
        n = self.counts[kind] = self.counts.get(kind, 0) + 1
        name = f"{kind}{n}"
        self.spec.append({"name": name, "kind": kind, **keys})
        self.sources.append({"layer": name, "nodes": [_node_label(node)], "output": node.output[0]})
        if shape is not None:
            self.shape = shape
        return name


def _node_label(node) -> str:
    return f"{node.name or '(unnamed)'} ({node.op_type})"


def _fail(node, why: str):
    raise ImportError_(f"node {_node_label(node)}: {why}")


def read_bytes(source) -> tuple[bytes, str]:
    """(the file's bytes, its name) from a path or bytes, with the size limit checked first."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "upload.onnx"
    else:
        path = Path(source)
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ImportError_(f"the file is {size / 2**20:.0f} MB; ConvScope imports models up to "
                               f"{MAX_MODEL_BYTES // 2**20} MB (small CNNs are a few MB at most)")
        data, name = path.read_bytes(), path.name
    if not data:
        raise ImportError_("not an ONNX model: the file is empty")
    if len(data) > MAX_MODEL_BYTES:
        raise ImportError_(f"the file is {len(data) / 2**20:.0f} MB; ConvScope imports models up to "
                           f"{MAX_MODEL_BYTES // 2**20} MB")
    return data, name


def parse(data: bytes):
    import onnx
    from google.protobuf.message import DecodeError
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError):
        raise ImportError_("not an ONNX model: the file could not be parsed (truncated, damaged, or "
                           "another format)") from None
    if not model.HasField("graph") or not model.graph.node:
        raise ImportError_("not an ONNX model: it has no graph of nodes")
    return model


def import_model(source, name: str | None = None):
    """(spec, params {"layer.param": array}, card) for an ONNX file (path or bytes)."""
    from onnx import TensorProto, numpy_helper
    data, file_name = read_bytes(source)
    model = parse(data)
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or opset < MIN_OPSET:
        raise ImportError_(f"the model uses ONNX opset {opset}; ConvScope reads opset {MIN_OPSET} and newer "
                           "(export again with opset_version=13 or later)")
    const: dict[str, np.ndarray] = {}
    for t in graph.initializer:
        if t.data_location == TensorProto.EXTERNAL:
            raise ImportError_(f"initializer {t.name!r} keeps its data in an external file; ConvScope only "
                               "reads self-contained models (save with save_as_external_data=False)")
        const[t.name] = numpy_helper.to_array(t)
    inputs = [i for i in graph.input if i.name not in const]
    if len(inputs) != 1:
        raise ImportError_(f"the graph has {len(inputs)} inputs; ConvScope shows networks with one image input")
    if len(graph.output) != 1:
        raise ImportError_(f"the graph has {len(graph.output)} outputs; ConvScope needs exactly one")
    chain = _Chain(head=inputs[0].name, shape=_input_shape(inputs[0]))
    input_shape = chain.shape
    chain.spec.append({"name": "input", "kind": "input", "shape": list(input_shape)})
    chain.sources.append({"layer": "input", "nodes": [inputs[0].name], "output": inputs[0].name})
    nodes = _peephole(list(graph.node), const, chain)
    uses = _consumers(nodes, graph.output)
    shapes = {chain.head: input_shape}
    for node in nodes:
        if node.domain not in ("", "ai.onnx"):
            _fail(node, f"op domain {node.domain!r} is not standard ONNX; supported: {SUPPORTED}")
        live = [i for i in node.input if i and i not in const]
        if not live or (node.op_type == "Shape" and live[0] in shapes):
            _fold(node, const, shapes, chain)
            continue
        if live != [chain.head] or node.input[0] != chain.head:
            if len(set(live)) > 1:
                _fail(node, "reads the outputs of two layers (a residual or branching connection): ConvScope "
                            "shows single-chain networks only, for now")
            _fail(node, f"reads {live[0]!r}, which is not the output of the layer before it: the graph "
                        "is not a single chain")
        if len(uses.get(chain.head, [])) > 1:
            _fail(node, f"the tensor {chain.head!r} feeds {len(uses[chain.head])} nodes: a residual or branching "
                        "graph; ConvScope shows single-chain networks only, for now")
        _layer(node, const, chain)
        out = [o for o in node.output if o]
        for extra in out[1:]:
            if uses.get(extra):
                _fail(node, f"its second output {extra!r} is used; ConvScope computes only the first")
        chain.head = out[0]
        shapes[chain.head] = chain.shape
    if chain.pending_pad is not None:
        raise ImportError_("the graph ends with a Pad that no convolution reads")
    if graph.output[0].name != chain.head:
        raise ImportError_(f"the graph's output {graph.output[0].name!r} is not the end of its chain of layers")
    _check_declared_output(graph.output[0], chain.shape)
    if len(chain.shape) != 1:
        raise ImportError_(f"the model's output has shape {chain.shape}; ConvScope needs a vector of class "
                           "scores (flatten it in the model)")
    added = []
    if chain.spec[-1]["kind"] != "softmax":
        # the graph ends at its logits: the layer view shows class probabilities, so a softmax is
        # appended (said in the card); the logits stay the layer before, unchanged
        chain.spec.append({"name": "softmax", "kind": "softmax"}
                          if all(s["name"] != "softmax" for s in chain.spec) else
                          {"name": "probabilities", "kind": "softmax"})
        chain.sources.append({"layer": chain.spec[-1]["name"], "nodes": [], "output": None})
        added.append(f"{chain.spec[-1]['name']}: a softmax over the graph's output (its logits), for the "
                     "class probabilities ConvScope shows")
    n_params = sum(int(v.size) for v in chain.params.values())
    if n_params > MAX_PARAMETERS:
        raise ImportError_(f"the model has {n_params:,} weights; ConvScope shows models up to {MAX_PARAMETERS:,}")
    card = {
        "name": name or (Path(file_name).stem if file_name else "model"),
        "source": {"format": "onnx", "file": file_name, "sha256": hashlib.sha256(data).hexdigest(),
                   "bytes": len(data), "opset": opset, "producer": f"{model.producer_name} {model.producer_version}".strip(),
                   "ir_version": model.ir_version},
        "input": {"channels": input_shape[0], "height": input_shape[1], "width": input_shape[2]},
        "preprocess": default_preprocess(input_shape),
        "classes": chain.shape[0],
        "import": {"layers": chain.sources, "folded": chain.folded, "added": added},
        "architecture": chain.spec,
    }
    return chain.spec, chain.params, card


def default_preprocess(shape) -> str:
    """``mnist`` for a 1-channel model (today's centring path at the model's size), ``resize`` for RGB."""
    return "mnist" if shape[0] == 1 else "resize"


def load_onnx(source, name: str | None = None):
    """A Network from an ONNX file; ImportError_ (a ValueError) with one line if it cannot be."""
    from .network import Network
    spec, params, card = import_model(source, name)
    try:
        net = Network(spec, name=card["name"], card=card)
    except ValueError as exc:
        raise ImportError_(f"the imported layers do not form a valid ConvScope network: {exc}") from None
    for layer in net.layers:
        for key, value in layer.params.items():
            arr = params[f"{layer.name}.{key}"]
            if arr.shape != value.shape:
                raise ImportError_(f"{layer.name}.{key} has shape {arr.shape}, the layer needs {value.shape}")
            # a fresh, writable copy: ONNX tensors decode as read-only views, which Numba types
            # differently (a second compile of every kernel they reach)
            layer.params[key] = np.array(arr, dtype=np.float32, order="C", copy=True)
    return net


# ---- the input and output ----------------------------------------------------------------------
def _dims(value_info):
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]


def _input_shape(value_info) -> tuple[int, int, int]:
    from onnx import TensorProto
    if value_info.type.tensor_type.elem_type != TensorProto.FLOAT:
        raise ImportError_(f"the input {value_info.name!r} is not float32; ConvScope feeds float32 images")
    dims = _dims(value_info)
    if dims is None or len(dims) != 4:
        raise ImportError_(f"the input {value_info.name!r} must be 4-D (batch, channels, height, width), "
                           f"not {dims}")
    n, c, h, w = dims
    if n not in (None, 1):
        raise ImportError_(f"the input's batch size is fixed at {n}; export with batch 1 or a dynamic batch axis")
    if None in (c, h, w):
        raise ImportError_(f"the input's channels, height and width must be fixed numbers, not {dims[1:]}")
    lo, hi = LIMITS["side"]
    if c not in (1, 3):
        raise ImportError_(f"the input has {c} channels; ConvScope shows gray (1) or RGB (3) images")
    if not (lo <= h <= hi and lo <= w <= hi):
        raise ImportError_(f"the input is {h}×{w}; ConvScope supports {lo}×{lo} to {hi}×{hi}")
    return (c, h, w)


def _check_declared_output(value_info, shape):
    dims = _dims(value_info)
    if not dims:
        return
    declared = dims[1:] if len(dims) == len(shape) + 1 else dims
    if len(declared) != len(shape) or any(d is not None and d != s for d, s in zip(declared, shape)):
        raise ImportError_(f"the graph declares its output {value_info.name!r} as {dims}, but its layers and "
                           f"weights give {list(shape)} per image: the model contradicts itself")


def _peephole(nodes, const, chain):
    """Rewrite exporters' spelled-out forms of one layer back into that layer.

    PyTorch's Softplus has a threshold (20): the dynamo exporter writes it as
    ``Where(Greater(x, 20), x, Softplus(x))``.  For x > 15, log1p(exp(−x)) < 4e-7·x, below half a
    float32 step of x, so Softplus(x) rounds to x itself: the Where changes nothing and the three
    nodes are one softplus layer."""
    from onnx import helper
    by_output = {o: n for n in nodes for o in n.output}
    drop, replace = set(), {}
    for n in nodes:
        if n.op_type != "Where" or len(n.input) != 3:
            continue
        cond, x, y = (by_output.get(i) for i in n.input)
        if (cond is not None and y is not None and cond.op_type == "Greater" and y.op_type == "Softplus"
                and cond.input[0] == n.input[1] == y.input[0] and cond.input[1] in const
                and np.all(np.asarray(const[cond.input[1]]) >= 15)):
            drop.update({id(cond), id(n)})
            replace[id(y)] = helper.make_node("Softplus", [y.input[0]], [n.output[0]], name=y.name)
            chain.folded.append(f"{cond.name} (Greater) and {n.name} (Where): PyTorch's softplus threshold")
    # LeCun's scaled tanh, 1.7159·tanh(2x/3), is written Mul(x, 2/3) → Tanh → Mul(·, 1.7159)
    uses = {}
    for n in nodes:
        for i in n.input:
            uses.setdefault(i, []).append(n)
    values = {**const, **{n.output[0]: _constant_value(n) for n in nodes if n.op_type == "Constant"}}

    def scalar_mul(node, value):
        """The other input of a Mul by the scalar ``value`` (within float32 rounding), else None."""
        if node is None or node.op_type != "Mul" or len(node.input) != 2 or id(node) in drop:
            return None
        for k in (0, 1):
            c = values.get(node.input[k])
            if c is not None and np.asarray(c).size == 1 and abs(float(np.asarray(c).reshape(-1)[0]) - value) < 1e-6:
                return node.input[1 - k]
        return None
    for t in nodes:
        if t.op_type != "Tanh" or id(t) in replace:
            continue
        pre = by_output.get(t.input[0])
        post = uses.get(t.output[0], [])
        x = scalar_mul(pre, 2.0 / 3.0)
        if x is None or len(post) != 1 or len(uses.get(pre.output[0], [])) != 1:
            continue
        if scalar_mul(post[0], 1.7159) != t.output[0]:
            continue
        drop.update({id(pre), id(post[0])})
        replace[id(t)] = helper.make_node("LeCunTanh", [x], [post[0].output[0]], name=t.name)
        chain.folded.append(f"{pre.name} (Mul 2/3), {t.name} (Tanh) and {post[0].name} (Mul 1.7159): LeCun's scaled tanh")
    return [replace.get(id(n), n) for n in nodes if id(n) not in drop]


def _constant_value(node):
    from onnx import numpy_helper
    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
    return None


def _consumers(nodes, outputs) -> dict[str, list]:
    uses: dict[str, list] = {}
    for node in nodes:
        if node.op_type == "Shape":   # reads only the shape, which is static: folded, not a branch
            continue
        for i in node.input:
            if i:
                uses.setdefault(i, []).append(node)
    for out in outputs:
        uses.setdefault(out.name, []).append(out)
    return uses


# ---- static folding ------------------------------------------------------------------------------
def _attrs(node) -> dict:
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _fold(node, const, shapes, chain):
    """Evaluate a node whose inputs are all known (or a Shape of a chain tensor) with NumPy."""
    from onnx import numpy_helper
    op, a = node.op_type, _attrs(node)
    args = [const.get(i) if i else None for i in node.input]
    try:
        _check_fold_size(node, op, a, args)
        if op == "Constant":
            if "value" in a:
                out = numpy_helper.to_array(a["value"])
            elif a.keys() & {"value_float", "value_floats"}:
                out = np.array(a.get("value_float", a.get("value_floats")), np.float32)
            elif a.keys() & {"value_int", "value_ints"}:
                out = np.array(a.get("value_int", a.get("value_ints")), np.int64)
            else:
                _fail(node, f"a Constant given as {sorted(a)} is not supported (a tensor, floats or ints)")
        elif op == "Shape":
            s = shapes.get(node.input[0])
            full = np.array([1, *s], np.int64) if s is not None else np.array(args[0].shape, np.int64)
            out = full[a.get("start", 0):a.get("end", None)]
        elif op == "Gather":
            out = np.take(args[0], args[1].astype(np.int64), axis=a.get("axis", 0))
        elif op == "Concat":
            out = np.concatenate([np.atleast_1d(x) for x in args], axis=a.get("axis", 0))
        elif op in ("Unsqueeze", "Squeeze"):
            axes = a.get("axes", args[1] if len(args) > 1 and args[1] is not None else None)
            if op == "Unsqueeze":
                out = args[0]
                for ax in sorted(int(x) % (args[0].ndim + len(axes)) for x in axes):
                    out = np.expand_dims(out, ax)
            else:
                out = np.squeeze(args[0], axis=None if axes is None else tuple(int(x) for x in axes))
        elif op == "Cast":
            from onnx import helper
            out = args[0].astype(helper.tensor_dtype_to_np_dtype(a["to"]))
        elif op == "Reshape":
            target = [int(v) for v in args[1]]
            target = [args[0].shape[i] if v == 0 else v for i, v in enumerate(target)]
            out = args[0].reshape(target)
        elif op == "Identity":
            out = args[0]
        elif op == "Transpose":
            out = np.transpose(args[0], a.get("perm"))
        elif op == "Slice":
            starts, ends = args[1], args[2]
            axes = args[3] if len(args) > 3 and args[3] is not None else range(len(starts))
            steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
            index = [slice(None)] * args[0].ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                index[int(ax)] = slice(int(s), int(e), int(st))
            out = args[0][tuple(index)]
        elif op in NORMALIZE:
            out = {"Sub": np.subtract, "Div": np.divide, "Mul": np.multiply, "Add": np.add}[op](args[0], args[1])
        elif op == "ConstantOfShape":
            fill = numpy_helper.to_array(a["value"]).reshape(-1)[0] if "value" in a else np.float32(0)
            out = np.full([int(v) for v in args[0]], fill)
        else:
            _fail(node, f"a {op} of constants is not supported; supported: {SUPPORTED}")
    except ImportError_:
        raise
    except (ValueError, IndexError, TypeError, KeyError, AttributeError) as exc:
        _fail(node, f"could not be folded as a constant ({exc})")
    except MemoryError:
        _fail(node, "its constant is too large to build")
    out = np.asarray(out)
    chain.folded_elements += out.size
    if out.size > MAX_FOLDED_ELEMENTS or chain.folded_elements > MAX_FOLDED_TOTAL:
        _fail(node, f"the constants folded so far hold {chain.folded_elements:,} values; ConvScope builds at "
                    f"most {MAX_FOLDED_ELEMENTS:,} in one and {MAX_FOLDED_TOTAL:,} in all")
    const[node.output[0]] = out
    chain.folded.append(_node_label(node))


def _check_fold_size(node, op, a, args):
    """Refuse, before it is built, a folded tensor of more than MAX_FOLDED_ELEMENTS values: the ops
    whose output can be much larger than their inputs (the others are at most their inputs' size,
    which are bounded already)."""
    if op == "ConstantOfShape" and args and args[0] is not None:
        dims = [int(v) for v in np.asarray(args[0]).reshape(-1)]
        if any(d < 0 for d in dims):
            _fail(node, f"asks for the shape {dims}, with a negative dimension")
        size = int(np.prod(dims, dtype=object))
    elif op in NORMALIZE and len(args) == 2 and all(x is not None for x in args):
        try:
            size = int(np.prod(np.broadcast_shapes(np.shape(args[0]), np.shape(args[1])), dtype=object))
        except ValueError:
            return                             # the NumPy call says why, as a fold error
    elif op == "Gather" and len(args) == 2 and all(x is not None for x in args):
        data, axis = np.asarray(args[0]), int(a.get("axis", 0))
        rest = data.size // data.shape[axis] if data.ndim and data.shape[axis] else data.size
        size = int(np.asarray(args[1]).size) * rest
    else:
        return
    if size > MAX_FOLDED_ELEMENTS:
        _fail(node, f"its constant would hold {size:,} values; ConvScope builds at most "
                    f"{MAX_FOLDED_ELEMENTS:,} in one folded tensor")


# ---- layers --------------------------------------------------------------------------------------
def _conv_pads(node, a, kernel, stride, dilation, hw) -> tuple[int, int, int, int]:
    """ONNX pads [top, left, bottom, right] (or auto_pad) → ConvScope's (top, bottom, left, right)."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("NOTSET", ""):
        p = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
        if len(p) != 4:
            _fail(node, f"pads {p} are not 2-D")
        if min(p) < 0:
            _fail(node, f"pads {p} are negative (a crop); ConvScope pads with zeros only")
        return (p[0], p[2], p[1], p[3])
    if auto == "VALID":
        return (0, 0, 0, 0)
    out = []
    for n, k, s, d in zip(hw, kernel, stride, dilation):
        total = max(0, (-(-n // s) - 1) * s + d * (k - 1) + 1 - n)
        small, big = total // 2, total - total // 2
        out.append((small, big) if auto == "SAME_UPPER" else (big, small))
    return (*out[0], *out[1])


def _window_attrs(node, a, default_stride=None):
    kernel = [int(v) for v in a.get("kernel_shape", [])]
    if len(kernel) != 2:
        _fail(node, f"kernel_shape {kernel} is not 2-D")
    stride = [int(v) for v in a.get("strides", default_stride or [1, 1])]
    dilation = [int(v) for v in a.get("dilations", [1, 1])]
    for what, v in (("kernel_shape", kernel), ("strides", stride), ("dilations", dilation)):
        if len(v) != 2 or min(v) < 1:
            _fail(node, f"{what} {v} must be two whole numbers of at least 1")
    return kernel, stride, dilation


def _take_pad(chain, pads):
    if chain.pending_pad is None:
        return pads
    p, chain.pending_pad = chain.pending_pad, None
    return tuple(x + y for x, y in zip(pads, p))


def _map_shape(node, chain):
    if len(chain.shape) != 3:
        _fail(node, f"needs a (channels, height, width) map, but its input is a vector of {chain.shape[0]}")
    return chain.shape


def _out_hw(hw, kernel, stride, pads, dilation):
    return tuple((n + pads[2 * i] + pads[2 * i + 1] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
                 for i, n in enumerate(hw))


def _layer(node, const, chain):
    op, a = node.op_type, _attrs(node)
    get = lambda i: const.get(node.input[i]) if len(node.input) > i and node.input[i] else None  # noqa: E731
    if chain.pending_pad is not None and op not in ("Conv", "AveragePool"):
        _fail(node, "follows a Pad; ConvScope folds a zero Pad only into the Conv (or padding-counting "
                    "AveragePool) that reads it")
    if op in NORMALIZE:
        return _normalize_or_bias(node, op, get(1), chain)
    if op == "Conv":
        c, h, w = _map_shape(node, chain)
        weight = get(1)
        if weight is None or weight.ndim != 4:
            _fail(node, "its weights must be a constant 4-D tensor (C_out, C_in, kh, kw)")
        if int(a.get("group", 1)) != 1:
            _fail(node, f"group={a['group']} (grouped or depthwise convolution) is not supported; "
                        "ConvScope's conv reads every input channel")
        if "kernel_shape" not in a:              # optional in ONNX: then the weights' own
            a = {**a, "kernel_shape": list(weight.shape[2:])}
        kernel, stride, dilation = _window_attrs(node, a)
        if list(weight.shape[2:]) != kernel:
            _fail(node, f"kernel_shape {kernel} contradicts its weights' shape {list(weight.shape)}")
        if weight.shape[1] != c:
            _fail(node, f"its weights read {weight.shape[1]} channels, but its input has {c}: the model "
                        "contradicts itself")
        pads = _take_pad(chain, _conv_pads(node, a, kernel, stride, dilation, (h, w)))
        ho, wo = _out_hw((h, w), kernel, stride, pads, dilation)
        bias = get(2)
        name = chain.add("conv", node, (int(weight.shape[0]), ho, wo), out_channels=int(weight.shape[0]),
                         kernel=kernel, stride=stride, padding=list(pads), dilation=dilation,
                         bias=bias is not None)
        chain.params[f"{name}.weight"] = weight.astype(np.float32)
        if bias is not None:
            chain.params[f"{name}.bias"] = bias.reshape(-1).astype(np.float32)
        return
    if op == "BatchNormalization":
        c = chain.shape[0]
        if int(a.get("training_mode", 0)):
            _fail(node, "is in training mode; export the model in eval() mode")
        values = [get(i) for i in range(1, 5)]
        if any(v is None or v.reshape(-1).shape != (c,) for v in values):
            _fail(node, f"its scale, bias, mean and variance must be constants of {c} values (one per channel)")
        name = chain.add("batchnorm", node, eps=float(a.get("epsilon", 1e-5)))
        for key, v in zip(("gamma", "beta", "mean", "var"), values):
            chain.params[f"{name}.{key}"] = v.reshape(-1).astype(np.float32)
        return
    if op in ACTIVATIONS:
        keys = {}
        if op == "LeakyRelu":
            keys["alpha"] = float(a.get("alpha", 0.01))
        if op == "Elu":
            keys["alpha"] = float(a.get("alpha", 1.0))
        chain.add(ACTIVATIONS[op], node, **keys)
        return
    if op == "Dropout":
        chain.add("dropout", node)
        return
    if op in ("Identity", "Cast"):
        if op == "Cast":
            from onnx import TensorProto
            if a.get("to") != TensorProto.FLOAT:
                _fail(node, "casts the image to a type other than float32")
        chain.folded.append(_node_label(node))
        return
    if op == "Pad":
        return _pad(node, a, get, chain)
    if op in ("MaxPool", "AveragePool", "LpPool"):
        return _pool(node, op, a, chain)
    if op in ("GlobalAveragePool", "GlobalMaxPool"):
        c, _, _ = _map_shape(node, chain)
        chain.add("global_avgpool" if op == "GlobalAveragePool" else "global_maxpool", node, (c, 1, 1))
        return
    if op in ("ReduceMean", "ReduceMax"):
        c, _, _ = _map_shape(node, chain)
        axes = a.get("axes", get(1))
        if axes is None or sorted(int(x) % 4 for x in axes) != [2, 3]:
            _fail(node, f"reduces over axes {None if axes is None else list(axes)}; ConvScope reads a "
                        "reduction over the two spatial axes [2, 3] (a global pool)")
        chain.add("global_avgpool" if op == "ReduceMean" else "global_maxpool", node, (c, 1, 1))
        if not int(a.get("keepdims", 1)):
            chain.add("flatten", node, (c,))
        return
    if op == "Flatten":
        if int(a.get("axis", 1)) != 1:
            _fail(node, f"flattens from axis {a['axis']}; ConvScope flattens each image (axis 1)")
        chain.add("flatten", node, (int(np.prod(chain.shape)),))
        return
    if op == "Reshape":
        target = get(1)
        size = int(np.prod(chain.shape))
        flat = target is not None and target.ndim == 1 and len(target) == 2 and (
            int(target[1]) in (-1, size) and int(target[0]) in (-1, 0, 1)
            or int(target[0]) == -1 and int(target[1]) == size)
        if not flat:
            _fail(node, f"reshapes to {None if target is None else target.tolist()}; ConvScope reads a "
                        "Reshape only to a flat vector per image, (batch, -1)")
        chain.add("flatten", node, (size,))
        return
    if op == "Gemm":
        return _gemm(node, a, get, chain)
    if op == "MatMul":
        if len(chain.shape) != 1:
            _fail(node, "multiplies a map; flatten it first")
        b = get(1)
        if b is None or b.ndim != 2 or b.shape[0] != chain.shape[0]:
            _fail(node, f"needs a constant ({chain.shape[0]}, units) matrix")
        name = chain.add("dense", node, (int(b.shape[1]),), units=int(b.shape[1]), bias=False)
        chain.params[f"{name}.weight"] = np.ascontiguousarray(b.T, dtype=np.float32)
        return
    if op == "Softmax":
        axis = int(a.get("axis", -1))
        if len(chain.shape) != 1 or axis not in (1, -1):
            _fail(node, "ConvScope reads a softmax over a vector of class scores (axis 1)")
        chain.add("softmax", node)
        return
    if op == "Transpose":
        perm = list(a.get("perm", []))
        if perm == list(range(len(perm))):
            chain.folded.append(_node_label(node))
            return
        _fail(node, f"transposes the image's axes ({perm}); only static transposes of constants are folded")
    _fail(node, f"op {op} is not supported; supported: {SUPPORTED}")


def _normalize_or_bias(node, op, value, chain):
    """A leading constant Sub/Div/Mul/Add: a normalize step.  An Add after a layer with no bias
    (MatMul, a bias-less Conv): that layer's bias."""
    if value is None:
        _fail(node, "an arithmetic op of two layers' outputs is not supported (single-chain networks only)")
    layers = [s for s in chain.spec if s["kind"] != "input"]
    if all(s["kind"] == "normalize" for s in layers):
        c = chain.shape[0]
        v = np.asarray(value, np.float64)
        if v.size == 1:
            per = [float(v.reshape(-1)[0])] * c
        elif v.size == c and (v.ndim == 1 and len(chain.shape) == 1
                              or v.shape[-3:] == (c, 1, 1) and all(d == 1 for d in v.shape[:-3])):
            per = [float(x) for x in v.reshape(-1)]
        else:
            _fail(node, f"its constant has shape {list(v.shape)}; an input normalisation uses one number, or "
                        f"one per channel ({c}, 1, 1)")
        if op == "Div" and 0.0 in per:
            _fail(node, "divides by zero")
        if layers:
            chain.spec[-1]["steps"].append({"op": NORMALIZE[op], "value": per})
            chain.sources[-1]["nodes"].append(_node_label(node))
            chain.sources[-1]["output"] = node.output[0]
        else:
            chain.add("normalize", node, steps=[{"op": NORMALIZE[op], "value": per}])
        return
    last = chain.spec[-1]
    if op == "Add" and last["kind"] in ("dense", "conv") and last.get("bias") is False:
        units = chain.shape[0]
        v = np.asarray(value, np.float32)
        if v.size != units:
            _fail(node, f"adds {v.size} values to a layer of {units}; a bias has one per unit")
        last["bias"] = True
        chain.params[f"{last['name']}.bias"] = v.reshape(-1)
        chain.sources[-1]["nodes"].append(_node_label(node))
        chain.sources[-1]["output"] = node.output[0]
        return
    _fail(node, f"a constant {op} in the middle of the network is not supported (only a leading input "
                "normalisation, or the bias Add after a MatMul)")


def _pad(node, a, get, chain):
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = a.get("pads", get(1))
    value = get(2) if len(node.input) > 2 else a.get("value", 0.0)
    if mode != "constant" or (value is not None and float(np.asarray(value).reshape(-1)[0] if np.size(value) else 0) != 0):
        _fail(node, f"pads with mode {mode!r} and value {value}; ConvScope folds only zero padding")
    if len(node.input) > 3 and node.input[3]:
        _fail(node, "a Pad with explicit axes is not supported")
    p = [int(v) for v in pads] if pads is not None else []
    if len(p) != 8 or any(p[i] for i in (0, 1, 4, 5)) or any(v < 0 for v in p):
        _fail(node, f"pads {p}: ConvScope folds only non-negative padding of the height and width")
    chain.pending_pad = (p[2], p[6], p[3], p[7])
    chain.folded.append(_node_label(node))


def _pool(node, op, a, chain):
    c, h, w = _map_shape(node, chain)
    kernel, stride, dilation = _window_attrs(node, a)
    if dilation != [1, 1]:
        _fail(node, "dilated pooling is not supported")
    pads = _conv_pads(node, a, kernel, stride, dilation, (h, w))
    ho, wo = _out_hw((h, w), kernel, stride, pads, dilation)
    if int(a.get("ceil_mode", 0)):
        ceil = tuple(-(-(n + pads[2 * i] + pads[2 * i + 1] - kernel[i]) // stride[i]) + 1
                     for i, n in enumerate((h, w)))
        if ceil != (ho, wo):
            _fail(node, "uses ceil_mode=1, which here adds a partial window; ConvScope pools with floor "
                        "(export with ceil_mode=False)")
    keys = {"size": kernel, "stride": stride, "padding": list(pads)}
    if op == "MaxPool":
        if chain.pending_pad is not None:
            _fail(node, "a zero Pad before a MaxPool differs from the pool's own padding (−∞); not supported")
        chain.add("maxpool", node, (c, ho, wo), **keys)
    elif op == "AveragePool":
        count_pad = bool(int(a.get("count_include_pad", 0)))
        if chain.pending_pad is not None:
            if not count_pad and any(pads):
                _fail(node, "a zero Pad before an AveragePool that excludes its own padding is not supported")
            keys["padding"] = list(_take_pad(chain, pads))
            count_pad = True
            ho, wo = _out_hw((h, w), kernel, stride, keys["padding"], dilation)
        chain.add("avgpool", node, (c, ho, wo), count_pad=count_pad or not any(pads), **keys)
    else:
        if int(a.get("p", 2)) != 2:
            _fail(node, f"an Lp pool with p={a['p']}; ConvScope's L2 pool is p=2")
        chain.add("l2pool", node, (c, ho, wo), **keys)


def _gemm(node, a, get, chain):
    if len(chain.shape) != 1:
        _fail(node, "multiplies a map; flatten it first")
    if int(a.get("transA", 0)):
        _fail(node, "transA=1 (the image transposed) is not supported")
    b, bias = get(1), get(2)
    if b is None or b.ndim != 2:
        _fail(node, "its weights must be a constant matrix")
    weight = b if int(a.get("transB", 0)) else b.T
    if weight.shape[1] != chain.shape[0]:
        _fail(node, f"its weights read {weight.shape[1]} inputs, but the layer before gives {chain.shape[0]}: "
                    "the model contradicts itself")
    units = int(weight.shape[0])
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    name = chain.add("dense", node, (units,), units=units, bias=bias is not None)
    chain.params[f"{name}.weight"] = np.ascontiguousarray(weight * np.float32(alpha), dtype=np.float32)
    if bias is not None:
        v = np.broadcast_to(np.asarray(bias, np.float32).reshape(-1), (units,))
        chain.params[f"{name}.bias"] = np.ascontiguousarray(v * np.float32(beta), dtype=np.float32)
