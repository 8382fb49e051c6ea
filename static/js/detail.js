/**
 * The pinned detail panel: the arithmetic of one unit with the real numbers of the last forward
 * pass (an explanation from arithmetic.js).  Its numbers are also data attributes (data-sum,
 * data-bias, data-value, data-computed, data-activation …) at full precision for tests.
 * createDetail(container, {onClose, synthesize}) → {update(explanation | null)}
 * synthesize({layer, unit}) → Promise<POST /api/synthesize body>: when given, a pinned unit offers
 * "What it wants to see", an input made by gradient ascent on its activation.
 */

import { float32String, numberText as num } from "./core/tensor.js";
import { el } from "./core/dom.js";

const f = (v, d = 3) => (v === null || v === undefined ? "pad" : Number(v).toFixed(d));

function grid(rows, { title, cls = "", mark = null, sign = false } = {}) {
  const wrap = el("figure", `numgrid ${cls}`);
  if (title) wrap.append(el("figcaption", "", title));
  const table = el("div", "cells");
  table.style.gridTemplateColumns = `repeat(${rows[0].length}, auto)`;
  rows.forEach((row, y) =>
    row.forEach((v, x) => {
      const c = el("span", "cell", f(v));
      if (sign && v) c.classList.add(v > 0 ? "pos" : "neg");
      if (mark && mark.y === y && mark.x === x) c.classList.add("winner");
      table.append(c);
    }),
  );
  wrap.append(table);
  return wrap;
}

/** "Σ … + bias … = value  (server: …)": the last line of a conv's and a dense unit's arithmetic. */
const sumLine = (x, label) =>
  eq([
    ["", label],
    ["num", f(x.sum, 4)],
    ["", " + bias "],
    ["num", f(x.bias, 4)],
    ["", " = "],
    ["num big", f(x.computed, 4)],
    ["", `  (server: ${f(x.value, 4)})`],
  ]);

const eq = (parts) => {
  const p = el("p", "equation");
  for (const [cls, text] of parts) p.append(cls ? el("span", cls, text) : document.createTextNode(text));
  return p;
};

function activationLine(x) {
  if (!x.next) return null;
  return eq([
    ["", `then ${x.next.name} (${x.next.kind}): `],
    ["num", f(x.value, 4)],
    ["", " → "],
    ["num big", f(x.next.value, 4)],
  ]);
}

const POOL_LINES = {
  max: (x) => [
    ["", "max = "],
    ["num big", f(x.computed, 4)],
    ["", x.winner ? `  (winner at row ${x.winner.y}, col ${x.winner.x} of the window, in green)` : ""],
  ],
  mean: (x) => [
    ["", "sum "],
    ["num", f(x.sum, 4)],
    ["", ` ÷ ${x.area}${x.exclusive ? " taps inside the image (padding not counted)" : ""} = `],
    ["num big", f(x.computed, 4)],
  ],
  l2: (x) => [
    ["", "√(Σ x²) = √"],
    ["num", f(x.sumSquares, 4)],
    ["", " = "],
    ["num big", f(x.computed, 4)],
  ],
};

/** Where the unit sits, in words: vector units by index, map units by channel, row and column. */
function unitWords(family, u, op) {
  if (op === "softmax") return `digit ${u.c}`;
  return family === "vector" ? `unit ${u.c}` : `channel ${u.c}, row ${u.y}, col ${u.x}`;
}

/** The result first (where the panel opens), then what it is made of, said in a line. */
function resultFirst(x, body, label, detailWords) {
  body.append(sumLine(x, label));
  const a = activationLine(x);
  if (a) body.append(a);
  body.append(el("p", "detail-more", detailWords));
}

const RENDER = {
  conv(x, body) {
    const n = x.channels.length;
    resultFirst(
      x,
      body,
      "Σ products ",
      n > 1
        ? `made of ${n} input channels, each patch × kernel = products (Σ of each below), in order:`
        : "made of: input patch × kernel = products",
    );
    for (const ch of x.channels) {
      // operator + table stay together, so a narrow panel wraps the row before an operator
      const term = (...parts) => {
        const g = el("div", "conv-term");
        g.append(...parts);
        return g;
      };
      const row = el("div", "conv-channel");
      row.append(
        term(el("div", "ch-label", `in ch ${ch.c}`), grid(ch.patch, { title: "input patch" })),
        term(el("span", "op", "×"), grid(ch.kernel, { title: "kernel", sign: true })),
        term(
          el("span", "op", "="),
          grid(ch.products, { title: "products", sign: true }),
          el("div", "ch-sum", `Σ ${f(ch.sum, 4)}`),
        ),
      );
      body.append(row);
    }
  },
  pool(x, body) {
    body.append(grid(x.window, { title: `${x.kind} window`, cls: "pool-window", mark: x.winner }));
    body.append(eq(POOL_LINES[x.reduce](x)));
  },
  dense(x, body) {
    resultFirst(x, body, `Σ all ${x.terms.length} products `, "made of these, the largest first:");
    const table = el("table", "terms");
    table.append(el("caption", "", `largest of ${x.terms.length} contributions (weight × input)`));
    const head = el("tr");
    ["input #", "weight", "input", "product"].forEach((h) => head.append(el("th", "", h)));
    table.append(head);
    for (const t of x.terms.slice(0, 10)) {
      const tr = el("tr");
      [String(t.j), f(t.weight, 4), f(t.input, 4), f(t.product, 4)].forEach((v, i) => {
        const td = el("td", i === 3 ? (t.product >= 0 ? "pos" : "neg") : "", v);
        tr.append(td);
      });
      table.append(tr);
    }
    body.append(table);
  },
  activation(x, body) {
    body.append(
      eq([
        ["", `${x.kind}(`],
        ["num", f(x.input, 4)],
        ["", ") = "],
        ["num big", f(x.value, 4)],
      ]),
    );
  },
  affine(x, body) {
    const SIGN = { sub: "−", div: "÷", mul: "×", add: "+" };
    const parts = [["num", f(x.input, 4)]];
    for (const st of x.steps) parts.push(["", ` ${SIGN[st.op]} `], ["num", f(st.value, 4)]);
    parts.push(["", " = "], ["num big", f(x.computed, 4)], ["", `  (server: ${f(x.value, 4)})`]);
    body.append(eq(parts));
    const list = el("ol", "affine-steps");
    for (const st of x.steps) {
      list.append(el("li", "", `${SIGN[st.op]} ${st.label} ${f(st.value, 4)} → ${f(st.result, 4)}`));
    }
    body.append(list);
  },
  flatten(x, body) {
    body.append(
      eq([
        ["", `reads channel ${x.from.c}, row ${x.from.y}, col ${x.from.x} of the previous layer: `],
        ["num big", f(x.value, 4)],
      ]),
    );
  },
  softmax(x, body) {
    const c = x.unit.c;
    const table = el("table", "terms softmax-terms");
    const head = el("tr");
    ["digit", "logit z", "z − max", "exp(z − max)", "p = exp / Σ"].forEach((h) =>
      head.append(el("th", "", h)),
    );
    table.append(head);
    x.logits.forEach((z, i) => {
      const tr = el("tr", i === c ? "selected" : "");
      tr.dataset.digit = i;
      const cells = [
        [String(i), null],
        [num(z), z],
        [num(z - x.shift), z - x.shift],
        [num(x.exps[i]), x.exps[i]],
        [num(x.probs[i]), x.probs[i]],
      ];
      for (const [text, v] of cells) {
        const td = el("td", "", text);
        if (v !== null) td.dataset.value = v;
        tr.append(td);
      }
      table.append(tr);
    });
    body.append(
      table,
      eq([
        ["", "max z = "],
        ["num", num(x.shift)],
        ["", " (subtracted so exp cannot overflow; p is unchanged) · Σ exp(z − max) = "],
        ["num", num(x.sumExp, 6)],
      ]),
      eq([
        [
          "",
          `p(${c}) = exp(${num(x.logits[c])} − ${num(x.shift)}) / Σ = ${num(x.exps[c])} / ${num(x.sumExp, 6)} = `,
        ],
        ["num big", num(x.probs[c])],
        ["", `  (computed: ${num(x.computedProbs[c])})`],
      ]),
    );
  },
  input(x, body) {
    body.append(
      eq([
        ["", "pixel value "],
        ["num big", f(x.value, 4)],
      ]),
    );
  },
};

/** A pinned unit's question: a button that asks the server about the unit ({layer, unit}) and
 * shows the answer below it with show(r, out), or the error's words. */
function askRow(x, { cls, label, title = "", waiting, ask, show }) {
  const row = el("div", cls);
  const button = el("button", `${cls}-button`, label);
  button.type = "button";
  button.title = title;
  const out = el("div", `${cls}-out`);
  row.append(button, out);
  button.addEventListener("click", () => {
    button.disabled = true;
    out.textContent = waiting;
    const unit = x.family === "map" ? [x.unit.c, x.unit.y, x.unit.x] : [x.unit.c];
    ask({ layer: x.layer, unit }).then(
      (r) => {
        show(r, out, row);
        button.disabled = false;
      },
      (e) => {
        out.textContent = e.message;
        button.disabled = false;
      },
    );
  });
  return row;
}

/** The "what it wants to see" row of a pinned unit: a button, then the synthesised input. */
function wantsRow(x, synthesize) {
  return askRow(x, {
    cls: "wants",
    label: "What it wants to see",
    title: "Make an input that excites this unit: gradient ascent on its activation (on the server)",
    waiting: "climbing…",
    ask: synthesize,
    show: (r, out, row) => {
      const [, H, W] = r.image.shape;
      const cv = el("canvas", "wants-canvas");
      cv.width = W;
      cv.height = H;
      const flat = Float32Array.from(r.image.data.flat(Infinity));
      const ctx = cv.getContext("2d");
      const img = ctx.createImageData(W, H);
      for (let i = 0; i < W * H; i++) {
        for (let c = 0; c < 3; c++) {
          const v = flat[(r.image.shape[0] === 3 ? c * H * W : 0) + i];
          img.data[4 * i + c] = Math.round(255 * v);
        }
        img.data[4 * i + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      const a = r.activation;
      out.replaceChildren(
        cv,
        el(
          "p",
          "wants-words",
          `${r.steps} steps of gradient ascent from faint noise (smoothed, kept in [0, 1]): ` +
            `the unit's value went from ${f(a[0], 3)} to ${f(a[a.length - 1], 3)}.`,
        ),
      );
      row.dataset.activation = a[a.length - 1];
    },
  });
}

/** The "test images that excite it most" row: a button, then nine images with the unit's
 * receptive field outlined (DeepVis's top images). */
function topRow(x, topImages) {
  return askRow(x, {
    cls: "top9",
    label: "Test images that excite it most",
    waiting: "ranking the test images… (once per layer)",
    ask: topImages,
    show: (r, out) => {
      const grid = el("div", "top9-grid");
      const rf = r.receptive_field;
      for (const t of r.images) {
        const [, H, W] = t.image.shape;
        // the unit's receptive field (clipped to the image) and 2 pixels around it, outlined
        const y0 = Math.max(0, rf.top - 2),
          x0 = Math.max(0, rf.left - 2);
        const y1 = Math.min(H, rf.top + rf.height + 2),
          x1 = Math.min(W, rf.left + rf.width + 2);
        const S = Math.max(2, Math.floor(64 / Math.max(y1 - y0, x1 - x0)));
        const cv = el("canvas", "top9-canvas");
        cv.width = (x1 - x0) * S;
        cv.height = (y1 - y0) * S;
        const ctx = cv.getContext("2d");
        const flat = t.image.data.flat(Infinity);
        for (let y = y0; y < y1; y++) {
          for (let xx = x0; xx < x1; xx++) {
            const v = Math.round(255 * flat[y * W + xx]);
            ctx.fillStyle = `rgb(${v},${v},${v})`;
            ctx.fillRect((xx - x0) * S, (y - y0) * S, S, S);
          }
        }
        ctx.strokeStyle = "#f97316";
        ctx.lineWidth = 2;
        ctx.strokeRect((rf.left - x0) * S + 1, (rf.top - y0) * S + 1, rf.width * S - 2, rf.height * S - 2);
        const fig = el("figure", "top9-item");
        fig.dataset.index = t.index;
        fig.dataset.value = t.value;
        fig.title = `MNIST test image #${t.index} (label ${t.label}): ${f(t.value, 4)}`;
        fig.append(cv, el("figcaption", "", `#${t.index} · ${t.label} · ${f(t.value, 2)}`));
        grid.append(fig);
      }
      out.replaceChildren(
        grid,
        el(
          "p",
          "top9-words",
          `the ${r.images.length} strongest of ${r.dataset}, each cropped to the unit's receptive field (outlined in orange) and 2 pixels around it`,
        ),
      );
    },
  });
}

export function createDetail(container, { onClose = () => {}, synthesize = null, topImages = null } = {}) {
  const root = el("div", "detail");
  root.id = "detail";
  root.setAttribute("aria-live", "polite");
  const head = el("div", "detail-head");
  const title = el("h2", "", "Arithmetic");
  const close = el("button", "detail-close", "×");
  close.type = "button";
  close.setAttribute("aria-label", "Unpin the unit (Escape)");
  close.addEventListener("click", () => onClose());
  head.append(title, close);
  const body = el("div", "detail-body");
  // the panel scrolls inside its own box: a last line says when there is more below
  const more = el("div", "detail-scroll-hint", "more below ↓ (scroll)");
  more.hidden = true;
  root.append(head, body, more);
  container.append(root);
  const markMore = () => {
    more.hidden = container.scrollHeight - container.scrollTop - container.clientHeight < 24;
  };
  container.addEventListener("scroll", markMore, { passive: true });
  new ResizeObserver(markMore).observe(body);

  return {
    update(x) {
      for (const k of Object.keys(root.dataset)) delete root.dataset[k];
      body.replaceChildren();
      close.hidden = !x;
      if (!x) {
        title.textContent = "Arithmetic";
        body.append(
          el(
            "p",
            "hint",
            "Click any unit (or focus a layer and press Enter) to see how its value is computed.",
          ),
        );
        return;
      }
      const u = x.unit;
      title.textContent = `${x.layer} (${x.kind}) · ${unitWords(x.family, u, x.op)}`;
      Object.assign(root.dataset, {
        pinned: "true",
        layer: x.layer,
        kind: x.kind,
        channel: u.c,
        y: u.y,
        x: u.x,
        value: float32String(x.value),
      });
      for (const key of ["sum", "bias", "computed"]) if (x[key] !== undefined) root.dataset[key] = x[key];
      if (x.next) {
        root.dataset.activation = float32String(x.next.value);
        root.dataset.activationLayer = x.next.name;
      }
      if (x.op === "softmax") {
        Object.assign(root.dataset, {
          logit: x.logits[u.c],
          shift: x.shift,
          exp: x.exps[u.c],
          sumExp: x.sumExp,
          computed: x.computedProbs[u.c],
        });
      }
      if (x.winner) {
        root.dataset.winnerY = x.winner.y;
        root.dataset.winnerX = x.winner.x;
      }
      RENDER[x.op](x, body);
      // the unit's two questions first, where the panel opens; the arithmetic follows
      const asks = el("div", "unit-asks");
      if (synthesize && x.op !== "input" && x.op !== "flatten") asks.append(wantsRow(x, synthesize));
      if (topImages && x.op !== "input" && x.op !== "flatten") asks.append(topRow(x, topImages));
      if (asks.children.length) body.prepend(asks);
    },
  };
}
