// The drawing code carried by links (static/js/core/q4.js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { LEVELS, decodeQ4, encodeQ4 } from "../../static/js/core/q4.js";

test("two pixels per byte, high nibble first, base64url", () => {
  // pixels 0, 1, 1, 0 → nibbles 0, 15, 15, 0 → bytes 0x0f 0xf0 → base64url "D_A"
  assert.equal(encodeQ4([0, 1, 1, 0]), "q4D_A");
  assert.deepEqual(decodeQ4("q4D_A", 2, 2), [
    [0, 1],
    [1, 0],
  ]);
});

test("a 32×32 drawing comes back within half a level", () => {
  const values = Array.from({ length: 32 * 32 }, (_, i) => (Math.sin(i * 0.37) + 1) / 2);
  const code = encodeQ4(values);
  assert.equal(code.length, 2 + 683);
  const back = decodeQ4(code).flat();
  values.forEach((v, i) => assert.ok(Math.abs(back[i] - v) <= 0.5 / LEVELS + 1e-12, `pixel ${i}`));
});

test("values outside 0…1 are clamped; bad codes are refused", () => {
  assert.deepEqual(decodeQ4(encodeQ4([-3, 7]), 1, 2), [[0, 1]]);
  assert.throws(() => decodeQ4("xyz"), /starts with q4/);
  assert.throws(() => decodeQ4("q4AA"), /holds 2 pixels, expected 32×32/);
  assert.throws(() => decodeQ4("q4A*", 1, 2), /not a base64url character/);
});
