// The kernel lab's convolution geometry and arithmetic (pure maths, no DOM); which input pixels an
// output reads is core/window.js's, the same code the layer view uses.
// Shape legend: input data[c][y][x] (C, H, W); kernel values[ky][kx] (k, k); output (Ho, Wo).
import { windowTaps as taps } from "../core/window.js";

/** Geometry of one convolution from the server's `formula` ({height, width}: {n, k, p, s, d, out}). */
export function convGeometry(formula) {
  const h = formula.height;
  const w = formula.width;
  for (const f of [h, w]) {
    if (!Array.isArray(f.p) || f.p.length !== 2)
      throw new Error(`formula.p must be [before, after], got ${JSON.stringify(f.p)}`);
  }
  return {
    H: h.n,
    W: w.n,
    kh: h.k,
    kw: w.k,
    top: h.p[0],
    bottom: h.p[1],
    left: w.p[0],
    right: w.p[1],
    Ho: h.out,
    Wo: w.out,
    window: {
      kernel: [h.k, w.k],
      stride: [h.s, w.s],
      pad: [h.p[0], h.p[1], w.p[0], w.p[1]],
      dilation: [h.d, w.d],
    },
  };
}

export function shapeOf(nested, depth) {
  const shape = [];
  let a = nested;
  for (let i = 0; i < depth; i += 1) {
    if (!Array.isArray(a)) throw new Error(`expected a ${depth}-D nested array, got depth ${i}`);
    shape.push(a.length);
    a = a[0];
  }
  return shape;
}

/** Every tap of the window of output (oy, ox): kernel index, input position, inside the image? */
export function windowTaps(geo, oy, ox) {
  if (oy < 0 || ox < 0 || oy >= geo.Ho || ox >= geo.Wo) {
    throw new Error(`output pixel (${oy}, ${ox}) outside the ${geo.Ho}×${geo.Wo} map`);
  }
  return taps(geo.window, oy, ox, geo.H, geo.W);
}

/**
 * The arithmetic of output (oy, ox): per channel the window's values, the products with the kernel
 * and their sums. mode "per_channel": only `channel` contributes (its own output map);
 * mode "sum": every channel contributes to one map. Sums are in float64.
 */
export function windowArithmetic(input, kernel, geo, oy, ox, { mode, channel = 0, bias = 0 }) {
  const [C, H, W] = shapeOf(input, 3);
  if (H !== geo.H || W !== geo.W)
    throw new Error(`input is ${H}×${W} but the formula says ${geo.H}×${geo.W}`);
  if (kernel.length !== geo.kh || kernel[0].length !== geo.kw) {
    throw new Error(
      `kernel is ${kernel.length}×${kernel[0].length} but the formula says ${geo.kh}×${geo.kw}`,
    );
  }
  const taps = windowTaps(geo, oy, ox);
  const channels = mode === "sum" ? [...Array(C).keys()] : [channel];
  if (channel < 0 || channel >= C) throw new Error(`channel ${channel} outside 0…${C - 1}`);
  const parts = channels.map((c) => {
    const values = taps.map((t) => (t.inside ? input[c][t.iy][t.ix] : 0));
    const products = values.map((v, i) => v * kernel[taps[i].ky][taps[i].kx]);
    return { channel: c, values, products, sum: products.reduce((a, b) => a + b, 0) };
  });
  const total = parts.reduce((a, p) => a + p.sum, 0) + bias;
  return { taps, parts, bias, sum: total };
}

export const ACTIVATIONS = {
  relu: (v) => Math.max(0, v),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  tanh: (v) => Math.tanh(v),
};

/** The raster order the animation follows: index → (oy, ox). */
export function rasterPosition(index, Wo) {
  return { oy: Math.floor(index / Wo), ox: index % Wo };
}
