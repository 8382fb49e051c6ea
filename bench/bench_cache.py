#!/usr/bin/env python3
"""What the server's caches save: the /api/forward answer cache, and the ETags of the static GETs.

In-process, with the Flask test client (no sockets, one thread).  Two apps in the same process:
``create_app({"FORWARD_CACHE_BYTES": 32 MiB})`` (the default size) and the peer, the same server with
the cache off (``{"FORWARD_CACHE_BYTES": 0}``).  The request bodies are what the layer view sends for
a gallery click, one per shipped sample (models/mnist_samples.npz, 300 digits): the JSON body
``{"image": rows in [0, 1] (uint8 / 255, 4 decimals), "encoding": "base64"}``.

Forward: each POST /api/forward is timed with time.perf_counter() around client.post (request
building, the route, reading the answer).  Pass 1 sends the 300 bodies once (cache on: every one a
miss, checked with the X-ConvScope-Cache header), pass 2 the same bodies again (cache on: every one a
hit).  The peer gets the same two passes, each request interleaved with the cache-on app's, so load
spikes of a shared machine hit both sides alike.  Prints median / p95 / min / max ms per pass, the
ratio miss/hit (cache on: pass 1 / pass 2, medians), the ratio peer/hit (what a repeated body costs
without the cache over what it costs with it) and the cache's overhead on a miss (cache-on pass 1 /
peer pass 1).  It also checks that every hit answers the same as the peer computes (timing_ms
aside).

ETags: GET /api/samples?include=images and GET /api/model, first in full (200), then revalidated with
If-None-Match: <its ETag> (304, no body): body bytes of each and the median time of each over --get-reps.

    .venv/bin/python bench/bench_cache.py            # --samples 300 --get-reps 50
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

CACHE_BYTES = 32 << 20


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=300,
                   help="how many of the shipped samples to send, from the first (default 300: all)")
    p.add_argument("--get-reps", type=int, default=50,
                   help="repetitions of each full and revalidated GET (default 50)")
    p.add_argument("--warmup", type=int, default=20,
                   help="untimed forwards of a blank image per app before the passes (default 20)")
    args = p.parse_args(argv)
    if args.samples < 1 or args.get_reps < 1 or args.warmup < 0:
        p.error("--samples ≥ 1, --get-reps ≥ 1, --warmup ≥ 0")
    return args


def bodies(n: int) -> list[bytes]:
    """The layer view's gallery-click body for each of the first n shipped samples."""
    import orjson
    from convscope.convnet.samples import load_samples
    images = load_samples().images[:n]
    return [orjson.dumps({"image": (img / 255).round(4).tolist(), "encoding": "base64"}) for img in images]


def stats(seconds: list[float]) -> dict:
    ms = sorted(s * 1e3 for s in seconds)
    return {"median": statistics.median(ms), "p95": ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))],
            "min": ms[0], "max": ms[-1]}


def post(client, body: bytes):
    t0 = time.perf_counter()
    r = client.post("/api/forward", data=body, content_type="application/json")
    dt = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"POST /api/forward answered {r.status_code}: {r.data[:200]!r}")
    return dt, r


def forward_passes(on, off, reqs: list[bytes]) -> dict:
    """Two passes over reqs on both apps, request by request interleaved (the order alternates)."""
    times = {(side, p): [] for side in ("on", "off") for p in (1, 2)}
    headers = {(side, p): {} for side in ("on", "off") for p in (1, 2)}
    answers = {}
    for p in (1, 2):
        for i, body in enumerate(reqs):
            order = (("on", on), ("off", off)) if (i + p) % 2 else (("off", off), ("on", on))
            for side, client in order:
                dt, r = post(client, body)
                times[side, p].append(dt)
                h = r.headers.get("X-ConvScope-Cache", "(none)")
                headers[side, p][h] = headers[side, p].get(h, 0) + 1
                if p == 2:
                    answers[side, i] = r.data
    return {"times": times, "headers": headers, "answers": answers}


def same_answer(a: bytes, b: bytes) -> bool:
    import orjson
    x, y = orjson.loads(a), orjson.loads(b)
    x.pop("timing_ms", None)
    y.pop("timing_ms", None)
    return x == y


def revalidation(client, path: str, reps: int) -> dict:
    full = client.get(path)
    if full.status_code != 200 or not full.headers.get("ETag"):
        raise SystemExit(f"GET {path}: {full.status_code}, ETag {full.headers.get('ETag')!r}")
    etag = full.headers["ETag"]
    t_full, t_304, status = [], [], set()
    for _ in range(reps):
        t0 = time.perf_counter()
        r = client.get(path)
        t_full.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        r304 = client.get(path, headers={"If-None-Match": etag})
        t_304.append(time.perf_counter() - t0)
        status.add(r304.status_code)
    return {"full_bytes": len(full.data), "r304_bytes": len(r304.data), "status": sorted(status),
            "etag": etag, "cache_control": full.headers.get("Cache-Control", ""),
            "t_full": stats(t_full)["median"], "t_304": stats(t_304)["median"], "same": r.data == full.data}


def main(argv=None) -> int:
    args = parse_args(argv)
    from convscope.server import create_app

    t0 = time.perf_counter()
    app_on = create_app({"FORWARD_CACHE_BYTES": CACHE_BYTES})
    app_off = create_app({"FORWARD_CACHE_BYTES": 0})
    t_apps = time.perf_counter() - t0
    on, off = app_on.test_client(), app_off.test_client()
    reqs = bodies(args.samples)
    size = statistics.fmean(len(b) for b in reqs)
    print("== bench_cache: the /api/forward answer cache and the ETags, in-process (Flask test client) ==")
    print(f"python {sys.version.split()[0]}  numpy {np.__version__}; both apps built in {t_apps:.1f} s "
          f"(default model, warm-up included)")
    print(f"bodies: {len(reqs)} shipped samples as the layer view's gallery click "
          f"({{image: 28x28 rows /255 to 4 decimals, encoding: base64}}), mean {size / 1024:.1f} KiB")
    print(f"cache on: FORWARD_CACHE_BYTES {CACHE_BYTES >> 20} MiB;  peer: the same server with the cache off "
          f"(FORWARD_CACHE_BYTES 0); requests interleaved on/off")

    blank = b'{"image": ' + str([[0.0] * 28] * 28).encode() + b', "encoding": "base64"}'
    for _ in range(args.warmup):
        post(on, blank)
        post(off, blank)

    t0 = time.perf_counter()
    res = forward_passes(on, off, reqs)
    t_passes = time.perf_counter() - t0
    s = {k: stats(v) for k, v in res["times"].items()}
    label = {("on", 1): "cache on,  pass 1 (misses)", ("on", 2): "cache on,  pass 2 (hits)",
             ("off", 1): "cache off, pass 1 (peer)", ("off", 2): "cache off, pass 2 (peer)"}
    print(f"\nPOST /api/forward, ms per request ({len(reqs)} per pass; {t_passes:.1f} s for the 4 passes):")
    for k in (("on", 1), ("on", 2), ("off", 1), ("off", 2)):
        x = s[k]
        hdr = ", ".join(f"{h} {n}" for h, n in sorted(res["headers"][k].items()))
        print(f"  {label[k]:<28} median {x['median']:7.3f}  p95 {x['p95']:7.3f}  min {x['min']:7.3f}  "
              f"max {x['max']:7.3f}   X-ConvScope-Cache: {hdr}")
    cache = app_on.extensions["convscope.forward_cache"]
    print(f"  cache after the passes: {len(cache.items)} answers, {cache.bytes:,} bytes "
          f"({cache.bytes / CACHE_BYTES:.0%} of {CACHE_BYTES >> 20} MiB); hits {cache.hits}, misses {cache.misses} "
          f"(counting the {args.warmup} warm-up requests of one blank body)")
    hits = res["headers"]["on", 2].get("hit", 0)
    misses1 = res["headers"]["on", 1].get("miss", 0)
    ok_headers = hits == len(reqs) and misses1 == len(reqs)
    print(f"  headers as expected (pass 1 all miss, pass 2 all hit): {'yes' if ok_headers else 'NO'} "
          f"({misses1}/{len(reqs)} miss, {hits}/{len(reqs)} hit)")
    mismatched = [i for i in range(len(reqs)) if not same_answer(res["answers"]["on", i], res["answers"]["off", i])]
    print(f"  hits answer as the peer computes (timing_ms aside): "
          f"{'all ' + str(len(reqs)) if not mismatched else f'NO, {len(mismatched)} differ (first: sample {mismatched[0]})'}")
    miss, hit = s["on", 1]["median"], s["on", 2]["median"]
    peer1, peer2 = s["off", 1]["median"], s["off", 2]["median"]
    print(f"  ratio miss/hit (cache on, pass 1 / pass 2 medians): {miss / hit:.2f}x"
          f"   (p95: {s['on', 1]['p95'] / s['on', 2]['p95']:.2f}x)")
    print(f"  ratio peer/hit (cache off pass 2 / cache on pass 2 medians): {peer2 / hit:.2f}x"
          f"   -> a repeated body costs {hit:.3f} ms instead of {peer2:.3f} ms")
    print(f"  cache overhead on a miss (cache on pass 1 / cache off pass 1 medians): {miss / peer1:.2f}x")

    print(f"\nETag revalidation (If-None-Match), cache-on app, median of {args.get_reps} each:")
    for path in ("/api/samples?include=images", "/api/model"):
        r = revalidation(on, path, args.get_reps)
        saved = r["full_bytes"] - r["r304_bytes"]
        print(f"  GET {path}")
        print(f"    full 200: body {r['full_bytes']:,} bytes, {r['t_full']:.3f} ms;  revalidated {r['status']}: "
              f"body {r['r304_bytes']:,} bytes, {r['t_304']:.3f} ms;  saved {saved:,} body bytes "
              f"({saved / r['full_bytes']:.0%}) per revalidation")
        print(f"    Cache-Control: {r['cache_control']};  repeated full GET identical: {'yes' if r['same'] else 'NO'};  "
              f"server time 304/200: {r['t_304'] / r['t_full']:.2f}x (a 304 still builds and hashes the body: "
              f"the saving is the transfer)")
    return 0 if ok_headers and not mismatched else 1


if __name__ == "__main__":
    sys.exit(main())
