/**
 * The softmax as a bar chart with the predicted digit large beside it.  Plotly.js draws the chart's
 * frame (axes, tick labels, the axis title); the ten bars are elements of our own laid over it at
 * the same pixel mapping, so that following the pen costs one style write per bar instead of a
 * Plotly redraw (10–28 ms of the main thread on 2 cores, which held up the next answer).  The frame
 * is drawn once Plotly.js has arrived (core/plotly.js) and again only when the chart is resized;
 * the bars and the digit are there from the first answer on.
 * createSoftmaxChart(container, classes) → {update(probs, label), barCentre(i) → {x, y} in container pixels,
 * indexAt(clientX, clientY) → digit | null (the row under a point: the layer view's hit-test for
 * hover and click), highlight(i|null), setZoom(factor), values() → {probs, label}}.  Plotly's own
 * hover is off: the layer view's tooltip and pinned arithmetic show the numbers.
 */

import { loadPlotly } from "./core/plotly.js";

const BARGAP = 0.18;

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
  const barLayer = document.createElement("div");
  barLayer.className = "softmax-bars";
  barLayer.setAttribute("aria-hidden", "true");
  const digits = [...Array(10).keys()];
  const bars = digits.map((d) => {
    const bar = document.createElement("div");
    bar.className = "softmax-bar";
    bar.dataset.class = String(d);
    barLayer.append(bar);
    return bar;
  });
  const frame = document.createElement("div"); // Plotly's own element: it replaces what it holds
  frame.className = "softmax-frame";
  plot.append(frame, barLayer);
  container.append(digit, plot);
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
      // the rows are fixed: digit d's row is centred at d (top to bottom), whatever the values
      range: [digits.length - 0.5, -0.5],
      tickvals: digits,
      // a model with named classes (Fashion-MNIST's) shows their names; digits otherwise
      ticktext: digits.map((d) => (classes && classes[d] ? shortName(classes[d]) : String(d))),
      fixedrange: true,
      tickfont: { size: classes ? 13 : 18 },
      zeroline: false,
    },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    showlegend: false,
    hovermode: false,
  };
  const config = { displayModeBar: false, responsive: false, staticPlot: false };

  /** The plot area in the chart's pixels: Plotly's mapping for these fixed ranges, in closed form. */
  function area() {
    const m = layout.margin;
    return { left: m.l, top: m.t, width: layout.width - m.l - m.r, height: layout.height - m.t - m.b };
  }
  function rowHeight() {
    return area().height / digits.length;
  }
  function barBox(i) {
    const a = area();
    const row = rowHeight();
    const thick = row * (1 - BARGAP);
    const p = Math.max(0, Math.min(1, Number(probs[i]) || 0));
    return { left: a.left, top: a.top + row * i + (row - thick) / 2, width: p * a.width, height: thick };
  }
  function paintBars() {
    for (const i of digits) {
      const b = barBox(i);
      const s = bars[i].style;
      s.left = `${b.left}px`;
      s.top = `${b.top.toFixed(2)}px`;
      s.height = `${b.height.toFixed(2)}px`;
      s.width = `${b.width.toFixed(2)}px`;
      bars[i].classList.toggle("predicted-bar", i === label);
      bars[i].classList.toggle("highlighted", i === highlighted);
    }
  }
  function sizePlot() {
    plot.style.width = `${layout.width}px`;
    plot.style.height = `${layout.height}px`;
  }
  function drawFrame() {
    if (!Plotly) return;
    // one invisible trace puts the rows on the axis; the bars themselves are ours.  A copy of the
    // layout each time: Plotly.react diffs against the object it was given, which setZoom changes
    Plotly.react(
      frame,
      [{ type: "bar", orientation: "h", x: digits.map(() => 0), y: digits, hoverinfo: "none" }],
      structuredClone(layout),
      config,
    ).catch(onError);
  }
  sizePlot();
  paintBars();
  drawFrame();
  let requested = false;
  /** Plotly.js takes 0.3–1 s of the main thread to start: it runs after the layers' first picture. */
  function requestPlotly() {
    if (Plotly) {
      if (!frame.firstChild) drawFrame();
      return;
    }
    if (requested) return;
    requested = true;
    const start = () =>
      loadPlotly().then(
        (P) => {
          Plotly = P;
          drawFrame();
        },
        (e) => onError(e),
      );
    requestAnimationFrame(() => setTimeout(start, 0));
  }

  return {
    update(p, l) {
      probs = Array.from(p);
      label = l;
      digit.textContent = l === null ? "?" : classes && classes[l] ? classes[l] : String(l);
      digit.classList.toggle("named", Boolean(classes && l !== null));
      digit.dataset.label = l === null ? "" : String(l);
      requestPlotly();
      paintBars();
    },
    highlight(i) {
      if (i === highlighted) return;
      if (highlighted !== null) bars[highlighted].classList.remove("highlighted");
      highlighted = i;
      if (i !== null) bars[i].classList.add("highlighted");
    },
    setZoom(z) {
      const width = Math.round(220 * z);
      const height = Math.round(330 * z);
      if (width === layout.width && height === layout.height) return;
      layout.width = width;
      layout.height = height;
      layout.margin = { l: Math.round((classes ? 78 : 34) * z), r: 12, t: 8, b: Math.round(36 * z) };
      // a small chart keeps labels a room can read (rows are 15 px apart at the smallest zoom)
      layout.xaxis.tickfont.size = Math.max(10, Math.round(15 * z));
      layout.xaxis.title.font.size = Math.max(10, Math.round(14 * z));
      layout.yaxis.tickfont.size = Math.max(classes ? 10 : 12, Math.round((classes ? 13 : 18) * z));
      sizePlot();
      paintBars();
      drawFrame();
    },
    values: () => ({ probs: probs.slice(), label }),
    /** The digit whose row (bar, tick label or the empty space right of a short bar) is under a point. */
    indexAt(clientX, clientY) {
      const r = plot.getBoundingClientRect();
      const a = area();
      const x = clientX - r.left,
        y = clientY - r.top - a.top;
      if (x < 0 || x > a.left + a.width || y < 0 || y > a.height) return null;
      const i = Math.floor(y / rowHeight());
      return i >= 0 && i < digits.length ? i : null;
    },
    /** Centre of bar i's row at the axis, relative to `container`, for drawing links to it. */
    barCentre(i) {
      const base = plot.getBoundingClientRect();
      const box = container.getBoundingClientRect();
      const a = area();
      return { x: base.left - box.left + a.left, y: base.top - box.top + a.top + rowHeight() * (i + 0.5) };
    },
  };
}

/** A class name short enough for a bar label: "T-shirt/top" → "T-shirt", "Ankle boot" → "Ankle boot". */
function shortName(name) {
  return name.length > 10 ? name.split(/[/]/)[0].slice(0, 10) : name;
}
