"""Benchmark: JIT compile and process start-up, each in a fresh Python subprocess.

1. first-ever compile: NUMBA_CACHE_DIR -> a new empty temp dir; start Python, import convnet, build
   the net, first trace (timed from process spawn to the trace's end, plus the child's breakdown);
2. warm start: the same cache dir, start-to-first-trace, repeated ``--reps`` times (median);
3. server: ``import server; server.create_app()`` then a first POST /api/forward through the test
   client, start-to-first-answer, once cold (its compile fills the cache) then ``--reps`` times warm.
Target (docs/ARCHITECTURE.md): start-up to first answer <= 1.5 s with a warm Numba cache [first compile ~3 s].
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
# The repository root, for the bench package itself (ConvScope is the installed package).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import REPO, header, load_network, verdict  # noqa: E402

TARGET_S = 1.5

TRACE_CHILD = r"""
import time; t0 = time.perf_counter()
import numpy as np, convnet
t1 = time.perf_counter()
path = convnet.default_model_path()
net = (convnet.Network.load(path) if path.is_file()
       else convnet.Network.from_spec(convnet.architecture("lenet"), seed=0))
t2 = time.perf_counter()
net.trace(np.zeros(net.input_shape, np.float32))
t3 = time.perf_counter()
print("READY", {"import": t1 - t0, "build": t2 - t1, "first_trace": t3 - t2}, flush=True)
"""

SERVER_CHILD = r"""
import time; t0 = time.perf_counter()
from convscope import server
app = server.create_app()
t1 = time.perf_counter()
image = [[0.0] * 28 for _ in range(28)]
for r in range(6, 22):
    image[r][13] = image[r][14] = 1.0
resp = app.test_client().post("/api/forward", json={"image": image})
t2 = time.perf_counter()
assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
print("READY", {"create_app": t1 - t0, "first_request": t2 - t1}, flush=True)
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=5, help="warm-start repetitions (default 5)")
    p.add_argument("--no-server", action="store_true", help="skip the server start-up lines")
    return p.parse_args(argv)


def spawn(code: str, env: dict) -> tuple[float, dict]:
    """(seconds from spawn to the child's READY line, the child's own breakdown)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:
        if line.startswith("READY"):
            elapsed = time.perf_counter() - t0
            proc.stdout.read()
            proc.wait()
            return elapsed, eval(line[len("READY"):], {})  # noqa: S307  (our own child's dict)
    proc.wait()
    raise RuntimeError(f"child failed (exit {proc.returncode}):\n{proc.stderr.read()[-2000:]}")


def breakdown(parts: dict) -> str:
    return ", ".join(f"{k} {v:.3f} s" for k, v in parts.items())


def warm_runs(code, env, reps):
    runs = [spawn(code, env) for _ in range(reps)]
    wall = np.array([r[0] for r in runs])
    mid = runs[int(np.argsort(wall)[len(wall) // 2])][1]
    return wall, mid


def server_env(env, tmp):
    """Point the server at models/lenet.npz, or at a random LeNet saved in tmp if there is none."""
    from convscope import convnet
    if convnet.default_model_path().is_file():
        return env, "models/lenet.npz"
    net, _ = load_network()
    path = Path(tmp) / "lenet.npz"
    net.save(path, {"name": "lenet"})
    return dict(env, CONVSCOPE_MODEL_PATHS=json.dumps([str(path)])), "random LeNet (no models/lenet.npz)"


def main(argv=None) -> int:
    args = parse_args(argv)
    _, desc = load_network()
    header("JIT compile and start-up (fresh subprocesses)", desc)
    with tempfile.TemporaryDirectory(prefix="convscope-numba-") as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tmp, "numba"))
        cold, parts = spawn(TRACE_CHILD, env)
        print(f"first-ever compile, start -> first trace   {cold:6.2f} s   ({breakdown(parts)})")
        wall, mid = warm_runs(TRACE_CHILD, env, args.reps)
        print(f"warm cache, start -> first trace           median {np.median(wall):6.2f} s   "
              f"min {wall.min():.2f}  max {wall.max():.2f}  (n={len(wall)}; median run: {breakdown(mid)})")
        print(f"  target <= {TARGET_S} s warm: {verdict(np.median(wall) <= TARGET_S)};  "
              f"cold/warm = {cold / np.median(wall):.1f}x")
        bare, _ = warm_runs("print('READY', {})", env, args.reps)
        print(f"  (bare `python -c pass` start: median {np.median(bare):.3f} s)")
        if args.no_server:
            return 0
        try:
            from convscope import server  # noqa: F401
        except ImportError as exc:
            print(f"server: not importable ({exc}); skipping the start-to-first-request lines")
            return 0
        senv, what = server_env(env, tmp)
        print(f"server model: {what}")
        try:
            cold, parts = spawn(SERVER_CHILD, senv)
        except RuntimeError as exc:
            print(f"server: start-up failed; skipping.\n{exc}")
            return 0
        print(f"server, compile of the remaining kernels    {cold:6.2f} s   ({breakdown(parts)})")
        wall, mid = warm_runs(SERVER_CHILD, senv, args.reps)
        print(f"server warm, start -> first /api/forward   median {np.median(wall):6.2f} s   "
              f"min {wall.min():.2f}  max {wall.max():.2f}  (n={len(wall)}; median run: {breakdown(mid)})")
        print(f"  target <= {TARGET_S} s warm: {verdict(np.median(wall) <= TARGET_S)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
