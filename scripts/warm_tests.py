"""Compile the kernels the test suite reaches once, on both cores, before pytest starts.

The suite runs in two pytest workers.  On a cold Numba cache (a fresh machine, or any change to
kernels/) each worker's first server and first training job compiled the same kernels at the same
time, each on one core under Numba's lock: on a 2-core machine that cost about 290 s of the suite's
750 s (460 s on a warm cache).  Here one process runs the server's own warm-up (every shipped
model's trace and explanations, the kernel lab, every layer kind) while a second trains each kind of
network the tests train for one step; both write the cache the workers then load from.

It hides no cold-start failure: scripts/check_wheel.py starts the installed wheel on an empty cache
of its own (after this has finished, so its timing is its own), and tests/test_cache_faults.py and
tests/test_warm.py build their own caches.
Usage: python scripts/warm_tests.py   (scripts/test.sh runs it beside the front-end checks)
"""
from __future__ import annotations

import subprocess
import sys
import time


def train_every_kind() -> None:
    """One short fit (SGD and Adam, augmented, evaluated) of each network the tests train."""
    import numpy as np
    from convscope.convnet import design
    from convscope.convnet.network import Network
    from convscope.convnet.spec import architecture
    from convscope.convnet.trainer import Recipe, fit
    designs = [{"preset": "tiny"},
               {"blocks": [{"filters": 32, "padding": "same"}, {"filters": 32, "padding": "same"}],
                "dense": [100]},
               {"blocks": [{"filters": 4, "activation": a, "pool": p, "kernel": 3}
                           for a, p in (("leaky_relu", "avg"), ("elu", "none"))],
                "dense": [8], "dense_activation": "sigmoid"}]
    specs = [architecture("lenet"), architecture("lenet5-classic")]
    specs += [design.build(design.normalise(d)) for d in designs]
    rng = np.random.default_rng(0)
    for spec in specs:
        for optimizer in ("adam", "sgd"):
            net = Network.from_spec(spec, seed=0)
            x = rng.random((16, *net.input_shape), dtype=np.float32)
            y = rng.integers(0, net.layers[-1].out_shape[0], 16)
            fit(net, x, y, x[:8], y[:8], Recipe(optimizer=optimizer, epochs=1, batch_size=8, warmup=0),
                eval_every=1)


def serve_every_kind() -> None:
    from convscope.server.registry import Registry, default_model_paths
    Registry([str(p) for p in default_model_paths()], warm=True, warm_lab=True, warm_helper=False)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--train"]:
        train_every_kind()
        return 0
    t0 = time.perf_counter()
    trainer = subprocess.Popen([sys.executable, __file__, "--train"])
    serve_every_kind()
    code = trainer.wait()
    print(f"warm_tests: the kernels the suite reaches are compiled (or loaded) in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
