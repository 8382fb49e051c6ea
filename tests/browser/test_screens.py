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
