/**
 * Hover geometry: which units of the previous layer a unit reads (windows from core/window.js),
 * and its receptive field on the input (from the model's `receptive_field` numbers, never
 * re-derived here).  Dispatches on the layer's op and family.  No DOM.
 *
 * A unit is {layer: name, c, y, x} (vectors: c = index, y = x = 0).
 * sources(...) → {op, units: [{c, y, x, weight?, contribution?}], windows: [{c, top, left, h, w}],
 *                 winner: {c, y, x} | null}
 */
import { unitReads } from "./core/window.js";

const TOP_K = 16;

export function receptiveRect(layerDesc, unit, inputShape) {
  const { size, jump, offset } = layerDesc.receptive_field;
  const map = layerDesc.family === "map";
  const top = offset[0] + (map ? unit.y * jump[0] : 0);
  const left = offset[1] + (map ? unit.x * jump[1] : 0);
  const [H, W] = inputShape.slice(-2);
  const clip = {
    top: Math.max(0, top),
    left: Math.max(0, left),
    bottom: Math.min(H, top + size[0]),
    right: Math.min(W, left + size[1]),
  };
  return { top, left, height: size[0], width: size[1], clip };
}

/** The index of the layer that layer li reads (its `inputs` in /api/model); -1 for the input. */
export function inputIndex(layers, li) {
  const d = layers[li];
  if (!d.inputs || d.inputs.length === 0) return -1;
  const i = layers.findIndex((l) => l.name === d.inputs[0]);
  if (i < 0) throw new Error(`layer ${d.name} reads "${d.inputs[0]}", which the model lacks`);
  return i;
}

/** Flat index i of a C×H×W tensor (row-major) → {c, y, x}. */
export function unitOfIndex(i, H, W) {
  return { c: Math.floor(i / (H * W)), y: Math.floor((i % (H * W)) / W), x: i % W };
}

/** The pool winner of output unit u as a unit of the pooled input, or null (none recorded). */
export function poolWinner(t, prev, u) {
  if (!t.winners) return null;
  const flat = t.winners[(u.c * t.H + u.y) * t.W + u.x];
  return flat >= 0 ? { c: u.c, y: Math.floor(flat / prev.W), x: flat % prev.W } : null;
}

function windowed(d, unit, prev, out) {
  const reads = unitReads(d, unit, [prev.C, prev.H, prev.W]);
  const { top, left } = reads.origin;
  const inside = reads.taps.filter((t) => t.inside);
  for (const ci of reads.channels) {
    out.windows.push({ c: ci, top, left, h: reads.extent.h, w: reads.extent.w });
    for (const t of inside) out.units.push({ c: ci, y: t.iy, x: t.ix });
  }
}

const READS = {
  conv: (d, unit, prev, out) => windowed(d, unit, prev, out),
  pool(d, unit, prev, out, t) {
    windowed(d, unit, prev, out);
    out.winner = poolWinner(t, prev, unit);
  },
  activation(d, unit, prev, out) {
    out.units = [{ c: unit.c, y: unit.y, x: unit.x }];
  },
  affine(d, unit, prev, out) {
    out.units = [{ c: unit.c, y: unit.y, x: unit.x }];
  },
  flatten(d, unit, prev, out) {
    out.units = [unitOfIndex(unit.c, prev.H, prev.W)];
  },
  dense(d, unit, prev, out, t, weights, topK) {
    out.units = strongestInputs(weights.get(d.name), prev, unit.c, topK);
  },
  softmax(d, unit, prev, out) {
    for (let i = 0; i < prev.C; i++) out.units.push({ c: i, y: 0, x: 0 });
  },
};

/** layers: model.layers; li: index of the unit's layer; tensors: parseForward().list; weights: Map */
export function sources(layers, li, unit, tensors, weights, topK = TOP_K) {
  const d = layers[li];
  const out = { op: d.op, units: [], windows: [], winner: null };
  const from = inputIndex(layers, li);
  if (from < 0) return out;
  const read = READS[d.op];
  if (!read) throw new Error(`geometry: no reading rule for op "${d.op}" (layer ${d.name})`);
  read(d, unit, tensors[from], out, tensors[li], weights, topK);
  return out;
}

/** The topK inputs of dense unit `u` by |weight × activation|, strongest first. */
export function strongestInputs(w, prev, u, topK = TOP_K) {
  if (!w) throw new Error("dense weights not loaded");
  const D = w.inputs;
  if (prev.data.length !== D)
    throw new Error(`dense unit reads ${D} inputs, previous layer has ${prev.data.length}`);
  const row = w.weight.subarray(u * D, (u + 1) * D);
  const items = [];
  for (let j = 0; j < D; j++)
    items.push({ c: j, y: 0, x: 0, weight: row[j], contribution: row[j] * prev.data[j] });
  items.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  return items.slice(0, topK);
}
