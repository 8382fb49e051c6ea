"""Browser fixtures: Playwright (Python) driving Debian's Chromium against the live test server.

The browser is located, never downloaded (`playwright install` cannot fetch browsers here):
$CONVSCOPE_CHROMIUM, else `chromium` / `chromium-browser` on PATH.  With none, every browser test
*fails* with a message saying how to get one — nothing is skipped silently.  Every request to a
non-loopback host is aborted and recorded; `page` fails the test if the page tried one.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

# a fake camera (a moving test pattern) that asks nobody: only a page that requests the camera sees it
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def find_chromium() -> str | None:
    for candidate in (os.environ.get("CONVSCOPE_CHROMIUM"), shutil.which("chromium"),
                      shutil.which("chromium-browser"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    path = find_chromium()
    if path is None:
        pytest.fail("No Chromium for the browser tests. Install Debian's package "
                    "(sudo apt-get install chromium) or set CONVSCOPE_CHROMIUM to a Chromium binary; "
                    "`bash scripts/test.sh` does this for you.", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def blocked_requests():
    return []


@pytest.fixture
def new_context(browser, blocked_requests):
    """new_context(**options) → a fresh browser context (1920×1080 unless options say) whose non-loopback requests are aborted
    and recorded; a second one is "opening the link in another browser".  All closed at the end."""
    made = []

    def make(**options):
        ctx = browser.new_context(**{"viewport": {"width": 1920, "height": 1080}, "accept_downloads": True,
                                     **options})

        def guard(route):
            host = urlparse(route.request.url).hostname or ""
            if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
                route.continue_()
            else:
                blocked_requests.append(route.request.url)
                route.abort()
        ctx.route("**/*", guard)
        made.append(ctx)
        return ctx
    yield make
    for ctx in made:
        ctx.close()


def watch_errors(pg, errors: list) -> None:
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context, blocked_requests):
    pg = context.new_page()
    errors = []
    watch_errors(pg, errors)
    yield pg
    assert not blocked_requests, f"the page tried to reach the network: {blocked_requests}"
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def fresh_page(new_context):
    """fresh_page() → a page in a new, separate context ('opening the link in another browser');
    JavaScript errors there fail the test too."""
    errors = []

    def make():
        pg = new_context().new_page()
        watch_errors(pg, errors)
        return pg
    yield make
    assert not errors, f"JavaScript errors on the second page: {errors}"


@pytest.fixture
def screenshot(page):
    """screenshot(name) saves a full-page PNG under test-output/screenshots/ and returns its path."""
    OUTPUT.mkdir(parents=True, exist_ok=True)

    def take(name: str, **kwargs) -> Path:
        path = OUTPUT / f"{name}.png"
        page.screenshot(path=str(path), full_page=kwargs.pop("full_page", True), **kwargs)
        return path
    return take
