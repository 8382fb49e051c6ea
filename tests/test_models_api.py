"""Several models in one server: /api/models, the model picker's contract, imported ONNX models
through /api/model and /api/forward (compared with PyTorch, which exported them), the
preprocessing a model's card asks for, ``convscope import`` and ``--model NAME=PATH``."""
import base64
import io
import json
import warnings

import numpy as np
import pytest
from PIL import Image

from convscope.server import cli, create_app
from convscope.server.registry import ModelLoadError

torch = pytest.importorskip("torch", reason="PyTorch exports the models (scripts/test.sh installs it)")
nn = torch.nn


def _export(model, shape, path):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), torch.rand(1, *shape), str(path), dynamo=False, opset_version=13, do_constant_folding=False,
                          input_names=["x"], dynamic_axes={"x": {0: "n"}})
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(3)
    gray = nn.Sequential(nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, stride=2, padding=1),
                         nn.Tanh(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    rgb = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AvgPool2d(2),
                        nn.Conv2d(6, 12, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(12, 5),
                        nn.Softmax(dim=1))
    return {"gray": (_export(gray, (1, 28, 28), d / "gray28.onnx"), d / "gray28.onnx"),
            "rgb": (_export(rgb, (3, 24, 24), d / "colour.onnx"), d / "colour.onnx")}


@pytest.fixture(scope="module")
def client(exported):
    app = create_app({"TESTING": True, "WARM_JIT": False, "WARM_LAB": False, "FORWARD_CACHE_BYTES": 0,
                      "MODEL_PATHS": _paths(exported)})
    return app.test_client()


def _paths(exported):
    from convscope.server.registry import default_model_paths
    return [*map(str, default_model_paths()), f"digits={exported['gray'][1]}", str(exported["rgb"][1])]


def test_models_lists_every_model_with_its_input_and_preprocessing(client):
    body = client.get("/api/models").get_json()
    by = {m["name"]: m for m in body["models"]}
    assert list(by) == ["lenet", "lenet5-classic", "lenet-fashion", "digits", "colour"] and body["default"] == "lenet"
    assert by["lenet"]["default"] is True and by["digits"]["default"] is False
    assert by["lenet"]["input"]["shape"] == [1, 32, 32] and by["lenet"]["preprocess"] == "mnist"
    assert by["digits"]["input"]["shape"] == [1, 28, 28] and by["digits"]["preprocess"] == "mnist"
    assert by["colour"]["input"]["shape"] == [3, 24, 24] and by["colour"]["preprocess"] == "resize"
    assert by["colour"]["source"] == "onnx" and by["colour"]["card"]["source"]["opset"] == 13
    assert by["lenet5-classic"]["accuracy"] >= 0.99 and by["lenet"]["accuracy"] >= 0.99
    assert by["lenet"]["parameters"] == 63802 and by["colour"]["classes"] == 5
    assert by["lenet-fashion"]["preprocess"] == "frame" and by["lenet-fashion"]["accuracy"] >= 0.90


def test_a_fashion_model_gets_fashion_samples_and_reads_them_as_its_test_set(client):
    """The gallery of a Fashion-MNIST model is Fashion-MNIST's; its own test images through the
    page's path (the samples' rows with its "frame" preprocessing) are mostly read right."""
    import numpy as np
    mnist_first = client.get("/api/samples/0").get_json()
    fashion = client.get("/api/samples?include=images&model=lenet-fashion").get_json()
    assert fashion["count"] == 300 and fashion["samples"][0]["image"] != mnist_first["image"]
    assert sorted({s["label"] for s in fashion["samples"]}) == list(range(10))
    right = 0
    for s in fashion["samples"][::10]:
        r = client.post("/api/forward", json={"model": "lenet-fashion", "image": s["image"]["data"]}).get_json()
        right += r["prediction"]["label"] == s["label"]
    assert right >= 24   # of 30: the model scores 90.5 % on the whole test set
    one = client.get("/api/samples/3?model=lenet-fashion").get_json()
    assert one["label"] == fashion["samples"][3]["label"]
    # "frame" keeps a 28×28 image whole and pads it by 2: the network reads exactly the sample
    from convscope.server.preprocess import frame
    img = np.array(fashion["samples"][3]["image"]["data"], np.float32)
    x = frame(img).x
    np.testing.assert_allclose(x[0, 2:30, 2:30], img, atol=2e-3)
    assert np.abs(x[0, :2]).max() == 0


def test_model_and_weights_take_the_name(client):
    body = client.get("/api/model?model=colour").get_json()
    kinds = [la["kind"] for la in body["layers"]]
    assert kinds == ["input", "conv", "batchnorm", "relu", "avgpool", "conv", "relu", "global_avgpool",
                     "flatten", "dense", "softmax"]
    bn = body["layers"][2]
    assert bn["op"] == "affine" and [s["op"] for s in bn["steps"]] == ["sub", "div", "mul", "add"]
    assert len(bn["steps"][0]["values"]) == 6 and bn["params"] == 12
    # conv2's units see 8×8 (3, then 4 after the pool, then 4 + 2·2) with jump 2; the global pool
    # spans its 10×10 map: 8 + 2·(10 − 1) = 26, from −1 (the first conv's padding) to 24
    rf = body["layers"][7]["receptive_field"]
    assert rf["size"] == [26, 26] and rf["offset"] == [-1, -1]
    w = client.get("/api/model/layers/conv1/weights?model=colour").get_json()
    assert w["weight"]["shape"] == [6, 3, 3, 3] and w["has_bias"] is True
    assert client.get("/api/model?model=nope").status_code == 404


def _torch_out(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x[None])).numpy()[0]


def test_forward_on_an_imported_gray_model_equals_pytorch(client, exported):
    model, _ = exported["gray"]
    x = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    body = client.post("/api/forward", json={"model": "digits", "image": x.tolist(), "preprocess": "none"}).get_json()
    assert body["model"] == "digits" and np.asarray(body["input"]["data"]).shape == (1, 28, 28)
    assert body["layers"][-1]["kind"] == "softmax"   # added at import: the graph ends at its logits
    logits = np.asarray(body["layers"][-2]["data"], np.float32)
    out = _torch_out(model, x[None])
    np.testing.assert_allclose(logits, out, rtol=1e-5, atol=1e-5)
    assert body["prediction"]["label"] == int(out.argmax())
    e = np.exp(out - out.max())
    np.testing.assert_allclose(body["prediction"]["probabilities"], e / e.sum(), rtol=1e-5, atol=1e-6)


def test_forward_draws_with_the_models_own_size(client):
    """The MNIST path centres the digit in 28×28 and, for a 28×28 model, stops there."""
    canvas = np.zeros((280, 280), np.uint8)
    canvas[60:220, 130:150] = 255
    png = io.BytesIO()
    Image.fromarray(canvas).save(png, "PNG")
    url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    body = client.post("/api/forward", json={"model": "digits", "image": url}).get_json()
    x = np.asarray(body["input"]["data"])
    assert x.shape == (1, 28, 28) and 0.9 < x.max() <= 1.0
    cy, cx = np.argwhere(x[0] > 0.5).mean(0)
    assert abs(cy - 13.5) < 1.5 and abs(cx - 13.5) < 1.5
    lenet = client.post("/api/forward", json={"image": url}).get_json()
    np.testing.assert_allclose(np.asarray(lenet["input"]["data"])[0, 2:30, 2:30], x[0], atol=1e-6)


def test_forward_on_an_rgb_model_equals_pytorch(client, exported):
    model, _ = exported["rgb"]
    img = np.random.default_rng(1).random((24, 24, 3), dtype=np.float32)
    body = client.post("/api/forward", json={"model": "colour", "image": img.tolist(), "preprocess": "none"}).get_json()
    x = np.moveaxis(img, -1, 0)
    np.testing.assert_allclose(np.asarray(body["input"]["data"]), x, atol=1e-7)
    out = _torch_out(model, x)
    np.testing.assert_allclose(body["prediction"]["probabilities"], out, rtol=1e-5, atol=1e-6)
    # the card's default (resize) fits any image to 24×24 RGB
    big = (np.random.default_rng(2).random((90, 60, 3)) * 255).astype(np.uint8)
    png = io.BytesIO()
    Image.fromarray(big).save(png, "PNG")
    url = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    resized = client.post("/api/forward", json={"model": "colour", "image": url}).get_json()
    assert np.asarray(resized["input"]["data"]).shape == (3, 24, 24) and resized["prediction"] is not None


@pytest.mark.parametrize("payload, status, code, words", [
    ({"model": "colour", "image": np.zeros((10, 10, 3)).tolist(), "preprocess": "none"}, 400, "bad_image_size",
     "must be 24×24 RGB, not 10×10"),
    ({"model": "digits", "image": np.zeros((32, 32)).tolist(), "preprocess": "none"}, 400, "bad_image_size",
     "must be 28×28, not 32×32"),
    ({"model": "colour", "image": np.zeros((24, 24)).tolist(), "preprocess": "mnist"}, 400, "wrong_preprocess",
     "3-channel images"),
    ({"model": "ghost", "image": np.zeros((28, 28)).tolist()}, 404, "unknown_model", "available: colour, digits"),
])
def test_forward_refuses_what_a_model_cannot_read(client, payload, status, code, words):
    r = client.post("/api/forward", json=payload)
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == code and words in err["message"]


def test_a_name_clash_is_refused_and_names_both(exported):
    path = str(exported["gray"][1])
    with pytest.raises(ModelLoadError, match="two models are named 'x'.*NAME=PATH"):
        create_app({"TESTING": True, "WARM_JIT": False, "WARM_LAB": False, "MODEL_PATHS": [f"x={path}", f"x={path}"]})
    with pytest.raises(ModelLoadError, match="a model name is 1–64 letters"):
        create_app({"TESTING": True, "WARM_JIT": False, "WARM_LAB": False, "MODEL_PATHS": [f"no/slash={path}"]})


def test_a_bad_onnx_file_beside_good_ones_is_skipped_unless_strict(tmp_path, exported):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(exported["gray"][1].read_bytes()[:500])
    app = create_app({"TESTING": True, "WARM_JIT": False, "WARM_LAB": False, "MODEL_STRICT": False,
                      "MODEL_PATHS": [str(exported["gray"][1]), str(bad)]})
    reg = app.extensions["convscope"]
    assert list(reg.models) == ["gray28"] and "broken.onnx" in reg.skipped[0]
    with pytest.raises(ModelLoadError, match="cannot read model .*broken.onnx"):
        create_app({"TESTING": True, "WARM_JIT": False, "WARM_LAB": False, "MODEL_PATHS": [str(bad)]})


def test_import_command_writes_the_model_and_its_card(tmp_path, exported, capsys):
    out = tmp_path / "mine.npz"
    assert cli.main(["import", str(exported["rgb"][1]), "-o", str(out), "--preprocess", "none"]) == 0
    printed = capsys.readouterr().out
    assert "mine, 10 layers" in printed and "input 3×24×24" in printed
    card = json.loads((tmp_path / "mine.card.json").read_text())
    assert card["name"] == "mine" and card["preprocess"] == "none" and len(card["source"]["sha256"]) == 64
    assert card["source"]["file"] == "colour.onnx" and card["source"]["opset"] == 13
    assert [la["layer"] for la in card["import"]["layers"]][:3] == ["input", "conv1", "batchnorm1"]
    from convscope.convnet.network import Network
    net = Network.load(out)
    x = np.random.default_rng(5).random((3, 24, 24), dtype=np.float32)
    np.testing.assert_allclose(net.trace(x).probabilities, _torch_out(exported["rgb"][0], x), rtol=1e-5, atol=1e-6)
    # a file that is not ONNX: one line, status 2
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00" * 100)
    assert cli.main(["import", str(junk), "-o", str(tmp_path / "j.npz")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot import" in err and "Traceback" not in err


# ---- uploads (POST /api/models) --------------------------------------------------------------------
def _upload_app(tmp_path, **config):
    return create_app({"TESTING": True, "WARM_JIT": False, "WARM_LAB": False, "FORWARD_CACHE_BYTES": 0,
                       "ALLOW_UPLOAD": True, "UPLOAD_DIR": str(tmp_path / "uploads"), **config})


def _post_model(client, data: bytes, filename="mine.onnx", **form):
    return client.post("/api/models", data={"file": (io.BytesIO(data), filename), **form},
                       content_type="multipart/form-data")


def test_uploads_are_off_unless_asked(client, exported):
    r = _post_model(client, exported["gray"][1].read_bytes())
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "uploads_off"
    assert "--allow-upload" in r.get_json()["error"]["message"]
    assert client.get("/api/models").get_json()["uploads"] is False


def test_an_uploaded_model_is_served_to_every_worker(tmp_path, exported):
    app = _upload_app(tmp_path)
    c = app.test_client()
    assert c.get("/api/models").get_json()["uploads"] is True
    r = _post_model(c, exported["gray"][1].read_bytes(), "my net.onnx")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["name"] == "my-net" and r.headers["Location"] == "/api/model?model=my-net"
    names = [m["name"] for m in c.get("/api/models").get_json()["models"]]
    assert names[-1] == "my-net"
    x = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    body = c.post("/api/forward", json={"model": "my-net", "image": x.tolist(), "preprocess": "none"}).get_json()
    np.testing.assert_allclose(np.asarray(body["layers"][-2]["data"]), _torch_out(exported["gray"][0], x[None]),
                               rtol=1e-5, atol=1e-5)
    # another worker process sharing the folder: it serves the model without being told
    other = _upload_app(tmp_path).test_client()
    assert other.post("/api/forward", json={"model": "my-net", "image": x.tolist(), "preprocess": "none"}).status_code == 200
    assert "my-net" in [m["name"] for m in other.get("/api/models").get_json()["models"]]


@pytest.mark.parametrize("what, status, code, words", [
    ("truncated", 400, "bad_model", "could not be parsed"), ("not onnx", 400, "bad_model", "could not be parsed"),
    ("clash", 409, "name_taken", "already a model named 'lenet'"), ("empty", 400, "bad_model", "the file is empty"),
    ("too large", 413, "request_too_large", ""),
])
def test_a_bad_upload_leaves_the_server_as_it_was(tmp_path, exported, what, status, code, words):
    app = _upload_app(tmp_path, UPLOAD_MAX_BYTES=20_000)
    c = app.test_client()
    before = c.get("/api/models").get_json()["models"]
    good = exported["gray"][1].read_bytes()
    data, name = {"truncated": (good[:5000], "t.onnx"), "not onnx": (b"GIF89a" + b"\0" * 300, "g.onnx"),
                  "clash": (good, "lenet.onnx"), "empty": (b"", "e.onnx"),
                  "too large": (b"\0" * 30_000, "big.onnx")}[what]
    assert len(good) < 20_000   # the good model itself fits the limit set here
    r = _post_model(c, data, name)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["code"] == code and words in r.get_json()["error"]["message"]
    assert c.get("/api/models").get_json()["models"] == before
    assert c.post("/api/forward", json={"image": np.zeros((28, 28)).tolist(), "preprocess": "none"}).status_code == 200
    assert not list((tmp_path / "uploads").glob("*.npz")) if (tmp_path / "uploads").exists() else True


def test_convolve_takes_a_models_filter_by_name(client):
    import numpy as np
    image = np.random.default_rng(0).random((12, 12)).round(3).tolist()
    w = np.asarray(client.get("/api/model/layers/c1/weights?model=lenet5-classic").get_json()["weight"]["data"])
    by_ref = client.post("/api/convolve", json={"image": image, "model": "lenet5-classic",
                                                 "kernel": {"layer": "c1", "filter": 4}}).get_json()
    by_value = client.post("/api/convolve", json={"image": image, "kernel": w[4, 0].tolist()}).get_json()
    np.testing.assert_allclose(by_ref["output"]["data"], by_value["output"]["data"], rtol=1e-6)
    for body, status, code in [({"model": "lenet5-classic", "kernel": {"layer": "c5", "filter": 0}}, 404, "unknown_layer"),
                               ({"model": "lenet", "kernel": {"layer": "conv1", "filter": 6}}, 400, "invalid_filter"),
                               ({"model": "ghost", "kernel": [[1]]}, 404, "unknown_model")]:
        r = client.post("/api/convolve", json={"image": image, **body})
        assert r.status_code == status and r.get_json()["error"]["code"] == code, r.get_json()
