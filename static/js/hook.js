/**
 * The debug hook for tests and benches, window.__convscope: a read-only window on the layer view's
 * two stores (page state and data), never a store of its own.
 *
 *   state          the page-state store ({get, set, subscribe}; tests read state.get())
 *   model, weights, samples, tensors    what the page loaded and decoded
 *   lastResponse   the last /api/forward response as sent (packed base64 by default)
 *   lastForward    the same in the default JSON shape (nested `data`), built when first read
 *   rendered       responses drawn so far;  renders  frames painted after them
 *   perf           per-response timings (pen → sent → parsed → painted → frame), newest last
 *   hover          {unit, rf} of the unit last highlighted;  linkProblems  what a link got wrong
 *   errors, ready  request errors; true once the page is up (also body[data-ready])
 *   drawpad, shift(dy, dx), busy(), classroom   the page's handles, once ready
 * Benches may add their own counters to it (it stays extensible).
 */
import { forwardAsJSON } from "./core/tensor.js";

const FROM_DATA = [
  "model",
  "weights",
  "samples",
  "tensors",
  "perf",
  "errors",
  "rendered",
  "renders",
  "hover",
  "linkProblems",
  "ready",
];

export function createHook(state, data) {
  const hook = {};
  const read = (get) => ({ enumerable: true, get });
  Object.defineProperty(
    hook,
    "state",
    read(() => state),
  );
  for (const key of FROM_DATA)
    Object.defineProperty(
      hook,
      key,
      read(() => data.get()[key]),
    );
  Object.defineProperty(
    hook,
    "lastResponse",
    read(() => data.get().response),
  );
  let json = { from: null, value: null };
  Object.defineProperty(
    hook,
    "lastForward",
    read(() => {
      const r = data.get().response;
      if (r && json.from !== r) json = { from: r, value: forwardAsJSON(r) };
      return r ? json.value : null;
    }),
  );
  for (const key of ["drawpad", "shift", "busy", "classroom"]) {
    Object.defineProperty(
      hook,
      key,
      read(() => data.get().handles[key]),
    );
  }
  return hook;
}
