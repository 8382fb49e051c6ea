"""What repeats is answered once: ETags and lifetimes on the static GET answers, and the bounded
in-process cache of /api/forward bodies."""
import pytest

from convscope.server import create_app
from convscope.server.caching import ForwardCache

DIGIT = {"image": [[0.0] * 8] + [[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]] * 6 + [[0.0] * 8]}


@pytest.fixture
def cached(test_config):
    return create_app({**test_config, "FORWARD_CACHE_BYTES": 1 << 20}).test_client()


@pytest.mark.parametrize("path", ["/api/model", "/api/model/layers/conv1/weights", "/api/samples",
                                  "/api/samples?include=images", "/api/samples/3"])
def test_static_answers_carry_an_etag_and_revalidate_to_304(client, path):
    first = client.get(path)
    assert first.status_code == 200 and first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"] and "max-age=600" in first.headers["Cache-Control"]
    again = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    stale = client.get(path, headers={"If-None-Match": '"not-it"'})
    assert stale.status_code == 200 and stale.data == first.data


def test_different_answers_have_different_etags(client):
    tags = {client.get(f"/api/samples/{i}").headers["ETag"] for i in range(5)}
    assert len(tags) == 5


def test_a_repeated_body_is_a_hit_with_the_same_answer(cached, client):
    first, second = cached.post("/api/forward", json=DIGIT), cached.post("/api/forward", json=DIGIT)
    assert first.headers["X-ConvScope-Cache"] == "miss" and second.headers["X-ConvScope-Cache"] == "hit"
    a, b = first.get_json(), second.get_json()
    assert set(b["timing_ms"]) == set(a["timing_ms"]) and b["timing_ms"]["trace"] == 0.0
    fresh = client.post("/api/forward", json=DIGIT).get_json()          # the cache off: computed anew
    for answer in (a, b):
        answer.pop("timing_ms")
    fresh.pop("timing_ms")
    assert a == b == fresh


def test_any_change_to_the_body_is_a_miss(cached):
    cached.post("/api/forward", json=DIGIT)
    for change in ({"encoding": "base64"}, {"steps": True}, {"preprocess": "none", "image": [[0.0] * 32] * 32}):
        r = cached.post("/api/forward", json={**DIGIT, **change})
        assert r.status_code == 200 and r.headers["X-ConvScope-Cache"] == "miss", change


def test_errors_and_uploads_are_never_cached(cached):
    import io

    from PIL import Image
    for _ in range(2):
        r = cached.post("/api/forward", json={"image": [[2.0]]})
        assert r.status_code == 400 and "X-ConvScope-Cache" not in r.headers
    buf = io.BytesIO()
    Image.new("L", (28, 28)).save(buf, format="PNG")
    for _ in range(2):   # a multipart body has a fresh boundary each time: never looked up
        r = cached.post("/api/forward", data={"file": (io.BytesIO(buf.getvalue()), "x.png")})
        assert r.status_code == 200 and r.headers["X-ConvScope-Cache"] == "off"


def test_a_cached_body_sent_compressed_is_still_refused(cached):
    import json
    assert cached.post("/api/forward", json=DIGIT).headers["X-ConvScope-Cache"] == "miss"
    r = cached.post("/api/forward", data=json.dumps(DIGIT), content_type="application/json",
                    headers={"Content-Encoding": "gzip"})
    assert r.status_code == 415 and r.get_json()["error"]["code"] == "unsupported_encoding"


def test_the_cache_is_bounded_by_bytes_and_count_and_drops_the_oldest():
    cache = ForwardCache(max_bytes=1000, max_items=3)
    for i in range(10):
        cache.put(bytes([i]), b"x" * 300)
        assert cache.bytes <= 1000 and len(cache.items) <= 3
    assert list(cache.items) == [bytes([7]), bytes([8]), bytes([9])]
    assert cache.get(bytes([7])) == b"x" * 300                     # touched: now the newest
    cache.put(b"new", b"y" * 300)
    assert bytes([8]) not in cache.items and bytes([7]) in cache.items
    cache.put(b"huge", b"z" * 2000)                                 # larger than the whole cache: not kept
    assert b"huge" not in cache.items and cache.bytes <= 1000
