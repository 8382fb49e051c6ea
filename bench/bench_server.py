#!/usr/bin/env python3
"""Benchmark POST /api/forward end to end.

1. In-process (Flask test client), for both response encodings (default nested-list JSON and
   "encoding": "base64"): server time per request (median/min/max over --reps), payload size raw
   and gzip, and serialisation time alone.
2. Under load: gunicorn with --workers workers, started here on a free loopback port and stopped at
   the end, driven by `wrk` if it is installed, else by a Python load generator (threads with
   keep-alive http.client connections, bounded by --duration), once per --encoding.  The Python generator runs on the
   same cores as the server and steals CPU from it: its figures understate the server.

Targets (docs/ARCHITECTURE.md): JSON of one forward ≤ 0.3 ms; ≥ 2,500 req/s and p99 ≤ 10 ms on 2 cores.
"""
from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_classroom import drain  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=500, help="in-process repetitions (default 500)")
    p.add_argument("--payload", choices=["canvas", "array28", "array280"], default="canvas",
                   help="request body: a 280×280 RGBA canvas PNG data URL (default), or JSON rows")
    p.add_argument("--model", default=None, help="weights file (default models/lenet.npz)")
    p.add_argument("--duration", type=float, default=10.0, help="load-test seconds (default 10)")
    p.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    p.add_argument("--threads", type=int, default=1,
                   help="threads per gunicorn worker (default 1: sync workers, as `convscope serve --workers N`; N>1: gthread keep-alive)")
    p.add_argument("--encoding", choices=["json", "base64", "both"], default="both",
                   help="response encoding of the load test (default both, one after the other on the same server)")
    p.add_argument("--no-load", action="store_true", help="skip the load test")
    p.add_argument("--cache", action="store_true",
                   help="leave the server's forward cache on (default off: this bench repeats one body, which "
                        "the cache would answer from memory; bench_cache.py measures the cache)")
    p.add_argument("--python-load", action="store_true", help="use the Python load generator even if wrk exists")
    return p.parse_args(argv)


def make_body(kind: str, encoding: str = "json") -> bytes:
    import orjson
    from PIL import Image
    from convscope.convnet.samples import load_samples
    digit = load_samples().images[0]
    extra = {} if encoding == "json" else {"encoding": encoding}
    if kind == "array28":
        return orjson.dumps({"image": (digit / 255).round(4).tolist(), **extra})
    big = np.asarray(Image.fromarray(digit).resize((280, 280), Image.Resampling.BILINEAR))
    if kind == "array280":
        return orjson.dumps({"image": (big / 255).round(4).tolist(), **extra})
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = big
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return orjson.dumps({"image": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), **extra})


def stats_ms(samples_s):
    ms = sorted(s * 1e3 for s in samples_s)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    return {"median": statistics.median(ms), "min": ms[0], "max": ms[-1], "p95": pick(0.95), "p99": pick(0.99)}


def in_process(args) -> None:
    from convscope.server import create_app, schema
    from convscope.server.preprocess import mnist
    from convscope.server.decode import image_from
    import orjson
    app = create_app({"MODEL_PATHS": [args.model] if args.model else None, "WARM_LAB": False,
                      "FORWARD_CACHE_BYTES": (32 << 20) if args.cache else 0})
    client = app.test_client()
    for encoding in schema.ENCODINGS:
        body = make_body(args.payload, encoding)
        times = []
        for i in range(args.reps + 20):
            t = time.perf_counter()
            r = client.post("/api/forward", data=body, content_type="application/json")
            dt = time.perf_counter() - t
            if i >= 20:
                times.append(dt)
        assert r.status_code == 200, r.data[:200]
        payload = r.data
        timing = orjson.loads(payload)["timing_ms"]
        s = stats_ms(times)
        print(f"\n[encoding={encoding}] request body: {args.payload}, {len(body):,} bytes")
        print(f"in-process /api/forward: median {s['median']:.3f} ms, min {s['min']:.3f}, max {s['max']:.3f} "
              f"(p99 {s['p99']:.3f}) over {args.reps} requests")
        print(f"  server-side split of the last request (ms): {timing}")
        print(f"payload: {len(payload):,} bytes raw, {len(gzip.compress(payload, 6)):,} bytes gzip -6")
    with app.app_context():
        net = app.extensions["convscope"].get()
        img = image_from(orjson.loads(make_body(args.payload)), None)
        pre = mnist(img)
        trace = net.trace(pre.x)
        for encoding in schema.ENCODINGS:
            ser = []
            for _ in range(args.reps):
                t = time.perf_counter()
                schema.dumps(schema.forward(net.name, pre, trace, False, encoding))
                ser.append(time.perf_counter() - t)
            print(f"serialisation, encoding={encoding} (build + orjson): median {stats_ms(ser)['median']:.3f} ms "
                  f"(target ≤ 0.3)")
        pre_t = []
        for _ in range(args.reps):
            t = time.perf_counter()
            mnist(img)
            pre_t.append(time.perf_counter() - t)
    print(f"preprocessing of the decoded image: median {stats_ms(pre_t)['median']:.3f} ms")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "convscope", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(args.workers), "--threads", str(args.threads)]
    if args.model:
        cmd += ["--model", args.model]
    env = dict(os.environ, **({} if args.cache else {"CONVSCOPE_FORWARD_CACHE_BYTES": "0"}))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                conn.close()
                time.sleep(1.0)    # let every worker finish post-fork warm-up
                return drain(proc)
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stdout.read()}")
    proc.terminate()
    raise SystemExit("server did not start within 120 s")


def run_wrk(wrk: str, args, port: int, body: bytes) -> None:
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                 f'wrk.body = [==[{body.decode()}]==]\n'
                 'done = function(summary, latency, requests)\n'
                 '  for _, q in ipairs({50, 95, 99}) do\n'
                 '    io.write(string.format("p%d %.3f ms\\n", q, latency:percentile(q) / 1000))\n'
                 '  end\nend\n')
    script.close()
    try:
        out = subprocess.run([wrk, "-t2", f"-c{args.connections}", f"-d{int(args.duration)}s", "-s", script.name,
                              f"http://127.0.0.1:{port}/api/forward"], capture_output=True, text=True, check=True)
        print(out.stdout)
    finally:
        os.unlink(script.name)


def run_python_load(args, port: int, body: bytes) -> None:
    print("NOTE: Python load generator on the same cores as the server: it steals CPU, so these "
          "figures understate the server (install wrk for a fair number).")
    latencies, errors, lock = [], [0], threading.Lock()
    deadline = time.perf_counter() + args.duration
    headers = {"Content-Type": "application/json"}

    def worker():
        conn, mine = None, []
        while time.perf_counter() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                t = time.perf_counter()
                conn.request("POST", "/api/forward", body=body, headers=headers)
                resp = resp_ = conn.getresponse()
                resp.read()
                mine.append(time.perf_counter() - t)
                if resp_.status != 200:
                    errors[0] += 1
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                conn = None
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(args.connections)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    s = stats_ms(latencies)
    print(f"{len(latencies) / elapsed:,.0f} req/s over {elapsed:.1f} s, {args.connections} connections, "
          f"{errors[0]} errors; latency p50 {s['median']:.2f} ms, p95 {s['p95']:.2f} ms, p99 {s['p99']:.2f} ms")


def load_test(args) -> None:
    port = free_port()
    wrk = None if args.python_load else shutil.which("wrk")
    kind = "sync" if args.threads == 1 else f"gthread×{args.threads}"
    print(f"\nload: gunicorn {args.workers} {kind} workers on 127.0.0.1:{port}, {os.cpu_count()} CPUs; "
          f"driver: {'wrk' if wrk else 'Python threads (wrk not found)'}")
    proc = start_server(args, port)
    try:
        for encoding in (["json", "base64"] if args.encoding == "both" else [args.encoding]):
            body = make_body(args.payload, encoding)
            print(f"[encoding={encoding}]")
            run_wrk(wrk, args, port, body) if wrk else run_python_load(args, port, body)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv=None) -> int:
    args = parse_args(argv)
    from convscope import kernels  # noqa: F401  (NUMBA_CACHE_DIR before numba)
    in_process(args)
    if not args.no_load:
        load_test(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
