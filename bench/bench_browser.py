"""Browser benchmark: pen move → layers repainted, in Debian's headless Chromium.

Starts the ConvScope server on a free loopback port (a subprocess), opens the layer view, draws
N strokes with paced mouse moves on the pad, and reads the page's own measurements
(window.__convscope.perf: pen event → request sent → response parsed → layers painted → next
frame, the same instants as the performance.measure "convscope:pen→painted").  Prints p50/p95/max
latency per phase, layer repaints per second and animation frames per second while drawing.
--tensors compares the response encodings (the page's ?tensors=: base64-packed activations, the
view's default, or nested JSON lists) in the same run.

    .venv/bin/python bench/bench_browser.py --strokes 20 --encoding both --tensors both
    .venv/bin/python bench/bench_browser.py --tensors base64 --viewport 1366x768 --server both --rounds 4

The server is `convscope serve` as a user starts it (gunicorn); --server werkzeug or both also times
the development server (`--workers 0`).
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FRAME_COUNTER = """() => {
  const h = window.__convscope; h.frames = 0; h.counting = true;
  const tick = () => { if (!h.counting) return; h.frames++; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def placeholder_model(tmp: Path) -> str:
    from convscope.convnet import LENET, Network
    path = tmp / "lenet-random.npz"
    Network.from_spec(LENET, seed=0, name="lenet").save(path, {"name": "lenet", "note": "random placeholder"})
    return str(path)


def start_server(model: str | None, tmp: Path, server: str = "gunicorn"):
    """`convscope serve` on a free loopback port → (process, url): the server a user starts
    (gunicorn, one worker × 4 threads), or with server="werkzeug" the development server
    (`--workers 0`).  Its output is drained (bench_classroom.drain)."""
    from bench_classroom import drain
    port = free_port()
    if model is None and not (ROOT / "models" / "lenet.npz").exists():
        model = placeholder_model(tmp)
        print(f"models/lenet.npz not found: using a random placeholder ({model})")
    cmd = [sys.executable, "-m", "convscope", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "0"] if server == "werkzeug" else []
    cmd += ["--model", model] if model else []
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            urllib.request.urlopen(url + "/api/health", timeout=1).read()
            return drain(proc), url
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"the server exited during start-up: {proc.stdout.read()}")
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not answer within 120 s")


def stroke_points(i: int, n: int):
    """A varied digit-like stroke in pad fractions: loops and slants, different per stroke."""
    a = 0.22 + 0.08 * (i % 3)
    pts = []
    for k in range(n):
        t = k / (n - 1)
        x = 0.5 + a * math.sin(2 * math.pi * t * (1 + i % 2)) * (1 - 0.4 * t)
        y = 0.15 + 0.7 * t + 0.08 * math.sin(3 * math.pi * t + i)
        pts.append((x, y))
    return pts


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


def measure(page, url, args, encoding, tensors, strokes):
    """Draw `strokes` strokes (after one warm-up) → {perf, elapsed, renders, frames}."""
    page.goto(f"{url}/?encoding={encoding}&tensors={tensors}")
    page.wait_for_function("() => window.__convscope && window.__convscope.lastResponse !== null", timeout=60_000)
    box = page.locator(".drawpad-canvas").bounding_box()
    px = lambda p: (box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"])
    # warm-up stroke (JIT in the page and the server), then measure
    for i in range(-1, strokes):
        if i == 0:
            page.evaluate("() => { window.__convscope.perf.length = 0; }")
            start_renders = page.evaluate("() => window.__convscope.rendered")
            page.evaluate(FRAME_COUNTER)
            t0 = time.perf_counter()
        page.locator("#clear").click()
        pts = stroke_points(max(i, 0), args.points)
        page.mouse.move(*px(pts[0]))
        page.mouse.down()
        for p in pts[1:]:
            page.mouse.move(*px(p))
            time.sleep(args.interval / 1000)
        page.mouse.up()
    page.wait_for_function("() => !window.__convscope.busy()")
    elapsed = time.perf_counter() - t0
    stats = page.evaluate("() => { const h = window.__convscope; h.counting = false;"
                          " return {perf: h.perf, frames: h.frames, rendered: h.rendered}; }")
    return {"perf": stats["perf"], "elapsed": elapsed, "renders": stats["rendered"] - start_renders,
            "frames": stats["frames"]}


def report(args, encoding, tensors, runs):
    """Print the pooled phases of `runs` (measure() results); returns the p95 pen → painted."""
    perf = [e for r in runs for e in r["perf"]]
    elapsed = sum(r["elapsed"] for r in runs)
    phases = {
        "pen → painted (next frame)": [e["frame"] - e["pen"] for e in perf],
        "  pen → request sent": [e["sent"] - e["pen"] for e in perf],
        "  sent → response parsed": [e["parsed"] - e["sent"] for e in perf],
        "  parsed → layers painted": [e["painted"] - e["parsed"] for e in perf],
        "    of which: tensors": [e["tensors"] for e in perf],
        "    of which: maps + nodes": [e["maps"] for e in perf],
        "    of which: softmax chart": [e["chart"] for e in perf],
        "    of which: detail + hover": [e["detail"] for e in perf],
    }
    print(f"\nencoding={encoding}, tensors={tensors}: {args.strokes} strokes in {len(runs)} interleaved round(s) "
          f"× {args.points} moves every {args.interval} ms, {len(perf)} repaints in {elapsed:.2f} s")
    print(f"  {'phase':30s} {'p50':>8s} {'p95':>8s} {'max':>8s}   (ms)")
    for name, vals in phases.items():
        if vals:
            print(f"  {name:30s} {pct(vals, 50):8.1f} {pct(vals, 95):8.1f} {max(vals):8.1f}")
    print(f"  layer repaints/s: {sum(r['renders'] for r in runs) / elapsed:.1f}   "
          f"animation frames/s while drawing: {sum(r['frames'] for r in runs) / elapsed:.1f}")
    return pct(phases["pen → painted (next frame)"], 95)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strokes", type=int, default=20, help="strokes to draw (default 20)")
    ap.add_argument("--points", type=int, default=40, help="mouse moves per stroke (default 40)")
    ap.add_argument("--interval", type=float, default=16, help="ms between mouse moves (default 16 ≈ 60 Hz)")
    ap.add_argument("--encoding", choices=["array", "png", "both"], default="array",
                    help="how the drawing is sent: downsampled grayscale array or PNG data URL")
    ap.add_argument("--tensors", choices=["base64", "json", "both"], default="both",
                    help="how the activations come back: base64-packed (the view's default) or nested JSON lists")
    ap.add_argument("--rounds", type=int, default=1,
                    help="split the strokes into this many rounds, alternating the cases (default 1)")
    ap.add_argument("--model", help="weights file (default: models/lenet.npz, else a random placeholder)")
    ap.add_argument("--chromium", default=os.environ.get("CONVSCOPE_CHROMIUM") or shutil.which("chromium")
                    or "/usr/bin/chromium", help="Chromium binary (default: Debian's)")
    ap.add_argument("--viewport", default="1920x1080", help="WxH (default 1920x1080)")
    ap.add_argument("--server", choices=["gunicorn", "werkzeug", "both"], default="gunicorn",
                    help="what serves the page: `convscope serve` as a user starts it (gunicorn, one worker "
                         "× 4 threads), Werkzeug's development server (--workers 0), or both, interleaved")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    w, h = (int(v) for v in args.viewport.split("x"))
    servers = ["gunicorn", "werkzeug"] if args.server == "both" else [args.server]
    with tempfile.TemporaryDirectory() as tmp:
        procs, urls = {}, {}
        try:
            for name in servers:
                procs[name], urls[name] = start_server(args.model, Path(tmp), name)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": w, "height": h})
                errors = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                encodings = ["array", "png"] if args.encoding == "both" else [args.encoding]
                tensor_modes = ["json", "base64"] if args.tensors == "both" else [args.tensors]
                cases = list(itertools.product(servers, encodings, tensor_modes))
                runs = {case: [] for case in cases}
                for r in range(args.rounds):   # the machines are noisy: alternate the cases
                    strokes = args.strokes // args.rounds + (r < args.strokes % args.rounds)
                    for server, *case in cases:
                        runs[(server, *case)].append(measure(page, urls[server], args, *case, strokes))
                for (server, enc, tensors), done in runs.items():
                    print(f"\n[{server}, {args.viewport}]", end="")
                    p95 = report(args, enc, tensors, done)
                    print(f"  target p95 ≤ 50 ms: {'met' if p95 <= 50 else 'NOT met'} ({p95:.1f} ms)")
                browser.close()
                if errors:
                    raise SystemExit(f"page errors: {errors}")
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(timeout=15)


if __name__ == "__main__":
    main()
