/**
 * "Before and after the shift": the translation demo side by side.  For the layer chosen, its maps
 * for the unshifted input, for the shifted one, and their difference (after − before); for every
 * layer, how much it changed (‖after − before‖ / ‖before‖), so a class sees the conv maps move
 * along with the digit while the answer at the end barely changes.
 *
 * layerChanges(before, after) and difference(before, after) are pure (node tests);
 * createCompareView(container, {model}) → {update({before, after, shift, palette})}: before and
 * after are parsed tensor lists in layer order (core/tensor.js), before null when nothing is shifted.
 */
import { el } from "./core/dom.js";
import { paintMap } from "./tiles.js";
import { ranges } from "./core/tensor.js";

/** ‖after − before‖ / ‖before‖ per layer (0 when both are zero), in layer order. */
export function layerChanges(before, after) {
  return before.map((b, i) => {
    const a = after[i];
    let num = 0,
      den = 0;
    for (let k = 0; k < b.data.length; k++) {
      const d = a.data[k] - b.data[k];
      num += d * d;
      den += b.data[k] * b.data[k];
    }
    return { name: b.name, change: den > 0 ? Math.sqrt(num / den) : num > 0 ? Infinity : 0 };
  });
}

/** The tensor after − before, with its ranges, on a diverging scale (it is signed). */
export function difference(before, after) {
  const data = after.data.map((v, i) => v - before.data[i]);
  const { C, H, W } = before;
  const { min, max, chMin, chMax } = ranges(data, C, H * W);
  const m = Math.max(Math.abs(min), Math.abs(max)) || 1;
  // a signed op ("conv") picks the diverging scale; the range is symmetric so zero is white
  return { ...before, op: "conv", data, min: -m, max: m, chMin, chMax };
}

const count = (n, word) => `${n} ${word}${Math.abs(n) === 1 ? "" : "s"}`;
const percent = (x) => (x === Infinity ? "new" : `${(100 * x).toFixed(x < 0.1 ? 1 : 0)} %`);

export function createCompareView(container, { model }) {
  const maps = model.layers.filter((d) => d.family === "map");
  const pick = el(
    "select",
    { "aria-label": "The layer to compare" },
    maps.map((d) => el("option", { value: d.name }, d.name)),
  );
  pick.value = (maps.find((d) => d.op === "conv") || maps[0]).name;
  const words = el("p", "compare-words");
  const grids = el("div", "compare-grids");
  const changes = el("table", "compare-changes");
  container.append(
    words,
    el("label", "compare-pick", "Layer ", pick),
    grids,
    el("h3", {}, "How much each layer changed"),
    changes,
  );
  let last = null;
  pick.addEventListener("change", () => last && update(last));

  function row(title, t, scope, range, palette) {
    const tiles = el("div", "compare-tiles");
    for (let c = 0; c < t.C; c++) {
      const cv = el("canvas", { class: "compare-tile", width: t.W, height: t.H, "data-channel": c });
      const s = Math.max(2, Math.round(72 / Math.max(t.H, t.W)));
      cv.style.width = `${t.W * s}px`;
      cv.style.height = `${t.H * s}px`;
      paintMap(cv, t, c, scope, range, palette);
      tiles.append(cv);
    }
    return el("div", { class: "compare-row", "data-row": title }, el("span", "compare-label", title), tiles);
  }

  /** A bar as long as the change (full width at 200 %). */
  function bar(change) {
    const span = el("span", "compare-bar");
    span.style.width = `${(50 * Math.min(change, 2)).toFixed(1)}%`;
    return span;
  }

  function update(view) {
    last = view;
    const { before, after, shift, palette } = view;
    container.dataset.ready = String(Boolean(before));
    if (!before) {
      words.textContent =
        "Shift the input (the arrows under “What the network sees”, or the arrow keys) to compare the " +
        "network's maps before and after the shift.";
      grids.replaceChildren();
      changes.replaceChildren();
      return;
    }
    const label = (list) => {
      const p = list[list.length - 1];
      let best = 0;
      for (let i = 1; i < p.data.length; i++) if (p.data[i] > p.data[best]) best = i;
      return `${best} (p = ${p.data[best].toFixed(3)})`;
    };
    words.textContent =
      `Shifted ${count(shift[0], "row")} and ${count(shift[1], "column")}. The answer before: ${label(before)}; after: ` +
      `${label(after)}. The convolution maps move with the digit (their difference shows the same strokes twice, displaced), so they change about as much as the input does; the table's last rows show how much less the answer changes.`;
    const i = model.layers.findIndex((d) => d.name === pick.value);
    const b = before[i],
      a = after[i];
    const range = { min: Math.min(b.min, a.min), max: Math.max(b.max, a.max) };
    grids.replaceChildren(
      row("before", b, "global", range, palette),
      row("after", a, "global", range, palette),
      row("after − before", difference(b, a), "layer", range, palette),
    );
    const list = layerChanges(before, after);
    changes.replaceChildren(
      el("tr", {}, el("th", {}, "layer"), el("th", {}, "change"), el("th", {}, "")),
      ...list.map((r) =>
        el(
          "tr",
          { "data-layer": r.name, "data-change": String(r.change) },
          el("td", {}, r.name),
          el("td", "num", percent(r.change)),
          el("td", {}, bar(r.change)),
        ),
      ),
    );
  }

  return { update };
}
