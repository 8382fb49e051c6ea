"""Output sizes, padding, receptive fields and parameter counts of a layer stack (plain Python).

Shape legend: a map is (C, H, W); a vector is (D,). Per-axis pairs are (height, width);
pad = (top, bottom, left, right). The layers are ``convscope.layerspec.LayerSpec`` objects (or
anything with the same fields): ``window`` (kernel, stride, pad, dilation; None if the layer has no
sliding window), ``family`` ("map" | "vector"), ``in_shape``, ``out_shape`` and, for conv,
``connections``. Nothing here dispatches on a layer's kind.

Receptive field of a layer: unit (i, j) sees input rows offset_h + i*jump_h ... + size_h - 1 and
columns likewise. Per axis, through a layer with kernel k, stride s, dilation d, padding p_before:
    jump_out = jump_in * s
    size_out = size_in + d*(k-1) * jump_in
    offset_out = offset_in - p_before * jump_in
Offsets may be negative and fields may run past the far edge: that part is padding.
Vector layers (flatten, dense, softmax) see every input pixel that reaches them: we report the
span of those pixels, size = (last - first + 1), offset = first, jump = (0, 0) so every unit gets
the same window. For a normal stack that is the whole image: size = (H, W), offset = (0, 0);
it is smaller only if strides drop trailing rows, and (0, 0) if only padding reaches them.
"""
import math
from numbers import Integral


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
    kh, kw = pair(kernel, "kernel", 1)
    dh, dw = pair(dilation, "dilation", 1)
    sh, sw = pair(stride, "stride", 1)
    if isinstance(padding, str):
        mode = padding.strip().lower()
        if mode == "valid":
            return (0, 0, 0, 0)
        if mode == "same":
            if (sh > 1 or sw > 1) and input_size is None:
                raise ValueError("'same' padding with stride > 1 needs input_size=(h, w)")
            nh, nw = pair(input_size, "input_size", 1) if input_size is not None else (None, None)
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


def receptive_fields(layers):
    """One {"size": (h, w), "jump": (h, w), "offset": (h, w)} per layer (see module docstring);
    ``layers[0]`` is the input layer, whose map sets the image size."""
    input_hw = tuple(layers[0].out_shape[1:])
    axes = [(1, 1, 0), (1, 1, 0)]  # (size, jump, offset) per axis, for the input itself
    fields, is_global = [], False
    for index, layer in enumerate(layers):
        if layer.window is not None and not is_global:
            w = layer.window
            axes = [(size + w.dilation[a] * (w.kernel[a] - 1) * jump, jump * w.stride[a],
                     offset - w.pad[2 * a] * jump) for a, (size, jump, offset) in enumerate(axes)]
        elif layer.family == "vector" and not is_global:
            is_global = True
            axes = [_seen_span(layers[:index], input_hw, a) for a in (0, 1)]
            if axes[0][0] == 0 or axes[1][0] == 0:  # the 2-D set is rows × cols: both empty
                axes = [(0, 0, 0), (0, 0, 0)]
        fields.append({"size": (axes[0][0], axes[1][0]), "jump": (axes[0][1], axes[1][1]),
                       "offset": (axes[0][2], axes[1][2])})
    return fields


def _seen_span(layers, input_hw, axis):
    """(size, 0, first) of the input positions along `axis` that reach any unit of the last map."""
    n = layers[-1].out_shape[1 + axis] if layers else input_hw[axis]
    alive = set(range(n))
    for layer in reversed(layers):
        if layer.window is None:
            continue
        w = layer.window
        n_in = layer.in_shape[1 + axis]
        alive = {i * w.stride[axis] - w.pad[2 * axis] + w.dilation[axis] * t
                 for i in alive for t in range(w.kernel[axis])} & set(range(n_in))
    if not alive:
        return (0, 0, 0)
    return (max(alive) - min(alive) + 1, 0, min(alive))


def param_count(layer):
    """Trainable parameters of a layer: conv C_out·C_in·kh·kw (only the linked input maps with a
    partial connection table) + C_out biases, dense D_out·D_in + D_out biases (no biases for a
    layer with ``bias`` false), batch norm 2·C (γ and β; its running mean and variance are
    statistics, not trained, as PyTorch counts them), otherwise 0."""
    bias = getattr(layer, "bias", True)
    if layer.window is not None and layer.op == "conv":
        kh, kw = layer.window.kernel
        c_out, c_in = layer.out_shape[0], layer.in_shape[0]
        links = c_out * c_in if layer.connections is None else sum(map(sum, layer.connections))
        return links * kh * kw + (c_out if bias else 0)
    if layer.op == "dense":
        return layer.out_shape[0] * (math.prod(layer.in_shape) + (1 if bias else 0))
    if layer.kind == "batchnorm":
        return 2 * layer.out_shape[0]
    return 0


def _is_int(v):
    return isinstance(v, Integral) and not isinstance(v, bool)


def _nonneg(v, name):
    if not _is_int(v) or v < 0:
        raise ValueError(f"{name} values must be non-negative integers, got {v!r}")
    return int(v)


def pair(v, name="value", least=1):
    """(h, w) from an int or a pair of ints, each >= least (ValueError naming ``name`` otherwise)."""
    two = (v, v) if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
    if two is None or len(two) != 2 or not all(_is_int(p) and p >= least for p in two):
        raise ValueError(f"{name} must be an integer >= {least} or a pair of them, got {v!r}")
    return int(two[0]), int(two[1])
