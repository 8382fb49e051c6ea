// Kernel presets and kernel arithmetic for the kernel lab (pure data and maths, no DOM).
// A kernel is {values: number[k][k], text: string[k][k]}: `text` is what the grid shows (fractions
// like "1/16" stay fractions), `values` the numbers sent to the server.

const MIN_SIZE = 1;
export const MAX_SIZE = 11;

const outer = (a, b, den) => a.map((x) => b.map((y) => `${x * y}/${den}`));

// [id, name, explanation, rows]. Rows hold numbers or fraction strings.
const TABLE = [
  [
    "identity",
    "Identity",
    "A single 1 in the middle: every output pixel copies its input pixel.",
    [
      [0, 0, 0],
      [0, 1, 0],
      [0, 0, 0],
    ],
  ],
  [
    "edge1",
    "Edge detector 1 (diagonal)",
    "Corner weights of opposite sign: responds to diagonal edges and crossings, flat areas give 0.",
    [
      [1, 0, -1],
      [0, 0, 0],
      [-1, 0, 1],
    ],
  ],
  [
    "edge2",
    "Edge detector 2 (4-neighbour)",
    "Centre minus its four neighbours: lights up wherever brightness changes, in any direction.",
    [
      [0, -1, 0],
      [-1, 4, -1],
      [0, -1, 0],
    ],
  ],
  [
    "edge3",
    "Edge detector 3 (8-neighbour)",
    "Centre minus all eight neighbours: a stronger, more isotropic edge response.",
    [
      [-1, -1, -1],
      [-1, 8, -1],
      [-1, -1, -1],
    ],
  ],
  [
    "sobel_x",
    "Sobel x",
    "Horizontal brightness gradient, smoothed vertically: finds vertical edges (sign tells dark→light or light→dark).",
    [
      [-1, 0, 1],
      [-2, 0, 2],
      [-1, 0, 1],
    ],
  ],
  [
    "sobel_y",
    "Sobel y",
    "Vertical brightness gradient, smoothed horizontally: finds horizontal edges.",
    [
      [-1, -2, -1],
      [0, 0, 0],
      [1, 2, 1],
    ],
  ],
  [
    "prewitt_x",
    "Prewitt x",
    "Like Sobel x with equal weights in each column: a plainer horizontal gradient.",
    [
      [-1, 0, 1],
      [-1, 0, 1],
      [-1, 0, 1],
    ],
  ],
  [
    "prewitt_y",
    "Prewitt y",
    "Like Sobel y with equal weights in each row: a plainer vertical gradient.",
    [
      [-1, -1, -1],
      [0, 0, 0],
      [1, 1, 1],
    ],
  ],
  [
    "laplacian",
    "Laplacian",
    "The second derivative: neighbours minus four times the centre; zero on flat areas and linear ramps.",
    [
      [0, 1, 0],
      [1, -4, 1],
      [0, 1, 0],
    ],
  ],
  [
    "box3",
    "Box blur 3×3",
    "The plain average of the 3×3 neighbourhood: a simple blur.",
    Array.from({ length: 3 }, () => Array(3).fill("1/9")),
  ],
  [
    "box5",
    "Box blur 5×5",
    "The plain average of the 5×5 neighbourhood: a stronger, blockier blur.",
    Array.from({ length: 5 }, () => Array(5).fill("1/25")),
  ],
  [
    "gauss3",
    "Gaussian blur 3×3",
    "Weights fall off from the centre (1/16·[1 2 1]ᵀ[1 2 1]): a soft blur without box artefacts.",
    outer([1, 2, 1], [1, 2, 1], 16),
  ],
  [
    "gauss5",
    "Gaussian blur 5×5",
    "Binomial weights 1/256·[1 4 6 4 1]ᵀ[1 4 6 4 1]: a wider, smooth blur.",
    outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1], 256),
  ],
  [
    "sharpen",
    "Sharpen",
    "The pixel plus its difference from the 4 neighbours: exaggerates local contrast.",
    [
      [0, -1, 0],
      [-1, 5, -1],
      [0, -1, 0],
    ],
  ],
  [
    "unsharp5",
    "Unsharp mask 5×5",
    'Twice the image minus its Gaussian blur: the photographer\'s sharpening, gentler than "Sharpen".',
    unsharp(),
  ],
  [
    "emboss",
    "Emboss",
    "A diagonal gradient plus the pixel itself: the image looks lit from the top-left, like a relief.",
    [
      [-2, -1, 0],
      [-1, 1, 1],
      [0, 1, 2],
    ],
  ],
  [
    "outline",
    "Outline",
    "Same weights as edge detector 3, the name image editors use: keeps outlines, drops flat areas.",
    [
      [-1, -1, -1],
      [-1, 8, -1],
      [-1, -1, -1],
    ],
  ],
];

function unsharp() {
  const g = [1, 4, 6, 4, 1];
  return g.map((a, i) =>
    g.map((b, j) => {
      const v = (i === 2 && j === 2 ? 512 : 0) - a * b; // 2·identity − Gaussian, over 256
      return `${v}/256`;
    }),
  );
}

export const PRESETS = TABLE.map(([id, name, explanation, rows]) => ({ id, name, explanation, rows }));

/** Parse one cell: a decimal ("-0.25", "1e-3") or a fraction ("1/16", "−3/4"). Throws on anything else. */
export function parseValue(text) {
  const s = String(text)
    .trim()
    .replace(/\u2212/g, "-");
  if (s === "") return 0;
  const num = "[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:e[+-]?\\d+)?";
  const m = new RegExp(`^(${num})(?:\\s*/\\s*(${num}))?$`, "i").exec(s);
  if (!m) throw new Error(`"${text}" is not a number or a fraction like 1/16`);
  const top = Number(m[1]);
  const value = m[2] === undefined ? top : top / Number(m[2]);
  if (!Number.isFinite(value)) throw new Error(`"${text}" is not a finite number`);
  return value;
}

function checkSquare(rows) {
  const k = rows.length;
  if (k < MIN_SIZE || k > MAX_SIZE || rows.some((r) => !Array.isArray(r) || r.length !== k)) {
    throw new Error(
      `a kernel must be square, ${MIN_SIZE}×${MIN_SIZE} to ${MAX_SIZE}×${MAX_SIZE}; got ${k} rows of lengths ${rows.map((r) => r.length)}`,
    );
  }
  return k;
}

/** Format a number for a cell: integers as is, others with up to 3 significant digits. */
function formatValue(v) {
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(3)));
}

/** Build a kernel from rows of numbers or fraction strings. */
function fromRows(rows) {
  checkSquare(rows);
  const text = rows.map((r) => r.map((c) => (typeof c === "number" ? formatValue(c) : String(c))));
  const values = rows.map((r) => r.map((c) => (typeof c === "number" ? c : parseValue(c))));
  return { values, text };
}

/** Build a kernel from exact numbers (e.g. trained weights): shows rounded text, keeps exact values. */
export function fromNumbers(values) {
  checkSquare(values);
  return { values: values.map((r) => r.slice()), text: values.map((r) => r.map(formatValue)) };
}

export function presetKernel(id, extra = []) {
  const p = [...PRESETS, ...extra].find((q) => q.id === id);
  if (!p) throw new Error(`unknown kernel preset ${id}`);
  return p.exact ? fromNumbers(p.rows) : fromRows(p.rows);
}

/** Presets from the trained network's conv1: weight {shape: [C_out, 1, k, k], data}. */
export function conv1Presets(weights) {
  const { shape, data } = weights.weight;
  if (shape.length !== 4 || shape[1] !== 1 || shape[2] !== shape[3]) {
    throw new Error(`conv1 weights must be (C_out, 1, k, k), got (${shape})`);
  }
  return data.map((filter, i) => ({
    id: `conv1_${i}`,
    name: `Trained conv1 filter ${i}`, // numbered from 0, as in the layer view, pins and the API
    exact: true,
    rows: filter[0],
    explanation: `Filter ${i} (of 0–${shape[0] - 1}) that the network learned in its first layer (bias left out).`,
  }));
}

/** Change the size to k×k keeping the centred overlap; new cells are 0. */
export function resize(kernel, k) {
  if (!Number.isInteger(k) || k < MIN_SIZE || k > MAX_SIZE)
    throw new Error(`kernel size must be ${MIN_SIZE}–${MAX_SIZE}, got ${k}`);
  const old = kernel.values.length;
  const shift = Math.floor((old - k) / 2);
  const pick = (grid, fill) =>
    Array.from({ length: k }, (_, y) =>
      Array.from({ length: k }, (_, x) => {
        const oy = y + shift;
        const ox = x + shift;
        return oy >= 0 && ox >= 0 && oy < old && ox < old ? grid[oy][ox] : fill;
      }),
    );
  return { values: pick(kernel.values, 0), text: pick(kernel.text, "0") };
}

export function setCell(kernel, y, x, text) {
  const value = parseValue(text); // throws before anything changes
  const values = kernel.values.map((r) => r.slice());
  const cells = kernel.text.map((r) => r.slice());
  values[y][x] = value;
  cells[y][x] = String(text).trim() || "0";
  return { values, text: cells };
}

export function sum(kernel) {
  return kernel.values.flat().reduce((a, b) => a + b, 0);
}

/** Scale so the weights sum to 1; a kernel summing to 0 (edge detectors) cannot be, and throws. */
export function normalise(kernel) {
  const s = sum(kernel);
  if (Math.abs(s) < 1e-12) throw new Error("the weights sum to 0, so they cannot be scaled to sum to 1");
  return fromNumbers(kernel.values.map((r) => r.map((v) => v / s)));
}

/** Rotate by 180° (flip both axes): turns this correlation into a true convolution and back. */
export function flip(kernel) {
  const rev = (g) =>
    g
      .slice()
      .reverse()
      .map((r) => r.slice().reverse());
  return { values: rev(kernel.values), text: rev(kernel.text) };
}

export function transpose(kernel) {
  const t = (g) => g[0].map((_, x) => g.map((r) => r[x]));
  return { values: t(kernel.values), text: t(kernel.text) };
}

/** Random integer weights in [-3, 3] (seeded `random` may be passed for tests). */
export function randomise(kernel, random = Math.random) {
  const k = kernel.values.length;
  return fromRows(
    Array.from({ length: k }, () => Array.from({ length: k }, () => Math.floor(random() * 7) - 3)),
  );
}
