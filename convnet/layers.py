"""Layers: thin objects that hold parameters and resolved geometry and call the Numba kernels.

Shape legend: one image x is (C, H, W); a batch X is (N, C, H, W); dense inputs are (D,) / (N, D).
Every layer offers ``forward(x)`` for one image (the trace), ``forward_batch(X)`` returning the
output and whatever ``backward_batch`` needs, and ``backward_batch(cache, dY)`` returning the input
gradient and a dict of parameter gradients (same keys as ``params``).
"""
from __future__ import annotations

import numpy as np

from convscope import kernels as K
from convscope.kernels import geometry

from .spec import ACTIVATION_KINDS, POOL_KINDS


class Layer:
    kind = "layer"

    def __init__(self, spec: dict, in_shape: tuple):
        self.spec = dict(spec)
        self.name = spec["name"]
        self.kind = spec["kind"]
        self.in_shape = tuple(int(s) for s in in_shape)
        self.params: dict[str, np.ndarray] = {}
        self.out_shape = self.in_shape

    def hyper(self) -> dict:
        return {}

    def forward(self, x):
        return x, None

    def plan(self):
        """(kernel, extra args, returns (y, extra)?) for the trace's tight loop: y = kernel(x, *args)."""
        return None

    def forward_batch(self, x):
        return x, None

    def backward_batch(self, cache, dy):
        return dy, {}


class Input(Layer):
    pass


class Conv(Layer):
    def __init__(self, spec, in_shape):
        super().__init__(spec, in_shape)
        c_in, h, w = self.in_shape
        c_out = int(spec["out_channels"])
        self.kernel = tuple(int(k) for k in spec.get("kernel", (5, 5)))
        self.stride = tuple(int(s) for s in spec.get("stride", (1, 1)))
        self.dilation = tuple(int(d) for d in spec.get("dilation", (1, 1)))
        self.pad = geometry.resolve_padding(spec.get("padding", "valid"), self.kernel, self.dilation,
                                            self.stride, input_size=(h, w))
        table = spec.get("connections")
        self.mask = (np.ones((c_out, c_in), np.float32) if table is None
                     else np.ascontiguousarray(table, dtype=np.float32))
        if self.mask.shape != (c_out, c_in):
            raise ValueError(f"{self.name}: connection table must be {c_out}×{c_in}")
        ho = geometry.conv_output_size(h, self.kernel[0], self.stride[0], self.pad[0] + self.pad[1],
                                       self.dilation[0])
        wo = geometry.conv_output_size(w, self.kernel[1], self.stride[1], self.pad[2] + self.pad[3],
                                       self.dilation[1])
        if ho <= 0 or wo <= 0:
            raise ValueError(f"{self.name}: output would be {ho}×{wo}")
        self.out_shape = (c_out, ho, wo)
        self.params = {"weight": np.zeros((c_out, c_in, *self.kernel), np.float32),
                       "bias": np.zeros(c_out, np.float32)}

    def init(self, rng):
        # He initialisation over the inputs each output map actually reads.
        fan_in = self.mask.sum(axis=1, keepdims=True)[:, :, None, None] * self.kernel[0] * self.kernel[1]
        w = rng.standard_normal(self.params["weight"].shape) * np.sqrt(2.0 / fan_in)
        self.params["weight"] = (w * self.mask[:, :, None, None]).astype(np.float32)
        self.params["bias"] = np.zeros_like(self.params["bias"])

    def hyper(self):
        return {"out_channels": self.out_shape[0], "kernel": list(self.kernel),
                "stride": list(self.stride), "pad": list(self.pad), "dilation": list(self.dilation)}

    def _args(self):
        return self.params["weight"], self.params["bias"], self.stride, self.pad, self.dilation, self.mask

    def forward(self, x):
        return K.conv2d(x, *self._args()), None

    def plan(self):
        return K.conv2d, self._args(), False

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
        return dx, {"weight": dw * m[:, :, None, None], "bias": db}

    def backward_batch(self, x, dy, need_dx=True):
        """need_dx=False (no trainable layer before this one) skips dx and returns None for it."""
        w, _, s, p, d, m = self._args()
        if need_dx:
            dx, dw, db = K.conv2d_backward_batch(x, w, dy, s, p, d, m)
        else:
            dx, (dw, db) = None, K.conv2d_backward_params_batch(x, w, dy, s, p, d, m)
        return dx, {"weight": dw * m[:, :, None, None], "bias": db}


class Pool(Layer):
    def __init__(self, spec, in_shape):
        super().__init__(spec, in_shape)
        c, h, w = self.in_shape
        self.size = tuple(int(k) for k in spec.get("size", (2, 2)))
        self.stride = tuple(int(s) for s in spec.get("stride", self.size))
        self.pad = geometry.resolve_padding(spec.get("padding", 0), self.size, (1, 1), self.stride,
                                            input_size=(h, w))
        ho = geometry.conv_output_size(h, self.size[0], self.stride[0], self.pad[0] + self.pad[1], 1)
        wo = geometry.conv_output_size(w, self.size[1], self.stride[1], self.pad[2] + self.pad[3], 1)
        self.out_shape = (c, ho, wo)

    def hyper(self):
        return {"size": list(self.size), "stride": list(self.stride), "pad": list(self.pad)}

    def forward(self, x):
        fn, args, pair = self.plan()
        return fn(x, *args) if pair else (fn(x, *args), None)

    def plan(self):
        fn = {"maxpool": K.max_pool2d, "avgpool": K.avg_pool2d, "l2pool": K.l2_pool2d}[self.kind]
        return fn, (self.size, self.stride, self.pad), self.kind == "maxpool"

    def forward_batch(self, x):
        if self.kind == "maxpool":
            y, winners = K.max_pool2d_batch(x, self.size, self.stride, self.pad)
            return y, winners
        if self.kind == "avgpool":
            return K.avg_pool2d_batch(x, self.size, self.stride, self.pad), None
        y = K.l2_pool2d_batch(x, self.size, self.stride, self.pad)
        return y, (x, y)

    def backward_batch(self, cache, dy):
        hw = self.in_shape[1:]
        if self.kind == "maxpool":
            return K.max_pool2d_backward_batch(dy, cache, hw), {}
        if self.kind == "avgpool":
            return K.avg_pool2d_backward_batch(dy, hw, self.size, self.stride, self.pad), {}
        x, y = cache
        return K.l2_pool2d_backward_batch(x, y, dy, self.size, self.stride, self.pad), {}


class Activation(Layer):
    def __init__(self, spec, in_shape):
        super().__init__(spec, in_shape)
        self.alpha = float(spec.get("alpha", 0.01))
        fwd, bwd = K.ACTIVATIONS[self.kind][:2]
        self._fwd, self._bwd = fwd, bwd

    def hyper(self):
        return {"alpha": self.alpha} if self.kind == "leaky_relu" else {}

    def _call(self, fn, *args):
        return fn(*args, self.alpha) if self.kind == "leaky_relu" else fn(*args)

    def forward(self, x):
        return self._call(self._fwd, x), None

    def plan(self):
        return self._fwd, ((self.alpha,) if self.kind == "leaky_relu" else ()), False

    def forward_batch(self, x):
        return self._call(self._fwd, x), x

    def backward_batch(self, x, dy):
        return self._call(self._bwd, x, dy), {}


class Flatten(Layer):
    def __init__(self, spec, in_shape):
        super().__init__(spec, in_shape)
        self.out_shape = (int(np.prod(self.in_shape)),)

    def forward(self, x):
        return x.reshape(-1), None

    def plan(self):
        return np.ravel, (), False

    def forward_batch(self, x):
        return x.reshape(x.shape[0], -1), None

    def backward_batch(self, cache, dy):
        return dy.reshape((dy.shape[0], *self.in_shape)), {}


class Dense(Layer):
    def __init__(self, spec, in_shape):
        super().__init__(spec, in_shape)
        if len(self.in_shape) != 1:
            raise ValueError(f"{self.name}: a dense layer needs a flat input (add a flatten layer)")
        units = int(spec["units"])
        self.out_shape = (units,)
        self.params = {"weight": np.zeros((units, self.in_shape[0]), np.float32),
                       "bias": np.zeros(units, np.float32)}

    def init(self, rng):
        fan_in = self.in_shape[0]
        self.params["weight"] = (rng.standard_normal(self.params["weight"].shape)
                                 * np.sqrt(2.0 / fan_in)).astype(np.float32)
        self.params["bias"] = np.zeros_like(self.params["bias"])

    def hyper(self):
        return {"units": self.out_shape[0]}

    def forward(self, x):
        return K.dense(x, self.params["weight"], self.params["bias"]), None

    def plan(self):
        return K.dense, (self.params["weight"], self.params["bias"]), False

    def forward_batch(self, x):
        return K.dense_batch(x, self.params["weight"], self.params["bias"]), x

    def backward_batch(self, x, dy):
        dx, dw, db = K.dense_backward_batch(x, self.params["weight"], dy)
        return dx, {"weight": dw, "bias": db}


class Softmax(Layer):
    def forward(self, x):
        return K.softmax(x), None

    def plan(self):
        return K.softmax, (), False

    def forward_batch(self, x):
        return K.softmax_batch(x), None


def build(spec: dict, in_shape: tuple) -> Layer:
    kind = spec["kind"]
    if kind == "conv":
        return Conv(spec, in_shape)
    if kind in POOL_KINDS:
        return Pool(spec, in_shape)
    if kind in ACTIVATION_KINDS:
        return Activation(spec, in_shape)
    cls = {"input": Input, "flatten": Flatten, "dense": Dense, "softmax": Softmax}[kind]
    return cls(spec, in_shape)


def trace_plan(layers: list[Layer]) -> list[tuple]:
    """Steps (names, kinds, kernel, args, number of outputs) for the single-image trace.

    conv → relu → maxpool, dense → relu and dense → softmax become one fused kernel call each;
    every other layer is its own step.  A max-pool step's last output is its winners."""
    steps, i = [], 0
    while i < len(layers):
        la = layers[i]
        kinds = tuple(x.kind for x in layers[i:i + 3])
        if kinds == ("conv", "relu", "maxpool"):
            pool = layers[i + 2]
            steps.append(((la.name, layers[i + 1].name, pool.name), kinds, K.conv2d_relu_max_pool2d,
                          (*la._args(), pool.size, pool.stride, pool.pad), 4))
            i += 3
        elif kinds[:2] in (("dense", "relu"), ("dense", "softmax")):
            fn = K.dense_relu if kinds[1] == "relu" else K.dense_softmax
            steps.append(((la.name, layers[i + 1].name), kinds[:2], fn,
                          (la.params["weight"], la.params["bias"]), 2))
            i += 2
        else:
            fn, args, pair = la.plan()
            steps.append(((la.name,), (la.kind,), fn, args, 2 if pair else 1))
            i += 1
    return steps
