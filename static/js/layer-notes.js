/**
 * A few sentences beside each layer (CNN Explainer's layer notes): what this kind of layer does,
 * with this layer's own numbers (window, stride, padding, what a unit sees of the input), and what
 * its colours mean.  Pure: layerNote(desc, tourSteps, inputShape) → {title, paragraphs, tourStep | null},
 * where tourStep is the index of the first tour step that spotlights the layer.  No DOM.
 */

const times = (a) => a.join("×");
const plural = (n, word) => `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;

/** What one unit of the layer sees of the input, in words. */
function sees(desc, [H, W]) {
  const rf = desc.receptive_field;
  if (!rf || desc.op === "input") return "";
  const [h, w] = rf.size;
  if (desc.family === "vector" || (rf.jump && rf.jump[0] === 0))
    return "Each unit here depends on the whole input image.";
  const whole = H && W && h >= H && w >= W;
  return whole
    ? `Each unit here depends on the whole input image (its receptive field, ${h}×${w}, covers it).`
    : `Each unit here depends on a ${h}×${w} patch of the input image (its receptive field; hover a unit to see it).`;
}

function windowWords(win) {
  const [kh, kw] = win.kernel;
  const parts = [`a ${kh}×${kw} window`];
  const [sy, sx] = win.stride;
  parts.push(
    sy === 1 && sx === 1
      ? "moved one unit at a time"
      : `moved ${sy === sx ? sy : times(win.stride)} units at a time`,
  );
  const pad = win.pad || [0, 0, 0, 0];
  if (pad.some(Boolean)) {
    parts.push(
      pad.every((p) => p === pad[0])
        ? `over a border of ${pad[0]} zero${pad[0] === 1 ? "" : "s"}`
        : `over zero padding (top, bottom, left, right: ${pad.join(", ")})`,
    );
  }
  if (win.dilation && win.dilation.some((d) => d > 1))
    parts.push(`its taps ${times(win.dilation)} apart (dilation)`);
  return parts.join(", ");
}

// in words that hold for every palette (classic, projector, colour-blind safe): the legend names the colours
const COLOURS = {
  diverging:
    "Colours: a two-sided scale (the legend under the layer): zero in the middle, negative values on one side, positive on the other; each layer is scaled to its own range unless the Colour range menu says otherwise.",
  sequential:
    "Colours: a one-sided scale (the legend under the layer) that starts at zero, since no value here is below zero; the further along the scale, the larger.",
  gray: "Colours: black is 0, white is 1, as the network receives the image.",
};

const ACTIVATIONS = {
  relu: "keeps every positive value and turns every negative one into 0",
  leaky_relu: "keeps positive values and scales negative ones down by a small factor",
  sigmoid: "squashes every value into the range 0 to 1 (1 / (1 + e^−x))",
  tanh: "squashes every value into the range −1 to 1",
  lecun_tanh: "squashes every value with LeCun's scaled tanh, 1.7159 · tanh(2x/3)",
  elu: "keeps positive values and bends negative ones smoothly towards −1",
  softplus: "is a smooth ReLU, log(1 + e^x): never negative, never exactly zero",
  dropout: "passes every value through unchanged (dropout only switches units off while training)",
};

const RULES = {
  input: (d) => [
    `The image the network is given: ${plural(
      d.output_shape.reduce((a, b) => a * b, 1),
      "number",
    )} (${times(d.output_shape)}), one per pixel${d.output_shape[0] === 3 ? " and colour" : ""}, after the preprocessing that centres and scales a drawing.`,
    COLOURS.gray,
  ],
  conv: (d, net) => {
    const [cin] = d.input_shape;
    const [cout, H, W] = d.output_shape;
    return [
      `A convolution: each of its ${plural(cout, "filter")} slides ${windowWords(d.window)} over ${cin === 1 ? "the input" : `all ${cin} input maps at once`}. At every position it multiplies the ${cin > 1 ? `${cin} windows` : "window"} by its weights, adds the products up and adds its bias: one number of one output map. ${cout} filters give ${cout} maps of ${H}×${W}; it has ${plural(d.params, "learned parameter")}.`,
      sees(d, net),
      COLOURS.diverging,
    ];
  },
  activation: (d, net) => [
    `An activation: it ${ACTIVATIONS[d.kind] || `applies ${d.kind} to each value`}, one unit at a time; nothing is learned and the ${d.family === "map" ? "maps keep their size" : "column keeps its length"}. Without it, stacked layers would add up to a single linear one.`,
    sees(d, net),
    d.kind === "relu" || d.kind === "softplus" || d.kind === "sigmoid"
      ? COLOURS.sequential
      : COLOURS.diverging,
  ],
  affine: (d) =>
    d.kind === "batchnorm"
      ? [
          `Batch normalisation: each of the ${d.output_shape[0]} channels is shifted and scaled by numbers fixed in training (the channel's mean and variance, then a learned scale γ and offset β), so every map arrives at a similar range. Click a unit for its steps.`,
          COLOURS.diverging,
        ]
      : [
          "Input normalisation: fixed per-channel arithmetic (subtract, divide…) that the model was trained with, applied to the image before the first layer. Click a unit for its steps.",
          COLOURS.diverging,
        ],
  pool: (d, net) => {
    const how =
      { max: "the largest value", mean: "the average", l2: "the root of the sum of squares" }[d.reduce] ||
      "a summary";
    const [, H, W] = d.input_shape;
    const [, h, w] = d.output_shape;
    if (!d.window || (h === 1 && w === 1)) {
      return [
        `Global pooling: each of the ${d.output_shape[0]} maps of ${H}×${W} becomes one number, ${how} of the whole map. Nothing is learned.`,
        COLOURS.sequential,
      ];
    }
    return [
      `Pooling: each output unit is ${how} of ${windowWords(d.window)}, so each map shrinks from ${H}×${W} to ${h}×${w}. Nothing is learned; small shifts of the input change the result less.${d.reduce === "max" ? " Hover a unit to see which input won." : ""}`,
      sees(d, net),
      COLOURS.sequential,
    ];
  },
  flatten: (d) => [
    `Flatten: the ${times(d.input_shape)} maps are laid out as one column of ${d.output_shape[0]} numbers, map after map, row after row, so the dense layers can read them. Nothing is computed.`,
    COLOURS.sequential,
  ],
  dense: (d, net) => [
    `A dense (fully connected) layer: each of its ${plural(d.output_shape[0], "unit")} multiplies every one of the ${d.input_shape.reduce((a, b) => a * b, 1)} inputs by its own weight, adds them and a bias (${plural(d.params, "learned parameter")}). Hover a unit to see the inputs that push it most.`,
    sees(d, net),
    COLOURS.diverging,
  ],
  softmax: (d) => [
    `Softmax: it turns the ${d.output_shape[0]} scores of the layer before into probabilities, e^score divided by the sum of all of them, so they are positive and add up to 1. The largest is the network's answer; click a bar to see the arithmetic.`,
  ],
};

export function layerNote(desc, tourSteps = [], inputShape = [1, 32, 32]) {
  const net = inputShape.slice(-2); // the network input's height and width
  const rule = RULES[desc.op];
  const paragraphs = rule
    ? rule(desc, net).filter(Boolean)
    : [
        `A ${desc.kind} layer: ${times(desc.input_shape)} in, ${times(desc.output_shape)} out.`,
        sees(desc, net),
      ].filter(Boolean);
  const tourStep = tourSteps.findIndex((s) => s.layers.includes(desc.name));
  return { title: `${desc.name} · ${desc.kind}`, paragraphs, tourStep: tourStep >= 0 ? tourStep : null };
}
