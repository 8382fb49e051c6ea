"""Classroom features in Chromium: shareable links on both pages (a fresh browser context reproduces
the view), the hide list, presentation mode, the guided tour by keyboard, the exports, the
architecture summary and the filter viewer.  Every non-loopback request is blocked (conftest).
Screenshots: test-output/screenshots/classroom-*.png.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from test_layer_view import STROKES, api, draw, last_forward, settle   # same folder (rootdir-relative imports)

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

READY = "() => window.__convscope && window.__convscope.lastForward !== null && !window.__convscope.busy()"


def open_view(page, url):
    page.set_default_timeout(30_000)
    page.goto(url)
    page.wait_for_function(READY, timeout=30_000)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def wait_input(page, sample_id):
    """Wait until the view shows sample `sample_id` (its forward pass drawn, nothing in flight)."""
    page.wait_for_function(
        "(id) => { const h = window.__convscope; const s = h && h.state.get();"
        " return h && h.lastForward && !h.busy() && s.input.source === 'sample' && s.input.sampleId === id; }",
        arg=sample_id)


@pytest.fixture(scope="module")
def sample_ids(live_server):
    samples = api(live_server, "/api/samples")["samples"]
    return {"first": samples[0]["id"], "other": samples[5]["id"]}


def copied_link(page):
    page.locator("#copy-link").click()
    field = page.locator("#share-url")
    expect(field).to_be_visible()
    value = field.input_value()
    assert value.startswith("http://127.0.0.1:")
    return value


def view_state(page):
    return page.evaluate("""() => {
      const h = window.__convscope, d = document.getElementById('detail').dataset;
      return {input: h.state.get().input, pinned: h.state.get().pinned, hidden: h.state.get().hidden,
              scope: document.getElementById('color-scope').value, label: h.lastForward.prediction && h.lastForward.prediction.label,
              probs: h.lastForward.prediction && h.lastForward.prediction.probabilities,
              detail: {layer: d.layer, channel: d.channel, y: d.y, x: d.x, value: d.value},
              collapsed: [...document.querySelectorAll('.layer.collapsed')].map((s) => s.dataset.layer)};
    }""")


# ---- shareable state ---------------------------------------------------------------------------
def test_link_reproduces_the_layer_view(page, fresh_page, live_server, sample_ids, screenshot):
    sid = sample_ids["other"]
    open_view(page, f"{live_server}/#sample={sid}&pin=conv1:2:10:12&collapse=relu2,relu4&scope=global"
                    "&hide=gallery,upload,eraser")
    wait_input(page, sid)
    state = view_state(page)
    assert state["detail"] == {"layer": "conv1", "channel": "2", "y": "10", "x": "12", "value": state["detail"]["value"]}
    assert state["collapsed"] == ["relu2", "relu4"] and state["scope"] == "global"
    image = api(live_server, f"/api/samples/{sid}")["image"]["data"]
    direct = api(live_server, "/api/forward", {"image": image, "preprocess": "none"})
    assert state["label"] == direct["prediction"]["label"]
    conv1 = next(x for x in direct["layers"] if x["name"] == "conv1")
    assert float(state["detail"]["value"]) == pytest.approx(conv1["data"][2][10][12], abs=1e-6)
    # the teacher's hide list
    expect(page.locator("#gallery")).to_be_hidden()
    expect(page.locator(".gallery-panel")).to_be_hidden()         # nothing left in it
    expect(page.locator("#tool-eraser")).to_be_hidden()
    expect(page.locator("#tool-pen")).to_be_visible()
    expect(page.locator("#drawpad canvas")).to_be_visible()
    screenshot("classroom-link-layer-view")

    link = copied_link(page)
    assert f"sample={sid}" in link and "pin=conv1:2:10:12" in link and "hide=gallery,upload,eraser" in link
    other = fresh_page()
    open_view(other, link)
    wait_input(other, sid)
    again = view_state(other)
    for key in ("input", "pinned", "hidden", "scope", "label", "probs", "detail", "collapsed"):
        assert again[key] == state[key], key
    expect(other.locator("#gallery")).to_be_hidden()
    expect(other.locator("#tool-eraser")).to_be_hidden()


def test_query_string_link_and_shift(page, live_server, sample_ids):
    sid = sample_ids["first"]
    open_view(page, f"{live_server}/?sample={sid}&shift=2,-1&steps=1")
    page.wait_for_function("() => window.__convscope.state.get().input.shift[0] === 2 && !window.__convscope.busy()"
                           " && window.__convscope.rendered >= 2")
    settle(page, 0)
    s = view_state(page)
    assert s["input"]["shift"] == [2, -1]
    expect(page.locator("#shift-readout")).to_have_text("shift 2, -1")
    expect(page.locator("#show-steps")).to_be_checked()
    # the shifted input is the sample moved down 2 and left 1 (the sample is padded 28 → 32 by 2)
    sample = np.pad(np.array(api(live_server, f"/api/samples/{sid}")["image"]["data"], dtype=np.float32), 2)
    shifted = np.zeros_like(sample)
    shifted[2:, :-1] = sample[:-2, 1:]
    seen = np.array(last_forward(page)["input"]["data"][0], dtype=np.float32)
    assert np.abs(seen - shifted).max() < 1e-4
    page.wait_for_function("() => location.hash.includes('shift=2,-1')")


def test_drawing_travels_in_the_link(page, fresh_page, live_server):
    open_view(page, live_server + "/")
    draw(page, STROKES[7])
    first = last_forward(page)
    link = copied_link(page)
    assert "draw=q4" in link
    code = link.split("draw=")[1].split("&")[0]
    assert len(code) == 2 + math.ceil(512 * 4 / 3)
    other = fresh_page()
    open_view(other, link)
    again = last_forward(other)
    a = np.array(first["input"]["data"], dtype=np.float32)
    b = np.array(again["input"]["data"], dtype=np.float32)
    assert np.abs(a - b).max() <= 1 / 30 + 1e-6, "4-bit quantisation: at most half a step per pixel"
    assert again["prediction"]["label"] == first["prediction"]["label"]
    assert not other.evaluate("() => window.__convscope.drawpad.isBlank()"), "the pad shows the linked drawing"
    assert other.evaluate("() => window.__convscope.state.get().input.source") == "drawing"


def test_tool_and_brush_travel_in_the_link(page, live_server, sample_ids):
    sid = sample_ids["first"]
    open_view(page, f"{live_server}/#sample={sid}&tool=eraser&brush=40")
    wait_input(page, sid)
    expect(page.locator("#tool-eraser")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#tool-pen")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#brush")).to_have_value("40")
    assert page.evaluate("() => [window.__convscope.state.get().tool, window.__convscope.state.get().brush]") == ["eraser", 40]
    page.wait_for_function("() => location.hash.includes('tool=eraser') && location.hash.includes('brush=40')")
    # back to the defaults: both keys leave the URL
    page.locator("#tool-pen").click()
    page.locator("#brush").fill("22")
    page.wait_for_function("() => !location.hash.includes('tool=') && !location.hash.includes('brush=')")
    # out-of-range values are reported and ignored, never thrown
    open_view(page, f"{live_server}/?sample={sid}&tool=spray&brush=99")
    assert page.evaluate("() => window.__convscope.linkProblems.length") == 2
    expect(page.locator("#tool-pen")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#brush")).to_have_value("22")
    # …and said on the page, in a note that can be dismissed
    note = page.locator("#link-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("tool must be one of")
    expect(note).to_contain_text("brush")
    note.get_by_role("button", name="Dismiss this note").click()
    expect(note).to_be_hidden()


def test_digit_means_its_label_and_an_edited_hash_applies(page, live_server):
    samples = api(live_server, "/api/samples")["samples"]
    threes = [s for s in samples if s["label"] == 3]
    open_view(page, f"{live_server}/#digit=3")
    wait_input(page, threes[0]["id"])
    expect(page.locator("#input-source")).to_contain_text("label 3")
    expect(page.locator("#link-note")).to_be_hidden()
    page.wait_for_function(f"() => location.hash === '#sample={threes[0]['id']}'")
    # an old link's sample id in digit= is a visible problem, not a silent other digit
    open_view(page, f"{live_server}/#digit=12")
    expect(page.locator("#link-note")).to_contain_text("sample=12")
    # the hash edited in place (the address bar): a pin and a new input are applied at once …
    page.evaluate(f"() => {{ location.hash = 'sample={threes[1]['id']}&pin=conv1:4:9:11'; }}")
    wait_input(page, threes[1]["id"])
    expect(page.locator("#detail")).to_have_attribute("data-layer", "conv1")
    expect(page.locator("#detail")).to_have_attribute("data-channel", "4")
    expect(page.locator("#link-note")).to_be_hidden()
    # … and what the edited hash leaves out goes back to its default (no pin), the input kept
    page.evaluate(f"() => {{ location.hash = 'sample={threes[1]['id']}&scope=global'; }}")
    page.wait_for_function("() => window.__convscope.state.get().pinned === null")
    expect(page.locator("#color-scope")).to_have_value("global")
    assert page.evaluate("() => window.__convscope.state.get().input.sampleId") == threes[1]["id"]


LAB_LINK = "#src=numbers7&k=sobel_y&s=2&pad=same&d=2&act=relu&pool=max&ps=2&pst=1&hide=histogram,upload"


def lab_settings(page):
    return page.evaluate("""() => ({
      source: document.getElementById('source').value, preset: document.getElementById('preset').value,
      stride: document.querySelector('input[name="stride"]').value,
      padding: [...document.querySelectorAll('.radios-paddingMode input')].find((i) => i.checked).value,
      dilation: document.querySelector('input[name="dilation"]').value,
      activation: document.querySelector('select[name="activation"]').value,
      pool: document.querySelector('select[name="poolKind"]').value,
      poolSize: document.querySelector('input[name="poolSize"]').value,
      poolStride: document.querySelector('input[name="poolStride"]').value,
      kernel: [...document.querySelectorAll('.kernel-grid input')].map((i) => i.value),
    })""")


def test_kernel_lab_link_reproduces_settings(page, fresh_page, live_server, screenshot):
    page.set_default_timeout(30_000)
    page.goto(f"{live_server}/kernels{LAB_LINK}")
    expect(page.locator("body")).to_have_attribute("data-lab", "ready")
    got = lab_settings(page)
    assert got == {"source": "numbers7", "preset": "sobel_y", "stride": "2", "padding": "same", "dilation": "2",
                   "activation": "relu", "pool": "max", "poolSize": "2", "poolStride": "1",
                   "kernel": ["-1", "-2", "-1", "0", "0", "0", "1", "2", "1"]}
    expect(page.locator("#histogram-panel")).to_be_hidden()
    expect(page.locator('label[for="upload"]')).to_be_hidden()
    expect(page.locator("#formula-panel")).to_be_visible()
    formula = page.locator('.formula-row[data-what="conv"][data-axis="height"]').get_attribute("data-out")
    link = copied_link(page)
    other = fresh_page()
    other.set_default_timeout(30_000)
    other.goto(link)
    expect(other.locator("body")).to_have_attribute("data-lab", "ready")
    assert lab_settings(other) == got
    assert other.locator('.formula-row[data-what="conv"][data-axis="height"]').get_attribute("data-out") == formula
    expect(other.locator("#histogram-panel")).to_be_hidden()
    # presentation mode in the lab: by key and in the URL
    other.locator("body").press("p")
    other.wait_for_function("() => document.documentElement.classList.contains('present') && location.hash.includes('present=1')")
    expect(other.locator("body")).to_have_attribute("data-lab", "ready")
    screenshot("classroom-lab-link")
    other.screenshot(path=str(OUTPUT / "classroom-lab-present.png"))


# ---- presentation mode -------------------------------------------------------------------------
def sizes(page):
    return page.evaluate("""() => {
      const px = (el) => parseFloat(getComputedStyle(el).fontSize);
      const tile = document.querySelector('canvas.tile[data-layer="conv1"]').getBoundingClientRect();
      return {name: px(document.querySelector('.layer[data-layer="conv1"] .layer-name')),
              root: px(document.documentElement), tile: tile.width,
              outline: parseFloat(getComputedStyle(document.querySelector('canvas.tile')).outlineWidth),
              detail: px(document.querySelector('#detail h2')),
              scale: document.querySelector('.layer[data-layer="conv1"] .legend').dataset.scale,
              tools: !!document.querySelector('.tools').offsetParent};
    }""")


def test_presentation_mode_enlarges_the_view(page, live_server, sample_ids, screenshot):
    open_view(page, f"{live_server}/#sample={sample_ids['first']}&pin=conv1:0:12:12")
    wait_input(page, sample_ids["first"])
    before = sizes(page)
    page.locator("body").press("p")
    page.wait_for_function("() => document.documentElement.classList.contains('present') && location.hash.includes('present=1')")
    page.evaluate("() => new Promise((r) => setTimeout(r, 300))")
    after = sizes(page)
    assert after["root"] >= 1.35 * before["root"]
    assert after["name"] >= 1.35 * before["name"] and after["name"] >= 24
    assert after["detail"] >= 1.35 * before["detail"]
    assert after["tile"] >= 1.45 * before["tile"]
    assert after["outline"] >= 3 * before["outline"]
    assert before["scale"] == "diverging" and after["scale"] == "glow", "high-contrast colour maps while presenting"
    assert before["tools"] and not after["tools"], "controls are tucked away"
    expect(page.locator("#present-toggle")).to_have_attribute("aria-pressed", "true")
    screenshot("classroom-present", full_page=False)
    page.select_option("#palette", "cvd")
    expect(page.locator('.layer[data-layer="conv1"] .legend')).to_have_attribute("data-scale", "blue_orange")
    expect(page.locator('.layer[data-layer="relu1"] .legend')).to_have_attribute("data-scale", "viridis")
    page.wait_for_function("() => location.hash.includes('cmap=cvd')")
    screenshot("classroom-present-cvd", full_page=False)
    page.locator("#present-toggle").click()
    page.wait_for_function("() => !document.documentElement.classList.contains('present')")
    assert sizes(page)["tile"] == pytest.approx(before["tile"])


def detail_fit(page):
    """How the pinned panel's content fits: overflow (px clipped sideways) and the widest table cell."""
    return page.evaluate("""() => {
      const host = document.getElementById('detail-host'), r = host.getBoundingClientRect();
      const cells = [...host.querySelectorAll('.cell')].map((c) => c.getBoundingClientRect());
      return {overflow: host.scrollWidth - host.clientWidth, cells: cells.length,
              widest: Math.max(...cells.map((c) => c.width)),
              outside: cells.filter((c) => c.right > r.right + 0.5 || c.left < r.left - 0.5).length};
    }""")


def test_pinned_pool_window_is_compact(page, live_server, sample_ids, screenshot):
    """A pinned 2×2 pool window, in the normal view and then presenting (P)."""
    sid = sample_ids["first"]
    open_view(page, f"{live_server}/#sample={sid}&pin=pool1:5:10:7")
    wait_input(page, sid)
    for present in (False, True):
        if present:
            page.locator("body").press("p")
            page.wait_for_function("() => document.documentElement.classList.contains('present')")
            page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        expect(page.locator("#detail")).to_have_attribute("data-kind", "maxpool")
        fit = detail_fit(page)
        assert fit["cells"] == 4 and fit["overflow"] <= 0 and fit["outside"] == 0
        assert fit["widest"] < 140, f"the 2×2 window's cells stretch across the panel ({fit['widest']:.0f} px)"
        screenshot("classroom-present-pinned-pool1" if present else "layer-view-pinned-pool1", full_page=False)


def test_pinned_conv_panel_wraps_when_presenting(page, live_server, sample_ids, screenshot):
    """A pinned conv2 unit's 6 × 25 cells while presenting at 1920×1080, then resized to a 1024×768 projector."""
    sid = sample_ids["first"]
    open_view(page, f"{live_server}/#sample={sid}&pin=conv2:3:4:4&present=1")
    wait_input(page, sid)
    for size in ((1920, 1080), (1024, 768)):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        expect(page.locator("#detail")).to_have_attribute("data-layer", "conv2")
        fit = detail_fit(page)
        assert fit["cells"] == 6 * 3 * 25
        assert fit["overflow"] <= 0 and fit["outside"] == 0, f"the conv tables are clipped at {size}: {fit}"
        assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        name = "classroom-present-pinned-conv2" + ("" if size[0] == 1920 else f"-{size[0]}x{size[1]}")
        screenshot(name, full_page=False)


def test_lab_presentation_enlarges_the_canvases(page, live_server):
    """P enlarges the lab's canvases at 1920×1080; after leaving, resizing to 1024×768 and
    presenting there, the text grows and the canvases are no smaller (a 768-px screen has no height
    to spare: test_layout checks that the map and the pixel's arithmetic are on it together)."""
    page.set_default_timeout(30_000)
    page.goto(f"{live_server}/kernels#src=numbers7&k=sharpen&pad=same&pool=max")
    expect(page.locator("body")).to_have_attribute("data-lab", "ready")
    widths = "() => ['input-view', 'output-view', 'pool-view'].map((id) => document.querySelector(`#${id} canvas.layer-base`).getBoundingClientRect().width)"
    frames = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
    for size in ((1920, 1080), (1024, 768)):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        if page.evaluate("() => document.documentElement.classList.contains('present')"):
            page.locator("body").press("p")
            page.wait_for_function("() => !document.documentElement.classList.contains('present')")
        expect(page.locator("body")).to_have_attribute("data-lab", "ready")
        page.evaluate(frames)
        before = page.evaluate(widths)
        page.locator("body").press("p")
        page.wait_for_function("() => document.documentElement.classList.contains('present') && location.hash.includes('present=1')")
        expect(page.locator("body")).to_have_attribute("data-lab", "ready")
        page.evaluate(frames)
        after = page.evaluate(widths)
        if size[0] == 1920:
            assert after[0] >= 1.2 * before[0] and after[1] >= 1.2 * before[1], (size, before, after)
            assert min(after[:2]) > 600 and after[2] > before[2]
        else:
            assert after[0] >= before[0] and after[1] >= before[1], (size, before, after)
            font = "() => parseFloat(getComputedStyle(document.documentElement).fontSize)"
            assert page.evaluate(font) >= 1.4 * 15, "presenting enlarges the text"
        assert page.evaluate("() => document.documentElement.scrollWidth") <= size[0], "horizontal scrolling while presenting"
        page.screenshot(path=str(OUTPUT / f"classroom-lab-present-{size[0]}x{size[1]}.png"), full_page=False)


# ---- the guided tour ---------------------------------------------------------------------------
EXPECTED_STEPS = ["input", "conv", "featuremap", "relu", "pool", "conv2", "pool2", "flatten", "dense", "softmax"]
PINNED_KIND = {"input": "input", "conv": "conv", "relu": "relu", "pool": "maxpool", "conv2": "conv",
               "flatten": "flatten", "dense": "dense", "softmax": "softmax"}


def tour_step(page):
    return page.evaluate("() => { const t = document.getElementById('tour'); return t.hidden ? null : "
                         "{i: Number(t.dataset.step), id: t.dataset.stepId, focus: t.contains(document.activeElement)}; }")


def test_tour_walks_every_step_by_keyboard(page, live_server, sample_ids, screenshot):
    open_view(page, f"{live_server}/#sample={sample_ids['first']}")
    wait_input(page, sample_ids["first"])
    page.locator("#tour-start").focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.getElementById('tour').hidden")
    seen = []
    for i, expected in enumerate(EXPECTED_STEPS):
        step = tour_step(page)
        assert step["i"] == i and step["id"] == expected and step["focus"], step
        seen.append(step["id"])
        spot = page.evaluate("() => [...document.querySelectorAll('.tour-spot')].map((e) => e.dataset.layer || e.id)")
        assert spot, f"step {expected} highlights nothing"
        if expected in PINNED_KIND:
            expect(page.locator("#detail")).to_have_attribute("data-kind", PINNED_KIND[expected])
        text = page.locator("#tour-body").inner_text()
        assert len(text) > 80
        screenshot(f"classroom-tour-{i + 1:02d}-{expected}", full_page=False)
        if i < len(EXPECTED_STEPS) - 1:
            page.keyboard.press("ArrowRight" if i % 2 == 0 else "n")
            page.wait_for_function("(i) => Number(document.getElementById('tour').dataset.step) === i", arg=i + 1)
    assert seen == EXPECTED_STEPS
    # the conv step shows the real arithmetic of the pinned conv1 unit
    for i in range(len(EXPECTED_STEPS) - 1, 0, -1):
        page.keyboard.press("ArrowLeft" if i % 2 else "b")
        page.wait_for_function("(i) => Number(document.getElementById('tour').dataset.step) === i", arg=i - 1)
    assert tour_step(page)["id"] == "input"
    page.keyboard.press("n")
    page.wait_for_function("() => document.getElementById('tour').dataset.stepId === 'conv'")
    detail = page.locator("#detail")
    assert abs(float(detail.get_attribute("data-computed")) - float(detail.get_attribute("data-value"))) < 1e-4
    assert "tour=2" in page.evaluate("() => new Promise((r) => setTimeout(() => r(location.hash), 300))")
    page.keyboard.press("Escape")
    expect(page.locator("#tour")).to_be_hidden()
    assert not page.evaluate("() => document.body.classList.contains('touring')")
    assert page.evaluate("() => document.querySelectorAll('.tour-spot').length") == 0


def test_tour_on_a_blank_pad_loads_a_digit(page, live_server):
    open_view(page, f"{live_server}/#tour=5")
    page.wait_for_function("() => document.getElementById('tour').dataset.stepId === 'pool'"
                           " && window.__convscope.state.get().input.source === 'sample'")
    expect(page.locator("#detail")).to_have_attribute("data-kind", "maxpool")


# ---- understanding the model -------------------------------------------------------------------
def test_summary_totals_match_the_api(page, live_server):
    open_view(page, live_server + "/")
    model = api(live_server, "/api/model")
    rows = page.locator("#summary-table tbody tr")
    expect(rows).to_have_count(len(model["layers"]))
    for layer in model["layers"]:
        row = page.locator(f'#summary-table tbody tr[data-layer="{layer["name"]}"]')
        assert int(row.get_attribute("data-params")) == layer["params"]
        if layer.get("params_formula"):
            expect(row.locator(".formula")).to_have_text(layer["params_formula"])
        expect(row).to_contain_text("×".join(map(str, layer["output_shape"])))
    total = int(page.locator("#summary-total").get_attribute("data-total"))
    assert total == sum(layer["params"] for layer in model["layers"])
    expect(page.locator("#summary-total")).to_have_text(f"{total:,}")
    expect(page.locator('#summary-table tr[data-layer="conv2"]')).to_contain_text("14×14, jump 2")


def test_filter_click_opens_the_kernel_lab(page, live_server, sample_ids, screenshot):
    sid = sample_ids["first"]
    open_view(page, f"{live_server}/#sample={sid}")
    wait_input(page, sid)
    weights = api(live_server, "/api/model/layers/conv2/weights")["weight"]
    assert page.locator('a.filter[data-layer="conv1"]').count() == 6
    assert page.locator('a.filter[data-layer="conv2"]').count() == 16 * 6
    first = page.locator('a.filter[data-layer="conv2"][data-filter="0"][data-channel="0"]')
    first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => [document.activeElement.dataset.filter, document.activeElement.dataset.channel]") == ["1", "1"]
    assert page.locator('a.filter[data-layer="conv2"][tabindex="0"]').count() == 1, "one Tab stop per layer"
    page.locator("#filters-details").scroll_into_view_if_needed()
    screenshot("classroom-model-panel", full_page=False)
    page.locator('a.filter[data-layer="conv2"][data-filter="3"][data-channel="1"]').click()
    page.wait_for_url("**/kernels#**")
    expect(page.locator("body")).to_have_attribute("data-lab", "ready")
    assert page.locator("#preset").input_value() == "custom"
    assert page.locator("#source").input_value() == f"sample:{sid}"
    expect(page.locator(".preset-explain")).to_contain_text("conv2 filter 3, input map 1")
    cells = page.locator(".kernel-grid input")
    expect(cells).to_have_count(25)
    got = np.array([float(t) for t in cells.evaluate_all("(xs) => xs.map((x) => x.title)")], dtype=np.float32)
    want = np.array(weights["data"][3][1], dtype=np.float32).ravel()
    assert np.array_equal(got, want), "the lab's kernel holds the exact trained weights"
    screenshot("classroom-filter-in-lab")


# ---- export ------------------------------------------------------------------------------------
def test_export_png_and_json(page, live_server, sample_ids, tmp_path):
    sid = sample_ids["other"]
    open_view(page, f"{live_server}/#sample={sid}&collapse=flatten")
    wait_input(page, sid)
    with page.expect_download() as info:
        page.locator("#export-png").click()
    png = tmp_path / "view.png"
    info.value.save_as(png)
    assert info.value.suggested_filename == "convscope-view.png"
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    from PIL import Image
    with Image.open(png) as im:
        assert im.width > 1200 and im.height > 300
        colours = np.asarray(im.convert("RGB").resize((64, 16))).reshape(-1, 3)
        assert len({tuple(c) for c in colours}) > 20, "the PNG holds the coloured maps"

    with page.expect_download() as info:
        page.locator("#export-json").click()
    path = tmp_path / "forward.json"
    info.value.save_as(path)
    saved = json.loads(path.read_text())
    image = api(live_server, f"/api/samples/{sid}")["image"]["data"]
    direct = api(live_server, "/api/forward", {"image": image, "preprocess": "none"})
    assert saved["prediction"]["label"] == direct["prediction"]["label"]
    assert saved["prediction"]["probabilities"] == pytest.approx(direct["prediction"]["probabilities"], abs=1e-7)
    assert [x["name"] for x in saved["layers"]] == [x["name"] for x in direct["layers"]]
    assert saved["input"] == direct["input"]
