/**
 * What the network actually sees: the 32×32 input, the receptive-field rectangle of the hovered
 * unit on it, and (optionally) the preprocessing steps as small images.
 * createInputView(container) → {update({input, steps, message}), showRF(rect|null)}; steps as
 * tensor.js's parseForward gives them ({name, shape, data: Float32Array}).
 * The rectangle element (#input-rf) carries the field in input pixels as data attributes:
 * data-top/left/height/width (unclipped, as the API's numbers give them) and data-clip-* (clipped).
 */
import { paintRGBA } from "./core/colors.js";
import { el } from "./core/dom.js";

/** step: {shape: [..., h, w], data: flat Float32Array}; paints its first h×w plane. */
function paintGray(canvas, step) {
  const [h, w] = step.shape.slice(-2);
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h);
  paintRGBA(img.data, step.data.subarray(0, h * w), 0, 1, "gray");
  ctx.putImageData(img, 0, 0);
}

/** An RGB input (3 planes of n values in [0, 1]) as one colour image. */
function paintColour(out, data, n) {
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[4 * i + c] = Math.round(255 * Math.min(1, Math.max(0, data[c * n + i])));
    out[4 * i + 3] = 255;
  }
}

export function createInputView(container) {
  const frame = el("div", "seen-frame");
  const canvas = el("canvas", "seen-canvas");
  canvas.width = 32;
  canvas.height = 32;
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", "The 32×32 input the network reads");
  const rf = el("div", "input-rf");
  rf.id = "input-rf";
  rf.hidden = true;
  frame.append(canvas, rf);
  const message = el("p", "seen-message");
  const steps = el("div", "steps");
  container.append(frame, message, steps);
  let size = [32, 32];

  return {
    update({ input, steps: list, message: text }) {
      size = [input.H, input.W];
      canvas.width = input.W;
      canvas.height = input.H;
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(input.W, input.H);
      if (input.C === 3) paintColour(img.data, input.data, input.H * input.W);
      else paintRGBA(img.data, input.data, 0, 1, "gray");
      ctx.putImageData(img, 0, 0);
      canvas.setAttribute(
        "aria-label",
        `The ${input.W}×${input.H} ${input.C === 3 ? "RGB " : ""}input the network reads`,
      );
      message.textContent = text || "";
      steps.replaceChildren();
      for (const s of list || []) {
        const fig = el("figure", "step");
        const cv = el("canvas", "step-canvas");
        paintGray(cv, s);
        fig.title = `${s.name}: ${s.shape.slice(-2).join("×")}`;
        fig.append(cv, el("figcaption", "", s.name));
        steps.append(fig);
      }
    },
    showRF(r) {
      if (!r) {
        rf.hidden = true;
        return;
      }
      const [H, W] = size;
      const { clip } = r;
      rf.hidden = false;
      rf.style.top = `${(clip.top / H) * 100}%`;
      rf.style.left = `${(clip.left / W) * 100}%`;
      rf.style.height = `${((clip.bottom - clip.top) / H) * 100}%`;
      rf.style.width = `${((clip.right - clip.left) / W) * 100}%`;
      Object.assign(rf.dataset, {
        top: r.top,
        left: r.left,
        height: r.height,
        width: r.width,
        clipTop: clip.top,
        clipLeft: clip.left,
        clipBottom: clip.bottom,
        clipRight: clip.right,
      });
    },
  };
}
