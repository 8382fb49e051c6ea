"""A strict Content-Security-Policy (no 'unsafe-inline' for scripts or styles) with Plotly.js on the
pages: Plotly.js's own styles are linked as static/css/plotly.css instead of the <style> elements it
would insert (scripts/make_plotly_css.py), so nothing is blocked and its charts keep their styles."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("make_plotly_css", ROOT / "scripts" / "make_plotly_css.py")
make_plotly_css = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_plotly_css)

VIOLATIONS = """window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) =>
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}:${e.columnNumber}`));"""


def test_plotly_css_is_what_the_installed_plotly_inserts(browser):
    version, rules, others = make_plotly_css.read_styles(browser)
    assert rules and others, "Plotly.js inserted no styles: the read-out no longer finds them"
    stale = "run `.venv/bin/python scripts/make_plotly_css.py` (Plotly.js is now {})".format(version)
    assert make_plotly_css.OUT.read_text() == make_plotly_css.render_css(version, rules, others), stale
    assert make_plotly_css.PARTIAL.read_text() == make_plotly_css.render_partial(version, others), stale


@pytest.mark.parametrize("path, chart", [
    ("/?sample=1", None),                    # the layer view draws its own chart: no Plotly.js
    ("/kernels#src=builtin:shapes&k=sobel_x", "#histogram-panel .main-svg"),
    ("/train", None),                        # Plotly.js loads; the charts wait for a training job
])
def test_pages_run_under_a_strict_policy(new_context, live_server, path, chart):
    page = new_context(viewport={"width": 1366, "height": 768}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.add_init_script(VIOLATIONS)
    response = page.goto(live_server + path)
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "style-src 'self'" in csp
    if path.startswith("/?"):
        page.wait_for_selector(".softmax-plot svg.softmax-frame .ytick", state="attached", timeout=30_000)
        page.wait_for_function("() => window.__convscope.rendered > 0 && !window.__convscope.busy()")
        assert page.evaluate("() => typeof window.Plotly") == "undefined"
    else:
        page.wait_for_function("() => typeof window.Plotly === 'object'", timeout=30_000)
    if chart:
        page.wait_for_selector(chart, state="attached", timeout=30_000)
        # a rule of Plotly.js's own (`.js-plotly-plot .plotly .main-svg {position: absolute;
        # pointer-events: none}`) applies, from the linked stylesheet
        style = page.eval_on_selector(chart, "(e) => { const s = getComputedStyle(e); return [s.position, s.pointerEvents]; }")
        assert style == ["absolute", "none"]
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0, "a <style> was inserted"
    assert page.evaluate("() => window.__violations") == []
    assert errors == []
