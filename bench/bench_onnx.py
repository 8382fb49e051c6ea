"""Benchmark: ConvScope's full trace of an imported ONNX model vs onnxruntime's output-only run.

Two models, built and exported with PyTorch in this run (seeded), imported by ConvScope's importer:
a 3-layer 32/64/128-channel 3×3 CNN on 28×28 gray, and an RGB 64×64 model (batch norm, global
average pool).  ConvScope runs its many-channel convs as one matrix product (kernels/conv_gemm.py,
NumPy's BLAS) and the rest with its direct kernels.  ConvScope computes and returns *every* intermediate (``Network.trace``); onnxruntime
computes only the final output, with its default settings and with one intra-op thread, in the same
run.  Target (issue "Your own network"): the full trace no slower than onnxruntime's output-only run.
"""
from __future__ import annotations

import argparse
import io
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import header, import_torch, repeat, stats, verdict  # noqa: E402


def models(torch):
    nn = torch.nn
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128 * 3 * 3, 10), nn.Softmax(dim=1))
    rgb = nn.Sequential(
        nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(64, 10), nn.Softmax(dim=1))
    return {"cnn 32/64/128 on 1×28×28": (cnn.eval(), (1, 28, 28)),
            "rgb 16/32/64 on 3×64×64": (rgb.eval(), (3, 64, 64))}


def export(torch, model, shape) -> bytes:
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.rand(1, *shape), f, dynamo=False, opset_version=13,
                          do_constant_folding=False)
    return f.getvalue()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=2000)
    args = p.parse_args(argv)
    torch = import_torch(False)
    if torch is None:
        print("PyTorch is needed to build the models (pip install torch)")
        return 1
    import onnxruntime
    from convscope.convnet.onnx_import import load_onnx
    header("imported ONNX model: ConvScope full trace vs onnxruntime output only")
    print(f"onnxruntime {onnxruntime.__version__}")
    import gc
    import time
    exported = {name: (export(torch, model, shape), shape) for name, (model, shape) in models(torch).items()}
    time.sleep(1.0)   # let PyTorch's idle threads stop spinning before anything is timed
    for name, (data, shape) in exported.items():
        net = load_onnx(data, "bench")
        x = np.random.default_rng(0).random(shape, dtype=np.float32)
        ours = repeat(lambda: net.trace(x), args.reps, warmup=50)
        runs = {}
        for label, threads in (("default threads", 0), ("1 thread", 1)):
            so = onnxruntime.SessionOptions()
            so.intra_op_num_threads = threads
            sess = onnxruntime.InferenceSession(data, so, providers=["CPUExecutionProvider"])
            feed = {sess.get_inputs()[0].name: x[None]}
            out = sess.run(None, feed)[0][0]
            np.testing.assert_allclose(net.trace(x).probabilities, out, rtol=1e-5, atol=1e-6)
            runs[label] = repeat(lambda: sess.run(None, feed), args.reps, warmup=50)
            del sess
            gc.collect()
            time.sleep(0.5)   # onnxruntime's pool spins after a run: not on ConvScope's time
        print(f"\n{name}: {len(net.layers) - 1} layers, "
              f"{sum(v.size for la in net.layers for v in la.params.values()):,} weights")
        print(f"  ConvScope trace (every layer)   {stats(ours)}")
        best = min(np.median(r) for r in runs.values())
        for label, r in runs.items():
            print(f"  onnxruntime ({label:15s}) {stats(r)}   ConvScope ×{np.median(r) / np.median(ours):.2f}")
        ratio = np.median(ours) / best
        print(f"  target: full trace ≤ onnxruntime's faster output-only run: {verdict(ratio <= 1.0)} "
              f"(trace / onnxruntime = {ratio:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
