"""Benchmark: one ``Network.trace`` of a single image with every intermediate, vs PyTorch.

PyTorch does the same work: a module with the same weights whose forward returns every layer's
output (max-pool with return_indices=True, as our trace returns the winners), under
torch.inference_mode(), timed with 1 thread and the default thread count, oneDNN on and off.
Target (docs/ARCHITECTURE.md): median <= 50 us and >= 4x faster than PyTorch [373 us; 217 us oneDNN off].
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
# The repository root, for the bench package itself (ConvScope is the installed package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import header, import_torch, load_network, repeat, stats, verdict  # noqa: E402

TARGET_US, TARGET_RATIO = 50.0, 4.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3000, help="timed traces (default 3000)")
    p.add_argument("--torch-reps", type=int, default=1000, help="timed PyTorch calls per setting")
    p.add_argument("--no-torch", action="store_true", help="time ConvScope only")
    return p.parse_args(argv)


def torch_settings(torch):
    default = torch.get_num_threads()
    threads = sorted({1, default})
    return [(t, onednn) for t in threads for onednn in (True, False)]


def main(argv=None) -> int:
    args = parse_args(argv)
    net, desc = load_network()
    header("trace: one image, every intermediate", desc)
    from convscope.convnet.samples import load_samples
    from convscope.convnet.data import to_network_input
    x = to_network_input(load_samples().images[:1])[0]          # (1, 32, 32)
    ours = repeat(lambda: net.trace(x), args.reps, warmup=20)
    med = np.median(ours) * 1e6
    print(f"ConvScope trace            {stats(ours)}")
    print(f"  target <= {TARGET_US:.0f} us median: {verdict(med <= TARGET_US)} ({med:.1f} us)")

    torch = import_torch(args.no_torch)
    if torch is None:
        return 0
    from bench.torch_lenet import TorchTwin
    twin = TorchTwin(net)
    xt = x[None]
    default_threads, default_onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled

    def capture():
        with torch.inference_mode():
            return twin.trace(torch.from_numpy(xt))

    ratios = {}
    for threads, onednn in torch_settings(torch):
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = onednn
        t = repeat(capture, args.torch_reps, warmup=20)
        # ConvScope again, interleaved, so the ratio compares like with like on a noisy machine.
        o = repeat(lambda: net.trace(x), args.torch_reps, warmup=5)
        ratio = np.median(t) / np.median(o)
        label = f"PyTorch {threads} thr, oneDNN {'on ' if onednn else 'off'}"
        print(f"{label:27s}{stats(t)}   -> ConvScope {ratio:5.2f}x faster "
              f"(ConvScope interleaved median {np.median(o) * 1e6:.1f} us)")
        ratios[(threads, onednn)] = ratio
    torch.set_num_threads(default_threads)
    torch.backends.mkldnn.enabled = default_onednn
    default = ratios[(default_threads, default_onednn)]
    best = min(ratios.values())
    print(f"  target >= {TARGET_RATIO:.0f}x faster than PyTorch's default setting "
          f"({default_threads} thr, oneDNN {'on' if default_onednn else 'off'}): "
          f"{verdict(default >= TARGET_RATIO)} ({default:.2f}x)")
    print(f"  stricter, vs PyTorch's fastest setting above: {verdict(best >= TARGET_RATIO)} ({best:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
