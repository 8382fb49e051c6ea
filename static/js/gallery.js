/**
 * The gallery of shipped MNIST test digits: a thumbnail per sample with its label; clicking one
 * loads it; one Tab stop, arrow keys move between digits.  createGallery(container, {onPick(id)}) → {update({samples}), select(id|null)}
 * samples: [{id, label, image: {shape: [28, 28], data}}] (from GET /api/samples?include=images).
 */
import { paintRGBA } from "./core/colors.js";
import { pixelImage } from "./core/dom.js";
import { flatten } from "./core/tensor.js";

export function createGallery(container, { onPick = () => {} } = {}) {
  const list = document.createElement("div");
  list.className = "gallery-grid";
  list.setAttribute("role", "list");
  container.append(list);
  const buttons = new Map();

  list.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-sample-id]");
    if (b) onPick(Number(b.dataset.sampleId));
  });
  // one Tab stop for the whole gallery (roving tabindex); arrow keys move between digits
  list.addEventListener("keydown", (ev) => {
    const b = ev.target.closest("button[data-sample-id]");
    if (!b) return;
    const all = [...buttons.values()];
    const i = all.indexOf(b);
    const perRow = Math.max(1, all.filter((x) => x.offsetTop === all[0].offsetTop).length);
    const step = {
      ArrowRight: 1,
      ArrowLeft: -1,
      ArrowDown: perRow,
      ArrowUp: -perRow,
      Home: -i,
      End: all.length - 1 - i,
    }[ev.key];
    if (step === undefined) return;
    ev.preventDefault();
    focusOn(all[Math.min(all.length - 1, Math.max(0, i + step))]);
  });
  function focusOn(b) {
    for (const x of buttons.values()) x.tabIndex = x === b ? 0 : -1;
    b.focus();
  }

  return {
    update({ samples }) {
      list.replaceChildren();
      buttons.clear();
      for (const s of samples) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "sample";
        b.dataset.sampleId = s.id;
        b.dataset.label = s.label;
        b.setAttribute("role", "listitem");
        b.setAttribute("aria-label", `MNIST test digit #${s.index}, labelled ${s.label}`);
        const label = document.createElement("span");
        label.textContent = s.label;
        const [h, w] = s.image.shape;
        const values = flatten(s.image.data, s.image.shape, `sample ${s.id}`);
        b.append(
          pixelImage(w, h, (rgba) => paintRGBA(rgba, values, 0, 1, "gray")),
          label,
        );
        b.tabIndex = buttons.size === 0 ? 0 : -1;
        list.append(b);
        buttons.set(s.id, b);
      }
    },
    select(id) {
      for (const [k, b] of buttons) b.setAttribute("aria-pressed", String(k === id));
      if (buttons.has(id)) for (const [k, b] of buttons) b.tabIndex = k === id ? 0 : -1;
    },
  };
}
