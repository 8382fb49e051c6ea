"""Compressed answers (server/compress.py): what the browser asks for, the same bytes after decoding,
revalidation with the compressed ETag, and what is left as it is."""
from __future__ import annotations

import base64
import gzip
from pathlib import Path

import brotli
import numpy as np
import orjson
import plotly
import pytest

from convscope.server import create_app
from convscope.server.compress import Kept

PLOTLY = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress}


def decoded(response) -> bytes:
    encoding = response.headers.get("Content-Encoding")
    return DECODE[encoding](response.data) if encoding else response.data


@pytest.mark.parametrize("accept, expected", [
    ("gzip, deflate, br", "br"),
    ("gzip", "gzip"),
    ("br;q=0, gzip", "gzip"),
    ("gzip;q=0.5, br;q=0.9", "br"),
    ("identity", None),
    ("", None),
])
def test_the_encoding_is_what_the_browser_accepts(client, accept, expected):
    with client.get("/vendor/plotly.min.js", headers={"Accept-Encoding": accept}) as r:
        r.get_data()                               # an uncompressed file is read through, then closed
    assert r.status_code == 200
    assert r.headers.get("Content-Encoding") == expected
    assert "Accept-Encoding" in r.headers["Vary"]
    body = decoded(r)
    assert body == PLOTLY.read_bytes()
    if expected:
        assert len(r.data) < 0.35 * len(body)      # Plotly.js: 4.8 MB → about 1.2 (br) or 1.5 MB (gzip)
        assert int(r.headers["Content-Length"]) == len(r.data)
        assert "Accept-Ranges" not in r.headers


@pytest.mark.parametrize("url", ["/vendor/plotly.min.js", "/static/js/main.js", "/api/model",
                                 "/api/samples?include=images", "/api/model/layers/fc1/weights"])
def test_a_compressed_answer_revalidates_to_304_and_is_kept(app, url):
    client = app.test_client()
    first = client.get(url, headers={"Accept-Encoding": "br"})
    with client.get(url) as plain:
        plain.get_data()
    assert first.headers["Content-Encoding"] == "br" and "Content-Encoding" not in plain.headers
    assert decoded(first) == plain.data
    assert first.headers["ETag"] != plain.headers["ETag"]      # another representation, another tag
    again = client.get(url, headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # the compressed body was made once: the next one is the same object from the store
    kept = app.extensions["convscope.compressed"]
    assert any(k[0].startswith(url.split("?")[0]) and k[2] == "br" for k in kept.items)
    assert client.get(url, headers={"Accept-Encoding": "br"}).data == first.data


def test_a_forward_pass_is_compressed_per_request_with_the_same_numbers(client, samples):
    body = {"image": (samples.images[3] / 255.0).tolist(), "preprocess": "none"}
    packed = client.post("/api/forward", json=body, headers={"Accept-Encoding": "gzip, br"})
    plain = client.post("/api/forward", json=body)
    assert packed.headers["Content-Encoding"] == "br" and "ETag" not in packed.headers
    a, b = orjson.loads(decoded(packed)), orjson.loads(plain.data)
    a.pop("timing_ms"), b.pop("timing_ms")
    assert a == b
    assert len(packed.data) < len(plain.data) / 3


def test_small_answers_and_errors_are_sent_as_they_are(client):
    health = client.get("/api/health", headers={"Accept-Encoding": "br"})
    assert health.status_code == 200 and len(health.data) < 1024
    assert "Content-Encoding" not in health.headers
    missing = client.get("/api/model/layers/nope/weights", headers={"Accept-Encoding": "br"})
    assert missing.status_code == 404 and "Content-Encoding" not in missing.headers
    assert missing.get_json()["error"]["code"] == "unknown_layer"
    with client.get("/static/img/lab/scene.png", headers={"Accept-Encoding": "br"}) as png:
        png.get_data()
    assert png.status_code == 200 and "Content-Encoding" not in png.headers


def test_compression_can_be_turned_off(test_config):
    app = create_app({**test_config, "COMPRESS_RESPONSES": False})
    with app.test_client().get("/vendor/plotly.min.js", headers={"Accept-Encoding": "br, gzip"}) as r:
        r.get_data()
    assert "Content-Encoding" not in r.headers and r.data == PLOTLY.read_bytes()


def test_the_store_is_bounded():
    kept = Kept(max_bytes=10)
    for i in range(5):
        kept.put((str(i), "e", "br"), b"1234")
    assert kept.bytes <= 10 and len(kept.items) == 2
    assert kept.get(("4", "e", "br")) == b"1234" and kept.get(("0", "e", "br")) is None
    kept.put(("big", "e", "br"), b"x" * 11)                     # larger than the whole store
    assert kept.get(("big", "e", "br")) is None


@pytest.mark.parametrize("layer", ["conv1", "conv2", "fc1", "fc3"])
def test_packed_weights_are_the_same_float32_values(client, layer):
    nested = client.get(f"/api/model/layers/{layer}/weights").get_json()
    packed = client.get(f"/api/model/layers/{layer}/weights?encoding=base64").get_json()
    for key in ("weight", "bias"):
        p = packed[key]
        assert p["dtype"] == "float32" and p["shape"] == nested[key]["shape"]
        values = np.frombuffer(base64.b64decode(p["base64"]), "<f4").reshape(p["shape"])
        assert np.array_equal(values, np.array(nested[key]["data"], np.float32))
    assert packed["has_bias"] == nested["has_bias"] and packed["kind"] == nested["kind"]


def test_an_unknown_weights_encoding_is_a_400(client):
    r = client.get("/api/model/layers/fc1/weights?encoding=hex")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_encoding"
