/**
 * The layer view's state ↔ the URL, as a table of fields (TF Playground style).  No DOM.
 *
 *   digit=12                 a shipped MNIST digit (GET /api/samples/12)
 *   draw=q4…                 a drawing or upload: its 32×32 network input, 4-bit, base64url (codec.js)
 *   shift=dy,dx              the input shifted by whole pixels
 *   pin=conv1:3:10:14        the pinned unit layer:channel:row:col (vectors: layer:index)
 *   collapse=relu1,relu2     collapsed layers
 *   scope=map|global         colour range scope (per layer when absent)
 *   steps=1                  show the preprocessing steps
 *   hide=gallery,upload      controls hidden by the teacher (CONTROLS in classroom.js)
 *   present=1                presentation mode
 *   cmap=classic|projector|cvd   colour maps (auto when absent)
 *   tour=3                   the guided tour open at step 3 (1-based)
 *   tool=eraser              the drawing tool (pen when absent)
 *   brush=30                 the brush size in pad pixels (22 when absent)
 * The hash wins; a link may use the query string instead (?digit=3&present=1).
 */
import { BRUSH_RANGE, COLOR_SCOPES, PALETTE_CHOICES, TOOLS, defaultState } from "./state.js";

const DEFAULTS = defaultState();

const list = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

function pinText(p, model) {
  const d = model && model.layers.find((l) => l.name === p.layer);
  return d && d.output_shape.length === 1 ? `${p.layer}:${p.c}` : `${p.layer}:${p.c}:${p.y}:${p.x}`;
}

function parsePin(text, model) {
  const [layer, ...nums] = text.split(":");
  const d = model.layers.find((l) => l.name === layer);
  if (!d) throw new Error(`pin: no layer "${layer}"`);
  const [c, y = 0, x = 0] = nums.map(Number);
  const [C, H = 1, W = 1] = d.output_shape;
  const ok = [[c, C], [y, H], [x, W]].every(([v, n]) => Number.isInteger(v) && v >= 0 && v < n);
  if (!ok) throw new Error(`pin: ${text} lies outside ${layer} (${d.output_shape.join("×")})`);
  return { layer, c, y, x };
}

/** [url key, write(state, model) → string | null (left out)] in the order links show them. */
const WRITERS = [
  ["digit", (s) => (s.input.source === "sample" ? String(s.input.sampleId) : null)],
  ["draw", (s) => ((s.input.source === "drawing" || s.input.source === "upload") && s.input.code ? s.input.code : null)],
  ["shift", (s) => (s.input.source !== "none" && (s.input.shift[0] || s.input.shift[1]) ? s.input.shift.join(",") : null)],
  ["pin", (s, m) => (s.pinned ? pinText(s.pinned, m) : null)],
  ["collapse", (s) => (s.hidden.length ? s.hidden.join(",") : null)],
  ["scope", (s) => (s.colorScope !== "layer" ? s.colorScope : null)],
  ["steps", (s) => (s.showSteps ? "1" : null)],
  ["hide", (s) => (s.hide.length ? s.hide.join(",") : null)],
  ["present", (s) => (s.present ? "1" : null)],
  ["cmap", (s) => (s.palette !== "auto" ? s.palette : null)],
  ["tour", (s) => (s.tour !== null ? String(s.tour + 1) : null)],
  ["tool", (s) => (s.tool !== DEFAULTS.tool ? s.tool : null)],
  ["brush", (s) => (s.brush !== DEFAULTS.brush ? String(s.brush) : null)],
];

/** The state as a URL hash body ("digit=3&pin=conv1:0:5:5"); commas and colons stay readable. */
export function toHash(state, model) {
  const parts = [];
  for (const [key, write] of WRITERS) {
    const v = write(state, model);
    if (v !== null) parts.push(`${key}=${encodeURIComponent(v).replace(/%2C/g, ",").replace(/%3A/g, ":")}`);
  }
  return parts.join("&");
}

/** The parameters a page was opened with: the hash if it holds any, else the query string. */
export function linkParams(search, hash) {
  const h = new URLSearchParams(hash.replace(/^#/, ""));
  return [...h.keys()].length ? h : new URLSearchParams(search.replace(/^\?/, ""));
}

/**
 * URL parameters → {patch (state keys), input: {digit} | {code} | null, problems: [messages]}.
 * Bad entries are skipped and reported, never thrown.  `controls`: the known control names;
 * `tourLength`: the number of tour steps.
 */
export function fromParams(params, { model, controls = [], tourLength = 0 }) {
  const patch = {}, problems = [];
  let input = null;
  const names = new Set(model.layers.map((l) => l.name));
  const read = (key, fn) => {
    if (!params.has(key)) return;
    try { fn(params.get(key)); } catch (e) { problems.push(e.message); }
  };
  read("digit", (v) => {
    const id = Number(v);
    if (!Number.isInteger(id) || id < 0) throw new Error(`digit: "${v}" is not a sample id`);
    input = { digit: id };
  });
  read("draw", (v) => { if (!input) input = { code: v }; });
  read("shift", (v) => {
    const s = v.split(",").map(Number);
    if (s.length !== 2 || !s.every((n) => Number.isInteger(n) && Math.abs(n) <= 16)) throw new Error(`shift: "${v}" is not dy,dx`);
    if (input) input.shift = s;
  });
  read("pin", (v) => { patch.pinned = parsePin(v, model); });
  read("collapse", (v) => {
    const bad = list(v).filter((n) => !names.has(n));
    if (bad.length) problems.push(`collapse: no layer ${bad.join(", ")}`);
    patch.hidden = list(v).filter((n) => names.has(n));
  });
  read("scope", (v) => {
    if (!COLOR_SCOPES.includes(v)) throw new Error(`scope must be one of ${COLOR_SCOPES.join(", ")}`);
    patch.colorScope = v;
  });
  read("steps", (v) => { patch.showSteps = v === "1" || v === "true"; });
  read("hide", (v) => {
    const bad = list(v).filter((n) => !controls.includes(n));
    if (bad.length) problems.push(`hide: unknown control ${bad.join(", ")}`);
    patch.hide = list(v).filter((n) => controls.includes(n));
  });
  read("present", (v) => { patch.present = v === "1" || v === "true"; });
  read("cmap", (v) => {
    if (!PALETTE_CHOICES.includes(v)) throw new Error(`cmap must be one of ${PALETTE_CHOICES.join(", ")}`);
    patch.palette = v;
  });
  read("tour", (v) => {
    const i = Number(v);
    if (!Number.isInteger(i) || i < 1 || i > tourLength) throw new Error(`tour: step ${v} does not exist (1–${tourLength})`);
    patch.tour = i - 1;
  });
  read("tool", (v) => {
    if (!TOOLS.includes(v)) throw new Error(`tool must be one of ${TOOLS.join(", ")}`);
    patch.tool = v;
  });
  read("brush", (v) => {
    const b = Number(v), [lo, hi] = BRUSH_RANGE;
    if (!Number.isInteger(b) || b < lo || b > hi) throw new Error(`brush: "${v}" is not a size from ${lo} to ${hi}`);
    patch.brush = b;
  });
  return { patch, input, problems };
}
