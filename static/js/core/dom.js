// The DOM helpers of both pages.

/**
 * el('button', {class: 'x', dataset: {id: 1}, onclick: f}, 'text', child, …); a string in place of
 * the attributes is the class name: el('span', 'cell', '0.5').  Null, undefined and false children
 * are left out; arrays are flattened.
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  const given = typeof attrs === "string" ? { class: attrs } : attrs || {};
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** A canvas whose backing store follows devicePixelRatio; returns [canvas, ctx] sized css w×h. */
export function sizeCanvas(canvas, width, height) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

/** The element with this id; throws if the page lacks it (a template and its script disagree). */
export function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} missing from the page`);
  return node;
}

let uid = 0;
export const nextId = (prefix) => `${prefix}-${(uid += 1)}`;

/** Width available to children: clientWidth minus horizontal padding (0 if not laid out). */
export function contentWidth(node) {
  const cs = getComputedStyle(node);
  return Math.max(0, node.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight));
}

/** The largest canvas side (px) a view may use: its CSS `--view-max` (presentation mode raises it), else `fallback`. */
export function viewMax(node, fallback) {
  const v = parseFloat(getComputedStyle(node).getPropertyValue("--view-max"));
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

/**
 * A small still picture as an <img>: fill(rgba) paints its w×h RGBA bytes on one shared scratch
 * canvas, which becomes a PNG.  For pictures that never change (gallery thumbnails, kernels):
 * every live <canvas> is a layer the browser composites on each frame, hundreds of them while
 * the pen draws.
 */
let scratch = null;
export function pixelImage(w, h, fill, className = "") {
  const img = document.createElement("img");
  if (className) img.className = className;
  img.alt = "";
  img.width = w;
  img.height = h;
  img.src = pixelDataUrl(w, h, fill);
  return img;
}
/** The PNG data: URL of a w×h picture whose RGBA bytes fill(rgba) paints (see pixelImage). */
export function pixelDataUrl(w, h, fill) {
  scratch = scratch || document.createElement("canvas");
  scratch.width = w;
  scratch.height = h;
  const ctx = scratch.getContext("2d");
  const data = ctx.createImageData(w, h);
  fill(data.data);
  ctx.putImageData(data, 0, 0);
  return scratch.toDataURL("image/png");
}
