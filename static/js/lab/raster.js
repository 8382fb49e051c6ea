// Turning maps into pixels: (C, H, W) nested arrays → ImageData, drawn nearest-neighbour scaled.
import { shapeOf } from "./geometry.js";

const clamp255 = (v) => (v <= 0 ? 0 : v >= 1 ? 255 : v * 255);

/** RGBA bytes of a map: 1 channel → `scale.colour` (or gray if scale is null), 3 → RGB clipped to [0, 1]. */
export function mapPixels(data, scale = null) {
  const [C, H, W] = shapeOf(data, 3);
  if (C !== 1 && C !== 3) throw new Error(`can only paint 1 or 3 channels, got ${C}`);
  const px = new Uint8ClampedArray(H * W * 4);
  for (let y = 0; y < H; y += 1) {
    for (let x = 0; x < W; x += 1) {
      const o = (y * W + x) * 4;
      if (C === 3) {
        px[o] = clamp255(data[0][y][x]);
        px[o + 1] = clamp255(data[1][y][x]);
        px[o + 2] = clamp255(data[2][y][x]);
      } else if (scale) {
        const [r, g, b] = scale.colour(data[0][y][x]);
        px[o] = r;
        px[o + 1] = g;
        px[o + 2] = b;
      } else {
        const v = clamp255(data[0][y][x]);
        px[o] = v;
        px[o + 1] = v;
        px[o + 2] = v;
      }
      px[o + 3] = 255;
    }
  }
  return { width: W, height: H, px };
}

/** Draw `pixels` (from mapPixels) into ctx at (x, y) scaled to w×h; only the first `count` pixels if given. */
export function drawPixels(ctx, pixels, x, y, w, h, count = null) {
  const off = document.createElement("canvas");
  off.width = pixels.width;
  off.height = pixels.height;
  let bytes = pixels.px;
  if (count !== null && count < pixels.width * pixels.height) {
    bytes = new Uint8ClampedArray(bytes.length);
    bytes.set(pixels.px.subarray(0, Math.max(0, count) * 4));
  }
  off.getContext("2d").putImageData(new ImageData(bytes, pixels.width, pixels.height), 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, x, y, w, h);
}

/** A diagonal-hatch pattern for zero padding. */
export function hatch(ctx, colour = "#9aa3b5", background = "#e9ecf3") {
  const tile = document.createElement("canvas");
  tile.width = 8;
  tile.height = 8;
  const t = tile.getContext("2d");
  t.fillStyle = background;
  t.fillRect(0, 0, 8, 8);
  t.strokeStyle = colour;
  t.lineWidth = 1.2;
  t.beginPath();
  t.moveTo(0, 8);
  t.lineTo(8, 0);
  t.moveTo(-2, 2);
  t.lineTo(2, -2);
  t.moveTo(6, 10);
  t.lineTo(10, 6);
  t.stroke();
  return ctx.createPattern(tile, "repeat");
}
