// Colour domains of the layer view (static/js/tiles.js): scopes, non-negative layers, blank input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { colourDomain } from "../../static/js/tiles.js";

const tensor = (op, min, max, extra = {}) => ({
  op,
  min,
  max,
  H: 2,
  W: 2,
  chMin: [min],
  chMax: [max],
  ...extra,
});
const whole = { min: -15.4, max: 9.2 };

test("under the global scope a non-negative layer's sequential scale starts at 0", () => {
  for (const op of ["activation", "pool", "flatten"]) {
    const d = colourDomain(tensor(op, 0, 3), "global", whole);
    assert.equal(d.scale, "sequential", op);
    assert.deepEqual([d.lo, d.hi], [0, 9.2], op);
  }
  const conv = colourDomain(tensor("conv", -2, 1), "global", whole);
  assert.deepEqual([conv.scale, conv.lo, conv.hi], ["diverging", -15.4, 15.4]);
  const relu = colourDomain(tensor("activation", 0, 3), "layer", whole);
  assert.deepEqual([relu.lo, relu.hi], [0, 3]);
});

test("a blank input's domain spans at least ±1, so biases are not stretched", () => {
  const d = colourDomain(tensor("conv", -0.22, 0.03), "layer", whole, 0, "classic", { flat: true });
  assert.deepEqual([d.lo, d.hi], [-1, 1]);
  const r = colourDomain(tensor("activation", 0, 0.03), "map", whole, 0, "classic", { flat: true });
  assert.deepEqual([r.lo, r.hi], [0, 1]);
});
