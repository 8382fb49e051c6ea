/**
 * Wires the layer view page: loads the model, weights and samples once, sends the input through
 * one latest-only forward channel, and hands responses and hover/pin events to the views.
 * Debug hook for tests and benches: window.__convscope = {state, model, lastForward, perf, ...}
 * (lastForward: the last /api/forward response in the default JSON shape; lastResponse: as sent).
 */
import * as api from "./api.js";
import { createState } from "./state.js";
import { createDrawpad } from "./drawpad.js";
import { createInputView } from "./preprocess-view.js";
import { createGallery } from "./gallery.js";
import { createLayerView } from "./layerview.js";
import { createDetail } from "./detail.js";
import { forwardAsJSON, parseForward, shiftedRows } from "./tensor.js";
import { parseWeights, explain } from "./arithmetic.js";
import { inspect, layerIndex } from "./inspect.js";
import { bindControls } from "./controls.js";
import { createClassroom } from "./classroom.js";
import { decodeQ4, encodeQ4 } from "./codec.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const ENCODING = params.get("encoding") === "png" ? "png" : "array";   // measured: see bench/
// activations come packed (base64 float32): a quarter of the parse time of nested JSON lists;
// ?tensors=json asks for the default JSON instead (bench/bench_browser.py compares the two)
const TENSORS = params.get("tensors") === "json" ? "json" : "base64";
const SNAPSHOT = 56;

const state = createState();
const hook = { state, model: null, weights: new Map(), lastResponse: null, tensors: null, perf: [], ready: false, errors: [] };
// lastForward: the last response in the default JSON shape (nested `data`), built only when read
let lastJSON = null;
Object.defineProperty(hook, "lastForward", {
  enumerable: true,
  get() { return hook.lastResponse && (lastJSON || (lastJSON = forwardAsJSON(hook.lastResponse))); },
});
window.__convscope = hook;

function status(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

async function boot() {
  const [model, samples] = await Promise.all([api.getModel(), api.getSamples({ images: true })]);
  hook.model = model;
  const withParams = model.layers.filter((d) => d.params > 0);
  const weights = await Promise.all(withParams.map((d) => api.getWeights(d.name)));
  weights.forEach((w) => hook.weights.set(w.name, parseWeights(w)));

  const detail = createDetail($("detail-host"), { onClose: () => state.set({ pinned: null }) });
  const inputView = createInputView($("seen"));
  let base = null;              // the last unshifted network input: shifts apply to it
  let lastMaker = null;
  let pendingShift = null;      // a shift from a link, applied once its input is drawn

  const send = (body) => api.forward(TENSORS === "json" ? body : { ...body, encoding: TENSORS });
  const channel = api.createLatestOnly((job) => send(job.body).then((r) => ({ r, job })), {
    onSend: (meta) => { meta.sentMark = performance.now(); },
    onResult: ({ r, job }, meta) => render(r, job, meta),
    onError: (err) => { hook.errors.push(String(err)); status(err.message, true); },
  });
  function submit(maker, t) { lastMaker = maker; channel.submit(maker, t); }

  const drawpad = createDrawpad($("drawpad"), {
    onStroke: (kind, t) => {
      const s = state.get();
      if (s.input.source !== "drawing") state.set({ input: { source: "drawing", sampleId: null, shift: [0, 0], code: null } });
      submit(() => ({ body: drawingBody(), shifted: false }), t);
    },
  });
  function drawingBody() {
    const steps = state.get().showSteps;
    return ENCODING === "png" ? { image: drawpad.toDataURL(), steps } : { image: drawpad.snapshot(SNAPSHOT), steps };
  }

  async function pickSample(id) {
    const s = samples.samples.find((x) => x.id === id) || await api.getSample(id);
    state.set({ input: { source: "sample", sampleId: id, shift: [0, 0], code: null } });
    submit(() => ({ body: { image: s.image.data, preprocess: "none", steps: state.get().showSteps }, shifted: false }));
  }
  const gallery = createGallery($("gallery"), { onPick: (id) => pickSample(id).catch((e) => status(e.message, true)) });
  gallery.update(samples);

  const view = createLayerView($("layers"), {
    model,
    onHover: (u, anchor) => { hovered = u; hoverAnchor = anchor; scheduleHover(); },
    onPin: (u) => state.set({ pinned: u }),
    onToggle: (name) => {
      const hidden = state.get().hidden;
      state.set({ hidden: hidden.includes(name) ? hidden.filter((n) => n !== name) : [...hidden, name] });
    },
  });

  function shift(dy, dx) {
    if (!base) return;
    const [sy, sx] = state.get().input.shift;
    const next = [sy + dy, sx + dx];
    state.set({ input: { ...state.get().input, shift: next } });
    submit(() => ({ body: { image: shiftedRows(base, next[0], next[1]), preprocess: "none" }, shifted: true }));
  }

  bindControls({ state, drawpad, shift, upload: (dataUrl) => {
    state.set({ input: { source: "upload", sampleId: null, shift: [0, 0], code: null } });
    submit(() => ({ body: { image: dataUrl, steps: state.get().showSteps }, shifted: false }));
  } });

  // ---- rendering ----
  let hovered = null, hoverAnchor = null, hoverQueued = false;
  function scheduleHover() {
    if (hoverQueued) return;
    hoverQueued = true;
    requestAnimationFrame(() => { hoverQueued = false; drawHover(); });
  }
  function drawHover() {
    if (!hook.tensors) return;
    const pinned = state.get().pinned;
    const u = hovered || pinned;
    if (!u) { view.highlight(null); inputView.showRF(null); return; }
    const { scene, tip, rf } = inspect(model, hook.tensors, hook.weights, u);
    view.highlight(scene, hovered ? tip : null, hoverAnchor);
    inputView.showRF(model.layers[0].name === u.layer ? null : rf);
    hook.hover = { unit: u, rf };
  }
  function drawDetail() {
    const p = state.get().pinned;
    if (!p || !hook.tensors) { detail.update(null); return; }
    detail.update(explain(model.layers, layerIndex(model, p.layer), p, hook.tensors, hook.weights));
  }

  function paint() {
    const t = hook.tensors;
    let min = Infinity, max = -Infinity;
    for (const x of t) {
      if (x.kind === "input" || x.kind === "softmax") continue;
      if (x.min < min) min = x.min;
      if (x.max > max) max = x.max;
    }
    view.update({ tensors: t, scope: state.get().colorScope, globalRange: { min, max }, palette: classroom.palette() });
  }

  function render(r, job, meta) {
    const t0 = performance.now();
    const parsed = parseForward(r, model);
    hook.lastResponse = r;
    lastJSON = null;
    hook.tensors = parsed.list;
    hook.rendered = (hook.rendered || 0) + 1;
    if (!job.shifted) {
      base = parsed.input;
      const s = state.get();
      if ((s.input.source === "drawing" || s.input.source === "upload") && !r.empty) {
        state.set({ input: { ...s.input, code: encodeQ4(parsed.input.data) } });
      }
    }
    const t1 = performance.now();
    inputView.update({ input: parsed.input, steps: parsed.steps, message: r.message });
    paint();
    const t2 = performance.now();
    view.setPrediction(r.prediction ? r.prediction.probabilities : new Array(10).fill(0), r.prediction ? r.prediction.label : null);
    const t3 = performance.now();
    drawDetail();
    drawHover();
    classroom.rendered();
    if (pendingShift && !job.shifted) {
      const [dy, dx] = pendingShift;
      pendingShift = null;
      shift(dy, dx);
    }
    meta.split = { tensors: t1 - t0, maps: t2 - t1, chart: t3 - t2, detail: performance.now() - t3 };
    status(r.empty ? "" : `server ${r.timing_ms ? r.timing_ms.total.toFixed(1) : "?"} ms`);
    const paintedAt = performance.now();
    requestAnimationFrame(() => {
      const frameAt = performance.now();
      const entry = { ...meta.split, seq: meta.seq, pen: meta.requestedAt, sent: meta.sentAt, parsed: meta.parsedAt, painted: paintedAt, frame: frameAt };
      performance.measure("convscope:pen→painted", { start: meta.requestedAt, end: frameAt });
      hook.perf.push(entry);
      if (hook.perf.length > 2000) hook.perf.shift();
      hook.renders = (hook.renders || 0) + 1;
    });
  }

  state.subscribe((s, changed) => {
    if (changed.includes("hidden")) { view.setHidden(s.hidden); drawHover(); }
    if ((changed.includes("colorScope") || changed.includes("palette") || changed.includes("present")) && hook.tensors) paint();
    if (changed.includes("pinned")) { drawDetail(); drawHover(); }
    if (changed.includes("showSteps") && lastMaker) submit(lastMaker);
    if (changed.includes("tool") || changed.includes("brush")) drawpad.update({ tool: s.tool, brush: s.brush });
    if (changed.includes("input")) gallery.select(s.input.source === "sample" ? s.input.sampleId : null);
  });

  // the teacher's features; a link may name the input, else the blank pad is sent once
  const classroom = createClassroom({
    state, hook, model, view,
    loadInput: ({ digit, code, shift: sh }) => {
      if (sh && (sh[0] || sh[1])) pendingShift = sh;
      if (digit !== undefined) { pickSample(digit).catch((e) => status(`The link's digit: ${e.message}`, true)); return; }
      try {
        const rows = decodeQ4(code);
        drawpad.load(rows);
        state.set({ input: { source: "drawing", sampleId: null, shift: [0, 0], code } });
        submit(() => ({ body: { image: rows, preprocess: "none", steps: state.get().showSteps }, shifted: false }));
      } catch (e) {
        status(`The link's drawing: ${e.message}`, true);
      }
    },
    loadSample: () => {
      if (!samples.samples.length) return false;
      pickSample(samples.samples[0].id);
      return true;
    },
  });
  hook.classroom = classroom;
  detail.update(null);
  if (!classroom.start()) submit(() => ({ body: { image: drawpad.snapshot(SNAPSHOT) }, shifted: false }));
  hook.ready = true;
  hook.drawpad = drawpad;
  hook.shift = shift;
  hook.busy = () => channel.busy;
  document.body.dataset.ready = "true";
}

boot().catch((err) => {
  status(`Could not start: ${err.message}`, true);
  hook.errors.push(String(err));
  console.error(err);
});
