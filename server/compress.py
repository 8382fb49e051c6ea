"""Compressed answers: Brotli or gzip, as the browser asks (``Accept-Encoding``), for text and JSON.

A class of thirty on one Wi-Fi pulls the first visit thirty times over, and most of it is
Plotly.js (4.8 MB).  What never changes while the server runs (the static files, Plotly.js and the
GET answers that carry an ETag: the model, its weights, the samples) is compressed once, at a high
level, and kept: each later request for it costs a dictionary lookup.  Answers computed per request
(a forward pass, a page) are compressed at a fast level, and only when they are large enough to
gain from it.

The compressed body gets its own ETag (``"<etag>-br"``), so a browser's revalidation still ends in a
304, and ``Vary: Accept-Encoding`` tells caches the body depends on that header.  A request body is
never decompressed (server/decode.py answers 415 to a compressed upload).

Why not Flask-Compress: it compresses Flask's static files chunk by chunk on every request (a
streamed body is not cached), and its cache is keyed by a function of the request alone, which a
POST's answer cannot be.
"""
from __future__ import annotations

import gzip
import threading
from collections import OrderedDict

import brotli
from flask import Flask, Response, request

TYPES = {"text/html", "text/css", "text/javascript", "application/javascript", "application/json",
         "image/svg+xml", "text/plain"}
MIN_SIZE = 1024                 # smaller bodies are sent as they are (the headers would eat the gain)
ENCODINGS = ("br", "gzip")      # preferred first when the browser accepts both equally
KEPT = {"br": 9, "gzip": 9}     # levels for bodies compressed once and kept (Plotly: 1.23 MB, 0.4 s once)
# …and for bodies compressed per request.  A LeNet forward (140 KB of JSON) takes 0.56 ms at
# Brotli 1 (38 KB) against 1.87 ms at 4 (35.7 KB), and 1.2 ms at gzip 1 (47 KB) against 3.6 ms at
# 5 (41 KB): the few percent of bytes are not worth the server's time per pen stroke.
FAST = {"br": 1, "gzip": 1}


def compress(data: bytes, encoding: str, level: int) -> bytes:
    if encoding == "br":
        return brotli.compress(data, quality=level)
    return gzip.compress(data, compresslevel=level, mtime=0)


class Kept:
    """Compressed bodies by (path, ETag, encoding), least recently used dropped past max_bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.items: OrderedDict[tuple, bytes] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, key: tuple) -> bytes | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: tuple, value: bytes) -> None:
        with self.lock:
            if key in self.items or len(value) > self.max_bytes:
                return
            self.items[key] = value
            self.bytes += len(value)
            while self.bytes > self.max_bytes:
                _, dropped = self.items.popitem(last=False)
                self.bytes -= len(dropped)


def _compressed(response: Response, kept: Kept) -> Response:
    response.vary.add("Accept-Encoding")
    if (response.status_code != 200 or "Content-Encoding" in response.headers
            or response.mimetype not in TYPES or request.method == "HEAD"
            or (response.is_streamed and not response.direct_passthrough)):   # a generator: as it is
        return response
    encoding = request.accept_encodings.best_match(ENCODINGS)
    if encoding is None:
        return response
    length = response.content_length
    if length is not None and length < MIN_SIZE:
        return response
    etag, weak = response.get_etag()
    key = (request.full_path, etag, encoding) if etag and not weak else None
    body = kept.get(key) if key else None
    source = response.response
    if body is None:
        response.direct_passthrough = False       # a static file: read it
        data = response.get_data()
        if len(data) < MIN_SIZE:
            if hasattr(source, "close"):
                source.close()
            return response
        body = compress(data, encoding, (KEPT if key else FAST)[encoding])
        if key:
            kept.put(key, body)
    response.direct_passthrough = False
    response.set_data(body)
    if hasattr(source, "close"):                     # a static file's reader: done with it
        source.close()
    response.headers["Content-Encoding"] = encoding
    response.headers.pop("Accept-Ranges", None)       # byte ranges were of the file as stored
    if etag and not weak:
        response.set_etag(f"{etag}-{encoding}")
        return response.make_conditional(request)
    return response


def init_app(app: Flask) -> None:
    """Compress answers unless ``COMPRESS_RESPONSES`` is off (bench/bench_first_visit.py's peer)."""
    if not app.config.get("COMPRESS_RESPONSES", True):
        return
    kept = Kept(app.config.get("COMPRESS_KEPT_BYTES", 32 << 20))
    app.extensions["convscope.compressed"] = kept
    app.after_request(lambda response: _compressed(response, kept))
