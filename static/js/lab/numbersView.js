// The "numbers" view for small inputs: every value of the zero-padded input and of the output map,
// like the textbook figures; the hovered output cell and the input cells it reads are highlighted.
import { el } from "../core/dom.js";
import { shapeOf } from "./geometry.js";
import { fmt } from "./scale.js";

const MAX_SIDE = 20; // padded input side beyond which the numbers stop being readable

function table(rows, cols, cell, cls) {
  const g = el("div", { class: `num-table ${cls} ${cols > 16 ? "dense" : ""}` });
  g.style.gridTemplateColumns = `repeat(${cols}, minmax(0, 1fr))`;
  for (let y = 0; y < rows; y += 1) for (let x = 0; x < cols; x += 1) g.append(cell(y, x));
  return g;
}

export function createNumbersView(container) {
  const root = el("div", { class: "numbers" });
  container.append(root);
  let cells = null; // {input: Map "iy,ix" → span, output: span[][]}

  /** info: {input (C,H,W), geo, output (C,Ho,Wo) | null, channel}; or null to hide. */
  function update(info) {
    cells = null;
    if (!info) {
      root.replaceChildren();
      return;
    }
    const { input, geo, output, channel } = info;
    const [C, H, W] = shapeOf(input, 3);
    const PH = H + geo.top + geo.bottom;
    const PW = W + geo.left + geo.right;
    if (Math.max(PH, PW) > MAX_SIDE) {
      root.replaceChildren(
        el(
          "p",
          { class: "hint" },
          `The numbers view shows inputs up to ${MAX_SIDE}×${MAX_SIDE} (with padding); this one is ${PH}×${PW}. Pick the "7×7 numbers" input to see every value.`,
        ),
      );
      return;
    }
    const c = Math.min(channel, C - 1);
    const inputCells = new Map();
    const inTable = table(
      PH,
      PW,
      (py, px) => {
        const iy = py - geo.top;
        const ix = px - geo.left;
        const inside = iy >= 0 && ix >= 0 && iy < H && ix < W;
        const span = el("span", { class: inside ? "" : "pad" }, inside ? fmt(input[c][iy][ix], 2) : "0");
        inputCells.set(`${iy},${ix}`, span);
        return span;
      },
      "num-input",
    );
    const blocks = [
      el(
        "div",
        { class: "num-side" },
        el("h3", {}, `input ${H}×${W}${C > 1 ? ` (channel ${"RGB"[c]})` : ""}, padded to ${PH}×${PW}`),
        inTable,
      ),
    ];
    let outCells = null;
    if (output) {
      const [, Ho, Wo] = shapeOf(output, 3);
      const oc = Math.min(channel, output.length - 1);
      outCells = Array.from({ length: Ho }, () => []);
      const outTable = table(
        Ho,
        Wo,
        (y, x) => {
          const v = output[oc][y][x];
          const span = el("span", { class: v > 0 ? "pos" : v < 0 ? "neg" : "" }, fmt(v, 3));
          outCells[y][x] = span;
          return span;
        },
        "num-output",
      );
      blocks.push(el("div", { class: "num-side" }, el("h3", {}, `output ${Ho}×${Wo}`), outTable));
    } else {
      blocks.push(
        el(
          "div",
          { class: "num-side" },
          el("h3", {}, "output"),
          el("p", { class: "hint" }, "No output: the window does not fit."),
        ),
      );
    }
    root.replaceChildren(...blocks);
    cells = { input: inputCells, output: outCells };
  }

  /** Highlight output (oy, ox) and its taps ({iy, ix}[]); null clears. */
  function highlight(p, taps) {
    if (!cells) return;
    root.querySelectorAll(".hl, .hl-out").forEach((n) => n.classList.remove("hl", "hl-out"));
    if (!p) return;
    for (const t of taps) {
      const s = cells.input.get(`${t.iy},${t.ix}`);
      if (s) s.classList.add("hl");
    }
    const o = cells.output && cells.output[p.oy] && cells.output[p.oy][p.ox];
    if (o) o.classList.add("hl-out");
  }

  /** During the animation: only the first `count` output values (raster order) are shown; null: all. */
  function reveal(count) {
    if (!cells || !cells.output) return;
    cells.output.flat().forEach((span, i) => span.classList.toggle("pending", count !== null && i >= count));
  }

  return { update, highlight, reveal };
}
