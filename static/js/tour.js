/**
 * The guided tour's card: step title, text, an optional grid of numbers, back / next / close.
 * Keyboard while the card has focus: → or n next, ← or b back, Escape closes.
 * createTour(container, {onMove(delta), onClose()}) → {show({index, total, title, paragraphs, figure}), hide(), focus()}
 */
import { el } from "./core/dom.js";

export function createTour(container, { onMove = () => {}, onClose = () => {} } = {}) {
  const root = el("section", "panel tour");
  root.id = "tour";
  root.hidden = true;
  root.tabIndex = -1;
  root.setAttribute("role", "dialog");
  root.setAttribute("aria-labelledby", "tour-title");
  root.setAttribute("aria-describedby", "tour-body");
  const counter = el("p", "tour-counter");
  const title = el("h2", "tour-title");
  title.id = "tour-title";
  const body = el("div", "tour-body");
  body.id = "tour-body";
  body.setAttribute("aria-live", "polite");
  const nav = el("div", "tour-nav");
  const back = el("button", "tour-back", "← Back");
  const next = el("button", "tour-next", "Next →");
  const close = el("button", "tour-close", "Close tour");
  for (const b of [back, next, close]) b.type = "button";
  back.setAttribute("aria-keyshortcuts", "ArrowLeft b");
  next.setAttribute("aria-keyshortcuts", "ArrowRight n");
  close.setAttribute("aria-keyshortcuts", "Escape");
  const keys = el("p", "tour-keys", "keys: → / n next · ← / b back · Esc close");
  nav.append(back, next, close);
  root.append(counter, title, body, nav, keys);
  container.append(root);

  back.addEventListener("click", () => onMove(-1));
  next.addEventListener("click", () => onMove(1));
  close.addEventListener("click", () => onClose());
  root.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const move = { ArrowRight: 1, n: 1, N: 1, ArrowLeft: -1, b: -1, B: -1 }[e.key];
    if (move) {
      e.preventDefault();
      e.stopPropagation();
      onMove(move);
      return;
    }
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      onClose();
    }
  });

  function figure(fig) {
    const wrap = el("figure", "tour-figure");
    const grid = el("div", "tour-grid");
    grid.style.gridTemplateColumns = `repeat(${fig.rows[0].length}, auto)`;
    for (const row of fig.rows) {
      for (const v of row) {
        const c = el("span", v >= 0.5 ? "ink" : "", v === 0 ? "0" : v.toFixed(2)); // the input's own gray
        c.style.setProperty("--v", String(Math.min(1, Math.max(0, v))));
        grid.append(c);
      }
    }
    wrap.append(grid, el("figcaption", "", fig.caption));
    return wrap;
  }

  return {
    element: root,
    show({ index, total, title: t, paragraphs, figure: fig }) {
      root.hidden = false;
      root.dataset.step = String(index);
      counter.textContent = `Tour · step ${index + 1} of ${total}`;
      title.textContent = t;
      body.replaceChildren(...paragraphs.map((p) => el("p", "", p)), ...(fig ? [figure(fig)] : []));
      back.disabled = index === 0;
      next.textContent = index === total - 1 ? "Finish" : "Next →";
    },
    hide() {
      root.hidden = true;
      delete root.dataset.step;
    },
    focus() {
      root.focus({ preventScroll: true });
    },
  };
}
