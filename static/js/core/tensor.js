/**
 * Activations as flat typed arrays, checked against the shapes the model declares.  No DOM.
 *
 * A tensor is {name, kind, op, family, shape, C, H, W, data: Float32Array (row-major), min, max,
 * chMin, chMax, winners: Int32Array | null}; op and family come from the model's layer.  Maps have shape [C, H, W]; vectors [N] (treated as C=N, H=W=1
 * where a unit address {c, y, x} is needed).
 *
 * /api/forward arrays arrive either as nested lists ({shape, data}, the default JSON) or packed
 * ({shape, dtype, base64}: little-endian bytes, requested with "encoding": "base64"); both give the
 * same typed arrays here.  forwardAsJSON turns a packed response back into the default JSON shape.
 */

const PACKED = { float32: Float32Array, int32: Int32Array };
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const size = (shape) => shape.reduce((a, b) => a * b, 1);

/** The shortest decimal that reads back as the same float32, as the API's JSON writes it (ryu:
 * the nearest such decimal, an exact tie rounded to an even last digit; toPrecision rounds ties up). */
/**
 * A number for people: fixed with `digits` decimals, but scientific (4 significant digits) when it
 * is nonzero and under 0.01, so a small probability reads 3.217e-7, never 0.0000.
 */
export function numberText(v, digits = 4) {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 0.01) return v.toExponential(3);
  return v.toFixed(digits);
}

export function float32String(v) {
  if (!Number.isFinite(v)) return String(v);
  const x = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    let s = x.toPrecision(p);
    if (Math.fround(Number(s)) !== x) {
      // at a power of two the float32 below is twice as close: the nearest p-digit decimal may
      // miss on the low side while the next one up still reads back
      if (Math.abs(x) !== 2 ** Math.round(Math.log2(Math.abs(x)))) continue;
      const step = 10 ** (Math.floor(Math.log10(Math.abs(Number(s)))) - p + 1);
      s = (Number(s) + Math.sign(x) * step).toPrecision(p);
      if (Math.fround(Number(s)) !== x) continue;
      return String(Number(s));
    }
    const exact = x.toPrecision(p + 1);
    const tie = exact.match(/^(-?[\d.]*?)(\d)\.?5(e.*)?$/);
    if (tie && Number(exact) === x && Number(tie[2]) % 2 === 0) {
      const down = `${tie[1]}${tie[2]}${tie[3] || ""}`;
      if (Math.fround(Number(down)) === x) return String(Number(down));
    }
    return String(Number(s));
  }
  return String(x);
}

function base64Bytes(text) {
  if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** A packed array {shape, dtype, base64} → Float32Array | Int32Array; throws if the dtype is not
 * `dtype` or the byte count does not match the shape. */
function unpack(packed, dtype, what) {
  const Type = PACKED[packed.dtype];
  if (!Type || packed.dtype !== dtype) throw new Error(`${what}: dtype ${packed.dtype}, expected ${dtype}`);
  const bytes = base64Bytes(packed.base64);
  const n = size(packed.shape);
  if (bytes.length !== n * Type.BYTES_PER_ELEMENT) {
    throw new Error(
      `${what}: ${bytes.length} bytes for shape [${packed.shape}] of ${dtype} (expected ${n * Type.BYTES_PER_ELEMENT})`,
    );
  }
  if (LITTLE_ENDIAN) return new Type(bytes.buffer, bytes.byteOffset, n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const out = new Type(n);
  for (let i = 0; i < n; i++)
    out[i] = dtype === "float32" ? view.getFloat32(4 * i, true) : view.getInt32(4 * i, true);
  return out;
}

const isPacked = (a) => a !== null && typeof a === "object" && typeof a.base64 === "string";

/** Float values {shape, data} or {shape, dtype: "float32", base64} → Float32Array of that shape. */
export function values(entry, what) {
  return isPacked(entry) ? unpack(entry, "float32", what) : flatten(entry.data, entry.shape, what);
}

export function flatten(nested, shape, what) {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(size);
  let n = 0;
  const walk = (v, depth) => {
    if (depth === shape.length) {
      out[n++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new Error(
        `${what}: expected length ${shape[depth]} at depth ${depth} of shape [${shape}], ` +
          `got ${Array.isArray(v) ? v.length : typeof v}`,
      );
    }
    for (const x of v) walk(x, depth + 1);
  };
  walk(nested, 0);
  return out;
}

const sameShape = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

/** One layer entry of /api/forward → tensor; throws if it disagrees with the model's layer `desc`. */
/** The smallest and largest value of C channels of n values each, and of all of them. */
export function ranges(data, C, n) {
  const chMin = new Float32Array(C).fill(Infinity);
  const chMax = new Float32Array(C).fill(-Infinity);
  let min = Infinity;
  let max = -Infinity;
  for (let c = 0; c < C; c++) {
    for (let i = c * n; i < (c + 1) * n; i++) {
      const v = data[i];
      if (v < chMin[c]) chMin[c] = v; // independent tests, never `else if`
      if (v > chMax[c]) chMax[c] = v;
    }
    if (chMin[c] < min) min = chMin[c];
    if (chMax[c] > max) max = chMax[c];
  }
  return { min, max, chMin, chMax };
}

export function toTensor(entry, desc) {
  if (desc && !sameShape(entry.shape, desc.output_shape)) {
    throw new Error(
      `layer ${entry.name}: response shape [${entry.shape}] ≠ model shape [${desc.output_shape}]`,
    );
  }
  const data = values(entry, `layer ${entry.name}`);
  const [C, H = 1, W = 1] = entry.shape.length === 3 ? entry.shape : [entry.shape[0], 1, 1];
  const { min, max, chMin, chMax } = ranges(data, C, H * W);
  const winners = entry.winners ? winnersOf(entry) : null;
  const op = desc ? desc.op : undefined;
  const family = desc ? desc.family : undefined;
  return {
    name: entry.name,
    kind: entry.kind,
    op,
    family,
    shape: entry.shape,
    C,
    H,
    W,
    data,
    min,
    max,
    chMin,
    chMax,
    winners,
  };
}

function winnersOf(entry) {
  const what = `winners of ${entry.name}`;
  if (!isPacked(entry.winners)) return Int32Array.from(flatten(entry.winners, entry.shape, what));
  if (!sameShape(entry.winners.shape, entry.shape))
    throw new Error(`${what}: shape [${entry.winners.shape}] ≠ [${entry.shape}]`);
  return unpack(entry.winners, "int32", what);
}

/** The whole forward response → {input: tensor, byName: Map, list: [tensors in layer order],
 * steps: [{name, shape, data: Float32Array}]}. */
export function parseForward(response, model) {
  const described = model.layers;
  if (response.layers.length !== described.length - 1) {
    throw new Error(
      `forward returned ${response.layers.length} layers, the model has ${described.length - 1} after the input`,
    );
  }
  const input = toTensor(
    { name: described[0].name, kind: described[0].kind, ...response.input },
    described[0],
  );
  const list = [input];
  response.layers.forEach((entry, i) => {
    const d = described[i + 1];
    if (entry.name !== d.name || entry.kind !== d.kind) {
      throw new Error(
        `forward layer ${i + 1} is ${entry.name}/${entry.kind}, the model says ${d.name}/${d.kind}`,
      );
    }
    list.push(toTensor(entry, d));
  });
  const steps = (response.steps || []).map((st) => ({
    name: st.name,
    shape: st.shape,
    data: values(st, `step ${st.name}`),
  }));
  return { input, list, steps, byName: new Map(list.map((t) => [t.name, t])) };
}

/** Flat values → nested lists following `shape`; floats as their shortest float32 decimals. */
function nest(flat, shape, float = true) {
  let i = 0;
  const build = (depth) => {
    const out = new Array(shape[depth]);
    for (let k = 0; k < shape[depth]; k++) {
      if (depth < shape.length - 1) out[k] = build(depth + 1);
      else {
        const v = flat[i++];
        out[k] = float && v !== 0 ? Number(float32String(v)) : v;
      }
    }
    return out;
  };
  return shape.length ? build(0) : [];
}

function unpacked(obj, what, dtype = "float32") {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === "dtype") continue;
    if (k === "base64") out.data = nest(unpack(obj, dtype, what), obj.shape, dtype === "float32");
    else if (k === "winners" && isPacked(v))
      out.winners = nest(unpack(v, "int32", `winners of ${what}`), v.shape, false);
    else out[k] = v;
  }
  return out;
}

/** A /api/forward response in the default JSON shape: packed arrays become nested `data` lists
 * with the same numbers the JSON encoding writes (a JSON response is returned as it is). */
export function forwardAsJSON(r) {
  if (!isPacked(r.input)) return r;
  const out = { ...r, input: unpacked(r.input, "input"), layers: r.layers.map((e) => unpacked(e, e.name)) };
  if (r.steps) out.steps = r.steps.map((st) => unpacked(st, `step ${st.name}`));
  return out;
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
