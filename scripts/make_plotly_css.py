"""Write static/css/plotly.css and templates/_plotly_css.html: the styles Plotly.js inserts into
the page when it loads, as a stylesheet the pages link.

Plotly.js adds its rules (the chart's cursor, the drag layers, the modebar, the notifier…) to a
<style> element it creates, and its bundled map library adds its own <style>: a
Content-Security-Policy without 'unsafe-inline' in style-src blocks both.  ConvScope's pages
instead link the same rules as a stylesheet marked `id="plotly.js-style-global"
class="no-inline-styles"`, which tells Plotly.js (since 2.35) to insert none, and hold an empty
<template> with the id the map library looks for before it inserts its own.  Everything comes from
the installed `plotly` package's Plotly.js, read out of a blank page in headless Chromium; the
test suite (tests/browser/test_csp.py) reads it again and fails when the files no longer match
(after a Plotly upgrade): then run this again.

    .venv/bin/python scripts/make_plotly_css.py [--chromium /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "static" / "css" / "plotly.css"
PARTIAL = ROOT / "templates" / "_plotly_css.html"
GLOBAL_ID = "plotly.js-style-global"
HEADER = ("/* The styles Plotly.js {version} inserts at load, as a stylesheet (scripts/make_plotly_css.py\n"
          "   writes this file; do not edit it by hand). */\n")


def plotly_js() -> Path:
    import plotly
    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def read_styles(browser) -> tuple[str, list[str], dict[str, str]]:
    """(Plotly.js's version, its global rules in the order they apply, {id: CSS text} of every
    other <style> element it inserted) from a blank page."""
    page = browser.new_page()
    try:
        page.goto("about:blank")
        page.add_script_tag(path=str(plotly_js()))
        return page.evaluate("""(globalId) => [Plotly.version,
            [...document.getElementById(globalId).sheet.cssRules].map((r) => r.cssText),
            Object.fromEntries([...document.querySelectorAll('style')].filter((s) => s.id !== globalId)
                .map((s) => [s.id, s.textContent]))]""", GLOBAL_ID)
    finally:
        page.close()


def render_css(version: str, rules: list[str], others: dict[str, str]) -> str:
    return (HEADER.format(version=version) + "".join(rule + "\n" for rule in rules)
            + "".join(f"/* inserted as <style id=\"{key}\"> */\n{text}\n" for key, text in sorted(others.items())))


def render_partial(version: str, others: dict[str, str]) -> str:
    lines = [f"{{# written by scripts/make_plotly_css.py for Plotly.js {version}: do not edit by hand #}}",
             f'<link rel="stylesheet" id="{GLOBAL_ID}" class="no-inline-styles" '
             "href=\"{{ url_for('static', filename='css/plotly.css') }}\">"]
    lines += [f'<template id="{key}"></template>' for key in sorted(others)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chromium", default=os.environ.get("CONVSCOPE_CHROMIUM") or shutil.which("chromium")
                    or "/usr/bin/chromium")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        version, rules, others = read_styles(browser)
        browser.close()
    OUT.write_text(render_css(version, rules, others))
    PARTIAL.write_text(render_partial(version, others))
    print(f"{OUT.relative_to(ROOT)}: {len(rules)} rules and {len(others)} more <style> of Plotly.js {version}; "
          f"{PARTIAL.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
