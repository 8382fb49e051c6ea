"""Run the app: gunicorn, one worker with four threads for one user (the default) or N worker
processes for a class; Werkzeug's threaded development server with ``--workers 0``.

Measured in one run of bench/bench_soak.py (30 students, 60 s, 2 cores): the Werkzeug server served
300 forwards/s at p95 148 ms while its memory grew from 646 to 701 MiB after warm-up; one gunicorn
worker with four threads served 359/s at p95 121 ms, its worker growing from 346 to 355 MiB.

gunicorn is driven through its Python API: the app is built once in the parent (``preload_app``) so
the weights load and the JIT warms before the workers fork and share them.
"""
from __future__ import annotations

import os

from flask import Flask


SERVER_HEADER = "ConvScope"   # not "Werkzeug/3.1 Python/3.11" or "gunicorn": no library versions sent


def make_werkzeug(app: Flask, host: str, port: int):
    """Werkzeug's threaded server for ``app``, its Server header saying only "ConvScope"."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Handler(WSGIRequestHandler):
        def version_string(self):
            return SERVER_HEADER

    return make_server(host, port, app, threaded=True, request_handler=Handler)


def serve_werkzeug(app: Flask, host: str, port: int, on_ready) -> None:
    server = make_werkzeug(app, host, port)
    on_ready(server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one, as on Linux)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def gunicorn_available() -> bool:
    """gunicorn runs only on POSIX systems (it forks); elsewhere its import fails."""
    try:
        import gunicorn.app.base  # noqa: F401
    except ImportError:
        return False
    return True


def check_port(host: str, port: int) -> None:
    """Raise OSError now if (host, port) cannot be bound."""
    import socket
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))


def _warm_lab(app: Flask) -> None:
    """After a fork: the lab's kernels, unless the parent already ran them (fork-safe layer)."""
    from .registry import EXTENSION
    registry = app.extensions[EXTENSION]
    if not registry.lab_warm:
        registry.warm_lab()


def serve_gunicorn(app: Flask, host: str, port: int, workers: int, on_ready, threads: int = 1) -> None:
    import gunicorn.http.wsgi
    from gunicorn.app.base import BaseApplication
    gunicorn.http.wsgi.SERVER = SERVER_HEADER   # the Server header of every response

    class Standalone(BaseApplication):
        def load_config(self):
            settings = {"bind": f"{host}:{port}", "workers": workers, "preload_app": True,
                        "worker_class": "gthread" if threads > 1 else "sync", "threads": threads,
                        "accesslog": None, "loglevel": "warning", "keepalive": 5,
                        "when_ready": lambda arbiter: on_ready(arbiter.LISTENERS[0].sock.getsockname()[1]),
                        "post_worker_init": lambda worker: _warm_lab(app)}
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Standalone().run()
