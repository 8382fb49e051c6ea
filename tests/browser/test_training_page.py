"""The training page in real Chromium: design a tiny network, train it on the shipped digits, watch
the charts and filters move, look inside mid-training, scrub snapshots, stop, save, and find the
model in the layer view's picker."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from convscope.server import create_app


@pytest.fixture(scope="module")
def train_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    app = create_app({"TESTING": True, "WARM_LAB": False, "ALLOW_TRAINING": True,
                      "TRAIN_DIR": str(root / "jobs"), "UPLOAD_DIR": str(root / "models")})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def _call(base, method, path, body=None):
    import json
    import urllib.request
    req = urllib.request.Request(base + path, json.dumps(body).encode() if body is not None else None,
                                 {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture(autouse=True)
def no_job_left(train_server):
    """Each test starts with no running job and leaves none (a failed test must not hold the slot)."""
    def stop_all():
        for job in _call(train_server, "GET", "/api/train")["jobs"]:
            if job["status"]["state"] not in ("done", "stopped", "failed"):
                _call(train_server, "POST", f"/api/train/{job['id']}/control", {"action": "stop"})
        import time
        deadline = time.monotonic() + 30
        while any(j["status"]["state"] not in ("done", "stopped", "failed")
                  for j in _call(train_server, "GET", "/api/train")["jobs"]) and time.monotonic() < deadline:
            time.sleep(0.1)
    stop_all()
    yield
    stop_all()


def change(page, selector, value):
    page.fill(selector, value)
    page.locator(selector).dispatch_event("change")


def heavy_design(page):
    """Two blocks of 32 filters with 'same' padding and 30 epochs of batch 8: long enough (tens of
    seconds) that the test, not the job, decides when it pauses and stops."""
    page.select_option("#block-count", "2")
    for n in (1, 2):
        change(page, f'input[aria-label="Block {n} filters"]', "32")
        page.select_option(f'select[aria-label="Block {n} padding"]', "same")
    change(page, 'input[aria-label="Epochs"]', "30")
    change(page, 'input[aria-label="Batch size"]', "8")
    page.wait_for_function("() => document.querySelector('#param-total')?.textContent.startsWith('46,954')")


def stat(page, name):
    return page.locator(f'#stats dd[data-stat="{name}"]').inner_text()


def test_design_train_look_inside_scrub_stop_save(train_server, page, context, screenshot):
    page.goto(f"{train_server}/train")
    page.wait_for_selector("#param-total")
    assert page.locator("#param-total").inner_text().startswith("7,954 parameters")
    # an impossible design is explained before training, and Start is off
    page.select_option("#block-count", "3")
    page.select_option('select[aria-label="Block 1 kernel size"]', "9")
    page.wait_for_selector(".design-error")
    assert "does not fit" in page.locator(".design-error").inner_text()
    assert page.locator("#start").is_disabled()
    # back to one block; changing its filters updates the count at once
    page.select_option("#block-count", "1")
    page.select_option('select[aria-label="Block 1 kernel size"]', "5")
    page.fill('input[aria-label="Block 1 filters"]', "6")
    page.locator('input[aria-label="Block 1 filters"]').dispatch_event("change")
    page.wait_for_function("() => document.querySelector('#param-total')?.textContent.startsWith('11,926')")
    heavy_design(page)
    page.click("#start")
    # live: the progress, the charts and the filters move
    page.wait_for_function("() => window.__train?.job?.progress.length >= 3", timeout=240_000)
    first_filters = page.locator("#filters").get_attribute("data-range")
    page.wait_for_function("() => window.__train.job.evaluation.length >= 2", timeout=120_000)
    page.wait_for_function("() => document.querySelectorAll('#chart-loss .scatterlayer .trace').length === 3")
    assert page.locator("#filters canvas").count() == 32
    page.wait_for_function(f"() => document.querySelector('#filters').dataset.range !== '{first_filters}'")
    # pause: the step stops moving, and everything below happens on a paused job
    page.click("#pause")
    page.wait_for_function("() => window.__train.job.status.state === 'paused'", timeout=60_000)
    assert page.locator("#pause").inner_text() == "Resume"
    assert stat(page, "state") == "paused"
    assert page.locator("#confusion table tbody tr").count() == 10
    screenshot("training-live")
    # look inside now: a new tab opens the layer view on the model as it is
    with context.expect_page() as opened:
        page.click("#look-now")
    inside = opened.value
    inside.wait_for_url("**/?model=*@*")
    inside.wait_for_selector("#snapshot-bar:not([hidden])")
    inside.wait_for_function("() => document.querySelector('#prediction') !== null")
    assert "@" in inside.locator("#model-picker").input_value()
    inside.close()
    # scrub the snapshots: the filters drawn are each snapshot's
    page.wait_for_function("() => window.__train.job.snapshots.length >= 2")
    page.locator("#snapshot").fill("0")
    page.wait_for_function("() => document.querySelector('#filters-step').textContent === 'snapshot at step 0'")
    assert "step 0" in page.locator("#snapshot-label").inner_text()
    # stop: the model as it was is kept and can be saved under a name
    page.click("#stop")
    page.wait_for_function("() => window.__train.job.status.state === 'stopped'", timeout=60_000)
    page.fill("#save-name", "browser-net")
    page.click("#save")
    page.wait_for_selector("#saved-link")
    assert "browser-net" in page.locator("#save-result").inner_text()
    # the layer view's picker lists it, and the layer view opens on it
    page.click("#saved-link")
    page.wait_for_url("**/?model=browser-net")
    page.wait_for_function("() => document.querySelector('#prediction') !== null")
    options = page.locator("#model-picker option").all_inner_texts()
    assert any(o.startswith("browser-net") for o in options)
    assert page.locator("#model-picker").input_value() == "browser-net"


def test_a_second_browser_sees_the_running_job(train_server, page, fresh_page):
    page.goto(f"{train_server}/train")
    page.wait_for_selector("#param-total")
    heavy_design(page)
    page.click("#start")
    page.wait_for_function("() => window.__train?.job?.status.state === 'running'", timeout=240_000)
    job_id = page.evaluate("() => window.__train.job.id")
    other = fresh_page()
    other.goto(f"{train_server}/train")
    other.wait_for_function(f"() => window.__train?.job?.id === '{job_id}'")
    other.wait_for_function("() => window.__train.job.progress.length > 0", timeout=120_000)
    assert other.locator("#start").is_disabled() and not other.locator("#stop").is_disabled()
    # the second browser shows the running job's design and recipe, not its own defaults
    assert other.locator('input[aria-label="Block 2 filters"]').input_value() == "32"
    assert other.locator('input[aria-label="Epochs"]').input_value() == "30"
    assert other.locator('input[aria-label="Batch size"]').input_value() == "8"
    other.click("#stop")
    page.wait_for_function("() => window.__train.job.status.state === 'stopped'", timeout=60_000)
