// The kernel lab page: wires state → /api/convolve → views. Every change recomputes on the server
// (latest request wins; typing in the kernel grid is debounced lightly).
import { createConvolver, listSamples, getLayerWeights, blobToDataUrl } from './api.js';
import { conv1Presets } from './kernels.js';
import { initialState, clean, requestBody, toHash, fromHash } from './state.js';
import { convGeometry, windowTaps, windowArithmetic, rasterPosition, ACTIVATIONS } from './geometry.js';
import { loadSource, readDrawing } from './sources.js';
import { createSourcePicker } from './sourcePicker.js';
import { createKernelEditor } from './kernelEditor.js';
import { createKnobs } from './knobs.js';
import { createInputView } from './inputView.js';
import { createMapView } from './mapView.js';
import { createFormulaView } from './formulaView.js';
import { createHistogramView } from './histogramView.js';
import { createArithmeticPanel } from './arithmeticPanel.js';
import { createNumbersView } from './numbersView.js';
import { createAnimator } from './animator.js';
import { createAnimationControls } from './animationControls.js';
import { LAB_CONTROLS, markControls } from './controlsList.js';
import { createShareBox } from '../share.js';
import { applyHide, onKey } from '../teacher.js';

const $ = (id) => { const n = document.getElementById(id); if (!n) throw new Error(`#${id} missing from the page`); return n; };
const statusLine = $('status');
const convolve = createConvolver();
const cache = new Map();

let extraPresets = [];
let state = initialState();
let samples = [];
let upload = null; let uploadName = null;
let response = null; let geo = null;
let hovered = null; let channel = 0;
let sourceError = '';

const picker = createSourcePicker($('source-panel'), {
  onSelect: (source) => set({ source }),
  onUpload: async (file) => {
    try {
      upload = await blobToDataUrl(file); uploadName = file.name; sourceError = '';
      set({ source: 'upload' });
    } catch (e) { sourceError = e.message; renderControls(); }
  },
});
const editor = createKernelEditor($('kernel-panel'), {
  onKernel: (kernel, presetId, { typing = false } = {}) => set({ kernel, presetId, kernelName: '' }, typing ? 150 : 0),
});
const knobs = createKnobs($('knobs'), { modeContainer: $('source-panel'), onChange: (key, value) => set({ [key]: clean(key, value) }) });
const inputView = createInputView($('input-view'));
const mapView = createMapView($('output-view'), { title: 'Feature map', onHover: (p) => hover(p), onChannel: (c) => { channel = c; showPixel(); refreshNumbers(); } });
const poolView = createMapView($('pool-view'), { title: 'After pooling', size: 260 });
const formulaView = createFormulaView($('formula'));
const histogram = createHistogramView($('histogram'), { plotly: window.Plotly });
const panel = createArithmeticPanel($('arithmetic'));
const numbers = createNumbersView($('numbers'));
const animator = createAnimator({ onFrame: (s) => animationFrame(s) });
const controls = createAnimationControls($('animation'), {
  onPlay: () => animator.play(), onPause: () => animator.pause(), onStop: () => animator.stop(),
  onSpeed: (v) => animator.setSpeed(v),
  onStep: (by) => {
    const s = animator.state;
    if (by === 'row' && geo) animator.step(s.index < 0 ? geo.Wo - 1 : geo.Wo - 1 - (s.index % geo.Wo) || geo.Wo);
    else animator.step(1);
  },
});

createShareBox($('share'), { getUrl: () => `${location.origin}${location.pathname}#${toHash(state)}` });
$('present-toggle').addEventListener('click', () => set({ present: state.present ? 0 : 1 }));
onKey('p', () => set({ present: state.present ? 0 : 1 }));
markControls();

/** The colour maps in use: "auto" means the projector palette while presenting. */
const palette = () => (state.palette !== 'auto' ? state.palette : state.present ? 'projector' : 'classic');

let teacherKey = '';
function applyTeacher() {
  const key = `${state.hide}|${state.present}`;
  if (key === teacherKey) return;
  teacherKey = key;
  const names = state.hide.split(',').map((s) => s.trim()).filter((n) => n in LAB_CONTROLS);
  applyHide(names);
  document.documentElement.classList.toggle('present', Boolean(state.present));
  $('present-toggle').setAttribute('aria-pressed', String(Boolean(state.present)));
}

function renderControls() {
  picker.update({ source: state.source, samples, hasDrawing: readDrawing() !== null, uploadName, notice: response && response.notice ? `Note: ${response.notice}.` : '', error: sourceError });
  editor.update({ kernel: state.kernel, presetId: state.presetId, extraPresets, note: state.kernelName });
  markControls();
  applyTeacher();
  knobs.update(state, { colour: !response || response.input.shape[0] === 3 });
}

let timer = null;
function set(changes, delay = 0) {
  state = { ...state, ...changes };
  history.replaceState(null, '', `#${toHash(state)}`);
  renderControls();
  clearTimeout(timer);
  timer = setTimeout(recompute, delay);
}

let sequence = 0;
// The server echoes the (possibly downscaled) input only when the image changed: a knob turned on
// the same image reuses the copy we have (for 512×512 RGB, 786k values not sent or parsed again).
let echoed = { image: null, input: null };
async function recompute() {
  const mine = (sequence += 1);
  statusLine.textContent = 'computing…';
  document.body.dataset.lab = 'busy';
  try {
    const image = await loadSource(state.source, { cache, upload });
    const reuse = echoed.image === image && echoed.input !== null;
    const body = await convolve({ ...requestBody(state, image), echo_input: !reuse });
    if (mine !== sequence) return;
    if (body.input.data) {
      echoed = { image, input: body.input };
    } else if (reuse && String(body.input.shape) === String(echoed.input.shape)) {
      body.input = echoed.input;
    } else {
      throw new Error(`the server sent no input for a ${body.input.shape.join('×')} image`);
    }
    sourceError = '';
    render(body);
    statusLine.textContent = `server: ${body.timing_ms.total.toFixed(1)} ms`;
    document.body.dataset.lab = 'ready';
  } catch (e) {
    if (e.name === 'AbortError' || mine !== sequence) return;
    statusLine.textContent = `Error: ${e.message}`;
    if (e.code) sourceError = e.message;
    renderControls();
    document.body.dataset.lab = 'error';
  }
}

function stageOf(body) {
  return body.activation || body.conv;
}

function render(body) {
  response = body;
  geo = convGeometry(body.formula);
  inputView.update({ input: body.input, geo });
  formulaView.update(body);
  const stage = stageOf(body);
  const act = body.activation ? ` (conv → ${state.activation})` : '';
  mapView.update(stage, { subtitle: stage ? `${stage.shape[1]}×${stage.shape[2]}${act}` : '', message: body.explanation || 'No output.', palette: palette() });
  $('pool-panel').hidden = !state.poolKind;
  if (state.poolKind) {
    poolView.update(body.pool, { subtitle: body.pool ? `${state.poolKind} ${body.pool.shape[1]}×${body.pool.shape[2]}` : '', message: body.explanation || 'No output.', palette: palette() });
  }
  const stages = [['conv', body.conv], [state.activation, body.activation], [`${state.poolKind} pool`, body.pool]]
    .filter(([, s]) => s).map(([name, s]) => ({ name, values: s.data.flat(2) }));
  histogram.update(stages);
  channel = mapView.channel();
  animator.reset(stage && geo.Ho > 0 && geo.Wo > 0 ? geo.Ho * geo.Wo : 0);
  if (hovered && stage && (hovered.oy >= geo.Ho || hovered.ox >= geo.Wo)) hovered = null;
  refreshNumbers();
  showPixel();
  renderControls();
}

function refreshNumbers() {
  if (!response) return;
  const stage = stageOf(response);
  numbers.update({ input: response.input.data, geo, output: stage ? stage.data : null, channel });
}

function hover(p) {
  if (animator.state.index >= 0) return;   // the animation owns the highlight while it runs
  hovered = p;
  showPixel();
}

/** Highlight `hovered` everywhere and show its arithmetic. */
function showPixel() {
  const stage = response && stageOf(response);
  if (!hovered || !stage || !response.conv) {
    mapView.mark(null); inputView.showWindow(null); numbers.highlight(null); panel.update(null);
    return;
  }
  const { oy, ox } = hovered;
  const taps = windowTaps(geo, oy, ox);
  mapView.mark(hovered); inputView.showWindow(taps); numbers.highlight(hovered, taps);
  const mode = response.input.shape[0] === 1 ? 'per_channel' : state.mode;
  const outChannel = mode === 'sum' ? 0 : channel;
  const arith = windowArithmetic(response.input.data, state.kernel.values, geo, oy, ox, { mode, channel: outChannel, bias: 0 });
  const act = state.activation ? ACTIVATIONS[state.activation](arith.sum) : null;
  panel.update({ arith, geo, oy, ox, mode, channels: response.input.shape[0], kernel: state.kernel.values,
    serverValue: response.conv.data[outChannel][oy][ox], activation: state.activation || null, activated: act });
}

function animationFrame({ index, total, playing }) {
  const pos = index >= 0 && geo ? rasterPosition(index, geo.Wo) : { oy: null, ox: null };
  controls.update({ index, total, playing, ...pos });
  mapView.reveal(index >= 0 ? index + 1 : null);
  numbers.reveal(index >= 0 ? index + 1 : null);
  hovered = index >= 0 ? { oy: pos.oy, ox: pos.ox } : null;
  showPixel();
}

async function loadExtras() {
  const [s, w] = await Promise.allSettled([listSamples(), getLayerWeights('conv1')]);
  if (s.status === 'fulfilled') samples = s.value.samples.slice(0, 100);
  if (w.status === 'fulfilled') extraPresets = conv1Presets(w.value);
  const problems = [s, w].filter((r) => r.status === 'rejected').map((r) => r.reason.message);
  if (problems.length) statusLine.textContent = `Some extras did not load: ${problems.join('; ')}`;
}

async function start() {
  renderControls();
  await loadExtras();
  const { state: fromUrl, problems } = fromHash(location.hash, initialState(extraPresets), extraPresets);
  state = fromUrl;
  if (problems.length) statusLine.textContent = `Ignored in the link: ${problems.join('; ')}`;
  set({});
}

window.addEventListener('hashchange', () => {
  const { state: next } = fromHash(location.hash, initialState(extraPresets), extraPresets);
  if (toHash(next) !== toHash(state)) { state = next; set({}); }
});

start();
