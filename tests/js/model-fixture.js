// A tiny network described the way GET /api/model describes one, with tensors built the way
// /api/forward sends them, for the arithmetic and hover tests.  Numbers are small integers so the
// expected values below can be worked out by hand.
import { toTensor } from "../../static/js/core/tensor.js";

export const INPUT = [
  [
    [1, 2, 0, 1, 3],
    [0, 1, 4, 2, 1],
    [2, 0, 1, 0, 2],
    [1, 3, 0, 2, 0],
    [0, 1, 2, 1, 1],
  ],
  [
    [0, 1, 0, 2, 1],
    [1, 0, 1, 0, 0],
    [2, 1, 0, 1, 3],
    [0, 0, 2, 1, 0],
    [1, 2, 1, 0, 2],
  ],
];
// conv: 2 output maps, 3×3 kernels, stride 2, pad 1 all round → 3×3 maps; map 0 reads only input 0
export const KERNEL = [
  [
    [
      [1, 0, -1],
      [2, 0, -2],
      [1, 0, -1],
    ],
    [
      [9, 9, 9],
      [9, 9, 9],
      [9, 9, 9],
    ], // never read: connections[0][1] = 0
  ],
  [
    [
      [0, 1, 0],
      [1, -4, 1],
      [0, 1, 0],
    ],
    [
      [1, 1, 1],
      [0, 0, 0],
      [-1, -1, -1],
    ],
  ],
];
export const BIAS = [0.5, -1];

const win = (k, s, p, d = 1) => ({ kernel: [k, k], stride: [s, s], pad: [p, p, p, p], dilation: [d, d] });
const rf = { size: [1, 1], jump: [1, 1], offset: [0, 0] };

export function tinyModel(reduce = "max") {
  const kind = { max: "maxpool", mean: "avgpool", l2: "l2pool" }[reduce];
  const layer = (name, kind_, op, family, input, output, extra = {}) => ({
    name,
    kind: kind_,
    op,
    family,
    input_shape: input,
    output_shape: output,
    params: 0,
    receptive_field: rf,
    window: null,
    inputs: [],
    ...extra,
  });
  const layers = [
    layer("input", "input", "input", "map", [2, 5, 5], [2, 5, 5]),
    layer("conv", "conv", "conv", "map", [2, 5, 5], [2, 3, 3], {
      window: win(3, 2, 1),
      connections: [
        [1, 0],
        [1, 1],
      ],
      params: 38,
    }),
    layer("relu", "relu", "activation", "map", [2, 3, 3], [2, 3, 3]),
    layer("pool", kind, "pool", "map", [2, 3, 3], [2, 2, 2], { window: win(2, 2, 0), reduce }),
    layer("flatten", "flatten", "flatten", "vector", [2, 2, 2], [8]),
    layer("fc", "dense", "dense", "vector", [8], [3], { params: 27 }),
    layer("relu_fc", "relu", "activation", "vector", [3], [3]),
    layer("softmax", "softmax", "softmax", "vector", [3], [3]),
  ];
  layers.forEach((d, i) => {
    d.inputs = i ? [layers[i - 1].name] : []; // a chain: each layer reads the one before
  });
  return { name: "tiny", input_shape: [2, 5, 5], layers };
}

export const FC_W = [
  [1, -1, 0, 2, 0, 0, 1, 0],
  [0, 0.5, 1, 0, -1, 0, 0, 3],
  [-2, 0, 0, 0, 1, 1, 1, -1],
];
export const FC_B = [0, 1, -0.5];

/** Independent forward pass: conv by the textbook (zero-padded copy), then the rest. */
export function forwardByHand(model) {
  const padded = INPUT.map((ch) => {
    const rows = [new Array(7).fill(0)];
    for (const r of ch) rows.push([0, ...r, 0]);
    rows.push(new Array(7).fill(0));
    return rows;
  });
  const conn = model.layers[1].connections;
  const conv = [0, 1].map((o) =>
    [0, 1, 2].map((y) =>
      [0, 1, 2].map((x) => {
        let s = BIAS[o];
        for (let i = 0; i < 2; i++) {
          if (!conn[o][i]) continue;
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) s += padded[i][2 * y + ky][2 * x + kx] * KERNEL[o][i][ky][kx];
        }
        return s;
      }),
    ),
  );
  const relu = conv.map((m) => m.map((r) => r.map((v) => Math.max(0, v))));
  const reduce = model.layers[3].reduce;
  const winners = [];
  const pool = relu.map((m, c) => {
    winners.push([]);
    return [0, 1].map((y) => {
      winners[c].push([]);
      return [0, 1].map((x) => {
        const cells = [];
        for (let dy = 0; dy < 2; dy++)
          for (let dx = 0; dx < 2; dx++) {
            const iy = 2 * y + dy,
              ix = 2 * x + dx;
            if (iy < 3 && ix < 3) cells.push({ v: m[iy][ix], flat: iy * 3 + ix });
          }
        let best = cells[0];
        for (const cell of cells) if (cell.v > best.v) best = cell;
        winners[c][y].push(reduce === "max" ? best.flat : -1);
        const sum = cells.reduce((a, cell) => a + cell.v, 0);
        if (reduce === "max") return best.v;
        if (reduce === "mean") return sum / 4; // count_include_pad: the window's area
        return Math.sqrt(cells.reduce((a, cell) => a + cell.v * cell.v, 0));
      });
    });
  });
  const flat = pool.flat(2);
  const fc = FC_W.map((row, u) => row.reduce((a, w, j) => a + w * flat[j], FC_B[u]));
  const reluFc = fc.map((v) => Math.max(0, v));
  const m = Math.max(...reluFc);
  const e = reluFc.map((z) => Math.exp(z - m));
  const softmax = e.map((v) => v / e.reduce((a, b) => a + b, 0));
  return { conv, relu, pool, winners, flat, fc, reluFc, softmax };
}

/** The hand-made forward pass as the page's tensors (layer order) and weights map. */
export function tensorsAndWeights(model) {
  const f = forwardByHand(model);
  const L = model.layers;
  const entry = (i, data, extra = {}) =>
    toTensor({ name: L[i].name, kind: L[i].kind, shape: L[i].output_shape, data, ...extra }, L[i]);
  const tensors = [
    entry(0, INPUT),
    entry(1, f.conv),
    entry(2, f.relu),
    entry(3, f.pool, L[3].reduce === "max" ? { winners: f.winners } : {}),
    entry(4, f.flat),
    entry(5, f.fc),
    entry(6, f.reluFc),
    entry(7, f.softmax),
  ];
  const weights = new Map([
    [
      "conv",
      {
        name: "conv",
        shape: [2, 2, 3, 3],
        weight: Float32Array.from(KERNEL.flat(3)),
        bias: Float32Array.from(BIAS),
        inputs: 18,
      },
    ],
    [
      "fc",
      {
        name: "fc",
        shape: [3, 8],
        weight: Float32Array.from(FC_W.flat()),
        bias: Float32Array.from(FC_B),
        inputs: 8,
      },
    ],
  ]);
  return { tensors, weights, hand: f };
}
