"""POST /api/explain against PyTorch autograd: the input gradient, gradient × input, Grad-CAM at
every layer with a map, and occlusion, for the shipped LeNets (PyTorch twins with their weights,
bench/torch_lenet.py) and for models exported from PyTorch in the test (batch norm, input
normalisation, ELU, leaky ReLU, an average pool that does not count padding, global pools, the
matrix-product convs); and the request limits."""
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from convscope.server import create_app

torch = pytest.importorskip("torch", reason="PyTorch is the oracle (scripts/test.sh installs it)")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_onnx_import import ARCHITECTURES, export, seeded  # noqa: E402

TOL = 1e-4


def twin_of(net):
    spec = importlib.util.spec_from_file_location(
        "torch_lenet", Path(__file__).resolve().parents[1] / "bench" / "torch_lenet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TorchTwin(net)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("explain")
    models = {}
    for arch, make in ARCHITECTURES.items():
        model, shape = seeded(make)
        (d / f"{arch}.onnx").write_bytes(export(model, shape, "torchscript"))
        models[arch] = (model, shape)
    from convscope.server.registry import default_model_paths
    app = create_app({"TESTING": True, "WARM_LAB": False, "FORWARD_CACHE_BYTES": 0,
                      "MODEL_PATHS": [*map(str, default_model_paths()), *(str(d / f"{a}.onnx") for a in ARCHITECTURES)]})
    return app, models


def post(client, **body):
    r = client.post("/api/explain", json=body)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def close(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL * (1 + np.abs(want).max()), err_msg=what)


def digit_input(samples, i, shape):
    img = samples.images[i].astype(np.float32) / 255
    if shape == (1, 32, 32):
        return np.pad(img, 2)[None]
    return img[None]


@pytest.mark.parametrize("model", ["lenet", "lenet5-classic"])
def test_the_shipped_models_gradients_and_gradcam_equal_autograd(served, samples, model):
    app, _ = served
    client = app.test_client()
    net = app.extensions["convscope"].get(model)
    twin = twin_of(net)
    x = digit_input(samples, 3, net.input_shape)
    xt = torch.from_numpy(x[None]).requires_grad_(True)
    outs = twin.trace(xt, with_indices=False)
    by = {name: t for name, t, _ in outs}
    logits = by[[la.name for la in net.layers if la.kind != "softmax"][-1]][0]
    for cls in (int(logits.argmax()), 0):
        grad = post(client, model=model, image=x[0].tolist(), preprocess="none", method="gradient", **{"class": cls})
        names = [la.name for la in net.layers[1:] if len(la.out_shape) == 3]
        wanted = torch.autograd.grad(logits[cls], [xt] + [by[n] for n in names], retain_graph=True)
        g = wanted[0][0].numpy()
        assert grad["class"] == cls and grad["score"] == pytest.approx(logits[cls].detach().item(), rel=1e-5)
        close(grad["gradient"]["data"], g, f"{model} gradient of class {cls}")
        close(grad["map"]["data"], np.abs(g).max(axis=0), "saliency map")
        gxi = post(client, model=model, image=x[0].tolist(), preprocess="none", method="gradient_x_input", **{"class": cls})
        close(gxi["map"]["data"], (g * x).sum(axis=0), "gradient × input")
        for name, da in zip(names, wanted[1:]):
            a, da = by[name][0].detach().numpy(), da[0].numpy()
            cam = np.maximum((da.mean(axis=(1, 2))[:, None, None] * a).sum(axis=0), 0)
            got = post(client, model=model, image=x[0].tolist(), preprocess="none", method="gradcam",
                       layer=name, **{"class": cls})
            assert got["layer"] == name and np.asarray(got["map"]["data"]).shape == x.shape[1:]
            close(got["layer_map"]["data"], cam, f"Grad-CAM at {name}")


def torch_logits(model):
    return torch.nn.Sequential(*[m for m in model.children() if not isinstance(m, torch.nn.Softmax)])


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_imported_models_gradients_and_occlusion_equal_pytorch(served, arch):
    app, models = served
    client = app.test_client()
    model, shape = models[arch]
    x = np.random.default_rng(2).random(shape, dtype=np.float32)
    image = (np.moveaxis(x, 0, -1) if shape[0] == 3 else x[0]).tolist()
    body = torch_logits(model)
    xt = torch.from_numpy(x[None]).requires_grad_(True)
    logits = body(xt)[0]
    cls = int(logits.argmax())
    g = torch.autograd.grad(logits[cls], xt)[0][0].numpy()
    grad = post(client, model=arch, image=image, preprocess="none", method="gradient")
    assert grad["class"] == cls
    close(grad["gradient"]["data"], g, f"{arch} input gradient")
    gxi = post(client, model=arch, image=image, preprocess="none", method="gradient_x_input")
    close(gxi["map"]["data"], (g * x).sum(axis=0), f"{arch} gradient × input")
    occ = post(client, model=arch, image=image, preprocess="none", method="occlusion", patch=6, stride=5)
    with torch.no_grad():
        p0 = torch.softmax(body(torch.from_numpy(x[None])), 1)[0, cls].item()
        batch = np.repeat(x[None], len(occ["positions"]), axis=0)
        for k, (y0, x0) in enumerate(occ["positions"]):
            batch[k, :, y0:y0 + 6, x0:x0 + 6] = 0
        p = torch.softmax(body(torch.from_numpy(batch)), 1)[:, cls].numpy()
    drop, count = np.zeros(shape[1:]), np.zeros(shape[1:])
    for k, (y0, x0) in enumerate(occ["positions"]):
        drop[y0:y0 + 6, x0:x0 + 6] += p0 - p[k]
        count[y0:y0 + 6, x0:x0 + 6] += 1
    close(occ["probabilities"], p, f"{arch} occluded probabilities")
    close(occ["map"]["data"], np.where(count > 0, drop / np.maximum(count, 1), 0), f"{arch} occlusion map")


def test_gradcam_defaults_to_the_last_map_and_base64_packs_the_maps(served, samples):
    app, _ = served
    client = app.test_client()
    x = digit_input(samples, 5, (1, 32, 32))
    body = post(client, image=x[0].tolist(), preprocess="none", method="gradcam", encoding="base64")
    assert body["layer"] == "pool2" and body["layer_map"]["shape"] == [5, 5]
    assert body["map"]["dtype"] == "float32" and body["map"]["shape"] == [32, 32]
    assert len(body["weights"]) == 16


@pytest.mark.parametrize("extra, code", [
    ({"method": "deconvolution"}, "invalid_method"),
    ({"class": 10}, "invalid_class"), ({"class": -1}, "invalid_class"), ({"class": "7"}, "invalid_class"),
    ({"method": "gradcam", "layer": "fc1"}, "invalid_layer"), ({"method": "gradcam", "layer": "nope"}, "invalid_layer"),
    ({"method": "occlusion", "patch": 0}, "invalid_patch"), ({"method": "occlusion", "patch": 33}, "invalid_patch"),
    ({"method": "occlusion", "stride": 0}, "invalid_stride"), ({"method": "occlusion", "stride": 17}, "invalid_stride"),
    ({"method": "occlusion", "patch": 1, "stride": 1}, "too_many_occlusions"),   # 32 × 32 = 1,024 placements: allowed
    ({"model": "ghost"}, "unknown_model"),
])
def test_bad_requests_are_clear_4xx(served, extra, code):
    app, _ = served
    client = app.test_client()
    body = {"image": np.zeros((28, 28)).tolist(), "preprocess": "none", **extra}
    r = client.post("/api/explain", json=body)
    if code == "too_many_occlusions":   # within the limit: it is computed
        assert r.status_code == 200 and r.get_json()["placements"] == 32 * 32
        return
    assert 400 <= r.status_code < 500 and r.get_json()["error"]["code"] == code, r.get_json()


def test_randomising_the_top_layers_cascades_down_and_changes_the_maps(served, samples):
    """Adebayo et al.'s check: with the top k layers re-drawn, the gradient map moves away from the
    trained one as k grows, while the network with k = 0 is the trained one."""
    app, _ = served
    client = app.test_client()
    x = digit_input(samples, 7, (1, 32, 32))[0].tolist()
    base = post(client, image=x, preprocess="none", method="gradient", **{"class": 3})
    assert base["randomized"] == []
    same = post(client, image=x, preprocess="none", method="gradient", randomize=0, **{"class": 3})
    assert same["map"]["data"] == base["map"]["data"]
    trained = np.asarray(base["map"]["data"]).ravel()
    corr = []
    for k in range(1, 6):
        r = post(client, image=x, preprocess="none", method="gradient", randomize=k, **{"class": 3})
        assert r["randomized"] == ["conv1", "conv2", "fc1", "fc2", "fc3"][5 - k:]
        corr.append(np.corrcoef(trained, np.asarray(r["map"]["data"]).ravel())[0, 1])
    assert corr[-1] < corr[0] and corr[-1] < 0.9, corr
    # the shipped model itself is untouched
    again = post(client, image=x, preprocess="none", method="gradient", **{"class": 3})
    assert again["map"]["data"] == base["map"]["data"]
    r = client.post("/api/explain", json={"image": x, "preprocess": "none", "randomize": 6})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_randomize"


def test_a_units_gradient_equals_autograd_at_every_depth(served, samples):
    """The reverse pass started at any layer (what the synthesis climbs): d unit / d input."""
    from convscope.convnet import explain as E
    app, _ = served
    net = app.extensions["convscope"].get("lenet")
    twin = twin_of(net)
    x = digit_input(samples, 11, net.input_shape)
    xt = torch.from_numpy(x[None]).requires_grad_(True)
    by = {name: t for name, t, _ in twin.trace(xt, with_indices=False)}
    outs, caches = E.forward(net, x)
    for name, unit in (("conv1", (2, 14, 9)), ("pool2", (7, 2, 3)), ("fc1", (31,)), ("fc3", (4,))):
        want = torch.autograd.grad(by[name][0][unit], xt, retain_graph=True)[0][0].numpy()
        dy = np.zeros(outs[name][0].shape, np.float32)
        dy[unit] = 1
        got, _ = E.backward(net, caches, dy, start=name)
        close(got, want, f"d {name}{list(unit)} / d input")


def test_synthesis_climbs_each_units_activation(served, samples):
    app, _ = served
    client = app.test_client()
    from convscope.convnet import explain as E
    net = app.extensions["convscope"].get("lenet")
    digits = np.stack([digit_input(samples, i, net.input_shape) for i in range(100)])
    for layer, unit in (("conv2", [5, 4, 4]), ("fc1", [17]), ("fc3", [8])):
        r = client.post("/api/synthesize", json={"layer": layer, "unit": unit, "steps": 80})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        image = np.asarray(body["image"]["data"], np.float32)
        assert image.shape == (1, 32, 32) and 0 <= image.min() and image.max() <= 1
        history = body["activation"]
        assert len(history) == 81 and history[-1] > history[0] + 1.0, (layer, history[:3], history[-3:])
        # the server's last number is the unit's activation on the image it returns
        outs, _ = E.forward(net, image)
        assert outs[layer][0][tuple(unit)] == pytest.approx(history[-1], rel=1e-4, abs=1e-4)
        # … and it excites the unit more than the typical test digit does
        typical = np.median([E.forward(net, d)[0][layer][0][tuple(unit)] for d in digits[:40]])
        assert history[-1] > typical, (layer, history[-1], typical)
    again = client.post("/api/synthesize", json={"layer": "fc3", "unit": [8], "steps": 80}).get_json()
    assert again["image"]["data"] == body["image"]["data"]          # seeded: the same picture


@pytest.mark.parametrize("body, code", [
    ({"layer": "nope"}, "invalid_layer"), ({"layer": "conv1", "unit": [6, 0, 0]}, "invalid_unit"),
    ({"layer": "conv1", "unit": [0, 28, 0]}, "invalid_unit"), ({"layer": "fc1", "unit": "3"}, "invalid_unit"),
    ({"steps": 0}, "invalid_steps"), ({"steps": 100000}, "invalid_steps"), ({"seed": -1}, "invalid_seed"),
])
def test_synthesis_refuses_what_it_cannot_do(served, body, code):
    app, _ = served
    r = app.test_client().post("/api/synthesize", json=body)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == code, r.get_json()


@pytest.mark.parametrize("layer, unit", [("conv1", [4, 12, 9]), ("pool2", [11, 2, 1]), ("fc1", [40]), ("fc3", [6])])
def test_top_images_are_the_units_strongest_over_the_whole_test_set(served, samples, layer, unit):
    """Checked by tracing every image of the dataset the answer names (single-image kernels, not
    the batch path the server ranks with)."""
    app, _ = served
    client = app.test_client()
    r = client.get(f"/api/top?layer={layer}&unit={','.join(map(str, unit))}")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    net = app.extensions["convscope"].get("lenet")
    if body["dataset"].startswith("MNIST test set"):
        from convscope.convnet import mnist
        images, labels = mnist.load_mnist("test", download=False)
    else:
        images, labels = samples.images, samples.labels
    from convscope.convnet.data import to_network_input
    x = to_network_input(images)
    values = np.array([net.trace(xi)[layer].data[tuple(unit)] for xi in x])
    top = body["images"]
    assert len(top) == 9 and [t["value"] for t in top] == sorted((t["value"] for t in top), reverse=True)
    index_of = {int(i): k for k, i in enumerate(samples.indices)} if not body["dataset"].startswith("MNIST") else None
    for t in top:
        k = t["index"] if index_of is None else index_of[t["index"]]
        assert t["value"] == pytest.approx(values[k], rel=1e-4, abs=1e-4) and t["label"] == int(labels[k])
        np.testing.assert_allclose(np.asarray(t["image"]["data"]), x[k], atol=1e-6)
    assert np.sort(values)[-9] == pytest.approx(top[-1]["value"], rel=1e-4, abs=1e-4)   # nothing stronger was left out
    rf = body["receptive_field"]
    if layer == "conv1":
        assert rf == {"top": 12, "left": 9, "height": 5, "width": 5}
    if layer.startswith("fc"):
        assert rf == {"top": 0, "left": 0, "height": 32, "width": 32}


@pytest.mark.parametrize("query, code", [("layer=nope&unit=0", "invalid_layer"), ("layer=conv1&unit=9,0,0", "invalid_unit"),
                                         ("layer=conv1&unit=a", "invalid_unit"), ("layer=conv1", "invalid_unit"),
                                         ("layer=conv1&unit=0&model=rgb_bn", "no_dataset")])
def test_top_images_refuse_what_has_no_answer(served, query, code):
    app, _ = served
    r = app.test_client().get("/api/top?" + query)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == code, r.get_json()


# ---- the model on its test set ---------------------------------------------------------------------
def _dataset(body, samples):
    from convscope.convnet.data import to_network_input
    if body["dataset"].startswith("MNIST test set"):
        from convscope.convnet import mnist
        images, labels = mnist.load_mnist("test", download=False)
    else:
        images, labels = samples.images, samples.labels
    return to_network_input(images), np.asarray(labels, np.int64)


def test_evaluation_matches_the_pytorch_twin_on_the_same_test_images(served, samples):
    app, _ = served
    client = app.test_client()
    body = client.get("/api/evaluation?model=lenet5-classic").get_json()
    net = app.extensions["convscope"].get("lenet5-classic")
    x, labels = _dataset(body, samples)
    with torch.no_grad():
        logits = torch.cat([twin_of(net)(torch.from_numpy(x[i:i + 1000])) for i in range(0, len(x), 1000)]).numpy()
    predicted = logits.argmax(1)
    want = np.zeros((10, 10), int)
    np.add.at(want, (labels, predicted), 1)
    assert body["count"] == len(labels) and np.array_equal(body["confusion"], want)
    assert body["accuracy"] == pytest.approx((predicted == labels).mean())
    assert body["mistake_count"] == int((predicted != labels).sum())
    conf = [m["confidence"] for m in body["mistakes"]]
    assert conf == sorted(conf, reverse=True) and all(m["label"] != m["predicted"] for m in body["mistakes"])
    t, p = next((t, p) for t in range(10) for p in range(10) if t != p and want[t, p] > 0)
    cell = client.get(f"/api/evaluation/cell?model=lenet5-classic&true={t}&predicted={p}").get_json()
    assert cell["count"] == want[t, p] and all(m["label"] == t and m["predicted"] == p for m in cell["images"])
    one = client.get(f"/api/testset/{cell['images'][0]['position']}?model=lenet5-classic").get_json()
    np.testing.assert_allclose(np.asarray(one["image"]["data"]), x[one["position"]], atol=1e-6)
    assert one["label"] == t and one["predicted"] == p


@pytest.mark.parametrize("layer", ["fc1", "conv1"])   # the exact SVD, and the randomised one (4,704 dims)
def test_the_pca_map_is_the_leading_eigenvectors_of_the_covariance(served, samples, layer):
    app, _ = served
    client = app.test_client()
    body = client.get(f"/api/embedding?layer={layer}&n=300").get_json()
    net = app.extensions["convscope"].get("lenet")
    x, labels = _dataset(body, samples)
    a = np.stack([net.trace(xi)[layer].data.ravel() for xi in x[:300]]).astype(np.float64)
    a -= a.mean(0)
    # another route to the same axes: the 300×300 Gram matrix a·aᵀ = U S² Uᵀ, whose leading
    # eigenvectors scaled by √eigenvalue are the points a·v (and no 4,704² covariance to decompose)
    w, u = np.linalg.eigh(a @ a.T)
    want = u[:, ::-1][:, :2] * np.sqrt(np.maximum(w[::-1][:2], 0))
    got = np.asarray(body["points"], np.float64)
    for k in range(2):   # each axis up to its sign
        sign = np.sign(np.dot(got[:, k], want[:, k]))
        np.testing.assert_allclose(got[:, k], sign * want[:, k], rtol=1e-3, atol=1e-3 * np.abs(want[:, k]).max())
    np.testing.assert_allclose(body["explained_variance"], w[::-1][:2] / w.sum(), rtol=1e-3)
    assert body["labels"] == labels[:300].tolist() and len(body["indices"]) == 300


@pytest.mark.parametrize("query, code", [
    ("/api/evaluation/cell?true=3", "invalid_cell"), ("/api/evaluation/cell?true=3&predicted=10", "invalid_cell"),
    ("/api/embedding?layer=nope", "invalid_layer"), ("/api/embedding?n=5", "invalid_n"), ("/api/embedding?n=x", "invalid_n"),
    ("/api/evaluation?model=rgb_bn", "no_dataset"),
])
def test_evaluation_routes_refuse_what_has_no_answer(served, query, code):
    app, _ = served
    r = app.test_client().get(query)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == code, r.get_json()
    assert app.test_client().get("/api/testset/999999").status_code == 404
