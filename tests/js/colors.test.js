// Colour scales and palettes (static/js/core/colors.js, static/js/lab/scale.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SCALES,
  colourOf,
  domain,
  effectivePalette,
  lut,
  paintRGBA,
  scaleFor,
} from "../../static/js/core/colors.js";
import { makeScale, fmt } from "../../static/js/lab/scale.js";

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

test("a lookup table starts and ends on its scale's first and last stops", () => {
  for (const [name, scale] of Object.entries(SCALES)) {
    const t = lut(name);
    assert.equal(t.length, 256 * 3);
    assert.deepEqual(Array.from(t.slice(0, 3)), hex(scale.stops[0]), name);
    assert.deepEqual(Array.from(t.slice(255 * 3)), hex(scale.stops.at(-1)), name);
  }
  assert.deepEqual(Array.from(lut("gray").slice(128 * 3, 128 * 3 + 3)), [128, 128, 128]);
  assert.throws(() => lut("nope"), /unknown scale/);
});

test("scales are chosen by op; negatives turn a sequential op diverging", () => {
  assert.equal(scaleFor("conv", -1), "diverging");
  assert.equal(scaleFor("activation", 0), "sequential");
  assert.equal(scaleFor("activation", -0.5), "diverging", "e.g. a tanh");
  assert.equal(scaleFor("pool", 0, "projector"), "inferno");
  assert.equal(scaleFor("dense", -3, "cvd"), "blue_orange");
  assert.equal(scaleFor("input", -1, "cvd"), "gray", "the input is always gray");
  assert.throws(() => scaleFor("relu"), /no colour scale for layer op "relu"/);
  assert.throws(() => scaleFor("conv", 0, "neon"), /unknown palette/);
});

test("auto is the projector palette only while presenting", () => {
  assert.equal(effectivePalette("auto", false), "classic");
  assert.equal(effectivePalette("auto", true), "projector");
  assert.equal(effectivePalette("cvd", true), "cvd");
});

test("domains: diverging symmetric around zero, sequential from zero", () => {
  assert.deepEqual(domain("diverging", -2, 5), [-5, 5]);
  assert.deepEqual(domain("diverging", 0, 0), [-1, 1]);
  assert.deepEqual(domain("sequential", 0.5, 3), [0, 3]);
  assert.deepEqual(domain("sequential", 0, 0), [0, 1]);
  assert.deepEqual(domain("gray", 0.2, 0.7), [0, 1]);
});

test("painting maps lo, hi and out-of-range values to the ends of the table", () => {
  const out = paintRGBA(new Uint8ClampedArray(4 * 4), [0, 10, -5, 20], 0, 10, "gray");
  assert.deepEqual(Array.from(out), [0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255]);
  const part = paintRGBA(new Uint8ClampedArray(4), [9, 9, 5, 9], 0, 10, "gray", 2, 1);
  assert.deepEqual(Array.from(part), [128, 128, 128, 255]);
  const colour = colourOf(lut("gray"), -1, 1);
  assert.deepEqual(colour(0), [128, 128, 128]);
  assert.deepEqual(colour(7), [255, 255, 255]);
});

test("the kernel lab's scale shares the palettes and reads white as zero", () => {
  const s = makeScale(-2, 4);
  assert.equal(s.kind, "diverging");
  assert.deepEqual([s.lo, s.hi], [-4, 4]);
  assert.deepEqual(s.colour(0), Array.from(lut("diverging").slice(128 * 3, 128 * 3 + 3)));
  assert.equal(makeScale(0, 1, "projector").name, "inferno");
  assert.throws(() => makeScale(3, 1), /min ≤ max/);
  assert.equal(fmt(-0), "0");
  assert.equal(fmt(0.0001234), "1.2e-4");
  assert.equal(fmt(2 / 3), "0.667");
});
