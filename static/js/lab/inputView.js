// The input view: the image inside its zero-padded frame, and the window that one output pixel reads
// (every tap outlined, so dilation gaps show; taps in the padding in another colour).
import { el, sizeCanvas, contentWidth, viewMax } from "../core/dom.js";
import { shapeOf } from "./geometry.js";
import { mapPixels, drawPixels, hatch } from "./raster.js";

const TAP = "#ffcc00";
const TAP_PAD = "#ff3d9a";
const BOX = "#111";

export function createInputView(container, { size = 480 } = {}) {
  const caption = el("figcaption", { class: "view-caption" }, "Input");
  const base = el("canvas", { class: "layer-base", "aria-label": "input image with its zero padding" });
  const overlay = el("canvas", { class: "layer-overlay", "aria-hidden": "true" });
  const stack = el("div", { class: "canvas-stack" }, base, overlay);
  const note = el("p", { class: "view-note" });
  container.append(caption, stack, note);
  let layout = null;

  function update({ input, geo }) {
    const [C, H, W] = shapeOf(input.data, 3);
    if (geo && (geo.H !== H || geo.W !== W))
      throw new Error(`input ${H}×${W} does not match the geometry ${geo.H}×${geo.W}`);
    const pad = geo
      ? { top: geo.top, bottom: geo.bottom, left: geo.left, right: geo.right }
      : { top: 0, bottom: 0, left: 0, right: 0 };
    const PH = H + pad.top + pad.bottom;
    const PW = W + pad.left + pad.right;
    const cap = viewMax(container, size);
    const avail = Math.min(cap, contentWidth(container) || cap);
    const cell = avail / Math.max(PH, PW);
    const width = Math.floor(PW * cell);
    const height = Math.floor(PH * cell);
    const ctx = sizeCanvas(base, width, height);
    sizeCanvas(overlay, width, height);
    ctx.fillStyle = hatch(ctx);
    ctx.fillRect(0, 0, width, height);
    drawPixels(ctx, mapPixels(input.data), pad.left * cell, pad.top * cell, W * cell, H * cell);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#3b4a6b";
    ctx.strokeRect(pad.left * cell + 1, pad.top * cell + 1, W * cell - 2, H * cell - 2);
    if (PH !== H || PW !== W) {
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = "#6b7690";
      ctx.strokeRect(1, 1, width - 2, height - 2);
      ctx.setLineDash([]);
    }
    layout = { cell, pad, width, height };
    caption.textContent = `Input ${H}×${W}${C === 3 ? " RGB" : ""}`;
    const padText =
      PH !== H || PW !== W
        ? `zero padding: ${pad.top} top, ${pad.bottom} bottom, ${pad.left} left, ${pad.right} right (hatched) → ${PH}×${PW}`
        : "no padding";
    note.textContent = padText;
    clearWindow();
  }

  function clearWindow() {
    if (!layout) return;
    const ctx = overlay.getContext("2d");
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    ctx.restore();
  }

  /** Outline the taps of one window ({iy, ix, inside}[]), with its bounding box. */
  function showWindow(taps) {
    clearWindow();
    if (!layout || !taps || taps.length === 0) return;
    const ctx = overlay.getContext("2d");
    const { cell, pad } = layout;
    const X = (ix) => (ix + pad.left) * cell;
    const Y = (iy) => (iy + pad.top) * cell;
    const ys = taps.map((t) => t.iy);
    const xs = taps.map((t) => t.ix);
    const y0 = Math.min(...ys);
    const y1 = Math.max(...ys);
    const x0 = Math.min(...xs);
    const x1 = Math.max(...xs);
    const m = Math.max(2, cell * 0.15);
    ctx.lineWidth = 3;
    ctx.strokeStyle = BOX;
    ctx.setLineDash([]);
    ctx.strokeRect(X(x0) - m, Y(y0) - m, (x1 - x0 + 1) * cell + 2 * m, (y1 - y0 + 1) * cell + 2 * m);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#fff";
    ctx.strokeRect(
      X(x0) - m - 2,
      Y(y0) - m - 2,
      (x1 - x0 + 1) * cell + 2 * m + 4,
      (y1 - y0 + 1) * cell + 2 * m + 4,
    );
    if (cell >= 2.5) {
      for (const t of taps) {
        ctx.fillStyle = t.inside ? "rgba(255, 204, 0, 0.35)" : "rgba(255, 61, 154, 0.35)";
        ctx.fillRect(X(t.ix), Y(t.iy), cell, cell);
        ctx.lineWidth = Math.min(3, Math.max(1, cell / 8));
        ctx.strokeStyle = t.inside ? TAP : TAP_PAD;
        ctx.strokeRect(X(t.ix) + 0.5, Y(t.iy) + 0.5, cell - 1, cell - 1);
      }
    }
  }

  return { update, showWindow, clearWindow };
}
