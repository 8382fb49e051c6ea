/**
 * A compact, URL-safe encoding of a network input (a drawing or an upload after preprocessing),
 * so a link can carry it.  No DOM.
 *
 * Format "q4" : each pixel in [0, 1] quantised to 4 bits (v → round(v·15)), two pixels per byte
 * (first pixel in the high nibble), row-major, base64url without padding.  A 32×32 input is 512
 * bytes → 683 characters.  Decoding gives back k/15 for k = 0…15, so a shared drawing is the
 * original up to 1/30 per pixel.
 */

export const LEVELS = 15;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function toBase64url(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] || 0) << 8) | (bytes[i + 2] || 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += B64[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

function fromBase64url(text) {
  const bytes = new Uint8Array(Math.floor((text.length * 6) / 8));
  let acc = 0,
    bits = 0,
    j = 0;
  for (const ch of text) {
    const v = B64.indexOf(ch);
    if (v < 0) throw new Error(`codec: "${ch}" is not a base64url character`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (j < bytes.length) bytes[j++] = (acc >> bits) & 255;
    }
  }
  return bytes;
}

/** values: flat array (Float32Array or numbers) of length h·w in [0, 1] → "q4…" string. */
export function encodeQ4(values) {
  const n = values.length;
  const bytes = new Uint8Array(Math.ceil(n / 2));
  for (let i = 0; i < n; i++) {
    const q = Math.max(0, Math.min(LEVELS, Math.round(values[i] * LEVELS)));
    bytes[i >> 1] |= i % 2 === 0 ? q << 4 : q;
  }
  return `q4${toBase64url(bytes)}`;
}

/** "q4…" → nested rows [h][w] of k/15; throws if the code does not hold exactly h·w pixels. */
export function decodeQ4(code, h = 32, w = 32) {
  if (typeof code !== "string" || !code.startsWith("q4"))
    throw new Error("codec: a drawing code starts with q4");
  const bytes = fromBase64url(code.slice(2));
  const need = Math.ceil((h * w) / 2);
  if (bytes.length !== need)
    throw new Error(`codec: the drawing code holds ${bytes.length * 2} pixels, expected ${h}×${w}`);
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = new Array(w);
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const q = i % 2 === 0 ? bytes[i >> 1] >> 4 : bytes[i >> 1] & 15;
      row[x] = q / LEVELS;
    }
    rows.push(row);
  }
  return rows;
}
