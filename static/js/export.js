/**
 * The layer view as one PNG: the visible layer canvases, legends and labels redrawn where they sit
 * on screen into an offscreen canvas (nearest-neighbour, so units stay squares), the softmax as
 * plain bars, and a title line.  composeView(inner, {title, probs, label}) → HTMLCanvasElement
 */

const TITLE_H = 44;

function textOf(ctx, node, base, { align = "center", weight = null } = {}) {
  const r = node.getBoundingClientRect();
  if (!r.width || !node.textContent) return;
  const cs = getComputedStyle(node);
  ctx.font = `${weight || cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  ctx.fillStyle = cs.color;
  ctx.textBaseline = "middle";
  ctx.textAlign = align;
  const x = align === "center" ? r.left + r.width / 2 : r.left;
  ctx.fillText(node.textContent, x - base.left, r.top + r.height / 2 - base.top + TITLE_H);
}

function bars(ctx, plot, base, probs, label) {
  const r = plot.getBoundingClientRect();
  if (!r.width) return;
  const x0 = r.left - base.left + 30,
    y0 = r.top - base.top + TITLE_H + 8;
  const w = r.width - 44,
    rowH = (r.height - 44) / probs.length;
  ctx.font = `600 ${Math.round(rowH * 0.6)}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  probs.forEach((p, i) => {
    ctx.fillStyle = "#111827";
    ctx.textAlign = "right";
    ctx.fillText(String(i), x0 - 8, y0 + (i + 0.5) * rowH);
    ctx.fillStyle = i === label ? "#c2410c" : "#9aa4b2";
    ctx.fillRect(x0, y0 + i * rowH + rowH * 0.1, Math.max(1, p * w), rowH * 0.8);
  });
  ctx.strokeStyle = "#6b7280";
  ctx.strokeRect(x0, y0, w, rowH * probs.length);
}

export function composeView(inner, { title = "", probs = null, label = null } = {}) {
  const base = inner.getBoundingClientRect();
  const canvas = document.createElement("canvas");
  canvas.width = Math.ceil(base.width);
  canvas.height = Math.ceil(base.height) + TITLE_H;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#111827";
  ctx.font = "700 24px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  ctx.fillText(title, 12, TITLE_H / 2);
  ctx.imageSmoothingEnabled = false;
  for (const cv of inner.querySelectorAll("canvas.tile, canvas.vector, img.legend-bar")) {
    const r = cv.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    ctx.drawImage(cv, r.left - base.left, r.top - base.top + TITLE_H, r.width, r.height);
    ctx.strokeStyle = "#9ca3af";
    ctx.lineWidth = 1;
    ctx.strokeRect(r.left - base.left - 0.5, r.top - base.top + TITLE_H - 0.5, r.width + 1, r.height + 1);
  }
  for (const node of inner.querySelectorAll(
    ".layer-name, .layer-shape, .layer-params, .legend-range, .node-labels span, .predicted",
  )) {
    textOf(ctx, node, base);
  }
  for (const node of inner.querySelectorAll(".legend-ends span:first-child"))
    textOf(ctx, node, base, { align: "left" });
  for (const node of inner.querySelectorAll(".legend-ends span:last-child")) {
    const r = node.getBoundingClientRect();
    if (!r.width) continue;
    const cs = getComputedStyle(node);
    ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
    ctx.fillStyle = cs.color;
    ctx.textAlign = "right";
    ctx.fillText(node.textContent, r.right - base.left, r.top + r.height / 2 - base.top + TITLE_H);
  }
  const plot = inner.querySelector(".softmax-plot");
  if (plot && probs) bars(ctx, plot, base, probs, label);
  return canvas;
}
