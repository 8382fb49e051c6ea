// Play / pause / step / speed buttons for the sliding-window animation; reports the user's intent.
import { el } from "../core/dom.js";
import { SPEEDS } from "./animator.js";

export function createAnimationControls(container, { onPlay, onPause, onStep, onStop, onSpeed }) {
  const play = el(
    "button",
    {
      type: "button",
      class: "btn primary",
      onclick: () => (play.dataset.playing === "true" ? onPause() : onPlay()),
    },
    "▶ Play",
  );
  const step = el(
    "button",
    { type: "button", class: "btn", onclick: () => onStep(1), title: "next output pixel" },
    "Step ▸",
  );
  const row = el(
    "button",
    { type: "button", class: "btn", onclick: () => onStep("row"), title: "to the end of this row" },
    "Row ▸▸",
  );
  const stop = el(
    "button",
    { type: "button", class: "btn", onclick: () => onStop(), title: "show the whole output again" },
    "■ Stop",
  );
  const speed = el(
    "select",
    { "aria-label": "animation speed", onchange: () => onSpeed(Number(speed.value)) },
    SPEEDS.map(([name, v]) =>
      el("option", { value: String(v), selected: name === "normal" }, `${name} (${v}/s)`),
    ),
  );
  const where = el("span", { class: "anim-where", "aria-live": "off" });
  const root = el(
    "div",
    { class: "anim" },
    el("span", { class: "anim-label" }, "Sliding window"),
    play,
    step,
    row,
    stop,
    el("label", { class: "inline" }, "speed ", speed),
    where,
  );
  container.append(root);

  /** {index, total, playing, oy, ox} */
  function update({ index, total, playing, oy, ox }) {
    root.dataset.index = String(index);
    play.dataset.playing = String(playing);
    play.textContent = playing ? "❚❚ Pause" : "▶ Play";
    for (const b of [play, step, row, stop]) b.disabled = total <= 0;
    where.textContent =
      total <= 0
        ? "nothing to animate"
        : index < 0
          ? `${total.toLocaleString()} output pixels — press Play or Step`
          : `pixel ${(index + 1).toLocaleString()} of ${total.toLocaleString()}: output (${oy}, ${ox})`;
  }

  return { update };
}
