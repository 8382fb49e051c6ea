"""Turn a request into options and an image array, or raise ApiError saying exactly what is wrong.

Bodies: JSON objects, or multipart forms (``file`` upload; other fields are JSON values or plain
strings; a ``params`` field may hold a JSON object of options).  Images: nested lists of numbers in
[0, 1], ``data:image/...;base64,`` URLs (what ``canvas.toDataURL()`` gives) or uploaded bytes.
Image bytes are opened with Pillow, their size checked before any pixel is decoded.
"""
from __future__ import annotations

import binascii
import io
from itertools import chain
import re
import warnings

import numpy as np
import orjson
from flask import Flask, Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from PIL import Image, UnidentifiedImageError

from .errors import ApiError

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,",
                      re.ASCII)
MIMES = {"image/png", "image/jpeg", "image/jpg", "image/gif", "image/bmp", "image/webp"}
EXIF_ORIENTATION = 0x0112
# EXIF orientation → the transpose that makes the pixels upright (the TIFF/EXIF specification).
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}


def body_limit() -> int:
    """The request's body limit: an uploaded model may be larger than any other body."""
    if request.method == "POST" and request.path == "/api/models":
        return current_app.config["UPLOAD_MAX_BYTES"]
    return current_app.config["MAX_CONTENT_LENGTH"]


def bound_unsized_body() -> None:
    """Refuse, with 413, a body sent without a Content-Length (chunked) that is over the limit.

    Werkzeug stops reading such a body at MAX_CONTENT_LENGTH without saying so, and a cut JSON
    body that happens to parse would be answered as if the client had sent only that part.  So
    read it here, up to one byte past the limit, and hand the routes the bytes as a sized body."""
    env = request.environ
    if request.content_length is not None or env.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
        return
    limit = body_limit()
    data = env["wsgi.input"].read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    env["wsgi.input"] = io.BytesIO(data)
    env["CONTENT_LENGTH"] = str(len(data))
    env.pop("HTTP_TRANSFER_ENCODING")
    env["wsgi.input_terminated"] = False


def init_app(app: Flask) -> None:
    app.before_request(raise_upload_limit)
    app.before_request(bound_unsized_body)


def raise_upload_limit() -> None:
    if request.method == "POST" and request.path == "/api/models":
        request.max_content_length = current_app.config["UPLOAD_MAX_BYTES"]
        request.max_form_memory_size = current_app.config["UPLOAD_MAX_BYTES"]


def _field_value(text: str):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def check_encoding(request: Request) -> None:
    """415 for a compressed body: bodies are read as sent (and cached by their bytes)."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise ApiError(415, "unsupported_encoding", f"Request bodies compressed with Content-Encoding "
                       f"{encoding!r} are not accepted; send the body uncompressed.")


def read_body(request: Request) -> tuple[dict, bytes | None]:
    """(options dict, uploaded file bytes or None)."""
    check_encoding(request)
    if request.mimetype == "multipart/form-data":
        fields = {k: _field_value(v) for k, v in request.form.items() if k != "params"}
        if "params" in request.form:
            params = _field_value(request.form["params"])
            if not isinstance(params, dict):
                raise ApiError(400, "wrong_type", "The 'params' form field must be a JSON object.")
            fields = {**params, **fields}
        upload = request.files.get("file")
        data = upload.read() if upload else None
        if upload is not None and not data:
            raise ApiError(400, "empty_file", "The uploaded file is empty.")
        return fields, data
    body = request.get_data(cache=False)
    if not body.strip():
        raise ApiError(400, "empty_body", "The request body is empty; send a JSON object or a multipart upload.")
    try:
        fields = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"The body is not valid JSON ({exc}).") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "wrong_type", "The JSON body must be an object, e.g. {\"image\": ...}.")
    return fields, None


def array_from_json(value, name: str, ndims=(2,), lo=0.0, hi=1.0) -> np.ndarray:
    """Nested lists of numbers → float32 array; ragged, non-numeric, non-finite, out of range → 400."""
    try:
        a = np.array(value)
    except (ValueError, TypeError):
        raise ApiError(400, "ragged_array", f"'{name}' is ragged: every row must have the same length.") from None
    if a.dtype == object and any(isinstance(v, list) for v in a.ravel()):
        raise ApiError(400, "ragged_array", f"'{name}' is ragged: every row must have the same length.")
    if a.dtype.kind not in "iuf" or _holds_bool(value, a.ndim):
        raise ApiError(400, "wrong_type", f"'{name}' must contain only numbers.")
    if a.ndim not in ndims or a.size == 0:
        dims = " or ".join(f"{d}-D" for d in ndims)
        raise ApiError(400, "bad_shape", f"'{name}' must be a non-empty {dims} array, got shape {list(a.shape)}.")
    with np.errstate(over="ignore"):     # beyond float32: becomes inf, reported just below
        a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise ApiError(400, "non_finite", f"'{name}' contains NaN or infinite values.")
    if lo is not None and (a.min() < lo or a.max() > hi):
        raise ApiError(400, "value_out_of_range", f"'{name}' values must lie in [{lo:g}, {hi:g}].")
    return a


def _holds_bool(value, ndim: int) -> bool:
    """Whether a nested list holds a JSON true/false anywhere: NumPy would quietly make it 1 or 0
    among numbers (while an all-boolean array is refused), so refuse it everywhere.  One C-level
    pass over the values (``map(type, …)``): about 25 ms for a 512×512 RGB image (half of what
    ``np.array`` takes on the same lists), 50 µs for 28×28."""
    flat = value
    for _ in range(ndim - 1):
        flat = chain.from_iterable(flat)
    return bool in set(map(type, flat))


def _check_size(w: int, h: int) -> None:
    side = current_app.config["MAX_IMAGE_SIDE"]
    if w > side or h > side:
        raise ApiError(400, "image_too_large", f"The image is {w}×{h}; the limit is {side}×{side} pixels.")


def decode_bytes(data: bytes) -> Image.Image:
    """Image bytes → a loaded Pillow image (first frame, EXIF orientation applied)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data), formats=FORMATS)
            _check_size(*im.size)
            im.load()
            return upright(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ApiError(400, "image_too_large", "The image expands to too many pixels to decode safely.") from None
        except UnidentifiedImageError:
            pass
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ApiError(400, "not_an_image", f"The image could not be decoded ({exc}).") from None
    try:
        other = Image.open(io.BytesIO(data)).format
    except Exception:
        other = None
    if other:
        raise ApiError(415, "unsupported_format", f"{other} images are not supported; use PNG, JPEG, GIF, BMP or WebP.")
    raise ApiError(400, "not_an_image", "The data is not an image Pillow can read (PNG, JPEG, GIF, BMP, WebP).")


def upright(im: Image.Image) -> Image.Image:
    """The pixels turned as the EXIF orientation says (1, absent or unreadable: as stored).

    Not ``ImageOps.exif_transpose``: it also rewrites the EXIF block, and a malformed tag elsewhere
    in it (a Make stored as a rational, a resolution as bytes: common from phones and editors) makes
    that raise AttributeError, TypeError, KeyError or struct.error.  Only the pixels matter here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Pillow warns about the corrupt tags it skips
        try:
            orientation = im.getexif().get(EXIF_ORIENTATION, 1)
        except Exception:  # noqa: BLE001  (any malformed EXIF block: keep the pixels as stored)
            orientation = 1
    method = UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return im.transpose(method) if method is not None else im


def decode_data_url(url: str) -> Image.Image:
    m = DATA_URL.match(url)
    if not m:
        raise ApiError(400, "invalid_data_url", "A string image must be a data URL: data:image/png;base64,...")
    mime = (m["mime"] or "").lower()
    if mime not in MIMES:
        raise ApiError(415, "unsupported_format", f"Data URLs of type '{mime or 'text/plain'}' are not supported; "
                       "use image/png or image/jpeg.")
    if not m["b64"]:
        raise ApiError(400, "invalid_data_url", "The data URL must be base64-encoded (';base64,').")
    try:
        data = binascii.a2b_base64(url[m.end():], strict_mode=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_data_url", "The data URL's base64 payload is malformed.") from None
    if not data:
        raise ApiError(400, "invalid_data_url", "The data URL carries no data.")
    return decode_bytes(data)


def pil_to_array(im: Image.Image, color: bool) -> np.ndarray:
    """Pillow image → uint8 (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA, or float32 for 16-bit/float."""
    if im.mode.startswith("I;16") or im.mode == "I":
        return np.clip(np.asarray(im, np.float32) / 65535, 0, 1)
    if im.mode == "F":
        return np.clip(np.asarray(im, np.float32), 0, 1)
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        return np.asarray(im.convert("RGBA"))
    if color and im.mode not in ("L", "1"):
        return np.asarray(im.convert("RGB"))
    return np.asarray(im.convert("L"))


def image_from(fields: dict, upload: bytes | None, color: bool = False):
    """The request's image as an array; ``color`` keeps RGB (kernel lab), else 2-D arrays only."""
    value = fields.get("image")
    if value is None:
        if upload is None:
            raise ApiError(400, "missing_field", "Send an image: JSON 'image' (array or data URL) or a 'file' upload.")
        return pil_to_array(decode_bytes(upload), color)
    if isinstance(value, str):
        return pil_to_array(decode_data_url(value), color)
    if isinstance(value, list):
        a = array_from_json(value, "image", ndims=(2, 3))
        if a.ndim == 3 and a.shape[-1] not in (3, 4):
            raise ApiError(400, "bad_shape", f"A 3-D image must be (H, W, 3) RGB or (H, W, 4) RGBA, got {list(a.shape)}.")
        _check_size(a.shape[1], a.shape[0])
        return a
    raise ApiError(400, "wrong_type", "'image' must be an array of rows or a data URL string.")
