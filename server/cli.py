"""The ``convscope`` command: ``serve`` (the default), ``train`` and ``evaluate``.

Imports are lazy and ordered so that ``kernels`` (which points NUMBA_CACHE_DIR somewhere writable)
loads before anything imports numba.  Expected failures (a missing model file, a port in use)
print one line and exit with status 2, without a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

USAGE = """convscope [serve] [--host HOST] [--port PORT] [--workers N] [--model PATH]
       convscope train [options]      (convscope train --help)
       convscope evaluate [options]   (convscope evaluate --help)"""
PASS_THROUGH = {"train": "convscope.convnet.train", "evaluate": "convscope.convnet.evaluate"}


def serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="convscope", usage=USAGE,
                                description="ConvScope: watch a convolutional network think, layer by layer.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for a LAN)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=0,
                   help="run gunicorn with N worker processes (a classroom); default: one threaded process")
    p.add_argument("--threads", type=int, default=1,
                   help="threads per gunicorn worker (default 1: sync workers, the steadiest latency for a class; N>1: gthread with keep-alive)")
    p.add_argument("--model", action="append", metavar="PATH",
                   help="weights file (.npz); repeat to serve several, the first is the default")
    return p


def serve(argv) -> int:
    args = serve_parser().parse_args(argv)
    if args.workers < 0 or args.threads < 1 or not 0 <= args.port <= 65535:
        return fail("--workers must be ≥ 0, --threads ≥ 1 and --port 0–65535")
    from convscope import kernels  # noqa: F401  (sets NUMBA_CACHE_DIR before numba is imported)
    from . import create_app, serving
    from .registry import ModelLoadError
    overrides = {"WARM_LAB": not args.workers}   # the lab's thread pool must start after a fork (serving.py)
    if args.model:
        overrides["MODEL_PATHS"] = [os.path.abspath(p) for p in args.model]
    print("ConvScope: loading the model and its kernels (the very first start compiles them, "
          "about 20 s; later starts take under a second)…", flush=True)
    try:
        app = create_app(None, overrides)
    except ModelLoadError as exc:
        return fail(str(exc))

    def ready(port):
        how = f"gunicorn, {args.workers} workers" if args.workers else "Ctrl+C to stop"
        host = f"[{args.host}]" if ":" in args.host else args.host
        print(f"ConvScope serving {app.extensions['convscope'].default} at http://{host}:{port}/  ({how})", flush=True)
        if args.host in ("0.0.0.0", "::"):
            print("  listening on every interface: students use this machine's LAN address", flush=True)

    try:
        if args.workers:
            serving.check_port(args.host, args.port)   # gunicorn would retry, then exit without a reason
            serving.serve_gunicorn(app, args.host, args.port, args.workers, ready, args.threads)
        else:
            serving.serve_werkzeug(app, args.host, args.port, ready)
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    return 0


def fail(message: str) -> int:
    print(f"convscope: error: {message}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    try:
        return _dispatch(argv)
    except BrokenPipeError:   # e.g. `convscope evaluate | head -1`: the reader left, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _dispatch(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else "serve"
    rest = argv[1:] if argv and argv[0] == command else argv
    if command == "serve":
        return serve(rest)
    if command in PASS_THROUGH:
        import importlib
        from convscope import kernels  # noqa: F401  (NUMBA_CACHE_DIR first)
        return importlib.import_module(PASS_THROUGH[command]).main(rest) or 0
    return fail(f"unknown command {command!r}; use serve, train or evaluate (convscope --help)")


if __name__ == "__main__":
    sys.exit(main())
