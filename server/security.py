"""Security headers on every response.

The pages load only same-origin ES modules, styles and fetches, so neither scripts nor styles need
'unsafe-inline' (or 'unsafe-eval').  Plotly.js would insert <style> elements at load
(plotly/plotly.js#2355): the pages link the same rules as static/css/plotly.css, marked so that it
inserts none (scripts/make_plotly_css.py).  Code sets styles only through the CSSOM (element.style),
which the policy allows.  Canvases hand images around as data: and blob: URLs.
"""
from __future__ import annotations

from flask import Flask, Response

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


_MISSING = tuple((name.lower(), name, value) for name, value in HEADERS.items())


def _add_headers(response: Response) -> Response:
    """Each header unless the view set it already (one pass: Headers.setdefault scans per call)."""
    present = {name.lower() for name in response.headers.keys()}
    for lower, name, value in _MISSING:
        if lower not in present:
            response.headers.add(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
