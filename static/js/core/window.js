/**
 * Sliding-window geometry, the one copy both pages use: which input units an output of a conv or
 * a pool reads.  No DOM.
 *
 * A window is what /api/model gives a conv or pool layer:
 *   {kernel: [kh, kw], stride: [sh, sw], pad: [top, bottom, left, right], dilation: [dh, dw]}
 * Output (y, x) reads input rows y·sh − top + ky·dh (ky = 0 … kh − 1) and columns
 * x·sw − left + kx·dw (kx = 0 … kw − 1); a row or column outside the input is zero padding.
 * Which input channels it reads: a conv the ones its connections table marks (null: all), a pool
 * only its own channel.
 */

/** The input position of the window's first tap (may lie in the padding). */
export function windowOrigin(win, y, x) {
  return { top: y * win.stride[0] - win.pad[0], left: x * win.stride[1] - win.pad[2] };
}

/** Rows and columns the window spans, dilation gaps included. */
export function windowExtent(win) {
  const [kh, kw] = win.kernel;
  const [dh, dw] = win.dilation || [1, 1];
  return { h: (kh - 1) * dh + 1, w: (kw - 1) * dw + 1 };
}

/** Every tap of the window of output (y, x) on an H×W input: {ky, kx, iy, ix, inside}, row-major. */
export function windowTaps(win, y, x, H, W) {
  const [kh, kw] = win.kernel;
  const [dh, dw] = win.dilation || [1, 1];
  const { top, left } = windowOrigin(win, y, x);
  const taps = [];
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      const iy = top + ky * dh;
      const ix = left + kx * dw;
      taps.push({ ky, kx, iy, ix, inside: iy >= 0 && iy < H && ix >= 0 && ix < W });
    }
  }
  return taps;
}

/** The input channels output channel c reads: the marked entries of connections[c], else all Cin. */
export function readChannels(connections, c, Cin) {
  if (!connections) return Array.from({ length: Cin }, (_, i) => i);
  const row = connections[c];
  if (!row || row.length !== Cin) {
    throw new Error(`connections row ${c} has ${row ? row.length : "no"} entries for ${Cin} input channels`);
  }
  const out = [];
  row.forEach((on, ci) => {
    if (on) out.push(ci);
  });
  return out;
}

/**
 * What unit {c, y, x} of a windowed layer (conv or pool, from /api/model) reads from its input of
 * shape [Cin, H, W]: {channels: [ci], origin: {top, left}, extent: {h, w}, taps: [{ky, kx, iy, ix, inside}]}.
 */
export function unitReads(layer, unit, inShape) {
  const win = layer.window;
  if (!win) throw new Error(`layer ${layer.name} (${layer.op}) has no window`);
  const [Cin, H, W] = inShape;
  const channels = layer.op === "pool" ? [unit.c] : readChannels(layer.connections, unit.c, Cin);
  return {
    channels,
    origin: windowOrigin(win, unit.y, unit.x),
    extent: windowExtent(win),
    taps: windowTaps(win, unit.y, unit.x, H, W),
  };
}
