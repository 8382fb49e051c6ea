"""Why the network answered: attribution maps for one image, on ConvScope's own kernels.

Every method explains one class's **score** (its logit: the value before the softmax, as saliency
methods usually do), for the network's input x (C, H, W):

- ``gradient``: d score / d x, by the layers' backward kernels (the first conv's input gradient
  included); the map is max over channels of |gradient| (Simonyan et al., 2014).
- ``gradient_x_input``: gradient ⊙ x, summed over channels (signed).
- ``gradcam`` at a map layer L with activations A (K, h, w): weights α_k = mean over the map of
  d score / d A_k, cam = ReLU(Σ_k α_k A_k) at L's resolution, and bilinearly resized to the input
  (Selvaraju et al., 2017).
- ``occlusion``: a patch × patch square of zeros slid with the given stride; each pixel's value is
  the mean drop of the class's probability over the placements that covered it (Zeiler & Fergus,
  2014).  Computed as one batch through ``Network.predict``.

``backward(net, pass, dlogits)`` is the reverse pass shared by the gradient methods: the trace's
activations (the single-image kernels the server warms) and each layer's single-image backward
kernel, the first conv's input gradient included.

``randomized(net, k)`` is the sanity check of Adebayo et al. (2018): the same network with the
weights of its top k layers with weights re-drawn at random (cascading from the output down). A map
that barely changes as k grows does not depend on what the network learned.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from convscope import kernels as K

METHODS = ("gradient", "gradient_x_input", "gradcam", "occlusion")
MAX_OCCLUSIONS = 4096        # placements of the occluding patch per request


class NotExplainable(ValueError):
    """The model has a layer the reverse pass does not cover (the message names it)."""


@dataclass
class Explanation:
    method: str
    cls: int
    score: float                       # the class's logit
    probability: float
    map: np.ndarray                    # (H, W) in the input's coordinates
    gradient: np.ndarray | None = None  # (C, H, W) for the gradient methods
    layer: str | None = None            # Grad-CAM's layer …
    layer_map: np.ndarray | None = None  # … and its map at that layer's resolution
    extra: dict = field(default_factory=dict)


def _scored_layers(net):
    """The layers from the first after the input to the one that outputs the logits."""
    layers = net.layers[1:]
    return layers[:-1] if layers and layers[-1].kind == "softmax" else layers


class Pass:
    """One image's forward pass for attribution: the trace (the single-image kernels the server has
    warmed) with every layer's output, input and a max pool's winners at hand."""

    def __init__(self, net, x):
        self.net, self.trace = net, net.trace(x)
        acts = self.trace.activations
        self.outputs = {a.name: a.data for a in acts}
        self.inputs = {acts[i].name: acts[i - 1].data for i in range(1, len(acts))}
        self.winners = {a.name: a.winners for a in acts if a.winners is not None}


def forward(net, x):
    """(outputs per layer name, the Pass) of one image; outputs[name] is (1, ...) like a batch."""
    p = Pass(net, x)
    return {name: v[None] for name, v in p.outputs.items()}, p


def _input_backward(layer, p: Pass, dy):
    """dL/d(layer's input) of one image from dy = dL/d(its output), by the single-image kernels."""
    op, x = layer.spec.op, p.inputs[layer.name]
    if op == "conv":
        w, _, s, pad, d, m = layer._args()
        return K.conv2d_backward(x, w, dy, s, pad, d, m)[0]
    if op == "activation":
        fn = K.ACTIVATIONS[layer.kind][1]
        return fn(x, dy, layer.alpha) if layer.kind in K.TAKES_ALPHA else fn(x, dy)
    if op == "affine":
        return K.channel_steps_backward(dy, *layer._codes())
    if op == "pool":
        hw = x.shape[1:]
        if layer.reduce == "max":
            return K.max_pool2d_backward(dy, p.winners[layer.name], hw)
        if layer.reduce == "l2":
            return K.l2_pool2d_backward(x, p.outputs[layer.name], dy, layer.size, layer.stride, layer.pad)
        if layer.exclusive:
            return K.avg_pool2d_exclusive_backward(dy, hw, layer.size, layer.stride, layer.pad)
        return K.avg_pool2d_backward(dy, hw, layer.size, layer.stride, layer.pad)
    if op == "flatten":
        return dy.reshape(x.shape)
    if op == "dense":
        return (dy @ layer.params["weight"]).astype(np.float32)
    raise NotExplainable(f"{layer.name}: no reverse pass through a {layer.kind} layer inside the network")


def backward(net, p: Pass, dlogits, start: str | None = None):
    """(dx (C, H, W), d score / d output per layer name) for the upstream gradient ``dlogits`` at
    the logits, or at the output of layer ``start`` (then the layers after it are left out)."""
    grads = {}
    dy = np.ascontiguousarray(dlogits, dtype=np.float32)
    layers = _scored_layers(net)
    if start is not None:
        layers = layers[:next(i for i, la in enumerate(layers) if la.name == start) + 1]
    for layer in reversed(layers):
        grads[layer.name] = dy
        dy = np.ascontiguousarray(_input_backward(layer, p, dy), dtype=np.float32)
    return dy, grads


def _logits_and_probs(p: Pass):
    return p.trace.logits.astype(np.float64), p.trace.probabilities.astype(np.float64)


def explain(net, x, method: str, cls: int | None = None, layer: str | None = None,
            patch: int = 4, stride: int = 2) -> Explanation:
    outs, p = forward(net, x)
    logits, probs = _logits_and_probs(p)
    c = int(np.argmax(logits)) if cls is None else int(cls)
    if method == "occlusion":
        return _occlusion(net, x, c, logits, probs, patch, stride)
    onehot = np.zeros(logits.shape, np.float32)
    onehot[c] = 1.0
    dx, grads = backward(net, p, onehot)
    base = {"method": method, "cls": c, "score": float(logits[c]), "probability": float(probs[c])}
    if method == "gradient":
        return Explanation(**base, map=np.abs(dx).max(axis=0), gradient=dx)
    if method == "gradient_x_input":
        return Explanation(**base, map=(dx * x).sum(axis=0), gradient=dx)
    if method == "gradcam":
        name = layer or default_cam_layer(net)
        a, da = outs[name][0], grads[name]
        alpha = da.mean(axis=(1, 2))
        cam = np.maximum((alpha[:, None, None] * a).sum(axis=0), 0).astype(np.float32)
        h, w = x.shape[1:]
        up = np.asarray(Image.fromarray(cam, mode="F").resize((w, h), Image.Resampling.BILINEAR), np.float32)
        return Explanation(**base, map=up, layer=name, layer_map=cam, extra={"weights": alpha.astype(np.float32)})
    raise ValueError(f"unknown method {method!r}")


def cam_layers(net) -> list[str]:
    """The layers Grad-CAM can explain at: those with a (C, h, w) map output, after the input."""
    return [la.name for la in _scored_layers(net) if len(la.out_shape) == 3]


def default_cam_layer(net) -> str:
    """The last map layer that is more than one pixel (the usual choice: the last conv block)."""
    maps = [la for la in _scored_layers(net) if len(la.out_shape) == 3]
    big = [la for la in maps if la.out_shape[1] * la.out_shape[2] > 1]
    return (big or maps)[-1].name


def occlusion_positions(h, w, patch, stride):
    return range(0, max(h - patch, 0) + 1, stride), range(0, max(w - patch, 0) + 1, stride)


def _occlusion(net, x, c, logits, probs, patch, stride):
    _, h, w = x.shape
    ys, xs = occlusion_positions(h, w, patch, stride)
    batch = np.repeat(x[None], len(ys) * len(xs), axis=0)
    k = 0
    for y0 in ys:
        for x0 in xs:
            batch[k, :, y0:y0 + patch, x0:x0 + patch] = 0.0
            k += 1
    # one trace per placement (the warmed single-image kernels; LeNet: 225 in about 10 ms)
    p = np.array([net.trace(b).probabilities[c] for b in batch], np.float64)
    drop = np.zeros((h, w))
    count = np.zeros((h, w))
    k = 0
    for y0 in ys:
        for x0 in xs:
            drop[y0:y0 + patch, x0:x0 + patch] += probs[c] - p[k]
            count[y0:y0 + patch, x0:x0 + patch] += 1
            k += 1
    out = np.where(count > 0, drop / np.maximum(count, 1), 0.0).astype(np.float32)
    return Explanation(method="occlusion", cls=c, score=float(logits[c]), probability=float(probs[c]), map=out,
                       extra={"patch": patch, "stride": stride, "placements": int(k),
                              "positions": [[int(y0), int(x0)] for y0 in ys for x0 in xs],
                              "probabilities": p.astype(np.float32)})


def trainable(net) -> list[str]:
    """The layers with learned weights a randomisation can re-draw (conv and dense), input first."""
    return [la.name for la in net.layers if hasattr(la, "init") and la.params]


def randomized(net, k: int, seed: int = 0):
    """A copy of ``net`` with its top ``k`` conv/dense layers re-initialised (seeded, He init)."""
    import copy
    clone = copy.deepcopy(net)
    clone._trace_plan = None
    rng = np.random.default_rng(seed)
    for name in reversed(trainable(clone)[-k:] if k else []):
        clone.layer(name).init(rng)
        if "bias" in clone.layer(name).params:   # He init leaves biases at 0: draw them too
            b = clone.layer(name).params["bias"]
            clone.layer(name).params["bias"] = (rng.standard_normal(b.shape) * 0.1).astype(np.float32)
    return clone


ASCENT_LIMITS = {"steps": (1, 500)}


def synthesize(net, layer: str, unit: tuple, steps: int = 120, seed: int = 0, lr: float = 0.08,
               decay: float = 0.01, blur_every: int = 4):
    """What a unit "wants to see": an input made by gradient ascent on the unit's activation.

    Starting from faint noise, each step moves the image along the sign-normalised gradient of the
    unit (``lr`` of the full range at the strongest pixel), shrinks it towards 0 (L2 decay), every
    ``blur_every`` steps half-mixes it with its 3×3 box blur (so it stays readable: Yosinski et al.,
    2015) and keeps it in [0, 1].  Returns (the image that excited the unit most, the unit's
    activation at each step: the last entry is that image's)."""
    rng = np.random.default_rng(seed)
    x = (rng.random(net.input_shape) * 0.1).astype(np.float32)
    c, y, xx = (tuple(unit) + (0, 0))[:3]
    history, best, best_value = [], x, -np.inf
    for step in range(steps):
        if blur_every and step and step % blur_every == 0:
            x = np.clip(0.5 * x + 0.5 * _box3(x), 0, 1).astype(np.float32)
        outs, p = forward(net, x)
        out = outs[layer][0]
        value = float(out[c, y, xx] if out.ndim == 3 else out[c])
        history.append(value)
        if value > best_value:
            best, best_value = x, value
        dy = np.zeros(out.shape, np.float32)
        if out.ndim == 3:
            dy[c, y, xx] = 1.0
        else:
            dy[c] = 1.0
        g, _ = backward(net, p, dy, start=layer)
        peak = float(np.abs(g).max())
        if peak > 0:
            x = x + np.float32(lr / peak) * g
        x = np.clip(x * np.float32(1 - decay), 0, 1).astype(np.float32)
    outs, _ = forward(net, x)
    out = outs[layer][0]
    value = float(out[c, y, xx] if out.ndim == 3 else out[c])
    if value > best_value:
        best, best_value = x, value
    history.append(best_value)
    return best, history


def _box3(x):
    p = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="edge")
    h, w = x.shape[1:]
    return sum(p[:, i:i + h, j:j + w] for i in range(3) for j in range(3)) / np.float32(9)


# ---- the test images that excite a unit most ---------------------------------------------------------
TOP_K = 9


def dataset_for(net, samples):
    """(images (N, C, H, W) as the network reads them, labels, indices into MNIST's test set, name)
    for a gray 28×28 or 32×32 model: MNIST's 10k test images when they are cached on this machine,
    else the 300 shipped test digits.  None for other inputs (there is no dataset that fits them)."""
    if tuple(net.input_shape) not in ((1, 28, 28), (1, 32, 32)):
        return None
    pad = 2 if net.input_shape[1] == 32 else 0
    from . import mnist
    from .data import to_network_input
    try:
        images, labels = mnist.load_mnist("test", download=False)
        return to_network_input(images, pad), labels.astype(np.int64), np.arange(len(labels)), "MNIST test set (10,000)"
    except Exception:  # noqa: BLE001  (not cached: the shipped digits, never a download in a request)
        return (to_network_input(samples.images, pad), samples.labels.astype(np.int64),
                np.asarray(samples.indices), f"the {len(samples.labels)} shipped MNIST test digits")


def top_activations(net, layer: str, images, k: int = TOP_K, chunk: int = 500):
    """(values (k, *unit shape), image indices (k, *unit shape)): for every unit of ``layer`` the k
    images of ``images`` that excite it most, largest first.  One trace per image (the warmed
    single-image kernels), ranked in chunks: at most ``chunk`` images' activations are held at once."""
    best_v = best_i = None
    for start in range(0, len(images), chunk):
        h = np.stack([net.trace(np.ascontiguousarray(im, dtype=np.float32))[layer].data
                      for im in images[start:start + chunk]])
        idx = np.broadcast_to(np.arange(start, start + len(h)).reshape((-1,) + (1,) * (h.ndim - 1)), h.shape)
        v = h if best_v is None else np.concatenate([best_v, h])
        i = idx if best_i is None else np.concatenate([best_i, idx])
        keep = min(k, len(v))
        part = np.argpartition(-v, keep - 1, axis=0)[:keep]
        best_v, best_i = np.take_along_axis(v, part, 0), np.take_along_axis(i, part, 0)
    order = np.argsort(-best_v, axis=0, kind="stable")
    return np.take_along_axis(best_v, order, 0), np.take_along_axis(best_i, order, 0)


# ---- the model on its test set: confusion, mistakes, a 2-D map of a layer ----------------------------
def evaluate(net, images):
    """(predicted labels, probabilities (N, classes)) by one trace per image."""
    probs = np.stack([net.trace(np.ascontiguousarray(im, dtype=np.float32)).probabilities for im in images])
    return probs.argmax(axis=1), probs


def confusion(labels, predicted, classes: int) -> np.ndarray:
    m = np.zeros((classes, classes), np.int64)
    np.add.at(m, (labels, predicted), 1)
    return m


def pca_2d(activations: np.ndarray):
    """(points (N, 2), fraction of the variance each axis explains) of (N, D) activations: the
    centred data projected on its two leading right singular vectors, each axis's sign chosen so
    its largest loading is positive (so the picture does not flip between runs)."""
    big = min(np.shape(activations)) > 256
    # float32 for a large map (a 2,000 × 4,704 conv1 map is 38 MB so, 75 MB in float64)
    a = np.asarray(activations, np.float32 if big else np.float64)
    a = a - a.mean(axis=0, dtype=np.float64).astype(a.dtype)
    if big:
        # a randomised SVD (Halko et al., 2011: a 16-column sketch, 8 power iterations, seeded): the
        # two leading directions of a 2,000 × 4,704 conv1 map in 0.2 s instead of 4 s.  Its error
        # shrinks as (s17 / s2)^17: LeNet's conv1 has s2 ≈ s3 (147.7, 142.6), and with 4 iterations
        # of a 12-column sketch the second axis was off by 1.6e-3 of its range
        rng = np.random.default_rng(0)
        q, _ = np.linalg.qr(a @ rng.standard_normal((a.shape[1], 16)).astype(a.dtype))
        for _ in range(8):
            q, _ = np.linalg.qr(a.T @ q)
            q, _ = np.linalg.qr(a @ q)
        _, s, vt = np.linalg.svd(q.T @ a, full_matrices=False)
        total = float(np.einsum("ij,ij->", a, a, dtype=np.float64)) or 1.0
    else:
        _, s, vt = np.linalg.svd(a, full_matrices=False)
        total = float((s ** 2).sum()) or 1.0
    v = vt[:2]
    v = v * np.sign(v[np.arange(len(v)), np.abs(v).argmax(axis=1)])[:, None]
    return (a @ v.T.astype(a.dtype)).astype(np.float32), (np.asarray(s[:2], np.float64) ** 2 / total).astype(np.float32)


def layer_activations(net, layer: str, images) -> np.ndarray:
    return np.stack([net.trace(np.ascontiguousarray(im, dtype=np.float32))[layer].data.ravel() for im in images])
