"""Benchmark: one training epoch (60k images, batch 64: forward + backward + Adam) vs PyTorch.

Both sides do the same work per step, with no augmentation: gather the batch ``x[idx]`` from one
shared seeded permutation, forward, cross-entropy, backward, Adam step (lr 1e-3). ConvScope uses
``net.loss_and_grads`` + ``convnet.optim.Adam``; PyTorch a standard loop (zero_grad, F.cross_entropy,
backward, torch.optim.Adam) on the twin module, default threads. The two alternate in blocks of
``--block`` steps so that load from other processes hits both alike. By default only ``--batches``
steps are timed and the epoch time is *extrapolated*; ``--full`` times the whole epoch.
Target (docs/ARCHITECTURE.md): <= 1.5x PyTorch's epoch time, stretch <= 1.0x [PyTorch 5.4 s].
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
import time

from convscope import kernels as _kernels  # noqa: F401,E402  (before numpy: one BLAS thread, as the app runs)
import numpy as np
# The repository root, for the bench package itself (ConvScope is the installed package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import header, import_torch, load_network, stats, train_images, verdict  # noqa: E402

BATCH, LR, TARGET, STRETCH = 64, 1e-3, 1.5, 1.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=300, help="timed steps per side (default 300)")
    p.add_argument("--full", action="store_true", help="time a whole epoch (938 steps) per side")
    p.add_argument("--block", type=int, default=50, help="steps per alternation block (default 50)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (JIT, allocator)")
    p.add_argument("--no-torch", action="store_true", help="time ConvScope only")
    return p.parse_args(argv)


def convscope_stepper(net, x, y):
    from convscope.convnet.optim import Adam
    opt = Adam(net.parameters())

    def step(idx):
        _, grads, _ = net.loss_and_grads(x[idx], y[idx])
        opt.step(grads, LR)
    return step


def torch_stepper(torch, net, x, y):
    import torch.nn.functional as F
    from bench.torch_lenet import TorchTwin
    model = TorchTwin(net).train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step(idx):
        idx = torch.from_numpy(idx)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return step


def run(steppers, batches, block, warmup):
    """{name: per-step seconds}, alternating blocks of ``block`` steps between the steppers."""
    for step, _ in steppers.values():
        for idx in batches[:warmup]:
            step(idx)
    times = {name: [] for name in steppers}
    for start in range(0, len(batches), block):
        for name, (step, _) in steppers.items():
            for idx in batches[start:start + block]:
                t0 = time.perf_counter()
                step(idx)
                times[name].append(time.perf_counter() - t0)
    return {name: np.array(t) for name, t in times.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    net, desc = load_network()
    header("training epoch: 60k images, batch 64, Adam, no augmentation", desc)
    x, y, data_desc = train_images()
    print(f"data: {data_desc}")
    epoch_steps = -(-len(x) // BATCH)
    order = np.random.default_rng(0).permutation(len(x))
    batches = [order[i:i + BATCH] for i in range(0, len(x), BATCH)]
    timed = epoch_steps if args.full else min(args.batches, epoch_steps)
    scale = epoch_steps / timed
    print(f"timing {timed} of {epoch_steps} steps per side"
          + ("" if args.full else f"; epoch times EXTRAPOLATED (x{scale:.2f})"))

    torch = import_torch(args.no_torch)
    steppers = {"ConvScope": (convscope_stepper(net, x, y), None)}
    if torch is not None:
        print(f"PyTorch threads {torch.get_num_threads()}, oneDNN enabled {torch.backends.mkldnn.enabled}")
        steppers["PyTorch"] = (torch_stepper(torch, net, x, y), None)
    times = run(steppers, batches[:timed], args.block, args.warmup)
    epochs = {name: t.sum() * scale for name, t in times.items()}
    for name, t in times.items():
        print(f"{name:10s} per step {stats(t, 'ms')}   epoch {epochs[name]:6.2f} s"
              + ("" if args.full else " (extrapolated)"))
    if torch is not None:
        ratio = epochs["ConvScope"] / epochs["PyTorch"]
        med_ratio = np.median(times["ConvScope"]) / np.median(times["PyTorch"])
        print(f"  ConvScope epoch = {ratio:.2f}x PyTorch's (sum of steps); median step ratio "
              f"{med_ratio:.2f}x (robust to load spikes: median x {epoch_steps} = "
              f"{np.median(times['ConvScope']) * epoch_steps:.2f} s vs "
              f"{np.median(times['PyTorch']) * epoch_steps:.2f} s)")
        print(f"  target <= {TARGET}x (judged on the median step ratio): {verdict(med_ratio <= TARGET)};"
              f"  stretch <= {STRETCH}x: {verdict(med_ratio <= STRETCH)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
