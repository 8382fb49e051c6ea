// The layer notes (static/js/layer-notes.js): each kind of layer explained with its own numbers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { layerNote } from "../../static/js/layer-notes.js";

const conv = {
  name: "conv2",
  kind: "conv",
  op: "conv",
  family: "map",
  window: { kernel: [5, 5], stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] },
  input_shape: [6, 14, 14],
  output_shape: [16, 10, 10],
  params: 2416,
  receptive_field: { size: [14, 14], jump: [2, 2], offset: [0, 0] },
};

test("a conv's note says its window, its inputs, its maps, its parameters and its field", () => {
  const { title, paragraphs, tourStep } = layerNote(conv, [
    { layers: ["conv1"] },
    { layers: ["pool1", "conv2"] },
  ]);
  const text = paragraphs.join(" ");
  assert.equal(title, "conv2 · conv");
  for (const words of [
    "16 filters",
    "5×5 window",
    "all 6 input maps",
    "16 maps of 10×10",
    "2,416 learned parameters",
    "14×14 patch",
  ])
    assert.ok(text.includes(words), `missing "${words}" in: ${text}`);
  assert.equal(tourStep, 1);
});

test("stride, padding and dilation are said when they are not the defaults", () => {
  const text = layerNote({
    ...conv,
    window: { kernel: [3, 3], stride: [2, 2], pad: [1, 1, 1, 1], dilation: [2, 2] },
  }).paragraphs.join(" ");
  assert.ok(
    text.includes("moved 2 units at a time") &&
      text.includes("border of 1 zero") &&
      text.includes("2×2 apart"),
    text,
  );
  assert.equal(layerNote(conv).tourStep, null);
});

test("pools, activations, flatten, dense and softmax have their own words", () => {
  const base = { family: "map", params: 0, receptive_field: { size: [6, 6], jump: [2, 2], offset: [0, 0] } };
  const pool = layerNote({
    ...base,
    name: "pool1",
    kind: "maxpool",
    op: "pool",
    reduce: "max",
    window: { kernel: [2, 2], stride: [2, 2], pad: [0, 0, 0, 0], dilation: [1, 1] },
    input_shape: [6, 28, 28],
    output_shape: [6, 14, 14],
  }).paragraphs.join(" ");
  assert.ok(pool.includes("the largest value") && pool.includes("from 28×28 to 14×14"), pool);
  const relu = layerNote({
    ...base,
    name: "relu1",
    kind: "relu",
    op: "activation",
    input_shape: [6, 28, 28],
    output_shape: [6, 28, 28],
  });
  assert.ok(relu.paragraphs[0].includes("turns every negative one into 0"));
  const flat = layerNote({
    ...base,
    name: "flatten",
    kind: "flatten",
    op: "flatten",
    family: "vector",
    input_shape: [16, 5, 5],
    output_shape: [400],
  });
  assert.ok(flat.paragraphs[0].includes("one column of 400 numbers"));
  const dense = layerNote({
    ...base,
    name: "fc1",
    kind: "dense",
    op: "dense",
    family: "vector",
    params: 48120,
    input_shape: [400],
    output_shape: [120],
  });
  assert.ok(
    dense.paragraphs.join(" ").includes("every one of the 400 inputs") &&
      dense.paragraphs.join(" ").includes("whole input image"),
  );
  const soft = layerNote({
    ...base,
    name: "softmax",
    kind: "softmax",
    op: "softmax",
    family: "vector",
    input_shape: [10],
    output_shape: [10],
  });
  assert.ok(soft.paragraphs[0].includes("add up to 1"));
  const gap = layerNote({
    ...base,
    name: "gap",
    kind: "global_avgpool",
    op: "pool",
    reduce: "mean",
    window: null,
    input_shape: [64, 7, 7],
    output_shape: [64, 1, 1],
  });
  assert.ok(gap.paragraphs[0].startsWith("Global pooling") && gap.paragraphs[0].includes("the average"));
});
