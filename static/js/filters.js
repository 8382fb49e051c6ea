/**
 * The filter viewer: every conv layer's kernels as small images on one diverging colour scale per
 * layer (symmetric around 0), one row per output filter and one column per input channel.  Each
 * kernel is a link that opens it in the kernel lab.  Each layer's grid is one Tab stop; the arrow
 * keys move between its kernels (a roving tabindex, as in the gallery) and Enter opens one.
 * createFilterViewer(container, {labHref(layer, o, i, rows) → url}) →
 *   {update({model, weights: Map(name → parseWeights()), palette}), refreshLinks()}
 */
import { domain, paintRGBA, scaleFor } from "./core/colors.js";
import { el, pixelImage } from "./core/dom.js";
import { createLegend } from "./legend.js";

/** Kernel (o, i) of a conv weight (C_out, C_in, kh, kw) as rows [kh][kw]. */
function kernelRows(w, o, i) {
  const [, Cin, kh, kw] = w.shape;
  const rows = [];
  for (let y = 0; y < kh; y++) {
    rows.push(
      Array.from(w.weight.subarray(((o * Cin + i) * kh + y) * kw, ((o * Cin + i) * kh + y + 1) * kw)),
    );
  }
  return rows;
}

// A large imported network's bank (e.g. 128 × 64 kernels) is shown in part: every kernel is a link
// re-made at each input change, and ten thousand of them made each response cost half a second.
export const SHOWN = { filters: 16, inputs: 16 };

export function createFilterViewer(container, { labHref }) {
  const root = el("div", "filters");
  container.append(root);
  let links = [];

  function layerBlock(d, w, palette) {
    const [Cout, Cin, kh, kw] = w.shape;
    let min = Infinity,
      max = -Infinity;
    for (const v of w.weight) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const scale = scaleFor("conv", -1, palette);
    const [lo, hi] = domain(scale, min, max);
    const block = el("section", "filter-layer");
    block.dataset.layer = d.name;
    block.append(
      el(
        "h3",
        "",
        `${d.name}: ${Cout} filters × ${Cin} input ${Cin === 1 ? "channel" : "channels"}, ${kh}×${kw} each`,
      ),
    );
    const rowsShown = Math.min(Cout, SHOWN.filters),
      colsShown = Math.min(Cin, SHOWN.inputs);
    if (rowsShown < Cout || colsShown < Cin) {
      const note = el(
        "p",
        "filter-note",
        `showing filters 0–${rowsShown - 1} of ${Cout} and input maps 0–${colsShown - 1} of ${Cin} ` +
          "(the colour scale is the whole layer's); every kernel is in GET /api/model/layers/…/weights",
      );
      block.append(note);
    }
    const grid = el("div", "filter-grid");
    grid.style.gridTemplateColumns = `auto repeat(${colsShown}, auto)`;
    grid.append(el("span", "filter-corner", Cin > 1 ? "filter \\ input map" : ""));
    for (let i = 0; i < colsShown; i++) grid.append(el("span", "filter-col", Cin > 1 ? `in ${i}` : "kernel"));
    for (let o = 0; o < rowsShown; o++) {
      grid.append(el("span", "filter-row", `#${o}`));
      for (let i = 0; i < colsShown; i++) {
        const a = el("a", "filter");
        a.dataset.layer = d.name;
        a.dataset.filter = String(o);
        a.dataset.channel = String(i);
        a.setAttribute(
          "aria-label",
          `${d.name} filter ${o}${Cin > 1 ? `, input map ${i}` : ""}: open in the kernel lab`,
        );
        a.title = `${d.name} filter ${o}${Cin > 1 ? `, input map ${i}` : ""} — open in the kernel lab`;
        const off = (o * Cin + i) * kh * kw;
        a.append(
          pixelImage(
            kw,
            kh,
            (rgba) => paintRGBA(rgba, w.weight, lo, hi, scale, off, kh * kw),
            "filter-canvas",
          ),
        );
        a.tabIndex = o === 0 && i === 0 ? 0 : -1;
        grid.append(a);
        links.push({ a, layer: d.name, o, i, rows: kernelRows(w, o, i) });
      }
    }
    grid.addEventListener("keydown", (ev) => {
      const a = ev.target.closest("a.filter");
      if (!a) return;
      const o = Number(a.dataset.filter),
        i = Number(a.dataset.channel);
      const [dy, dx] =
        { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[ev.key] || [];
      if (dy === undefined) return;
      ev.preventDefault();
      const to = grid.querySelector(
        `a.filter[data-filter="${Math.min(rowsShown - 1, Math.max(0, o + dy))}"][data-channel="${Math.min(colsShown - 1, Math.max(0, i + dx))}"]`,
      );
      for (const x of grid.querySelectorAll("a.filter")) x.tabIndex = x === to ? 0 : -1;
      to.focus();
    });
    const legendHost = el("div", "filter-legend");
    block.append(grid, legendHost);
    createLegend(legendHost).update({ scale, lo, hi, min, max, scope: "layer" });
    return block;
  }

  function refreshLinks() {
    for (const l of links) l.a.href = labHref(l.layer, l.o, l.i, l.rows);
  }

  return {
    update({ model, weights, palette = "classic" }) {
      links = [];
      const blocks = model.layers
        .filter((d) => d.op === "conv" && weights.has(d.name))
        .map((d) => layerBlock(d, weights.get(d.name), palette));
      root.replaceChildren(...blocks);
      refreshLinks();
    },
    refreshLinks,
  };
}
