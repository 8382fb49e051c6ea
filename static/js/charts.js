/**
 * The softmax as a bar chart with the predicted digit large beside it.  All of it is ours: an SVG
 * frame (the rows' tick labels, the probability axis with its grid lines and title) and the ten bars
 * as elements laid over it at the same pixel mapping, so that following the pen costs one style write
 * per bar.  Plotly.js drew the frame until 2026-12: 0.5–1 s of the main thread and 1.2 MB on the wire
 * at every first visit, for three tick labels; the layer view now loads it only for its evaluation
 * view.  createSoftmaxChart(container, classes) → {update(probs, label), barCentre(i) → {x, y} in
 * container pixels, indexAt(clientX, clientY) → digit | null (the row under a point: the layer
 * view's hit-test for hover and click), highlight(i|null), setZoom(factor), values() → {probs,
 * label}}.  The layer view's tooltip and pinned arithmetic show the numbers.
 */

const BARGAP = 0.18;
const SVG = "http://www.w3.org/2000/svg";
const FONT = '"Open Sans", verdana, arial, sans-serif';
const INK = "#444";

export function createSoftmaxChart(container, classes = null) {
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
  const frame = document.createElementNS(SVG, "svg");
  frame.setAttribute("class", "softmax-frame");
  frame.setAttribute("aria-hidden", "true");
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
      tickvals: [0, 0.5, 1], // x runs from 0 to 1 over the plot area's width
      tickfont: { size: 15 },
      title: { text: "probability", font: { size: 14 } },
    },
    yaxis: {
      // one row per class, top to bottom, whatever the values; a model with named classes
      // (Fashion-MNIST's) shows their names, digits otherwise
      ticktext: digits.map((d) => (classes && classes[d] ? shortName(classes[d]) : String(d))),
      tickfont: { size: classes ? 13 : 18 },
    },
  };

  /** The plot area in the chart's pixels (the ranges are fixed: x 0..1, one row per class). */
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
  function svg(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  /** The frame for the current size: grid lines and the zero line, tick labels, the axis title. */
  function drawFrame() {
    const a = area();
    const bottom = a.top + a.height;
    const xFont = layout.xaxis.tickfont.size;
    const parts = [];
    for (const v of layout.xaxis.tickvals) {
      const x = (a.left + v * a.width).toFixed(2);
      const line = { x1: x, x2: x, y1: a.top, y2: bottom };
      parts.push(svg("line", { ...line, stroke: v === 0 ? INK : "#eee" })); // the zero line, grid lines
      const tick = svg("g", { class: "xtick" });
      tick.append(
        svg(
          "text",
          { x, y: bottom + 3 + xFont * 0.75, "text-anchor": "middle", "font-size": xFont },
          String(v),
        ),
      );
      parts.push(tick);
    }
    const row = rowHeight();
    layout.yaxis.ticktext.forEach((label, i) => {
      const tick = svg("g", { class: "ytick" });
      tick.append(
        svg(
          "text",
          {
            x: a.left - 3,
            y: (a.top + row * (i + 0.5)).toFixed(2),
            "text-anchor": "end",
            "dominant-baseline": "central",
            "font-size": layout.yaxis.tickfont.size,
          },
          label,
        ),
      );
      parts.push(tick);
    });
    const title = layout.xaxis.title;
    parts.push(
      svg(
        "text",
        {
          class: "xtitle",
          x: (a.left + a.width / 2).toFixed(2),
          y: layout.height - 2,
          "text-anchor": "middle",
          "font-size": title.font.size,
        },
        title.text,
      ),
    );
    frame.setAttribute("width", layout.width);
    frame.setAttribute("height", layout.height);
    frame.setAttribute("viewBox", `0 0 ${layout.width} ${layout.height}`);
    frame.setAttribute("font-family", FONT);
    frame.setAttribute("fill", INK);
    frame.replaceChildren(...parts);
  }
  sizePlot();
  paintBars();
  drawFrame();

  return {
    update(p, l) {
      probs = Array.from(p);
      label = l;
      digit.textContent = l === null ? "?" : classes && classes[l] ? classes[l] : String(l);
      digit.classList.toggle("named", Boolean(classes && l !== null));
      digit.dataset.label = l === null ? "" : String(l);
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
