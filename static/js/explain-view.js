/**
 * "Why this answer": an attribution map of the current input (POST /api/explain) drawn over it,
 * with its method, class, Grad-CAM layer, occlusion patch and the randomisation check, and a
 * paragraph on what the map measures and where it misleads.  The map is requested only while the
 * panel is open, latest-wins, for the network input of the last forward pass.
 *
 * createExplainView(container, {model, classes, request(body) → Promise<response>}) →
 *   {show(input), refresh(), open(bool)};  input: the parsed network input {C, H, W, data}
 */
import { paintRGBA } from "./core/colors.js";
import { el } from "./core/dom.js";
import { values } from "./core/tensor.js";

export const WORDS = {
  gradient:
    "How much the class's score (its logit, before the softmax) would change if one pixel changed a little: the size of the gradient, largest over the channels. It shows where the network is sensitive, not what it relies on: a pixel can matter a lot while it is black, and the map is noisy because one pixel rarely matters alone.",
  gradient_x_input:
    "The gradient times the pixel's value, summed over channels: each pixel's first-order share of the score. Red pushes the score up, blue down. Black pixels (value 0) get no share at all, however much the network would react to ink there, so on a digit it mostly outlines the strokes.",
  gradcam:
    "Grad-CAM: the chosen layer's maps, each weighted by how much the score rises on average when that map rises, summed and cut at zero, then stretched to the input. Coarse (at the layer's resolution) but class-specific: it says which region supports the class, not which pixels.",
  occlusion:
    "A square of zeros is slid over the input and the class's probability measured each time; each pixel shows the average drop while it was covered. Direct and model-agnostic, but slow, dependent on the patch size, and blind to what the network does with an input it never saw (a black square on a digit is such an input).",
};
const LABELS = {
  gradient: "gradient (saliency)",
  gradient_x_input: "gradient × input",
  gradcam: "Grad-CAM",
  occlusion: "occlusion",
};

function option(value, text, selected = false) {
  const o = el("option", "", text);
  o.value = value;
  o.selected = selected;
  return o;
}

function labelled(text, control) {
  const l = el("label", "explain-control", `${text} `);
  l.append(control);
  return l;
}

export function createExplainView(container, { model, request, onError }) {
  const method = el("select");
  method.id = "explain-method";
  for (const [k, v] of Object.entries(LABELS)) method.append(option(k, v, k === "gradient"));
  const cls = el("select");
  cls.id = "explain-class";
  cls.append(option("", "the predicted class", true));
  const classes = model.layers[model.layers.length - 1].output_shape[0];
  for (let c = 0; c < classes; c++) cls.append(option(String(c), `class ${c}`));
  const layer = el("select");
  layer.id = "explain-layer";
  const maps = model.layers.filter((d, i) => i > 0 && d.family === "map" && d.op !== "input");
  maps.forEach((d, i) => layer.append(option(d.name, d.name, i === maps.length - 1)));
  const patch = el("select");
  patch.id = "explain-patch";
  for (const p of [2, 4, 6, 8])
    patch.append(option(String(p), `${p}×${p}, stride ${Math.max(1, p / 2)}`, p === 4));
  const trainable = model.layers.filter((d) => d.op === "conv" || d.op === "dense");
  const random = el("input");
  random.type = "range";
  random.id = "explain-randomize";
  random.min = "0";
  random.max = String(trainable.length);
  random.value = "0";
  const randomWords = el("span", "explain-random-words", "none: the trained network");
  const layerControl = labelled("layer", layer);
  const patchControl = labelled("patch", patch);
  const controls = el("div", "explain-controls");
  controls.append(
    labelled("method", method),
    labelled("explain", cls),
    layerControl,
    patchControl,
    labelled("randomise the top", random),
    randomWords,
  );
  const frame = el("div", "explain-frame");
  const base = el("canvas", "explain-input");
  const overlay = el("canvas", "explain-overlay");
  overlay.id = "explain-overlay";
  const patchBox = el("div", "explain-patch-box");
  patchBox.id = "explain-patch-box";
  patchBox.hidden = true;
  frame.append(base, overlay, patchBox);
  let sliding = null; // the occlusion patch's animation timer
  const legend = el("p", "explain-legend");
  legend.id = "explain-legend";
  const words = el("p", "explain-words");
  words.id = "explain-words";
  const body = el("div", "explain-body");
  body.append(frame, el("div", "explain-side"));
  body.lastChild.append(controls, legend, words);
  container.append(body);

  let input = null;
  let isOpen = false;
  let last = null;

  function layout() {
    const m = method.value;
    layerControl.hidden = m !== "gradcam";
    patchControl.hidden = m !== "occlusion";
    words.textContent = WORDS[m];
    const k = Number(random.value);
    randomWords.textContent =
      k === 0
        ? "none: the trained network"
        : `${k} layer${k > 1 ? "s" : ""}: ${trainable
            .slice(trainable.length - k)
            .map((d) => d.name)
            .join(", ")} re-drawn at random`;
  }

  function paintInput() {
    base.width = input.W;
    base.height = input.H;
    const img = base.getContext("2d").createImageData(input.W, input.H);
    paintRGBA(img.data, input.data.subarray(0, input.H * input.W), 0, 1, "gray");
    base.getContext("2d").putImageData(img, 0, 0);
  }

  function paintMap(r) {
    const [H, W] = r.map.shape;
    const data = values(r.map, "explanation map");
    overlay.width = W;
    overlay.height = H;
    const signed = r.method === "gradient_x_input";
    const hi = Math.max(Math.abs(r.map.min), Math.abs(r.map.max)) || 1;
    const lo = signed ? -hi : Math.min(0, r.map.min);
    const img = overlay.getContext("2d").createImageData(W, H);
    paintRGBA(img.data, data, lo, signed ? hi : r.map.max || 1, signed ? "diverging" : "sequential");
    for (let i = 0; i < W * H; i++) {
      // the map's strength is its opacity, so the digit shows through where nothing is attributed
      const v = signed ? Math.abs(data[i]) / hi : (data[i] - lo) / ((r.map.max || 1) - lo);
      img.data[4 * i + 3] = Math.round(230 * Math.min(1, Math.max(0, v)));
    }
    overlay.getContext("2d").putImageData(img, 0, 0);
    slide(r);
    overlay.dataset.method = r.method;
    overlay.dataset.class = r.class;
    overlay.dataset.min = r.map.min;
    overlay.dataset.max = r.map.max;
    const where = r.layer ? ` at ${r.layer} (${r.layer_map.shape.join("×")}, stretched to the input)` : "";
    const occl = r.method === "occlusion" ? ` · ${r.placements} placements of the patch` : "";
    legend.textContent =
      `${LABELS[r.method]} of class ${r.class} (score ${r.score.toFixed(3)}, p = ${r.probability.toFixed(3)})${where}` +
      `: from ${Number(r.map.min).toPrecision(3)} to ${Number(r.map.max).toPrecision(3)}${occl}` +
      (r.randomized.length ? ` · randomised: ${r.randomized.join(", ")}` : "");
  }

  /** Occlusion: the patch slides over the input once, placement by placement, with the class's
   * probability while it covers each place; it then rests where the drop was largest. */
  function slide(r) {
    clearInterval(sliding);
    patchBox.hidden = r.method !== "occlusion";
    if (r.method !== "occlusion") return;
    const [H, W] = r.map.shape;
    const place = (k) => {
      const [y, x] = r.positions[k];
      Object.assign(patchBox.style, {
        top: `${(100 * y) / H}%`,
        left: `${(100 * x) / W}%`,
        width: `${(100 * r.patch) / W}%`,
        height: `${(100 * r.patch) / H}%`,
      });
      patchBox.dataset.step = k;
      patchBox.textContent = r.probabilities[k].toFixed(2);
    };
    let k = 0;
    sliding = setInterval(() => {
      if (k >= r.positions.length) {
        clearInterval(sliding);
        let worst = 0;
        r.probabilities.forEach((p, i) => {
          if (p < r.probabilities[worst]) worst = i;
        });
        place(worst);
        patchBox.dataset.done = "true";
        return;
      }
      place(k);
      k += Math.max(1, Math.round(r.positions.length / 120)); // about 2 s whatever the count
    }, 16);
    patchBox.dataset.done = "false";
  }

  function refresh() {
    layout();
    if (!isOpen || !input) return;
    const rows = [];
    for (let y = 0; y < input.H; y++) {
      const row = [];
      for (let x = 0; x < input.W; x++) {
        if (input.C === 1) row.push(input.data[y * input.W + x]);
        else row.push([0, 1, 2].map((c) => input.data[(c * input.H + y) * input.W + x]));
      }
      rows.push(row);
    }
    const body = {
      image: rows,
      preprocess: "none",
      method: method.value,
      randomize: Number(random.value),
      encoding: "base64",
    };
    if (cls.value !== "") body.class = Number(cls.value);
    if (method.value === "gradcam") body.layer = layer.value;
    if (method.value === "occlusion") {
      body.patch = Number(patch.value);
      body.stride = Math.max(1, Number(patch.value) / 2);
    }
    request(body).then(
      (r) => {
        if (!r) return; // superseded by a newer request
        last = r;
        paintMap(r);
        container.dataset.rendered = String(Number(container.dataset.rendered || 0) + 1);
      },
      (e) => onError(`Why this answer: ${e.message}`),
    );
  }

  for (const c of [method, cls, layer, patch, random]) c.addEventListener("change", refresh);
  random.addEventListener("input", layout);
  layout();

  return {
    show(next) {
      input = next;
      if (input) paintInput();
      refresh();
    },
    open(flag) {
      isOpen = flag;
      refresh();
    },
    last: () => last,
  };
}
