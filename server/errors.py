"""Every error the API gives, in one shape: ``{"error": {"code", "message"}}`` with a 4xx status.

``ApiError`` is raised anywhere below a view; the handlers here turn it, Werkzeug's HTTP errors
(404, 405, 413, …) and any unexpected exception under /api/ into that JSON, never a traceback.
Pages outside /api/ keep Flask's ordinary HTML error pages.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

from .schema import dumps

# Werkzeug's HTTP errors under /api/ get a snake_case code instead of an HTML page.
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed",
              413: "request_too_large", 415: "unsupported_media_type"}


class ApiError(Exception):
    """A client mistake: HTTP ``status``, a stable snake_case ``code`` and a sentence for people."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_response(status: int, code: str, message: str, headers=None) -> Response:
    body = dumps({"error": {"code": code, "message": message}})
    return Response(body, status=status, mimetype="application/json", headers=headers)


def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.headers)


def _http_error(exc: HTTPException):
    if not request.path.startswith("/api/"):
        return exc
    code = HTTP_CODES.get(exc.code, "http_error")
    message = exc.description or exc.name
    if exc.code == 404:
        message = f"There is no API route {request.path}."
    elif exc.code == 405:
        allowed = ", ".join(sorted(m for m in (exc.valid_methods or []) if m != "OPTIONS"))
        message = f"{request.method} is not allowed on {request.path}; use {allowed}."
    elif exc.code == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"] // (1 << 20)
        message = f"The request body is larger than the {limit} MiB limit."
    headers = {"Allow": ", ".join(exc.valid_methods)} if exc.code == 405 and exc.valid_methods else None
    return error_response(exc.code or 500, code, message, headers)


def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if not request.path.startswith("/api/"):
        raise exc
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "Something went wrong on the server; it has been logged.")


def init_app(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
