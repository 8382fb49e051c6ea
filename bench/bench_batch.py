"""Benchmark: batch inference over the 10k MNIST test images (``Network.predict``) vs PyTorch.

PyTorch does the same work: the twin module (same weights) up to the logits, then softmax, in
chunks of the same size as ``net.predict`` (1000), under torch.inference_mode(), with 2 threads
(and 1 thread for reference). Both the ConvScope and PyTorch runs are timed in the same process.
Target (docs/ARCHITECTURE.md): images/s >= PyTorch with 2 threads [37k img/s].
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from convscope import kernels as _kernels  # noqa: F401,E402  (before numpy: one BLAS thread, as the app runs)
import numpy as np
# The repository root, for the bench package itself (ConvScope is the installed package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import header, import_torch, load_network, repeat, stats, test_images, verdict  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7, help="timed passes over the set (default 7)")
    p.add_argument("--images", type=int, default=10_000, help="number of test images (default 10000)")
    p.add_argument("--batch-size", type=int, default=1000, help="chunk size for both (default 1000)")
    p.add_argument("--no-torch", action="store_true", help="time ConvScope only")
    return p.parse_args(argv)


def rate(seconds, n):
    return f"{n / np.median(seconds):9,.0f} img/s"


def main(argv=None) -> int:
    args = parse_args(argv)
    net, desc = load_network()
    header("batch inference: net.predict over the test set", desc)
    x, _, data_desc = test_images(args.images)
    n = len(x)
    print(f"data: {data_desc}; chunks of {args.batch_size}")
    ours = repeat(lambda: net.predict(x, batch_size=args.batch_size), args.reps, warmup=2)
    print(f"ConvScope predict          {stats(ours, 'ms')}   {rate(ours, n)}")

    torch = import_torch(args.no_torch)
    if torch is None:
        return 0
    from bench.torch_lenet import TorchTwin
    twin = TorchTwin(net)
    xt = torch.from_numpy(x)
    default_threads = torch.get_num_threads()

    def torch_predict():
        with torch.inference_mode():
            return torch.cat([torch.softmax(twin(xt[i:i + args.batch_size]), dim=1)
                              for i in range(0, n, args.batch_size)])

    ratio2 = None
    for threads in (2, 1):
        torch.set_num_threads(threads)
        t = repeat(torch_predict, args.reps, warmup=2)
        o = repeat(lambda: net.predict(x, batch_size=args.batch_size), args.reps, warmup=1)
        ratio = np.median(t) / np.median(o)
        print(f"PyTorch {threads} thread{'s' if threads > 1 else ' '}         {stats(t, 'ms')}   "
              f"{rate(t, n)}   -> ConvScope {ratio:4.2f}x PyTorch's img/s "
              f"(ConvScope interleaved {rate(o, n).strip()})")
        if threads == 2:
            ratio2 = ratio
    torch.set_num_threads(default_threads)
    print(f"  target >= PyTorch (2 threads) img/s: {verdict(ratio2 >= 1.0)} ({ratio2:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
