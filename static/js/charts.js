/**
 * The softmax as a Plotly bar chart with the predicted digit large beside it.  Plotly.js arrives
 * after the page's first picture (core/plotly.js): until then the digit is shown and the bars wait.
 * createSoftmaxChart(container, classes) → {update(probs, label), barCentre(i) → {x, y} in container pixels,
 * indexAt(clientX, clientY) → digit | null (the row under a point: the layer view's hit-test for
 * hover and click), highlight(i|null), setZoom(factor), values() → {probs, label}}; bars redraw at
 * most every 120 ms (the digit at once).  Plotly's own hover is off: the layer view's tooltip and
 * pinned arithmetic show the numbers.
 */

import { loadPlotly } from "./core/plotly.js";

export function createSoftmaxChart(container, classes = null, { onError = () => {} } = {}) {
  let Plotly = window.Plotly || null;
  const digit = document.createElement("div");
  digit.className = "predicted";
  digit.id = "prediction";
  digit.setAttribute("aria-live", "polite");
  digit.textContent = "?";
  digit.dataset.label = "";
  const plot = document.createElement("div");
  plot.className = "softmax-plot";
  container.append(digit, plot);
  const digits = [...Array(10).keys()];
  let highlighted = null;
  let probs = new Array(10).fill(0);
  let label = null;

  const layout = {
    width: 220,
    height: 330,
    margin: { l: classes ? 78 : 34, r: 12, t: 8, b: 36 },
    xaxis: {
      range: [0, 1],
      tickvals: [0, 0.5, 1],
      fixedrange: true,
      tickfont: { size: 15 },
      title: { text: "probability", font: { size: 14 } },
    },
    yaxis: {
      autorange: "reversed",
      tickvals: digits,
      // a model with named classes (Fashion-MNIST's) shows their names; digits otherwise
      ticktext: digits.map((d) => (classes && classes[d] ? shortName(classes[d]) : String(d))),
      fixedrange: true,
      tickfont: { size: classes ? 13 : 18 },
    },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    showlegend: false,
    bargap: 0.18,
    hovermode: false,
  };
  const config = { displayModeBar: false, responsive: false, staticPlot: false };
  plot.style.width = `${layout.width}px`; // the chart's room is kept while Plotly.js is on its way
  plot.style.height = `${layout.height}px`;

  function draw() {
    if (!Plotly) return null;
    const colours = digits.map((d) => (d === highlighted ? "#111" : d === label ? "#c2410c" : "#9aa4b2"));
    return Plotly.react(
      plot,
      [
        {
          type: "bar",
          orientation: "h",
          x: probs,
          y: digits,
          marker: { color: colours },
          hoverinfo: "none",
        },
      ],
      layout,
      config,
    );
  }
  // Plotly redraws cost ~10–15 ms here: while the pen streams updates the bars are redrawn at most
  // every CHART_INTERVAL ms (the last update always lands); the big digit updates immediately.
  const CHART_INTERVAL = 120;
  let lastDraw = -Infinity,
    timer = null;
  function schedule() {
    if (timer) return;
    const wait = Math.max(0, lastDraw + CHART_INTERVAL - performance.now());
    timer = setTimeout(() => {
      timer = null;
      lastDraw = performance.now();
      draw();
    }, wait);
  }
  draw();
  let zoomed = false;
  let requested = false;
  /** Plotly.js takes 0.3–1 s of the main thread to start: it runs after the layers' first picture. */
  function requestPlotly() {
    if (Plotly || requested) return;
    requested = true;
    const start = () =>
      loadPlotly().then(
        (P) => {
          Plotly = P;
          draw();
          if (zoomed) relayout();
        },
        (e) => onError(e),
      );
    requestAnimationFrame(() => setTimeout(start, 0));
  }
  function relayout() {
    // Plotly.react diffs against the layout object it was given, which setZoom mutated in place
    Plotly.relayout(plot, {
      width: layout.width,
      height: layout.height,
      margin: { ...layout.margin },
      "xaxis.tickfont.size": layout.xaxis.tickfont.size,
      "xaxis.title.font.size": layout.xaxis.title.font.size,
      "yaxis.tickfont.size": layout.yaxis.tickfont.size,
    });
  }

  return {
    update(p, l) {
      probs = Array.from(p);
      label = l;
      digit.textContent = l === null ? "?" : classes && classes[l] ? classes[l] : String(l);
      digit.classList.toggle("named", Boolean(classes && l !== null));
      digit.dataset.label = l === null ? "" : String(l);
      requestPlotly();
      schedule();
    },
    highlight(i) {
      if (i === highlighted) return;
      highlighted = i;
      schedule();
    },
    setZoom(z) {
      layout.width = Math.round(220 * z);
      layout.height = Math.round(330 * z);
      layout.margin = { l: Math.round((classes ? 78 : 34) * z), r: 12, t: 8, b: Math.round(36 * z) };
      layout.xaxis.tickfont.size = Math.round(15 * z);
      layout.xaxis.title.font.size = Math.round(14 * z);
      layout.yaxis.tickfont.size = Math.round((classes ? 13 : 18) * z);
      plot.style.width = `${layout.width}px`;
      plot.style.height = `${layout.height}px`;
      zoomed = true;
      if (Plotly) relayout();
    },
    values: () => ({ probs: probs.slice(), label }),
    /** The digit whose row (bar, tick label or the empty space right of a short bar) is under a point. */
    indexAt(clientX, clientY) {
      const full = plot._fullLayout;
      if (!full || !full.yaxis || !full.xaxis) return null;
      const r = plot.getBoundingClientRect();
      const x = clientX - r.left,
        y = clientY - r.top - full.margin.t;
      if (x < 0 || x > full.margin.l + full.xaxis._length || y < 0 || y > full.yaxis._length) return null;
      const i = Math.round(full.yaxis.p2l(y));
      return i >= 0 && i < digits.length ? i : null;
    },
    /** Centre of bar i relative to `container`, for drawing links to it. */
    barCentre(i) {
      const full = plot._fullLayout;
      const base = plot.getBoundingClientRect();
      const box = container.getBoundingClientRect();
      if (!full || !full.yaxis) return null;
      const y = full.margin.t + full.yaxis.l2p(i);
      const x = full.margin.l;
      return { x: base.left - box.left + x, y: base.top - box.top + y };
    },
  };
}

/** A class name short enough for a bar label: "T-shirt/top" → "T-shirt", "Ankle boot" → "Ankle boot". */
function shortName(name) {
  return name.length > 10 ? name.split(/[/]/)[0].slice(0, 10) : name;
}
