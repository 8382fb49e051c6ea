"""How close /api/forward comes to the HTTP stack's own limit, per server, in one run.

For each server — ConvScope under gunicorn with 2 sync workers, under its default (gunicorn, one
worker × 4 threads), under granian (2 WSGI workers), and the peer (a plain Flask + PyTorch app on the
same contract, bench/peer_flask_torch.py, gunicorn with 2 sync workers) — wrk (-t2, --connections)
drives for --duration seconds each: GET /api/health (what the stack alone costs), then POST
/api/forward with a 28×28 shipped digit and "preprocess": "none", answered with nested JSON lists and
(ConvScope only) with base64-packed tensors.  The peer runs twice: with Flask's own JSON (the plain
peer) and with orjson.  ConvScope's forward cache is off (wrk repeats one body), except on one more
2-worker server where it is on: there every forward is a cache hit, which measures the ceiling a
forward answer's size alone leaves (LeNet's: 96 KB packed, 150 KB as JSON) on this stack.
Prints req/s and p50/p99 per case, forward as a share of the same server's health rate, and forward
against the peer's forward; then bench_classroom.py's class (--classroom students, one drawing each
50 ms, a Python client on the same cores) on each ConvScope server.  Targets (issue "Hold a lecture hall"): forward ≥ 70 % of health, ≥ 2× the
peer.

    .venv/bin/python bench/bench_stack.py [--duration 10] [--connections 16] [--only convscope-default,peer]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_classroom import free_port, run_students, stop, student_bodies, wait_healthy  # noqa: E402

def convscope(*extra):
    return lambda port: [sys.executable, "-m", "convscope", "serve", "--host", "127.0.0.1", "--port", str(port),
                         *extra]


def peer(port):
    return [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
            "bench.peer_flask_torch:app"]


SERVERS = {
    "convscope-sync2": convscope("--workers", "2", "--threads", "1"),
    "convscope-sync2-cached": convscope("--workers", "2", "--threads", "1"),
    "convscope-default": convscope(),
    "convscope-gthread2": convscope("--workers", "2", "--threads", "2"),
    "convscope-granian2": lambda port: [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "2",
                                        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                                        "--no-ws", "bench.granian_app:app"],
    "peer": peer,
    "peer-orjson": peer,
}
# the ceiling of a forward on this stack: the same server with its forward cache on, so wrk's one
# repeated body is answered from memory (no decode, trace or serialisation: the request's read and
# hash, and the answer's bytes written and read, are all that is left of it)
ENV = {"peer-orjson": {"PEER_JSON": "orjson"}, "convscope-sync2-cached": {"CONVSCOPE_FORWARD_CACHE_BYTES": str(32 << 20)}}
NEEDS = {"convscope-granian2": "granian", "peer": "torch", "peer-orjson": "torch"}     # the module each needs
LABELS = {
    "convscope-sync2": "ConvScope, gunicorn 2 sync workers (--workers 2)",
    "convscope-sync2-cached": "ConvScope, 2 sync workers, every forward a cache hit",
    "convscope-default": "ConvScope, gunicorn 1 worker × 4 threads (convscope serve)",
    "convscope-gthread2": "ConvScope, gunicorn 2 workers × 2 threads",
    "convscope-granian2": "ConvScope, granian 2 WSGI workers",
    "peer": "peer: Flask + PyTorch, gunicorn 2 sync workers",
    "peer-orjson": "peer with orjson instead of Flask's JSON",
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per case (default 10)")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--only", default=",".join(SERVERS), help="comma-separated servers: " + ", ".join(SERVERS))
    p.add_argument("--classroom", type=int, default=30, metavar="N",
                   help="then N students drawing (bench_classroom.py's load, one forward every 50 ms, "
                        "--duration seconds) on each ConvScope server; 0 skips it (default 30)")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    return p.parse_args(argv)


def digit_body(tensors: str | None) -> bytes:
    from convscope.convnet.samples import load_samples
    image = load_samples().images[0]
    body = {"image": [[round(float(v) / 255, 4) for v in row] for row in image], "preprocess": "none"}
    if tensors:
        body["encoding"] = tensors
    return json.dumps(body).encode()


def start(name: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "CONVSCOPE_FORWARD_CACHE_BYTES": "0", **ENV.get(name, {})}
    proc = subprocess.Popen(SERVERS[name](port), cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    return wait_healthy(proc, port, name, timeout=180, settle=2.0)


def wrk(args, port: int, path: str, body: bytes | None) -> dict:
    lua = ['done = function(summary, latency, requests)',
           '  io.write(string.format("RESULT %d %d %.3f %.3f %d\\n", summary.requests, summary.duration,',
           '    latency:percentile(50) / 1000, latency:percentile(99) / 1000,',
           '    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))',
           'end']
    if body is not None:
        lua = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"',
               f'wrk.body = [==[{body.decode()}]==]'] + lua
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("\n".join(lua) + "\n")
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "-s", f.name,
                              f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(f.name)
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)", out)
    n, us, p50, p99, errors = m.groups()
    return {"rps": int(n) / (int(us) / 1e6), "p50_ms": float(p50), "p99_ms": float(p99), "errors": int(errors)}


def check_cached(port: int, path: str, body: bytes) -> None:
    """The body asked until a cache answers it (each worker has its own cache: its first is a miss);
    without a hit within a few tries the ceiling would not be one."""
    for _ in range(8):
        req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            how = r.headers.get("X-ConvScope-Cache")
        if how == "hit":
            return
    raise SystemExit(f"bench_stack: the cached server answered a repeated body with X-ConvScope-Cache: {how}")


def main(argv=None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("bench_stack needs wrk (Debian: apt-get install wrk)")
    names = [n for n in args.only.split(",") if n]
    missing = [n for n in names if n in NEEDS and importlib.util.find_spec(NEEDS[n]) is None]
    for n in missing:
        print(f"{n}: skipped, {NEEDS[n]} is not installed (pip install -e '.[bench]')")
    names = [n for n in names if n not in missing]
    cases = {"health": ("/api/health", None), "forward json": ("/api/forward", digit_body("json")),
             "forward base64": ("/api/forward", digit_body("base64"))}
    results = {}
    for name in names:
        port = free_port()
        proc = start(name, port)
        try:
            results[name] = {}
            for case, (path, body) in cases.items():
                if name.startswith("peer") and case == "forward base64":
                    continue
                if name.endswith("-cached") and body is not None:
                    check_cached(port, path, body)
                results[name][case] = r = wrk(args, port, path, body)
                print(f"{LABELS[name]:58s} {case:15s} {r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.2f} ms"
                      f"  p99 {r['p99_ms']:6.2f} ms  errors {r['errors']}", flush=True)
            if args.classroom and not name.startswith("peer") and not name.endswith("-cached"):
                load = argparse.Namespace(students=args.classroom, interval=50.0, duration=float(args.duration),
                                          warmup=2.0)
                bodies = [student_bodies(k) for k in range(args.classroom)]
                results[name]["classroom"] = c = run_students(load, port, bodies)
                print(f"{LABELS[name]:58s} {'classroom':15s} {c['rate']:8.0f} of {c['offered']:,.0f} req/s offered"
                      f"  p50 {c['p50']:6.2f} ms  p95 {c['p95']:6.2f} ms  errors {c['errors']}", flush=True)
        finally:
            stop(proc)
    print(f"\nwrk -t2 -c{args.connections}, {args.duration} s a case, 2 cores shared with wrk; same run:")
    peers = {n: results[n]["forward json"]["rps"] for n in ("peer", "peer-orjson") if n in results}
    for name, rs in results.items():
        if name.startswith("peer"):
            continue
        health = rs["health"]["rps"]
        for case in ("forward json", "forward base64"):
            share = rs[case]["rps"] / health
            line = f"  {LABELS[name]:58s} {case:15s} {share:6.1%} of its health rate" + (
                " (the ceiling: no compute)" if name.endswith("-cached") else " (target ≥ 70 %)")
            for peer, rps in peers.items():
                line += f"; {rs[case]['rps'] / rps:5.2f}× {peer}"
            print(line)
    for peer, rps in peers.items():
        print(f"  {LABELS[peer]}: forward at {rps / results[peer]['health']['rps']:.1%} of its own health rate")
    print("  (target: ≥ 2× the plain peer's forward)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
