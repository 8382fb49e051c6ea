/**
 * The layer view's state ↔ the URL, as a table of fields (core/urlcodec.js).  No DOM.
 *
 *   digit=3                  the first shipped test image labelled 3 (typed by hand; never written)
 *   sample=12                a shipped test image by its id (GET /api/samples/12)
 *   draw=q4…                 a drawing or upload: its 32×32 network input, 4-bit, base64url (core/q4.js)
 *   shift=dy,dx              the input shifted by whole pixels
 *   pin=conv1:3:10:14        the pinned unit layer:channel:row:col (vectors: layer:index)
 *   collapse=relu1,relu2     collapsed layers
 *   scope=map|global         colour range scope (per layer when absent)
 *   steps=1                  show the preprocessing steps
 *   hide=gallery,upload      controls hidden by the teacher (CONTROLS in controls-list.js)
 *   present=1                presentation mode
 *   cmap=classic|projector|cvd   colour maps (auto when absent)
 *   tour=3                   the guided tour open at step 3 (1-based)
 *   tool=eraser              the drawing tool (pen when absent)
 *   brush=30                 the brush size in pad pixels (22 when absent)
 * The hash wins; a link may use the query string instead (?digit=3&present=1).  Editing the hash in
 * place applies it (classroom.js listens to hashchange).
 */
import { BRUSH_RANGE, COLOR_SCOPES, TOOLS, defaultState } from "./state.js";
import { choiceField, createCodec, flagField, intField, namesField, teacherFields } from "./core/urlcodec.js";

export { linkParams } from "./core/urlcodec.js";

const DEFAULTS = defaultState();

function pinText(p, model) {
  const d = model && model.layers.find((l) => l.name === p.layer);
  return d && d.family === "vector" ? `${p.layer}:${p.c}` : `${p.layer}:${p.c}:${p.y}:${p.x}`;
}

function parsePin(text, model) {
  const [layer, ...nums] = text.split(":");
  const d = model.layers.find((l) => l.name === layer);
  if (!d) throw new Error(`pin: no layer "${layer}"`);
  const [c, y = 0, x = 0] = nums.map(Number);
  const [C, H = 1, W = 1] = d.output_shape;
  const ok = [
    [c, C],
    [y, H],
    [x, W],
  ].every(([v, n]) => Number.isInteger(v) && v >= 0 && v < n);
  if (!ok) throw new Error(`pin: ${text} lies outside ${layer} (${d.output_shape.join("×")})`);
  return { layer, c, y, x };
}

const drawn = (s) => s.input.source === "drawing" || s.input.source === "upload";

/** The fields in the order links show them; ctx = {model, controls, tourLength}. */
const FIELDS = [
  {
    // a teacher's "digit=3" means a 3: the first shipped test image labelled 3 (Fashion-MNIST: class 3)
    param: "digit",
    key: "label",
    write: () => null, // links name the exact image (sample=…); digit= is for typing by hand
    parse(text, ctx) {
      const label = Number(text);
      const n = ctx.classes || 10;
      if (!Number.isInteger(label) || label < 0 || label >= n) {
        throw new Error(
          `digit: "${text}" is not a class label (0–${n - 1}); a shipped image by its id is sample=${text}`,
        );
      }
      return label;
    },
  },
  {
    param: "sample",
    key: "sample",
    write: (s) => (s.input.source === "sample" ? String(s.input.sampleId) : null),
    parse(text) {
      const id = Number(text);
      if (!Number.isInteger(id) || id < 0) throw new Error(`sample: "${text}" is not a sample id`);
      return id;
    },
  },
  {
    param: "draw",
    key: "draw",
    write: (s) => (drawn(s) && s.input.code ? s.input.code : null),
    parse: String,
  },
  {
    param: "shift",
    key: "shift",
    write: (s) =>
      s.input.source !== "none" && (s.input.shift[0] || s.input.shift[1]) ? s.input.shift.join(",") : null,
    parse(text) {
      const s = text.split(",").map(Number);
      if (s.length !== 2 || !s.every((n) => Number.isInteger(n) && Math.abs(n) <= 16)) {
        throw new Error(`shift: "${text}" is not dy,dx`);
      }
      return s;
    },
  },
  {
    param: "pin",
    key: "pinned",
    write: (s, ctx) => (s.pinned ? pinText(s.pinned, ctx.model) : null),
    parse: (text, ctx) => parsePin(text, ctx.model),
  },
  namesField("collapse", "hidden", (ctx) => ctx.model.layers.map((l) => l.name), "no layer"),
  choiceField("scope", "colorScope", COLOR_SCOPES, DEFAULTS.colorScope),
  flagField("steps", "showSteps"),
  ...teacherFields(),
  {
    param: "tour",
    key: "tour",
    write: (s) => (s.tour !== null ? String(s.tour + 1) : null),
    parse(text, ctx) {
      const i = Number(text);
      if (!Number.isInteger(i) || i < 1 || i > ctx.tourLength) {
        throw new Error(`tour: step ${text} does not exist (1–${ctx.tourLength})`);
      }
      return i - 1;
    },
  },
  choiceField("tool", "tool", TOOLS, DEFAULTS.tool),
  intField("brush", "brush", BRUSH_RANGE, DEFAULTS.brush),
];

const codec = createCodec(FIELDS);

/** The state as a URL hash body ("digit=3&pin=conv1:0:5:5"). */
export function toHash(state, model) {
  return codec.toHash(state, { model });
}

/**
 * URL parameters → {patch (state keys), input: {sample} | {label} | {code} (+ shift) | null,
 * problems: [messages]}.  Bad entries are skipped and reported, never thrown.  `controls`: the known
 * control names; `tourLength`: the number of tour steps; `classes`: the model's number of classes.
 */
export function fromParams(params, { model, controls = [], tourLength = 0 }) {
  const last = model.layers[model.layers.length - 1];
  const classes = last.family === "vector" ? last.output_shape[0] : 10;
  const { values, problems } = codec.fromParams(params, { model, controls, tourLength, classes });
  const { sample, label, draw, shift, ...patch } = values;
  let input = null;
  if (sample !== undefined) input = { sample };
  else if (label !== undefined) input = { label };
  else if (draw !== undefined) input = { code: draw };
  if (input && shift) input.shift = shift;
  return { patch, input, problems };
}

/** The link's keys of the state and their values when a link leaves them out (a hash edited in
 * place falls back to these for what it no longer says). */
export function linkDefaults() {
  const d = defaultState();
  const keys = FIELDS.map((f) => f.key).filter((k) => k in d);
  return Object.fromEntries(keys.map((k) => [k, d[k]]));
}
