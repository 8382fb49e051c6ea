// The pinned unit's arithmetic (static/js/arithmetic.js) against a forward pass worked out by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { explain, parseWeights } from "../../static/js/arithmetic.js";
import { KERNEL, tinyModel, tensorsAndWeights } from "./model-fixture.js";

const setup = (reduce) => {
  const model = tinyModel(reduce);
  return { model, ...tensorsAndWeights(model) };
};

test("a conv unit adds up its connected channels' products plus the bias", () => {
  const { model, tensors, weights, hand } = setup("max");
  for (const [c, y, x] of [
    [0, 0, 0],
    [1, 1, 2],
    [1, 2, 2],
    [0, 2, 1],
  ]) {
    const e = explain(model.layers, 1, { layer: "conv", c, y, x }, tensors, weights);
    assert.equal(e.op, "conv");
    assert.deepEqual(
      e.channels.map((ch) => ch.c),
      c === 0 ? [0] : [0, 1],
      "connections[0] reads input 0 only",
    );
    assert.ok(
      Math.abs(e.computed - hand.conv[c][y][x]) < 1e-9,
      `conv ${c},${y},${x}: ${e.computed} vs ${hand.conv[c][y][x]}`,
    );
    assert.equal(e.value, tensors[1].data[(c * 3 + y) * 3 + x]);
    assert.deepEqual(e.next && e.next.name, "relu");
    assert.equal(e.next.value, Math.max(0, hand.conv[c][y][x]));
  }
});

test("a conv window at the corner shows the zero padding and the real kernel", () => {
  const { model, tensors, weights } = setup("max");
  const e = explain(model.layers, 1, { layer: "conv", c: 1, y: 0, x: 0 }, tensors, weights);
  const [ch0, ch1] = e.channels;
  assert.deepEqual(ch0.patch, [
    [0, 0, 0],
    [0, 1, 2],
    [0, 0, 1],
  ]); // rows −1…1, columns −1…1 of input 0
  assert.deepEqual(ch1.patch, [
    [0, 0, 0],
    [0, 0, 1],
    [0, 1, 0],
  ]);
  assert.deepEqual(ch1.kernel, KERNEL[1][1]);
  // the Laplacian-like kernel: centre 1·(−4), right neighbour 2·1, the one below 0·1, the rest padding
  assert.equal(ch0.sum, 1 * -4 + 2 * 1 + 0 * 1);
});

test("max, mean and L2 pools reduce their window; max names its winner", () => {
  for (const reduce of ["max", "mean", "l2"]) {
    const { model, tensors, weights, hand } = setup(reduce);
    const e = explain(model.layers, 3, { layer: "pool", c: 1, y: 1, x: 1 }, tensors, weights);
    assert.equal(e.reduce, reduce);
    assert.deepEqual(
      e.window,
      [
        [hand.relu[1][2][2], null],
        [null, null],
      ],
      "the window overhangs the 3×3 map",
    );
    assert.ok(
      Math.abs(e.computed - hand.pool[1][1][1]) < 1e-9,
      `${reduce}: ${e.computed} vs ${hand.pool[1][1][1]}`,
    );
    if (reduce === "max") assert.deepEqual(e.winner, { y: 0, x: 0 });
    else assert.equal(e.winner, null);
  }
  const { model, tensors, weights, hand } = setup("mean");
  const e = explain(model.layers, 3, { layer: "pool", c: 0, y: 0, x: 0 }, tensors, weights);
  assert.equal(e.area, 4);
  assert.ok(
    Math.abs(
      e.sum -
        hand.relu[0]
          .slice(0, 2)
          .flatMap((r) => r.slice(0, 2))
          .reduce((a, b) => a + b, 0),
    ) < 1e-9,
  );
});

test("dense terms are every input, strongest first, and add up to the value", () => {
  const { model, tensors, weights, hand } = setup("max");
  const e = explain(model.layers, 5, { layer: "fc", c: 1, y: 0, x: 0 }, tensors, weights);
  assert.equal(e.terms.length, 8);
  const mags = e.terms.map((t) => Math.abs(t.product));
  assert.deepEqual(
    mags,
    [...mags].sort((a, b) => b - a),
  );
  assert.ok(Math.abs(e.computed - hand.fc[1]) < 1e-5);
  assert.equal(e.next.name, "relu_fc");
});

test("flatten names its source; a vector activation is a vector unit", () => {
  const { model, tensors, weights } = setup("max");
  const f = explain(model.layers, 4, { layer: "flatten", c: 6, y: 0, x: 0 }, tensors, weights);
  assert.deepEqual(f.from, { c: 1, y: 1, x: 0 }); // 6 = 1·(2·2) + 1·2 + 0
  const r = explain(model.layers, 6, { layer: "relu_fc", c: 2, y: 0, x: 0 }, tensors, weights);
  assert.equal(r.op, "activation");
  assert.equal(r.family, "vector");
  assert.equal(r.input, tensors[5].data[2]);
});

test("softmax recomputes the probabilities from the logits", () => {
  const { model, tensors, weights, hand } = setup("max");
  const e = explain(model.layers, 7, { layer: "softmax", c: 0, y: 0, x: 0 }, tensors, weights);
  e.computedProbs.forEach((p, i) => assert.ok(Math.abs(p - hand.softmax[i]) < 1e-6));
  assert.ok(Math.abs(e.sumExp - e.exps.reduce((a, b) => a + b, 0)) < 1e-12);
});

test("an op without a rule is an error, not a guess", () => {
  const { model, tensors, weights } = setup("max");
  const odd = model.layers.map((d, i) => (i === 2 ? { ...d, op: "mystery" } : d));
  assert.throws(
    () => explain(odd, 2, { layer: "relu", c: 0, y: 0, x: 0 }, tensors, weights),
    /no rule for op "mystery"/,
  );
});

test("parseWeights flattens nested weights and checks their count", () => {
  const w = parseWeights({
    name: "fc",
    kind: "dense",
    weight: {
      shape: [2, 3],
      data: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    },
    bias: { shape: [2], data: [7, 8] },
  });
  assert.deepEqual(Array.from(w.weight), [1, 2, 3, 4, 5, 6]);
  assert.equal(w.inputs, 3);
  assert.throws(
    () =>
      parseWeights({
        name: "x",
        weight: { shape: [2, 2], data: [[1, 2, 3]] },
        bias: { shape: [1], data: [0] },
      }),
    /weights of x: weight: expected length 2 at depth 0/,
  );
});

test("parseWeights reads packed float32 weights (the layer view's ?encoding=base64) as the nested lists", () => {
  const pack = (numbers) => Buffer.from(new Float32Array(numbers).buffer).toString("base64");
  const nested = {
    shape: [2, 3],
    data: [
      [0.1, -2.5, 3],
      [4, 5e-7, -6],
    ],
  };
  const a = parseWeights({ name: "fc", kind: "dense", weight: nested, bias: { shape: [2], data: [7, 8] } });
  const b = parseWeights({
    name: "fc",
    kind: "dense",
    weight: { shape: [2, 3], dtype: "float32", base64: pack([0.1, -2.5, 3, 4, 5e-7, -6]) },
    bias: { shape: [2], dtype: "float32", base64: pack([7, 8]) },
  });
  assert.deepEqual(Array.from(b.weight), Array.from(a.weight));
  assert.deepEqual(Array.from(b.bias), Array.from(a.bias));
  assert.throws(
    () =>
      parseWeights({
        name: "x",
        weight: { shape: [2, 2], dtype: "float32", base64: pack([1, 2, 3]) },
        bias: { shape: [1], data: [0] },
      }),
    /bytes for shape/,
  );
});
