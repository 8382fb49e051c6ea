"""First visit: the bytes on the wire and the time to the first activations, on a cold browser cache.

Starts two ConvScope servers on loopback ports (subprocesses): the app as shipped (Brotli/gzip answers,
packed weights) and, as the peer in the same run, the same app with ``COMPRESS_RESPONSES`` off (a
plain Flask server sending every body as it is).  For each, Debian's headless Chromium opens the
layer view N times, each time in a new browser context (an empty cache), and reports:

- the bytes received (Chromium's own count of encoded bytes per response, headers included), in
  total and for the largest responses;
- the time from navigation to the first painted activations (the page's first forward pass drawn:
  the frame after the page painted its first /api/forward answer, from its own ``perf`` record), to
  DOMContentLoaded and to the first forward request, as the median of the N visits;
- the main thread's work until the page is idle (Chromium's own TaskDuration metric, read once the
  network has been idle for half a second and one more second has passed): what a slow classroom
  laptop pays before the page answers the pen at full speed.

    .venv/bin/python bench/bench_first_visit.py --visits 5
    .venv/bin/python bench/bench_first_visit.py --throttle 20   # a shared 20 Mbit/s Wi-Fi link
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_browser import start_server  # noqa: E402

# the page's own record of its first forward pass: request sent, response parsed, the frame after painting
FIRST_PAINT = "() => { const h = window.__convscope; return Boolean(h && h.perf && h.perf.length); }"
FIRST = "() => { const p = window.__convscope.perf[0]; return {sent: p.sent, parsed: p.parsed, frame: p.frame}; }"


def chromium_path() -> str:
    return os.environ.get("CONVSCOPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def visit(browser, url: str, throttle_mbit: float | None) -> dict:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Performance.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if throttle_mbit:
        rate = throttle_mbit * 1e6 / 8
        cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 5,
                                                      "downloadThroughput": rate, "uploadThroughput": rate})
    urls, sizes = {}, {}
    cdp.on("Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(url + "/")
    page.wait_for_function(FIRST_PAINT, timeout=60_000)
    first = page.evaluate(FIRST)
    dom = page.evaluate("() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1000)
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    by_url = {}
    for rid, n in sizes.items():
        u = urls.get(rid, "?").replace(url, "")
        by_url[u] = by_url.get(u, 0) + n
    context.close()
    return {"first_ms": first["frame"], "sent_ms": first["sent"], "dom_ms": dom, "bytes": sum(by_url.values()),
            "by_url": by_url, "task_ms": metrics["TaskDuration"] * 1e3}


def run(label: str, url: str, browser, visits: int, throttle: float | None) -> dict:
    runs = [visit(browser, url, throttle) for _ in range(visits)]
    med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
    top = sorted(runs[-1]["by_url"].items(), key=lambda kv: -kv[1])[:6]
    print(f"\n{label}: {med('bytes') / 1e6:.2f} MB on the wire, first activations {med('first_ms'):.0f} ms "
          f"(DOMContentLoaded {med('dom_ms'):.0f} ms, first forward sent {med('sent_ms'):.0f} ms), "
          f"median of {visits} cold visits")
    each = ", ".join(f"{r['first_ms']:.0f}" for r in runs)
    print(f"  first activations, each visit: {each} ms")
    tasks = ", ".join(f"{r['task_ms']:.0f}" for r in runs)
    print(f"  main thread busy until idle: {med('task_ms'):.0f} ms (each visit: {tasks} ms)")
    for u, n in top:
        print(f"  {n / 1e3:9.1f} KB  {u}")
    return {"bytes": med("bytes"), "first_ms": med("first_ms"), "task_ms": med("task_ms")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--visits", type=int, default=5)
    ap.add_argument("--throttle", type=float, default=None, help="emulate a link of this many Mbit/s")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    tmp = Path(tempfile.mkdtemp(prefix="convscope-first-visit-"))
    servers = {}
    try:
        servers["ConvScope (compressed)"] = start_server(None, tmp)
        os.environ["CONVSCOPE_COMPRESS_RESPONSES"] = "false"
        servers["peer: the same app, uncompressed"] = start_server(None, tmp)
        del os.environ["CONVSCOPE_COMPRESS_RESPONSES"]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            link = f", over an emulated {args.throttle:g} Mbit/s link" if args.throttle else ", on loopback"
            print(f"first visit of the layer view at 1366×768{link}")
            out = {label: run(label, url, browser, args.visits, args.throttle) for label, (_, url) in servers.items()}
            browser.close()
        (a, b) = out.values()
        print(f"\nsame run: {b['bytes'] / a['bytes']:.1f}× fewer bytes, "
              f"first activations {a['first_ms'] / b['first_ms']:.2f}× the peer's time")
    finally:
        for proc, _ in servers.values():
            proc.kill()


if __name__ == "__main__":
    main()
