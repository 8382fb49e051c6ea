/**
 * The guided tour's steps as data: what each one says about the CURRENT input (with its real
 * numbers), which layers and panels it spotlights, and which unit it pins.  No DOM.
 *
 * buildTour(model) → [{id, title, layers: [names], panels: ["seen"|"detail"], pin(ctx) → unit|null,
 *   text(ctx, unit) → [paragraphs], figure?(ctx) → {caption, rows}}]
 * ctx = {model, tensors (list in layer order, tensor.js), weights (Map), explain(li, unit)}.
 * Layers are found by op and order (the 1st conv, the activation after it, the pool after that, …);
 * a step whose layers the model lacks is left out, so a network of another shape gets a shorter tour,
 * not a wrong one.  The ReLU and max-pool steps explain those two operations by name, so they are
 * shown only for a ReLU (kind "relu") and a pool that reduces by max.
 */
import { at } from "./core/tensor.js";

const f = (v, d = 2) => Number(v).toFixed(d);
const n = (v) => Number(v).toLocaleString("en");

/** Index of the largest value in channel-major data, as a unit of `t`. */
function argmax(t, channel = null) {
  let best = -Infinity,
    bi = 0;
  const from = channel === null ? 0 : channel * t.H * t.W;
  const to = channel === null ? t.data.length : from + t.H * t.W;
  for (let i = from; i < to; i++)
    if (t.data[i] > best) {
      best = t.data[i];
      bi = i;
    }
  const c = Math.floor(bi / (t.H * t.W)),
    r = bi % (t.H * t.W);
  return { layer: t.name, c, y: Math.floor(r / t.W), x: r % t.W };
}

function argmin(t) {
  let best = Infinity,
    bi = 0;
  for (let i = 0; i < t.data.length; i++)
    if (t.data[i] < best) {
      best = t.data[i];
      bi = i;
    }
  const c = Math.floor(bi / (t.H * t.W)),
    r = bi % (t.H * t.W);
  return { c, y: Math.floor(r / t.W), x: r % t.W };
}

/** An 8×8 window of the input around the ink's centre of mass: {top, left}. */
function inkWindow(t) {
  let sy = 0,
    sx = 0,
    s = 0;
  for (let y = 0; y < t.H; y++)
    for (let x = 0; x < t.W; x++) {
      const v = at(t, 0, y, x);
      sy += v * y;
      sx += v * x;
      s += v;
    }
  const cy = s ? Math.round(sy / s) : t.H / 2,
    cx = s ? Math.round(sx / s) : t.W / 2;
  return { top: Math.max(0, Math.min(t.H - 8, cy - 4)), left: Math.max(0, Math.min(t.W - 8, cx - 4)) };
}

/** The model's layers located by op: {input, s1: {conv, relu, pool}, s2, flatten, dense[], softmax}. */
function locate(model) {
  const L = model.layers;
  const first = (op, from = 0) => {
    const j = L.findIndex((d, k) => k >= from && d.op === op);
    return j >= 0 ? j : null;
  };
  const convs = L.map((d, i) => (d.op === "conv" ? i : -1)).filter((i) => i >= 0);
  const stage = (ci) => {
    if (ci === undefined) return null;
    const next = L[ci + 1];
    const act = next && next.op === "activation" && next.kind === "relu" ? ci + 1 : null;
    const p = first("pool", ci + 1);
    const pool = p !== null && p <= ci + 2 && L[p].reduce === "max" ? p : null;
    return { conv: ci, relu: act, pool };
  };
  const flat = first("flatten");
  const afterFlatten = (d, i) => flat !== null && i > flat && (d.op === "dense" || d.op === "activation");
  return {
    input: 0,
    s1: stage(convs[0]),
    s2: stage(convs[1]),
    flatten: flat,
    dense: L.map((d, i) => (afterFlatten(d, i) ? i : -1)).filter((i) => i >= 0),
    softmax: first("softmax"),
  };
}

export function buildTour(model) {
  const L = model.layers;
  const at_ = locate(model);
  const ctx = { L, at_, name: (i) => L[i].name, T: (c, i) => c.tensors[i] };
  const steps = [];
  for (const add of [inputStep, firstStage, secondStage, flattenStep, denseStep, softmaxStep])
    add(steps, ctx);
  return steps;
}

/** The input as a grid of numbers. */
function inputStep(steps, { name, T }) {
  steps.push({
    id: "input",
    title: "The input is a grid of numbers",
    layers: [name(0)],
    panels: ["seen"],
    pin: (ctx) => {
      const t = T(ctx, 0),
        { top, left } = inkWindow(t);
      let best = { layer: t.name, c: 0, y: top, x: left };
      for (let y = top; y < top + 8; y++)
        for (let x = left; x < left + 8; x++)
          if (at(t, 0, y, x) > at(t, 0, best.y, best.x)) best = { ...best, y, x };
      return best;
    },
    figure: (ctx) => {
      const t = T(ctx, 0),
        { top, left } = inkWindow(t);
      const rows = [];
      for (let y = top; y < top + 8; y++)
        rows.push(Array.from({ length: 8 }, (_, k) => at(t, 0, y, left + k)));
      return { caption: `rows ${top}–${top + 7}, columns ${left}–${left + 7} of the input`, rows };
    },
    text: (ctx, u) => {
      const t = T(ctx, 0);
      return [
        `A computer does not see a picture: it gets ${t.H} × ${t.W} = ${n(t.H * t.W)} numbers, one per pixel, ` +
          "from 0 (black) to 1 (white ink). The table shows an 8×8 piece of that grid from the middle of the digit.",
        `Everything that follows is arithmetic on these numbers. The pinned pixel (row ${u.y}, column ${u.x}) is the brightest in the table: ${f(at(t, 0, u.y, u.x))}.`,
      ];
    },
  });
}

/** The first conv, its feature maps, its ReLU and its max-pool. */
function firstStage(steps, { L, at_, name, T }) {
  const s1 = at_.s1;
  if (s1) {
    const c1 = L[s1.conv];
    const [kh, kw] = c1.window.kernel;
    steps.push({
      id: "conv",
      title: "A filter slides over the image",
      layers: [name(0), name(s1.conv)],
      panels: ["detail", "seen"],
      pin: (ctx) => argmax(T(ctx, s1.conv)),
      text: (ctx, u) => {
        const x = ctx.explain(s1.conv, u);
        return [
          `${c1.name} owns ${c1.output_shape[0]} filters. Each is a ${kh}×${kw} grid of weights that training chose. ` +
            `To compute one output number, the filter is laid over a ${kh}×${kw} patch of the input; each pixel is multiplied by the weight on top of it and the ${kh * kw} products are added up, plus a bias.`,
          `The pinned unit is map ${u.c}, row ${u.y}, column ${u.x}: products add up to ${f(x.sum, 3)}, plus bias ${f(x.bias, 3)}, giving ${f(x.computed, 3)}. ` +
            "The arithmetic panel lists the patch, the kernel and every product.",
          `Then the filter moves one pixel to the right and does the same again, row after row: ${L[0].output_shape[1]} − ${kh} + 1 = ${c1.output_shape[1]} positions in each direction.`,
        ];
      },
    });
    steps.push({
      id: "featuremap",
      title: "The results form a feature map",
      layers: [name(s1.conv)],
      panels: [],
      pin: (ctx) => argmax(T(ctx, s1.conv)),
      text: (ctx) => {
        const t = T(ctx, s1.conv);
        return [
          `Writing the result of every position into a grid gives a feature map of ${t.H}×${t.W} numbers. One filter, one map: ${t.C} filters give the ${t.C} maps shown here.`,
          `Red marks places where the patch looks like the filter (positive), blue where it looks like its opposite (negative); this input's values run from ${f(t.min)} to ${f(t.max)}. ` +
            `All positions share the same weights, so the whole layer needs only ${c1.params_formula || n(c1.params)} parameters.`,
        ];
      },
    });
    if (s1.relu !== null) {
      steps.push({
        id: "relu",
        title: "ReLU sets negatives to zero",
        layers: [name(s1.conv), name(s1.relu)],
        panels: ["detail"],
        pin: (ctx) => ({ layer: name(s1.relu), ...argmin(T(ctx, s1.conv)) }),
        text: (ctx, u) => {
          const t = T(ctx, s1.conv);
          let neg = 0;
          for (const v of t.data) if (v < 0) neg++;
          return [
            "ReLU (rectified linear unit) looks at each number on its own: a negative number becomes 0, a positive one passes unchanged. In symbols, max(0, x).",
            `The pinned unit was ${f(at(t, u.c, u.y, u.x), 3)} in ${t.name} and is ${f(at(T(ctx, s1.relu), u.c, u.y, u.x), 3)} after ReLU. ` +
              `Here ${n(neg)} of the ${n(t.data.length)} values (${Math.round((100 * neg) / t.data.length)} %) were negative and are now zero: the blue is gone.`,
            "Without this bend, stacking layers would only ever compute one big linear function.",
          ];
        },
      });
    }
    if (s1.pool !== null) {
      const p = L[s1.pool];
      steps.push({
        id: "pool",
        title: "Max-pooling keeps the largest of each 2×2",
        layers: [name(s1.pool - 1), name(s1.pool)],
        panels: ["detail"],
        pin: (ctx) => argmax(T(ctx, s1.pool)),
        text: (ctx, u) => [
          `Pooling cuts each map into ${p.window.kernel.join("×")} blocks and keeps only the largest number of each block, so ${L[s1.pool - 1].output_shape.slice(1).join("×")} becomes ${p.output_shape.slice(1).join("×")}.`,
          `The pinned unit keeps ${f(at(T(ctx, s1.pool), u.c, u.y, u.x), 3)}, the winner of its block (green in the arithmetic panel). ` +
            "A stroke that moves by a pixel often keeps the same winner, so the network cares less about exact positions; and there are four times fewer numbers to process.",
        ],
      });
    }
  }
}

/** The second conv, and its ReLU and pool together. */
function secondStage(steps, { L, at_, name, T }) {
  const s1 = at_.s1,
    s2 = at_.s2;
  if (s2) {
    const c2 = L[s2.conv];
    steps.push({
      id: "conv2",
      title: "The second convolution combines maps",
      layers: [name(s2.conv - 1), name(s2.conv)],
      panels: ["detail"],
      pin: (ctx) => argmax(T(ctx, s2.conv)),
      text: (ctx, u) => {
        const x = ctx.explain(s2.conv, u);
        const cin = c2.input_shape[0];
        return [
          `${c2.name} works like ${L[s1.conv].name}, but its input is ${cin} maps, not one image. Each of its ${c2.output_shape[0]} filters holds one ${c2.window.kernel.join("×")} kernel per input map and adds all ${cin} partial sums together.`,
          `So it can react to combinations, such as a stroke in one map next to a curve in another. The pinned unit sums ${x.channels.length} channels to ${f(x.sum, 3)}, plus bias ${f(x.bias, 3)} = ${f(x.computed, 3)} (scroll the arithmetic panel for every channel).`,
          `Parameters: ${c2.params_formula || n(c2.params)}.`,
        ];
      },
    });
    if (s2.pool !== null) {
      const p2 = L[s2.pool];
      steps.push({
        id: "pool2",
        title: "ReLU and pooling once more",
        layers: [s2.relu !== null ? name(s2.relu) : name(s2.conv), name(s2.pool)],
        panels: ["detail", "seen"],
        pin: (ctx) => argmax(T(ctx, s2.pool)),
        text: () => [
          `The same two steps repeat: ReLU clears the negatives and pooling halves each side, leaving ${p2.output_shape.join("×")} = ${n(p2.output_shape.reduce((a, b) => a * b, 1))} numbers.`,
          `Each of them now depends on a ${p2.receptive_field.size.join("×")} region of the input (its receptive field, the yellow box on the input), much larger than the ${L[s1.conv].window.kernel.join("×")} patch of one first-layer filter.`,
        ],
      });
    }
  }
}

/** Flatten. */
function flattenStep(steps, { L, at_, name, T }) {
  if (at_.flatten !== null) {
    const fl = L[at_.flatten];
    steps.push({
      id: "flatten",
      title: "Flatten: maps become one long list",
      layers: [name(at_.flatten - 1), name(at_.flatten)],
      panels: ["detail"],
      pin: (ctx) => ({ ...argmax(T(ctx, at_.flatten)), y: 0, x: 0 }),
      text: () => [
        `Flatten computes nothing. It reads the ${L[at_.flatten - 1].output_shape.join("×")} numbers out one after another and lines them up as a single list of ${n(fl.output_shape[0])}.`,
        "From here on the network no longer keeps track of where in the picture a number came from, which is why the convolution layers had to find the shapes first.",
      ],
    });
  }
}

/** The dense layers. */
function denseStep(steps, { L, at_, name, T }) {
  const dense = at_.dense.filter((i) => L[i].op === "dense");
  if (dense.length) {
    const last = dense[dense.length - 1];
    steps.push({
      id: "dense",
      title: "Dense layers weigh all the evidence",
      layers: at_.dense.map(name),
      panels: ["detail"],
      pin: (ctx) => argmax(T(ctx, last)),
      text: (ctx, u) => [
        `In a dense (fully connected) layer every unit reads every number of the previous layer, multiplies each by its own weight and adds them up plus a bias. ` +
          dense
            .map(
              (i) =>
                `${L[i].name}: ${L[i].input_shape[0]} → ${L[i].output_shape[0]} (${n(L[i].params)} parameters)`,
            )
            .join("; ") +
          ".",
        `The last one gives ${L[last].output_shape[0]} scores, one per digit. The highest is ${f(at(T(ctx, last), u.c), 2)} for digit ${u.c}; the arithmetic panel shows its biggest contributions.`,
      ],
    });
  }
}

/** The softmax. */
function softmaxStep(steps, { at_, name, T }) {
  if (at_.softmax !== null) {
    steps.push({
      id: "softmax",
      title: "Softmax turns scores into probabilities",
      layers: [name(at_.softmax - 1), name(at_.softmax)],
      panels: ["detail"],
      pin: (ctx) => argmax(T(ctx, at_.softmax)),
      text: (ctx, u) => {
        const p = at(T(ctx, at_.softmax), u.c);
        return [
          "Scores can be any size and sign. Softmax raises e to the power of each score, then divides each result by their total, so the ten numbers are positive and add up to 1.",
          `A bigger score always means a bigger share. Here digit ${u.c} gets probability ${f(p, 4)} (${f(100 * p, 1)} %): that is the network's answer. ` +
            "Draw another digit and take the tour again: the numbers in every step will change.",
        ];
      },
    });
  }
}
