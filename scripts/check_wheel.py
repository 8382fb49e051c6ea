#!/usr/bin/env python3
"""Install ConvScope as a user would and check that it works: a CI step of scripts/test.sh.

1. Build the wheel (pip wheel, no editable install) and install it into a fresh venv.
2. From a directory outside the checkout, with an EMPTY Numba cache, start `convscope serve` and
   time it to "ready" (the first-ever start: every kernel compiles during the warm-up).
3. Fetch /, /kernels, a static module, /vendor/plotly.min.js, /api/model, one /api/forward and one
   /api/convolve (the first request of each page); every one must answer 200, and each answer's
   time is printed.
4. Stop it and start again on the same cache: the warm start, timed the same way.
5. `import server`, `import kernels`, `import convnet` must fail in that venv, and the wheel may hold
   one top-level package: convscope.
6. In that venv (only ConvScope's own dependencies: no SciPy, no PyTorch), run a training step, a
   batch prediction and an ONNX import: what `convscope train`, `evaluate` and `import` call.

Exits non-zero, saying why, on the first failure.  --keep leaves the temporary folder for a look.
scripts/test.sh runs the stages apart (--dir, --stage): the build beside the other installs, the
serving once the suite's kernels are compiled (so its cold start is timed on idle cores), and the
library step at low priority beside pytest.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIP = ["-m", "pip", "--disable-pip-version-check", "-q"]
DIGIT = [[0.0] * 28 for _ in range(28)]
for _row in range(4, 24):
    DIGIT[_row][13] = DIGIT[_row][14] = 1.0
FIRST_REQUESTS = [  # (label, path, JSON body or None)
    ("layer view page /", "/", None),
    ("kernel lab page /kernels", "/kernels", None),
    ("static module", "/static/js/main.js", None),
    ("Plotly.js from the plotly package", "/vendor/plotly.min.js", None),
    ("/api/model", "/api/model", None),
    ("/api/forward (layer view's first request)", "/api/forward", {"image": DIGIT}),
    ("/api/convolve (kernel lab's first request)", "/api/convolve",
     {"image": [[0, 0, 1, 1]] * 4, "kernel": [[1, 0, -1]] * 3, "mode": "sum", "activation": "relu",
      "pool": {"kind": "max", "size": 2}}),
]


def fail(message: str) -> None:
    print(f"check_wheel: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(cmd, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        fail(f"{' '.join(map(str, cmd))} exited {out.returncode}:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return out


def build_and_install(tmp: Path) -> Path:
    t0 = time.perf_counter()
    # Build from a clean copy: setuptools reuses ./build/lib, where a module deleted since the last
    # build would survive and ship in the wheel.
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "__pycache__", "test-output"))
    run([sys.executable, *PIP, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(source)])
    wheel = next((tmp / "dist").glob("convscope-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        tops = {name.split("/")[0] for name in z.namelist() if not name.split("/")[0].endswith(".dist-info")}
        names = set(z.namelist())
    if tops != {"convscope"}:
        fail(f"the wheel installs top-level {sorted(tops)}, expected only convscope")
    for needed in ("convscope/templates/index.html", "convscope/templates/kernels.html",
                   "convscope/static/js/main.js", "convscope/models/lenet.npz",
                   "convscope/models/mnist_samples.npz"):
        if needed not in names:
            fail(f"{needed} is missing from the wheel")
    run([sys.executable, "-m", "venv", str(tmp / "venv")])
    py = tmp / "venv" / "bin" / "python"
    run([str(py), *PIP, "install", str(wheel)])
    print(f"check_wheel: built {wheel.name} ({wheel.stat().st_size // 1024} KiB) and installed it "
          f"into a fresh venv in {time.perf_counter() - t0:.0f} s", flush=True)
    static = sorted(n[len("convscope/"):] for n in names
                    if n.startswith("convscope/static/") and not n.endswith(("/", "__init__.py")))
    return py, static


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str, body) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start(py: Path, cwd: Path, env: dict, timeout: float) -> tuple[subprocess.Popen, str, float, str]:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(py.parent / "convscope"), "serve", "--port", str(port)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    while time.perf_counter() - t0 < timeout:
        line = proc.stdout.readline()
        if not line:
            fail(f"convscope serve exited ({proc.poll()}) before it was ready:\n{''.join(lines)}")
        lines.append(line)
        if "ConvScope serving" in line:
            return proc, f"http://127.0.0.1:{port}", time.perf_counter() - t0, "".join(lines)
    proc.kill()
    fail(f"convscope serve was not ready after {timeout:.0f} s:\n{''.join(lines)}")


def every_static_file(url: str, static: list[str]) -> None:
    """Each file the wheel ships under static/ is served (a page would fail on a missing module)."""
    for rel in static:
        status, _ = fetch(f"{url}/{rel}", None)
        if status != 200:
            fail(f"/{rel} (in the wheel) answered {status}")
    print(f"check_wheel: all {len(static)} static files of the wheel answer 200", flush=True)


def first_answers(url: str) -> list[tuple[str, float]]:
    out = []
    for label, path, body in FIRST_REQUESTS:
        t0 = time.perf_counter()
        status, data = fetch(url + path, body)
        ms = (time.perf_counter() - t0) * 1e3
        if status != 200:
            fail(f"{path} answered {status}: {data[:300]!r}")
        out.append((label, ms))
    return out


def serve_and_measure(py: Path, cwd: Path, env: dict, what: str, timeout: float, static=()) -> None:
    proc, url, ready_s, log = start(py, cwd, env, timeout)
    try:
        answers = first_answers(url)
        if static:
            every_static_file(url, static)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    progress = next((ln.strip() for ln in log.splitlines() if "preparing the kernels" in ln), "")
    print(f"check_wheel: {what}: ready {ready_s:.1f} s after start ({progress[-40:]})", flush=True)
    for label, ms in answers:
        print(f"    first answer of {label}: {ms:.0f} ms", flush=True)
    slow = [(label, ms) for label, ms in answers if ms > 2000]
    if slow:
        fail(f"{what}: first answers over 2 s after ready: {slow}")


def check_no_generic_packages(py: Path, cwd: Path, env: dict) -> None:
    for name in ("server", "kernels", "convnet"):
        out = subprocess.run([str(py), "-c", f"import {name}"], cwd=cwd, env=env, capture_output=True, text=True)
        if out.returncode == 0:
            fail(f"`import {name}` succeeds in the fresh venv: the wheel must install only convscope")
    print("check_wheel: `import server`, `import kernels`, `import convnet` fail in the venv, as they should",
          flush=True)


LIBRARY_PATHS = r"""
import numpy as np, onnx
from onnx import TensorProto, helper, numpy_helper
from convscope.convnet import LENET, Network
from convscope.convnet.onnx_import import load_onnx
net = Network.from_spec(LENET, seed=0)
x = np.random.default_rng(0).random((8, 1, 32, 32), dtype=np.float32)
loss, grads, _ = net.loss_and_grads(x, np.arange(8) % 10)
assert np.isfinite(loss) and grads["fc1"]["weight"].shape == (120, 400)
assert net.predict(x).shape == (8, 10)
g = helper.make_graph([helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)],
                      "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                      [numpy_helper.from_array(np.ones((3, 64), np.float32), "w")])
m = load_onnx(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
assert m.trace(np.ones((1, 8, 8), np.float32)).activations[-2].data.tolist() == [64.0] * 3
print("ok")
"""


def check_library_paths(py: Path, cwd: Path, env: dict) -> None:
    out = subprocess.run([str(py), "-c", LIBRARY_PATHS], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=900)
    if out.returncode != 0 or not out.stdout.strip().endswith("ok"):
        fail(f"a training step, a prediction or an ONNX import fails in the fresh venv:\n{out.stderr[-2000:]}")
    print("check_wheel: a training step, a batch prediction and an ONNX import work with only ConvScope's "
          "dependencies", flush=True)


STAGES = ("build", "serve", "library")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keep", action="store_true", help="keep the temporary folder")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for ready (default 600)")
    p.add_argument("--dir", type=Path, help="work in this folder (kept) instead of a temporary one; with "
                   "--stage, later stages find there what earlier ones left")
    p.add_argument("--stage", choices=STAGES, action="append",
                   help="run only this stage (repeatable): build (steps 1 and 5), serve (2-4), library (6); "
                        "default: all, in order")
    args = p.parse_args(argv)
    stages = args.stage or STAGES
    if args.dir:
        tmp = args.dir.resolve()
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="convscope-wheel-"))
    try:
        py, elsewhere = tmp / "venv" / "bin" / "python", tmp / "elsewhere"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVSCOPE_", "NUMBA_", "VIRTUAL_ENV"))}
        env.update(NUMBA_CACHE_DIR=str(tmp / "numba-cache"), XDG_CACHE_HOME=str(tmp / "cache"))
        if "build" in stages:
            py, static = build_and_install(tmp)
            (tmp / "static.json").write_text(json.dumps(static))
            elsewhere.mkdir(exist_ok=True)
            check_no_generic_packages(py, elsewhere, env)
        elif not py.exists():
            fail(f"no venv in {tmp}: run the build stage first")
        if "serve" in stages:
            if not (tmp / "static.json").exists():
                fail(f"no static.json in {tmp}: run the build stage first")
            static = json.loads((tmp / "static.json").read_text())
            if any((tmp / "numba-cache").glob("**/*.nbi")):
                fail(f"{tmp / 'numba-cache'} is not empty: the first-ever start needs an empty cache")
            serve_and_measure(py, elsewhere, env, "first-ever start (empty Numba cache)", args.timeout)
            serve_and_measure(py, elsewhere, env, "warm start (same cache)", args.timeout, static)
        if "library" in stages:
            check_library_paths(py, elsewhere, env)
    finally:
        if args.keep or args.dir:
            if args.keep:
                print(f"check_wheel: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"check_wheel: OK ({', '.join(stages)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
