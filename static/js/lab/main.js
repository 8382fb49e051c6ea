// The kernel lab page: wires the state store → /api/convolve (compute.js) → the views. Two stores
// hold everything: `state` (what a link carries, state.js) and `data` (what the page loaded and
// computed); views.js builds the views, pixel.js shows one output pixel.
import { createStore } from "../core/store.js";
import { byId as $ } from "../core/dom.js";
import { getModel, getModels, getSamples, getWeights, blobToDataUrl, useModel } from "../core/api.js";
import { bindModelUpload, chosenModel, createModelPicker, urlForModel } from "../core/models.js";
import { effectivePalette } from "../core/colors.js";
import { applyHide, bindPresentation, markControls } from "../core/teacher.js";
import { createShareBox } from "../core/share.js";
import { conv1Presets } from "./kernels.js";
import { initialState, clean, toHash, fromHash } from "./state.js";
import { convGeometry } from "./geometry.js";
import { readDrawing } from "./sources.js";
import { LAB_CONTROLS } from "./controlsList.js";
import { createComputer } from "./compute.js";
import { createViews } from "./views.js";
import { createPixel } from "./pixel.js";

const state = createStore(initialState(), { name: "lab state" });
const data = createStore(
  {
    extraPresets: [],
    samples: [],
    upload: null,
    uploadName: null,
    sourceError: "",
    response: null,
    geo: null,
    echoed: { image: null, input: null },
    hovered: null,
    channel: 0,
  },
  { name: "lab data" },
);
const statusLine = $("status");
const palette = () => effectivePalette(state.get().palette, state.get().present);

const computer = createComputer({
  state,
  data,
  onStart: () => {
    statusLine.textContent = "computing…";
    document.body.dataset.lab = "busy";
  },
  onResult: (body) => {
    data.set({ sourceError: "" });
    render(body);
    statusLine.textContent = `server: ${body.timing_ms.total.toFixed(1)} ms`;
    document.body.dataset.lab = "ready";
  },
  onError: (e) => {
    statusLine.textContent = `Error: ${e.message}`;
    if (e.code) data.set({ sourceError: e.message });
    renderControls();
    document.body.dataset.lab = "error";
  },
});

/** Change the state, write the link, show the controls, recompute after `delay` ms. */
function change(patch, delay = 0) {
  state.set(patch);
  history.replaceState(null, "", `#${toHash(state.get())}`);
  renderControls();
  // busy from now on, not only once the request goes: a typed kernel waits 150 ms first, and
  // "ready" must mean the picture is of what the controls say
  document.body.dataset.lab = "busy";
  computer.schedule(delay);
}

async function pickUpload(file) {
  try {
    data.set({ upload: await blobToDataUrl(file), uploadName: file.name, sourceError: "" });
    change({ source: "upload" });
  } catch (e) {
    data.set({ sourceError: e.message });
    renderControls();
  }
}

const views = createViews({
  onSource: (source) => change({ source }),
  onUpload: pickUpload,
  onKernel: (kernel, presetId, { typing = false } = {}) =>
    change({ kernel, presetId, kernelName: "" }, typing ? 150 : 0),
  onKnob: (key, value) => change({ [key]: clean(key, value) }),
  onHover: (p) => pixel.hover(p),
  onChannel: (c) => pixel.setChannel(c),
});
const pixel = createPixel({ state, data, views });

createShareBox($("share"), { getUrl: () => `${location.origin}${location.pathname}#${toHash(state.get())}` });
// presenting enlarges the canvases (CSS --view-max): the link changes and the views are redrawn
const applyPresent = bindPresentation(state, { button: $("present-toggle"), onChange: () => change({}) });
markControls(LAB_CONTROLS);

function renderControls() {
  const s = state.get();
  const d = data.get();
  const notice = d.response && d.response.notice ? `Note: ${d.response.notice}.` : "";
  views.picker.update({
    source: s.source,
    samples: d.samples,
    hasDrawing: readDrawing() !== null,
    uploadName: d.uploadName,
    notice,
    error: d.sourceError,
  });
  views.editor.update({
    kernel: s.kernel,
    presetId: s.presetId,
    extraPresets: d.extraPresets,
    note: s.kernelName,
  });
  markControls(LAB_CONTROLS);
  applyHide(s.hide);
  views.knobs.update(s, { colour: !d.response || d.response.input.shape[0] === 3 });
}

function render(body) {
  const s = state.get();
  const geo = convGeometry(body.formula);
  data.set({ response: body, geo });
  views.inputView.update({ input: body.input, geo });
  views.formulaView.update(body);
  const stage = body.activation || body.conv;
  const act = body.activation ? ` (conv → ${s.activation})` : "";
  const message = body.explanation || "No output.";
  views.mapView.update(stage, {
    subtitle: stage ? `${stage.shape[1]}×${stage.shape[2]}${act}` : "",
    message,
    palette: palette(),
  });
  $("pool-panel").hidden = !s.poolKind;
  if (s.poolKind) {
    const subtitle = body.pool ? `${s.poolKind} ${body.pool.shape[1]}×${body.pool.shape[2]}` : "";
    views.poolView.update(body.pool, { subtitle, message, palette: palette() });
  }
  const stages = [
    ["conv", body.conv],
    [s.activation, body.activation],
    [`${s.poolKind} pool`, body.pool],
  ]
    .filter(([, x]) => x)
    .map(([name, x]) => ({ name, values: x.data.flat(2) }));
  views.histogram.update(stages);
  pixel.newOutput(stage && geo.Ho > 0 && geo.Wo > 0 ? geo.Ho * geo.Wo : 0);
  renderControls();
}

/** The picked model's first gray k×k conv filters, as kernel presets (an RGB model's filters read
 * three channels: the lab's kernels are one k×k grid, so those are left out). */
async function firstConvWeights() {
  const { models, default: fallback, uploads } = await getModels();
  if (uploads) {
    bindModelUpload({
      control: $("model-upload"),
      input: $("model-file"),
      onDone: (name) => location.assign(urlForModel(location, name)),
      onError: (text) => (statusLine.textContent = text),
    });
  }
  const wanted = chosenModel(location.search);
  const current = models.some((m) => m.name === wanted) ? wanted : fallback;
  useModel(current);
  createModelPicker($("model-picker"), {
    models,
    current,
    onPick: (name) => location.assign(urlForModel(location, name)),
  });
  const model = await getModel();
  const conv = model.layers.find((d) => d.op === "conv");
  if (!conv || conv.input_shape[0] !== 1) return null;
  return getWeights(conv.name);
}

async function loadExtras() {
  const [s, w] = await Promise.allSettled([getSamples(), firstConvWeights()]);
  if (s.status === "fulfilled") data.set({ samples: s.value.samples.slice(0, 100) });
  if (w.status === "fulfilled" && w.value) data.set({ extraPresets: conv1Presets(w.value) });
  const problems = [s, w].filter((r) => r.status === "rejected").map((r) => r.reason.message);
  if (problems.length) statusLine.textContent = `Some extras did not load: ${problems.join("; ")}`;
}

const fromLink = () => {
  const extra = data.get().extraPresets;
  return fromHash(location.hash, initialState(extra), extra, location.search);
};

async function start() {
  renderControls();
  await loadExtras();
  const { state: linked, problems } = fromLink();
  state.set(linked);
  if (problems.length) statusLine.textContent = `Ignored in the link: ${problems.join("; ")}`;
  applyPresent(); // …and change({})
}

// the canvases are sized to their columns when drawn: a resized window (a phone turned, a projector
// plugged in) draws the last answer again at the new width
// (only a new width: a height change, e.g. a full-page screenshot, leaves the animation alone)
let resizeTimer = null;
let drawnWidth = window.innerWidth;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (window.innerWidth === drawnWidth) return;
    drawnWidth = window.innerWidth;
    const body = data.get().response;
    if (body) render(body);
    document.body.dataset.labWidth = String(drawnWidth); // drawn for this width (the tests wait)
  }, 120);
});

window.addEventListener("hashchange", () => {
  const { state: next } = fromLink();
  if (toHash(next) !== toHash(state.get())) change(next);
});

start();
