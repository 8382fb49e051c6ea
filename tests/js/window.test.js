// The one window geometry (static/js/core/window.js) against a padded grid built explicitly.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  readChannels,
  unitReads,
  windowExtent,
  windowOrigin,
  windowTaps,
} from "../../static/js/core/window.js";

/** The input positions of an H×W map inside its zero padding: padded[py][px] = [iy, ix] | null. */
function paddedGrid(H, W, [top, bottom, left, right]) {
  const rows = [];
  for (let py = 0; py < top + H + bottom; py++) {
    const row = [];
    for (let px = 0; px < left + W + right; px++) {
      const inside = py >= top && py < top + H && px >= left && px < left + W;
      row.push(inside ? [py - top, px - left] : null);
    }
    rows.push(row);
  }
  return rows;
}

/** What output (y, x) reads, by walking the padded grid: the textbook definition. */
function readsFromGrid(win, y, x, H, W) {
  const grid = paddedGrid(H, W, win.pad);
  const out = [];
  for (let ky = 0; ky < win.kernel[0]; ky++) {
    for (let kx = 0; kx < win.kernel[1]; kx++) {
      const py = y * win.stride[0] + ky * win.dilation[0];
      const px = x * win.stride[1] + kx * win.dilation[1];
      const cell = grid[py] && grid[py][px];
      out.push(cell === undefined ? "beyond" : cell === null ? "pad" : cell.join(","));
    }
  }
  return out;
}

const describeTaps = (taps) => taps.map((t) => (t.inside ? `${t.iy},${t.ix}` : "pad"));

test("3×3, stride 1, pad 1: the corner output reads four pixels and five zeros", () => {
  const win = { kernel: [3, 3], stride: [1, 1], pad: [1, 1, 1, 1], dilation: [1, 1] };
  const taps = windowTaps(win, 0, 0, 4, 4);
  assert.deepEqual(describeTaps(taps), ["pad", "pad", "pad", "pad", "0,0", "0,1", "pad", "1,0", "1,1"]);
  assert.deepEqual(windowOrigin(win, 0, 0), { top: -1, left: -1 });
});

test("stride, uneven padding and dilation agree with the padded grid at every output", () => {
  const cases = [
    { kernel: [3, 2], stride: [2, 3], pad: [1, 0, 2, 1], dilation: [2, 1], H: 7, W: 9 },
    { kernel: [5, 5], stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1], H: 8, W: 8 },
    { kernel: [2, 3], stride: [3, 1], pad: [2, 2, 0, 3], dilation: [1, 3], H: 5, W: 6 },
  ];
  for (const { H, W, ...win } of cases) {
    const [kh, kw] = win.kernel;
    const Ho = Math.floor((H + win.pad[0] + win.pad[1] - win.dilation[0] * (kh - 1) - 1) / win.stride[0]) + 1;
    const Wo = Math.floor((W + win.pad[2] + win.pad[3] - win.dilation[1] * (kw - 1) - 1) / win.stride[1]) + 1;
    assert.ok(Ho > 0 && Wo > 0);
    for (let y = 0; y < Ho; y++) {
      for (let x = 0; x < Wo; x++) {
        const expected = readsFromGrid(win, y, x, H, W);
        assert.ok(!expected.includes("beyond"), "a valid output never reads past the padding");
        assert.deepEqual(describeTaps(windowTaps(win, y, x, H, W)), expected, `output (${y}, ${x})`);
      }
    }
  }
});

test("taps carry their kernel index, row-major", () => {
  const taps = windowTaps(
    { kernel: [2, 3], stride: [1, 1], pad: [0, 0, 0, 0], dilation: [1, 1] },
    0,
    0,
    5,
    5,
  );
  assert.deepEqual(
    taps.map((t) => [t.ky, t.kx]),
    [
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 1],
      [1, 2],
    ],
  );
});

test("the extent counts the dilation gaps", () => {
  assert.deepEqual(windowExtent({ kernel: [3, 5], stride: [1, 1], pad: [0, 0, 0, 0], dilation: [2, 3] }), {
    h: 5,
    w: 13,
  });
  assert.deepEqual(windowExtent({ kernel: [2, 2], stride: [2, 2], pad: [0, 0, 0, 0] }), { h: 2, w: 2 });
});

test("a connections table picks the input channels; none means all", () => {
  const table = [
    [1, 0, 1, 0],
    [0, 1, 1, 1],
  ];
  assert.deepEqual(readChannels(table, 0, 4), [0, 2]);
  assert.deepEqual(readChannels(table, 1, 4), [1, 2, 3]);
  assert.deepEqual(readChannels(null, 0, 3), [0, 1, 2]);
  assert.throws(() => readChannels(table, 0, 6), /4 entries for 6 input channels/);
});

test("a conv unit reads its connected channels, a pool unit only its own", () => {
  const win = { kernel: [2, 2], stride: [2, 2], pad: [0, 0, 0, 0], dilation: [1, 1] };
  const conv = { name: "c", op: "conv", window: win, connections: [[0, 1, 1]] };
  const pool = { name: "p", op: "pool", window: win, reduce: "max" };
  assert.deepEqual(unitReads(conv, { c: 0, y: 1, x: 0 }, [3, 4, 4]).channels, [1, 2]);
  const reads = unitReads(pool, { c: 2, y: 1, x: 1 }, [3, 4, 4]);
  assert.deepEqual(reads.channels, [2]);
  assert.deepEqual(reads.origin, { top: 2, left: 2 });
  assert.deepEqual(describeTaps(reads.taps), ["2,2", "2,3", "3,2", "3,3"]);
  assert.throws(
    () => unitReads({ name: "r", op: "activation", window: null }, { c: 0, y: 0, x: 0 }, [1, 2, 2]),
    /no window/,
  );
});
