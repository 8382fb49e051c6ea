// Input images as /api/convolve wants them (data: URLs or nested rows in [0, 1]). Fetches through
// the API client; reads the layer view's last drawing from sessionStorage. No DOM.
import { getSample, fetchDataUrl } from "../core/api.js";
import { shapeOf } from "./geometry.js";
import { decodeQ4 } from "../core/q4.js";

const DRAWING_KEY = "convscope.drawing";

// A 7×7 binary "7"-like stroke with a corner and a diagonal, small enough to read every number.
const NUMBERS7 = [
  [0, 0, 0, 0, 0, 0, 0],
  [0, 1, 1, 1, 1, 1, 0],
  [0, 0, 0, 0, 0, 1, 0],
  [0, 0, 0, 0, 1, 0, 0],
  [0, 0, 0, 1, 0, 0, 0],
  [0, 0, 1, 0, 0, 0, 0],
  [0, 0, 1, 0, 0, 0, 0],
];

/** The layer view's last 32×32 input ({shape, data}, shape (1, H, W) or (H, W)) as rows, or null. */
export function readDrawing(storage = globalThis.sessionStorage) {
  let raw;
  try {
    raw = storage && storage.getItem(DRAWING_KEY);
  } catch {
    return null;
  }
  if (!raw) return null;
  try {
    const { shape, data } = JSON.parse(raw);
    const rows = shape.length === 3 ? data[0] : data;
    const [h, w] = shapeOf(rows, 2);
    if (h < 1 || w < 1 || rows.some((r) => r.length !== w || r.some((v) => typeof v !== "number")))
      return null;
    return rows.map((r) => r.map((v) => Math.min(1, Math.max(0, v))));
  } catch {
    return null;
  }
}

/** Resolve a source id to an image payload; `cache` keeps the fetched ones. */
export async function loadSource(source, { cache, upload }) {
  if (cache.has(source)) return cache.get(source);
  let image;
  if (source === "numbers7") image = NUMBERS7;
  else if (source === "drawing") image = readDrawing();
  else if (source === "upload") image = upload;
  else if (source.startsWith("builtin:"))
    image = await fetchDataUrl(`/static/img/lab/${source.slice(8)}.png`);
  else if (source.startsWith("sample:")) image = (await getSample(source.slice(7))).image.data;
  else if (source.startsWith("draw:")) image = decodeQ4(source.slice(5)); // a drawing carried by a link
  if (!image) throw new Error(`no image for input "${source}"`);
  if (source !== "upload" && source !== "drawing") cache.set(source, image);
  return image;
}
