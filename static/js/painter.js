/**
 * Draws the data store into the layer view's views: the maps (paint), the hover scene and the
 * receptive field (hover, at most once a frame), and the pinned unit's arithmetic (detail).
 *
 * createPainter({state, data, views: {layers, input, detail}, palette()}) →
 *   {paint(), hoverUnit(unit|null, anchor), drawHover(), drawDetail(), showResponse(parsed, r, job) → timings}
 * A shifted input's response has no preprocessing steps (a shift moves the network input, it is not
 * preprocessed again): the unshifted input's steps stay on show while the box is ticked.
 */
import { explain } from "./arithmetic.js";
import { inspect, layerIndex } from "./inspect.js";

/** The colour range of every layer but the input and the softmax (the "global" scope). */
export function globalRange(tensors) {
  let min = Infinity;
  let max = -Infinity;
  for (const t of tensors) {
    if (t.op === "input" || t.op === "softmax") continue;
    if (t.min < min) min = t.min;
    if (t.max > max) max = t.max;
  }
  return { min, max };
}

export function createPainter({ state, data, views, palette }) {
  let hovered = null;
  let anchor = null;
  let queued = false;

  function paint() {
    const t = data.get().tensors;
    if (!t) return;
    views.layers.update({
      tensors: t,
      scope: state.get().colorScope,
      globalRange: globalRange(t),
      palette: palette(),
      empty: Boolean(data.get().response && data.get().response.empty),
    });
  }

  function drawHover() {
    const { model, tensors, weights } = data.get();
    if (!tensors) return;
    const u = hovered || state.get().pinned;
    if (!u) {
      views.layers.highlight(null);
      views.input.showRF(null);
      return;
    }
    const { scene, tip, rf } = inspect(model, tensors, weights, u);
    views.layers.highlight(scene, hovered ? tip : null, anchor);
    views.input.showRF(model.layers[0].name === u.layer ? null : rf);
    data.set({ hover: { unit: u, rf } });
  }

  function drawDetail() {
    const { model, tensors, weights } = data.get();
    const p = state.get().pinned;
    if (!p || !tensors) {
      views.detail.update(null);
      return;
    }
    views.detail.update(explain(model.layers, layerIndex(model, p.layer), p, tensors, weights));
  }

  function hoverUnit(u, where) {
    hovered = u;
    anchor = where;
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      drawHover();
    });
  }

  /** A new response: every view, timed for the benches ({maps, chart, detail} in ms). */
  function showResponse(parsed, r, job = {}) {
    const t1 = performance.now();
    const steps = !state.get().showSteps ? [] : job.shifted ? data.get().baseSteps : parsed.steps;
    views.input.update({ input: parsed.input, steps, message: r.message });
    paint();
    const t2 = performance.now();
    const p = r.prediction;
    views.layers.setPrediction(p ? p.probabilities : new Array(10).fill(0), p ? p.label : null);
    const t3 = performance.now();
    drawDetail();
    drawHover();
    return { maps: t2 - t1, chart: t3 - t2, detail: performance.now() - t3 };
  }

  return { paint, hoverUnit, drawHover, drawDetail, showResponse };
}
