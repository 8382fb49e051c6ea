"""The JSON API against docs/CONTRACTS.md: shapes, values and headers of every route."""
from __future__ import annotations

import base64
import io
import urllib.request

import numpy as np
import pytest
from PIL import Image

import convscope

LENET = [("input", "input", [1, 32, 32]), ("conv1", "conv", [6, 28, 28]), ("relu1", "relu", [6, 28, 28]),
         ("pool1", "maxpool", [6, 14, 14]), ("conv2", "conv", [16, 10, 10]), ("relu2", "relu", [16, 10, 10]),
         ("pool2", "maxpool", [16, 5, 5]), ("flatten", "flatten", [400]), ("fc1", "dense", [120]),
         ("relu3", "relu", [120]), ("fc2", "dense", [100]), ("relu4", "relu", [100]), ("fc3", "dense", [10]),
         ("softmax", "softmax", [10])]


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def data_url(array: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png(array)).decode()


def canvas(sample_u8: np.ndarray, scale: int = 10) -> np.ndarray:
    """A digit as the draw pad sends it: black ink on a transparent RGBA canvas."""
    big = np.asarray(Image.fromarray(sample_u8).resize((28 * scale, 28 * scale), Image.Resampling.BILINEAR))
    out = np.zeros(big.shape + (4,), np.uint8)
    out[..., 3] = big
    return out


def shape_of(nested) -> list[int]:
    shape = []
    while isinstance(nested, list):
        shape.append(len(nested))
        nested = nested[0]
    return shape


# ---- health, model, weights ----------------------------------------------------------------------
def test_health(client):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.get_json() == {"ok": True, "model": "lenet", "version": convscope.__version__}


def test_model_describes_every_layer(client):
    body = client.get("/api/model").get_json()
    assert body["name"] == "lenet" and body["input_shape"] == [1, 32, 32] and "card" in body
    assert [(la["name"], la["kind"], la["output_shape"]) for la in body["layers"]] == LENET
    for layer in body["layers"]:
        assert {"hyper", "input_shape", "params", "receptive_field", "op", "family", "window",
                "inputs"} <= set(layer)
        assert layer["family"] == ("map" if len(layer["output_shape"]) == 3 else "vector")
        assert (layer["window"] is None) == (layer["op"] not in ("conv", "pool"))
    assert [la["inputs"] for la in body["layers"]] == [[]] + [[la["name"]] for la in body["layers"][:-1]]
    assert [la["family"] for la in body["layers"] if la["name"] in ("relu2", "relu3", "relu4")] == \
        ["map", "vector", "vector"]
    pool1 = body["layers"][3]
    assert pool1["reduce"] == "max" and pool1["window"] == {"kernel": [2, 2], "stride": [2, 2],
                                                            "pad": [0, 0, 0, 0], "dilation": [1, 1]}
    conv1 = body["layers"][1]
    assert conv1["hyper"] == {"out_channels": 6, "kernel": [5, 5], "stride": [1, 1], "pad": [0, 0, 0, 0],
                              "dilation": [1, 1], "bias": True}
    assert conv1["connections"] == [[1]] * 6
    assert body["layers"][4]["connections"] == [[1] * 6] * 16


@pytest.mark.parametrize("name, params, size, jump", [
    ("conv1", 156, [5, 5], [1, 1]), ("pool1", 0, [6, 6], [2, 2]), ("conv2", 2416, [14, 14], [2, 2]),
    ("pool2", 0, [16, 16], [4, 4]), ("fc1", 48120, None, None), ("fc2", 12100, None, None), ("fc3", 1010, None, None)])
def test_model_params_and_receptive_fields(client, name, params, size, jump):
    layer = next(la for la in client.get("/api/model").get_json()["layers"] if la["name"] == name)
    assert layer["params"] == params
    if size:
        assert layer["receptive_field"] == {"size": size, "jump": jump, "offset": [0, 0]}


def test_model_query_names_the_default(client):
    assert client.get("/api/model?model=lenet").get_json()["name"] == "lenet"


@pytest.mark.parametrize("name, weight, bias", [
    ("conv1", [6, 1, 5, 5], [6]), ("conv2", [16, 6, 5, 5], [16]), ("fc1", [120, 400], [120]),
    ("fc2", [100, 120], [100]), ("fc3", [10, 100], [10])])
def test_layer_weights(app, client, name, weight, bias):
    body = client.get(f"/api/model/layers/{name}/weights").get_json()
    assert body["name"] == name and body["weight"]["shape"] == weight and body["bias"]["shape"] == bias
    assert shape_of(body["weight"]["data"]) == weight
    net = app.extensions["convscope"].get()
    np.testing.assert_array_equal(np.array(body["weight"]["data"], np.float32), net.layer_weights(name)["weight"])


# ---- forward ------------------------------------------------------------------------------------
def test_forward_returns_every_layer_as_its_shape_says(app, client, samples):
    r = client.post("/api/forward", json={"image": (samples.images[0] / 255).tolist()})
    assert r.status_code == 200
    body = r.get_json()
    assert body["model"] == "lenet" and body["empty"] is False and body["message"] is None
    assert body["input"]["shape"] == [1, 32, 32] and shape_of(body["input"]["data"]) == [1, 32, 32]
    assert [(la["name"], la["kind"], la["shape"]) for la in body["layers"]] == [tuple(x) for x in LENET[1:]]
    trace = app.extensions["convscope"].get().trace(np.array(body["input"]["data"], np.float32))
    for layer, act in zip(body["layers"], trace.activations[1:]):
        data = np.array(layer["data"], np.float32)
        assert list(data.shape) == layer["shape"]
        np.testing.assert_array_equal(data, act.data, err_msg=layer["name"])
        assert layer["min"] == pytest.approx(float(data.min())) and layer["max"] == pytest.approx(float(data.max()))
    probs = body["prediction"]["probabilities"]
    assert len(probs) == 10 and sum(probs) == pytest.approx(1, abs=1e-5)
    assert body["prediction"]["label"] == int(np.argmax(probs)) == trace.label
    assert set(body["timing_ms"]) == {"decode", "preprocess", "trace", "serialise", "total"}


@pytest.mark.parametrize("pool, source", [("pool1", "relu1"), ("pool2", "relu2")])
def test_maxpool_winners_point_at_the_maximum(client, samples, pool, source):
    body = client.post("/api/forward", json={"image": (samples.images[1] / 255).tolist()}).get_json()
    layers = {la["name"]: la for la in body["layers"]}
    out, src = np.array(layers[pool]["data"]), np.array(layers[source]["data"])
    winners = np.array(layers[pool]["winners"])
    assert winners.shape == out.shape
    c, h, w = src.shape
    picked = np.take_along_axis(src.reshape(c, h * w), winners.reshape(c, -1), axis=1).reshape(out.shape)
    np.testing.assert_array_equal(picked, out)
    iy, ix = winners // w, winners % w
    oy, ox = np.indices(out.shape[1:])
    assert ((iy // 2 == oy) & (ix // 2 == ox)).all()


def test_array_data_url_and_upload_give_the_same_answer(client, samples):
    img = canvas(samples.images[2])
    gray = np.asarray(Image.fromarray(img).convert("RGBA"))
    answers = [
        client.post("/api/forward", json={"image": data_url(img)}).get_json(),
        client.post("/api/forward", data={"file": (io.BytesIO(png(img)), "digit.png")},
                    content_type="multipart/form-data").get_json(),
        client.post("/api/forward", json={"image": (gray / 255.0).tolist()}).get_json(),
    ]
    for other in answers[1:]:
        np.testing.assert_allclose(other["input"]["data"], answers[0]["input"]["data"], atol=1e-5)
        np.testing.assert_allclose(other["prediction"]["probabilities"], answers[0]["prediction"]["probabilities"],
                                   atol=1e-4)


def test_forward_steps_on_white_paper(client, samples):
    paper = 255 - np.asarray(Image.fromarray(samples.images[3]).resize((84, 84)))
    body = client.post("/api/forward", json={"image": data_url(paper), "steps": True}).get_json()
    steps = body["steps"]
    assert [s["name"] for s in steps] == ["grayscale", "inverted", "crop", "fit", "center", "pad"]
    assert steps[0]["shape"] == [84, 84] and steps[-2]["shape"] == [28, 28] and steps[-1]["shape"] == [32, 32]
    assert max(steps[3]["shape"]) == 20
    for s in steps:
        assert shape_of(s["data"]) == s["shape"]
    np.testing.assert_array_equal(steps[-1]["data"], body["input"]["data"][0])


def test_steps_only_when_asked(client, samples):
    assert "steps" not in client.post("/api/forward", json={"image": data_url(samples.images[0])}).get_json()


def test_multipart_options(client, samples):
    r = client.post("/api/forward", data={"file": (io.BytesIO(png(samples.images[4])), "d.png"),
                                          "preprocess": "none", "steps": "true"}, content_type="multipart/form-data")
    body = r.get_json()
    assert r.status_code == 200 and [s["name"] for s in body["steps"]] == ["grayscale", "pad"]


def unpacked(packed: dict, dtype: str) -> np.ndarray:
    """A base64-encoded array of /api/forward → the NumPy array it packs (checked as it goes)."""
    assert set(packed) >= {"shape", "dtype", "base64"} and "data" not in packed
    assert packed["dtype"] == dtype
    raw = base64.b64decode(packed["base64"], validate=True)
    return np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).reshape(packed["shape"])


@pytest.mark.parametrize("as_form", [False, True], ids=["json", "multipart"])
def test_base64_encoding_packs_the_same_float32_values(client, samples, as_form):
    image = canvas(samples.images[6])
    options = {"steps": True}
    if as_form:
        plain = client.post("/api/forward", data={"file": (io.BytesIO(png(image)), "d.png"), "steps": "true"},
                            content_type="multipart/form-data").get_json()
        packed = client.post("/api/forward", data={"file": (io.BytesIO(png(image)), "d.png"), "steps": "true",
                                                   "encoding": "base64"}, content_type="multipart/form-data").get_json()
    else:
        plain = client.post("/api/forward", json={"image": data_url(image), **options}).get_json()
        packed = client.post("/api/forward", json={"image": data_url(image), **options, "encoding": "base64"}).get_json()
    assert list(packed) == list(plain)
    for key in ("model", "empty", "message", "prediction"):
        assert packed[key] == plain[key], key
    pairs = [("input", packed["input"], plain["input"])]
    pairs += [(f"step {a['name']}", a, b) for a, b in zip(packed["steps"], plain["steps"], strict=True)]
    pairs += [(a["name"], a, b) for a, b in zip(packed["layers"], plain["layers"], strict=True)]
    for what, a, b in pairs:
        values = unpacked(a, "float32")
        assert values.shape == tuple(b["shape"]) and a["shape"] == b["shape"], what
        np.testing.assert_array_equal(values, np.array(b["data"], np.float32), err_msg=what, strict=True)
        assert {k: v for k, v in a.items() if k not in ("dtype", "base64", "winners")} == \
               {k: v for k, v in b.items() if k not in ("data", "winners")}, what
        assert ("winners" in a) == ("winners" in b), what
        if "winners" in b:
            winners = unpacked(a["winners"], "int32")
            assert a["winners"]["shape"] == a["shape"]
            np.testing.assert_array_equal(winners, np.array(b["winners"], np.int32), err_msg=what, strict=True)


def test_base64_encoding_is_smaller_and_exact_for_awkward_values(client):
    image = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32) ** 3
    body = {"image": image.tolist(), "preprocess": "none"}
    plain, packed = (client.post("/api/forward", json={**body, "encoding": e}) for e in ("json", "base64"))
    assert plain.status_code == packed.status_code == 200
    assert len(packed.data) < 0.8 * len(plain.data)
    a, b = packed.get_json(), plain.get_json()
    np.testing.assert_array_equal(unpacked(a["input"], "float32")[0], image, strict=True)
    assert a["input"]["base64"] == base64.b64encode(image.astype("<f4").tobytes()).decode()
    assert b == client.post("/api/forward", json=body).get_json() | {"timing_ms": b["timing_ms"]}


@pytest.mark.parametrize("value", ["BASE64", "binary", None, 64, True])
def test_unknown_encoding_is_rejected(client, samples, value):
    r = client.post("/api/forward", json={"image": (samples.images[0] / 255).tolist(), "encoding": value})
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["code"] == "invalid_encoding" and "json" in error["message"] and "base64" in error["message"]


@pytest.mark.parametrize("size", [28, 32])
def test_preprocess_none_passes_the_image_through(client, samples, size):
    digit = samples.images[5] / np.float32(255)
    img = digit if size == 28 else np.pad(digit, 2)
    body = client.post("/api/forward", json={"image": img.tolist(), "preprocess": "none"}).get_json()
    np.testing.assert_allclose(body["input"]["data"][0], np.pad(digit, 2), atol=1e-7)


@pytest.mark.parametrize("image", [
    np.zeros((28, 28)).tolist(), np.ones((50, 80)).tolist(), np.full((10, 10), 0.5).tolist(),
    data_url(np.zeros((280, 280, 4), np.uint8)), data_url(np.full((64, 64, 3), 255, np.uint8))],
    ids=["black", "white", "grey", "transparent canvas", "white rgb"])
def test_blank_input_is_nothing_drawn(client, image):
    r = client.post("/api/forward", json={"image": image})
    body = r.get_json()
    assert r.status_code == 200 and body["empty"] is True and body["prediction"] is None
    assert "Nothing drawn" in body["message"]
    assert len(body["layers"]) == len(LENET) - 1


# ---- kernel lab ---------------------------------------------------------------------------------
def correlate_ref(img, k, stride, pad, dilation):
    """Plain cross-correlation of one (H, W) plane (the convolution CNNs use)."""
    p = np.pad(img, pad)
    kh = k.shape[0]
    span = dilation * (kh - 1) + 1
    ho = (p.shape[0] - span) // stride + 1
    wo = (p.shape[1] - span) // stride + 1
    out = np.zeros((ho, wo))
    for i in range(kh):
        for j in range(kh):
            out += k[i, j] * p[i * dilation: i * dilation + stride * (ho - 1) + 1: stride,
                               j * dilation: j * dilation + stride * (wo - 1) + 1: stride]
    return out


@pytest.mark.parametrize("k, stride, padding, dilation, pad, out", [
    (3, 1, "valid", 1, 0, 18), (3, 1, "same", 1, 1, 20), (5, 2, 2, 1, 2, 10), (3, 1, 0, 2, 0, 16),
    (3, 3, 1, 1, 1, 7), (11, 1, "valid", 1, 0, 10), (1, 1, "valid", 1, 0, 20)])
def test_convolve_matches_reference_and_formula(client, k, stride, padding, dilation, pad, out):
    rng = np.random.default_rng(k * 100 + stride)
    img, kernel = rng.random((20, 20)), rng.normal(size=(k, k))
    body = client.post("/api/convolve", json={"image": img.tolist(), "kernel": kernel.tolist(), "stride": stride,
                                              "padding": padding, "dilation": dilation}).get_json()
    assert body["possible"] is True and body["conv"]["shape"] == [1, out, out]
    ref = correlate_ref(img.astype(np.float32), kernel.astype(np.float32), stride, pad, dilation)
    np.testing.assert_allclose(body["conv"]["data"][0], ref, rtol=1e-4, atol=1e-4)
    f = body["formula"]["height"]
    assert (f["n"], f["k"], f["s"], f["d"], f["out"]) == (20, k, stride, dilation, out)
    assert f["text"].endswith(f"= {out}") and f"⌊(20 − {dilation}·({k} − 1) − 1" in f["text"]
    assert body["output"] == body["conv"] and body["activation"] is None and body["pool"] is None


def test_convolve_rgb_modes_activation_and_pool(client):
    rng = np.random.default_rng(1)
    rgb = rng.random((12, 16, 3))
    per = client.post("/api/convolve", json={"image": rgb.tolist(), "kernel": [[1, 0], [0, -1]],
                                             "activation": "relu", "pool": {"kind": "max", "size": 2}}).get_json()
    assert per["input"]["shape"] == [3, 12, 16] and per["conv"]["shape"] == [3, 11, 15]
    assert per["activation"]["min"] >= 0 and per["pool"]["shape"] == [3, 5, 7] and per["output"] == per["pool"]
    assert per["formula"]["pool"]["width"]["out"] == 7
    summed = client.post("/api/convolve", json={"image": rgb.tolist(), "mode": "sum",
                                                "kernel": [[[1.0]], [[1.0]], [[1.0]]]}).get_json()
    np.testing.assert_allclose(summed["conv"]["data"][0], rgb.sum(-1), rtol=1e-5)


@pytest.mark.parametrize("kind, expected", [("max", 4.0), ("avg", 2.5), ("l2", np.sqrt(30.0))])
def test_convolve_pool_kinds(client, kind, expected):
    body = client.post("/api/convolve", json={"image": [[0.1, 0.2], [0.3, 0.4]], "kernel": [[10]],
                                              "pool": {"kind": kind, "size": 2}}).get_json()
    assert body["output"]["data"][0][0][0] == pytest.approx(expected, rel=1e-5)


def test_convolve_impossible_is_explained_not_an_error(client):
    r = client.post("/api/convolve", json={"image": np.zeros((6, 6)).tolist(), "kernel": np.ones((5, 5)).tolist(),
                                           "dilation": 3})
    body = r.get_json()
    assert r.status_code == 200 and body["possible"] is False and body["output"] is None
    assert body["formula"]["height"]["out"] <= 0 and "padding" in body["explanation"]


def test_convolve_downscales_large_images_with_a_notice(client):
    url = data_url(np.zeros((300, 600, 3), np.uint8) + 128)
    body = client.post("/api/convolve", json={"image": url, "kernel": [[1]]}).get_json()
    assert body["notice"] == "downscaled from 600×300 to 512×256" and body["input"]["shape"] == [3, 256, 512]


def test_convolve_multipart_with_params(client):
    r = client.post("/api/convolve", content_type="multipart/form-data",
                    data={"file": (io.BytesIO(png(np.eye(8, dtype=np.uint8) * 255)), "eye.png"),
                          "params": '{"kernel": [[1, 1], [1, 1]], "stride": 2}'})
    body = r.get_json()
    assert r.status_code == 200 and body["conv"]["shape"] == [1, 4, 4]
    np.testing.assert_allclose(body["conv"]["data"][0], np.eye(4) * 2, atol=1e-6)


# ---- samples --------------------------------------------------------------------------------------
def test_samples_list(client, samples):
    body = client.get("/api/samples").get_json()
    assert body["count"] == len(samples) == len(body["samples"])
    assert [s["id"] for s in body["samples"]] == list(range(len(samples)))
    assert [s["label"] for s in body["samples"]] == samples.labels.tolist()
    assert [s["index"] for s in body["samples"]] == samples.indices.tolist()


@pytest.mark.parametrize("sample_id", [0, 17, -1])
def test_sample_image(client, samples, sample_id):
    sample_id %= len(samples)
    body = client.get(f"/api/samples/{sample_id}").get_json()
    assert body["id"] == sample_id and body["label"] == int(samples.labels[sample_id])
    assert body["image"]["shape"] == [28, 28]
    np.testing.assert_allclose(body["image"]["data"], samples.images[sample_id] / 255, atol=5e-5)


def test_samples_with_images(client, samples):
    body = client.get("/api/samples?include=images").get_json()
    assert all(s["image"]["shape"] == [28, 28] for s in body["samples"])


# ---- pages, vendor files, headers -----------------------------------------------------------------
@pytest.mark.parametrize("url, mimetype", [("/", "text/html"), ("/kernels", "text/html"),
                                           ("/api/health", "application/json"),
                                           ("/vendor/plotly.min.js", "text/javascript")])
def test_security_headers_everywhere(client, url, mimetype):
    with client.get(url) as r:
        check_headers(r, mimetype)


def check_headers(r, mimetype):
    assert r.status_code == 200 and r.mimetype == mimetype
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "img-src 'self' data: blob:" in csp
    assert "unsafe-inline" not in csp, "neither scripts nor styles may run inline"
    assert "style-src 'self'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_plotly_is_served_locally_with_long_cache(client):
    with client.get("/vendor/plotly.min.js") as r:
        assert r.status_code == 200 and b"plotly.js" in r.data[:200]
        assert "max-age=31536000" in r.headers["Cache-Control"] and "public" in r.headers["Cache-Control"]
        etag = r.headers["ETag"]
    with client.get("/vendor/plotly.min.js", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


@pytest.mark.parametrize("url, preloads_plotly", [("/", False), ("/kernels", True), ("/train", True)])
def test_only_pages_with_plotly_charts_preload_it(client, url, preloads_plotly):
    """The kernel lab's histogram and the training charts are Plotly's, so those pages fetch it from
    the start; the layer view draws its own chart and leaves Plotly.js (4.8 MB) to its evaluation view."""
    html = client.get(url).get_data(as_text=True)
    assert ('<link rel="preload" href="/vendor/plotly.min.js" as="script">' in html) == preloads_plotly


def test_live_server_answers(live_server):
    with urllib.request.urlopen(f"{live_server}/api/health", timeout=10) as r:
        assert r.status == 200 and b'"ok":true' in r.read()


def test_steps_of_a_large_upload_are_thumbnails_not_the_full_image(client):
    """A 4096×4096 PNG compresses to a few KB; its steps used to come back at full size (150 MB)."""
    a = np.zeros((4096, 4096), np.uint8)
    a[800:3300, 1800:2300] = 255                                  # a thick "1"
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", optimize=True)
    upload = buf.getvalue()
    assert len(upload) < 100_000
    r = client.post("/api/forward", data={"file": (io.BytesIO(upload), "one.png"), "steps": "true"})
    assert r.status_code == 200
    assert len(r.data) < 600_000                                   # bounded, whatever the upload's size
    body = r.get_json()
    steps = {s["name"]: s for s in body["steps"]}
    assert steps["grayscale"]["full_shape"] == [4096, 4096] and steps["grayscale"]["shape"] == [128, 128]
    gray = np.array(steps["grayscale"]["data"])
    assert gray[30:100, 58:70].mean() > 0.9 and gray[:20].max() == 0   # the stroke, where it is, downscaled
    assert steps["pad"]["shape"] == steps["pad"]["full_shape"] == [32, 32]
    assert np.array(steps["pad"]["data"]) == pytest.approx(np.array(body["input"]["data"][0]))
    assert max(max(s["shape"]) for s in body["steps"]) <= 128
