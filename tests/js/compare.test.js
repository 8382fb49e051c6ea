// The compare panel's arithmetic (static/js/compare-view.js): relative change per layer, the difference.
import { test } from "node:test";
import assert from "node:assert/strict";
import { difference, layerChanges } from "../../static/js/compare-view.js";

const t = (name, values, C = 1, H = 1, W = values.length) => ({
  name,
  C,
  H,
  W,
  data: Float32Array.from(values),
  min: Math.min(...values),
  max: Math.max(...values),
});

test("each layer's change is ‖after − before‖ / ‖before‖", () => {
  const before = [t("a", [3, 4]), t("b", [0, 0]), t("c", [0, 0])];
  const after = [t("a", [3, 4]), t("b", [1, 0]), t("c", [0, 0])];
  assert.deepEqual(
    layerChanges(before, after).map((r) => r.change),
    [0, Infinity, 0],
  );
  const moved = layerChanges([t("a", [1, 0, 0, 0])], [t("a", [0, 1, 0, 0])])[0].change;
  assert.ok(Math.abs(moved - Math.SQRT2) < 1e-12, "a unit bump moved by one: √2");
});

test("the difference is signed, per channel, on a symmetric range", () => {
  const b = t("m", [1, 2, 3, 4], 2, 1, 2);
  const a = t("m", [2, 2, 0, 5], 2, 1, 2);
  const d = difference(b, a);
  assert.deepEqual(Array.from(d.data), [1, 0, -3, 1]);
  assert.deepEqual(Array.from(d.chMin), [0, -3]);
  assert.deepEqual(Array.from(d.chMax), [1, 1]);
  assert.equal(d.min, -3);
  assert.equal(d.max, 3);
  assert.equal(d.op, "conv");
});
