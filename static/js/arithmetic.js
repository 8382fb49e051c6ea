/**
 * The arithmetic behind one unit, with the real numbers of the last forward pass.  Dispatches on
 * the layer's op (and a pool's reduce); windows come from core/window.js.  No DOM.
 *
 * explain(layers, li, unit, tensors, weights) → {op, kind, family, layer, unit, value, ...} where by op:
 *   conv        channels: [{c, patch[kh][kw], kernel[kh][kw], products[kh][kw], sum}], sum, bias,
 *               computed (= sum + bias), next: {name, kind, value} | null (the following activation)
 *   pool        window[kh][kw] (null = padding), reduce, winner {y, x} (max), computed
 *   dense       terms: [{j, weight, input, product}] strongest first, sum (all terms), bias, computed, next
 *   activation  input, value;  flatten  from {c, y, x};  softmax  logits, exps, sumExp, probs
 *   affine      input, steps: [{op, label, value, result}] (batch norm: − μ, ÷ √(σ²+ε), × γ, + β;
 *               an input normalisation: its own steps), computed
 * `value` is always the number the API returned; `computed` is recomputed here (float64).
 */
import { at, values } from "./core/tensor.js";
import { unitReads } from "./core/window.js";
import { inputIndex, poolWinner, unitOfIndex } from "./geometry.js";

/** The activation that reads layer li, if one does: its value for the same unit. */
function following(layers, li, unit, tensors) {
  const j = layers.findIndex((l) => l.op === "activation" && l.inputs && l.inputs[0] === layers[li].name);
  if (j < 0) return null;
  const n = layers[j];
  return { name: n.name, kind: n.kind, value: at(tensors[j], unit.c, unit.y, unit.x) };
}

/** taps (row-major) → rows [kh][kw] of fn(tap). */
function tapRows(taps, kw, fn) {
  const rows = [];
  taps.forEach((t, i) => {
    if (i % kw === 0) rows.push([]);
    rows[rows.length - 1].push(fn(t));
  });
  return rows;
}

function conv(d, unit, prev, w) {
  const [, Cin, kh, kw] = w.shape;
  const reads = unitReads(d, unit, [prev.C, prev.H, prev.W]);
  const channels = [];
  let sum = 0;
  for (const ci of reads.channels) {
    const value = (t) => (t.inside ? at(prev, ci, t.iy, t.ix) : 0);
    const weight = (t) => w.weight[((unit.c * Cin + ci) * kh + t.ky) * kw + t.kx];
    const patch = tapRows(reads.taps, kw, value);
    const kernel = tapRows(reads.taps, kw, weight);
    const products = tapRows(reads.taps, kw, (t) => value(t) * weight(t));
    const chSum = products.flat().reduce((a, b) => a + b, 0);
    sum += chSum;
    channels.push({ c: ci, patch, kernel, products, sum: chSum });
  }
  const bias = w.bias[unit.c];
  return { channels, sum, bias, computed: sum + bias };
}

const REDUCE = {
  max(window, out) {
    out.computed = out.winner ? window[out.winner.y][out.winner.x] : -Infinity;
  },
  mean(window, out, d) {
    const values = window.flat();
    out.sum = values.reduce((a, v) => a + (v || 0), 0);
    // an average pool that does not count its padding divides by the taps inside the image
    const exclusive = d.hyper && d.hyper.count_pad === false;
    out.area = exclusive ? values.filter((v) => v !== null).length : values.length;
    out.exclusive = exclusive;
    out.computed = out.area ? out.sum / out.area : 0;
  },
  l2(window, out) {
    out.sumSquares = window.flat().reduce((a, v) => a + (v || 0) * (v || 0), 0);
    out.computed = Math.sqrt(out.sumSquares);
  },
};

function pool(d, unit, prev, t) {
  const reads = unitReads(d, unit, [prev.C, prev.H, prev.W]);
  const window = tapRows(reads.taps, d.window.kernel[1], (tap) =>
    tap.inside ? at(prev, unit.c, tap.iy, tap.ix) : null,
  );
  const { top, left } = reads.origin;
  const out = { window, reduce: d.reduce, top, left, winner: null };
  if (d.reduce === "max") {
    const win = poolWinner(t, prev, unit);
    if (win) out.winner = { y: win.y - top, x: win.x - left };
  }
  const reduce = REDUCE[d.reduce];
  if (!reduce) throw new Error(`arithmetic: no rule for a pool that reduces by "${d.reduce}"`);
  reduce(window, out, d);
  return out;
}

function dense(unit, prev, w) {
  const D = w.inputs;
  const terms = [];
  let sum = 0;
  for (let j = 0; j < D; j++) {
    const weight = w.weight[unit.c * D + j];
    const input = prev.data[j];
    terms.push({ j, weight, input, product: weight * input });
    sum += weight * input;
  }
  terms.sort((a, b) => Math.abs(b.product) - Math.abs(a.product));
  const bias = w.bias[unit.c];
  return { terms, sum, bias, computed: sum + bias };
}

function softmax(prev, t) {
  const logits = Array.from(prev.data);
  const m = Math.max(...logits);
  const exps = logits.map((z) => Math.exp(z - m));
  const sumExp = exps.reduce((a, b) => a + b, 0);
  return {
    logits,
    shift: m,
    exps,
    sumExp,
    probs: Array.from(t.data),
    computedProbs: exps.map((e) => e / sumExp),
  };
}

const AFFINE = {
  sub: (v, a) => v - a,
  div: (v, a) => v / a,
  mul: (v, a) => v * a,
  add: (v, a) => v + a,
};

function affine(d, unit, prev) {
  const input = at(prev, unit.c, unit.y, unit.x);
  let v = input;
  const steps = d.steps.map((s) => {
    const value = s.values[unit.c];
    v = AFFINE[s.op](v, value);
    return { op: s.op, label: s.label, value, result: v };
  });
  return { input, steps, computed: v };
}

const EXPLAIN = {
  input: () => ({}), // just the pixel
  conv: (c) => ({ ...conv(c.d, c.unit, c.prev, c.weights.get(c.d.name)), next: c.next() }),
  pool: (c) => pool(c.d, c.unit, c.prev, c.t),
  dense: (c) => ({ ...dense(c.unit, c.prev, c.weights.get(c.d.name)), next: c.next() }),
  activation: (c) => ({ input: at(c.prev, c.unit.c, c.unit.y, c.unit.x) }),
  affine: (c) => affine(c.d, c.unit, c.prev),
  flatten: (c) => ({ from: unitOfIndex(c.unit.c, c.prev.H, c.prev.W) }),
  softmax: (c) => softmax(c.prev, c.t),
};

export function explain(layers, li, unit, tensors, weights) {
  const d = layers[li];
  const t = tensors[li];
  const rule = EXPLAIN[d.op];
  if (!rule) throw new Error(`arithmetic: no rule for op "${d.op}" (layer ${d.name})`);
  const base = {
    op: d.op,
    kind: d.kind,
    family: d.family,
    layer: d.name,
    unit,
    value: at(t, unit.c, unit.y, unit.x),
  };
  const ctx = {
    d,
    unit,
    t,
    prev: tensors[inputIndex(layers, li)],
    weights,
    next: () => following(layers, li, unit, tensors),
  };
  return { ...base, ...rule(ctx) };
}

/** Dense/conv weights response → {shape, weight: Float32Array, bias: Float32Array, inputs}. */
export function parseWeights(body) {
  const flat = (a, what) => values(a, `weights of ${body.name}: ${what}`); // nested lists or packed
  const weight = flat(body.weight, "weight"); // both forms check the values against the shape
  return {
    name: body.name,
    kind: body.kind,
    shape: body.weight.shape,
    weight,
    bias: flat(body.bias, "bias"),
    inputs: body.weight.shape.slice(1).reduce((a, b) => a * b, 1),
  };
}
