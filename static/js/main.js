/**
 * Wires the layer view page: loads the model, weights and samples once into the data store, builds
 * the views, and connects inputs → the forward channel → the painter.  Two stores hold everything:
 * `state` (what a link carries, state.js) and `data` (what the page loaded and computed); the test
 * hook window.__convscope reads both (hook.js).
 * ?encoding=png sends the pad as a PNG; ?tensors=json asks for nested JSON lists instead of packed
 * base64 float32 (a quarter of the parse time; bench/bench_browser.py compares the two).
 */
import * as api from "./core/api.js";
import { byId } from "./core/dom.js";
import { createStore } from "./core/store.js";
import { createState } from "./state.js";
import { createHook } from "./hook.js";
import { createForward } from "./forward.js";
import { createInputs } from "./inputs.js";
import { createPainter } from "./painter.js";
import { createDrawpad } from "./drawpad.js";
import { createInputView } from "./preprocess-view.js";
import { createGallery } from "./gallery.js";
import { createLayerView } from "./layerview.js";
import { createDetail } from "./detail.js";
import { parseWeights } from "./arithmetic.js";
import { bindControls } from "./controls.js";
import { createClassroom } from "./classroom.js";
import { createCamera } from "./camera.js";
import { createConvPlayer } from "./conv-player.js";
import { createExplainView } from "./explain-view.js";
import { createEvaluationView } from "./evaluation-view.js";
import { createCompareView } from "./compare-view.js";
import { bindModelUpload, chosenModel, createModelPicker, snapshotOf, urlForModel } from "./core/models.js";

const query = new URLSearchParams(location.search);
const OPTIONS = {
  encoding: query.get("encoding") === "png" ? "png" : "array",
  tensors: query.get("tensors") === "json" ? "json" : "base64",
};

const state = createState();
const data = createStore(
  {
    model: null,
    weights: new Map(),
    samples: null,
    response: null, // the last /api/forward response, as sent
    tensors: null, // …decoded, in layer order
    base: null, // the last unshifted network input: shifts apply to it
    baseTensors: null, // …and its layers (the compare panel's "before")
    baseSteps: [], // …and its preprocessing steps (shown while it is shifted)
    hover: null,
    linkProblems: undefined,
    rendered: 0,
    renders: 0,
    perf: [],
    errors: [],
    ready: false,
    handles: {},
  },
  { name: "data" },
);
window.__convscope = createHook(state, data);

let modelNotice = ""; // a ?model= the server does not have: said until another model is picked

function status(text, isError = false) {
  byId("status").textContent = modelNotice + text;
  byId("status").classList.toggle("error", isError || Boolean(modelNotice));
}

/** The model of the URL (?model=), or the server's default; the header's picker switches. */
async function pickModel() {
  const { models, default: fallback, uploads } = await api.getModels();
  if (uploads) {
    bindModelUpload({
      control: byId("model-upload"),
      input: byId("model-file"),
      onDone: (name) => location.assign(urlForModel(location, name, false)),
      onError: (text) => status(text, true),
    });
  }
  const wanted = chosenModel(location.search);
  const snap = snapshotOf(wanted);
  if (snap) {
    // a training job's snapshot: not in the list; shown as its own entry, with a scrubber
    const job = await api.getJSON(`/api/train/${snap.job}`).catch(() => null);
    if (job && job.snapshots.includes(snap.step)) {
      const base = models.find((m) => m.name === fallback);
      models.unshift({ ...base, name: wanted, accuracy: null, default: false });
      bindSnapshotBar(job, snap);
    }
  }
  const known = models.some((m) => m.name === wanted);
  const current = known ? wanted : fallback;
  if (wanted && !known) modelNotice = `There is no model "${wanted}" here; showing ${fallback}. `;
  api.useModel(current);
  createModelPicker(byId("model-picker"), {
    models,
    current,
    onPick: (name) => {
      // a drawing's link code is in the old model's input size: keep the hash only when it fits
      const next = models.find((m) => m.name === name);
      const same =
        next && String(next.input.shape) === String(models.find((m) => m.name === current).input.shape);
      location.assign(urlForModel(location, name, same));
    },
  });
  return models.find((m) => m.name === current);
}

/** The snapshot scrubber of a training job's model: the same drawing (the URL's hash) at another step. */
function bindSnapshotBar(job, snap) {
  const bar = byId("snapshot-bar");
  const slider = byId("snapshot-step");
  slider.max = String(job.snapshots.length - 1);
  slider.value = String(job.snapshots.indexOf(snap.step));
  const label = () => {
    byId("snapshot-readout").textContent = `step ${job.snapshots[Number(slider.value)]} of job ${snap.job}`;
  };
  label();
  slider.addEventListener("input", label);
  slider.addEventListener("change", () => {
    const step = job.snapshots[Number(slider.value)];
    if (step !== snap.step) location.assign(urlForModel(location, `${snap.job}@${step}`, true));
  });
  byId("snapshot-job").href = `/train?job=${snap.job}`;
  bar.hidden = false;
}

async function load() {
  const info = await pickModel();
  const [model, samples] = await Promise.all([api.getModel(), api.getSamples({ images: true })]);
  model.info = info;
  const withParams = model.layers.filter((d) => d.op === "conv" || d.op === "dense");
  const weights = await Promise.all(withParams.map((d) => api.getWeights(d.name, { packed: true })));
  data.set({ model, samples, weights: new Map(weights.map((w) => [w.name, parseWeights(w)])) });
}

/** A softmax unit is its class: what is climbed or ranked is the class's score, the layer before. */
function logitsOf({ layer, unit }) {
  const layers = data.get().model.layers;
  const i = layers.findIndex((d) => d.name === layer);
  return { layer: layers[i].op === "softmax" ? layers[i - 1].name : layer, unit };
}

/** The views, each told what the user does through the stores. */
function createViews(page) {
  const { model } = data.get();
  const toggle = (name) => {
    const hidden = state.get().hidden;
    state.set({ hidden: hidden.includes(name) ? hidden.filter((n) => n !== name) : [...hidden, name] });
  };
  return {
    detail: createDetail(byId("detail-host"), {
      onClose: () => state.set({ pinned: null }),
      // a softmax unit is its class: what is climbed is the class's score, the layer before
      synthesize: ({ layer, unit }) => {
        return api.synthesize(logitsOf({ layer, unit }));
      },
      // MNIST's test digits fit a gray 28×28 or 32×32 model, and no other
      topImages: ["1,28,28", "1,32,32"].includes(String(model.input_shape))
        ? (q) => api.getTop(logitsOf(q))
        : null,
    }),
    input: createInputView(byId("seen")),
    gallery: createGallery(byId("gallery"), {
      onPick: (id) => {
        if (page.camera && page.camera.running()) page.camera.stop();
        page.inputs.pickSample(id).catch(page.fail);
      },
    }),
    layers: createLayerView(byId("layers"), {
      model,
      onHover: (u, anchor) => page.painter.hoverUnit(u, anchor),
      onPin: (u) => state.set({ pinned: u }),
      onToggle: toggle,
      onHelp: (name, button) => page.classroom && page.classroom.layerNote(name, button),
    }),
  };
}

/** An RGB model's gallery: the kernel lab's colour photographs first (its MNIST digits still work,
 * as gray images resized to the model's input). */
const PHOTOS = ["scene", "shapes", "checker", "text"];
function showPhotos(page) {
  const host = byId("photos");
  host.hidden = false;
  byId("gallery-title").textContent = "Photos and MNIST test digits";
  for (const name of PHOTOS) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "photo";
    b.dataset.photo = name;
    b.title = `the ${name} photograph (256×256 RGB), resized to this model's input`;
    const img = document.createElement("img");
    img.src = `/static/img/lab/${name}.png`;
    img.alt = name;
    b.append(img);
    b.addEventListener("click", () =>
      api
        .fetchDataUrl(img.src)
        .then((url) => page.inputs.upload(url, `${name}.png`))
        .catch(page.fail),
    );
    host.append(b);
  }
}

/** State changes the views follow (the classroom follows its own). */
function follow(page) {
  const { views, painter, drawpad } = page;
  state.subscribe((s, changed) => {
    const has = (...keys) => keys.some((k) => changed.includes(k));
    if (has("hidden")) {
      views.layers.setHidden(s.hidden);
      painter.drawHover();
    }
    if (has("colorScope", "palette", "present")) painter.paint();
    if (has("pinned")) {
      painter.drawDetail();
      painter.drawHover();
      page.player.sync();
    }
    if (has("showSteps")) page.inputs.resubmit();
    if (has("tool", "brush")) drawpad.update({ tool: s.tool, brush: s.brush });
    if (has("input")) {
      views.gallery.select(s.input.source === "sample" ? s.input.sampleId : null);
      byId("input-source").textContent = page.inputs.caption();
    }
  });
}

/**
 * Laptops and projectors: the layers' bodies get the height left between their headers and the
 * bottom of the screen, so the pad, the layers and the prediction are on one screen, presenting too
 * (a phone's page scrolls instead, to a compact strip).  Measured again
 * whenever what stands above the layers changes size, or the window does.
 */
const PHONE_STRIP = 240; // px of layer body on a phone's strip (its page scrolls to it)

function fitLayers(page) {
  const host = byId("layers");
  const view = page.views.layers;
  let queued = false;
  const run = () => {
    queued = false;
    if (window.innerWidth <= 700) {
      view.fitHeight(PHONE_STRIP); // a phone: a compact strip, so the prediction leaves room beside it
      return;
    }
    const tallest = (selector) =>
      Math.max(0, ...[...host.querySelectorAll(selector)].map((e) => e.offsetHeight));
    const top = host.getBoundingClientRect().top + window.scrollY;
    const budget = window.innerHeight - top - tallest(".layer-header") - tallest(".legend") - 30;
    view.fitHeight(Math.max(160, budget));
  };
  const later = () => {
    if (!queued) requestAnimationFrame(run);
    queued = true;
  };
  const observer = new ResizeObserver(later);
  for (const e of [document.querySelector(".top-row"), document.querySelector(".layers-toolbar")]) {
    if (e) observer.observe(e);
  }
  for (const id of ["link-note", "snapshot-bar"]) observer.observe(byId(id));
  window.addEventListener("resize", later);
  state.subscribe((s, changed) => changed.includes("present") && later());
  // the legends get their numbers with the first answer: measure again then
  data.subscribe((d, changed) => changed.includes("rendered") && d.rendered === 1 && later());
  run();
}

/** The "Why this answer" panel: maps only while it is open, the newest request's answer only. */
function createExplain(page) {
  let seq = 0;
  const request = (body) => {
    const mine = ++seq;
    return api.explain(body).then((r) => (mine === seq ? r : null));
  };
  const view = createExplainView(byId("explain"), {
    model: data.get().model,
    request,
    onError: page.fail,
  });
  const details = byId("explain-details");
  details.addEventListener("toggle", () => view.open(details.open));
  return view;
}

/** "How the model does": for a model MNIST's test digits fit, loaded when first opened. */
function createEvaluation(page) {
  const details = byId("eval-details");
  const shape = String(data.get().model.input_shape);
  if (shape !== "1,28,28" && shape !== "1,32,32") {
    details.hidden = true;
    return;
  }
  const view = createEvaluationView(byId("evaluation"), {
    model: data.get().model,
    api,
    onOpen: (item) => {
      page.inputs.testImage(item);
      window.scrollTo({ top: 0, behavior: "smooth" });
    },
    onError: page.fail,
  });
  details.addEventListener("toggle", () => details.open && view.open());
}

/** "Before and after the shift": drawn while open, from the unshifted input's layers and the current ones. */
function createCompare(page) {
  const details = byId("compare-details");
  const view = createCompareView(byId("compare"), { model: data.get().model });
  const show = () => {
    if (!details.open) return;
    const { tensors, baseTensors } = data.get();
    const shift = state.get().input.shift;
    const shifted = (shift[0] || shift[1]) && baseTensors && tensors;
    view.update({
      before: shifted ? baseTensors : null,
      after: tensors,
      shift,
      palette: page.classroom.palette(),
    });
  };
  details.addEventListener("toggle", show);
  return { show };
}

function onResponse(page, parsed, job) {
  const r = data.get().response;
  page.explain.show(parsed.input);
  if (page.compare) page.compare.show();
  const split = page.painter.showResponse(parsed, r, job);
  page.player.redraw();
  page.classroom.rendered();
  page.inputs.afterResponse(job);
  status(r.empty ? "" : `server ${r.timing_ms ? r.timing_ms.total.toFixed(1) : "?"} ms`);
  return split;
}

async function boot() {
  await load();
  const page = { fail: (e) => status(e.message, true) };
  page.forward = createForward({
    state,
    data,
    options: OPTIONS,
    onResponse: (parsed, job) => onResponse(page, parsed, job),
    onError: page.fail,
  });
  // drawing, picking a digit or uploading takes the input back from a running camera
  const fromCamera = () => page.camera && page.camera.running() && page.camera.stop();
  page.drawpad = createDrawpad(byId("drawpad"), {
    onStroke: (kind, t) => {
      fromCamera();
      page.inputs.draw(t);
    },
  });
  const onError = (text) => status(text, true);
  page.inputs = createInputs({
    state,
    data,
    forward: page.forward,
    drawpad: page.drawpad,
    options: OPTIONS,
    onError,
  });
  page.views = createViews(page);
  fitLayers(page);
  page.explain = createExplain(page);
  page.views.gallery.update(data.get().samples);
  if (data.get().model.input_shape[0] === 3) showPhotos(page);
  const dataset = ((data.get().model.card || {}).data || {}).dataset;
  if (dataset === "fashion") {
    byId("gallery-title").textContent = "Fashion-MNIST test images";
    byId("pad-title").textContent = "Draw a piece of clothing";
  }
  page.painter = createPainter({ state, data, views: page.views, palette: () => page.classroom.palette() });
  page.player = createConvPlayer({
    host: byId("detail-host"),
    state,
    data,
    view: page.views.layers,
    painter: page.painter,
  });
  const upload = (url, name) => {
    fromCamera();
    page.inputs.upload(url, name);
  };
  bindControls({ state, drawpad: page.drawpad, shift: page.inputs.shift, upload });
  page.camera = createCamera({
    button: byId("camera"),
    video: byId("camera-video"),
    busy: page.forward.busy,
    onFrame: (rows) => page.inputs.camera(rows),
    onError: onError,
  });
  createEvaluation(page);
  page.compare = createCompare(page);
  follow(page);
  page.classroom = createClassroom({ state, data, view: page.views.layers, inputs: page.inputs });
  const { drawpad, classroom } = page;
  data.set({ handles: { drawpad, classroom, shift: page.inputs.shift, busy: page.forward.busy } });
  page.views.detail.update(null);
  if (!classroom.start()) page.inputs.blank();
  data.set({ ready: true });
  document.body.dataset.ready = "true";
}

boot().catch((err) => {
  status(`Could not start: ${err.message}`, true);
  data.get().errors.push(String(err));
  console.error(err);
});
