/**
 * Feature-map tiles and node columns: layout numbers (pure) and painting into canvases.
 * Canvases are drawn at their native resolution (one canvas pixel per unit) and scaled by CSS
 * with `image-rendering: pixelated`, so units stay crisp squares and painting stays cheap.
 */
import { SCALES, domain, paintRGBA, scaleFor } from "./core/colors.js";

/** How a layer is drawn: maps (C tiles of H×W), vector (a column of nodes) or the softmax chart. */
export function layoutFor(desc, prevDesc) {
  const shape = desc.output_shape;
  if (desc.op === "softmax") return { type: "softmax", n: shape[0] };
  if (desc.family === "map") {
    const [C, H, W] = shape;
    const base = C === 1 ? 4 : H >= 24 ? 3 : H >= 12 ? 4 : H >= 8 ? 5 : 8;
    // at least 24 px a tile (a 1×1 map of a global pool, a 4×4 map deep in a large network)
    const scale = Math.min(Math.max(base, Math.ceil(24 / Math.max(H, W))), 24);
    // two columns of tiles keep every LeNet layer on one 1920×1080 screen, in both directions;
    // a layer of many channels gets up to 8 columns, and past 32 channels its grid scrolls
    const tileCols = C === 1 ? 1 : C <= 16 ? 2 : Math.min(8, Math.ceil(C / 8));
    return { type: "maps", C, H, W, scale, tileCols, scroll: C > 32 };
  }
  const n = shape[0];
  const spatial =
    prevDesc && prevDesc.family === "map" && prevDesc.output_shape[1] * prevDesc.output_shape[2] > 1;
  if (desc.op === "flatten" && spatial) {
    const [C, H, W] = prevDesc.output_shape; // one column per source channel, column-major
    return { type: "vector", n, cols: C, rows: H * W, cellW: 7, cellH: 8, labels: false };
  }
  if (n <= 12) return { type: "vector", n, cols: 1, rows: n, cellW: 30, cellH: 30, labels: true };
  const cellH = n <= 60 ? 8 : n <= 130 ? 3 : 2;
  return {
    type: "vector",
    n,
    cols: Math.ceil(n / 150),
    rows: Math.min(n, 150),
    cellW: 22,
    cellH,
    labels: false,
  };
}

/** Vector index i ↔ (col, row) in a column-major node grid. */
export const vectorCell = (lay, i) => ({ col: Math.floor(i / lay.rows), row: i % lay.rows });
export const vectorIndex = (lay, col, row) => col * lay.rows + row;

/**
 * The colour domain for channel c of tensor t under a range scope ("map" | "layer" | "global").
 * Under "global" every layer shares the network's largest magnitude, but a layer on a sequential
 * scale (nothing below zero: a ReLU, a pool or flatten of one) still starts at 0, so zero stays
 * the scale's first colour instead of landing mid-scale on the global minimum.
 * flat: the input is blank (nothing drawn): the domain spans at least ±1 (the legend) and the maps
 * are painted as zeros, so bias-only values are never stretched to full colour.
 */
export function colourDomain(t, scope, globalRange, c = 0, palette = "classic", { flat = false } = {}) {
  const scale = scaleFor(t.op, t.min, palette);
  if (t.op === "input") return { scale, lo: 0, hi: Math.max(1, t.max) };
  let min = t.min,
    max = t.max;
  if (scope === "map" && t.H * t.W > 1) {
    min = t.chMin[c];
    max = t.chMax[c];
  }
  if (scope === "global" && t.op !== "softmax") {
    min = SCALES[scale].type === "sequential" ? 0 : globalRange.min;
    max = globalRange.max;
  }
  if (flat) {
    min = Math.min(min, 0);
    max = Math.max(max, 1);
  }
  const [lo, hi] = domain(scale, min, max);
  return { scale, lo, hi };
}

/** The values painted: a blank input's maps (biases only) are drawn as zeros, i.e. blank paper. */
const shown = (t, opts) => (opts && opts.flat ? new Float32Array(t.data.length) : t.data);

const imageCache = new WeakMap();
function imageFor(ctx, w, h) {
  let img = imageCache.get(ctx);
  if (!img || img.width !== w || img.height !== h) {
    img = ctx.createImageData(w, h);
    imageCache.set(ctx, img);
  }
  return img;
}

export function paintMap(canvas, t, c, scope, globalRange, palette, opts) {
  const ctx = canvas.getContext("2d");
  const { scale, lo, hi } = colourDomain(t, scope, globalRange, c, palette, opts);
  const img = imageFor(ctx, t.W, t.H);
  paintRGBA(img.data, shown(t, opts), lo, hi, scale, c * t.H * t.W, t.H * t.W);
  ctx.putImageData(img, 0, 0);
}

export function paintVector(canvas, t, lay, scope, globalRange, palette, opts) {
  const ctx = canvas.getContext("2d");
  const { scale, lo, hi } = colourDomain(t, scope, globalRange, 0, palette, opts);
  const img = imageFor(ctx, lay.cols, lay.rows);
  const rgba = paintRGBA(new Uint8ClampedArray(t.data.length * 4), shown(t, opts), lo, hi, scale);
  img.data.fill(255);
  for (let i = 0; i < t.data.length; i++) {
    const { col, row } = vectorCell(lay, i);
    img.data.set(rgba.subarray(i * 4, i * 4 + 4), (row * lay.cols + col) * 4);
  }
  ctx.putImageData(img, 0, 0);
}
