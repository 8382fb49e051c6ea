"""Every screen a classroom has, by geometry: the layer view and the kernel lab at seven sizes (three
laptops and projectors, a desktop, a large monitor, a tablet and a phone with touch) in their main
states, each checked for what must be on screen, what must not overlap and what must not overflow
sideways, with a screenshot of each under test-output/screenshots/layout-*.png.

One page per state is resized through the sizes (the page re-fits on resize, as a window would),
so the whole battery costs a few page loads.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from test_layer_view import api

OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def shot(page, name):
    """The screen as the user sees it (the viewport), under test-output/screenshots/."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"))

DESKTOP = [(1024, 768), (1280, 800), (1366, 768), (1920, 1080), (2560, 1440)]
TOUCH = [(820, 1180), (390, 844)]
LAPTOP_UP = [s for s in DESKTOP if s[0] >= 1280]       # the normal view is for 1280 px and wider

GEOMETRY = """() => {
  const box = (sel) => { const e = document.querySelector(sel); if (!e || !e.getClientRects().length) return null;
    const r = e.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
  const panels = ['.pad-panel', '.seen-panel', '.gallery-panel', '#detail-host', '.layers-panel', '.tour-host']
    .map((s) => [s, box(s)]).filter(([, b]) => b && b.right > b.left && b.bottom > b.top);
  return {width: innerWidth, height: innerHeight, scrollWidth: document.documentElement.scrollWidth,
          pad: box('#drawpad canvas'), seen: box('#seen .seen-canvas'), layers: box('#layers'),
          prediction: box('#prediction'), chart: box('.softmax-plot'), tour: box('#tour:not([hidden])'), panels};
}"""


def settle(page):
    page.wait_for_function("() => window.__convscope && window.__convscope.perf.length && !window.__convscope.busy()")
    # a resize re-fits the layers on the next frame: wait two
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def inside(b, g, what):
    assert b is not None, f"{what} is not on the page"
    assert b["left"] >= -0.5 and b["top"] >= -0.5 and b["right"] <= g["width"] + 0.5 and b["bottom"] <= g["height"] + 0.5, \
        f"{what} is not inside the {g['width']}×{g['height']} screen: {b}"


def no_overlap(g):
    ps = g["panels"]
    for i, (a, ra) in enumerate(ps):
        for b, rb in ps[i + 1:]:
            w = min(ra["right"], rb["right"]) - max(ra["left"], rb["left"])
            h = min(ra["bottom"], rb["bottom"]) - max(ra["top"], rb["top"])
            assert w <= 1 or h <= 1, f"{a} and {b} overlap by {w:.0f}×{h:.0f} px"


def sweep(page, sizes, state, check):
    for w, h in sizes:
        page.set_viewport_size({"width": w, "height": h})
        settle(page)
        g = page.evaluate(GEOMETRY)
        shot(page, f"layout-{state}-{w}x{h}")
        assert g["scrollWidth"] <= w, f"{state} at {w}×{h}: the page is {g['scrollWidth']} px wide"
        check(g, (w, h))


@pytest.fixture(scope="module")
def three(live_server):
    return next(s["id"] for s in api(live_server, "/api/samples")["samples"] if s["label"] == 3)


def laptop_first_screen(g, size):
    """1280 px and wider: the pad, what the network sees, the start of the layers and the prediction
    are all on the first screen."""
    inside(g["pad"], g, "the drawing pad")
    inside(g["seen"], g, "what the network sees")
    inside(g["prediction"], g, "the predicted digit")
    inside(g["chart"], g, "the softmax bars")
    assert g["layers"]["top"] < g["height"] - 200, f"the layers start at y = {g['layers']['top']:.0f}"


def test_layer_view_initial_and_drawn(new_context, live_server, three):
    page = new_context().new_page()
    page.goto(live_server + "/")
    settle(page)
    sweep(page, DESKTOP, "initial", lambda g, s: (no_overlap(g), s[0] >= 1280 and laptop_first_screen(g, s)))
    page.goto(f"{live_server}/#sample={three}")
    page.wait_for_function(f"() => window.__convscope.state.get().input.sampleId === {three}")
    sweep(page, DESKTOP, "drawn", lambda g, s: (no_overlap(g), s[0] >= 1280 and laptop_first_screen(g, s)))


def test_touch_screens_stack_into_one_strip(new_context, live_server, three):
    page = new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True).new_page()
    page.goto(f"{live_server}/#sample={three}")
    settle(page)

    def check(g, size):
        no_overlap(g)
        assert g["pad"]["left"] >= 0 and g["pad"]["right"] <= size[0]
        assert g["seen"]["right"] <= size[0]
        # the layer strip scrolls sideways in its own box, the prediction kept in view within it
        strip = page.evaluate("() => { const s = document.getElementById('layers'); return [s.scrollWidth, s.clientWidth]; }")
        assert strip[0] > strip[1], "LeNet's layers are wider than a tablet: the strip should scroll"
        assert g["prediction"]["right"] <= size[0] and g["prediction"]["left"] >= g["layers"]["left"]
    sweep(page, TOUCH, "touch", check)
    # a tap pins the unit under the finger
    tile = page.locator('canvas.tile[data-layer="conv1"][data-channel="0"]')
    tile.scroll_into_view_if_needed()
    box = tile.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.wait_for_function("() => document.getElementById('detail').dataset.layer === 'conv1'")
    assert page.locator("#detail").get_attribute("data-channel") == "0"
    # a finger draws on the pad (touch events, as a phone sends them): a stroke reaches the network
    pad = page.locator("#drawpad canvas")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    n = page.evaluate("() => window.__convscope.rendered")
    cdp = page.context.new_cdp_session(page)
    points = [(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * (0.15 + 0.07 * i)) for i in range(11)]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for x, y in points[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_function("(n) => window.__convscope.rendered > n && !window.__convscope.busy()"
                           " && window.__convscope.state.get().input.source === 'drawing'", arg=n)
    assert not page.evaluate("() => window.__convscope.drawpad.isBlank()"), "the finger's stroke is not on the pad"
    assert page.evaluate("() => window.scrollX") == 0, "drawing scrolled the page sideways"
    # the strip scrolled to its end keeps the prediction in view
    page.evaluate("() => { const s = document.getElementById('layers'); s.scrollLeft = s.scrollWidth; }")
    page.evaluate("() => { const s = document.getElementById('layers'); s.scrollLeft = 0; }")
    g = page.evaluate(GEOMETRY)
    assert g["prediction"]["right"] <= g["width"], "the prediction left the screen when the strip scrolled back"


def test_pinning_never_moves_what_the_user_looks_at(new_context, live_server, three):
    page = new_context().new_page()
    page.goto(f"{live_server}/#sample={three}")
    settle(page)
    tile = 'canvas.tile[data-layer="conv2"][data-channel="3"]'
    for w, h in LAPTOP_UP:
        page.set_viewport_size({"width": w, "height": h})
        page.keyboard.press("Escape")
        settle(page)
        before = page.locator(tile).bounding_box()
        page.mouse.click(before["x"] + before["width"] * 0.45, before["y"] + before["height"] * 0.45)
        page.wait_for_function("() => document.getElementById('detail').dataset.layer === 'conv2'")
        settle(page)
        after = page.locator(tile).bounding_box()
        assert abs(after["y"] - before["y"]) < 1 and abs(after["x"] - before["x"]) < 1, \
            f"pinning moved the clicked tile from {before} to {after} at {w}×{h}"
        g = page.evaluate(GEOMETRY)
        no_overlap(g)
        laptop_first_screen(g, (w, h))
        # the result first, where the panel opens: Σ, bias and the ReLU after it are on screen
        first = page.evaluate("""() => { const host = document.getElementById('detail-host').getBoundingClientRect();
            const eq = document.querySelector('#detail .equation').getBoundingClientRect();
            return [eq.top - host.top, eq.bottom <= host.bottom]; }""")
        assert first[1], f"the pinned unit's result is below the fold of its panel at {w}×{h}"
        shot(page, f"layout-pinned-conv2-{w}x{h}")


def test_tour_card_stays_on_screen(new_context, live_server, three):
    for sizes, options in ((DESKTOP, {}), (TOUCH, {"has_touch": True, "is_mobile": True})):
        page = new_context(viewport={"width": sizes[0][0], "height": sizes[0][1]}, **options).new_page()
        page.goto(f"{live_server}/#sample={three}&tour=6")
        page.wait_for_function("() => document.getElementById('tour') && !document.getElementById('tour').hidden")
        sweep(page, sizes, "tour6", lambda g, s: inside(g["tour"], g, "the tour's card"))


def test_presentation_fits_a_projector(new_context, live_server, three):
    page = new_context().new_page()
    page.goto(f"{live_server}/#sample={three}&present=1")
    settle(page)

    def check(g, size):
        no_overlap(g)
        inside(g["pad"], g, "the drawing pad")
        inside(g["prediction"], g, "the predicted digit")
        inside(g["chart"], g, "the softmax bars")
        inside(g["seen"], g, "what the network sees")
    sweep(page, [(1024, 768), (1366, 768), (1920, 1080)], "present", check)

    def phone(g, size):
        # presenting on a phone: the pad and the network's view fit their panels and the screen
        no_overlap(g)
        panels = dict(g["panels"])
        for what, b, panel in (("the pad", g["pad"], ".pad-panel"), ("the network's view", g["seen"], ".seen-panel")):
            assert b["right"] <= min(size[0], panels[panel]["right"]) + 0.5, f"{what} overflows at {size}: {b}"
    sweep(page, [(390, 844)], "present", phone)


def test_lab_hovered_pixel_and_its_arithmetic_together(new_context, live_server):
    page = new_context().new_page()
    page.goto(f"{live_server}/kernels#src=builtin:shapes&k=sobel_x")
    page.wait_for_selector("body[data-lab='ready']")

    def hover_and_check(w, h, state):
        page.set_viewport_size({"width": w, "height": h})
        # the canvases are drawn again at the new width once the window stops resizing
        page.wait_for_selector(f"body[data-lab-width='{w}']", timeout=5_000)
        out = page.locator("#output-view canvas.layer-base")
        out.scroll_into_view_if_needed()
        box = out.bounding_box()
        assert box["width"] > 100, f"the feature map collapsed to {box['width']:.0f} px at {w}×{h}"
        page.mouse.move(1, 1)               # away first: a move to the same point fires no event
        page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4, steps=2)
        page.wait_for_function("() => document.querySelector('#arithmetic .arith-sum')")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= w
        if w >= 1024:
            arith = page.locator("#arithmetic-panel").bounding_box()
            box = out.bounding_box()
            for what, b in (("the feature map", box), ("the pixel's arithmetic", arith)):
                assert b["y"] < h - 120 and b["y"] + min(b["height"], 120) > 0, \
                    f"{state}: {what} is off screen at {w}×{h}: {b}"
        shot(page, f"layout-lab-{state}-{w}x{h}")

    for w, h in DESKTOP + TOUCH:
        hover_and_check(w, h, "hovered")
    # presenting on a projector: the map and the arithmetic on screen together as well
    page.evaluate("() => window.scrollTo(0, 0)")
    page.locator("#present-toggle").click()
    page.wait_for_function("() => document.documentElement.classList.contains('present')")
    for w, h in [(1024, 768), (1280, 800), (1366, 768), (1920, 1080)]:
        hover_and_check(w, h, "present-hovered")


CLIPPED = """(sel) => [...document.querySelectorAll(sel)].filter((e) => e.scrollWidth > e.clientWidth + 0.5)
    .map((e) => `${e.tagName}.${e.className} "${e.value || e.textContent}"`)"""


def test_no_clipped_text(new_context, live_server, three):
    """Long 5×5 weights in the lab's kernel cells and arithmetic, the steps strip's captions, the
    tour's table caption: every text fits its box (they were cut off at 1366×768)."""
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    row = "-0.0054321094,0.12345678,-0.2345,0.00543,-1.5e-7"
    page.goto(f"{live_server}/kernels#src=builtin:shapes&k=custom&kv={';'.join([row] * 5)}")
    page.wait_for_selector("body[data-lab='ready']")
    cells = page.locator(".kernel-grid input")
    assert cells.count() == 25
    assert page.evaluate(CLIPPED, ".kernel-grid input") == []
    shown = page.evaluate("() => [...document.querySelectorAll('.kernel-grid input')].slice(0, 5).map((i) => i.value)")
    assert float(shown[0]) == pytest.approx(-0.00543, rel=1e-3) and float(shown[4]) == pytest.approx(-1.5e-7, rel=0.05)
    # a long number typed into a cell is shown rounded once the cell is left, in full when focused
    cells.nth(1).fill("-0.0054321094")
    cells.nth(1).press("Tab")
    page.wait_for_selector("body[data-lab='ready']")
    assert cells.nth(1).input_value() == "-0.00543" and page.evaluate(CLIPPED, ".kernel-grid input") == []
    cells.nth(1).focus()
    assert cells.nth(1).input_value() == "-0.0054321094"
    assert cells.nth(1).get_attribute("title") == "-0.0054321094"
    page.wait_for_selector("body[data-lab='ready']")
    box = page.locator("#output-view canvas.layer-base").bounding_box()
    page.mouse.move(box["x"] + 90, box["y"] + 90, steps=2)
    page.wait_for_function("() => document.querySelector('#arithmetic .arith-sum')")
    assert page.evaluate(CLIPPED, "#arithmetic .num-grid span") == []
    page.goto(f"{live_server}/#sample={three}&steps=1&tour=1")
    page.wait_for_function("() => document.querySelectorAll('.step figcaption').length >= 2")
    assert page.evaluate(CLIPPED, ".step, .step figcaption") == []
    caption = page.locator("#tour figcaption").bounding_box()
    body = page.locator("#tour .tour-body").bounding_box()
    assert caption["y"] + caption["height"] <= body["y"] + body["height"] + 0.5, "the tour's table caption is cut off"
