"""The defects of "Every screen a classroom has", each pinned by a test in Debian's Chromium: the
global colour range of non-negative layers, the empty pad, where the input came from, hover and
click agreeing on dense columns, the softmax's arithmetic, Clear/Undo while presenting, the
preprocessing strip after a shift and the tooltip's words."""
from __future__ import annotations

import math

import pytest

from test_layer_view import (STROKES, api, draw, last_forward, layer, load_sample, open_page, rendered,
                             settle, unit_point)


def tile_pixels(page, layer_name):
    """Every tile of a map layer as [[r, g, b] per unit] (channel-major), read back from its canvas."""
    return page.evaluate("""(name) => [...document.querySelectorAll(`canvas.tile[data-layer="${name}"]`)]
        .map((cv) => { const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
                       const out = []; for (let i = 0; i < d.length; i += 4) out.push([d[i], d[i + 1], d[i + 2]]);
                       return out; })""", layer_name)


# ---- 1. the global colour range keeps zero at the bottom of a non-negative layer's scale ------------
def test_global_scope_starts_non_negative_layers_at_zero(page, live_server):
    open_page(page, live_server)
    load_sample(page, 3)
    page.select_option("#color-scope", "global")
    forward = last_forward(page)
    assert min(e["min"] for e in forward["layers"] if e["kind"] != "softmax") < 0, "the test needs a negative layer"
    top = max(e["max"] for e in forward["layers"] if e["kind"] != "softmax")
    for name in ("relu1", "pool1", "relu2"):
        legend = page.locator(f'.layer[data-layer="{name}"] .legend')
        assert legend.get_attribute("data-scale") == "sequential"
        assert float(legend.get_attribute("data-lo")) == 0, f"{name}: zero must be the scale's first colour"
        assert float(legend.get_attribute("data-hi")) == pytest.approx(top, rel=1e-6)
    relu = layer(forward, "relu1")
    pixels = tile_pixels(page, "relu1")
    zeros = [pixels[c][y * 28 + x] for c in range(6) for y in range(28) for x in range(28)
             if relu["data"][c][y][x] == 0]
    assert zeros and all(p == [255, 255, 255] for p in zeros), "a zero of a ReLU is white (paper), as per layer"
    colours = {tuple(p) for tile in pixels for p in tile}
    assert len(colours) >= 12, f"relu1 is nearly one flat colour under the global range ({len(colours)} colours)"


# ---- 2. nothing drawn: an empty state, not glowing bias maps --------------------------------------
def test_empty_pad_shows_an_empty_state_not_stretched_biases(page, live_server):
    open_page(page, live_server)
    assert last_forward(page)["empty"]
    note = page.locator("#layers-empty")
    assert note.is_visible() and "Nothing drawn" in note.inner_text()
    # bias-only maps (a few hundredths) are drawn almost white, not stretched to the full scale
    for name in ("conv1", "relu1", "conv2"):
        pixels = tile_pixels(page, name)
        worst = max(255 - min(p) for tile in pixels for p in tile)
        assert worst <= 24, f"{name} glows on an empty pad (a channel {worst} below white)"
    assert float(page.locator('.layer[data-layer="conv1"] .legend').get_attribute("data-hi")) >= 1
    draw(page, STROKES[7])
    assert not note.is_visible()
    pixels = tile_pixels(page, "conv1")
    assert max(255 - min(p) for tile in pixels for p in tile) > 100, "a drawing uses the full scale again"
    page.locator("#clear").click()
    page.wait_for_function("() => window.__convscope.lastForward.empty && !window.__convscope.busy()")
    page.wait_for_function("() => !document.getElementById('layers-empty').hidden")


# ---- 3. a gallery digit or an upload replaces the drawing, and the page says where the input came from
def pad_is_blank(page):
    return page.evaluate("""() => { const cv = document.querySelector('.drawpad-canvas');
        const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
        for (let i = 0; i < d.length; i += 4) if (d[i] > 0) return false; return true; }""")


def test_gallery_pick_clears_the_pad_and_says_the_source(page, live_server):
    open_page(page, live_server)
    caption = page.locator("#input-source")
    assert caption.is_visible() and "nothing" in caption.inner_text()
    draw(page, STROKES[7])
    assert caption.inner_text() == "input: your drawing"
    assert not pad_is_blank(page)
    target = api(live_server, "/api/samples")["samples"][3]
    load_sample(page, target["id"])
    assert pad_is_blank(page), "the old drawing is still on the pad after picking a digit"
    assert caption.inner_text() == f"input: MNIST test digit #{target['index']} (label {target['label']})"
    # a new stroke starts a fresh drawing: only the stroke, not the old 7 plus the stroke
    draw(page, STROKES[1])
    assert caption.inner_text() == "input: your drawing"
    assert page.evaluate("() => window.__convscope.state.get().input.source") == "drawing"
    forward = last_forward(page)
    only_one = api(live_server, "/api/forward", {"image": page.evaluate(
        "() => window.__convscope.drawpad.snapshot(56)")})
    assert forward["input"] == only_one["input"]
    inp = forward["input"]["data"][0]
    # a lone vertical stroke: the 1 is narrow (the old 7's bar would make it wide)
    cols = [x for x in range(32) if any(inp[y][x] > 0.5 for y in range(32))]
    assert len(cols) <= 8, f"the new drawing is {len(cols)} px wide: the old drawing came back"
    assert forward["prediction"]["label"] == 1
    # Undo brings the drawing before the stroke back (the pad after the pick: blank)
    n = rendered(page)
    page.locator("#undo").click()
    settle(page, n)
    assert pad_is_blank(page)


def test_upload_clears_the_pad_and_names_the_file(page, live_server, tmp_path):
    import base64
    open_page(page, live_server)
    draw(page, STROKES[7])
    png = page.evaluate("() => { const c = document.createElement('canvas'); c.width = c.height = 28;"
                        " const x = c.getContext('2d'); x.fillStyle = '#fff'; x.fillRect(0, 0, 28, 28);"
                        " x.fillStyle = '#000'; x.fillRect(12, 4, 4, 20); return c.toDataURL('image/png'); }")
    path = tmp_path / "one.png"
    path.write_bytes(base64.b64decode(png.split(",", 1)[1]))
    n = rendered(page)
    page.set_input_files("#upload", str(path))
    settle(page, n)
    assert page.locator("#input-source").inner_text() == "input: upload one.png"
    assert pad_is_blank(page)
    assert page.evaluate("() => window.__convscope.state.get().input.source") == "upload"


# ---- 4. hover and click name the same unit, at fractional pointer coordinates ----------------------
def test_hover_and_click_agree_at_fractional_points(page, live_server):
    """Dense fc1 rows, then conv1 map pixels, on one page."""
    open_page(page, live_server)
    load_sample(page, 1)
    for where in ("fc1", "conv1"):
        sel = f'.layer[data-layer="{where}"] canvas.vector' if where == "fc1" else 'canvas.tile[data-layer="conv1"][data-channel="0"]'
        box = page.locator(sel).bounding_box()
        rows, cols = page.evaluate(f"() => {{ const c = document.querySelector('{sel}'); return [c.height, c.width]; }}")
        unit_h, unit_w = box["height"] / rows, box["width"] / cols
        checked = 0
        for k in (11, 36, 57, 90) if where == "fc1" else (5, 12, 19):
            # just past the top edge of row k (and column k of a map): a whole-pixel click lands a row up
            y = box["y"] + k * unit_h + 0.1
            if math.floor(y) >= box["y"] + k * unit_h:
                y += 0.8 - (y % 1)           # keep the point fractional and past the edge
            x = box["x"] + (0.5 * box["width"] if where == "fc1" else k * unit_w + 0.1)
            page.mouse.move(x, y)
            page.wait_for_function("([l, x, y]) => { const h = window.__convscope.hover;"
                                   " return h && h.unit.layer === l; }", arg=[where, x, y])
            page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
            hovered = page.evaluate("() => window.__convscope.hover.unit")
            page.mouse.click(x, y)
            detail = page.locator("#detail")
            page.wait_for_function("(l) => document.getElementById('detail').dataset.layer === l", arg=where)
            pinned = {k2: int(detail.get_attribute(f"data-{a}")) for k2, a in (("c", "channel"), ("y", "y"), ("x", "x"))}
            assert pinned == {k2: hovered[k2] for k2 in ("c", "y", "x")}, f"hover says {hovered}, the click pinned {pinned}"
            expect_row = int((y - box["y"]) // unit_h)
            if where == "fc1":
                assert hovered["c"] == expect_row
            else:
                assert (hovered["y"], hovered["x"]) == (expect_row, int((x - box["x"]) // unit_w))
            checked += 1
            page.keyboard.press("Escape")
        assert checked


# ---- 5. the softmax: hover and click, and its arithmetic with numbers that are not all zeros ------
def softmax_row_point(page, digit):
    """Viewport coordinates in digit's row of the softmax chart, right of its (tiny) bar."""
    return page.evaluate("""(d) => {
        const plot = document.querySelector('.softmax-plot');
        const tick = [...plot.querySelectorAll('.ytick text')].find((t) => t.textContent.trim() === String(d));
        const area = plot.querySelector('.nsewdrag, .draglayer rect, .bglayer rect');
        const t = tick.getBoundingClientRect();
        const a = area ? area.getBoundingClientRect() : plot.getBoundingClientRect();
        return [a.left + a.width * 0.6, t.top + t.height / 2]; }""", digit)


def test_softmax_hover_click_and_arithmetic(page, live_server):
    open_page(page, live_server)
    load_sample(page, 1)
    forward = last_forward(page)
    logits = layer(forward, "fc3")["data"]
    probs = forward["prediction"]["probabilities"]
    label = forward["prediction"]["label"]
    digit = min(range(10), key=lambda i: probs[i])      # the least likely digit: a tiny probability
    assert probs[digit] < 1e-4, "the test wants a tiny probability"
    x, y = softmax_row_point(page, digit)
    page.mouse.move(x, y)
    page.wait_for_function("(d) => { const h = window.__convscope.hover;"
                           " return h && h.unit.layer === 'softmax' && h.unit.c === d; }", arg=digit)
    tooltip = page.locator(".unit-tooltip")
    page.wait_for_function("() => !document.querySelector('.unit-tooltip').hidden")
    text = tooltip.inner_text()
    assert f"digit {digit}" in text and "softmax" in text and "0.0000" not in text, text
    page.mouse.click(x, y)
    detail = page.locator("#detail")
    page.wait_for_function("() => document.getElementById('detail').dataset.layer === 'softmax'")
    assert int(detail.get_attribute("data-channel")) == digit
    assert float(detail.get_attribute("data-value")) == layer(forward, "softmax")["data"][digit]
    shift = max(logits)
    exps = [math.exp(z - shift) for z in logits]
    total = sum(exps)
    assert float(detail.get_attribute("data-shift")) == pytest.approx(shift, rel=1e-6)
    assert float(detail.get_attribute("data-sum-exp")) == pytest.approx(total, rel=1e-5)
    assert float(detail.get_attribute("data-logit")) == pytest.approx(logits[digit], rel=1e-6)
    rows = page.evaluate("""() => [...document.querySelectorAll('#detail table.softmax-terms tr[data-digit]')]
        .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent))""")
    assert len(rows) == 10
    for i, (d, z, zm, e, p) in enumerate(rows):
        assert int(d) == i
        assert float(z) == pytest.approx(logits[i], abs=6e-5)
        assert float(zm) == pytest.approx(logits[i] - shift, abs=6e-5)
        assert float(e) == pytest.approx(exps[i], rel=2e-3, abs=6e-5)
        assert float(p) == pytest.approx(probs[i], rel=2e-3, abs=6e-5), f"digit {i}: {p} vs {probs[i]}"
        assert float(p) != 0 and "0.0000" not in (e, p), f"digit {i} reads as zero: {e}, {p}"
    assert "e-" in rows[digit][4], "a tiny probability is written in scientific notation"
    body = detail.inner_text()
    assert "max z" in body and "Σ exp(z − max)" in body
    assert label == probs.index(max(probs))
    # the bars (charts.js lays them over its SVG frame): each as long as its probability on the
    # frame's x axis (its tick labels' centres), centred on its digit's tick label, the predicted
    # one in its colour
    page.wait_for_function("() => document.querySelectorAll('.softmax-plot .xtick text').length >= 2")
    geo = page.evaluate("""() => {
        const plot = document.querySelector('.softmax-plot');
        const mid = (r) => [r.left + r.width / 2, r.top + r.height / 2];
        const ticks = (sel) => Object.fromEntries([...plot.querySelectorAll(sel)]
            .map((t) => [t.textContent.trim(), mid(t.getBoundingClientRect())]));
        const bars = [...plot.querySelectorAll('.softmax-bar')].map((b) => {
            const r = b.getBoundingClientRect();
            return {left: r.left, width: r.width, mid: r.top + r.height / 2,
                    predicted: b.classList.contains('predicted-bar')}; });
        return {x: ticks('.xtick text'), y: ticks('.ytick text'), bars}; }""")
    x0, x1 = geo["x"]["0"][0], geo["x"]["1"][0]
    assert len(geo["bars"]) == 10
    for i, bar in enumerate(geo["bars"]):
        assert bar["left"] == pytest.approx(x0, abs=1.5), f"bar {i} starts off the axis's 0"
        assert bar["width"] == pytest.approx(probs[i] * (x1 - x0), abs=1.0), f"bar {i}: {bar} vs p = {probs[i]}"
        assert bar["mid"] == pytest.approx(geo["y"][str(i)][1], abs=1.5), f"bar {i} is not in its row"
        assert bar["predicted"] == (i == label)


# ---- 6. presenting, Undo and Clear stay: a teacher draws the next digit without leaving -----------
def test_presentation_keeps_clear_and_undo(page, live_server):
    open_page(page, live_server)
    page.locator("body").press("p")
    page.wait_for_function("() => document.documentElement.classList.contains('present')")
    assert not page.locator(".tools").is_visible(), "the other drawing tools stay tucked away"
    for control in ("#clear", "#undo"):
        assert page.locator(control).is_visible(), f"{control} is hidden while presenting"
    draw(page, STROKES[7])
    assert not last_forward(page)["empty"]
    n = rendered(page)
    page.locator("#clear").click()
    settle(page, n)
    assert last_forward(page)["empty"]
    n = rendered(page)
    page.locator("#undo").click()
    settle(page, n)
    assert last_forward(page)["prediction"]["label"] == 7
    assert page.evaluate("() => document.documentElement.classList.contains('present')")


# ---- 7. a shift keeps the preprocessing strip while its box is ticked -----------------------------
def step_names(page):
    return page.evaluate("() => [...document.querySelectorAll('.step figcaption')].map((f) => f.textContent)")


def test_shift_keeps_the_preprocessing_steps(page, live_server):
    open_page(page, live_server)
    draw(page, STROKES[7])
    n = rendered(page)
    page.check("#show-steps")
    settle(page, n)
    names = step_names(page)
    assert len(names) >= 4
    unshifted = last_forward(page)["input"]["data"][0]
    page.locator("#seen-title").click()
    n = rendered(page)
    page.keyboard.press("ArrowRight")
    settle(page, n)
    assert page.locator("#shift-readout").inner_text() == "shift 0, 1"
    assert step_names(page) == names, "the preprocessing steps vanished after a shift"
    assert page.locator("#show-steps").is_checked()
    # unticked while shifted: gone; ticked again: back, and the input is still shifted
    n = rendered(page)
    page.uncheck("#show-steps")
    settle(page, n)
    assert step_names(page) == []
    page.check("#show-steps")
    page.wait_for_function("() => document.querySelectorAll('.step').length >= 4"
                           " && !window.__convscope.busy() && window.__convscope.state.get().input.shift[1] === 1")
    settle(page, rendered(page) - 1)
    assert step_names(page) == names
    assert page.locator("#shift-readout").inner_text() == "shift 0, 1"
    shifted = last_forward(page)["input"]["data"][0]
    assert all(row_new[1:] == row_old[:31] for row_old, row_new in zip(unshifted, shifted))


# ---- 8. the tooltip says what the lines to a dense unit are, in words -----------------------------
def test_dense_tooltip_says_what_the_lines_are(page, live_server):
    open_page(page, live_server)
    load_sample(page, 1)
    box = page.locator('.layer[data-layer="fc1"] canvas.vector').bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.3)
    page.wait_for_function("() => window.__convscope.hover && window.__convscope.hover.unit.layer === 'fc1'"
                           " && !document.querySelector('.unit-tooltip').hidden")
    text = page.locator(".unit-tooltip").inner_text()
    assert "lines: the 16 inputs that push this unit up or down the most (weight × activation)" in text, text
    assert "|w×a|" not in text and "links: top" not in text


@pytest.mark.parametrize("path, size", [("/train", (390, 844)), ("/?model=lenet-fashion", (390, 844))])
def test_no_page_is_wider_than_the_screen(page, live_server, path, size):
    """A phone: nothing widens the page past the viewport (the layer strip scrolls inside its own
    box).  At 390 px the gallery's thumbnails once made the page 426 px wide.  The layer view of the
    shipped LeNet is checked at every size, tablet and phone included, in test_layout.py."""
    width, height = size
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server}{path}")
    page.wait_for_selector("#gallery .sample, #param-total", timeout=30_000)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    if path != "/train":
        pad, seen = page.locator("#drawpad").bounding_box(), page.locator("#seen").bounding_box()
        assert pad["x"] >= 0 and pad["x"] + pad["width"] <= width
        assert seen["x"] + seen["width"] <= width
