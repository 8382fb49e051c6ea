/**
 * Hover geometry: which units of the previous layer a unit reads, and its receptive field on the
 * input (from the model's `receptive_field` numbers — never re-derived here).  No DOM.
 *
 * A unit is {layer: name, c, y, x} (vectors: c = index, y = x = 0).
 * sources(...) → {kind, units: [{c, y, x, weight?, contribution?}], windows: [{c, top, left, h, w}],
 *                 winner: {c, y, x} | null}
 */
import { at } from "./tensor.js";

const ELEMENTWISE = new Set(["relu", "leaky_relu", "sigmoid", "tanh", "lecun_tanh", "softplus"]);
const POOLS = new Set(["maxpool", "avgpool", "l2pool"]);
export const TOP_K = 16;

export function receptiveRect(layerDesc, unit, inputShape) {
  const { size, jump, offset } = layerDesc.receptive_field;
  const map = layerDesc.output_shape.length === 3;
  const top = offset[0] + (map ? unit.y * jump[0] : 0);
  const left = offset[1] + (map ? unit.x * jump[1] : 0);
  const [H, W] = inputShape.slice(-2);
  const clip = {
    top: Math.max(0, top), left: Math.max(0, left),
    bottom: Math.min(H, top + size[0]), right: Math.min(W, left + size[1]),
  };
  return { top, left, height: size[0], width: size[1], clip };
}

function windowUnits(c, top, left, kh, kw, dh, dw, H, W) {
  const units = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const y = top + ky * dh;
      const x = left + kx * dw;
      if (y >= 0 && y < H && x >= 0 && x < W) units.push({ c, y, x });
    }
  }
  return units;
}

/** layers: model.layers; li: index of the unit's layer; tensors: parseForward().list; weights: Map */
export function sources(layers, li, unit, tensors, weights, topK = TOP_K) {
  const d = layers[li];
  const prev = tensors[li - 1];
  const out = { kind: d.kind, units: [], windows: [], winner: null };
  if (li === 0) return out;
  const [H, W] = [prev.H, prev.W];
  if (d.kind === "conv") {
    const { kernel: [kh, kw], stride: [sh, sw], pad: [pt, , pl], dilation: [dh, dw] } = d.hyper;
    const top = unit.y * sh - pt;
    const left = unit.x * sw - pl;
    d.connections[unit.c].forEach((on, ci) => {
      if (!on) return;
      out.windows.push({ c: ci, top, left, h: (kh - 1) * dh + 1, w: (kw - 1) * dw + 1 });
      out.units.push(...windowUnits(ci, top, left, kh, kw, dh, dw, H, W));
    });
  } else if (POOLS.has(d.kind)) {
    const { size: [kh, kw], stride: [sh, sw], pad: [pt, , pl] } = d.hyper;
    const top = unit.y * sh - pt;
    const left = unit.x * sw - pl;
    out.windows.push({ c: unit.c, top, left, h: kh, w: kw });
    out.units = windowUnits(unit.c, top, left, kh, kw, 1, 1, H, W);
    const t = tensors[li];
    if (t.winners) {
      const flat = t.winners[(unit.c * t.H + unit.y) * t.W + unit.x];
      if (flat >= 0) out.winner = { c: unit.c, y: Math.floor(flat / W), x: flat % W };
    }
  } else if (ELEMENTWISE.has(d.kind)) {
    out.units = [{ c: unit.c, y: unit.y, x: unit.x }];
  } else if (d.kind === "flatten") {
    const i = unit.c;
    const hw = prev.H * prev.W;
    out.units = [{ c: Math.floor(i / hw), y: Math.floor((i % hw) / prev.W), x: i % prev.W }];
  } else if (d.kind === "dense") {
    out.units = strongestInputs(weights.get(d.name), prev, unit.c, topK);
  } else if (d.kind === "softmax") {
    for (let i = 0; i < prev.C; i++) out.units.push({ c: i, y: 0, x: 0 });
  }
  return out;
}

/** The topK inputs of dense unit `u` by |weight × activation|, strongest first. */
export function strongestInputs(w, prev, u, topK = TOP_K) {
  if (!w) throw new Error("dense weights not loaded");
  const D = w.inputs;
  if (prev.data.length !== D) throw new Error(`dense unit reads ${D} inputs, previous layer has ${prev.data.length}`);
  const row = w.weight.subarray(u * D, (u + 1) * D);
  const items = [];
  for (let j = 0; j < D; j++) items.push({ c: j, y: 0, x: 0, weight: row[j], contribution: row[j] * prev.data[j] });
  items.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  return items.slice(0, topK);
}

export { at };
