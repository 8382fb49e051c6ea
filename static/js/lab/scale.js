// Colour scales for feature maps (pure maths, no DOM).

import { lut, domain, colourOf, PALETTES } from "../core/colors.js";

/** How each palette's legend reads, in words. */
const PALETTE_WORDS = {
  classic: { diverging: "blue < 0 < red, white = 0", sequential: "white = 0, darker = larger" },
  projector: { diverging: "blue < 0 < orange, black = 0", sequential: "black = 0, brighter = larger" },
  cvd: { diverging: "blue < 0 < orange, white = 0", sequential: "purple = 0, yellow = largest" },
};

/**
 * A scale for values in [min, max] using the layer view's palettes (static/js/core/colors.js), so both
 * pages read alike: {kind, name, lo, hi, min, max, colour(v) → [r, g, b], css(v)}.
 * Diverging (symmetric around 0, white = 0) as soon as a value is negative; else sequential from 0.
 */
export function makeScale(min, max, palette = "classic") {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new Error(`a colour scale needs finite min ≤ max, got ${min}, ${max}`);
  }
  const kind = min < 0 ? "diverging" : "sequential";
  const name = PALETTES[palette][kind];
  const [lo, hi] = domain(name, min, max);
  const colour = colourOf(lut(name), lo, hi);
  const css = (v) => `rgb(${colour(v).join(",")})`;
  return { kind, name, lo, hi, min, max, colour, css, words: PALETTE_WORDS[palette][kind] };
}

/** Short number for ticks and grids: 3 significant digits, no "-0". */
export function fmt(v, digits = 3) {
  if (v === 0 || Object.is(v, -0)) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(digits)));
}
