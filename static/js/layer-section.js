/**
 * One layer's section of the layer view: its header (name, shape, parameters, hide toggle), its
 * canvases (tiles for maps, a node column for vectors, a host for the softmax chart) and legend,
 * and their CSS sizes at a zoom factor.  buildLayer(desc, prevDesc, li) → entry;
 * sizeEntry(entry, zoom, maxH) within a height budget
 */
import { createLegend } from "./legend.js";
import { layoutFor } from "./tiles.js";
import { el } from "./core/dom.js";

export function buildLayer(desc, prevDesc, li) {
  const lay = layoutFor(desc, prevDesc);
  const section = el("section", `layer layer-${lay.type}`);
  section.dataset.layer = desc.name;
  section.dataset.kind = desc.kind;
  const header = el("header", "layer-header");
  const title = el("h3", "layer-name", desc.name);
  const toggle = el("button", "layer-toggle", "−");
  toggle.type = "button";
  toggle.setAttribute("aria-label", `Hide layer ${desc.name}`);
  toggle.setAttribute("aria-expanded", "true");
  const help = el("button", "layer-help", "?");
  help.type = "button";
  help.setAttribute("aria-label", `What ${desc.name} does`);
  help.setAttribute("aria-expanded", "false");
  help.dataset.layer = desc.name;
  header.append(
    title,
    help,
    toggle,
    el("div", "layer-shape", desc.output_shape.join("×")),
    el("div", "layer-params", desc.params ? `${desc.params.toLocaleString("en")} params` : "no params"),
  );
  header.querySelector(".layer-params").title = desc.params_formula || "";
  const body = el("div", "layer-body");
  body.tabIndex = 0;
  body.setAttribute("role", "group");
  body.setAttribute(
    "aria-label",
    `${desc.name} (${desc.kind}, ${desc.output_shape.join("×")}): ` +
      "arrow keys step through units, Page Up/Down change channel, Enter pins, Escape unpins",
  );
  const entry = {
    desc,
    li,
    lay,
    section,
    body,
    toggle,
    canvases: [],
    legend: null,
    chart: null,
    cursor: { c: 0, y: 0, x: 0 },
  };
  if (lay.type === "maps") {
    const grid = el("div", lay.scroll ? "tiles tiles-scroll" : "tiles");
    if (lay.scroll) {
      grid.tabIndex = -1; // scrolled by the wheel or by focusing a tile's unit, not a Tab stop
      grid.title = `${lay.C} maps: scroll to see them all`;
    }
    entry.grid = grid;
    for (let c = 0; c < lay.C; c++) {
      const cv = el("canvas", "tile");
      cv.width = lay.W;
      cv.height = lay.H;
      cv.dataset.layer = desc.name;
      cv.dataset.channel = c;
      grid.append(cv);
      entry.canvases.push(cv);
    }
    body.append(grid);
  } else if (lay.type === "vector") {
    const wrap = el("div", "nodes");
    const cv = el("canvas", "vector");
    cv.width = lay.cols;
    cv.height = lay.rows;
    cv.dataset.layer = desc.name;
    wrap.append(cv);
    if (lay.labels) {
      const labels = el("div", "node-labels");
      for (let i = 0; i < lay.n; i++) labels.append(el("span", "", String(i)));
      wrap.append(labels);
      entry.labels = labels;
    }
    body.append(wrap);
    entry.canvases.push(cv);
  }
  section.append(header, body);
  if (lay.type !== "softmax") entry.legend = createLegend(section);
  sizeEntry(entry, 1);
  return entry;
}

/** The gap between a layer's tiles in CSS pixels (app.css .tiles), for the height budget. */
const TILE_GAP = 6;

/**
 * CSS sizes of a layer's canvases at `zoom` (1 = the normal view; presentation mode enlarges),
 * within `maxH` CSS pixels of height when given (a laptop or projector screen: the layers fit under
 * the pad): a map layer first draws its units smaller (down to 60 % of their size, never under 2 px),
 * then spreads its tiles over more columns; a node column gets shorter cells; the chart shrinks.
 */
export function sizeEntry(entry, zoom, maxH = Infinity) {
  const { lay } = entry;
  if (lay.type === "maps") {
    // presentation mode lays many-channel layers out wider so the enlarged tiles keep to the screen
    let cols = zoom > 1 && lay.C > 6 ? 4 : zoom > 1 && lay.C > 1 ? 3 : lay.tileCols;
    let s = Math.round(lay.scale * zoom);
    const least = Math.max(2, Math.ceil(lay.scale * zoom * 0.6));
    const height = () => Math.ceil(lay.C / cols) * (lay.H * s + TILE_GAP);
    while (!lay.scroll && height() > maxH) {
      if (s > least) s--;
      else if (cols < lay.C) cols++;
      else break;
    }
    entry.grid.style.gridTemplateColumns = `repeat(${cols}, auto)`;
    for (const cv of entry.canvases) {
      cv.style.width = `${lay.W * s}px`;
      cv.style.height = `${lay.H * s}px`;
    }
    entry.fitted = { cols, scale: s };
  } else if (lay.type === "vector") {
    // node columns grow wider, not taller: the long dense columns must stay on a projector screen
    const cw = Math.round(lay.cellW * zoom);
    let ch = lay.labels ? Math.round(lay.cellH * zoom) : lay.cellH;
    if (lay.rows * ch > maxH) ch = Math.max(lay.labels ? 16 : 1, Math.floor(maxH / lay.rows));
    entry.canvases[0].style.width = `${lay.cols * cw}px`;
    entry.canvases[0].style.height = `${lay.rows * ch}px`;
    if (entry.labels) entry.labels.style.gridTemplateRows = `repeat(${lay.n}, ${ch}px)`;
    entry.fitted = { cellH: ch };
  } else if (entry.chart) {
    const z = zoom > 1 ? 1.1 : 1;
    // the chart's 330 px and the predicted digit above it share the budget
    const digit = entry.body.querySelector(".predicted");
    const digitH = (digit && digit.offsetHeight) || 80;
    entry.chart.setZoom(Math.max(0.5, Math.min(z, (maxH - digitH) / 330)));
  }
}
