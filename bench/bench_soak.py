#!/usr/bin/env python3
"""A soak: the lecture hall's mixed load (drawing latest-only, gallery digits, the kernel lab on
512×512 RGB) for ten minutes, watching every server process's resident memory and open files.

The server is `convscope serve` as a user starts it: `--workers 1 --threads 4` is the default (one
gunicorn worker), `--workers N` gunicorn with N workers, `--workers 0` Werkzeug's development server.  Every `--every` seconds the bench reads
/proc for the server process and each of its descendants (the gunicorn workers): VmRSS and the count
of open file descriptors.  Memory is judged after the warm-up (`--settle` seconds, when the caches
and allocator arenas have filled): the target is ≤ 10 % growth from there to the end for every
process, no file-descriptor growth, and 0 errors.  The load itself is bench_lecture.py's client.

    python bench/bench_soak.py --duration 600 --students 100 --workers 2
    python bench/bench_soak.py --duration 600 --students 30 --workers 1 --threads 4   # the default server
    python bench/bench_soak.py --duration 600 --students 30 --workers 0   # Werkzeug's development server
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_classroom import free_port, start_server, stop  # noqa: E402
from bench.bench_lecture import hall_bodies, lecture, quantiles  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    p.add_argument("--settle", type=float, default=60.0, help="seconds of warm-up before memory is judged")
    p.add_argument("--every", type=float, default=10.0, help="seconds between /proc samples")
    p.add_argument("--students", type=int, default=100)
    p.add_argument("--interval", type=float, default=50.0, help="ms between a drawing student's sends")
    p.add_argument("--workers", type=int, default=2, help="0: Werkzeug's development server")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--gallery-every", type=float, default=5.0)
    p.add_argument("--lab-students", type=int, default=3)
    p.add_argument("--lab-every", type=float, default=3.0)
    p.add_argument("--json", metavar="PATH")
    return p.parse_args(argv)


def descendants(pid: int) -> list[int]:
    """pid and every process below it (gunicorn's master is the CLI process; its workers are children)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def sample(pid: int) -> dict[int, tuple[float, int]]:
    """{pid: (resident MiB, open file descriptors)} for the server and its descendants."""
    out = {}
    for p in descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
            fds = len(os.listdir(f"/proc/{p}/fd"))
        except (OSError, StopIteration):
            continue
        out[p] = (rss, fds)
    return out


async def watch(pid: int, every: float, stop_at: float, samples: list):
    t0 = time.perf_counter()
    while time.perf_counter() < stop_at:
        smp = sample(pid)
        samples.append((time.perf_counter(), smp))
        print(f"  {time.perf_counter() - t0:6.0f} s: resident MiB {[round(v[0], 1) for v in smp.values()]}", flush=True)
        await asyncio.sleep(every)
    samples.append((time.perf_counter(), sample(pid)))


async def soak(args, port, pid, bodies, gallery_body, lab_body):
    samples: list = []
    args.warmup = 3.0
    t0 = time.perf_counter()
    load = asyncio.ensure_future(lecture(args, port, bodies, gallery_body, lab_body))
    await watch(pid, args.every, t0 + args.warmup + args.duration + 0.2, samples)
    try:   # a request still unanswered 30 s after the load stopped is a failure, not a wait forever
        return await asyncio.wait_for(load, 30), samples, t0
    except asyncio.TimeoutError:
        print("the load did not finish 30 s after its end: a request was never answered")
        return {"latency": [], "gallery": [], "lab": [], "errors": ["unanswered request"]}, samples, t0


def main(argv=None) -> int:
    args = parse_args(argv)
    bodies, gallery_body, lab_body = hall_bodies(args.students)
    port = free_port()
    server = f"gunicorn, {args.workers} workers × {args.threads} threads" if args.workers else "Werkzeug's development server"
    print(f"soak: {args.duration:g} s of {args.students} students drawing every {args.interval:g} ms (latest only), "
          f"gallery digits every {args.gallery_every:g} s, {args.lab_students} on the kernel lab; {server}; "
          f"{os.cpu_count()} CPUs, loopback")
    proc = start_server(args, port)
    try:
        r, samples, t0 = asyncio.run(soak(args, port, proc.pid, bodies, gallery_body, lab_body))
    finally:
        stop(proc)
    served = len(r["latency"]) + len(r["gallery"])
    lat = quantiles(r["latency"])
    print(f"served {served / args.duration:,.0f} forwards/s; drawing p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms, "
          f"p99 {lat['p99']:.1f} ms; kernel lab {len(r['lab'])} calls; errors: {len(r['errors'])} "
          f"{sorted(set(r['errors']))[:5]}")
    settled = next((smp for t, smp in samples if t - t0 >= args.settle), samples[0][1])
    end = samples[-1][1]
    worst, fd_growth = 0.0, 0
    print(f"{'process':>9} {'start MiB':>10} {'settled':>8} {'end':>8} {'growth':>7} {'fds':>9}")
    first = samples[0][1]
    for pid in sorted(end):
        if pid not in settled:
            continue
        a, b = settled[pid][0], end[pid][0]
        growth = (b - a) / a if a else 0.0
        worst = max(worst, growth)
        fd_growth = max(fd_growth, end[pid][1] - settled[pid][1])
        role = "server" if pid == proc.pid else "worker"
        print(f"{role:>9} {first.get(pid, (float('nan'),))[0]:>10.1f} {a:>8.1f} {b:>8.1f} {growth:>+7.1%} "
              f"{settled[pid][1]:>4} → {end[pid][1]:<3}")
    series = [round(sum(v[0] for v in smp.values()), 1) for _, smp in samples]
    print(f"total resident MiB every {args.every:g} s: {series}")
    ok = not r["errors"] and worst <= 0.10 and fd_growth <= 0
    print(f"target 0 errors, ≤ 10 % memory growth after {args.settle:g} s, no fd growth: {'met' if ok else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "errors": len(r["errors"]), "latency": lat,
                                               "worst_growth": worst, "fd_growth": fd_growth, "series": series}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
