/**
 * A layer's colour legend: the gradient of its scale between the domain's ends, and the range
 * of the values actually present.  createLegend(container) → {update({scale, lo, hi, min, max, scope})}
 */
import { lut } from "./core/colors.js";
import { el, pixelDataUrl } from "./core/dom.js";

const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

export function createLegend(container) {
  const root = document.createElement("div");
  root.className = "legend";
  // a picture, not a live canvas (core/dom.js pixelImage): it changes only with the scale
  const bar = el("img", { class: "legend-bar", alt: "", width: 64, height: 1 });
  const ends = document.createElement("div");
  ends.className = "legend-ends";
  const lo = document.createElement("span");
  const hi = document.createElement("span");
  ends.append(lo, hi);
  const range = document.createElement("div");
  range.className = "legend-range";
  root.append(bar, ends, range);
  container.append(root);
  let lastScale = null;

  return {
    element: root,
    update({ scale, lo: a, hi: b, min, max, scope }) {
      if (scale !== lastScale) {
        const table = lut(scale);
        bar.src = pixelDataUrl(64, 1, (rgba) => {
          for (let i = 0; i < 64; i++) {
            const j = Math.round((i / 63) * 255);
            rgba.set([table[j * 3], table[j * 3 + 1], table[j * 3 + 2], 255], i * 4);
          }
        });
        bar.dataset.scale = scale;
        lastScale = scale;
      }
      lo.textContent = fmt(a);
      hi.textContent = fmt(b);
      range.textContent = scope === "map" ? "per map" : `${fmt(min)} … ${fmt(max)}`;
      range.title = `values in this layer: ${min} … ${max}`;
      root.dataset.min = min;
      root.dataset.max = max;
      root.dataset.lo = a;
      root.dataset.hi = b;
      root.dataset.scale = scale;
    },
  };
}
