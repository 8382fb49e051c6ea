"""Layers: thin objects that hold parameters, read their geometry from a LayerSpec and call the kernels.

Shape legend: one image x is (C, H, W); a batch X is (N, C, H, W); dense inputs are (D,) / (N, D).
Every layer offers ``plan()`` (its kernel for the single-image trace, see ``trace_plan``),
``forward_batch(X)`` returning the output and whatever ``backward_batch`` needs, and
``backward_batch(cache, dY)`` returning the input gradient and a dict of parameter gradients (same
keys as ``params``).  ``chains`` is the one matcher for the fused runs of layers (conv → ReLU →
max-pool, dense → ReLU/softmax) that the trace and the training both use.
"""
from __future__ import annotations

import numpy as np

from convscope import kernels as K
from convscope.kernels.conv_gemm import gemm_product, uses_gemm
from convscope.layerspec import LayerSpec

CONV_RELU_MAXPOOL = ("conv", "relu", "maxpool")
TRACE_FUSIONS = (CONV_RELU_MAXPOOL, ("dense", "relu"), ("dense", "softmax"))
TRAIN_FUSIONS = (CONV_RELU_MAXPOOL,)


class Layer:
    kind = "layer"

    def __init__(self, spec: LayerSpec):
        self.spec = spec
        self.name = spec.name
        self.kind = spec.kind
        self.in_shape = spec.in_shape
        self.out_shape = spec.out_shape
        self.params: dict[str, np.ndarray] = {}

    def plan(self):
        """(kernel, extra args, returns (y, extra)?) for the trace's tight loop: y = kernel(x, *args)."""
        return None

    def forward_batch(self, x):
        return x, None

    def backward_batch(self, cache, dy):
        return dy, {}

    def input_backward(self, cache, dy):
        """dL/d(input) only (attribution, convnet/explain.py): no parameter gradients needed."""
        return self.backward_batch(cache, dy)[0]


class Input(Layer):
    pass


class Conv(Layer):
    def __init__(self, spec):
        super().__init__(spec)
        c_in, c_out = self.in_shape[0], self.out_shape[0]
        w = spec.window
        self.kernel, self.stride, self.pad, self.dilation = w.kernel, w.stride, w.pad, w.dilation
        self.mask = (np.ones((c_out, c_in), np.float32) if spec.connections is None
                     else np.ascontiguousarray(spec.connections, dtype=np.float32))
        self.params = {"weight": np.zeros((c_out, c_in, *self.kernel), np.float32)}
        self.zero_bias = np.zeros(c_out, np.float32)   # what a layer without a bias adds
        if spec.bias:
            self.params["bias"] = np.zeros(c_out, np.float32)

    @property
    def bias(self):
        return self.params.get("bias", self.zero_bias)

    def init(self, rng):
        # He initialisation over the inputs each output map actually reads.
        fan_in = self.mask.sum(axis=1, keepdims=True)[:, :, None, None] * self.kernel[0] * self.kernel[1]
        w = rng.standard_normal(self.params["weight"].shape) * np.sqrt(2.0 / fan_in)
        self.params["weight"] = (w * self.mask[:, :, None, None]).astype(np.float32)
        if "bias" in self.params:
            self.params["bias"] = np.zeros_like(self.params["bias"])

    def _args(self):
        return self.params["weight"], self.bias, self.stride, self.pad, self.dilation, self.mask

    def _grads(self, dw, db):
        g = {"weight": dw * self.mask[:, :, None, None]}
        if "bias" in self.params:
            g["bias"] = db
        return g

    def gemm(self) -> bool:
        """Whether the trace computes this layer as one matrix product (kernels/conv_gemm.py)."""
        return uses_gemm(self.out_shape[0], self.in_shape[0], self.kernel, self.stride)

    def plan(self):
        if self.gemm():
            return _GemmConv(self), (), False
        return K.conv2d_tabled, (*self._args(), self.tables()), False

    def tables(self):
        """The direct kernel's tap tables for this layer's input size (kernels/conv.py conv_tables):
        derived from the weights, so a plan that holds them is rebuilt when the weights change."""
        w, _, s, p, d, m = self._args()
        return K.conv_tables(self.in_shape, w, s, p, d, m)

    def forward_batch(self, x):
        w, b, s, p, d, m = self._args()
        return K.conv2d_batch(x, w, b, s, p, d, m), x

    def forward_relu_pool_batch(self, x, pool):
        """(pooled, cache) for this conv, a ReLU and the max-pool layer ``pool``, in one kernel."""
        w, b, s, p, d, m = self._args()
        pooled, winners = K.conv2d_relu_max_pool2d_batch(x, w, b, s, p, d, m, pool.size,
                                                         pool.stride, pool.pad)
        return pooled, (x, pooled, winners)

    def backward_relu_pool_batch(self, cache, dq, need_dx=True):
        """Backward of forward_relu_pool_batch, given dq = dL/d(pooled): (dx or None, grads)."""
        x, pooled, winners = cache
        w, _, s, p, d, m = self._args()
        if need_dx:
            dx, dw, db = K.conv2d_relu_max_pool2d_backward_batch(x, w, dq, pooled, winners, s, p, d, m)
        else:
            dx, (dw, db) = None, K.conv2d_relu_max_pool2d_backward_params_batch(
                x, w, dq, pooled, winners, s, p, d, m)
        return dx, self._grads(dw, db)

    def input_backward(self, x, dy):
        return self.backward_batch(x, dy, need_dx=True)[0]

    def backward_batch(self, x, dy, need_dx=True):
        """need_dx=False (no trainable layer before this one) skips dx and returns None for it."""
        w, _, s, p, d, m = self._args()
        if need_dx:
            dx, dw, db = K.conv2d_backward_batch(x, w, dy, s, p, d, m)
        else:
            dx, (dw, db) = None, K.conv2d_backward_params_batch(x, w, dy, s, p, d, m)
        return dx, self._grads(dw, db)


class _GemmConv:
    """The trace's call for a many-channel conv: its weights as one matrix (mask applied), taken
    when the plan is built, after Network.load has put the file's parameters in place."""

    def __init__(self, layer):
        self.layer = la = layer
        w = la.params["weight"] * la.mask[:, :, None, None]
        self.w2 = np.ascontiguousarray(w.reshape(w.shape[0], -1), dtype=np.float32)
        self.geometry = la.kernel, la.stride, la.pad, la.dilation, la.out_shape[1:]

    def product(self, x):
        return gemm_product(x, self.w2, *self.geometry)

    def __call__(self, x):
        a, pitch = self.product(x)
        ho, wo = self.layer.out_shape[1:]
        return K.gather_rows(a, self.layer.bias, ho, wo, pitch)


class _GemmConvReluPool:
    """conv (as a matrix product) → ReLU → max-pool, returning what the fused kernel returns."""

    def __init__(self, conv, pool):
        self.conv, self.pool = _GemmConv(conv), pool

    def __call__(self, x):
        a, pitch = self.conv.product(x)
        ho, wo = self.conv.layer.out_shape[1:]
        p = self.pool
        return K.gather_relu_max_pool(a, self.conv.layer.bias, ho, wo, pitch, p.size, p.stride, p.pad)


class Pool(Layer):
    """Max, average (padding counted or not), L2 and the global pools (one window over the map)."""

    def __init__(self, spec):
        super().__init__(spec)
        self.size, self.stride, self.pad = spec.window.kernel, spec.window.stride, spec.window.pad
        self.reduce = spec.reduce
        self.exclusive = spec.reduce == "mean" and not spec.count_pad
        self.pairs = spec.reduce == "max"   # returns (y, winners)

    def _kernels(self):
        if self.reduce == "max":
            return K.max_pool2d, K.max_pool2d_batch
        if self.reduce == "l2":
            return K.l2_pool2d, K.l2_pool2d_batch
        if self.exclusive:
            return K.avg_pool2d_exclusive, K.avg_pool2d_exclusive_batch
        return K.avg_pool2d, K.avg_pool2d_batch

    def plan(self):
        return self._kernels()[0], (self.size, self.stride, self.pad), self.pairs

    def forward_batch(self, x):
        y = self._kernels()[1](x, self.size, self.stride, self.pad)
        if self.reduce == "max":
            return y
        return y, ((x, y) if self.reduce == "l2" else None)

    def backward_batch(self, cache, dy):
        hw = self.in_shape[1:]
        if self.reduce == "max":
            return K.max_pool2d_backward_batch(dy, cache, hw), {}
        if self.reduce == "mean":
            if self.exclusive:
                return K.avg_pool2d_exclusive_backward_batch(dy, hw, self.size, self.stride, self.pad), {}
            return K.avg_pool2d_backward_batch(dy, hw, self.size, self.stride, self.pad), {}
        x, y = cache
        return K.l2_pool2d_backward_batch(x, y, dy, self.size, self.stride, self.pad), {}


class Activation(Layer):
    def __init__(self, spec):
        super().__init__(spec)
        self.alpha = spec.alpha
        fwd, bwd = K.ACTIVATIONS[self.kind][:2]
        self._fwd, self._bwd = fwd, bwd

    def _call(self, fn, *args):
        return fn(*args, self.alpha) if self.kind in K.TAKES_ALPHA else fn(*args)

    def plan(self):
        return self._fwd, ((self.alpha,) if self.kind in K.TAKES_ALPHA else ()), False

    def forward_batch(self, x):
        return self._call(self._fwd, x), x

    def backward_batch(self, x, dy):
        return self._call(self._bwd, x, dy), {}


class Affine(Layer):
    """Per-channel constant arithmetic (kernels/channelwise.py): ``batchnorm`` (inference form; its
    gamma, beta, running mean and variance are weights of the file) and ``normalize`` (the input
    normalisation a model expects; its steps are part of the spec).  ``steps()`` is what the
    arithmetic panel shows: (op, label, per-channel values) in the order they are applied."""

    def __init__(self, spec):
        super().__init__(spec)
        c = self.in_shape[0]
        self.eps = float(spec.source.get("eps", 1e-5))
        if self.kind == "batchnorm":
            self.params = {"gamma": np.ones(c, np.float32), "beta": np.zeros(c, np.float32),
                           "mean": np.zeros(c, np.float32), "var": np.ones(c, np.float32)}

    def steps(self) -> list[tuple[str, str, np.ndarray]]:
        if self.kind == "batchnorm":
            p = self.params
            std = np.sqrt(p["var"] + np.float32(self.eps)).astype(np.float32)
            return [("sub", "running mean μ", p["mean"]), ("div", "√(σ² + ε)", std),
                    ("mul", "γ", p["gamma"]), ("add", "β", p["beta"])]
        words = {"sub": "subtract", "div": "divide by", "mul": "multiply by", "add": "add"}
        return [(st["op"], words[st["op"]], np.asarray(st["value"], np.float32))
                for st in self.spec.source["steps"]]

    def _codes(self):
        # Rebuilt per call (a few µs): batch-norm parameters are replaced when a file is loaded.
        steps = self.steps()
        codes = np.array([K.CHANNEL_CODES[op] for op, _, _ in steps], np.int64)
        values = np.ascontiguousarray(np.stack([v for _, _, v in steps]), dtype=np.float32)
        return codes, values

    def plan(self):
        return _ChannelSteps(self), (), False

    def forward_batch(self, x):
        return K.channel_steps_batch(x, *self._codes()), None

    def input_backward(self, cache, dy):
        return K.channel_steps_backward_batch(dy, *self._codes())   # linear: the same for both kinds

    def backward_batch(self, cache, dy):
        if self.kind == "batchnorm":
            raise NotImplementedError(f"{self.name}: training batch normalisation is not supported "
                                      "(ConvScope runs it in its inference form)")
        return K.channel_steps_backward_batch(dy, *self._codes()), {}


class _ChannelSteps:
    """The trace's call for an Affine layer, with its constants packed once, when first called
    (after Network.load has put the file's parameters in place)."""

    def __init__(self, layer):
        self.layer, self.packed = layer, None

    def __call__(self, x):
        if self.packed is None:
            self.packed = self.layer._codes()
        return K.channel_steps(x, *self.packed)


class Flatten(Layer):
    def plan(self):
        return np.ravel, (), False

    def forward_batch(self, x):
        return x.reshape(x.shape[0], -1), None

    def backward_batch(self, cache, dy):
        return dy.reshape((dy.shape[0], *self.in_shape)), {}


class Dense(Layer):
    def __init__(self, spec):
        super().__init__(spec)
        units = self.out_shape[0]
        self.params = {"weight": np.zeros((units, self.in_shape[0]), np.float32)}
        self.zero_bias = np.zeros(units, np.float32)
        if spec.bias:
            self.params["bias"] = np.zeros(units, np.float32)

    @property
    def bias(self):
        return self.params.get("bias", self.zero_bias)

    def init(self, rng):
        fan_in = self.in_shape[0]
        self.params["weight"] = (rng.standard_normal(self.params["weight"].shape)
                                 * np.sqrt(2.0 / fan_in)).astype(np.float32)
        if "bias" in self.params:
            self.params["bias"] = np.zeros_like(self.params["bias"])

    def plan(self):
        return K.dense, (self.params["weight"], self.bias), False

    def forward_batch(self, x):
        return K.dense_batch(x, self.params["weight"], self.bias), x

    def backward_batch(self, x, dy):
        dx, dw, db = K.dense_backward_batch(x, self.params["weight"], dy)
        return dx, ({"weight": dw, "bias": db} if "bias" in self.params else {"weight": dw})


class Softmax(Layer):
    def plan(self):
        return K.softmax, (), False

    def forward_batch(self, x):
        return K.softmax_batch(x), None


OP_CLASSES = {"input": Input, "conv": Conv, "pool": Pool, "activation": Activation, "affine": Affine,
              "flatten": Flatten, "dense": Dense, "softmax": Softmax}


def build(spec: LayerSpec) -> Layer:
    return OP_CLASSES[spec.op](spec)


def chains(kinds: list[str], patterns) -> list[tuple[int, int]]:
    """(start, length) runs covering ``kinds`` left to right: a run is the first of ``patterns``
    that matches at ``start`` (fused into one kernel call), else a single layer."""
    runs, i = [], 0
    while i < len(kinds):
        n = next((len(p) for p in patterns if tuple(kinds[i:i + len(p)]) == p), 1)
        runs.append((i, n))
        i += n
    return runs


def trace_plan(layers: list[Layer]) -> list[tuple]:
    """Steps (names, kinds, kernel, args, number of outputs) for the single-image trace.

    conv → relu → maxpool, dense → relu and dense → softmax become one fused kernel call each;
    every other layer is its own step.  A max-pool step's last output is its winners."""
    steps = []
    for i, n in chains([la.kind for la in layers], TRACE_FUSIONS):
        la, run = layers[i], layers[i:i + n]
        names, kinds = tuple(x.name for x in run), tuple(x.kind for x in run)
        if kinds == CONV_RELU_MAXPOOL and la.gemm():
            steps.append((names, kinds, _GemmConvReluPool(la, run[2]), (), 4))
        elif kinds == CONV_RELU_MAXPOOL:
            pool = run[2]
            steps.append((names, kinds, K.conv2d_relu_max_pool2d_tabled,
                          (*la._args(), la.tables(), pool.size, pool.stride, pool.pad), 4))
        elif n == 2:
            fn = K.dense_relu if kinds[1] == "relu" else K.dense_softmax
            steps.append((names, kinds, fn, (la.params["weight"], la.bias), 2))
        else:
            fn, args, pair = la.plan()
            steps.append((names, kinds, fn, args, 2 if pair else 1))
    return steps
