// The output-size formula for height and width with the server's numbers filled in and the result
// highlighted; pooling's too; and the explanation when the window cannot fit.
import { el } from "../core/dom.js";

function row(axis, f, what) {
  const [p1, p2] = f.p;
  const bad = f.out <= 0;
  const n = (v, cls) => el("span", { class: `fv ${cls}` }, String(v));
  return el(
    "div",
    { class: `formula-row ${bad ? "impossible" : ""}`, dataset: { axis, what, out: f.out } },
    el("span", { class: "formula-axis" }, axis),
    el(
      "span",
      { class: "formula-math" },
      "⌊(",
      n(f.n, "v-n"),
      " + ",
      n(p1, "v-p"),
      " + ",
      n(p2, "v-p"),
      " − ",
      n(f.d, "v-d"),
      "·(",
      n(f.k, "v-k"),
      " − 1) − 1) / ",
      n(f.s, "v-s"),
      "⌋ + 1 = ",
      el("strong", { class: "formula-out" }, String(f.out)),
    ),
  );
}

function legendLine(what) {
  const term = (cls, sym, name) => el("span", { class: `fv ${cls}` }, `${sym} ${name}`);
  return el(
    "p",
    { class: "formula-legend" },
    `${what} = ⌊(`,
    term("v-n", "n", "input"),
    " + ",
    term("v-p", "p₁ + p₂", "padding"),
    " − ",
    term("v-d", "d", "dilation"),
    "·(",
    term("v-k", "k", "kernel"),
    " − 1) − 1) / ",
    term("v-s", "s", "stride"),
    "⌋ + 1",
  );
}

export function createFormulaView(container) {
  const root = el("div", { class: "formula" });
  container.append(root);

  /** response: the /api/convolve body (formula, possible, explanation). */
  function update({ formula, possible, explanation }) {
    const parts = [
      legendLine("output size"),
      row("height", formula.height, "conv"),
      row("width", formula.width, "conv"),
    ];
    const conv = `${formula.height.out} × ${formula.width.out}`;
    parts.push(
      el(
        "p",
        { class: "formula-result", dataset: { out: conv } },
        "convolution output: ",
        el("strong", {}, conv),
      ),
    );
    if (formula.pool) {
      parts.push(
        el("h3", { class: "formula-sub" }, "then pooling (no padding, no dilation)"),
        row("height", formula.pool.height, "pool"),
        row("width", formula.pool.width, "pool"),
        el(
          "p",
          { class: "formula-result" },
          "pooled output: ",
          el("strong", {}, `${formula.pool.height.out} × ${formula.pool.width.out}`),
        ),
      );
    }
    if (!possible)
      parts.push(el("p", { class: "explanation", role: "note" }, explanation || "The window does not fit."));
    root.replaceChildren(...parts);
  }

  return { update };
}
