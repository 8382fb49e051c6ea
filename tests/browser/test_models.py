"""Your own network in the browser: three architectures exported from PyTorch in the test, each
differing from LeNet (RGB 40×40 with input normalisation, batch norm, leaky ReLU, an average pool
that does not count padding, a dilated non-square kernel, ELU, global average pool; a 28×28 gray
net with tanh, sigmoid and softplus; a 32/64/128-channel net with a folded zero pad and a global
max pool), served by ConvScope beside the shipped models.  The picker switches models through the
URL; every layer's pinned unit shows the number onnxruntime computes for it, and its arithmetic
adds up; the page never overflows sideways."""
from __future__ import annotations

import json
import sys
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the architectures of test_onnx_import
from test_onnx_import import ARCHITECTURES, export, seeded  # noqa: E402
from convscope.convnet.network import default_model_path  # noqa: E402

READY = "() => window.__convscope && window.__convscope.lastForward !== null"
SETTLED = "(n) => window.__convscope.rendered > n && !window.__convscope.busy()"


@pytest.fixture(scope="module")
def models_server(tmp_path_factory):
    pytest.importorskip("torch", reason="PyTorch exports the models (scripts/test.sh installs it)")
    from werkzeug.serving import make_server
    from convscope.server import create_app
    from convscope.server.registry import default_model_paths
    d = tmp_path_factory.mktemp("models")
    files = {}
    for arch, make in ARCHITECTURES.items():
        model, shape = seeded(make)
        files[arch] = d / f"{arch}.onnx"
        files[arch].write_bytes(export(model, shape, "torchscript"))
    app = create_app({"TESTING": True, "WARM_LAB": False, "ALLOW_UPLOAD": True, "UPLOAD_DIR": str(d / "uploads"),
                      "MODEL_PATHS": [*map(str, default_model_paths()), *map(str, files.values())]})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", files
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def open_model(page, base, name, width=1366, height=768):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{base}/?model={name}")
    page.wait_for_function(READY, timeout=30_000)
    page.wait_for_function(SETTLED, arg=0, timeout=30_000)


def pick_first_sample(page):
    before = page.evaluate("() => window.__convscope.rendered")
    page.locator("button.sample").first.click()
    page.wait_for_function(SETTLED, arg=before, timeout=30_000)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def onnx_layers(path, card, x):
    """Every layer's output as onnxruntime computes it from the ONNX file, for input x (C, H, W)."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper
    model = onnx.load(path)
    sources = [s for s in card["import"]["layers"][1:] if s["output"] is not None]
    names = [s["output"] for s in sources]
    known = {o.name for o in model.graph.output}
    model.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names if n not in known)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = session.run(names, {model.graph.input[0].name: np.asarray(x, np.float32)[None]})
    return {s["layer"]: np.asarray(o)[0] for s, o in zip(sources, outs)}


def test_the_picker_lists_every_model_and_switches_through_the_url(page, models_server):
    base, _ = models_server
    open_model(page, base, "lenet")
    options = page.locator("#model-picker option")
    assert options.evaluate_all("os => os.map((o) => o.value)") == ["lenet", "lenet5-classic", "lenet-fashion", *ARCHITECTURES]
    card = json.loads((default_model_path().with_suffix(".card.json")).read_text())
    assert f"{100 * card['test_accuracy']:.2f} %" in options.first.inner_text()   # the card's figure
    page.select_option("#model-picker", "gray28")
    page.wait_for_url("**/?model=gray28**")
    page.wait_for_function(READY, timeout=30_000)
    assert page.evaluate("() => window.__convscope.model.name") == "gray28"
    assert page.locator("#model-picker").input_value() == "gray28"
    assert page.evaluate("() => window.__convscope.lastForward.model") == "gray28"


def test_an_unknown_model_in_the_url_says_so_and_shows_the_default(page, models_server):
    base, _ = models_server
    page.goto(f"{base}/?model=nosuch")
    page.wait_for_function(READY, timeout=30_000)
    assert page.evaluate("() => window.__convscope.model.name") == "lenet"
    assert 'no model "nosuch"' in page.locator("#status").inner_text()


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_layer_of_an_imported_model_pins_the_runtimes_number(page, models_server, arch, screenshot):
    base, files = models_server
    open_model(page, base, arch)
    pick_first_sample(page)
    forward = page.evaluate("() => window.__convscope.lastForward")
    assert forward["model"] == arch and forward["prediction"] is not None
    card = next(m["card"] for m in _get(base + "/api/models")["models"] if m["name"] == arch)
    x = np.asarray(forward["input"]["data"], np.float32)
    expected = onnx_layers(files[arch], card, x)
    probabilities = np.asarray(forward["prediction"]["probabilities"])
    final = expected[[s for s in card["import"]["layers"] if s["output"] is not None][-1]["layer"]]
    if card["import"]["added"]:   # the graph ends at its logits; ConvScope shows their softmax
        final = np.exp(final - final.max()) / np.exp(final - final.max()).sum()
    np.testing.assert_allclose(probabilities, final, rtol=1e-5, atol=1e-6)
    assert int(page.locator("#prediction").get_attribute("data-label")) == int(final.argmax())
    detail = page.locator("#detail")
    layers = page.evaluate("() => window.__convscope.model.layers.map((d) => [d.name, d.op, d.output_shape])")
    for name, op, shape in layers[1:]:
        if op == "softmax" or name not in expected:
            continue
        page.locator(f'.layer[data-layer="{name}"] .layer-body').focus()
        for _ in range(min(3, shape[0] - 1)):     # a few channels (or units) in
            page.keyboard.press("PageDown" if len(shape) == 3 else "ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_function("(n) => document.getElementById('detail').dataset.layer === n", arg=name)
        c, y, xx = (int(detail.get_attribute(f"data-{k}")) for k in ("channel", "y", "x"))
        ref = expected[name]
        want = ref[c, y, xx] if ref.ndim == 3 else ref[c]
        assert float(detail.get_attribute("data-value")) == pytest.approx(float(want), rel=1e-5, abs=1e-5), name
        computed = detail.get_attribute("data-computed")
        if computed is not None:   # the panel's own arithmetic (float64 from the shown numbers)
            assert float(computed) == pytest.approx(float(want), rel=1e-4, abs=1e-4), name
        if op == "affine":
            assert detail.locator(".affine-steps li").count() == len(next(
                d for d in card["architecture"] if d["name"] == name).get("steps", [None] * 4))
    # the page fits the projector's width: layers scroll in their strip, never the page
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(f"model-{arch}-1366x768")


def test_a_many_channel_layer_scrolls_in_its_own_grid_with_readable_tiles(page, models_server):
    base, _ = models_server
    open_model(page, base, "wide")
    pick_first_sample(page)
    grid = page.locator('.layer[data-layer="conv3"] .tiles')
    assert "tiles-scroll" in grid.get_attribute("class")
    box = page.locator('.layer[data-layer="conv3"] canvas.tile').first.bounding_box()
    assert box["width"] >= 24 and box["height"] >= 24
    sizes = grid.evaluate("g => [g.scrollHeight, g.clientHeight]")
    assert sizes[0] > sizes[1] and sizes[1] <= 520


def test_an_rgb_input_is_painted_in_colour(page, models_server):
    base, _ = models_server
    open_model(page, base, "rgb_bn")
    upload = page.locator("#upload")
    import base64
    import io
    from PIL import Image
    img = Image.new("RGB", (40, 40), (200, 30, 30))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    before = page.evaluate("() => window.__convscope.rendered")
    upload.set_input_files(files=[{"name": "red.png", "mimeType": "image/png", "buffer": buf.getvalue()}])
    page.wait_for_function(SETTLED, arg=before, timeout=30_000)
    pixel = page.evaluate("() => { const c = document.querySelector('.seen-canvas');"
                          " return Array.from(c.getContext('2d').getImageData(20, 20, 1, 1).data); }")
    assert pixel[0] > 150 and pixel[1] < 80 and pixel[2] < 80, pixel
    assert base64  # the upload went through the page's own file control


def test_a_model_opened_in_the_page_is_shown_at_once(context, models_server):
    """The file control of a server started with --allow-upload: the .onnx is imported and the
    page reloads on it; a file that is not a model says why and leaves the page as it was.  (The
    browser logs the refused upload's 400 as a console error, so only page errors fail here.)"""
    base, files = models_server
    page = context.new_page()
    crashes = []
    page.on("pageerror", lambda exc: crashes.append(str(exc)))
    open_model(page, base, "lenet")
    control = page.locator("#model-upload")
    assert control.is_visible()
    page.set_input_files("#model-file", files=[{"name": "junk.onnx", "mimeType": "application/octet-stream",
                                                "buffer": b"not a model at all"}])
    page.wait_for_function("() => /Your model: The model cannot be imported/.test(document.getElementById('status').textContent)")
    assert page.evaluate("() => window.__convscope.model.name") == "lenet"
    page.set_input_files("#model-file", files=[{"name": "my own.onnx", "mimeType": "application/octet-stream",
                                                "buffer": files["gray28"].read_bytes()}])
    page.wait_for_url("**/?model=my-own**")
    page.wait_for_function(READY, timeout=30_000)
    assert page.evaluate("() => window.__convscope.model.name") == "my-own"
    assert page.evaluate("() => window.__convscope.lastForward.model") == "my-own"
    assert not crashes


def test_the_lab_offers_the_picked_models_first_filters(page, models_server):
    base, _ = models_server
    page.goto(f"{base}/kernels?model=gray28")
    page.wait_for_function("() => document.body.dataset.lab === 'ready'", timeout=30_000)
    assert page.locator("#model-picker").input_value() == "gray28"
    w = _get(base + "/api/model/layers/conv1/weights?model=gray28")["weight"]["data"]
    presets = page.evaluate("() => Array.from(document.querySelectorAll('option, button'))"
                            ".filter((e) => /Trained conv1 filter/.test(e.textContent)).length")
    assert presets == len(w) == 4


def test_an_rgb_models_gallery_offers_colour_photographs(page, models_server):
    base, files = models_server
    open_model(page, base, "rgb_bn")
    photos = page.locator("#photos button.photo")
    assert photos.count() == 4 and page.locator("#photos").is_visible()
    before = page.evaluate("() => window.__convscope.rendered")
    page.locator('#photos button[data-photo="scene"]').click()
    page.wait_for_function(SETTLED, arg=before, timeout=30_000)
    forward = page.evaluate("() => window.__convscope.lastForward")
    x = np.asarray(forward["input"]["data"])
    assert x.shape == (3, 40, 40) and np.abs(x[0] - x[2]).mean() > 0.02   # colour, not gray copies
    assert "upload scene.png" in page.locator("#input-source").inner_text()
    # a gray model has no photographs
    open_model(page, base, "gray28")
    assert page.locator("#photos").is_hidden()


def test_the_fashion_model_shows_its_own_images_and_names_its_classes(page, models_server, screenshot):
    """The shipped Fashion-MNIST LeNet: its gallery is Fashion-MNIST's, the answer is a class name, and
    the bar chart's labels are the ten names; the answer is what the server's trace says."""
    base, _ = models_server
    open_model(page, base, "lenet-fashion")
    assert page.locator("#gallery-title").inner_text() == "Fashion-MNIST test images"
    pick_first_sample(page)
    samples = _get(f"{base}/api/samples?model=lenet-fashion")["samples"]
    first = samples[0]
    names = _get(f"{base}/api/model?model=lenet-fashion")["card"]["classes"]
    one = _get(f"{base}/api/samples/0?model=lenet-fashion&include=images")
    import urllib.request as ur
    body = json.dumps({"model": "lenet-fashion", "image": one["image"]["data"]}).encode()
    req = ur.Request(f"{base}/api/forward", body, {"Content-Type": "application/json"})
    with ur.urlopen(req, timeout=30) as r:
        label = json.loads(r.read())["prediction"]["label"]
    assert page.locator("#prediction").inner_text() == names[label]
    assert f"Fashion-MNIST test image #{first['index']} ({names[first['label']]})" in page.locator("#input-source").inner_text()
    ticks = page.locator(".softmax-plot .ytick text").evaluate_all("(els) => els.map((e) => e.textContent)")
    assert ticks[:2] == ["T-shirt", "Trouser"] and ticks[-1] == "Ankle boot"
    screenshot("fashion-layer-view")
