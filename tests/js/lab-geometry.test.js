// The kernel lab's geometry (static/js/lab/geometry.js) and kernels (lab/kernels.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { convGeometry, rasterPosition, windowArithmetic, windowTaps } from "../../static/js/lab/geometry.js";
import { flip, normalise, parseValue, resize, transpose } from "../../static/js/lab/kernels.js";

const formula = (n, k, p, s, d) => {
  const out = Math.floor((n + p[0] + p[1] - d * (k - 1) - 1) / s) + 1;
  return { n, k, p, s, d, out };
};

test("the server's formula becomes a window; taps outside the map are refused", () => {
  const geo = convGeometry({ height: formula(7, 3, [1, 2], 2, 2), width: formula(6, 3, [0, 1], 1, 1) });
  assert.deepEqual(geo.window, { kernel: [3, 3], stride: [2, 1], pad: [1, 2, 0, 1], dilation: [2, 1] });
  assert.deepEqual([geo.Ho, geo.Wo], [3, 5]); // ⌊(7 + 3 − 2·2 − 1) / 2⌋ + 1, ⌊(6 + 1 − 2 − 1) / 1⌋ + 1
  assert.deepEqual(
    windowTaps(geo, 0, 0)
      .map((t) => [t.iy, t.ix, t.inside])
      .slice(0, 4),
    [
      [-1, 0, false],
      [-1, 1, false],
      [-1, 2, false],
      [1, 0, true],
    ],
  );
  assert.throws(() => windowTaps(geo, 3, 0), /outside the 3×5 map/);
  assert.throws(() => convGeometry({ height: { p: 1 }, width: {} }), /must be \[before, after\]/);
});

test("a window's sum is the textbook convolution of the zero-padded image", () => {
  const input = [
    [
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10, 11, 12],
    ],
    [
      [0, 1, 0, 1],
      [1, 0, 1, 0],
      [2, 2, 2, 2],
    ],
  ];
  const kernel = [
    [1, 0, -1],
    [0, 2, 0],
    [-1, 0, 1],
  ];
  const geo = convGeometry({ height: formula(3, 3, [1, 1], 1, 1), width: formula(4, 3, [1, 1], 2, 1) });
  const pad = (ch) => [new Array(6).fill(0), ...ch.map((r) => [0, ...r, 0]), new Array(6).fill(0)];
  const padded = input.map(pad);
  const byHand = (c, oy, ox) => {
    let s = 0;
    for (let ky = 0; ky < 3; ky++)
      for (let kx = 0; kx < 3; kx++) s += padded[c][oy + ky][2 * ox + kx] * kernel[ky][kx];
    return s;
  };
  for (let oy = 0; oy < geo.Ho; oy++) {
    for (let ox = 0; ox < geo.Wo; ox++) {
      const one = windowArithmetic(input, kernel, geo, oy, ox, { mode: "per_channel", channel: 1 });
      assert.equal(one.sum, byHand(1, oy, ox));
      const all = windowArithmetic(input, kernel, geo, oy, ox, { mode: "sum", bias: 0.5 });
      assert.equal(all.sum, byHand(0, oy, ox) + byHand(1, oy, ox) + 0.5);
      assert.deepEqual(
        all.parts.map((p) => p.channel),
        [0, 1],
      );
    }
  }
  assert.throws(() => windowArithmetic(input, [[1]], geo, 0, 0, { mode: "sum" }), /kernel is 1×1/);
});

test("raster order runs along rows", () => {
  assert.deepEqual(rasterPosition(7, 5), { oy: 1, ox: 2 });
});

test("kernel cells take decimals and fractions; the tools transform as named", () => {
  assert.equal(parseValue("1/16"), 0.0625);
  assert.equal(parseValue("−3/4"), -0.75);
  assert.equal(parseValue(" 2e-1 "), 0.2);
  assert.throws(() => parseValue("1/0"), /not a finite number/);
  assert.throws(() => parseValue("one"), /not a number/);
  const k = {
    values: [
      [1, 2],
      [3, 4],
    ],
    text: [
      ["1", "2"],
      ["3", "4"],
    ],
  };
  assert.deepEqual(flip(k).values, [
    [4, 3],
    [2, 1],
  ]);
  assert.deepEqual(transpose(k).values, [
    [1, 3],
    [2, 4],
  ]);
  assert.deepEqual(normalise(k).values, [
    [0.1, 0.2],
    [0.3, 0.4],
  ]);
  assert.deepEqual(resize(k, 3).values, [
    [0, 0, 0],
    [0, 1, 2],
    [0, 3, 4],
  ]); // the old 2×2 sits at the bottom right of the centre
});
