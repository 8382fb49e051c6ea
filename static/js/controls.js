/**
 * The page's plain controls (pen/eraser, brush, undo, clear, shift buttons and arrow keys,
 * steps toggle, colour-range scope, upload), bound to the state and the callbacks main.js gives.
 */

import { byId as $ } from "./core/dom.js";

export function bindControls({ state, drawpad, shift, upload }) {
  const tools = { pen: $("tool-pen"), eraser: $("tool-eraser") };
  for (const [name, button] of Object.entries(tools)) {
    button.addEventListener("click", () => state.set({ tool: name }));
  }
  $("brush").addEventListener("input", (e) => state.set({ brush: Number(e.target.value) }));
  $("undo").addEventListener("click", () => drawpad.undo());
  $("clear").addEventListener("click", () => drawpad.clear());
  $("show-steps").addEventListener("change", (e) => state.set({ showSteps: e.target.checked }));
  $("color-scope").addEventListener("change", (e) => state.set({ colorScope: e.target.value }));
  $("upload").addEventListener("change", (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    const reader = new FileReader();
    reader.onload = () => upload(String(reader.result), file.name);
    reader.readAsDataURL(file);
    e.target.value = "";
  });

  const SHIFTS = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
  for (const button of document.querySelectorAll("[data-shift]")) {
    button.addEventListener("click", () => shift(...SHIFTS[button.dataset.shift]));
  }
  // Arrow keys shift the input unless a layer (unit stepping) or a form control has the focus.
  document.addEventListener("keydown", (e) => {
    if (!SHIFTS[e.key] || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey) return;
    const t = e.target;
    if (t.closest && (t.closest(".layer-body") || t.closest("input, select, textarea"))) return;
    shift(...SHIFTS[e.key]);
    e.preventDefault();
  });
  document.addEventListener("keydown", (e) => {
    if (
      (e.ctrlKey || e.metaKey) &&
      e.key === "z" &&
      !(e.target.closest && e.target.closest("input, textarea"))
    ) {
      drawpad.undo();
      e.preventDefault();
    }
  });

  state.subscribe((s, changed) => {
    if (changed.includes("tool")) {
      for (const [name, button] of Object.entries(tools))
        button.setAttribute("aria-pressed", String(s.tool === name));
    }
    if (changed.includes("input"))
      $("shift-readout").textContent = `shift ${s.input.shift[0]}, ${s.input.shift[1]}`;
    if (changed.includes("brush")) $("brush").value = String(s.brush);
    if (changed.includes("colorScope")) $("color-scope").value = s.colorScope;
    if (changed.includes("showSteps")) $("show-steps").checked = s.showSteps;
  });
}
