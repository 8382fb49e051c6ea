// The kernel lab's state: one plain object whose fields are listed here as data; it builds the
// /api/convolve request and round-trips through the URL hash (shareable links) with the same
// table-driven codec as the layer view (core/urlcodec.js). No DOM.
import { fromNumbers, presetKernel, parseValue } from "./kernels.js";
import {
  choiceField,
  createCodec,
  intField,
  linkParams,
  teacherFields,
  textField,
} from "../core/urlcodec.js";
import { LAB_CONTROL_NAMES } from "./controlsList.js";

export const DEFAULTS = Object.freeze({
  source: "builtin:scene",
  presetId: "sobel_x",
  mode: "per_channel",
  stride: 1,
  paddingMode: "valid",
  padding: 1,
  dilation: 1,
  activation: "",
  poolKind: "",
  poolSize: 2,
  poolStride: 2,
  kernelName: "",
  hide: [],
  present: false,
  palette: "auto",
});

const kernelText = (s) => s.kernel.values.map((r) => r.join(",")).join(";");

// [url parameter → state key]; teacher settings: where a kernel came from (kn=conv2 filter 3,
// input map 1), the hide list, presentation mode and the colour maps (shared with the layer view)
const FIELDS = [
  {
    param: "src",
    key: "source",
    parse: String, // an upload is not shareable
    write: (s) => (s.source === "upload" || s.source === DEFAULTS.source ? null : s.source),
  },
  textField("k", "presetId", DEFAULTS.presetId),
  choiceField("mode", "mode", ["per_channel", "sum"], DEFAULTS.mode),
  intField("s", "stride", [1, 16], DEFAULTS.stride),
  choiceField("pad", "paddingMode", ["valid", "same", "explicit"], DEFAULTS.paddingMode),
  intField("p", "padding", [0, 16], DEFAULTS.padding),
  intField("d", "dilation", [1, 8], DEFAULTS.dilation),
  choiceField("act", "activation", ["", "relu", "sigmoid", "tanh"], DEFAULTS.activation),
  choiceField("pool", "poolKind", ["", "max", "avg", "l2"], DEFAULTS.poolKind),
  intField("ps", "poolSize", [1, 16], DEFAULTS.poolSize),
  intField("pst", "poolStride", [1, 16], DEFAULTS.poolStride),
  textField("kn", "kernelName", DEFAULTS.kernelName),
  ...teacherFields(),
  {
    param: "kv",
    key: "kernelValues",
    write: (s) => (s.presetId === "custom" ? kernelText(s) : null),
    parse: (text) => text.split(";").map((r) => r.split(",").map(parseValue)),
  },
];
const codec = createCodec(FIELDS);
const CTX = { controls: LAB_CONTROL_NAMES };

export function initialState(extraPresets = []) {
  const state = { ...DEFAULTS };
  state.kernel = presetKernel(state.presetId, extraPresets);
  return state;
}

/** Check one knob's value against its field; returns the cleaned value or throws. */
export function clean(key, value) {
  const field = codec.field(key);
  return field ? field.parse(String(value), { ...CTX, report: () => {} }) : value;
}

/** The body of POST /api/convolve for `state` and an image (data URL or nested rows). */
export function requestBody(state, image) {
  return {
    image,
    kernel: state.kernel.values,
    mode: state.mode,
    stride: state.stride,
    padding: state.paddingMode === "explicit" ? state.padding : state.paddingMode,
    dilation: state.dilation,
    bias: 0,
    activation: state.activation || null,
    pool: state.poolKind ? { kind: state.poolKind, size: state.poolSize, stride: state.poolStride } : null,
  };
}

export const toHash = (state) => codec.toHash(state, CTX);

/** State from a hash (or, lacking one, a query string), starting from `base`; bad entries are skipped and reported. */
export function fromHash(hash, base, extraPresets = [], search = "") {
  const { values, problems } = codec.fromParams(linkParams(search, hash), CTX);
  const { kernelValues, ...patch } = values;
  const state = { ...base, ...patch };
  try {
    if (state.presetId === "custom" && kernelValues) state.kernel = fromNumbers(kernelValues);
    else if (state.presetId !== base.presetId) state.kernel = presetKernel(state.presetId, extraPresets);
  } catch (e) {
    problems.push(e.message);
    state.presetId = base.presetId;
    state.kernel = base.kernel;
  }
  return { state, problems };
}
