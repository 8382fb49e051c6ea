"""The kernel lab (/kernels) in Chromium: presets, knobs → formula, hover arithmetic, animation,
uploads, the numbers view, the layer view's drawing. Screenshots go to test-output/screenshots/."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

TIMEOUT = 30_000   # the first /api/convolve may compile Numba kernels


def open_lab(page, live_server, hash_=""):
    page.set_default_timeout(TIMEOUT)
    page.goto(f"{live_server}/kernels{hash_}")
    expect(page.locator("body")).to_have_attribute("data-lab", "ready")


def formula_out(page, axis, what="conv"):
    return page.locator(f'.formula-row[data-what="{what}"][data-axis="{axis}"]')


def hover_output(page, oy, ox, view="#output-view"):
    overlay = page.locator(f"{view} canvas.layer-overlay")
    cell = float(overlay.get_attribute("data-cell"))
    overlay.hover(position={"x": (ox + 0.5) * cell, "y": (oy + 0.5) * cell})
    panel = page.locator("#arithmetic .arith")
    expect(panel).to_have_attribute("data-oy", str(oy))
    expect(panel).to_have_attribute("data-ox", str(ox))
    return panel


def assert_panel_matches_server(panel):
    js_sum, server = float(panel.get_attribute("data-sum")), float(panel.get_attribute("data-value"))
    assert abs(js_sum - server) <= 1e-5 * max(1.0, abs(server)), (js_sum, server)
    expect(panel.locator(".arith-check")).to_have_class("arith-check ok")


def test_preset_and_stride_update_formula(page, live_server, screenshot):
    open_lab(page, live_server)
    page.select_option("#preset", "gauss3")
    expect(page.locator(".preset-explain")).to_contain_text("blur")
    expect(page.locator('.kernel-grid input[data-y="1"][data-x="1"]')).to_have_value("4/16")
    expect(formula_out(page, "height")).to_have_attribute("data-out", "254")
    page.locator('input[name="stride"]').fill("2")
    expect(formula_out(page, "height")).to_have_attribute("data-out", "127")
    expect(formula_out(page, "width")).to_have_attribute("data-out", "127")
    expect(formula_out(page, "height").locator(".formula-out")).to_have_text("127")
    expect(page.locator("#output-view .view-caption")).to_contain_text("127×127")
    page.locator('input[name="stride"]').fill("3")
    expect(formula_out(page, "width")).to_have_attribute("data-out", "85")
    screenshot("kernel_lab_gauss_stride3")


def test_impossible_setting_is_explained(page, live_server, screenshot):
    open_lab(page, live_server, "#src=numbers7&k=box5")
    page.locator('input[name="dilation"]').fill("3")
    expect(formula_out(page, "height")).to_have_attribute("data-out", "-5")
    expect(page.locator("#formula .explanation")).to_contain_text("no position")
    expect(page.locator("#output-view .view-empty")).to_be_visible()
    page.check('input[name^="paddingMode"][value="explicit"]')
    page.locator('input[name="padding"]').fill("4")
    expect(formula_out(page, "height")).to_have_attribute("data-out", "3")
    expect(page.locator("#formula .explanation")).to_have_count(0)
    screenshot("kernel_lab_dilation_padding")


def apply_hash(page, hash_):
    """Edit the link in place (the lab's hashchange applies it) and wait for the new answer."""
    page.evaluate("(h) => { document.body.dataset.lab = 'stale'; location.hash = h; }", hash_)
    expect(page.locator("body")).to_have_attribute("data-lab", "ready")


def test_hover_panel_sum_equals_server(page, live_server, screenshot):
    """One page, its link edited twice: a gray 7×7 sample with Sobel, then the RGB scene summed over
    its channels with stride 3, dilation 2 and padding 2, then each RGB channel of an emboss."""
    open_lab(page, live_server, "#src=numbers7&pad=same&k=sobel_x")
    for hash_, pixels in (("#src=numbers7&pad=same&k=sobel_x", [(0, 0), (3, 4), (6, 6)]),
                          ("#k=laplacian&mode=sum&d=2&p=2&pad=explicit&s=3", [(0, 0), (40, 17), (85, 85)])):
        if hash_ != "#src=numbers7&pad=same&k=sobel_x":
            apply_hash(page, hash_)
            expect(formula_out(page, "height")).to_have_attribute("data-out", "86")
        for oy, ox in pixels:
            panel = hover_output(page, oy, ox)
            assert_panel_matches_server(panel)
        screenshot("kernel_lab_hover_numbers7" if "numbers7" in hash_ else "kernel_lab_hover_rgb_sum_dilated")
    apply_hash(page, "#k=emboss&pad=same")
    for channel in ("0", "1", "2"):
        page.select_option("#output-view .channel-select", channel)
        panel = hover_output(page, 100, 120)
        expect(panel).to_have_attribute("data-channel", channel)
        assert_panel_matches_server(panel)


def test_animation_steps_and_plays(page, live_server, screenshot):
    open_lab(page, live_server, "#src=numbers7&k=edge3")
    anim = page.locator("#animation .anim")
    expect(anim).to_have_attribute("data-index", "-1")
    expect(page.locator("#numbers .num-output span.pending")).to_have_count(0)
    step = page.get_by_role("button", name="Step ▸")
    for _ in range(3):
        step.click()
    expect(anim).to_have_attribute("data-index", "2")
    expect(anim.locator(".anim-where")).to_contain_text("output (0, 2)")
    panel = page.locator("#arithmetic .arith")
    expect(panel).to_have_attribute("data-ox", "2")
    assert_panel_matches_server(panel)
    expect(page.locator("#numbers .num-input span.hl")).to_have_count(9)
    expect(page.locator("#numbers .num-output span.pending")).to_have_count(22)
    screenshot("kernel_lab_animation_step3")
    page.get_by_role("button", name="Row ▸▸").click()
    expect(anim).to_have_attribute("data-index", "4")
    page.select_option('select[aria-label="animation speed"]', "40")
    page.get_by_role("button", name="▶ Play").click()
    expect(anim).to_have_attribute("data-index", "24")     # 5×5 output: plays to the last pixel and stops
    expect(page.get_by_role("button", name="▶ Play")).to_be_visible()
    page.get_by_role("button", name="■ Stop").click()
    expect(anim).to_have_attribute("data-index", "-1")
    expect(page.locator("#numbers .num-output span.pending")).to_have_count(0)


def _png(path, w, h):
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), np.full_like(x, 90)], -1).astype(np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def test_upload_colour_image(page, live_server, screenshot, tmp_path):
    open_lab(page, live_server)
    page.set_input_files("#upload", str(_png(tmp_path / "gradient.png", 64, 48)))
    expect(page.locator("#input-view .view-caption")).to_have_text("Input 48×64 RGB")
    expect(page.locator("#source")).to_have_value("upload")
    expect(formula_out(page, "width")).to_have_attribute("data-out", "62")
    page.check('input[name^="mode"][value="sum"]')
    expect(page.locator("#output-view .view-caption")).to_contain_text("46×62")
    expect(page.locator("#output-view .channel-select")).to_be_hidden()
    assert_panel_matches_server(hover_output(page, 10, 20))
    page.set_input_files("#upload", str(_png(tmp_path / "big.png", 1000, 700)))
    expect(page.locator("#input-view .view-caption")).to_have_text("Input 358×512 RGB")
    expect(page.locator("#source-panel .notice")).to_contain_text("downscaled from 1000×700")
    screenshot("kernel_lab_upload_downscaled")


def test_numbers_view(page, live_server, screenshot):
    open_lab(page, live_server, "#src=numbers7&k=edge2&pad=explicit&p=1")
    inputs = page.locator("#numbers .num-input span")
    expect(inputs).to_have_count(81)
    expect(page.locator("#numbers .num-input span.pad")).to_have_count(32)
    expect(page.locator("#numbers .num-output span")).to_have_count(49)
    hover_output(page, 1, 1)
    expect(page.locator("#numbers .num-input span.hl")).to_have_count(9)
    expect(page.locator("#numbers .num-output span.hl-out")).to_have_text(
        page.locator("#arithmetic .arith-sum strong").inner_text())
    screenshot("kernel_lab_numbers")


def test_mnist_sample_and_trained_filter(page, live_server, screenshot):
    open_lab(page, live_server)
    page.select_option("#source", "sample:0")
    expect(page.locator("#input-view .view-caption")).to_have_text("Input 28×28")
    page.select_option("#preset", "conv1_0")
    expect(page.locator(".kernel-grid input")).to_have_count(25)
    expect(formula_out(page, "height")).to_have_attribute("data-out", "24")
    page.select_option('select[name="activation"]', "relu")
    page.select_option('select[name="poolKind"]', "max")
    expect(formula_out(page, "height", "pool")).to_have_attribute("data-out", "12")
    expect(page.locator("#pool-view .view-caption")).to_contain_text("12×12")
    assert_panel_matches_server(hover_output(page, 12, 12))
    screenshot("kernel_lab_mnist_conv1_pool")


def test_reads_the_layer_views_drawing(page, live_server):
    data = np.zeros((1, 32, 32))
    data[0, 8:24, 15:17] = 1.0
    page.add_init_script(f"sessionStorage.setItem('convscope.drawing', {json.dumps(json.dumps({'shape': [1, 32, 32], 'data': data.tolist()}))});")
    open_lab(page, live_server, "#src=drawing")
    expect(page.locator("#input-view .view-caption")).to_have_text("Input 32×32")
    expect(page.locator('#source option[value="drawing"]')).to_have_count(1)


def test_typed_fraction_and_tools(page, live_server):
    open_lab(page, live_server, "#src=numbers7&k=identity")
    cell = page.locator('.kernel-grid input[data-y="0"][data-x="0"]')
    cell.fill("1/2")
    expect(page.locator("#preset")).to_have_value("custom")
    expect(page.locator(".kernel-sum")).to_have_text("sum of weights: 1.5")
    cell.fill("2/x")
    expect(cell).to_have_class("invalid")
    cell.fill("1/2")
    page.get_by_role("button", name="Normalise").click()
    expect(page.locator(".kernel-sum")).to_have_text("sum of weights: 1")
    page.get_by_role("button", name="Flip").click()
    expect(page.locator('.kernel-grid input[data-y="2"][data-x="2"]')).to_have_value("0.333")
    page.select_option("#kernel-size", "5")
    expect(page.locator(".kernel-grid input")).to_have_count(25)
    expect(formula_out(page, "height")).to_have_attribute("data-out", "3")


def test_small_screen(browser, live_server, blocked_requests, tmp_path):
    from pathlib import Path
    ctx = browser.new_context(viewport={"width": 1024, "height": 768})
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    open_lab(page, live_server, "#src=numbers7&k=sharpen&pad=same")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1024, f"horizontal scrolling at 1024 px: {width}"
    out = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out / "kernel_lab_1024x768.png"), full_page=True)
    ctx.close()
    assert not errors


def test_knob_changes_reuse_the_echoed_input(page, live_server):
    """After the first answer for an image, knob changes ask for no input echo, and the hover
    arithmetic (which reads the input values) still equals the server's output."""
    bodies = []
    page.on("request", lambda req: bodies.append(json.loads(req.post_data))
            if req.url.endswith("/api/convolve") else None)
    open_lab(page, live_server, "#k=sobel_x&pad=same")
    assert bodies[0]["echo_input"] is True
    page.select_option("#preset", "sharpen")
    expect(page.locator('.kernel-grid input[data-y="1"][data-x="1"]')).to_have_value("5")
    for _ in range(100):                       # the recompute is debounced: wait for its request
        if len(bodies) > 1:
            break
        page.wait_for_timeout(50)
    expect(page.locator("body")).to_have_attribute("data-lab", "ready")
    assert len(bodies) > 1 and bodies[-1]["echo_input"] is False and bodies[-1]["image"] == bodies[0]["image"]
    assert_panel_matches_server(hover_output(page, 40, 60))


def test_keyboard_reaches_one_pixels_arithmetic(page, live_server):
    """Focus the feature map and step with the arrow keys: the panel shows the pixel under the
    keyboard's cursor, checked against the server's map (Home, arrows, Shift+arrows, Escape)."""
    open_lab(page, live_server, "#src=sample:0&k=sobel_x")
    overlay = page.locator("#output-view canvas.layer-overlay")
    overlay.focus()
    page.keyboard.press("Home")
    panel = page.locator("#arithmetic .arith")
    expect(panel).to_have_attribute("data-oy", "0")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(panel).to_have_attribute("data-oy", "2")
    expect(panel).to_have_attribute("data-ox", "3")
    assert_panel_matches_server(panel)
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Shift+ArrowRight")
    expect(panel).to_have_attribute("data-oy", "12")
    expect(panel).to_have_attribute("data-ox", "13")
    assert_panel_matches_server(panel)
    for _ in range(5):
        page.keyboard.press("Shift+ArrowRight")       # stops at the last column
    rows = int(overlay.get_attribute("data-rows"))
    cols = int(overlay.get_attribute("data-cols"))
    expect(panel).to_have_attribute("data-ox", str(cols - 1))
    assert rows > 12
    page.keyboard.press("Escape")
    expect(page.locator("#arithmetic .arith-sum")).to_have_count(0)   # the panel is back to its hint
