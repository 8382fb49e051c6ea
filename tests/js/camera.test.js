// The camera input's pure parts (static/js/camera.js): the frame → network rows, and the refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cameraRefusal, frameRows } from "../../static/js/camera.js";

test("a frame's centre square becomes gray rows, inverted (dark ink → white)", () => {
  // a 6×4 RGBA frame: white paper, one black pixel at (row 1, col 3), red at (2, 1)
  const w = 6,
    h = 4;
  const rgba = new Uint8ClampedArray(w * h * 4).fill(255);
  const set = (y, x, [r, g, b]) => rgba.set([r, g, b, 255], (y * w + x) * 4);
  set(1, 3, [0, 0, 0]);
  set(2, 1, [255, 0, 0]);
  const rows = frameRows(rgba, w, h, 4); // the centre 4×4 square: columns 1–4
  assert.equal(rows.length, 4);
  assert.equal(rows[0].length, 4);
  assert.equal(rows[1][2], 1); // the black pixel is full ink
  assert.ok(Math.abs(rows[2][0] - (1 - 0.299)) < 1e-9); // red: 1 − its luma
  assert.equal(rows[0][0], 0); // white paper is no ink
});

test("an address without camera access is refused in words", () => {
  const insecure = {
    isSecureContext: false,
    location: { protocol: "http:", host: "192.168.1.20:8000" },
    navigator: {},
  };
  assert.match(
    cameraRefusal(insecure),
    /https:\/\/ pages and to localhost; this page is http:\/\/192\.168\.1\.20:8000/,
  );
  const bare = { isSecureContext: true, location: { protocol: "http:", host: "localhost" }, navigator: {} };
  assert.match(cameraRefusal(bare), /getUserMedia is missing/);
  const ok = { isSecureContext: true, location: {}, navigator: { mediaDevices: { getUserMedia() {} } } };
  assert.equal(cameraRefusal(ok), null);
});
