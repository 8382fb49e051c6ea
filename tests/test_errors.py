"""Bad input, row by row: each request gets its 4xx status and error code (never a traceback), and
the next good request still works."""
from __future__ import annotations

import base64
import gzip
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

GOOD = {"image": [[0.0] * 8, [0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]] + [[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]] * 6}


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def bomb_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width×height (a few bytes of 'pixels' follow)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def ico_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (16, 16)).save(buf, format="ICO")
    return buf.getvalue()


def tiff_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, format="TIFF")
    return buf.getvalue()


PNG = png_bytes(np.zeros((8, 8), np.uint8))
BIG_PNG = png_bytes(np.zeros((4100, 10), np.uint8))
LAB = {"image": [[0.0, 0.5, 1.0]] * 5}


def fwd(**body):
    return ("POST", "/api/forward", {"json": body})


def raw(data: bytes, url: str = "/api/forward", content_type: str = "application/json"):
    return ("POST", url, {"data": data, "content_type": content_type})


def form(url: str = "/api/forward", **fields):
    return ("POST", url, {"data": fields, "content_type": "multipart/form-data"})


def lab(**changes):
    return ("POST", "/api/convolve", {"json": {**LAB, "kernel": [[0, 1, 0], [1, -4, 1], [0, 1, 0]], **changes}})


CASES = [
    # (id, request, status, code)
    ("empty body", raw(b""), 400, "empty_body"),
    ("whitespace body", raw(b"  \n"), 400, "empty_body"),
    ("malformed json", raw(b'{"image": [[0,'), 400, "invalid_json"),
    ("json NaN literal", raw(b'{"image": [[NaN]]}'), 400, "invalid_json"),
    ("json 1e400", raw(b'{"image": [[1e400]]}'), 400, "invalid_json"),
    ("json array body", raw(b"[[0, 1]]"), 400, "wrong_type"),
    ("json string body", raw(b'"image"'), 400, "wrong_type"),
    ("gzip-encoded body", ("POST", "/api/forward", {"data": gzip.compress(b'{"image": [[0, 1]]}'),
                                                    "content_type": "application/json",
                                                    "headers": {"Content-Encoding": "gzip"}}), 415, "unsupported_encoding"),
    ("br-encoded lab body", ("POST", "/api/convolve", {"data": b"\x8b\x00", "content_type": "application/json",
                                                       "headers": {"Content-Encoding": "br"}}), 415, "unsupported_encoding"),
    ("tiff upload", form(file=(io.BytesIO(tiff_bytes()), "x.tif")), 415, "unsupported_format"),
    ("ico upload", form(file=(io.BytesIO(ico_bytes()), "x.ico")), 415, "unsupported_format"),
    ("form-encoded garbage", raw(b"image=1", content_type="application/x-www-form-urlencoded"), 400, "invalid_json"),
    ("no image", fwd(), 400, "missing_field"),
    ("image null", fwd(image=None), 400, "missing_field"),
    ("image number", fwd(image=5), 400, "wrong_type"),
    ("image object", fwd(image={"rows": []}), 400, "wrong_type"),
    ("ragged rows", fwd(image=[[0, 1], [0]]), 400, "ragged_array"),
    ("ragged deep", fwd(image=[[0, 1], [0, [1]]]), 400, "ragged_array"),
    ("string pixel", fwd(image=[[0, "a"]]), 400, "wrong_type"),
    ("null pixel", fwd(image=[[0, None]]), 400, "wrong_type"),
    ("bool pixels", fwd(image=[[True, False]]), 400, "wrong_type"),
    ("bool among float pixels", fwd(image=[[0, True, 0.5]]), 400, "wrong_type"),
    ("bool among int pixels", fwd(image=[[0, 1], [False, 1]]), 400, "wrong_type"),
    ("bool in an RGB pixel", fwd(image=[[[0, 0.5, True]]]), 400, "wrong_type"),
    ("bool among lab pixels", lab(image=[[0.0, 1.0, 0.5, True]] * 4), 400, "wrong_type"),
    ("bool in a kernel", lab(kernel=[[1, 0, -1], [2, False, -2], [1, 0, -1]]), 400, "wrong_type"),
    ("empty list", fwd(image=[]), 400, "bad_shape"),
    ("empty rows", fwd(image=[[]]), 400, "bad_shape"),
    ("1-D image", fwd(image=[0.1, 0.2]), 400, "bad_shape"),
    ("4-D image", fwd(image=[[[[0.0]]]]), 400, "bad_shape"),
    ("two channels", fwd(image=[[[0.0, 0.0]]]), 400, "bad_shape"),
    ("overflow to inf", fwd(image=[[1e39]]), 400, "non_finite"),
    ("above 1", fwd(image=[[1.5]]), 400, "value_out_of_range"),
    ("below 0", fwd(image=[[-0.1]]), 400, "value_out_of_range"),
    ("0..255 scale", fwd(image=[[255, 0]]), 400, "value_out_of_range"),
    ("too many rows", fwd(image=[[0.0]] * 4097), 400, "image_too_large"),
    ("not a data url", fwd(image="hello"), 400, "invalid_data_url"),
    ("text data url", fwd(image="data:text/plain;base64,aGVsbG8="), 415, "unsupported_format"),
    ("svg data url", fwd(image=data_url(b"<svg/>", "image/svg+xml")), 415, "unsupported_format"),
    ("data url not base64", fwd(image="data:image/png,abc"), 400, "invalid_data_url"),
    ("data url bad base64", fwd(image="data:image/png;base64,@@@@"), 400, "invalid_data_url"),
    ("data url no data", fwd(image="data:image/png;base64,"), 400, "invalid_data_url"),
    ("data url non-image bytes", fwd(image=data_url(b"hello, world")), 400, "not_an_image"),
    ("data url tiff", fwd(image=data_url(tiff_bytes())), 415, "unsupported_format"),
    ("data url truncated png", fwd(image=data_url(PNG[:40])), 400, "not_an_image"),
    ("decompression bomb", fwd(image=data_url(bomb_png(100_000, 100_000))), 400, "image_too_large"),
    ("image over side limit", fwd(image=data_url(BIG_PNG)), 400, "image_too_large"),
    ("upload non-image", form(file=(io.BytesIO(b"%PDF-1.4 not an image"), "x.pdf")), 400, "not_an_image"),
    ("upload tiff", form(file=(io.BytesIO(tiff_bytes()), "x.tif")), 415, "unsupported_format"),
    ("upload empty file", form(file=(io.BytesIO(b""), "x.png")), 400, "empty_file"),
    ("form without file", form(preprocess="mnist"), 400, "missing_field"),
    ("form params not object", form(params="[1]", file=(io.BytesIO(PNG), "x.png")), 400, "wrong_type"),
    ("unknown preprocess", fwd(image=GOOD["image"], preprocess="fancy"), 400, "invalid_preprocess"),
    ("steps not bool", fwd(image=GOOD["image"], steps="yes"), 400, "wrong_type"),
    ("unknown model", fwd(image=GOOD["image"], model="resnet"), 404, "unknown_model"),
    ("none needs 28 or 32", fwd(image=GOOD["image"], preprocess="none"), 400, "bad_image_size"),
    ("body over 8 MiB", raw(b'{"image": "' + b"A" * (9 << 20) + b'"}'), 413, "request_too_large"),
    ("GET forward", ("GET", "/api/forward", {}), 405, "method_not_allowed"),
    ("PUT convolve", ("PUT", "/api/convolve", {"json": LAB}), 405, "method_not_allowed"),
    ("DELETE model", ("DELETE", "/api/model", {}), 405, "method_not_allowed"),
    ("POST samples", ("POST", "/api/samples", {}), 405, "method_not_allowed"),
    ("unknown route", ("GET", "/api/nope", {}), 404, "not_found"),
    ("unknown nested route", ("GET", "/api/model/layers", {}), 404, "not_found"),
    ("unknown layer", ("GET", "/api/model/layers/conv9/weights", {}), 404, "unknown_layer"),
    ("layer without weights", ("GET", "/api/model/layers/relu1/weights", {}), 404, "no_weights"),
    ("unknown model name", ("GET", "/api/model?model=nope", {}), 404, "unknown_model"),
    ("weights of unknown model", ("GET", "/api/model/layers/conv1/weights?model=nope", {}), 404, "unknown_model"),
    ("sample out of range", ("GET", "/api/samples/100000", {}), 404, "unknown_sample"),
    ("negative sample", ("GET", "/api/samples/-1", {}), 404, "unknown_sample"),
    ("sample not a number", ("GET", "/api/samples/seven", {}), 404, "not_found"),
    ("samples include", ("GET", "/api/samples?include=all", {}), 400, "invalid_include"),
    # the kernel lab
    ("lab no kernel", ("POST", "/api/convolve", {"json": LAB}), 400, "missing_field"),
    ("lab no image", ("POST", "/api/convolve", {"json": {"kernel": [[1]]}}), 400, "missing_field"),
    ("kernel 12x12", lab(kernel=[[0.0] * 12] * 12), 400, "kernel_too_large"),
    ("kernel 3x5", lab(kernel=[[0.0] * 5] * 3), 400, "kernel_not_square"),
    ("kernel string", lab(kernel="sobel"), 400, "wrong_type"),
    ("kernel ragged", lab(kernel=[[1, 2], [3]]), 400, "ragged_array"),
    ("kernel inf", lab(kernel=[[1e39]]), 400, "non_finite"),
    ("kernel huge value", lab(kernel=[[1e7]]), 400, "value_out_of_range"),
    ("kernel 1-D", lab(kernel=[1, 2, 3]), 400, "bad_shape"),
    ("kernel channels", lab(kernel=[[[1.0]], [[1.0]]]), 400, "kernel_channels_mismatch"),
    ("stride 0", lab(stride=0), 400, "invalid_stride"),
    ("stride -1", lab(stride=-1), 400, "invalid_stride"),
    ("stride 1.5", lab(stride=1.5), 400, "invalid_stride"),
    ("stride pair with 0", lab(stride=[1, 0]), 400, "invalid_stride"),
    ("stride 17", lab(stride=17), 400, "invalid_stride"),
    ("dilation 0", lab(dilation=0), 400, "invalid_dilation"),
    ("dilation 9", lab(dilation=9), 400, "invalid_dilation"),
    ("dilation bool", lab(dilation=True), 400, "invalid_dilation"),
    ("padding 17", lab(padding=17), 400, "invalid_padding"),
    ("padding -1", lab(padding=-1), 400, "invalid_padding"),
    ("padding full", lab(padding="full"), 400, "invalid_padding"),
    ("padding 3 values", lab(padding=[1, 2, 3]), 400, "invalid_padding"),
    ("activation swish", lab(activation="swish"), 400, "invalid_activation"),
    ("pool median", lab(pool={"kind": "median"}), 400, "invalid_pool"),
    ("pool string", lab(pool="max"), 400, "invalid_pool"),
    ("pool size 0", lab(pool={"kind": "max", "size": 0}), 400, "invalid_pool_size"),
    ("pool stride 99", lab(pool={"kind": "avg", "size": 2, "stride": 99}), 400, "invalid_pool_stride"),
    ("mode unknown", lab(mode="fft"), 400, "invalid_mode"),
    ("bias string", lab(bias="1"), 400, "invalid_bias"),
    ("lab 5 channels", lab(image=[[[0.0] * 5] * 3] * 3), 400, "bad_shape"),
    ("lab out of range", lab(image=[[2.0, 0.0]]), 400, "value_out_of_range"),
    ("lab body not json", raw(b"kernel", url="/api/convolve"), 400, "invalid_json"),
]


@pytest.mark.parametrize("request_, status, code", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_request_gets_json_error_then_good_request_works(client, request_, status, code):
    method, url, kwargs = request_
    r = client.open(url, method=method, **kwargs)
    assert r.status_code == status, r.data[:300]
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    assert body["error"]["message"] and "Traceback" not in body["error"]["message"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    good = client.post("/api/forward", json=GOOD)
    assert good.status_code == 200 and good.get_json()["prediction"] is not None


def test_there_are_at_least_fifty_cases():
    assert len(CASES) >= 50


def test_method_not_allowed_lists_allowed_methods(client):
    r = client.get("/api/convolve")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]


def test_unexpected_exception_is_500_json_without_traceback(app, caplog):
    def boom():
        raise RuntimeError("secret internals")
    app.add_url_rule("/api/boom", "boom", boom)
    r = app.test_client().get("/api/boom")
    assert r.status_code == 500
    assert r.get_json() == {"error": {"code": "internal_error",
                                      "message": "Something went wrong on the server; it has been logged."}}
    assert b"secret internals" not in r.data
    assert "secret internals" in caplog.text


def test_pages_keep_html_404(client):
    r = client.get("/no-such-page")
    assert r.status_code == 404 and r.mimetype == "text/html"


# ---- photos with a malformed EXIF block: upright, never a 500 ----------------------------------------
def exif_block(orientation: int, bad_tag: tuple[int, int]) -> bytes:
    """A little-endian TIFF/EXIF block: the orientation, plus one tag stored with a type its
    meaning does not allow (``bad_tag`` = (tag, type)), as phone and editor software writes."""
    tag, typ = bad_tag
    entries = [(0x0112, 3, 1, struct.pack("<HH", orientation, 0)), (tag, typ, 1, struct.pack("<I", 38))]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHI", *e[:3]) + e[3] for e in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x00\x00\x00\x01" * 8


def photo(fmt: str, bad_tag) -> bytes:
    """8 wide × 4 high, ink in the top-left corner, EXIF orientation 6 (turn 90° clockwise)."""
    a = np.zeros((4, 8), np.uint8)
    a[0, 0] = 255
    buf = io.BytesIO()
    block = exif_block(6, bad_tag)
    Image.fromarray(a).save(buf, format=fmt, exif=b"Exif\x00\x00" + block if fmt == "JPEG" else block,
                            **({"lossless": True} if fmt == "WEBP" else {}))
    return buf.getvalue()


BAD_TAGS = [(0x010F, 5), (0x011A, 1)]   # Make as a rational; XResolution as bytes


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("bad_tag", BAD_TAGS)
def test_malformed_exif_is_upright_not_a_500(client, fmt, bad_tag):
    data = photo(fmt, bad_tag)   # Pillow 11/12's ImageOps.exif_transpose raises on these (AttributeError, TypeError)
    mime = f"image/{fmt.lower()}"
    lab = client.post("/api/convolve", data={"file": (io.BytesIO(data), f"p.{fmt.lower()}", mime),
                                              "params": '{"kernel": [[1]]}'})
    assert lab.status_code == 200, lab.get_json()
    body = lab.get_json()
    assert body["input"]["shape"][1:] == [8, 4]           # turned upright: 4 wide, 8 high
    plane = np.array(body["input"]["data"][0])
    assert plane[0, -1] > 0.5 and plane.sum() < 2         # top-left ink is now top-right (90° clockwise)
    r = client.post("/api/forward", data={"file": (io.BytesIO(data), f"p.{fmt.lower()}", mime)})
    assert r.status_code == 200 and r.get_json()["prediction"] is not None
    r = client.post("/api/forward", json={"image": data_url(data, mime), "preprocess": "none"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] != "internal_error"   # not 32×32: said so
    good = client.post("/api/forward", json=GOOD)
    assert good.status_code == 200


# ---- a chunked body (no Content-Length) over the limit: 413, never silently cut -----------------------
def post_chunked(base_url: str, path: str, body: bytes, content_type="application/json"):
    import http.client
    from urllib.parse import urlparse
    url = urlparse(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", content_type)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    for i in range(0, len(body), 1 << 16):
        part = body[i:i + (1 << 16)]
        conn.send(b"%x\r\n%s\r\n" % (len(part), part))
    conn.send(b"0\r\n\r\n")
    r = conn.getresponse()
    status, data = r.status, r.read()
    conn.close()
    return status, data


def test_chunked_body_over_the_limit_is_413(live_server):
    import json
    good = json.dumps(GOOD).encode()
    limit = 8 << 20
    status, data = post_chunked(live_server, "/api/forward", good)
    assert status == 200 and json.loads(data)["prediction"] is not None
    # A body whose first 8 MiB parse as a good request: it must not be answered as one.
    for body in (good + b" " * (limit + 10 - len(good)),
                 b'{"image": ' + json.dumps(GOOD["image"]).encode() + b', "pad": "' + b"x" * limit + b'"}'):
        status, data = post_chunked(live_server, "/api/forward", body)
        assert status == 413 and json.loads(data)["error"]["code"] == "request_too_large"
    status, data = post_chunked(live_server, "/api/convolve", b"-" * (limit + 1), "multipart/form-data; boundary=-")
    assert status == 413
    status, data = post_chunked(live_server, "/api/forward", good + b" " * (limit - len(good)))   # exactly the limit
    assert status == 200


# ---- every format Pillow opens that we accept decodes to the same digit -------------------------------
def digit_in(mode: str, fmt: str, **save) -> bytes:
    a = np.zeros((28, 28), np.uint8)
    a[4:24, 12:16] = 255
    im = Image.fromarray(a.astype(np.uint16) * 257) if mode == "I;16" else Image.fromarray(a).convert(mode)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **save)
    return buf.getvalue()


@pytest.mark.parametrize("mode, fmt, save", [
    ("L", "GIF", {"save_all": True, "append_images": [Image.new("L", (28, 28), 255)]}),   # animated: frame 1
    ("I;16", "PNG", {}), ("P", "PNG", {}), ("LA", "PNG", {}), ("RGBA", "PNG", {}), ("1", "PNG", {}),
    ("CMYK", "JPEG", {}), ("RGB", "JPEG", {"progressive": True}), ("RGB", "WEBP", {"lossless": True}),
    ("L", "BMP", {}),
])
def test_every_accepted_format_reads_the_same_digit(client, mode, fmt, save):
    reference = client.post("/api/forward", data={"file": (io.BytesIO(digit_in("L", "PNG")), "d.png")}).get_json()
    r = client.post("/api/forward", data={"file": (io.BytesIO(digit_in(mode, fmt, **save)), "d")})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["prediction"]["label"] == reference["prediction"]["label"]
    got, want = np.ravel(body["input"]["data"]), np.ravel(reference["input"]["data"])
    if fmt == "JPEG":   # lossy: ringing grows the ink's bounding box, so the fit scales it a little less
        assert np.corrcoef(got, want)[0, 1] > 0.6    # same digit, same place (an inverted one is < 0)
    else:
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("path", ["/static/../server/api.py", "/static/%2e%2e/server/api.py",
                                  "/static/..%2fserver%2fapi.py", "/static/js/../../models/lenet.npz",
                                  "/vendor/../api/health", "/static/js/%00.js"])
def test_path_tricks_on_static_routes_reach_nothing_outside(client, path):
    r = client.get(path)
    assert r.status_code in (404, 400) and b"def " not in r.data and b"PK" not in r.data[:2]


def test_unknown_keys_and_query_parameters_are_ignored_on_every_route(client):
    """The contract (docs/CONTRACTS.md): unknown JSON keys and query parameters are ignored, alike
    on every route; a known key with a wrong value is always an error."""
    fwd = client.post("/api/forward?colour=red", json={**GOOD, "colour": "red"})
    assert fwd.status_code == 200
    lab = client.post("/api/convolve?x=1", json={**LAB, "kernel": [[1]], "colour": "red"})
    assert lab.status_code == 200
    assert client.get("/api/model?colour=red").status_code == 200
    assert client.get("/api/samples?colour=red").status_code == 200


# ---- every option of every POST route, given a value of the wrong type or range ------------------------
WRONG_VALUES = {"float": 3.5, "negative": -1, "huge": 10**9, "word": "x", "empty string": "", "empty list": [],
                "object": {}, "three numbers": [1, 2, 3], "nested list": [[1]], "true": True, "false": False,
                "NaN as a string": "NaN", "null": None}
OPTIONS = {"/api/forward": (GOOD, ["preprocess", "steps", "encoding", "model"]),
           "/api/convolve": ({**LAB, "kernel": [[1]]}, ["kernel", "stride", "padding", "dilation", "mode", "bias",
                                                         "activation", "pool", "echo_input", "echo_output",
                                                         "encoding", "pool.kind",
                                                         "pool.size", "pool.stride"])}
# The values among WRONG_VALUES that the contract (docs/CONTRACTS.md) makes valid for an option:
# null means "the default" for the optional ones; flags take booleans; a bias is any finite number;
# a kernel is any square matrix; {} is a pool with its defaults (2×2 max).
VALID = {("/api/forward", "steps"): {"true", "false"}, ("/api/forward", "model"): {"null"},
         ("/api/convolve", "kernel"): {"nested list"}, ("/api/convolve", "bias"): {"float", "negative"},
         ("/api/convolve", "activation"): {"null"}, ("/api/convolve", "pool"): {"object", "null"},
         ("/api/convolve", "echo_input"): {"true", "false"}, ("/api/convolve", "echo_output"): {"true", "false"},
         ("/api/convolve", "pool.stride"): {"null"}}
WRONG_CASES = [(route, option, name) for route, (_, options) in OPTIONS.items() for option in options
               for name in WRONG_VALUES if name not in VALID.get((route, option), ())]


@pytest.mark.parametrize("route, option, value_name", WRONG_CASES)
def test_a_wrong_value_for_any_option_is_a_4xx_naming_it(client, route, option, value_name):
    base, _ = OPTIONS[route]
    body, value = dict(base), WRONG_VALUES[value_name]
    if option.startswith("pool."):
        body["pool"] = {"kind": "max", "size": 2, option.split(".")[1]: value}
    else:
        body[option] = value
    r = client.post(route, json=body)
    assert 400 <= r.status_code < 500, (option, value, r.get_json())
    error = r.get_json()["error"]
    name = option.split(".")[-1]
    assert name in error["message"] or name.replace("_", " ") in error["message"], error
    assert "Traceback" not in error["message"]
    assert client.post(route, json=base).status_code == 200


def test_the_bad_input_table_has_at_least_250_cases():
    assert len(CASES) + len(WRONG_CASES) >= 250
