"""Benchmark: attribution maps for one image with the shipped LeNet, ConvScope vs PyTorch autograd.

Each method as ``convnet.explain.explain`` computes it (what POST /api/explain runs, without HTTP),
and PyTorch computing the same map in the same run on a twin with the same weights
(bench/torch_lenet.py): the input gradient, gradient × input, Grad-CAM at pool2 and a full
occlusion map (4×4 patch, stride 2: 15 × 15 = 225 placements, one batch).
Then, ConvScope alone (no peer does these): the top 9 test images of every unit of conv2 over
the test set (MNIST's 10k when cached, else the 300 shipped digits), and a 2-D PCA map of fc1's and
conv1's activations over 2,000 of them.
Targets (issue "Why this answer"): gradient and gradient × input ≤ 1 ms, Grad-CAM ≤ 1 ms,
occlusion ≤ 20 ms, top 9 of a layer ≤ 2 s, a 2,000-point PCA map ≤ 0.5 s.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import header, import_torch, load_network, repeat, stats, verdict  # noqa: E402

TARGETS_MS = {"gradient": 1.0, "gradient_x_input": 1.0, "gradcam": 1.0, "occlusion": 20.0}


def torch_maps(torch, twin, x, cls):
    """Callables computing each map with autograd on the twin (logits = the layer before softmax)."""
    names = [la.name for la in twin.body]

    def logits_and(xt, keep=None):
        kept = None
        for la in twin.train_layers:
            xt, _ = la(xt)
            if la.name == keep:
                kept = xt
        return xt[0], kept

    def gradient():
        xt = torch.from_numpy(x[None]).requires_grad_(True)
        z, _ = logits_and(xt)
        g, = torch.autograd.grad(z[cls], xt)
        return g[0].abs().amax(0)

    def gradient_x_input():
        xt = torch.from_numpy(x[None]).requires_grad_(True)
        z, _ = logits_and(xt)
        g, = torch.autograd.grad(z[cls], xt)
        return (g[0] * xt[0]).sum(0)

    def gradcam():
        xt = torch.from_numpy(x[None])
        z, a = logits_and(xt, "pool2")
        da, = torch.autograd.grad(z[cls], a)
        cam = torch.relu((da[0].mean((1, 2))[:, None, None] * a[0]).sum(0))
        return torch.nn.functional.interpolate(cam[None, None], size=x.shape[1:], mode="bilinear")[0, 0]

    def occlusion():
        with torch.no_grad():
            ys = xs = range(0, x.shape[1] - 4 + 1, 2)
            batch = np.repeat(x[None], len(ys) * len(xs), axis=0)
            k = 0
            for y0 in ys:
                for x0 in xs:
                    batch[k, :, y0:y0 + 4, x0:x0 + 4] = 0
                    k += 1
            return torch.softmax(twin(torch.from_numpy(batch)), 1)[:, cls]

    assert "pool2" in names
    return {"gradient": gradient, "gradient_x_input": gradient_x_input, "gradcam": gradcam, "occlusion": occlusion}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=300)
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args(argv)
    from convscope.convnet import explain
    from convscope.convnet.data import to_network_input
    from convscope.convnet.samples import load_samples
    net, desc = load_network()
    header("attribution maps for one image", desc)
    x = to_network_input(load_samples().images[:1])[0]
    cls = int(net.trace(x).label)
    ours = {}
    for method in explain.METHODS:
        ours[method] = repeat(lambda m=method: explain.explain(net, x, m, cls, "pool2" if m == "gradcam" else None),
                              args.reps if method != "occlusion" else max(20, args.reps // 10), warmup=5)
        med = np.median(ours[method]) * 1e3
        print(f"ConvScope {method:17s} {stats(ours[method], 'ms')}   target ≤ {TARGETS_MS[method]:g} ms: "
              f"{verdict(med <= TARGETS_MS[method])}")
    from convscope.convnet.samples import load_samples as _samples
    images, _, _, dataset = explain.dataset_for(net, _samples())
    t0 = time.perf_counter()
    explain.top_activations(net, "conv2", images)
    top = time.perf_counter() - t0
    print(f"ConvScope top 9 of every conv2 unit over {dataset}: {top:.2f} s   target ≤ 2 s: {verdict(top <= 2)}")
    for layer in ("fc1", "conv1"):
        t0 = time.perf_counter()
        explain.pca_2d(explain.layer_activations(net, layer, images[:2000]))
        pca = time.perf_counter() - t0
        print(f"ConvScope PCA map of {layer}, {min(2000, len(images))} images (traces + PCA): {pca * 1e3:.0f} ms   "
              f"target ≤ 500 ms: {verdict(pca <= 0.5)}")
    torch = import_torch(args.no_torch)
    if torch is None:
        return 0
    from bench.torch_lenet import TorchTwin
    twin = TorchTwin(net)
    for method, fn in torch_maps(torch, twin, x, cls).items():
        t = repeat(fn, args.reps if method != "occlusion" else max(20, args.reps // 10), warmup=5)
        print(f"PyTorch   {method:17s} {stats(t, 'ms')}   ConvScope ×{np.median(t) / np.median(ours[method]):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
