/**
 * Activations as flat typed arrays, checked against the shapes the model declares.  No DOM.
 *
 * A tensor is {name, kind, shape, data: Float32Array (row-major), min, max, chMin, chMax,
 * winners: Int32Array | null}.  Maps have shape [C, H, W]; vectors [N] (treated as C=N, H=W=1
 * where a unit address {c, y, x} is needed).
 */

export function flatten(nested, shape, what) {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  let n = 0;
  const walk = (v, depth) => {
    if (depth === shape.length) { out[n++] = v; return; }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new Error(`${what}: expected length ${shape[depth]} at depth ${depth} of shape [${shape}], ` +
        `got ${Array.isArray(v) ? v.length : typeof v}`);
    }
    for (const x of v) walk(x, depth + 1);
  };
  walk(nested, 0);
  return out;
}

const sameShape = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

/** One layer entry of /api/forward → tensor; throws if it disagrees with the model's shape. */
export function toTensor(entry, expectedShape) {
  if (expectedShape && !sameShape(entry.shape, expectedShape)) {
    throw new Error(`layer ${entry.name}: response shape [${entry.shape}] ≠ model shape [${expectedShape}]`);
  }
  const data = flatten(entry.data, entry.shape, `layer ${entry.name}`);
  const [C, H = 1, W = 1] = entry.shape.length === 3 ? entry.shape : [entry.shape[0], 1, 1];
  const chMin = new Float32Array(C).fill(Infinity);
  const chMax = new Float32Array(C).fill(-Infinity);
  let min = Infinity;
  let max = -Infinity;
  for (let c = 0; c < C; c++) {
    for (let i = c * H * W; i < (c + 1) * H * W; i++) {
      const v = data[i];
      if (v < chMin[c]) chMin[c] = v;      // independent tests, never `else if`
      if (v > chMax[c]) chMax[c] = v;
    }
    if (chMin[c] < min) min = chMin[c];
    if (chMax[c] > max) max = chMax[c];
  }
  const winners = entry.winners ? Int32Array.from(flatten(entry.winners, entry.shape, `winners of ${entry.name}`)) : null;
  return { name: entry.name, kind: entry.kind, shape: entry.shape, C, H, W, data, min, max, chMin, chMax, winners };
}

/** The whole forward response → {input: tensor, byName: Map, list: [tensors in layer order]}. */
export function parseForward(response, model) {
  const described = model.layers;
  if (response.layers.length !== described.length - 1) {
    throw new Error(`forward returned ${response.layers.length} layers, the model has ${described.length - 1} after the input`);
  }
  const input = toTensor({ name: described[0].name, kind: "input", ...response.input }, described[0].output_shape);
  const list = [input];
  response.layers.forEach((entry, i) => {
    const d = described[i + 1];
    if (entry.name !== d.name || entry.kind !== d.kind) {
      throw new Error(`forward layer ${i + 1} is ${entry.name}/${entry.kind}, the model says ${d.name}/${d.kind}`);
    }
    list.push(toTensor(entry, d.output_shape));
  });
  return { input, list, byName: new Map(list.map((t) => [t.name, t])) };
}

export const at = (t, c, y = 0, x = 0) => t.data[(c * t.H + y) * t.W + x];

/** Shift a (1, H, W) input by (dy, dx) pixels, zero-filling; returns nested rows [H][W]. */
export function shiftedRows(t, dy, dx) {
  const rows = [];
  for (let y = 0; y < t.H; y++) {
    const row = new Array(t.W).fill(0);
    const sy = y - dy;
    if (sy >= 0 && sy < t.H) {
      for (let x = 0; x < t.W; x++) {
        const sx = x - dx;
        if (sx >= 0 && sx < t.W) row[x] = t.data[sy * t.W + sx];
      }
    }
    rows.push(row);
  }
  return rows;
}
