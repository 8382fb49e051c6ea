/**
 * The teacher's features on the layer view, wired to the page state: the URL (read at start,
 * written on every change), the hide list, presentation mode, colour palettes, "copy link", the
 * guided tour, the architecture summary, the filter viewer and the exports.
 *
 * createClassroom({state, data, view, inputs}) → {start(), rendered(), palette(), share}
 *   inputs (inputs.js): fromLink(input) sends a link's input, firstSample() a digit for the tour
 */
import { CONTROLS, CONTROL_NAMES } from "./controls-list.js";
import { fromParams, linkDefaults, linkParams, toHash } from "./urlstate.js";
import { applyHide, bindPresentation, downloadBlob, markControls } from "./core/teacher.js";
import { createShareBox } from "./core/share.js";
import { byId as $, el } from "./core/dom.js";
import { PALETTES, effectivePalette } from "./core/colors.js";
import { float32String, forwardAsJSON } from "./core/tensor.js";
import { buildTour } from "./tour-steps.js";
import { createTour } from "./tour.js";
import { createSummary } from "./summary.js";
import { createFilterViewer } from "./filters.js";
import { composeView } from "./export.js";
import { explain } from "./arithmetic.js";
import { layerNote } from "./layer-notes.js";

const PRESENT_ZOOM = 1.5;

export function createClassroom({ state, data, view, inputs }) {
  const { model } = data.get();
  const steps = buildTour(model);
  const url = () => `${location.origin}${location.pathname}${keptQuery()}#${toHash(state.get(), model)}`;

  // ---- URL ----
  function keptQuery() {
    const q = new URLSearchParams(location.search);
    for (const k of [...q.keys()]) if (k !== "encoding" && k !== "tensors") q.delete(k);
    const s = q.toString();
    return s ? `?${s}` : "";
  }
  let urlTimer = null;
  function writeUrl() {
    clearTimeout(urlTimer);
    // the pen changes the input many times a second: browsers throttle history updates
    urlTimer = setTimeout(() => history.replaceState(null, "", url().slice(location.origin.length)), 150);
  }

  // ---- teacher controls ----
  const share = createShareBox($("share"), { getUrl: url });
  const palette = $("palette");
  const choices = [["auto", "auto"], ...Object.entries(PALETTES).map(([k, p]) => [k, p.label])];
  palette.replaceChildren(...choices.map(([v, t]) => el("option", { value: v }, t)));
  palette.addEventListener("change", () => state.set({ palette: palette.value }));
  const applyPresent = bindPresentation(state, {
    button: $("present-toggle"),
    onChange: (on) => view.setZoom(on ? PRESENT_ZOOM : 1),
  });
  $("tour-start").addEventListener("click", () => state.set({ tour: 0 }));
  $("export-png").addEventListener("click", exportPng);
  $("export-json").addEventListener("click", exportJson);

  // ---- tour ----
  const tour = createTour($("tour-host"), {
    onMove: (d) => {
      const i = state.get().tour + d;
      if (i >= steps.length) state.set({ tour: null });
      else state.set({ tour: Math.max(0, i) });
    },
    onClose: () => state.set({ tour: null }),
  });
  let shownStep = null;
  function spotlight(step) {
    for (const s of document.querySelectorAll(".tour-spot")) s.classList.remove("tour-spot");
    if (!step) return;
    for (const sec of view.sections())
      if (step.layers.includes(sec.name)) sec.section.classList.add("tour-spot");
    if (step.panels.includes("seen")) $("seen-panel").classList.add("tour-spot");
    if (step.panels.includes("detail")) $("detail-host").classList.add("tour-spot");
    const first = view.sections().find((s) => s.name === step.layers[step.layers.length - 1]);
    if (first) bringIntoView(first.section);
  }
  /** The step's layer to the middle of the strip, which scrolls sideways; the page itself scrolls
   * only on a phone (where the card is a sheet at the bottom), so the card never leaves the screen. */
  function bringIntoView(section) {
    const strip = $("layers");
    const sec = section.getBoundingClientRect();
    const box = strip.getBoundingClientRect();
    strip.scrollLeft += sec.left + sec.width / 2 - (box.left + box.width / 2);
    if (window.innerWidth <= 700) window.scrollTo({ top: window.scrollY + sec.top - 70 });
  }
  function showTour() {
    const i = state.get().tour;
    document.body.classList.toggle("touring", i !== null);
    if (i === null) {
      tour.hide();
      spotlight(null);
      shownStep = null;
      return;
    }
    const { tensors, weights, response } = data.get();
    if (!tensors) return;
    if (response && response.empty && inputs.firstSample()) return; // the tour needs a digit: rendered() comes back here
    const step = steps[i];
    const ctx = {
      model,
      tensors,
      weights,
      explain: (li, u) => explain(model.layers, li, u, tensors, weights),
    };
    const unit = step.pin(ctx);
    if (unit) state.set({ pinned: unit });
    tour.show({
      index: i,
      total: steps.length,
      title: step.title,
      paragraphs: step.text(ctx, unit),
      figure: step.figure && step.figure(ctx),
    });
    document.getElementById("tour").dataset.stepId = step.id;
    spotlight(step);
    if (shownStep === null || !document.getElementById("tour").contains(document.activeElement)) tour.focus();
    shownStep = i;
  }

  // ---- a note beside each layer: what it does, with its numbers, and the tour step about it ----
  const box = el("div", { class: "layer-note", id: "layer-note", role: "dialog", hidden: "" });
  document.body.append(box);
  let noteFor = null; // the ? button the open note belongs to
  function closeNote() {
    if (!noteFor) return;
    noteFor.setAttribute("aria-expanded", "false");
    box.hidden = true;
    noteFor = null;
  }
  function openNote(name, button) {
    if (noteFor === button) return closeNote();
    closeNote();
    const d = model.layers.find((l) => l.name === name);
    const n = layerNote(d, steps, model.input_shape);
    const close = el(
      "button",
      { type: "button", class: "layer-note-close", "aria-label": "Close the note" },
      "×",
    );
    close.addEventListener("click", closeNote);
    const parts = [el("h3", {}, n.title), close, ...n.paragraphs.map((t) => el("p", {}, t))];
    if (n.tourStep !== null) {
      const go = el(
        "button",
        { type: "button", class: "layer-note-tour" },
        `Tour step ${n.tourStep + 1}: ${steps[n.tourStep].title} →`,
      );
      go.addEventListener("click", () => {
        closeNote();
        state.set({ tour: n.tourStep });
      });
      parts.push(go);
    }
    box.replaceChildren(...parts);
    box.setAttribute("aria-label", `About ${name}`);
    box.dataset.layer = name;
    box.hidden = false;
    const b = button.getBoundingClientRect();
    const w = box.offsetWidth;
    box.style.left = `${Math.max(8, Math.min(b.left, window.innerWidth - w - 8))}px`;
    const below = b.bottom + 6;
    box.style.top = `${below + box.offsetHeight <= window.innerHeight - 8 ? below : Math.max(8, b.top - box.offsetHeight - 6)}px`;
    button.setAttribute("aria-expanded", "true");
    noteFor = button;
    close.focus();
  }
  document.addEventListener(
    "keydown",
    (ev) => ev.key === "Escape" && noteFor && (noteFor.focus(), closeNote()),
  );
  document.addEventListener("pointerdown", (ev) => {
    if (noteFor && !box.contains(ev.target) && ev.target !== noteFor) closeNote();
  });
  window.addEventListener("scroll", closeNote, { passive: true });

  // ---- understanding the model ----
  createSummary($("summary")).update(model);
  const filters = createFilterViewer($("filters"), { labHref });
  const kernelText = new WeakMap(); // rows → "kv" text: the weights never change, the input does on every render
  function labHref(layer, o, i, rows) {
    const s = state.get();
    const src =
      s.input.source === "sample"
        ? `sample:${s.input.sampleId}`
        : s.input.code
          ? `draw:${s.input.code}`
          : null;
    let kv = kernelText.get(rows);
    if (kv === undefined)
      kernelText.set(rows, (kv = rows.map((r) => r.map(float32String).join(",")).join(";")));
    const name = `${layer} filter ${o}${model.layers.find((d) => d.name === layer).input_shape[0] > 1 ? `, input map ${i}` : ""}`;
    const parts = [
      src && `src=${encodeURIComponent(src)}`,
      "k=custom",
      `kv=${kv}`,
      `kn=${encodeURIComponent(name)}`,
    ].filter(Boolean);
    return `/kernels#${parts.join("&")}`;
  }
  const currentPalette = () => effectivePalette(state.get().palette, state.get().present);
  const paintFilters = () =>
    filters.update({ model, weights: data.get().weights, palette: currentPalette() });

  // ---- exports ----
  function exportPng() {
    const r = data.get().response;
    const label = r && r.prediction ? r.prediction.label : null;
    const title =
      `ConvScope · ${model.name}` +
      (label === null ? "" : ` · predicted ${label} (p = ${r.prediction.probabilities[label].toFixed(3)})`);
    const canvas = composeView($("layers").querySelector(".layers-inner"), {
      title,
      probs: r && r.prediction ? r.prediction.probabilities : null,
      label,
    });
    canvas.toBlob((blob) => downloadBlob(blob, "convscope-view.png"), "image/png");
  }
  function exportJson() {
    const r = data.get().response;
    if (!r) return;
    const json = JSON.stringify(forwardAsJSON(r)); // the default JSON shape, whatever the page asked for
    downloadBlob(new Blob([json], { type: "application/json" }), "convscope-forward.json");
  }

  // ---- links ----
  const note = $("link-note");
  note.querySelector("button").addEventListener("click", () => showProblems([]));
  /** What a link asked for and could not have, said on the page until dismissed. */
  function showProblems(problems) {
    data.set({ linkProblems: problems.length ? problems : undefined });
    note.hidden = !problems.length;
    note.querySelector(".link-note-text").textContent = problems.length
      ? `Ignored in the link: ${problems.join("; ")}.`
      : "";
  }
  const INPUT_KEYS = ["sample", "digit", "draw", "shift"];
  /** Apply URL parameters; edited: the hash changed in place, so what it leaves out is reset. */
  function applyLink(params, edited) {
    const { patch, input, problems } = fromParams(params, {
      model,
      controls: CONTROL_NAMES,
      tourLength: steps.length,
    });
    const current = new URLSearchParams(toHash(state.get(), model));
    const newInput = input && (!edited || INPUT_KEYS.some((k) => params.get(k) !== current.get(k)));
    state.set(edited ? { ...linkDefaults(), ...patch } : patch);
    applyHide(state.get().hide);
    applyPresent();
    palette.value = state.get().palette;
    paintFilters();
    const inputProblem = newInput ? inputs.fromLink(input) : null;
    showProblems(inputProblem ? [...problems, inputProblem] : problems);
    return Boolean(newInput && !inputProblem);
  }

  state.subscribe((s, changed) => {
    writeUrl();
    if (changed.includes("hide")) applyHide(s.hide);
    if (changed.includes("palette")) palette.value = s.palette;
    if (changed.includes("palette") || changed.includes("present")) paintFilters();
    if (changed.includes("input")) filters.refreshLinks();
    if (changed.includes("tour")) showTour();
  });

  return {
    /** Apply the link the page was opened with; returns true if it named an input. */
    start() {
      markControls(CONTROLS);
      const named = applyLink(linkParams(location.search, location.hash), false);
      // a hash edited in place (the address bar, a link within the page) is applied as it stands
      window.addEventListener("hashchange", () => {
        const now = location.hash.replace(/^#/, "");
        if (now !== toHash(state.get(), model)) applyLink(new URLSearchParams(now), true);
      });
      return named;
    },
    rendered() {
      if (state.get().tour !== null) showTour();
      filters.refreshLinks();
    },
    palette: currentPalette,
    share,
    layerNote: openNote,
  };
}
