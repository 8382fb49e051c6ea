/**
 * Colour scales and palettes of both pages, keyed by what a layer does (its op), never by name or
 * kind.  No DOM.
 *
 *   SCALES                    {name: {type: "sequential"|"diverging", stops: ["#rrggbb", ...]}}
 *   PALETTES                  {palette: {sequential: scale name, diverging: scale name, label}}
 *   PALETTE_CHOICES           ["auto", ...palettes]: what a link or the menu may choose
 *   effectivePalette(choice, present)  "auto" is the projector palette while presenting, else classic
 *   (OP_SCALES, inside: {op: scale name})
 *   scaleFor(op, min, palette)  scale name for a layer's op; a sequential op whose values go negative
 *                             (e.g. a pool over a conv without ReLU, a tanh) falls back to diverging;
 *                             the palette ("classic" | "projector" | "cvd") picks the actual maps
 *   lut(scaleName)            Uint8ClampedArray(256*3) lookup table
 *   domain(scaleName, min, max) → [lo, hi]: diverging scales are symmetric around 0
 *   paintRGBA(out, values, lo, hi, scaleName, offset, count)  fill RGBA bytes from flat values
 *   colourOf(table, lo, hi) → (v) → [r, g, b]
 */

export const SCALES = {
  gray: { type: "sequential", stops: ["#000000", "#ffffff"] },
  // zero is white: blank feature maps read as paper; more activation is darker and warmer
  sequential: { type: "sequential", stops: ["#ffffff", "#fee391", "#fe9929", "#cc4c02", "#4d1a02"] },
  // negative blue, zero white, positive red (ColorBrewer RdBu, reversed)
  diverging: { type: "diverging", stops: ["#053061", "#4393c3", "#f7f7f7", "#d6604d", "#67001f"] },
  // for a washed-out projector: dark means zero, so faint light colours never carry information
  // (inferno, sampled) and a dark-centred diverging map with bright, saturated ends
  inferno: {
    type: "sequential",
    stops: ["#000004", "#320a5e", "#781c6d", "#bc3754", "#ed6925", "#fbb61a", "#fcffa4"],
  },
  glow: { type: "diverging", stops: ["#8fd3ff", "#1f78d1", "#101010", "#e8730c", "#ffd27f"] },
  // colour-blind safe: viridis (sampled) and a blue–orange diverging map (PuOr-like, no red/green)
  viridis: { type: "sequential", stops: ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"] },
  blue_orange: { type: "diverging", stops: ["#08306b", "#4a8fd0", "#f7f7f7", "#f59d3d", "#7f3b08"] },
};

export const PALETTES = {
  classic: { label: "classic (white = 0)", sequential: "sequential", diverging: "diverging" },
  projector: { label: "projector (high contrast)", sequential: "inferno", diverging: "glow" },
  cvd: { label: "colour-blind safe", sequential: "viridis", diverging: "blue_orange" },
};

export const PALETTE_CHOICES = ["auto", ...Object.keys(PALETTES)];

export function effectivePalette(choice, present) {
  if (choice !== "auto") return choice;
  return present ? "projector" : "classic";
}

const OP_SCALES = {
  input: "gray",
  conv: "diverging",
  dense: "diverging",
  activation: "sequential",
  affine: "diverging", // batch norm and input normalisation centre values on 0
  pool: "sequential",
  flatten: "sequential",
  softmax: "sequential",
};

export function scaleFor(op, min = 0, palette = "classic") {
  let name = OP_SCALES[op];
  if (!name) throw new Error(`colors: no colour scale for layer op "${op}"`);
  if (SCALES[name].type === "sequential" && name !== "gray" && min < 0) name = "diverging";
  if (name === "gray") return name;
  const p = PALETTES[palette];
  if (!p) throw new Error(`colors: unknown palette "${palette}"`);
  return p[name];
}

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const luts = new Map();

export function lut(scaleName) {
  if (luts.has(scaleName)) return luts.get(scaleName);
  const scale = SCALES[scaleName];
  if (!scale) throw new Error(`colors: unknown scale "${scaleName}"`);
  const stops = scale.stops.map(hex);
  const table = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (stops.length - 1);
    const k = Math.min(Math.floor(t), stops.length - 2);
    const f = t - k;
    for (let ch = 0; ch < 3; ch++) table[i * 3 + ch] = stops[k][ch] + (stops[k + 1][ch] - stops[k][ch]) * f;
  }
  luts.set(scaleName, table);
  return table;
}

export function domain(scaleName, min, max) {
  if (SCALES[scaleName].type === "diverging") {
    const m = Math.max(Math.abs(min), Math.abs(max)) || 1;
    return [-m, m];
  }
  if (scaleName === "gray") return [Math.min(0, min), Math.max(1, max)];
  return [Math.min(0, min), max > Math.min(0, min) ? max : Math.min(0, min) + 1];
}

export function paintRGBA(out, values, lo, hi, scaleName, offset = 0, count = values.length - offset) {
  const table = lut(scaleName);
  const k = 255 / (hi - lo || 1);
  for (let i = 0; i < count; i++) {
    let j = Math.round((values[offset + i] - lo) * k);
    j = j < 0 ? 0 : j > 255 ? 255 : j;
    out[i * 4] = table[j * 3];
    out[i * 4 + 1] = table[j * 3 + 1];
    out[i * 4 + 2] = table[j * 3 + 2];
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** (v) → [r, g, b] on the table of a scale between lo and hi (clamped). */
export function colourOf(table, lo, hi) {
  const k = 255 / (hi - lo || 1);
  return (v) => {
    let j = Math.round((v - lo) * k);
    j = j < 0 ? 0 : j > 255 ? 255 : j;
    return [table[j * 3], table[j * 3 + 1], table[j * 3 + 2]];
  };
}
