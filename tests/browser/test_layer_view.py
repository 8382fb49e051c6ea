"""The layer view (/) in Debian's Chromium: drawing, gallery, hover geometry, the pinned arithmetic,
the translation demo, keyboard stepping, offline use and the two viewports (with screenshots).

The page exposes a debug hook, ``window.__convscope``: ``lastForward`` (the last /api/forward
response it drew), ``model``, ``rendered`` (responses drawn so far), ``busy()`` and ``hover``.
Playwright predicates are passed as functions, never strings: the page's CSP has no 'unsafe-eval'.
"""
from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

READY = "() => window.__convscope && window.__convscope.lastForward !== null"
SETTLED = "(n) => window.__convscope.rendered > n && !window.__convscope.busy()"

# Strokes in pad fractions (0..1): a "1" and a "7" as a person would draw them.
STROKES = {
    1: [[(0.52, 0.14), (0.51, 0.35), (0.50, 0.60), (0.49, 0.86)]],
    7: [[(0.24, 0.18), (0.50, 0.17), (0.77, 0.18), (0.66, 0.40), (0.55, 0.62), (0.46, 0.86)]],
}


def api(live_server, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(live_server + path, data=data,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def open_page(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_function(READY, timeout=30_000)
    settle(page, 0)


def rendered(page) -> int:
    return page.evaluate("() => window.__convscope.rendered")


def settle(page, before: int):
    """Wait until a response newer than `before` is drawn and nothing is in flight."""
    page.wait_for_function(SETTLED, arg=before, timeout=30_000)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def draw(page, strokes, steps_per_segment=6):
    box = page.locator(".drawpad-canvas").bounding_box()
    to_px = lambda p: (box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"])
    before = rendered(page)
    for stroke in strokes:
        page.mouse.move(*to_px(stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*to_px(point), steps=steps_per_segment)
        page.mouse.up()
    settle(page, before)


def last_forward(page):
    return page.evaluate("() => window.__convscope.lastForward")


def layer(forward, name):
    return next(entry for entry in forward["layers"] if entry["name"] == name)


def unit_point(page, layer_name, c, y, x):
    """Viewport coordinates of the centre of unit (c, y, x) of a map layer."""
    box = page.locator(f'canvas.tile[data-layer="{layer_name}"][data-channel="{c}"]').bounding_box()
    h, w = page.evaluate(f"() => {{ const c = document.querySelector('canvas.tile[data-layer=\"{layer_name}\"]');"
                         " return [c.height, c.width]; }")
    return box["x"] + (x + 0.5) * box["width"] / w, box["y"] + (y + 0.5) * box["height"] / h


def load_sample(page, sample_id):
    before = rendered(page)
    page.locator(f'button.sample[data-sample-id="{sample_id}"]').click()
    settle(page, before)


def test_drawn_digit_is_recognised(page, live_server, screenshot):
    """A 1 and then, after Clear, a 7, drawn by pointer strokes on one page."""
    open_page(page, live_server)
    for digit in (1, 7):
        if digit != 1:
            before = rendered(page)
            page.locator("#clear").click()
            settle(page, before)
        draw(page, STROKES[digit])
        forward = last_forward(page)
        assert not forward["empty"]
        shown = page.locator("#prediction").get_attribute("data-label")
        assert shown == str(forward["prediction"]["label"])
        screenshot(f"layer-view-drawn-{digit}")
        # Needs the trained model: a random placeholder predicts anything.
        assert forward["prediction"]["label"] == digit, forward["prediction"]


def test_gallery_digit_shows_its_label(page, live_server):
    open_page(page, live_server)
    samples = api(live_server, "/api/samples")["samples"]
    target = samples[0]
    load_sample(page, target["id"])
    assert page.locator(f'button.sample[data-sample-id="{target["id"]}"]').get_attribute("aria-pressed") == "true"
    forward = last_forward(page)
    image = api(live_server, f"/api/samples/{target['id']}")["image"]["data"]
    mine = api(live_server, "/api/forward", {"image": image, "preprocess": "none"})
    assert forward["prediction"]["label"] == mine["prediction"]["label"]
    shown = int(page.locator("#prediction").get_attribute("data-label"))
    assert shown == forward["prediction"]["label"]
    assert shown == target["label"], "needs the trained model (models/lenet.npz)"
    # the thumbnail (an <img>) shows the sample's own pixels: gray levels = value × 255
    pixels = page.evaluate("""(id) => {
        const img = document.querySelector(`button.sample[data-sample-id="${id}"] img`);
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
        const x = c.getContext('2d'); x.drawImage(img, 0, 0);
        const d = x.getImageData(0, 0, c.width, c.height).data;
        return {shape: [c.height, c.width], gray: Array.from({length: c.width * c.height}, (_, i) => d[4 * i])}; }""",
                           target["id"])
    expected = np.asarray(image, dtype=float)
    assert pixels["shape"] == list(expected.shape)
    assert np.abs(np.asarray(pixels["gray"]).reshape(expected.shape) - expected * 255).max() <= 1.0


@pytest.mark.parametrize("tensors", ["base64", "json"])
def test_view_reads_packed_tensors_as_the_json_api_gives_them(page, live_server, tensors):
    """The view asks for base64-packed activations (?tensors=json: nested lists); either way
    lastForward is the default JSON shape with exactly the numbers a JSON /api/forward prints,
    and the pinned panel's data-value is that number."""
    page.goto(live_server + ("/?tensors=json" if tensors == "json" else "/"))
    page.wait_for_function(READY, timeout=30_000)
    settle(page, 0)
    target = api(live_server, "/api/samples")["samples"][3]
    load_sample(page, target["id"])
    raw = page.evaluate("() => { const r = window.__convscope.lastResponse;"
                        " return [r.input.dtype || null, 'data' in r.layers[0], r.layers[2].winners.dtype || null]; }")
    assert raw == (["float32", False, "int32"] if tensors == "base64" else [None, True, None])
    forward = last_forward(page)
    image = api(live_server, f"/api/samples/{target['id']}")["image"]["data"]
    mine = api(live_server, "/api/forward", {"image": image, "preprocess": "none"})
    forward.pop("timing_ms"), mine.pop("timing_ms")
    assert forward == mine
    page.mouse.click(*unit_point(page, "conv1", 2, 10, 12))
    detail = page.locator("#detail")
    page.wait_for_function("() => document.getElementById('detail').dataset.layer === 'conv1'")
    assert float(detail.get_attribute("data-value")) == layer(mine, "conv1")["data"][2][10][12]
    assert float(detail.get_attribute("data-activation")) == layer(mine, "relu1")["data"][2][10][12]


def test_hover_conv2_unit_shows_its_receptive_field(page, live_server, screenshot):
    open_page(page, live_server)
    draw(page, STROKES[7])
    model = api(live_server, "/api/model")
    rf = next(d for d in model["layers"] if d["name"] == "conv2")["receptive_field"]
    c, y, x = 3, 4, 5
    page.mouse.move(*unit_point(page, "conv2", c, y, x))
    page.wait_for_function("() => window.__convscope.hover && window.__convscope.hover.unit.layer === 'conv2'"
                           " && window.__convscope.hover.unit.x === 5")
    box = page.locator("#input-rf")
    assert box.is_visible()
    got = {k: int(box.get_attribute(f"data-{k}")) for k in ("top", "left", "height", "width")}
    assert got == {"height": rf["size"][0], "width": rf["size"][1],
                   "top": rf["offset"][0] + y * rf["jump"][0], "left": rf["offset"][1] + x * rf["jump"][1]}
    assert page.evaluate("() => window.__convscope.hover.unit") == {"layer": "conv2", "c": c, "y": y, "x": x}
    tooltip = page.locator(".unit-tooltip")
    assert tooltip.is_visible() and "conv2" in tooltip.inner_text()
    screenshot("layer-view-hover-conv2")


def test_pool_hover_marks_the_winner(page, live_server):
    open_page(page, live_server)
    draw(page, STROKES[1])
    forward = last_forward(page)
    pool = layer(forward, "pool1")
    c, y, x = max(((c, y, x) for c in range(6) for y in range(14) for x in range(14)),
                  key=lambda u: pool["data"][u[0]][u[1]][u[2]])
    page.mouse.click(*unit_point(page, "pool1", c, y, x))
    detail = page.locator("#detail")
    flat = pool["winners"][c][y][x]
    assert int(detail.get_attribute("data-winner-y")) == flat // 28 - 2 * y
    assert int(detail.get_attribute("data-winner-x")) == flat % 28 - 2 * x
    assert float(detail.get_attribute("data-value")) == pool["data"][c][y][x]


def test_pinned_conv_unit_adds_up(page, live_server, screenshot):
    """The strongest unit of conv1 and then of conv2, pinned on one drawing."""
    open_page(page, live_server)
    draw(page, STROKES[7])
    forward = last_forward(page)
    # the server's values, checked against a forward pass of our own on the same 32×32 input
    mine = api(live_server, "/api/forward", {"image": forward["input"]["data"][0], "preprocess": "none"})
    detail = page.locator("#detail")
    for name, relu in (("conv1", "relu1"), ("conv2", "relu2")):
        conv = layer(forward, name)
        C, H, W = conv["shape"]
        c, y, x = max(((c, y, x) for c in range(C) for y in range(H) for x in range(W)),
                      key=lambda u: abs(conv["data"][u[0]][u[1]][u[2]]))
        page.mouse.click(*unit_point(page, name, c, y, x))
        assert detail.get_attribute("data-layer") == name
        assert [int(detail.get_attribute(f"data-{k}")) for k in ("channel", "y", "x")] == [c, y, x]
        total = float(detail.get_attribute("data-sum")) + float(detail.get_attribute("data-bias"))
        value = layer(mine, name)["data"][c][y][x]
        assert float(detail.get_attribute("data-value")) == pytest.approx(value, abs=1e-6)
        assert total == pytest.approx(value, rel=1e-4, abs=1e-4)
        assert float(detail.get_attribute("data-activation")) == pytest.approx(layer(mine, relu)["data"][c][y][x], abs=1e-6)
    screenshot("layer-view-pinned-conv2")


def test_pinned_dense_and_softmax_add_up(page, live_server):
    open_page(page, live_server)
    load_sample(page, 1)
    forward = last_forward(page)
    page.locator('.layer[data-layer="fc2"] .layer-body').focus()
    for _ in range(7):
        page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    detail = page.locator("#detail")
    assert detail.get_attribute("data-layer") == "fc2" and detail.get_attribute("data-channel") == "7"
    total = float(detail.get_attribute("data-sum")) + float(detail.get_attribute("data-bias"))
    assert total == pytest.approx(layer(forward, "fc2")["data"][7], rel=1e-4, abs=1e-4)
    page.locator('.layer[data-layer="softmax"] .layer-body').focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert float(detail.get_attribute("data-value")) == layer(forward, "softmax")["data"][1]


def test_pinned_vector_relu_is_titled_as_a_unit(page, live_server):
    """A ReLU of a vector layer is titled like every vector unit ("unit 5"); a map ReLU keeps its
    channel, row and column."""
    open_page(page, live_server)
    load_sample(page, 1)
    detail = page.locator("#detail")
    title = detail.locator(".detail-head h2")
    for name in ("relu3", "relu4"):
        page.locator(f'.layer[data-layer="{name}"] .layer-body').focus()
        for _ in range(5):
            page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_function("(n) => document.getElementById('detail').dataset.layer === n", arg=name)
        assert detail.get_attribute("data-channel") == "5"
        assert title.inner_text() == f"{name} (relu) · unit 5"
    page.mouse.click(*unit_point(page, "relu1", 2, 10, 12))
    page.wait_for_function("() => document.getElementById('detail').dataset.layer === 'relu1'")
    assert title.inner_text() == "relu1 (relu) · channel 2, row 10, col 12"


def test_shift_moves_the_maps_by_one_pixel(page, live_server):
    open_page(page, live_server)
    load_sample(page, 2)
    before_fw = last_forward(page)
    page.locator("#seen-title").click()      # focus outside any layer: arrows shift the input
    n = rendered(page)
    page.keyboard.press("ArrowRight")
    settle(page, n)
    after_fw = last_forward(page)
    assert page.locator("#shift-readout").inner_text() == "shift 0, 1"
    old, new = layer(before_fw, "conv1")["data"], layer(after_fw, "conv1")["data"]
    for c in range(6):
        for y in range(28):
            assert new[c][y][1:] == old[c][y][:27], f"conv1 channel {c} row {y} did not shift by one pixel"
    inp_old, inp_new = before_fw["input"]["data"][0], after_fw["input"]["data"][0]
    assert all(row_new[1:] == row_old[:31] for row_old, row_new in zip(inp_old, inp_new))
    n = rendered(page)
    page.locator('button[data-shift="ArrowDown"]').click()
    settle(page, n)
    again = layer(last_forward(page), "conv1")["data"]
    assert all(again[c][y + 1][1:] == old[c][y][:27] for c in range(6) for y in range(27))


def test_keyboard_steps_through_units(page, live_server):
    open_page(page, live_server)
    draw(page, STROKES[1])
    page.locator('.layer[data-layer="conv2"] .layer-body').focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("PageDown")
    page.wait_for_function("() => { const u = window.__convscope.hover && window.__convscope.hover.unit;"
                           " return u && u.layer === 'conv2' && u.c === 1 && u.y === 1 && u.x === 2; }")
    assert int(page.locator("#input-rf").get_attribute("data-top")) == 2
    assert int(page.locator("#input-rf").get_attribute("data-left")) == 4
    page.keyboard.press("Enter")
    detail = page.locator("#detail")
    assert [detail.get_attribute(f"data-{k}") for k in ("layer", "channel", "y", "x")] == ["conv2", "1", "1", "2"]
    page.keyboard.press("Escape")
    assert detail.get_attribute("data-pinned") is None
    # every control is reachable with Tab, and labelled
    seen = set()
    page.locator("body").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        seen.add(page.evaluate("() => { const e = document.activeElement;"
                               " return e.id || e.dataset.shift || e.className || e.tagName; }"))
    for control in ("tool-pen", "tool-eraser", "brush", "undo", "clear", "ArrowLeft", "ArrowRight",
                    "show-steps", "upload", "color-scope", "drawpad-canvas", "layer-body", "layer-toggle"):
        assert control in seen, f"{control} is not reachable with Tab ({sorted(seen)})"
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('button, input, select, [tabindex="0"]')]
        .filter((e) => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim()))
        .map((e) => e.outerHTML.slice(0, 80))""")
    assert unlabelled == []


def test_works_offline(page, live_server, blocked_requests):
    """All assets come from the server, nothing from a CDN.  The layer view draws its probability
    chart itself and fetches no Plotly.js (1.2 MB of a first visit); the kernel lab's histogram is
    Plotly's, from the server's vendor route."""
    loaded = []
    page.on("requestfinished", lambda r: loaded.append(r.url))
    open_page(page, live_server)
    load_sample(page, 0)
    page.wait_for_function("() => document.querySelectorAll('.softmax-plot .softmax-frame .ytick text').length === 10")
    assert not any("/vendor/plotly" in url for url in loaded), "the layer view fetched Plotly.js"
    assert page.evaluate("() => typeof window.Plotly") == "undefined"
    page.goto(live_server + "/kernels")
    page.wait_for_function("() => typeof window.Plotly === 'object'", timeout=30_000)
    assert any(url == live_server + "/vendor/plotly.min.js" for url in loaded)
    assert all(url.startswith(live_server) or url.startswith("data:") for url in loaded), loaded
    assert blocked_requests == []


def test_layers_hide_and_colour_scope(page, live_server):
    open_page(page, live_server)
    load_sample(page, 3)
    page.locator('.layer[data-layer="relu1"] .layer-toggle').click()
    assert "collapsed" in page.locator('.layer[data-layer="relu1"]').get_attribute("class")
    assert page.evaluate("() => window.__convscope.state.get().hidden") == ["relu1"]
    page.locator('.layer[data-layer="relu1"] .layer-toggle').click()
    assert page.evaluate("() => window.__convscope.state.get().hidden") == []
    legend = page.locator('.layer[data-layer="conv1"] .legend')
    forward = last_forward(page)
    conv1 = layer(forward, "conv1")
    assert float(legend.get_attribute("data-hi")) == pytest.approx(max(abs(conv1["min"]), abs(conv1["max"])), rel=1e-6)
    page.select_option("#color-scope", "global")
    top = max(max(abs(e["min"]), abs(e["max"])) for e in forward["layers"] if e["kind"] != "softmax")
    assert float(legend.get_attribute("data-hi")) == pytest.approx(top, rel=1e-6)
    assert legend.get_attribute("data-scale") == "diverging"
    assert page.locator('.layer[data-layer="relu1"] .legend').get_attribute("data-scale") == "sequential"
    # the bars are the scales' own gradients, end to end (static/js/core/colors.js SCALES)
    ends = page.evaluate("""() => ['conv1', 'relu1'].map((name) => {
        const img = document.querySelector(`.layer[data-layer="${name}"] img.legend-bar`);
        const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = 1;
        const x = c.getContext('2d'); x.drawImage(img, 0, 0);
        const d = x.getImageData(0, 0, c.width, 1).data;
        return [Array.from(d.slice(0, 3)), Array.from(d.slice(-4, -1))]; })""")
    assert ends == [[[0x05, 0x30, 0x61], [0x67, 0x00, 0x1f]], [[0xff, 0xff, 0xff], [0x4d, 0x1a, 0x02]]]


def test_screenshots_of_the_main_states(page, live_server, screenshot):
    open_page(page, live_server)
    screenshot("layer-view-empty")
    draw(page, STROKES[7])
    page.check("#show-steps")
    page.wait_for_function("() => document.querySelectorAll('.step').length >= 4")
    screenshot("layer-view-drawn")
    page.mouse.move(*unit_point(page, "pool1", 2, 7, 6))
    screenshot("layer-view-hover-pool1")
    box = page.locator('.layer[data-layer="fc1"] canvas.vector').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.3)
    page.wait_for_function("() => window.__convscope.hover && window.__convscope.hover.unit.layer === 'fc1'")
    screenshot("layer-view-hover-fc1")


def test_tablet_viewport(page, live_server, screenshot):
    page.set_viewport_size({"width": 1024, "height": 768})
    open_page(page, live_server)
    draw(page, STROKES[1])
    page.mouse.click(*unit_point(page, "conv1", 0, 12, 14))
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, "the page scrolls sideways at 1024×768 (only the layer strip may)"
    screenshot("layer-view-1024x768")


def test_the_first_visit_asks_for_everything_at_once_compressed(page, live_server):
    """The HTML names every module the page runs and every API answer it reads before its first
    picture (preloads), so nothing waits for the import that names it; big bodies come compressed."""
    import html as html_lib
    import re
    served = []
    page.on("requestfinished", lambda r: served.append(r))
    open_page(page, live_server)
    with urllib.request.urlopen(live_server + "/") as resp:
        html = resp.read().decode()
    data = [html_lib.unescape(u) for u in re.findall(r'<link rel="preload" href="([^"]+)" as="fetch"', html)]
    modules = re.findall(r'<link rel="modulepreload" href="([^"]+)"', html)
    assert len(data) == 8 and len(modules) > 30
    gets = [r for r in served if r.method == "GET"]
    paths = [r.url[len(live_server):] for r in gets]
    api_paths = [p for p in paths if p.startswith("/api/")]
    assert sorted(set(api_paths)) == sorted(data), "the page read an API answer its HTML did not name"
    assert len(api_paths) == len(data), "a preloaded answer was fetched again (the URLs differ in mode or bytes)"
    js = {p for p in paths if p.startswith("/static/js/")}
    assert js == set(modules) | {"/static/js/main.js"}, js ^ (set(modules) | {"/static/js/main.js"})
    # Chromium asks for Brotli: the samples and the weights arrive compressed
    compressed = [r for r, p in zip(gets, paths) if p.startswith(("/api/samples", "/api/model/layers/fc1"))]
    assert len(compressed) == 2
    for r in compressed:
        assert r.response().header_value("content-encoding") == "br", r.url
    page.wait_for_function("() => document.querySelector('.softmax-plot svg.softmax-frame')")


def test_each_layer_has_a_note_with_its_numbers_and_its_tour_step(page, live_server):
    """The ? in a layer's header opens a few sentences on what the layer does, with the numbers the
    server gives for it (filters, window, maps, parameters, receptive field), and a way into the tour."""
    open_page(page, live_server)
    model = api(live_server, "/api/model")
    conv2 = next(d for d in model["layers"] if d["name"] == "conv2")
    page.locator('.layer-help[data-layer="conv2"]').click()
    note = page.locator("#layer-note")
    text = note.inner_text()
    c_out, h, w = conv2["output_shape"]
    kh, kw = conv2["window"]["kernel"]
    rf = conv2["receptive_field"]["size"]
    for words in (f"{c_out} filters", f"{kh}×{kw} window", f"all {conv2['input_shape'][0]} input maps",
                  f"{c_out} maps of {h}×{w}", f"{conv2['params']:,} learned parameters", f"{rf[0]}×{rf[1]} patch"):
        assert words in text, f"missing {words!r}: {text}"
    assert page.locator('.layer-help[data-layer="conv2"]').get_attribute("aria-expanded") == "true"
    box = note.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
    # its tour step opens the tour there
    note.locator(".layer-note-tour").click()
    page.wait_for_function("() => document.getElementById('tour') && document.getElementById('tour').dataset.stepId === 'conv2'")
    assert note.is_hidden()
    page.keyboard.press("Escape")
    # every layer has one; Escape closes it
    assert page.locator(".layer-help").count() == len(model["layers"])
    page.locator('.layer-help[data-layer="pool1"]').click()
    assert "the largest value of a 2×2 window" in note.inner_text()
    page.keyboard.press("Escape")
    assert note.is_hidden()


def test_camera_feeds_the_network_latest_only_and_says_when_refused(new_context, live_server):
    """Chromium's fake camera (a moving test pattern, conftest's launch flags) as the input: frames
    go out one at a time, each only after the last answer, the caption says so, and drawing takes the
    input back.  A page without camera access says why in words."""
    ctx = new_context(viewport={"width": 1366, "height": 768}, permissions=["camera"])
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    in_flight = {"now": 0, "most": 0, "sent": 0}

    def on_request(r):
        if r.url.endswith("/api/forward"):
            in_flight["now"] += 1
            in_flight["sent"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])

    def on_done(r):
        if r.url.endswith("/api/forward"):
            in_flight["now"] -= 1
    page.on("request", on_request)
    page.on("requestfinished", on_done)
    page.on("requestfailed", on_done)
    open_page(page, live_server)
    before = rendered(page)
    page.locator("#camera").click()
    page.wait_for_function("(n) => window.__convscope.rendered >= n + 4", arg=before, timeout=30_000)
    assert page.evaluate("() => window.__convscope.state.get().input.source") == "camera"
    assert page.locator("#input-source").inner_text() == "input: the camera, live"
    assert page.locator("#camera").get_attribute("aria-pressed") == "true"
    assert page.locator("#camera-video").is_visible()
    assert in_flight["most"] == 1, "a frame was sent while the last one was still on its way"
    # what the server drew is a 56×56 frame it was sent: the network input is its preprocessing
    assert np.asarray(last_forward(page)["input"]["data"]).shape == (1, 32, 32)
    # a stroke on the pad takes the input back and stops the camera
    draw(page, STROKES[1])
    assert page.evaluate("() => window.__convscope.state.get().input.source") == "drawing"
    assert page.locator("#camera").get_attribute("aria-pressed") == "false"
    n = in_flight["sent"]
    page.wait_for_timeout(400)
    assert in_flight["sent"] == n, "frames kept coming after the camera stopped"
    assert not errors, errors
    ctx.close()
    # a page that has no camera access says why, in words
    ctx = new_context(viewport={"width": 1366, "height": 768})
    ctx.add_init_script("Object.defineProperty(navigator, 'mediaDevices', {value: undefined})")
    page = ctx.new_page()
    open_page(page, live_server)
    page.locator("#camera").click()
    page.wait_for_function("() => document.getElementById('status').textContent.includes('camera')")
    assert "getUserMedia is missing" in page.locator("#status").inner_text()
    assert page.locator("#camera").get_attribute("aria-pressed") == "false"
    ctx.close()


def test_compare_before_and_after_a_shift(page, live_server):
    """The translation demo side by side: after a shift, the panel shows the chosen layer's maps
    before, after and their difference, and each layer's relative change, against two forward
    passes computed by the server itself."""
    open_page(page, live_server)
    sid = api(live_server, "/api/samples")["samples"][4]["id"]
    load_sample(page, sid)
    page.locator("#compare-details summary").click()
    page.wait_for_function("() => document.getElementById('compare').dataset.ready === 'false'")
    assert "Shift the input" in page.locator("#compare").inner_text()
    page.locator("#seen-title").click()
    for key in ("ArrowRight", "ArrowRight", "ArrowDown"):
        n = rendered(page)
        page.keyboard.press(key)
        settle(page, n)
    page.wait_for_function("() => document.getElementById('compare').dataset.ready === 'true'")
    image = np.array(api(live_server, f"/api/samples/{sid}")["image"]["data"], dtype=np.float32)
    before = np.pad(image, 2)
    after = np.zeros_like(before)
    after[1:, 2:] = before[:-1, :-2]
    fb = api(live_server, "/api/forward", {"image": before.tolist(), "preprocess": "none"})
    fa = api(live_server, "/api/forward", {"image": after.tolist(), "preprocess": "none"})
    rows = page.evaluate("""() => [...document.querySelectorAll('#compare .compare-changes tr[data-layer]')]
        .map((tr) => [tr.dataset.layer, Number(tr.dataset.change)])""")
    assert len(rows) == 1 + len(fb["layers"])            # the input, then every layer
    for (name, change), lb, la in zip(rows, [fb["input"], *fb["layers"]], [fa["input"], *fa["layers"]]):
        b, a = np.asarray(lb["data"], np.float64), np.asarray(la["data"], np.float64)
        assert name == lb.get("name", "input")
        expected = np.linalg.norm(a - b) / np.linalg.norm(b)
        assert change == pytest.approx(expected, rel=1e-4, abs=1e-6), name
    tiles = page.locator("#compare .compare-row")
    assert [tiles.nth(i).get_attribute("data-row") for i in range(3)] == ["before", "after", "after − before"]
    assert page.locator('#compare .compare-row[data-row="before"] canvas').count() == 6   # conv1's maps
    words = page.locator("#compare .compare-words").inner_text()
    assert "Shifted 1 row and 2 columns" in words
    assert f"before: {fb['prediction']['label']}" in words and f"after: {fa['prediction']['label']}" in words


def test_play_a_conv_units_window_over_its_map(page, live_server):
    """Pin a conv2 unit and play it: Step moves the pinned unit (and its arithmetic) along its map in
    raster order, the map fills in up to it (the rest blank paper), Play runs to the last position
    with the server's value there, Stop shows the whole map again."""
    sid = api(live_server, "/api/samples")["samples"][2]["id"]
    page.goto(f"{live_server}/#sample={sid}&pin=conv2:3:4:4")
    page.wait_for_function(READY, timeout=30_000)
    settle(page, 0)
    bar = page.locator(".conv-player")
    assert bar.is_visible()
    pixels = """() => { const cv = document.querySelector('canvas.tile[data-layer="conv2"][data-channel="3"]');
        return Array.from(cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data); }"""
    full = page.evaluate(pixels)
    detail = page.locator("#detail")
    step = bar.get_by_role("button", name="Step ▸")
    for _ in range(4):
        step.click()
    page.wait_for_function("() => document.getElementById('detail').dataset.x === '3'")
    assert (detail.get_attribute("data-y"), detail.get_attribute("data-x")) == ("0", "3")
    part = page.evaluate(pixels)
    n = 4 * 4                                   # 4 units shown, 4 bytes each
    assert part[:n] == full[:n]
    assert all(v == 255 for v in part[n:]), "the rest of the map is blank until the window gets there"
    assert bar.locator(".conv-where").inner_text() == "position 4 of 100: row 0, col 3"
    page.select_option('.conv-player select[aria-label="animation speed"]', "400")
    bar.get_by_role("button", name="▶ Play").click()
    page.wait_for_function("() => document.getElementById('detail').dataset.y === '9'"
                           " && document.getElementById('detail').dataset.x === '9'", timeout=10_000)
    image = api(live_server, f"/api/samples/{sid}")["image"]["data"]
    direct = api(live_server, "/api/forward", {"image": image, "preprocess": "none"})
    conv2 = next(x for x in direct["layers"] if x["name"] == "conv2")
    assert float(detail.get_attribute("data-value")) == pytest.approx(conv2["data"][3][9][9], abs=1e-6)
    assert page.evaluate(pixels) == full       # every position reached: the whole map again
    bar.get_by_role("button", name="■ Stop").click()
    assert page.evaluate(pixels) == full
    # pinning another layer's unit hides the player
    page.locator('canvas.tile[data-layer="pool1"][data-channel="0"]').click()
    page.wait_for_function("() => document.getElementById('detail').dataset.layer === 'pool1'")
    assert bar.is_hidden()


@pytest.mark.parametrize("queued", [0, 400])
def test_the_pen_paces_itself_by_the_servers_queue(page, live_server, queued):
    """Each forward's X-ConvScope-Queued (here set by the test on the real answers) moves the wait
    before the page's next forward (static/js/core/pacer.js: gain 0.5 around 6 ms, ±25 %): a long
    queue spaces the requests out, none keeps them back-to-back."""
    import time
    open_page(page, live_server)
    sent, answered = [], []

    def handle(route):
        sent.append(time.monotonic())
        response = route.fetch()
        answered.append(time.monotonic())   # before the page can have it: a sound lower bound
        route.fulfill(response=response, headers={**response.headers, "x-convscope-queued": str(queued)})
    page.route("**/api/forward", handle)
    box = page.locator(".drawpad-canvas").bounding_box()
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.2 * box["height"])
    page.mouse.down()
    t_end = time.monotonic() + 2.0
    k = 0
    while time.monotonic() < t_end:       # two seconds of drawing, a pen move every ~20 ms
        k += 1
        f = (k % 40) / 40
        page.mouse.move(box["x"] + (0.3 + 0.4 * f) * box["width"], box["y"] + (0.2 + 0.6 * f) * box["height"])
        page.wait_for_timeout(20)
    page.mouse.up()
    page.wait_for_function("() => !window.__convscope.busy()", timeout=30_000)
    page.unroute("**/api/forward")
    waits = [(sent[n] - answered[n - 1]) * 1000 for n in range(1, len(sent))]
    assert len(waits) >= 2, sent
    if queued == 0:   # no queue: some request follows its predecessor's answer at once
        assert min(waits) < 0.7 * 0.5 * (400 - 6), waits
        return
    gap = 0.0
    for n, waited in enumerate(waits, 1):
        gap = min(1000.0, gap + 0.5 * (queued - 6))
        assert waited >= 0.7 * gap, (n, waits)
