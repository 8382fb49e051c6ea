/**
 * The training page's live views: charts (Plotly), the first layer's filters and the confusion matrix.
 *
 * createCharts(lossNode, lrNode) → {update(history)}     history: {progress: [...], evaluation: [...]}
 * drawFilters(container, {shape, values})                 one tile per filter, a shared ± colour range
 * drawConfusion(container, confusion, classes)            counts, with each row's accuracy
 */
import { colourOf, lut } from "../core/colors.js";
import { el, sizeCanvas } from "../core/dom.js";
import { loadPlotly } from "../core/plotly.js";

const AXIS = { gridcolor: "#e5e7eb", zeroline: false };

export function createCharts(lossNode, lrNode) {
  let Plotly = window.Plotly || null;
  let latest = null; // the history shown once Plotly.js has arrived
  loadPlotly().then((P) => {
    Plotly = P;
    if (latest) draw(latest);
  });
  const layout = {
    height: 260,
    margin: { l: 48, r: 48, t: 24, b: 40 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    legend: { orientation: "h", y: 1.18, x: 0 },
    xaxis: { ...AXIS, title: { text: "epoch" } },
    yaxis: { ...AXIS, title: { text: "loss" }, rangemode: "tozero" },
    yaxis2: {
      ...AXIS,
      title: { text: "accuracy" },
      overlaying: "y",
      side: "right",
      range: [0, 1],
      dtick: 0.2,
      tickformat: ".0%",
    },
  };
  const lrLayout = {
    height: 150,
    margin: { l: 48, r: 48, t: 8, b: 36 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    xaxis: { ...AXIS, title: { text: "epoch" } },
    yaxis: { ...AXIS, title: { text: "learning rate" }, exponentformat: "e" },
  };
  const config = { displayModeBar: false, responsive: true, staticPlot: false };
  function draw({ progress, evaluation }) {
    {
      const x = progress.map((p) => p.epoch);
      const ex = evaluation.map((e) => e.epoch);
      Plotly.react(
        lossNode,
        [
          { x, y: progress.map((p) => p.loss), name: "training loss", line: { color: "#c2410c" } },
          {
            x,
            y: progress.map((p) => p.accuracy),
            name: "training accuracy",
            yaxis: "y2",
            line: { color: "#2563eb" },
          },
          {
            x: ex,
            y: evaluation.map((e) => e.accuracy),
            name: "held-out accuracy",
            yaxis: "y2",
            mode: "lines+markers",
            line: { color: "#1d7a3a" },
          },
        ],
        layout,
        config,
      );
      Plotly.react(
        lrNode,
        [{ x, y: progress.map((p) => p.lr), name: "learning rate", line: { color: "#4b5563" } }],
        lrLayout,
        config,
      );
    }
  }
  return {
    update(history) {
      latest = history;
      if (Plotly) draw(history);
    },
  };
}

export function drawFilters(container, { shape, values }) {
  const [cOut, cIn, kh, kw] = shape;
  const m = values.reduce((a, v) => Math.max(a, Math.abs(v)), 0) || 1;
  const colour = colourOf(lut("diverging"), -m, m);
  const side = Math.max(28, Math.min(72, Math.floor(360 / Math.max(kh, kw))));
  const tiles = [];
  for (let o = 0; o < cOut; o++) {
    const canvas = el("canvas", {
      class: "filter-tile",
      title: `filter ${o}`, // numbered from 0, as in the layer view and the kernel lab
      "aria-label": `filter ${o}`,
    });
    const ctx = sizeCanvas(canvas, side, side);
    const cell = side / Math.max(kh, kw);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++) {
        let v = 0; // a colour model's filter: its channels' mean, one picture per filter
        for (let c = 0; c < cIn; c++) v += values[((o * cIn + c) * kh + y) * kw + x];
        const [r, g, b] = colour(v / cIn);
        ctx.fillStyle = `rgb(${r},${g},${b})`;
        ctx.fillRect(x * cell, y * cell, Math.ceil(cell), Math.ceil(cell));
      }
    tiles.push(canvas);
  }
  container.replaceChildren(...tiles);
  container.dataset.range = m.toPrecision(4);
}

export function drawConfusion(container, confusion, classes) {
  const max = Math.max(1, ...confusion.flat());
  const head = el(
    "tr",
    {},
    el("th", { scope: "col" }, "true ╲ said"),
    ...classes.map((c) => el("th", { scope: "col", title: c }, short(c))),
    el("th", { scope: "col" }, "right"),
  );
  const rows = confusion.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return el(
      "tr",
      {},
      el("th", { scope: "row", title: classes[i] }, short(classes[i])),
      ...row.map((n, j) => {
        const a = n / max;
        const bg =
          i === j
            ? `rgba(29,122,58,${0.15 + 0.85 * a})`
            : n
              ? `rgba(194,65,12,${0.15 + 0.85 * a})`
              : "transparent";
        const td = el("td", {}, n ? String(n) : "");
        td.style.background = bg; // CSSOM, not a style attribute: the CSP allows it
        if (a > 0.55) td.style.color = "#fff";
        return td;
      }),
      el("td", { class: "per-class" }, total ? `${Math.round((100 * row[i]) / total)} %` : "–"),
    );
  });
  container.replaceChildren(
    el("table", { class: "confusion-table" }, el("thead", {}, head), el("tbody", {}, ...rows)),
  );
}

const short = (c) => (c.length > 7 ? c.split(/[/ ]/)[0].slice(0, 7) : c);
