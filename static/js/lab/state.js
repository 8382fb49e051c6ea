// The kernel lab's state: one plain object whose fields are listed here as data; it builds the
// /api/convolve request and round-trips through the URL hash (shareable links). No DOM.
import { fromNumbers, presetKernel, parseValue } from './kernels.js';

export const DEFAULTS = Object.freeze({
  source: 'builtin:scene', presetId: 'sobel_x', mode: 'per_channel', stride: 1, paddingMode: 'valid',
  padding: 1, dilation: 1, activation: '', poolKind: '', poolSize: 2, poolStride: 2,
  kernelName: '', hide: '', present: 0, palette: 'auto',
});

// [state key, hash key, parse]
const FIELDS = [
  ['source', 'src', String], ['presetId', 'k', String], ['mode', 'mode', String],
  ['stride', 's', Number], ['paddingMode', 'pad', String], ['padding', 'p', Number],
  ['dilation', 'd', Number], ['activation', 'act', String], ['poolKind', 'pool', String],
  ['poolSize', 'ps', Number], ['poolStride', 'pst', Number],
  // teacher settings: where a kernel came from (kn=conv2 filter 3, input map 1), the hide list,
  // presentation mode and the colour maps (shared with the layer view, static/js/colors.js)
  ['kernelName', 'kn', String], ['hide', 'hide', String], ['present', 'present', Number], ['palette', 'cmap', String],
];
const CHOICES = { mode: ['per_channel', 'sum'], paddingMode: ['valid', 'same', 'explicit'],
  activation: ['', 'relu', 'sigmoid', 'tanh'], poolKind: ['', 'max', 'avg', 'l2'],
  palette: ['auto', 'classic', 'projector', 'cvd'] };
const RANGES = { stride: [1, 16], padding: [0, 16], dilation: [1, 8], poolSize: [1, 16], poolStride: [1, 16], present: [0, 1] };

export function initialState(extraPresets = []) {
  const state = { ...DEFAULTS };
  state.kernel = presetKernel(state.presetId, extraPresets);
  return state;
}

/** Check one field; returns the cleaned value or throws. */
export function clean(key, value) {
  if (CHOICES[key]) {
    if (!CHOICES[key].includes(value)) throw new Error(`${key} must be one of ${CHOICES[key].join(', ')}, got ${value}`);
    return value;
  }
  if (RANGES[key]) {
    const [lo, hi] = RANGES[key]; const v = Number(value);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`${key} must be an integer ${lo}–${hi}, got ${value}`);
    return v;
  }
  return value;
}

/** The body of POST /api/convolve for `state` and an image (data URL or nested rows). */
export function requestBody(state, image) {
  return {
    image,
    kernel: state.kernel.values,
    mode: state.mode,
    stride: state.stride,
    padding: state.paddingMode === 'explicit' ? state.padding : state.paddingMode,
    dilation: state.dilation,
    bias: 0,
    activation: state.activation || null,
    pool: state.poolKind ? { kind: state.poolKind, size: state.poolSize, stride: state.poolStride } : null,
  };
}

export function toHash(state) {
  const params = new URLSearchParams();
  for (const [key, short] of FIELDS) {
    if (key === 'source' && state.source === 'upload') continue;   // an upload is not shareable
    if (state[key] !== DEFAULTS[key]) params.set(short, String(state[key]));
  }
  if (state.presetId === 'custom') params.set('kv', state.kernel.values.map((r) => r.join(',')).join(';'));
  return params.toString();
}

/** State from a hash string, starting from `base`; bad entries are skipped (and reported). */
export function fromHash(hash, base, extraPresets = []) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const state = { ...base }; const problems = [];
  for (const [key, short, parse] of FIELDS) {
    if (!params.has(short)) continue;
    try { state[key] = clean(key, parse(params.get(short))); } catch (e) { problems.push(e.message); }
  }
  try {
    if (state.presetId === 'custom' && params.has('kv')) {
      state.kernel = fromNumbers(params.get('kv').split(';').map((r) => r.split(',').map(parseValue)));
    } else if (state.presetId !== base.presetId) {
      state.kernel = presetKernel(state.presetId, extraPresets);
    }
  } catch (e) {
    problems.push(e.message); state.presetId = base.presetId; state.kernel = base.kernel;
  }
  return { state, problems };
}
