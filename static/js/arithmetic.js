/**
 * The arithmetic behind one unit, with the real numbers of the last forward pass.  No DOM.
 *
 * explain(layers, li, unit, tensors, weights) → {kind, layer, unit, value, ...} where by kind:
 *   conv    channels: [{c, patch[kh][kw], kernel[kh][kw], products[kh][kw], sum}], sum, bias,
 *           computed (= sum + bias), next: {name, kind, value} | null (the following activation)
 *   pool    window[kh][kw] (null = padding), winner {y, x} (max), op, computed
 *   dense   terms: [{j, weight, input, product}] strongest first, sum (all terms), bias, computed, next
 *   elementwise  input, value;  flatten  from {c, y, x};  softmax  logits, exps, sumExp, probs
 * `value` is always the number the API returned; `computed` is recomputed here (float64).
 */
import { at } from "./tensor.js";

const ELEMENTWISE = new Set(["relu", "leaky_relu", "sigmoid", "tanh", "lecun_tanh", "softplus"]);
const POOLS = new Set(["maxpool", "avgpool", "l2pool"]);

function following(layers, li, unit, tensors) {
  const n = layers[li + 1];
  if (!n || !ELEMENTWISE.has(n.kind)) return null;
  return { name: n.name, kind: n.kind, value: at(tensors[li + 1], unit.c, unit.y, unit.x) };
}

function conv(d, unit, prev, w) {
  const { kernel: [kh, kw], stride: [sh, sw], pad: [pt, , pl], dilation: [dh, dw] } = d.hyper;
  const [, Cin] = w.shape;
  const channels = [];
  let sum = 0;
  for (let ci = 0; ci < Cin; ci++) {
    if (!d.connections[unit.c][ci]) continue;
    const patch = [], kernel = [], products = [];
    let chSum = 0;
    for (let ky = 0; ky < kh; ky++) {
      const pr = [], kr = [], xr = [];
      for (let kx = 0; kx < kw; kx++) {
        const y = unit.y * sh - pt + ky * dh;
        const x = unit.x * sw - pl + kx * dw;
        const v = y >= 0 && y < prev.H && x >= 0 && x < prev.W ? at(prev, ci, y, x) : 0;
        const k = w.weight[((unit.c * Cin + ci) * kh + ky) * kw + kx];
        pr.push(v); kr.push(k); xr.push(v * k);
        chSum += v * k;
      }
      patch.push(pr); kernel.push(kr); products.push(xr);
    }
    sum += chSum;
    channels.push({ c: ci, patch, kernel, products, sum: chSum });
  }
  const bias = w.bias[unit.c];
  return { channels, sum, bias, computed: sum + bias };
}

function pool(d, unit, prev, t) {
  const { size: [kh, kw], stride: [sh, sw], pad: [pt, , pl] } = d.hyper;
  const window = [];
  let acc = 0;
  let sq = 0;
  for (let ky = 0; ky < kh; ky++) {
    const row = [];
    for (let kx = 0; kx < kw; kx++) {
      const y = unit.y * sh - pt + ky, x = unit.x * sw - pl + kx;
      const inside = y >= 0 && y < prev.H && x >= 0 && x < prev.W;
      const v = inside ? at(prev, unit.c, y, x) : null;
      row.push(v);
      acc += v || 0;
      sq += (v || 0) * (v || 0);
    }
    window.push(row);
  }
  const out = { window, op: d.kind, top: unit.y * sh - pt, left: unit.x * sw - pl, winner: null };
  if (d.kind === "maxpool") {
    const flat = t.winners ? t.winners[(unit.c * t.H + unit.y) * t.W + unit.x] : -1;
    if (flat >= 0) out.winner = { y: Math.floor(flat / prev.W) - out.top, x: (flat % prev.W) - out.left };
    out.computed = out.winner ? window[out.winner.y][out.winner.x] : -Infinity;
  } else if (d.kind === "avgpool") {
    out.sum = acc; out.area = kh * kw; out.computed = acc / (kh * kw);
  } else {
    out.sumSquares = sq; out.computed = Math.sqrt(sq);
  }
  return out;
}

function dense(unit, prev, w) {
  const D = w.inputs;
  const terms = [];
  let sum = 0;
  for (let j = 0; j < D; j++) {
    const weight = w.weight[unit.c * D + j], input = prev.data[j];
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
  return { logits, shift: m, exps, sumExp, probs: Array.from(t.data), computedProbs: exps.map((e) => e / sumExp) };
}

export function explain(layers, li, unit, tensors, weights) {
  const d = layers[li];
  const t = tensors[li];
  const prev = tensors[li - 1];
  const base = { kind: d.kind, layer: d.name, unit, value: at(t, unit.c, unit.y, unit.x) };
  if (d.kind === "conv") return { ...base, ...conv(d, unit, prev, weights.get(d.name)), next: following(layers, li, unit, tensors) };
  if (POOLS.has(d.kind)) return { ...base, ...pool(d, unit, prev, t) };
  if (d.kind === "dense") return { ...base, ...dense(unit, prev, weights.get(d.name)), next: following(layers, li, unit, tensors) };
  if (ELEMENTWISE.has(d.kind)) return { ...base, input: at(prev, unit.c, unit.y, unit.x) };
  if (d.kind === "flatten") {
    const hw = prev.H * prev.W, i = unit.c;
    return { ...base, from: { c: Math.floor(i / hw), y: Math.floor((i % hw) / prev.W), x: i % prev.W } };
  }
  if (d.kind === "softmax") return { ...base, ...softmax(prev, t) };
  return base;   // the input: just the pixel
}

/** Dense/conv weights response → {shape, weight: Float32Array, bias: Float32Array, inputs}. */
export function parseWeights(body) {
  const flat = (a) => Float32Array.from(a.data.flat(Infinity));
  const weight = flat(body.weight);
  const size = body.weight.shape.reduce((a, b) => a * b, 1);
  if (weight.length !== size) throw new Error(`weights of ${body.name}: ${weight.length} values for shape [${body.weight.shape}]`);
  return { name: body.name, kind: body.kind, shape: body.weight.shape, weight, bias: flat(body.bias),
    inputs: body.weight.shape.slice(1).reduce((a, b) => a * b, 1) };
}
