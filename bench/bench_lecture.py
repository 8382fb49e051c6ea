#!/usr/bin/env python3
"""A lecture hall: 300 students at once, with an asyncio load generator that shows its own ceiling.

`bench_classroom.py` runs one thread per student, and at 300 students its Python threads were the
bottleneck it measured.  Here every student is a coroutine on one event loop, with its own HTTP/1.1
connection (re-opened when the server closes it, as gunicorn's sync workers do after each answer):

- **drawing**: a forward every ``--interval`` ms with the student's growing digit, *latest only* as
  the layer view does: at most one request in flight; when an answer comes back late, the next send
  carries the newest drawing, the missed ones are skipped.  **Staleness** is, at each tick, how old
  the drawing behind the answer on the student's screen is: what a student sees lag behind the pen.
  Each student **paces** itself as the page does (static/js/core/pacer.js, whose PACING numbers this
  bench reads from that file): after each answer it waits the gap the answer's ``X-ConvScope-Queued``
  asks for.  ``--no-pacing`` sends as soon as the last answer is in, as the page did before.
- **gallery clicks**: every ``--gallery-every`` s a student sends a shipped digit (the same bytes for
  everyone: the forward cache's case);
- **kernel lab**: ``--lab-students`` of them send a 512×512 RGB picture through a 5×5 kernel every
  ``--lab-every`` s.

First the same client hammers ``/api/health`` with as many connections for a few seconds: that rate
is the ceiling of this client and the HTTP stack together, printed beside the result, so a reader can
tell a saturated server from a saturated load generator.  Loopback only.

    python bench/bench_lecture.py --students 300 --duration 60 [--servers 2x1,2x2] [--no-pacing]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_classroom import HOST, free_port, start_server, stop, student_bodies  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--students", type=int, default=300)
    p.add_argument("--interval", type=float, default=50.0, help="ms between a drawing student's sends")
    p.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="default 1: sync workers, as `convscope serve --workers N`")
    p.add_argument("--servers", metavar="WxT,...",
                   help="several server shapes in one run, e.g. 2x1,2x2 (workers × threads; 1 thread is "
                        "gunicorn's sync worker, more is gthread); default: --workers × --threads")
    p.add_argument("--gallery-every", type=float, default=5.0)
    p.add_argument("--lab-students", type=int, default=5)
    p.add_argument("--lab-every", type=float, default=3.0)
    p.add_argument("--ceiling-seconds", type=float, default=5.0)
    p.add_argument("--no-pacing", dest="pacing", action="store_false",
                   help="students send again as soon as an answer is in (no X-ConvScope-Queued pacing)")
    p.add_argument("--json", metavar="PATH")
    return p.parse_args(argv)


TOTAL = re.compile(rb'"total":([0-9.eE+-]+)\}\}$')


class Conn:
    """One keep-alive HTTP/1.1 connection, re-opened when the server closes it."""

    def __init__(self, port):
        self.port, self.reader, self.writer, self.view_ms = port, None, None, None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, int | None]:
        """(status, the X-ConvScope-Queued milliseconds or None); ``self.view_ms``: the answer's
        ``timing_ms.total`` (the time in the view), read from its tail without parsing the rest."""
        for attempt in (0, 1):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            head = (f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            try:
                self.writer.write(head + body)
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed before answering")
                length, close, queued = 0, False, None
                while True:
                    line = await self.reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "connection" and "close" in value.lower():
                        close = True
                    elif name.lower() == "x-convscope-queued":
                        queued = int(value)
                data = await self.reader.readexactly(length)
                m = TOTAL.search(data, max(0, length - 200))
                self.view_ms = float(m.group(1)) if m else None
                if close:
                    await self.close()
                return int(status_line.split()[1]), queued
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def close(self):
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None


def quantiles(values):
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan"), "max": float("nan")}
    v = sorted(values)
    q = lambda p: v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]  # noqa: E731
    return {"p50": q(50), "p95": q(95), "p99": q(99), "max": v[-1]}


async def ceiling(port, connections, seconds):
    """Requests per second this client gets from /api/health with that many connections."""
    done, stop_at = [0], time.perf_counter() + seconds

    async def hammer():
        c = Conn(port)
        while time.perf_counter() < stop_at:
            if (await c.request("GET", "/api/health"))[0] == 200:
                done[0] += 1
        await c.close()
    await asyncio.gather(*(hammer() for _ in range(connections)))
    return done[0] / seconds


def pacing_policy() -> dict:
    """The page's PACING numbers, read from static/js/core/pacer.js."""
    text = (ROOT / "static" / "js" / "core" / "pacer.js").read_text()
    body = re.search(r"export const PACING = (\{.*?\});", text, re.S).group(1)
    return json.loads(re.sub(r"(\w+):", r'"\1":', re.sub(r",\s*}", "}", body)))


class Pacer:
    """static/js/core/pacer.js's createPacer, line for line."""

    def __init__(self, policy: dict, rng: random.Random):
        self.policy, self.rng, self.gap = policy, rng, 0.0

    def after(self, queued_ms) -> float:
        p = self.policy
        if queued_ms is not None:
            self.gap = min(p["max"], max(0.0, self.gap + p["gain"] * (queued_ms - p["target"])))
        return self.gap * (1 - p["spread"] + 2 * p["spread"] * self.rng.random())


async def lecture(args, port, bodies, gallery_body, lab_body):
    interval = args.interval / 1000
    t0 = time.perf_counter() + 0.2
    measure_from, stop_at = t0 + args.warmup, t0 + args.warmup + args.duration
    out = {"latency": [], "stale": [], "errors": [], "sent": 0, "skipped": 0, "gallery": [], "lab": [],
           "gaps": [], "split": []}
    policy = pacing_policy() if getattr(args, "pacing", True) else None

    async def student(k):
        c = Conn(port)
        pacer = Pacer(policy, random.Random(k)) if policy else None
        not_before = 0.0         # the pacer's: no send before this time
        seq = bodies[k % len(bodies)]
        shown_at = None          # when the drawing behind the answer on screen was made
        in_flight = None
        version, made = 0, {}

        async def send(v, body, kind):
            nonlocal shown_at, not_before
            s0 = time.perf_counter()
            try:
                status, queued = await c.request("POST", "/api/forward" if kind != "lab" else "/api/convolve", body)
            except (OSError, asyncio.IncompleteReadError) as exc:
                if s0 >= measure_from:
                    out["errors"].append(type(exc).__name__)
                return
            dt = time.perf_counter() - s0
            if s0 >= measure_from:
                if status != 200:
                    out["errors"].append(f"HTTP {status}")
                else:
                    out["latency" if kind == "draw" else kind].append(dt * 1e3)
                    if kind == "draw" and queued is not None and c.view_ms is not None:
                        out["split"].append((queued, c.view_ms, dt * 1e3 - queued - c.view_ms))
            if kind == "draw" and status == 200:
                shown_at = made[v]
            if pacer is not None and status == 200:
                wait = pacer.after(queued)
                not_before = time.perf_counter() + wait / 1e3
                if s0 >= measure_from:
                    out["gaps"].append(pacer.gap)
        nxt = t0 + (k % 20) * interval / 20      # students start spread over one interval
        next_gallery = t0 + (k % 50) / 50 * args.gallery_every
        pending = False          # a drawing not yet sent (latest only: only the newest ever goes)
        while True:
            now = time.perf_counter()
            if now >= stop_at:
                break
            idle = in_flight is None or in_flight.done()
            if pending and idle and now >= not_before:      # as the page's channel: the newest, once free
                pending = False
                if now >= next_gallery:
                    next_gallery += args.gallery_every
                    in_flight = asyncio.ensure_future(send(version, gallery_body, "gallery"))
                else:
                    # every drawing differs from every other (no two students' strokes are the same
                    # bytes): an unknown key makes it so, and keeps drawings out of the forward cache
                    body = seq[version % len(seq)]
                    body = b"%s, \"student\": %d, \"stroke\": %d}" % (body[:-1], k, version)
                    in_flight = asyncio.ensure_future(send(version, body, "draw"))
                out["sent"] += now >= measure_from
                continue
            if now < nxt:
                if pending and not idle:
                    await asyncio.wait({in_flight}, timeout=nxt - now)
                elif pending:
                    await asyncio.sleep(max(0.0, min(nxt, not_before) - now))
                else:
                    await asyncio.sleep(nxt - now)
                continue
            version += 1                                    # the pen moved
            made[version] = now
            if now >= measure_from and shown_at is not None:
                out["stale"].append((now - shown_at) * 1e3)
            if pending:
                out["skipped"] += now >= measure_from       # the older drawing will never be sent
            pending = True
            nxt += interval
        if in_flight is not None:
            await in_flight
        await c.close()

    async def lab_student():
        c = Conn(port)
        while time.perf_counter() < stop_at:
            s0 = time.perf_counter()
            try:
                status, _ = await c.request("POST", "/api/convolve", lab_body)
                if s0 >= measure_from:
                    (out["lab"] if status == 200 else out["errors"]).append(
                        (time.perf_counter() - s0) * 1e3 if status == 200 else f"lab HTTP {status}")
            except (OSError, asyncio.IncompleteReadError) as exc:
                out["errors"].append(type(exc).__name__)
            await asyncio.sleep(args.lab_every)
        await c.close()
    await asyncio.gather(*(student(k) for k in range(args.students)),
                         *(lab_student() for _ in range(args.lab_students)))
    return out


def hall_bodies(students: int):
    """(each drawing student's growing digit, the gallery digit everyone sends, a kernel-lab knob turn)."""
    bodies = [student_bodies(k) for k in range(min(students, 60))]
    from convscope.convnet.samples import load_samples
    s = load_samples()
    gallery_body = json.dumps({"image": (s.images[7] / 255).round(3).tolist()}).encode()
    import io
    from PIL import Image
    buf = io.BytesIO()   # the lab's 256×256 scene, at the lab's largest size
    Image.open(ROOT / "static" / "img" / "lab" / "scene.png").convert("RGB").resize((512, 512)).save(buf, "PNG")
    png = base64.b64encode(buf.getvalue()).decode()
    # a knob turned on the lab's largest image, as the page sends it: the image it already has is
    # not echoed back, nor the output (the page names it from conv/activation/pool)
    lab_body = json.dumps({"image": f"data:image/png;base64,{png}", "kernel": [[1 / 25] * 5] * 5,
                           "echo_input": False, "echo_output": False}).encode()
    return bodies, gallery_body, lab_body


def report(args, r, top) -> dict:
    served = len(r["latency"]) + len(r["gallery"])
    lat, stale = quantiles(r["latency"]), quantiles(r["stale"])
    print(f"  ceiling of this client + stack: {top:,.0f} req/s of /api/health with {args.students} connections")
    print(f"  served {served / args.duration:,.0f} forwards/s ({len(r['latency']):,} drawings, {len(r['gallery']):,} "
          f"gallery digits) of {args.students / args.interval * 1000:,.0f} offered; {r['skipped']:,} drawings "
          f"skipped by latest-only ({r['skipped'] / max(1, r['sent'] + r['skipped']):.0%})")
    print(f"  drawing latency ms: p50 {lat['p50']:.1f}  p95 {lat['p95']:.1f}  p99 {lat['p99']:.1f}  max {lat['max']:.1f}")
    g = quantiles(r["gallery"])
    print(f"  gallery latency ms: p50 {g['p50']:.1f}  p95 {g['p95']:.1f};  kernel lab: {len(r['lab'])} calls, "
          f"p50 {quantiles(r['lab'])['p50']:.0f} ms")
    print(f"  staleness of what each student sees (ms behind the pen, sampled every tick): p50 {stale['p50']:.0f}  "
          f"p95 {stale['p95']:.0f}  p99 {stale['p99']:.0f}")
    if r["split"]:
        parts = [quantiles([x[i] for x in r["split"]]) for i in range(3)]
        print("  drawing latency, split ms (p50 / p95): queued before the view " +
              f"{parts[0]['p50']:.1f} / {parts[0]['p95']:.1f}, in the view {parts[1]['p50']:.1f} / {parts[1]['p95']:.1f}, "
              f"the rest (framework, sending, this client) {parts[2]['p50']:.1f} / {parts[2]['p95']:.1f}")
    if r["gaps"]:
        gq = quantiles(r["gaps"])
        print(f"  pacing (X-ConvScope-Queued): each student's gap after an answer, ms: p50 {gq['p50']:.0f}  "
              f"p95 {gq['p95']:.0f}  max {gq['max']:.0f}")
    elif args.pacing:
        print("  pacing: the server sent no X-ConvScope-Queued header, so no student paced itself")
    else:
        print("  pacing: off (--no-pacing)")
    print(f"  errors: {len(r['errors'])} {sorted(set(r['errors']))[:5]}")
    ok = lat["p95"] <= 50 and not r["errors"]
    print(f"  target p95 ≤ 50 ms at the rate served, 0 errors: {'met' if ok else 'NOT met'}", flush=True)
    return {"ok": ok, "ceiling": top, "served_per_s": served / args.duration, "latency": lat, "staleness": stale,
            "errors": len(r["errors"]), "skipped": r["skipped"], "mean_ms": statistics.fmean(r["latency"] or [0])}


def main(argv=None) -> int:
    args = parse_args(argv)
    bodies, gallery_body, lab_body = hall_bodies(args.students)
    shapes = [tuple(int(n) for n in shape.split("x")) for shape in args.servers.split(",")] if args.servers \
        else [(args.workers, args.threads)]
    print(f"lecture hall: {args.students} students, a forward every {args.interval:g} ms while drawing (offered "
          f"{args.students / args.interval * 1000:,.0f} req/s, latest only), a gallery digit every "
          f"{args.gallery_every:g} s each, {args.lab_students} on the kernel lab (512×512 RGB, 5×5) every "
          f"{args.lab_every:g} s; {os.cpu_count()} CPUs, loopback")
    results = {}
    for workers, threads in shapes:
        args.workers, args.threads = workers, threads
        kind = "sync workers, a connection per request" if threads == 1 else "gthread workers, keep-alive"
        print(f"`convscope serve --workers {workers} --threads {threads}` ({kind}):", flush=True)
        port = free_port()
        proc = start_server(args, port)
        try:
            top = asyncio.run(ceiling(port, args.students, args.ceiling_seconds))
            r = asyncio.run(lecture(args, port, bodies, gallery_body, lab_body))
        finally:
            stop(proc)
        results[f"{workers}x{threads}"] = report(args, r, top)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "servers": results}))
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
