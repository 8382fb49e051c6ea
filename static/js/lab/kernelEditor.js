// The kernel: preset picker with its one-line explanation, an editable k×k grid (fractions allowed)
// and the normalise / flip / transpose / randomise buttons. Reports edits; owns no state of record.
import { el } from "../core/dom.js";
import * as K from "./kernels.js";

export function createKernelEditor(container, { onKernel }) {
  const preset = el("select", { id: "preset", "aria-label": "kernel preset" });
  const explain = el("p", { class: "preset-explain" });
  const size = el(
    "select",
    { id: "kernel-size", "aria-label": "kernel size" },
    Array.from({ length: K.MAX_SIZE }, (_, i) => el("option", { value: String(i + 1) }, `${i + 1}×${i + 1}`)),
  );
  const gridBox = el("div", { class: "kernel-grid", role: "grid", "aria-label": "kernel weights" });
  const sumText = el("p", { class: "kernel-sum" });
  const error = el("p", { class: "error", role: "alert" });
  const button = (label, title, fn) =>
    el("button", { type: "button", class: "btn", title, onclick: () => apply(fn) }, label);
  const tools = el(
    "div",
    { class: "kernel-tools" },
    button("Normalise", "scale the weights so they sum to 1", K.normalise),
    button("Flip", "rotate by 180°: correlation ↔ true convolution", K.flip),
    button("Transpose", "swap rows and columns (x ↔ y)", K.transpose),
    button("Randomise", "random integer weights from −3 to 3", K.randomise),
  );
  container.append(
    preset,
    explain,
    el("div", { class: "kernel-head" }, el("label", { class: "inline" }, "size ", size), sumText),
    gridBox,
    tools,
    error,
  );

  let kernel = null;
  let inputs = [];

  function apply(fn) {
    try {
      error.textContent = "";
      onKernel(fn(kernel), "custom");
    } catch (e) {
      error.textContent = e.message;
    }
  }
  preset.addEventListener("change", () => {
    if (preset.value === "custom") return;
    try {
      error.textContent = "";
      onKernel(K.presetKernel(preset.value, extra), preset.value);
    } catch (e) {
      error.textContent = e.message;
    }
  });
  size.addEventListener("change", () => apply((k) => K.resize(k, Number(size.value))));

  function onCell(event) {
    const input = event.target;
    const y = Number(input.dataset.y);
    const x = Number(input.dataset.x);
    try {
      const next = K.setCell(kernel, y, x, input.value);
      input.classList.remove("invalid");
      input.removeAttribute("aria-invalid");
      error.textContent = "";
      onKernel(next, "custom", { typing: true });
    } catch (e) {
      input.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
      error.textContent = e.message;
    }
  }

  function buildGrid(k) {
    gridBox.style.gridTemplateColumns = `repeat(${k}, minmax(0, 1fr))`;
    gridBox.style.setProperty("--k", String(k)); // the cells' font follows their width (lab.css)
    gridBox.className = `kernel-grid k${k}`;
    inputs = [];
    const cells = [];
    for (let y = 0; y < k; y += 1) {
      for (let x = 0; x < k; x += 1) {
        const input = el("input", {
          type: "text",
          inputmode: "decimal",
          spellcheck: "false",
          autocomplete: "off",
          "aria-label": `weight row ${y + 1} column ${x + 1}`,
          dataset: { y, x },
          oninput: onCell,
          // a weight too long for its cell ("-0.0054321094" from a trained filter) is shown
          // rounded; focused, the cell holds the full text to edit
          onfocus: () => {
            input.value = kernel.text[y][x];
          },
          onblur: () => {
            if (!input.classList.contains("invalid")) input.value = cellText(kernel, y, x);
          },
        });
        inputs.push(input);
        cells.push(input);
      }
    }
    gridBox.replaceChildren(...cells);
  }

  /** The text a cell shows unfocused: as typed, or rounded when it would not fit its cell. */
  function cellText(k, y, x) {
    const text = k.text[y][x];
    const room = k.values.length <= 6 ? 8 : 6;
    if (text.length <= room) return text;
    const v = k.values[y][x];
    const options = [3, 2, 1].flatMap((d) => [String(Number(v.toPrecision(d))), v.toExponential(d - 1)]);
    return options.find((t) => t.length <= room) || v.toExponential(0);
  }

  let extra = [];
  /** {kernel, presetId, extraPresets} */
  function update({ kernel: next, presetId, extraPresets = [], note = "" }) {
    if (extraPresets !== extra || preset.options.length === 0) {
      extra = extraPresets;
      preset.replaceChildren(
        el(
          "optgroup",
          { label: "Classic kernels" },
          K.PRESETS.map((p) => el("option", { value: p.id }, p.name)),
        ),
        extra.length
          ? el(
              "optgroup",
              { label: "The trained network’s conv1 filters" },
              extra.map((p) => el("option", { value: p.id }, p.name)),
            )
          : null,
        el("option", { value: "custom" }, "Custom (edited)"),
      );
    }
    kernel = next;
    preset.value = presetId;
    const p = [...K.PRESETS, ...extra].find((q) => q.id === presetId);
    explain.textContent = p
      ? p.explanation
      : note
        ? `From the layer view: ${note} (trained weights, bias left out).`
        : "Your own weights: type numbers or fractions like 1/16.";
    const k = next.values.length;
    size.value = String(k);
    if (inputs.length !== k * k) buildGrid(k);
    inputs.forEach((input) => {
      const y = Number(input.dataset.y);
      const x = Number(input.dataset.x);
      if (document.activeElement !== input) {
        input.value = cellText(next, y, x);
        input.classList.remove("invalid");
      }
      input.title = String(next.values[y][x]);
    });
    sumText.textContent = `sum of weights: ${Number(K.sum(next).toPrecision(6))}`;
  }

  return { update };
}
