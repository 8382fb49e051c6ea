// Decoding /api/forward tensors (static/js/core/tensor.js): nested JSON and base64 float32/int32.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  float32String,
  forwardAsJSON,
  numberText,
  parseForward,
  shiftedRows,
  toTensor,
  values,
} from "../../static/js/core/tensor.js";

const pack = (TypedArray, numbers) => Buffer.from(new TypedArray(numbers).buffer).toString("base64");

test("base64 float32 decodes to the same numbers as the nested lists", () => {
  const numbers = [0, -1.5, 3.25, 1e-7, -0, 65504, Math.fround(0.1), 7];
  const packed = { shape: [2, 2, 2], dtype: "float32", base64: pack(Float32Array, numbers) };
  const nested = {
    shape: [2, 2, 2],
    data: [
      [
        [0, -1.5],
        [3.25, 1e-7],
      ],
      [
        [-0, 65504],
        [0.1, 7],
      ],
    ],
  };
  assert.deepEqual(Array.from(values(packed, "x")), numbers.map(Math.fround));
  assert.deepEqual(Array.from(values(nested, "x")), Array.from(values(packed, "x")));
});

test("a byte count that does not fit the shape is an error", () => {
  const bad = { shape: [3], dtype: "float32", base64: pack(Float32Array, [1, 2]) };
  assert.throws(() => values(bad, "conv1"), /conv1: 8 bytes for shape \[3\] of float32 \(expected 12\)/);
  assert.throws(() => values({ shape: [2, 2], data: [[1, 2], [3]] }, "x"), /expected length 2 at depth 1/);
});

test("a tensor knows its ranges per channel and its op from the model", () => {
  const desc = { name: "c", kind: "conv", op: "conv", family: "map", output_shape: [2, 1, 2] };
  const t = toTensor({ name: "c", kind: "conv", shape: [2, 1, 2], data: [[[1, -3]], [[5, 2]]] }, desc);
  assert.deepEqual([t.C, t.H, t.W, t.min, t.max], [2, 1, 2, -3, 5]);
  assert.deepEqual(
    [Array.from(t.chMin), Array.from(t.chMax)],
    [
      [-3, 2],
      [1, 5],
    ],
  );
  assert.deepEqual([t.op, t.family], ["conv", "map"]);
  assert.throws(
    () =>
      toTensor(
        {
          name: "c",
          shape: [2, 2],
          data: [
            [1, 2],
            [3, 4],
          ],
        },
        desc,
      ),
    /≠ model shape/,
  );
});

const model = {
  layers: [
    { name: "input", kind: "input", op: "input", family: "map", output_shape: [1, 2, 2] },
    { name: "pool", kind: "maxpool", op: "pool", family: "map", output_shape: [1, 1, 1] },
  ],
};

test("packed and JSON responses parse alike; forwardAsJSON rebuilds the JSON shape", () => {
  const json = {
    input: {
      shape: [1, 2, 2],
      data: [
        [
          [0.1, 0.5],
          [1, 0],
        ],
      ],
    },
    layers: [{ name: "pool", kind: "maxpool", shape: [1, 1, 1], data: [[[1]]], winners: [[[2]]] }],
  };
  const packed = {
    input: { shape: [1, 2, 2], dtype: "float32", base64: pack(Float32Array, [0.1, 0.5, 1, 0]) },
    layers: [
      {
        name: "pool",
        kind: "maxpool",
        shape: [1, 1, 1],
        dtype: "float32",
        base64: pack(Float32Array, [1]),
        winners: { shape: [1, 1, 1], dtype: "int32", base64: pack(Int32Array, [2]) },
      },
    ],
  };
  const a = parseForward(json, model);
  const b = parseForward(packed, model);
  assert.deepEqual(Array.from(b.input.data), Array.from(a.input.data));
  assert.deepEqual(Array.from(b.list[1].winners), [2]);
  assert.deepEqual(forwardAsJSON(packed), json);
  assert.equal(forwardAsJSON(json), json, "a JSON response is returned as it is");
  assert.throws(() => parseForward({ ...json, layers: [] }, model), /returned 0 layers/);
});

test("float32String writes the shortest decimal that reads back as the same float32", () => {
  assert.equal(float32String(Math.fround(0.1)), "0.1");
  assert.equal(float32String(1 / 3), "0.33333334");
  assert.equal(float32String(16777217), "16777216");
  assert.equal(float32String(-2.5), "-2.5");
  assert.equal(float32String(Infinity), "Infinity");
  for (const v of [Math.fround(Math.PI), Math.fround(-1e-20), Math.fround(123456.789), 2 ** -10]) {
    const s = float32String(v);
    assert.equal(Math.fround(Number(s)), Math.fround(v), s);
    assert.ok(s.replace(/^-|\.|e.*$/g, "").replace(/^0+/, "").length <= 9, s);
  }
});

test("shifting the input moves every pixel and fills with zeros", () => {
  const t = { H: 2, W: 3, data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  assert.deepEqual(shiftedRows(t, 0, 1), [
    [0, 1, 2],
    [0, 4, 5],
  ]);
  assert.deepEqual(shiftedRows(t, -1, 0), [
    [4, 5, 6],
    [0, 0, 0],
  ]);
});

test("numberText: fixed decimals, scientific for small nonzero values, never a false zero", () => {
  assert.equal(numberText(0.5), "0.5000");
  assert.equal(numberText(0), "0.0000");
  assert.equal(numberText(3.2172e-7), "3.217e-7");
  assert.equal(numberText(-0.004), "-4.000e-3");
  assert.equal(numberText(12.34567, 2), "12.35");
  assert.equal(numberText(Infinity), "Infinity");
});
