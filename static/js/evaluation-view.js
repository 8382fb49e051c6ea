/**
 * "How the model does": the model on its test images (GET /api/evaluation), loaded when the panel
 * is first opened — its accuracy, the confusion matrix (click a cell for its images), the mistakes
 * it is most sure of, and a 2-D PCA map of any layer over 2,000 test images (GET /api/embedding,
 * a Plotly scatter coloured by class).  Clicking an image or a point opens it in the layer view.
 *
 * createEvaluationView(container, {model, api, onOpen(item), onError}) → {open()}
 */
import { el } from "./core/dom.js";
import { loadPlotly } from "./core/plotly.js";

const CLASS_COLOURS = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

function thumb(item, onOpen) {
  const b = el("button", "eval-thumb");
  b.type = "button";
  b.dataset.index = item.index;
  b.title = `MNIST test image #${item.index}: label ${item.label}, predicted ${item.predicted} (p = ${item.confidence.toFixed(3)}) — open it in the layer view`;
  const [, H, W] = item.image.shape;
  const cv = el("canvas");
  cv.width = W;
  cv.height = H;
  const ctx = cv.getContext("2d");
  const img = ctx.createImageData(W, H);
  const flat = item.image.data.flat(Infinity);
  for (let i = 0; i < W * H; i++) {
    const v = Math.round(255 * flat[i]);
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
  b.append(cv, el("span", "", `${item.label}→${item.predicted}`));
  b.addEventListener("click", () => onOpen(item));
  return b;
}

export function createEvaluationView(container, { model, api, onOpen, onError }) {
  const summary = el("p", "eval-summary", "loading…");
  const matrix = el("div", "eval-matrix");
  const cellOut = el("div", "eval-cell");
  const mistakes = el("div", "eval-mistakes");
  const mapHost = el("div", "eval-map");
  mapHost.id = "eval-map";
  const layer = el("select");
  layer.id = "eval-layer";
  const layers = model.layers.filter((d, i) => i > 0 && d.op !== "softmax" && d.op !== "input");
  layers.forEach((d) => {
    const o = el("option", "", d.name);
    o.value = d.name;
    o.selected = d === layers[layers.length - 1] || d.name === "fc1";
    layer.append(o);
  });
  const mapWords = el("p", "eval-map-words");
  const left = el("div", "eval-left");
  left.append(summary, matrix, cellOut, el("h3", "", "The mistakes it is most sure of"), mistakes);
  const right = el("div", "eval-right");
  const pick = el("label", "", "2-D map (PCA) of layer ");
  pick.append(layer);
  right.append(pick, mapHost, mapWords);
  const body = el("div", "eval-body");
  body.append(left, right);
  container.append(body);
  let loaded = false;

  function showMatrix(r) {
    const n = r.confusion.length;
    matrix.style.gridTemplateColumns = `auto repeat(${n}, minmax(0, 1fr))`;
    matrix.replaceChildren(el("span", "eval-corner", "true \\ predicted"));
    for (let p = 0; p < n; p++) matrix.append(el("span", "eval-head", String(p)));
    const max = Math.max(...r.confusion.flat().filter((v, i) => i % (n + 1) !== 0), 1);
    r.confusion.forEach((row, t) => {
      matrix.append(el("span", "eval-head", String(t)));
      row.forEach((v, p) => {
        const b = el("button", t === p ? "eval-cell-button diag" : "eval-cell-button", String(v));
        b.type = "button";
        b.dataset.true = t;
        b.dataset.predicted = p;
        if (t !== p && v) b.style.background = `rgba(214, 39, 40, ${0.15 + 0.85 * (v / max)})`;
        b.title = `${v} test images of class ${t} predicted ${p}`;
        b.addEventListener("click", () => openCell(t, p));
        matrix.append(b);
      });
    });
  }

  function openCell(t, p) {
    cellOut.textContent = "…";
    api.getJSONModel(`/api/evaluation/cell?true=${t}&predicted=${p}`).then(
      (r) => {
        cellOut.replaceChildren(
          el(
            "p",
            "eval-cell-words",
            `${r.count} test image${r.count === 1 ? "" : "s"} of class ${t} predicted ${p}${r.count > r.images.length ? ` (the ${r.images.length} most confident)` : ""}:`,
          ),
        );
        const row = el("div", "eval-thumbs");
        for (const item of r.images) row.append(thumb(item, onOpen));
        cellOut.append(row);
        cellOut.dataset.true = t;
        cellOut.dataset.predicted = p;
      },
      (e) => onError(e.message),
    );
  }

  function drawMap() {
    mapWords.textContent = "computing…";
    const points = api.getJSONModel(`/api/embedding?layer=${encodeURIComponent(layer.value)}&n=2000`);
    Promise.all([loadPlotly(), points]).then(
      ([Plotly, r]) => {
        const traces = [];
        for (let c = 0; c < 10; c++) {
          const idx = r.labels.map((l, i) => (l === c ? i : -1)).filter((i) => i >= 0);
          if (!idx.length) continue;
          traces.push({
            type: "scatter",
            mode: "markers",
            name: String(c),
            x: idx.map((i) => r.points[i][0]),
            y: idx.map((i) => r.points[i][1]),
            customdata: idx,
            marker: { size: 4, color: CLASS_COLOURS[c] },
            hovertemplate: `class ${c}<extra></extra>`,
          });
        }
        Plotly.react(
          mapHost,
          traces,
          {
            width: 420,
            height: 400,
            margin: { l: 40, r: 10, t: 10, b: 60 },
            legend: { orientation: "h", y: -0.25 },
            xaxis: { title: { text: `PC 1 (${(100 * r.explained_variance[0]).toFixed(1)} %)` } },
            yaxis: { title: { text: `PC 2 (${(100 * r.explained_variance[1]).toFixed(1)} %)` } },
          },
          { displayModeBar: false },
        );
        mapHost.removeAllListeners && mapHost.removeAllListeners("plotly_click");
        mapHost.on("plotly_click", (ev) => {
          const k = ev.points[0].customdata;
          api.getJSONModel(`/api/testset/${k}`).then(onOpen, (e) => onError(e.message));
        });
        mapHost.dataset.layer = r.layer;
        mapHost.dataset.points = r.points.length;
        mapWords.textContent = `${r.points.length} images of ${r.dataset}, ${r.layer}'s activations projected on their two directions of largest variance (${r.timing_ms.compute.toFixed(0)} ms). Click a point to open that image.`;
      },
      (e) => onError(e.message),
    );
  }

  layer.addEventListener("change", drawMap);

  return {
    open() {
      if (loaded) return;
      loaded = true;
      api.getJSONModel("/api/evaluation").then(
        (r) => {
          summary.textContent = `${(100 * r.accuracy).toFixed(2)} % of ${r.count.toLocaleString("en")} images right (${r.dataset}); ${r.mistake_count} mistakes. Click a cell to see its images.`;
          summary.dataset.accuracy = r.accuracy;
          showMatrix(r);
          const row = el("div", "eval-thumbs");
          for (const item of r.mistakes.slice(0, 24)) row.append(thumb(item, onOpen));
          mistakes.replaceChildren(row);
          drawMap();
        },
        (e) => {
          summary.textContent = e.message;
        },
      );
    },
  };
}
