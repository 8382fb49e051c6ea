"""The layer view's "Why this answer" panel in Chromium: it asks /api/explain for the network input
of the last forward pass while it is open, draws the map over the input, follows the method, class,
Grad-CAM layer, occlusion patch and the randomisation slider, and says what each method measures.
The numbers it shows are the API's (tests/test_explain.py checks those against PyTorch)."""
from __future__ import annotations

import json
import urllib.request

import pytest

READY = "() => window.__convscope && window.__convscope.lastForward !== null"
SETTLED = "(n) => window.__convscope.rendered > n && !window.__convscope.busy()"
DRAWN = "(n) => Number(document.getElementById('explain').dataset.rendered || 0) > n"


def api(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def drawn(page):
    return int(page.evaluate("() => Number(document.getElementById('explain').dataset.rendered || 0)"))


def change(page, selector, value):
    n = drawn(page)
    page.select_option(selector, value)
    page.wait_for_function(DRAWN, arg=n, timeout=30_000)


def test_the_panel_explains_the_current_input_with_every_method(page, live_server, screenshot):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server + "/")
    page.wait_for_function(READY, timeout=30_000)
    before = page.evaluate("() => window.__convscope.rendered")
    page.locator("button.sample").nth(2).click()
    page.wait_for_function(SETTLED, arg=before, timeout=30_000)
    assert drawn(page) == 0, "nothing is asked for while the panel is closed"
    page.locator("#explain-details > summary").click()
    page.wait_for_function(DRAWN, arg=0, timeout=30_000)
    forward = page.evaluate("() => window.__convscope.lastForward")
    image = forward["input"]["data"][0]
    overlay = page.locator("#explain-overlay")
    label = forward["prediction"]["label"]
    for method in ("gradient", "gradient_x_input", "gradcam", "occlusion"):
        if method != "gradient":
            change(page, "#explain-method", method)
        body = {"image": image, "preprocess": "none", "method": method}
        if method == "gradcam":
            body["layer"] = page.locator("#explain-layer").input_value()
        if method == "occlusion":
            body.update(patch=4, stride=2)
        want = api(live_server, "/api/explain", body)
        assert overlay.get_attribute("data-method") == method
        assert int(overlay.get_attribute("data-class")) == label == want["class"]
        assert float(overlay.get_attribute("data-max")) == pytest.approx(want["map"]["max"], rel=1e-6)
        words = page.locator("#explain-words").inner_text()
        assert len(words) > 120 and page.locator("#explain-legend").inner_text().startswith(
            {"gradient": "gradient (saliency)", "gradient_x_input": "gradient × input", "gradcam": "Grad-CAM",
             "occlusion": "occlusion"}[method])
        assert page.locator("#explain-layer").is_visible() == (method == "gradcam")
        if method == "occlusion":   # the patch slides over the input, then rests on the largest drop
            page.wait_for_function("() => document.getElementById('explain-patch-box').dataset.done === 'true'",
                                   timeout=10_000)
            k = int(page.locator("#explain-patch-box").get_attribute("data-step"))
            assert want["probabilities"][k] == min(want["probabilities"])
        assert page.locator("#explain-patch").is_visible() == (method == "occlusion")
    change(page, "#explain-method", "gradient")
    change(page, "#explain-class", "0")
    assert overlay.get_attribute("data-class") == "0"
    # the randomisation check: the top 3 weight layers re-drawn
    n = drawn(page)
    page.locator("#explain-randomize").fill("3")
    page.wait_for_function(DRAWN, arg=n, timeout=30_000)
    legend = page.locator("#explain-legend").inner_text()
    assert "randomised: fc1, fc2, fc3" in legend
    assert "fc1, fc2, fc3 re-drawn at random" in page.locator(".explain-random-words").inner_text()
    want = api(live_server, "/api/explain", {"image": image, "preprocess": "none", "method": "gradient",
                                              "class": 0, "randomize": 3})
    assert float(overlay.get_attribute("data-max")) == pytest.approx(want["map"]["max"], rel=1e-6)
    # a new input is explained as it arrives
    n, before = drawn(page), page.evaluate("() => window.__convscope.rendered")
    page.locator("button.sample").nth(5).click()
    page.wait_for_function(SETTLED, arg=before, timeout=30_000)
    page.wait_for_function(DRAWN, arg=n, timeout=30_000)
    page.locator("#explain-details").scroll_into_view_if_needed()
    screenshot("explain-panel-1366x768")


def test_a_pinned_unit_shows_what_it_wants_to_see(page, live_server):
    page.goto(live_server + "/")
    page.wait_for_function(READY, timeout=30_000)
    for name, presses, unit in (("conv2", 3, [3, 0, 0]), ("softmax", 7, [7])):
        page.locator(f'.layer[data-layer="{name}"] .layer-body').focus()
        for _ in range(presses):
            page.keyboard.press("PageDown" if name == "conv2" else "ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_function("(n) => document.getElementById('detail').dataset.layer === n", arg=name)
        page.locator(".wants-button").click()
        page.wait_for_selector(".wants canvas.wants-canvas", timeout=30_000)
        shown = float(page.locator(".wants").get_attribute("data-activation"))
        layer = "fc3" if name == "softmax" else name   # a class is climbed at its score
        want = api(live_server, "/api/synthesize", {"layer": layer, "unit": unit})
        assert shown == pytest.approx(want["activation"][-1], rel=1e-6)
        assert want["activation"][-1] > want["activation"][0]
        assert "gradient ascent" in page.locator(".wants-words").inner_text()


def test_a_pinned_unit_shows_the_test_images_that_excite_it_most(page, live_server, screenshot):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server + "/")
    page.wait_for_function(READY, timeout=30_000)
    page.locator('.layer[data-layer="conv2"] .layer-body').focus()
    for _ in range(5):
        page.keyboard.press("PageDown")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('detail').dataset.layer === 'conv2'")
    detail = page.locator("#detail")
    c, y, x = (int(detail.get_attribute(f"data-{k}")) for k in ("channel", "y", "x"))
    page.locator(".top9-button").click()
    page.wait_for_selector(".top9-grid figure", timeout=60_000)
    with urllib.request.urlopen(f"{live_server}/api/top?layer=conv2&unit={c},{y},{x}", timeout=60) as r:
        want = json.loads(r.read())
    figures = page.locator(".top9-grid figure")
    assert figures.count() == 9
    assert [int(i) for i in figures.evaluate_all("fs => fs.map((f) => f.dataset.index)")] == [t["index"] for t in want["images"]]
    assert "receptive field" in page.locator(".top9-words").inner_text()
    # each is cropped to the field (14×14 for conv2) and 2 pixels around it, clipped to the image
    rf = want["receptive_field"]
    side = [min(32, v + s + 2) - max(0, v - 2) for v, s in ((rf["top"], rf["height"]), (rf["left"], rf["width"]))]
    w, h = page.locator(".top9-canvas").first.evaluate("c => [c.width, c.height]")
    assert w % side[1] == 0 and h % side[0] == 0 and w // side[1] == h // side[0]
    page.locator("#detail").scroll_into_view_if_needed()
    screenshot("explain-top9-1366x768", full_page=False)


def test_how_the_model_does_opens_its_images_in_the_layer_view(page, live_server, screenshot):
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(live_server + "/")
    page.wait_for_function(READY, timeout=30_000)
    page.locator("#eval-details > summary").click()
    page.wait_for_function("() => document.querySelector('.eval-summary').dataset.accuracy !== undefined",
                           timeout=60_000)
    with urllib.request.urlopen(live_server + "/api/evaluation", timeout=60) as r:
        want = json.loads(r.read())
    summary = page.locator(".eval-summary")
    assert float(summary.get_attribute("data-accuracy")) == want["accuracy"]
    cells = page.locator(".eval-cell-button")
    assert cells.count() == 100
    assert [int(c) for c in cells.evaluate_all("bs => bs.map((b) => b.textContent)")] == sum(want["confusion"], [])
    # a mistake if the set has one; the shipped samples alone (no MNIST download) may have none
    cells_by_count = [(t != p, want["confusion"][t][p], t, p) for t in range(10) for p in range(10)
                      if want["confusion"][t][p]]
    _, _, t, p = max(cells_by_count)
    page.locator(f'.eval-cell-button[data-true="{t}"][data-predicted="{p}"]').click()
    page.wait_for_selector(".eval-cell .eval-thumb", timeout=30_000)
    assert page.locator(".eval-cell .eval-thumb").count() == min(60, want["confusion"][t][p])
    index = page.locator(".eval-cell .eval-thumb").first.get_attribute("data-index")
    before = page.evaluate("() => window.__convscope.rendered")
    page.locator(".eval-cell .eval-thumb").first.click()
    page.wait_for_function(SETTLED, arg=before, timeout=30_000)
    assert f"MNIST test image #{index} (label {t})" in page.locator("#input-source").inner_text()
    assert page.evaluate("() => window.__convscope.lastForward.prediction.label") == p
    # the PCA map: 2,000 points (or the whole smaller set) of fc1, one trace per class
    page.wait_for_function("() => document.getElementById('eval-map').dataset.points !== undefined", timeout=60_000)
    n = int(page.locator("#eval-map").get_attribute("data-points"))
    assert n == min(2000, want["count"])
    assert page.locator("#eval-map .scatterlayer .trace").count() == 10
    page.locator("#eval-details").screenshot(path=str(screenshot("evaluation-page-1366x768").parent / "evaluation-panel-1366x768.png"))
