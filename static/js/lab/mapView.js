// A feature-map view: the map nearest-neighbour scaled with a colour scale and a legend, hover
// reporting (oy, ox), one marked pixel, and a partial reveal for the sliding-window animation.
import { el, sizeCanvas, contentWidth, viewMax } from "../core/dom.js";
import { shapeOf } from "./geometry.js";
import { makeScale, fmt } from "./scale.js";
import { mapPixels, drawPixels } from "./raster.js";

const CHANNEL_NAMES = ["R", "G", "B"];

function planeRange(plane) {
  let min = Infinity;
  let max = -Infinity;
  for (const row of plane)
    for (const v of row) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  return [min, max];
}

export function createMapView(container, { title, size = 480, onHover = () => {}, onChannel = () => {} }) {
  const caption = el("figcaption", { class: "view-caption" }, title);
  const channelSelect = el("select", {
    class: "channel-select",
    "aria-label": `${title}: which channel to show`,
  });
  const base = el("canvas", { class: "layer-base" });
  const overlay = el("canvas", { class: "layer-overlay map-hover" });
  const stack = el("div", { class: "canvas-stack" }, base, overlay);
  const empty = el("p", { class: "view-empty", hidden: true });
  const legend = el("canvas", { class: "legend", "aria-hidden": "true" });
  const legendText = el("p", { class: "legend-text" });
  container.append(
    el("div", { class: "view-head" }, caption, channelSelect),
    stack,
    empty,
    legend,
    legendText,
  );
  let state = null; // {data, C, H, W, cell, pixels, scale, channel}
  let marked = null;
  let palette = "classic";

  channelSelect.addEventListener("change", () => {
    const v = channelSelect.value;
    const channel = v === "rgb" ? "rgb" : Number(v);
    if (state) {
      state.channel = channel;
      paint();
    }
    onChannel(channel === "rgb" ? 0 : channel);
  });

  function pointer(event) {
    if (!state) return null;
    const rect = overlay.getBoundingClientRect();
    const ox = Math.floor((event.clientX - rect.left) / state.cell);
    const oy = Math.floor((event.clientY - rect.top) / state.cell);
    return oy >= 0 && ox >= 0 && oy < state.H && ox < state.W ? { oy, ox } : null;
  }
  overlay.addEventListener("pointermove", (e) => onHover(pointer(e)));
  overlay.addEventListener("pointerdown", (e) => onHover(pointer(e))); // a tap on a touch screen
  // a finger lifted leaves its pixel shown; a mouse leaving the map clears it
  overlay.addEventListener("pointerleave", (e) => e.pointerType === "mouse" && onHover(null));

  // the keyboard's route to one pixel: focus the map, arrows move (Shift: 10 at a time), Home goes
  // to the first pixel, Escape lets go
  overlay.tabIndex = 0;
  overlay.setAttribute("role", "img");
  overlay.setAttribute(
    "aria-label",
    `${title}: arrow keys move the pixel whose arithmetic is shown, Shift+arrows 10 at a time, Escape leaves it`,
  );
  let cursor = null;
  overlay.addEventListener("keydown", (e) => {
    if (!state) return;
    const step = e.shiftKey ? 10 : 1;
    const moves = { ArrowUp: [-step, 0], ArrowDown: [step, 0], ArrowLeft: [0, -step], ArrowRight: [0, step] };
    if (e.key === "Escape") {
      cursor = null;
      onHover(null);
      return;
    }
    if (e.key !== "Home" && !moves[e.key]) return;
    e.preventDefault();
    const [dy, dx] = moves[e.key] || [0, 0];
    const from = e.key === "Home" || !cursor ? { oy: 0, ox: 0 } : cursor;
    const clamp = (v, n) => Math.max(0, Math.min(n - 1, v));
    cursor =
      cursor && e.key !== "Home"
        ? { oy: clamp(from.oy + dy, state.H), ox: clamp(from.ox + dx, state.W) }
        : from;
    onHover(cursor);
  });

  function setChannels(C) {
    const options =
      C === 3
        ? [["rgb", "RGB (clipped 0–1)"], ...CHANNEL_NAMES.map((n, i) => [String(i), `${n} channel`])]
        : [["0", "colour scale"]];
    const key = options.map((o) => o[0]).join();
    if (channelSelect.dataset.key !== key) {
      channelSelect.replaceChildren(...options.map(([v, t]) => el("option", { value: v }, t)));
      channelSelect.dataset.key = key;
    }
    channelSelect.hidden = C !== 3;
  }

  /** map: {shape, data, min, max} (C, H, W) or null with `message` (nothing to show). */
  function update(map, { message = "", subtitle = "", palette: p = "classic" } = {}) {
    palette = p;
    caption.textContent = subtitle ? `${title} ${subtitle}` : title;
    if (!map) {
      state = null;
      base.hidden = true;
      overlay.hidden = true;
      legend.hidden = true;
      legendText.textContent = "";
      empty.hidden = false;
      empty.textContent = message;
      return;
    }
    const [C, H, W] = shapeOf(map.data, 3);
    if (String(map.shape) !== String([C, H, W]))
      throw new Error(`map shape ${map.shape} does not match its data ${[C, H, W]}`);
    setChannels(C);
    const keep = state && state.C === C ? state.channel : C === 3 ? "rgb" : 0;
    const cap = viewMax(container, size);
    const avail = Math.min(cap, contentWidth(container) || cap);
    const cell = avail / Math.max(H, W);
    state = { data: map.data, C, H, W, cell, channel: keep, count: null };
    channelSelect.value = String(keep);
    base.hidden = false;
    overlay.hidden = false;
    empty.hidden = true;
    legend.hidden = false;
    overlay.dataset.rows = H;
    overlay.dataset.cols = W;
    overlay.dataset.cell = cell;
    paint();
  }

  function paint() {
    const { data, H, W, cell, channel } = state;
    const width = Math.floor(W * cell);
    const height = Math.floor(H * cell);
    const ctx = sizeCanvas(base, width, height);
    sizeCanvas(overlay, width, height);
    let scale = null;
    let plane = data;
    if (channel !== "rgb") {
      plane = [data[channel]];
      const [min, max] = planeRange(data[channel]);
      scale = makeScale(min, max, palette);
    }
    state.pixels = mapPixels(plane, scale);
    state.scale = scale;
    ctx.fillStyle = "#f1f3f8";
    ctx.fillRect(0, 0, width, height);
    drawPixels(ctx, state.pixels, 0, 0, width, height, state.count);
    drawLegend(scale, channel);
    mark(marked);
  }

  function drawLegend(scale, channel) {
    const width = Math.max(160, Math.min(Math.floor(state.W * state.cell), 420));
    const height = 40;
    const ctx = sizeCanvas(legend, width, height);
    ctx.clearRect(0, 0, width, height);
    if (!scale) {
      const [min, max] = state.data
        .map(planeRange)
        .reduce((a, b) => [Math.min(a[0], b[0]), Math.max(a[1], b[1])]);
      legendText.textContent = `RGB values from ${fmt(min)} to ${fmt(max)}; shown clipped to 0–1 like an image editor would.`;
      legend.hidden = true;
      return;
    }
    legend.hidden = false;
    const grad = ctx.createLinearGradient(8, 0, width - 8, 0);
    for (let i = 0; i <= 20; i += 1)
      grad.addColorStop(i / 20, scale.css(scale.lo + ((scale.hi - scale.lo) * i) / 20));
    ctx.fillStyle = grad;
    ctx.fillRect(8, 2, width - 16, 16);
    ctx.strokeStyle = "#555";
    ctx.strokeRect(8.5, 2.5, width - 17, 15);
    ctx.fillStyle = "#222";
    ctx.font = "14px system-ui, sans-serif";
    ctx.textBaseline = "top";
    const tick = (v, align) => {
      const x = 8 + ((v - scale.lo) / (scale.hi - scale.lo)) * (width - 16);
      ctx.fillRect(x - 0.5, 18, 1, 5);
      ctx.textAlign = align;
      ctx.fillText(fmt(v), x, 24);
    };
    tick(scale.lo, "left");
    tick(scale.hi, "right");
    if (scale.kind === "diverging") tick(0, "center");
    const which = state.C === 3 ? `${CHANNEL_NAMES[channel]} channel: ` : "";
    legendText.textContent = `${which}${scale.words}; ` + `min ${fmt(scale.min)}, max ${fmt(scale.max)}`;
  }

  /** Outline output pixel {oy, ox} (null clears). */
  function mark(p) {
    marked = p;
    if (!state) return;
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    if (!p) return;
    const { cell } = state;
    const m = Math.max(1.5, cell * 0.1);
    ctx.lineWidth = 3;
    ctx.strokeStyle = "#111";
    ctx.strokeRect(p.ox * cell - m, p.oy * cell - m, cell + 2 * m, cell + 2 * m);
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#ffcc00";
    ctx.strokeRect(p.ox * cell - m - 2, p.oy * cell - m - 2, cell + 2 * m + 4, cell + 2 * m + 4);
  }

  /** Show only the first `count` pixels in raster order (null: all). */
  function reveal(count) {
    if (!state) return;
    state.count = count;
    const width = Math.floor(state.W * state.cell);
    const height = Math.floor(state.H * state.cell);
    const ctx = base.getContext("2d");
    ctx.fillStyle = "#f1f3f8";
    ctx.fillRect(0, 0, width, height);
    drawPixels(ctx, state.pixels, 0, 0, width, height, count);
  }

  const channel = () => (state && state.channel !== "rgb" ? state.channel : 0);
  return { update, mark, reveal, channel };
}
