"""What repeats, answered once: HTTP validators for the static GET answers, and a bounded in-process
cache of /api/forward answers keyed by the request body's hash.

In a class, the same bytes are asked for again and again: every student's browser loads the model,
the weights and the samples (the same for the whole run of the server), and a gallery click or a
shared link sends the same digit from thirty browsers.  The GET answers carry an ETag and a
``Cache-Control`` lifetime, so a browser reuses its copy and a revalidation costs a 304 with no body.
A forward of a body seen before is served from ``ForwardCache`` (the trace is deterministic): no
decode, preprocessing, trace or serialisation, only the hash.  ``X-ConvScope-Cache: hit|miss`` says
which happened; ``timing_ms`` keeps its fields (a hit's time is all in ``decode``).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from flask import Response, request

STATIC_MAX_AGE = 600   # seconds a browser may reuse /api/model, weights and samples without asking


def conditional(response: Response, max_age: int = STATIC_MAX_AGE) -> Response:
    """An ETag (a hash of the body) and a lifetime on a static answer; 304 if the client has it."""
    response.set_etag(hashlib.blake2b(response.get_data(), digest_size=16).hexdigest())
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    return response.make_conditional(request)


class ForwardCache:
    """A thread-safe LRU of response bodies, bounded by total bytes and by count."""

    def __init__(self, max_bytes: int, max_items: int = 1024):
        self.max_bytes, self.max_items = max_bytes, max_items
        self.items: OrderedDict[bytes, bytes] = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    @staticmethod
    def key(body: bytes, *extra: str) -> bytes:
        h = hashlib.blake2b(body, digest_size=20)
        for part in extra:
            h.update(b"\0" + part.encode())
        return h.digest()

    def get(self, key: bytes) -> bytes | None:
        with self.lock:
            value = self.items.get(key)
            if value is None:
                self.misses += 1
                return None
            self.items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: bytes, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return
        with self.lock:
            old = self.items.pop(key, None)
            self.bytes -= len(old) if old is not None else 0
            self.items[key] = value
            self.bytes += len(value)
            while self.bytes > self.max_bytes or len(self.items) > self.max_items:
                _, dropped = self.items.popitem(last=False)
                self.bytes -= len(dropped)
