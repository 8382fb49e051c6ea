/**
 * CNN Explainer's animation in the network itself: with a conv unit pinned, Play slides its
 * window over the input maps (every connected channel's window is outlined, as on hover), the
 * pinned unit following it so the arithmetic panel shows each position's sum, while the output map
 * fills in up to the current position.  Play / Pause, Step and Stop, at the kernel lab's speeds and
 * with its animator (lab/animator.js).
 *
 * createConvPlayer({host, state, data, view, painter}) → {sync()}: sync() shows the bar while a conv
 * unit is pinned (and stops the animation otherwise).
 */
import { el } from "./core/dom.js";
import { SPEEDS, createAnimator } from "./lab/animator.js";

export function createConvPlayer({ host, state, data, view, painter }) {
  let layer = null; // {name, c, H, W} of the map being played
  const play = el("button", { type: "button", class: "conv-play" }, "▶ Play");
  const step = el("button", { type: "button" }, "Step ▸");
  const stop = el("button", { type: "button" }, "■ Stop");
  const speed = el(
    "select",
    { "aria-label": "animation speed" },
    SPEEDS.slice(0, 4).map(([name, v]) => el("option", { value: String(v) }, `${name} (${v}/s)`)),
  );
  speed.value = "8";
  const where = el("span", "conv-where");
  const bar = el(
    "div",
    {
      class: "conv-player",
      role: "toolbar",
      "aria-label": "Slide the pinned unit's window over its map",
      hidden: "",
    },
    el("span", "conv-player-title", "Slide the window:"),
    play,
    step,
    stop,
    speed,
    where,
  );
  host.prepend(bar);

  const animator = createAnimator({
    onFrame: ({ index, total, playing }) => {
      play.textContent = playing ? "❚❚ Pause" : "▶ Play";
      bar.dataset.index = String(index);
      if (!layer) return;
      if (index < 0) {
        where.textContent = "";
        painter.paint(); // the whole map again
        return;
      }
      const oy = Math.floor(index / layer.W),
        ox = index % layer.W;
      where.textContent = `position ${index + 1} of ${total}: row ${oy}, col ${ox}`;
      state.set({ pinned: { layer: layer.name, c: layer.c, y: oy, x: ox } });
      view.paintUpTo(layer.name, layer.c, index + 1);
    },
  });
  speed.addEventListener("change", () => animator.setSpeed(Number(speed.value)));

  /** The pinned conv unit's map, or null. */
  function pinnedMap() {
    const p = state.get().pinned;
    const { model } = data.get();
    const d = p && model.layers.find((l) => l.name === p.layer);
    return d && d.op === "conv" ? { name: d.name, c: p.c, H: d.output_shape[1], W: d.output_shape[2] } : null;
  }

  function begin() {
    const m = pinnedMap();
    if (!m) return false;
    if (!layer || layer.name !== m.name || layer.c !== m.c) {
      layer = m;
      animator.reset(m.H * m.W);
    }
    return true;
  }
  play.addEventListener("click", () => {
    if (animator.state.playing) animator.pause();
    else if (begin()) animator.play();
  });
  step.addEventListener("click", () => begin() && animator.step(1));
  stop.addEventListener("click", () => animator.stop());

  return {
    sync() {
      const m = pinnedMap();
      bar.hidden = !m;
      // another unit pinned (a click, not the animation's own step): the animation lets go
      if (layer && (!m || m.name !== layer.name || m.c !== layer.c)) {
        animator.stop();
        layer = null;
      }
    },
    /** After a new answer the maps were repainted whole: draw the current position again. */
    redraw() {
      const { index } = animator.state;
      if (layer && index >= 0) view.paintUpTo(layer.name, layer.c, index + 1);
    },
  };
}
