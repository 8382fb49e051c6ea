/**
 * Where the layer view's input comes from — the drawing pad, a shipped digit, an upload, a link,
 * a one-pixel shift — each turned into a body maker for the forward channel (forward.js).
 *
 * createInputs({state, data, forward, drawpad, options, onError}) →
 *   {draw(t), pickSample(id), upload(dataUrl, name), camera(rows), shift(dy, dx),
 *    fromLink({sample} | {label} | {code}, shift) → a problem with the link's input (text) or null,
 *    firstSample() → bool, blank(), afterResponse(job), caption() → "input: …", resubmit()}
 * resubmit() sends the current input again (e.g. the steps box changed): a shifted input sends its
 * unshifted input first, so its preprocessing steps come back, and then the same shift again.
 * A digit or an upload replaces the drawing: the pad is wiped (undoable), so the next stroke starts
 * a fresh drawing instead of sending the old one again.
 */
import { getSample } from "./core/api.js";
import { shiftedRows } from "./core/tensor.js";
import { decodeQ4 } from "./core/q4.js";

const SNAPSHOT = 56; // the pad is sent as 56×56 gray rows (or a PNG with ?encoding=png)
const fresh = (source, extra = {}) => ({ source, sampleId: null, shift: [0, 0], code: null, ...extra });

export function createInputs({ state, data, forward, drawpad, options, onError }) {
  let pendingShift = null; // a shift from a link, applied once its input is drawn
  let picked = null; // the last sample picked: {index, label}
  let uploadName = "";
  const steps = () => state.get().showSteps;
  const [C, H, W] = data.get().model.input_shape;
  // a 28×28 MNIST digit is the network input itself for a 28×28 or 32×32 gray model (padded by 2);
  // any other model reads it through its own preprocessing
  const sampleFits = C === 1 && ((H === 28 && W === 28) || (H === 32 && W === 32));
  const asIs = (extra) => (sampleFits ? { preprocess: "none", ...extra } : extra);
  let unshifted = null; // the body maker of the last unshifted input
  const submit = (body, t, shifted = false) => {
    if (!shifted) unshifted = body;
    forward.submit(() => ({ body: body(), shifted }), t);
  };

  function resubmit() {
    const input = state.get().input;
    const [dy, dx] = input.shift;
    if (!(dy || dx) || !unshifted) {
      forward.resubmit();
      return;
    }
    pendingShift = [dy, dx];
    state.set({ input: { ...input, shift: [0, 0] } });
    submit(unshifted);
  }

  function draw(t) {
    if (state.get().input.source !== "drawing") state.set({ input: fresh("drawing") });
    const image = () => (options.encoding === "png" ? drawpad.toDataURL() : drawpad.snapshot(SNAPSHOT));
    submit(() => ({ image: image(), steps: steps() }), t);
  }

  async function pickSample(id) {
    const listed = data.get().samples.samples.find((x) => x.id === id);
    const s = listed || (await getSample(id));
    picked = { id, index: s.index, label: s.label };
    drawpad.wipe();
    state.set({ input: fresh("sample", { sampleId: id }) });
    submit(() => ({ image: s.image.data, ...asIs({ steps: steps() }) }));
  }

  /** A camera frame (56×56 gray rows, ink white): the live input until something else is picked. */
  function camera(rows) {
    if (state.get().input.source !== "camera") {
      drawpad.wipe();
      state.set({ input: fresh("camera") });
    }
    submit(() => ({ image: rows, steps: steps() }));
  }

  function upload(dataUrl, name = "") {
    uploadName = name;
    drawpad.wipe();
    state.set({ input: fresh("upload") });
    submit(() => ({ image: dataUrl, steps: steps() }));
  }

  /** A test-set image from the model panel ({index, label, image: {shape: [1, H, W], data}}): the
   * network input itself, as an upload is (so a link carries it as a drawing code). */
  function testImage(item) {
    uploadName = `MNIST test image #${item.index} (label ${item.label})`;
    drawpad.wipe();
    state.set({ input: fresh("upload") });
    const rows = item.image.data[0];
    submit(() => ({ image: rows, preprocess: "none", steps: steps() }));
  }

  function shift(dy, dx) {
    const base = data.get().base;
    if (!base || base.C !== 1) return; // shifts move a gray input's one plane
    const [sy, sx] = state.get().input.shift;
    const next = [sy + dy, sx + dx];
    state.set({ input: { ...state.get().input, shift: next } });
    submit(() => ({ image: shiftedRows(base, next[0], next[1]), preprocess: "none" }), undefined, true);
  }

  function fromLink({ sample, label, code, shift: sh }) {
    if (sh && (sh[0] || sh[1])) pendingShift = sh;
    if (label !== undefined) {
      const first = data.get().samples.samples.find((x) => x.label === label);
      if (!first) {
        pendingShift = null;
        return `digit: no shipped test image is labelled ${label}`;
      }
      sample = first.id;
    }
    if (sample !== undefined) {
      pickSample(sample).catch((e) => onError(`The link's sample: ${e.message}`));
      return null;
    }
    try {
      const rows = decodeQ4(code, H, W);
      drawpad.load(rows);
      state.set({ input: fresh("drawing", { code }) });
      submit(() => ({ image: rows, preprocess: "none", steps: steps() }));
      return null;
    } catch (e) {
      pendingShift = null;
      return `draw: ${e.message}`;
    }
  }

  function firstSample() {
    const list = data.get().samples.samples;
    if (!list.length) return false;
    pickSample(list[0].id).catch((e) => onError(e.message));
    return true;
  }

  /** The link's shift waits for its unshifted input to be drawn. */
  function afterResponse(job) {
    if (!pendingShift || job.shifted) return;
    const [dy, dx] = pendingShift;
    pendingShift = null;
    shift(dy, dx);
  }

  /** Where the current input came from, in words (the caption over "what the network sees"). */
  function caption() {
    const { source, sampleId, shift: sh } = state.get().input;
    const shifted = sh[0] || sh[1] ? `, shifted ${sh[0]}, ${sh[1]}` : "";
    if (source === "sample") {
      const known = picked && picked.id === sampleId;
      // a model with named classes (Fashion-MNIST's) has its own test images, named by class
      const card = (data.get().model || {}).card || {};
      const names =
        Array.isArray(card.classes) && card.classes.length === 10 && card.classes[0] !== "0"
          ? card.classes
          : null;
      const set = names ? "Fashion-MNIST test image" : "MNIST test digit";
      const what = known
        ? `${set} #${picked.index} (${names ? names[picked.label] : `label ${picked.label}`})`
        : `${names ? "a" : "an"} ${set}`;
      return `input: ${what}${shifted}`;
    }
    if (source === "upload" && uploadName.startsWith("MNIST")) return `input: ${uploadName}${shifted}`;
    if (source === "upload") return `input: upload ${uploadName || "(an image)"}${shifted}`;
    if (source === "drawing") return `input: your drawing${shifted}`;
    if (source === "camera") return `input: the camera, live${shifted}`;
    return "input: nothing yet (draw a digit, or pick one)";
  }

  return {
    testImage,
    caption,
    resubmit,
    draw,
    pickSample,
    upload,
    camera,
    shift,
    fromLink,
    firstSample,
    afterResponse,
    blank: () => submit(() => ({ image: drawpad.snapshot(SNAPSHOT) })),
  };
}
