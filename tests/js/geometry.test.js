// Hover geometry (static/js/geometry.js): what a unit reads, on the tiny network of model-fixture.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inputIndex, receptiveRect, sources, strongestInputs } from "../../static/js/geometry.js";
import { FC_W, tinyModel, tensorsAndWeights } from "./model-fixture.js";

const model = tinyModel("max");
const { tensors, weights, hand } = tensorsAndWeights(model);
const read = (li, unit) =>
  sources(model.layers, li, { layer: model.layers[li].name, ...unit }, tensors, weights);

test("a conv unit reads one window per connected input channel, clipped to the map", () => {
  const s = read(1, { c: 1, y: 0, x: 0 });
  assert.deepEqual(s.windows, [
    { c: 0, top: -1, left: -1, h: 3, w: 3 },
    { c: 1, top: -1, left: -1, h: 3, w: 3 },
  ]);
  // rows and columns 0…1 of each channel are inside the padded 3×3 window at (−1, −1)
  assert.deepEqual(
    s.units,
    [0, 1].flatMap((c) =>
      [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ].map(([y, x]) => ({ c, y, x })),
    ),
  );
  assert.deepEqual(read(1, { c: 0, y: 2, x: 2 }).windows, [{ c: 0, top: 3, left: 3, h: 3, w: 3 }]);
});

test("a max-pool unit reads its own channel and names the winner", () => {
  const s = read(3, { c: 0, y: 0, x: 0 });
  assert.equal(s.windows.length, 1);
  assert.equal(s.windows[0].c, 0);
  const flat = hand.winners[0][0][0];
  assert.deepEqual(s.winner, { c: 0, y: Math.floor(flat / 3), x: flat % 3 });
});

test("activations read their own unit, flatten one map unit, softmax every logit", () => {
  assert.deepEqual(read(2, { c: 1, y: 2, x: 0 }).units, [{ c: 1, y: 2, x: 0 }]);
  assert.deepEqual(read(4, { c: 7, y: 0, x: 0 }).units, [{ c: 1, y: 1, x: 1 }]);
  assert.equal(read(7, { c: 0, y: 0, x: 0 }).units.length, 3);
  assert.deepEqual(read(0, { c: 0, y: 1, x: 1 }).units, [], "the input reads nothing");
});

test("a dense unit's links are its strongest |weight × input| terms", () => {
  const prev = tensors[4];
  const top = strongestInputs(weights.get("fc"), prev, 0, 3);
  const all = FC_W[0].map((w, j) => ({ j, v: Math.abs(w * hand.flat[j]) })).sort((a, b) => b.v - a.v);
  assert.deepEqual(
    top.map((t) => Math.abs(t.contribution)),
    all.slice(0, 3).map((a) => a.v),
  );
  assert.throws(() => strongestInputs(undefined, prev, 0), /not loaded/);
});

test("the receptive field follows the unit on maps and covers the input for vectors", () => {
  const map = { family: "map", receptive_field: { size: [6, 6], jump: [2, 2], offset: [-1, -1] } };
  assert.deepEqual(receptiveRect(map, { c: 0, y: 3, x: 0 }, [1, 32, 32]), {
    top: 5,
    left: -1,
    height: 6,
    width: 6,
    clip: { top: 5, left: 0, bottom: 11, right: 5 },
  });
  const vec = { family: "vector", receptive_field: { size: [32, 32], jump: [0, 0], offset: [0, 0] } };
  assert.deepEqual(receptiveRect(vec, { c: 9, y: 0, x: 0 }, [1, 32, 32]).clip, {
    top: 0,
    left: 0,
    bottom: 32,
    right: 32,
  });
});

test("a layer reads the layer its `inputs` names, not simply the one before it", () => {
  assert.equal(inputIndex(model.layers, 0), -1);
  assert.equal(inputIndex(model.layers, 3), 2);
  const rewired = model.layers.map((d) => (d.name === "relu" ? { ...d, inputs: ["input"] } : d));
  assert.equal(inputIndex(rewired, 2), 0);
  assert.throws(() => inputIndex([{ name: "a", inputs: ["ghost"] }], 0), /reads "ghost"/);
});
