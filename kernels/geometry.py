"""Output sizes, padding, receptive fields and parameter counts of a layer stack (plain Python).

Shape legend: a map is (C, H, W); a vector is (D,). Per-axis pairs are (height, width);
pad = (top, bottom, left, right). Layer dicts follow docs/CONTRACTS.md: "kind" is one of
input | conv | relu | leaky_relu | sigmoid | tanh | lecun_tanh | softplus | maxpool | avgpool |
l2pool | flatten | dense | softmax; conv and pools carry "kernel" (pools may say "size" instead),
"stride", "pad" and "dilation" (optional, default 1); conv has "out_channels", dense "units".

Receptive field of a layer: unit (i, j) sees input rows offset_h + i*jump_h ... + size_h - 1 and
columns likewise. Per axis, through a layer with kernel k, stride s, dilation d, padding p_before:
    jump_out = jump_in * s
    size_out = size_in + d*(k-1) * jump_in
    offset_out = offset_in - p_before * jump_in
Offsets may be negative and fields may run past the far edge: that part is padding.
Global layers (flatten, dense, softmax) see every input pixel that reaches them: we report the
span of those pixels, size = (last - first + 1), offset = first, jump = (0, 0) so every unit gets
the same window. For a normal stack that is the whole image: size = (H, W), offset = (0, 0);
it is smaller only if strides drop trailing rows, and (0, 0) if only padding reaches them.
"""
import math
from numbers import Integral

ELEMENTWISE = frozenset({"relu", "leaky_relu", "sigmoid", "tanh", "lecun_tanh", "softplus"})
POOLS = frozenset({"maxpool", "avgpool", "l2pool"})
WINDOWED = POOLS | {"conv"}
GLOBAL = frozenset({"flatten", "dense", "softmax"})
KINDS = ELEMENTWISE | WINDOWED | GLOBAL | {"input"}


def conv_output_size(n, k, stride=1, pad_total=0, dilation=1):
    """floor((n + pad_total - d*(k-1) - 1) / s) + 1 output positions along one axis.

    May be <= 0 (the dilated kernel is wider than the padded input): callers explain that.
    """
    for name, v, least in (("n", n, 0), ("k", k, 1), ("stride", stride, 1),
                           ("pad_total", pad_total, 0), ("dilation", dilation, 1)):
        if not _is_int(v) or v < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {v!r}")
    return (n + pad_total - dilation * (k - 1) - 1) // stride + 1


def resolve_padding(padding, kernel, dilation=(1, 1), stride=(1, 1), input_size=None):
    """Resolve a padding spec to (top, bottom, left, right).

    padding: "valid" (none) | "same" | P | (ph, pw) | (top, bottom, left, right), non-negative ints.
    "same" keeps ceil(n / s) outputs, TensorFlow's rule (PyTorch's for s = 1):
    total = max((ceil(n/s) - 1)*s + d*(k-1) + 1 - n, 0), i.e. d*(k-1) when s = 1; the odd pixel goes
    bottom/right. With a stride > 1 the total depends on n, so `input_size` (h, w) is required.
    """
    kh, kw = _pair(kernel, "kernel", 1)
    dh, dw = _pair(dilation, "dilation", 1)
    sh, sw = _pair(stride, "stride", 1)
    if isinstance(padding, str):
        mode = padding.strip().lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode == "same":
            if (sh > 1 or sw > 1) and input_size is None:
                raise ValueError("'same' padding with stride > 1 needs input_size=(h, w)")
            nh, nw = _pair(input_size, "input_size", 1) if input_size is not None else (None, None)
            top, bottom = _same_axis(nh, kh, sh, dh)
            left, right = _same_axis(nw, kw, sw, dw)
            return (top, bottom, left, right)
        raise ValueError(f"padding must be 'valid', 'same', an int or a tuple, got {padding!r}")
    if _is_int(padding):
        p = _nonneg(padding, "padding")
        return (p, p, p, p)
    if isinstance(padding, (tuple, list)) and all(_is_int(v) for v in padding):
        values = tuple(_nonneg(v, "padding") for v in padding)
        if len(values) == 2:
            return (values[0], values[0], values[1], values[1])
        if len(values) == 4:
            return values
    raise ValueError("padding must be 'valid', 'same', P, (ph, pw) or (top, bottom, left, right) "
                     f"with non-negative integers, got {padding!r}")


def _same_axis(n, k, s, d):
    total = d * (k - 1) if s == 1 else max((math.ceil(n / s) - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def layer_output_shapes(layers, input_shape):
    """Output shape of every layer, as tuples; input_shape is (C, H, W).

    Raises ValueError naming the layer if a window does not fit (output size <= 0).
    """
    shapes, shape = [], tuple(input_shape)
    for index, layer in enumerate(layers):
        kind = _kind(layer, index)
        if kind in WINDOWED:
            c, h, w = _expect_map(shape, layer, index)
            k, s, d, pad = _window(layer)
            ho = conv_output_size(h, k[0], s[0], pad[0] + pad[1], d[0])
            wo = conv_output_size(w, k[1], s[1], pad[2] + pad[3], d[1])
            if ho <= 0 or wo <= 0:
                raise ValueError(f"{_label(layer, index)}: a {k[0]}×{k[1]} window (dilation {d}) "
                                 f"does not fit the padded {h}×{w} input: output {ho}×{wo}")
            shape = (int(layer["out_channels"]) if kind == "conv" else c, ho, wo)
        elif kind == "flatten":
            shape = (math.prod(shape),)
        elif kind == "dense":
            shape = (int(layer["units"]),)
        shapes.append(shape)
    return shapes


def receptive_fields(layers, input_hw):
    """One {"size": (h, w), "jump": (h, w), "offset": (h, w)} per layer (see module docstring)."""
    shapes = layer_output_shapes(layers, (1,) + tuple(input_hw))
    axes = [(1, 1, 0), (1, 1, 0)]  # (size, jump, offset) per axis, for the input itself
    fields, is_global = [], False
    for index, layer in enumerate(layers):
        kind = layer["kind"]
        if kind in WINDOWED and not is_global:
            k, s, d, pad = _window(layer)
            axes = [(size + d[a] * (k[a] - 1) * jump, jump * s[a], offset - pad[2 * a] * jump)
                    for a, (size, jump, offset) in enumerate(axes)]
        elif kind in GLOBAL and not is_global:
            is_global = True
            axes = [_seen_span(layers[:index], shapes[:index], input_hw, a) for a in (0, 1)]
            if axes[0][0] == 0 or axes[1][0] == 0:  # the 2-D set is rows × cols: both empty
                axes = [(0, 0, 0), (0, 0, 0)]
        fields.append({"size": (axes[0][0], axes[1][0]), "jump": (axes[0][1], axes[1][1]),
                       "offset": (axes[0][2], axes[1][2])})
    return fields


def _seen_span(layers, shapes, input_hw, axis):
    """(size, 0, first) of the input positions along `axis` that reach any unit of the last map."""
    n = shapes[-1][1 + axis] if shapes else input_hw[axis]
    alive = set(range(n))
    for index in range(len(layers) - 1, -1, -1):
        if layers[index]["kind"] not in WINDOWED:
            continue
        n_in = shapes[index - 1][1 + axis] if index > 0 else input_hw[axis]
        k, s, d, pad = _window(layers[index])
        alive = {i * s[axis] - pad[2 * axis] + d[axis] * t
                 for i in alive for t in range(k[axis])} & set(range(n_in))
    if not alive:
        return (0, 0, 0)
    return (max(alive) - min(alive) + 1, 0, min(alive))


def param_count(layer, in_shape):
    """Number of trainable parameters of `layer` given its input shape."""
    return _params(layer, in_shape)[0]


def param_formula(layer, in_shape):
    """Human formula: "6 × (5·5·1 + 1) = 156", "120 × (400 + 1) = 48120"; None if no params."""
    return _params(layer, in_shape)[1]


def _params(layer, in_shape):
    kind = layer["kind"]
    if kind == "conv":
        c_out, c_in = int(layer["out_channels"]), int(in_shape[0])
        kh, kw = _pair(layer["kernel"], "kernel", 1)
        mask = layer.get("mask", layer.get("connections"))
        links = c_out * c_in if mask is None else sum(int(bool(v)) for row in mask for v in row)
        if links != c_out * c_in:  # a partial connection table (LeNet-5's C3): count its links
            total = links * kh * kw + c_out
            return total, f"{links} connections × {kh}·{kw} + {c_out} = {total}"
        total = c_out * (kh * kw * c_in + 1)
        return total, f"{c_out} × ({kh}·{kw}·{c_in} + 1) = {total}"
    if kind == "dense":
        units, inputs = int(layer["units"]), math.prod(in_shape)
        total = units * (inputs + 1)
        return total, f"{units} × ({inputs} + 1) = {total}"
    return 0, None


def _window(layer):
    kernel = layer.get("kernel", layer.get("size"))
    k = _pair(kernel, "kernel", 1)
    s = _pair(layer.get("stride", k if layer["kind"] in POOLS else 1), "stride", 1)
    d = _pair(layer.get("dilation", 1), "dilation", 1)
    pad = layer.get("pad", (0, 0, 0, 0))
    pad = pad if isinstance(pad, (tuple, list)) and len(pad) == 4 else resolve_padding(pad, k, d, s)
    return k, s, d, tuple(_nonneg(p, "pad") for p in pad)


def _kind(layer, index):
    kind = layer.get("kind")
    if kind not in KINDS:
        raise ValueError(f"{_label(layer, index)}: unknown kind {kind!r}; "
                         f"expected one of {sorted(KINDS)}")
    return kind


def _expect_map(shape, layer, index):
    if len(shape) != 3:
        raise ValueError(f"{_label(layer, index)} needs a (C, H, W) input, got shape {shape}")
    return shape


def _label(layer, index):
    return f"layer {index} ({layer.get('name', layer.get('kind'))})"


def _is_int(v):
    return isinstance(v, Integral) and not isinstance(v, bool)


def _nonneg(v, name):
    if not _is_int(v) or v < 0:
        raise ValueError(f"{name} values must be non-negative integers, got {v!r}")
    return int(v)


def _pair(v, name, least):
    pair = (v, v) if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(_is_int(p) and p >= least for p in pair):
        raise ValueError(f"{name} must be an integer >= {least} or a pair of them, got {v!r}")
    return int(pair[0]), int(pair[1])
