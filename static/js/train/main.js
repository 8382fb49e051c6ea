/**
 * The training page: design a network, train it in its own server process, watch it learn, look
 * inside it at any moment and keep it.  Progress comes by polling GET /api/train/<id>?since=N
 * (every worker type answers it); the job is in the URL (?job=ID), and a page opened without one
 * shows the newest job, so a reload or a second browser sees the running one.
 */
import * as api from "../core/api.js";
import { byId, el } from "../core/dom.js";
import { createModelPicker } from "../core/models.js";
import { createDesignForm, createRecipeForm } from "./design-form.js";
import { createCharts, drawConfusion, drawFilters } from "./views.js";

const POLL_MS = 500;
const ENDED = new Set(["done", "stopped", "failed"]);
let options = null;
let job = null; // {id, status, progress, evaluation, snapshots, next, dataset}
let pollTimer = null;
let designTimer = null;
let charts = null;

function say(text, isError = false) {
  byId("train-status").textContent = text;
  byId("train-status").classList.toggle("error", isError);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const e = (data && data.error) || {};
    throw new api.ApiError(response.status, e.code || "http_error", e.message || `HTTP ${response.status}`);
  }
  return data;
}

// ---- the design and its summary ------------------------------------------------------------------
function showSummary(s) {
  const box = byId("summary");
  if (!s.ok) {
    box.replaceChildren(el("p", { class: "design-error", role: "alert" }, `Not possible: ${s.error}.`));
    byId("start").disabled = true;
    return;
  }
  const rows = s.layers.map((l) =>
    el(
      "tr",
      {},
      el("td", {}, l.name),
      el("td", {}, l.kind),
      el("td", {}, l.output_shape.join("×")),
      el("td", { class: "num" }, l.params.toLocaleString("en")),
      el("td", { class: "num" }, l.receptive_field.join("×")),
    ),
  );
  box.replaceChildren(
    el(
      "table",
      { class: "arch-table" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          ...["layer", "kind", "output", "parameters", "sees"].map((h) => el("th", { scope: "col" }, h)),
        ),
      ),
      el("tbody", {}, ...rows),
    ),
    el(
      "p",
      { class: "totals", id: "param-total" },
      `${s.parameters.toLocaleString("en")} parameters in ${s.layers.length} layers`,
    ),
  );
  byId("start").disabled = Boolean(job && !ENDED.has(job.status.state)) || !options.enabled;
}

function checkDesign(design) {
  clearTimeout(designTimer);
  designTimer = setTimeout(
    () => post("/api/train/design", { design }).then(showSummary, (e) => say(e.message, true)),
    120,
  );
}

// ---- a job -----------------------------------------------------------------------------------------
function fmtTime(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return "–";
  s = Math.round(s);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function showStats() {
  const st = job.status;
  const last = job.progress[job.progress.length - 1];
  const held = job.evaluation[job.evaluation.length - 1];
  const items = [
    ["state", st.state + (st.error ? `: ${st.error}` : "")],
    ["step", `${st.step || 0} of ${st.total || "?"}`],
    ["epoch", last ? last.epoch.toFixed(2) : "0"],
    ["training loss", last ? last.loss.toFixed(4) : "–"],
    ["training accuracy", last ? `${(100 * last.accuracy).toFixed(1)} %` : "–"],
    ["held-out accuracy", held ? `${(100 * held.accuracy).toFixed(2)} %` : "–"],
    ["learning rate", last ? last.lr.toExponential(2) : "–"],
    ["images / s", last ? Math.round(last.images_per_s).toLocaleString("en") : "–"],
    ["elapsed", fmtTime(st.elapsed)],
    ["time left", ENDED.has(st.state) ? "0 s" : fmtTime(st.eta)],
  ];
  byId("stats").replaceChildren(
    ...items.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { dataset: { stat: k } }, v)]),
  );
  const done = st.total ? (st.step || 0) / st.total : 0;
  byId("progress-bar").style.width = `${(100 * Math.min(1, done)).toFixed(1)}%`;
  byId("progress-bar").classList.toggle("failed", st.state === "failed");
}

function showRunState() {
  const st = job ? job.status.state : null;
  const live = st && !ENDED.has(st);
  byId("start").disabled = live || !options.enabled;
  byId("pause").disabled = !live || !options.enabled;
  byId("pause").textContent = st === "paused" ? "Resume" : "Pause";
  byId("stop").disabled = !live || !options.enabled;
  byId("look-now").disabled = !job || !job.snapshots.length;
  byId("save").disabled = !job || !["done", "stopped"].includes(st) || !options.enabled || Boolean(job.saved);
  design.disable(Boolean(live));
  byId("dataset").disabled = Boolean(live);
  recipe.disable(Boolean(live));
}

function classesOf(name) {
  return (options.datasets[name] || options.datasets.digits).classes;
}

function absorb(body) {
  job.status = body.status;
  job.next = body.next;
  job.snapshots = body.snapshots;
  job.saved = body.saved;
  for (const e of body.events) {
    if (e.type === "progress") job.progress.push(e);
    else if (e.type === "evaluation") job.evaluation.push(e);
    else if (e.type === "final") job.final = e;
  }
  showStats();
  byId("charts-empty").hidden = true;
  charts.update(job);
  if (body.filters && (!job.scrubbing || ENDED.has(job.status.state))) {
    if (!job.scrubbing) {
      drawFilters(byId("filters"), body.filters);
      byId("filters-step").textContent = `now, step ${body.filters.step}`;
    }
  }
  const lastEval = job.final || job.evaluation[job.evaluation.length - 1];
  if (lastEval) {
    drawConfusion(byId("confusion"), lastEval.confusion, classesOf(job.dataset));
    byId("confusion-step").textContent = job.final ? "final, whole test set" : `at step ${lastEval.step}`;
  }
  showSnapshots();
  showRunState();
  if (body.status.state === "failed") say(`Training failed: ${body.status.error}`, true);
  else if (body.status.state === "done")
    say(`Done: ${(100 * job.final?.accuracy || 0).toFixed(2)} % on the test set.`);
  else if (body.status.state === "stopped") say("Stopped; the model as it was is kept, and can be saved.");
  else say(body.status.state === "paused" ? "Paused." : "Training…");
}

async function poll() {
  clearTimeout(pollTimer);
  if (!job) return;
  try {
    absorb(await api.getJSON(`/api/train/${job.id}?since=${job.next}`));
  } catch (e) {
    say(e.message, true);
  }
  if (!ENDED.has(job.status.state)) pollTimer = setTimeout(poll, POLL_MS);
}

function attach(body) {
  job = {
    id: body.id,
    status: body.status,
    progress: [],
    evaluation: [],
    snapshots: [],
    next: 0,
    dataset: body.dataset,
    saved: body.saved,
    scrubbing: false,
  };
  const q = new URLSearchParams(location.search);
  q.set("job", body.id);
  history.replaceState(null, "", `${location.pathname}?${q}`);
  if (body.design) design.set(body.design);
  if (body.recipe) recipe.set(body.recipe, body.limit);
  if (body.dataset) byId("dataset").value = body.dataset;
  byId("save-name").value =
    body.saved || `my-${(body.design && body.design.preset) || "net"}-${body.id.slice(0, 4)}`;
  byId("save-result").replaceChildren();
  return poll();
}

// ---- snapshots --------------------------------------------------------------------------------------
function showSnapshots() {
  const slider = byId("snapshot");
  const n = job.snapshots.length;
  const atEnd = Number(slider.value) >= Number(slider.max);
  slider.max = String(Math.max(0, n - 1));
  slider.disabled = n === 0;
  if (atEnd && !job.scrubbing) slider.value = slider.max;
  labelSnapshot();
}

function labelSnapshot() {
  const slider = byId("snapshot");
  const step = job.snapshots[Number(slider.value)];
  const link = byId("snapshot-link");
  if (step === undefined) {
    byId("snapshot-label").textContent = "none yet";
    link.hidden = true;
    return;
  }
  byId("snapshot-label").textContent = `step ${step} (${job.snapshots.length} kept)`;
  link.hidden = false;
  link.href = `/?model=${job.id}@${step}`;
}

async function scrub() {
  const slider = byId("snapshot");
  const step = job.snapshots[Number(slider.value)];
  job.scrubbing = Number(slider.value) < job.snapshots.length - 1;
  labelSnapshot();
  const conv = (await api.getJSON(`/api/model?model=${job.id}@${step}`)).layers.find((l) => l.op === "conv");
  if (!conv) return;
  const w = await api.getJSON(`/api/model/layers/${conv.name}/weights?model=${job.id}@${step}`);
  drawFilters(byId("filters"), { shape: w.weight.shape, values: w.weight.data.flat(Infinity) });
  byId("filters-step").textContent = `snapshot at step ${step}`;
}

// ---- buttons ---------------------------------------------------------------------------------------
async function start() {
  const { recipe: r, limit } = recipe.get();
  try {
    say("Starting…");
    const body = await post("/api/train", {
      design: design.get(),
      recipe: r,
      dataset: byId("dataset").value,
      limit,
    });
    await attach(body);
  } catch (e) {
    say(e.message, true);
  }
}

async function control(action) {
  try {
    absorb(await post(`/api/train/${job.id}/control?since=${job.next}`, { action }));
    poll();
  } catch (e) {
    say(e.message, true);
  }
}

async function lookNow() {
  const tab = window.open("about:blank", "_blank"); // now, inside the click: later it would be a popup
  try {
    const { model } = await post(`/api/train/${job.id}/snapshot`, {});
    if (tab) tab.location.href = `/?model=${model}`;
    else location.assign(`/?model=${model}`);
  } catch (e) {
    if (tab) tab.close();
    say(e.message, true);
  }
}

async function save() {
  const name = byId("save-name").value.trim();
  try {
    const r = await post(`/api/train/${job.id}/save`, { name });
    job.saved = r.name;
    byId("save-result").replaceChildren(
      `Saved as ${r.name} (${(100 * r.test_accuracy).toFixed(2)} % on the test set). `,
      el("a", { href: r.url, id: "saved-link" }, "Open it in the layer view"),
      " · download ",
      el("a", { href: `/api/models/${r.name}/download?format=npz`, download: `${r.name}.npz` }, ".npz"),
      " · ",
      el("a", { href: `/api/models/${r.name}/download?format=onnx`, download: `${r.name}.onnx` }, ".onnx"),
    );
    showRunState();
    fillPicker();
  } catch (e) {
    byId("save-result").textContent = e.message;
  }
}

async function fillPicker() {
  const { models, default: fallback } = await api.getModels();
  createModelPicker(byId("model-picker"), {
    models,
    current: fallback,
    onPick: (name) => location.assign(`/?model=${encodeURIComponent(name)}`),
  });
}

// ---- start-up ----------------------------------------------------------------------------------------
let design = null;
let recipe = null;

async function init() {
  options = await api.getJSON("/api/train/options");
  charts = createCharts(byId("chart-loss"), byId("chart-lr"));
  design = createDesignForm(
    {
      blocks: byId("blocks"),
      blockCount: byId("block-count"),
      dense: byId("dense"),
      denseCount: byId("dense-count"),
      preset: byId("preset"),
    },
    options,
    checkDesign,
  );
  const ds = byId("dataset");
  for (const [name, d] of Object.entries(options.datasets)) ds.append(el("option", { value: name }, d.title));
  ds.value = "digits";
  recipe = createRecipeForm(byId("recipe"), options, () => {});
  recipe.suggest(ds.value);
  ds.addEventListener("change", () => recipe.suggest(ds.value));
  design.set(options.presets.tiny.design);
  byId("preset").value = "tiny";
  checkDesign(design.get());
  byId("start").addEventListener("click", start);
  byId("pause").addEventListener("click", () => control(job.status.state === "paused" ? "resume" : "pause"));
  byId("stop").addEventListener("click", () => control("stop"));
  byId("look-now").addEventListener("click", lookNow);
  byId("snapshot").addEventListener("input", () => scrub().catch((e) => say(e.message, true)));
  byId("save").addEventListener("click", save);
  fillPicker();
  if (!options.enabled)
    say("Training is off on this server (the teacher can turn it on with --allow-training).", true);
  const wanted = new URLSearchParams(location.search).get("job");
  const { jobs } = await api.getJSON("/api/train");
  const pick = jobs.find((j) => j.id === wanted) || (wanted ? null : jobs[0]);
  if (pick)
    await attach(await api.getJSON(`/api/train/${pick.id}?since=0`)).catch((e) => say(e.message, true));
  else showRunState();
  window.__train = {
    get job() {
      return job;
    },
  };
}

init().catch((e) => say(`The training page could not start: ${e.message}`, true));
