/**
 * The layer view: every layer in order, input to softmax — maps as tiles, vectors as node columns,
 * the softmax as a chart — with a header (name, shape, parameters, hide), a legend, pointer hover,
 * click to pin, and keyboard stepping (arrows; PageUp/PageDown change channel; Enter pins; Esc unpins).
 *
 * createLayerView(container, {model, onHover(unit|null, anchor), onPin(unit|null), onToggle(name),
 *   onHelp(name, button)}) →
 *   {update({tensors, scope, globalRange, palette, empty}), setHidden(names), setZoom(factor),
 *    fitHeight(px | null), paintUpTo(name, c, count), highlight(scene),
 *    unitRect(unit), sections() → [{name, section, canvases}] in layer order}
 * scene (in units): {target, sources: [{unit, strength?}], windows: [{layer, c, top, left, h, w}],
 *   winner: unit|null, rf: {top, left, height, width}|null}
 */
import { createLinks } from "./links.js";
import { createSoftmaxChart } from "./charts.js";
import { colourDomain, paintMap, paintVector, vectorCell, vectorIndex } from "./tiles.js";
import { buildLayer, sizeEntry } from "./layer-section.js";
import { el } from "./core/dom.js";

export function createLayerView(
  container,
  { model, onHover = () => {}, onPin = () => {}, onToggle = () => {}, onHelp = () => {} },
) {
  const inner = el("div", "layers-inner");
  let zoom = 1;
  let maxH = Infinity;
  let last = null; // the last update's arguments (paintUpTo repaints one map with them)
  container.append(inner);
  const byLayerName = new Map(model.layers.map((d) => [d.name, d]));
  const entries = model.layers.map((d, i) => buildLayer(d, byLayerName.get(d.inputs[0]), i));
  const byName = new Map(entries.map((e) => [e.desc.name, e]));
  for (const e of entries) inner.append(e.section);
  const links = createLinks(inner);
  // nothing drawn: the maps hold only the biases, painted flat, and this note says why
  const emptyNote = el(
    "p",
    "layers-empty",
    "Nothing drawn yet: the maps below hold only their biases, so they are drawn blank. " +
      "Draw a digit on the pad, or pick an MNIST digit, to see the network respond.",
  );
  emptyNote.id = "layers-empty";
  emptyNote.setAttribute("role", "status");
  emptyNote.hidden = true;
  container.prepend(emptyNote);
  const tooltip = el("div", "unit-tooltip");
  tooltip.setAttribute("role", "status");
  tooltip.hidden = true;
  document.body.append(tooltip);
  const classes = model.card && Array.isArray(model.card.classes) ? model.card.classes : null;
  for (const e of entries) if (e.lay.type === "softmax") e.chart = createSoftmaxChart(e.body, classes);

  function unitOf(e, i) {
    return { layer: e.desc.name, c: i, y: 0, x: 0 };
  }

  /** The one hit-test of hover and click: the unit under a point of an event's target, or null. */
  function hit(evTarget, clientX, clientY) {
    const t = evTarget.closest("canvas.tile, canvas.vector");
    if (t) return unitAt(t, clientX, clientY);
    const section = evTarget.closest(".layer-softmax");
    const e = section && byName.get(section.dataset.layer);
    if (!e || !e.chart || !evTarget.closest(".softmax-plot")) return null;
    const i = e.chart.indexAt(clientX, clientY);
    return i === null ? null : unitOf(e, i);
  }

  function unitAt(target, clientX, clientY) {
    const e = byName.get(target.dataset.layer);
    const r = target.getBoundingClientRect();
    const fx = (clientX - r.left) / r.width,
      fy = (clientY - r.top) / r.height;
    if (fx < 0 || fy < 0 || fx >= 1 || fy >= 1) return null;
    if (e.lay.type === "maps") {
      return {
        layer: e.desc.name,
        c: Number(target.dataset.channel),
        y: Math.floor(fy * e.lay.H),
        x: Math.floor(fx * e.lay.W),
      };
    }
    const i = vectorIndex(e.lay, Math.floor(fx * e.lay.cols), Math.floor(fy * e.lay.rows));
    return i < e.lay.n ? unitOf(e, i) : null;
  }

  /** A unit's rectangle in `inner` pixels. */
  function unitRect(u) {
    const e = byName.get(u.layer);
    if (!e || e.section.classList.contains("collapsed")) return null;
    const base = inner.getBoundingClientRect();
    if (e.lay.type === "softmax") {
      const p = e.chart.barCentre(u.c);
      const b = e.body.getBoundingClientRect();
      return p && { x: b.left - base.left + p.x - 6, y: b.top - base.top + p.y - 6, w: 12, h: 12 };
    }
    if (e.lay.type === "maps") {
      const r = e.canvases[u.c].getBoundingClientRect();
      const s = r.width / e.lay.W;
      return { x: r.left - base.left + u.x * s, y: r.top - base.top + u.y * s, w: s, h: r.height / e.lay.H };
    }
    const r = e.canvases[0].getBoundingClientRect();
    const { col, row } = vectorCell(e.lay, u.c);
    const cw = r.width / e.lay.cols,
      ch = r.height / e.lay.rows;
    return { x: r.left - base.left + col * cw, y: r.top - base.top + row * ch, w: cw, h: ch };
  }

  function windowRect(layer, c, top, left, h, w) {
    const a = unitRect({ layer, c, y: top, x: left });
    return a && { x: a.x, y: a.y, w: a.w * w, h: a.h * h };
  }

  function showTooltip(text, anchor) {
    tooltip.textContent = text;
    tooltip.hidden = false;
    const x = Math.min(anchor.x + 16, window.innerWidth - tooltip.offsetWidth - 8);
    const y = Math.min(anchor.y + 16, window.innerHeight - tooltip.offsetHeight - 8);
    tooltip.style.transform = `translate(${Math.max(4, x)}px, ${Math.max(4, y)}px)`;
  }

  // ---- pointer ----
  let hoverTarget = null;
  inner.addEventListener("pointermove", (ev) => {
    const u = hit(ev.target, ev.clientX, ev.clientY);
    hoverTarget = u;
    onHover(u, u && { x: ev.clientX, y: ev.clientY });
  });
  inner.addEventListener("pointerleave", () => {
    hoverTarget = null;
    onHover(null, null);
  });
  // A click's clientX/Y are whole pixels, a pointer event's are fractional: on 2–3 px units the two
  // can name neighbouring units.  The click therefore hit-tests where its pointerdown was (the
  // same fractional coordinates hover uses), so hover and click always agree.
  let pressed = null;
  inner.addEventListener("pointerdown", (ev) => {
    pressed = { x: ev.clientX, y: ev.clientY };
  });
  const clickPoint = (ev) =>
    pressed && Math.abs(pressed.x - ev.clientX) < 1 && Math.abs(pressed.y - ev.clientY) < 1
      ? pressed
      : { x: ev.clientX, y: ev.clientY };
  inner.addEventListener("click", (ev) => {
    const p = clickPoint(ev);
    pressed = null;
    const u = hit(ev.target, p.x, p.y);
    if (!u) return;
    byName.get(u.layer).cursor = { c: u.c, y: u.y, x: u.x }; // keyboard stepping continues here
    onPin(u);
  });

  // ---- keyboard ----
  for (const e of entries) {
    e.toggle.addEventListener("click", () => onToggle(e.desc.name));
    const help = e.section.querySelector(".layer-help");
    help.addEventListener("click", () => onHelp(e.desc.name, help));
    // a click focuses the layer too: only keyboard focus (focus-visible) shows the cursor unit
    e.body.addEventListener("focus", () => {
      if (e.body.matches(":focus-visible")) keyHover(e);
    });
    e.body.addEventListener("blur", () => onHover(null, null));
    e.body.addEventListener("keydown", (ev) => {
      const k = ev.key;
      const cur = e.cursor;
      const n = e.lay.type === "maps" ? e.lay.C : e.lay.n;
      if (k === "Enter" || k === " ") {
        onPin(unitFromCursor(e));
        ev.preventDefault();
        return;
      }
      if (k === "Escape") {
        onPin(null);
        return;
      }
      if (e.lay.type === "maps") {
        const { H, W } = e.lay;
        if (k === "ArrowRight") cur.x = Math.min(W - 1, cur.x + 1);
        else if (k === "ArrowLeft") cur.x = Math.max(0, cur.x - 1);
        else if (k === "ArrowDown") cur.y = Math.min(H - 1, cur.y + 1);
        else if (k === "ArrowUp") cur.y = Math.max(0, cur.y - 1);
        else if (k === "PageDown") cur.c = Math.min(n - 1, cur.c + 1);
        else if (k === "PageUp") cur.c = Math.max(0, cur.c - 1);
        else return;
      } else {
        if (k === "ArrowDown" || k === "ArrowRight" || k === "PageDown") cur.c = Math.min(n - 1, cur.c + 1);
        else if (k === "ArrowUp" || k === "ArrowLeft" || k === "PageUp") cur.c = Math.max(0, cur.c - 1);
        else return;
      }
      ev.preventDefault();
      keyHover(e);
    });
  }
  const unitFromCursor = (e) => ({ layer: e.desc.name, ...e.cursor });
  function keyHover(e) {
    const u = unitFromCursor(e);
    const r = unitRect(u);
    const base = inner.getBoundingClientRect();
    if (r) e.body.querySelector("canvas")?.scrollIntoView?.({ block: "nearest", inline: "nearest" });
    onHover(u, r && { x: base.left + r.x + r.w, y: base.top + r.y + r.h, keyboard: true });
  }

  return {
    /** Repaint map `c` of a layer with only its first `count` units (raster order): the conv
     * player's map filling in; the rest is blank paper until the next update. */
    paintUpTo(name, c, count) {
      const e = byName.get(name);
      if (!e || e.lay.type !== "maps" || !last) return;
      const t = last.tensors[e.li];
      const cv = e.canvases[c];
      paintMap(cv, t, c, last.scope, last.globalRange, last.palette, last.opts);
      const ctx = cv.getContext("2d");
      const k = Math.max(0, Math.min(count, t.H * t.W));
      const y = Math.floor(k / t.W),
        x = k % t.W;
      ctx.fillStyle = "#fff"; // one canvas pixel per unit: the units not reached yet, as paper
      ctx.fillRect(x, y, t.W - x, y < t.H ? 1 : 0);
      ctx.fillRect(0, y + 1, t.W, t.H - y - 1);
    },
    update({ tensors, scope, globalRange, palette = "classic", empty = false }) {
      const opts = { flat: empty };
      last = { tensors, scope, globalRange, palette, opts };
      container.dataset.empty = String(empty);
      emptyNote.hidden = !empty;
      for (const e of entries) {
        const t = tensors[e.li];
        if (e.lay.type === "maps")
          e.canvases.forEach((cv, c) => paintMap(cv, t, c, scope, globalRange, palette, opts));
        else if (e.lay.type === "vector")
          paintVector(e.canvases[0], t, e.lay, scope, globalRange, palette, opts);
        if (e.legend)
          e.legend.update({
            ...colourDomain(
              t,
              scope === "map" && t.H * t.W === 1 ? "layer" : scope,
              globalRange,
              0,
              palette,
              opts,
            ),
            min: t.min,
            max: t.max,
            scope: t.H * t.W > 1 ? scope : "layer",
          });
      }
    },
    setZoom(z) {
      zoom = z;
      for (const e of entries) sizeEntry(e, zoom, maxH);
      links.clear();
    },
    /** Fit the layers' bodies into `h` CSS pixels of height (null: their natural size). */
    fitHeight(h) {
      maxH = h === null ? Infinity : h;
      for (const e of entries) sizeEntry(e, zoom, maxH);
      links.clear();
    },
    sections: () =>
      entries.map((e) => ({
        name: e.desc.name,
        kind: e.desc.kind,
        type: e.lay.type,
        section: e.section,
        canvases: e.canvases,
        chart: e.chart,
      })),
    setPrediction(probs, label) {
      const e = entries.find((x) => x.chart);
      if (e) e.chart.update(probs, label);
    },
    setHidden(names) {
      for (const e of entries) {
        const hide = names.includes(e.desc.name);
        e.section.classList.toggle("collapsed", hide);
        e.toggle.textContent = hide ? "+" : "−";
        e.toggle.setAttribute("aria-label", `${hide ? "Show" : "Hide"} layer ${e.desc.name}`);
        e.toggle.setAttribute("aria-expanded", String(!hide));
        e.body.tabIndex = hide ? -1 : 0;
      }
    },
    /** Draw the hover scene; the tooltip text and anchor come from the caller. */
    highlight(scene, tip, anchor) {
      const chartEntry = entries.find((x) => x.chart);
      if (chartEntry)
        chartEntry.chart.highlight(
          scene && scene.target.layer === chartEntry.desc.name ? scene.target.c : null,
        );
      if (!scene) {
        links.clear();
        tooltip.hidden = true;
        return;
      }
      const target = unitRect(scene.target);
      if (!target) {
        links.clear();
        tooltip.hidden = true;
        return;
      }
      const sources = scene.sources
        .map((s) => ({ rect: unitRect(s.unit), strength: s.strength }))
        .filter((s) => s.rect);
      const windows = scene.windows
        .map((w) => windowRect(w.layer, w.c, w.top, w.left, w.h, w.w))
        .filter(Boolean);
      const winner = scene.winner && unitRect(scene.winner);
      const inputName = entries[0].desc.name;
      const rf =
        scene.rf &&
        scene.target.layer !== inputName &&
        windowRect(
          inputName,
          0,
          scene.rf.clip.top,
          scene.rf.clip.left,
          scene.rf.clip.bottom - scene.rf.clip.top,
          scene.rf.clip.right - scene.rf.clip.left,
        );
      links.draw({ target, sources, windows, winner, rf });
      if (tip && anchor) showTooltip(tip, anchor);
      else tooltip.hidden = true;
    },
    unitRect,
    get hovering() {
      return hoverTarget;
    },
  };
}
