// The knobs: colour mode, stride, padding (valid / same / explicit P), dilation, activation and
// pooling (kind, window, stride). Reports onChange(key, value); shows the state it is given.
import { el, nextId } from "../core/dom.js";

function number(key, label, min, max, onChange) {
  const id = nextId(key);
  const range = el("input", { type: "range", min, max, step: 1, "aria-hidden": "true", tabindex: "-1" });
  const box = el("input", { type: "number", id, min, max, step: 1, name: key, class: "num" });
  range.addEventListener("input", () => {
    box.value = range.value;
    onChange(key, Number(range.value));
  });
  box.addEventListener("input", () => {
    const v = Number(box.value);
    if (box.value !== "" && Number.isInteger(v) && v >= min && v <= max) {
      range.value = box.value;
      onChange(key, v);
    }
  });
  const node = el("div", { class: "knob" }, el("label", { for: id }, label), range, box);
  return {
    node,
    set: (v) => {
      range.value = String(v);
      if (document.activeElement !== box) box.value = String(v);
    },
  };
}

function radios(key, legend, options, onChange) {
  const name = nextId(key);
  const inputs = options.map(([value, text, hint]) => {
    const input = el("input", { type: "radio", name, value, onchange: () => onChange(key, value) });
    return {
      value,
      input,
      node: el("label", { class: "radio" }, input, el("span", {}, text, hint ? el("small", {}, hint) : null)),
    };
  });
  const node = el(
    "fieldset",
    { class: `radios radios-${key}` },
    el("legend", {}, legend),
    inputs.map((i) => i.node),
  );
  return {
    node,
    set: (v) =>
      inputs.forEach((i) => {
        i.input.checked = i.value === v;
      }),
  };
}

function select(key, label, options, onChange) {
  const id = nextId(key);
  const s = el(
    "select",
    { id, name: key, onchange: () => onChange(key, s.value) },
    options.map(([v, t]) => el("option", { value: v }, t)),
  );
  return {
    node: el("div", { class: "knob" }, el("label", { for: id }, label), s),
    set: (v) => {
      s.value = v;
    },
  };
}

export function createKnobs(container, { onChange, modeContainer = container }) {
  const mode = radios(
    "mode",
    "Colour images",
    [
      ["per_channel", "Same kernel on each channel", "image-editing view → RGB out"],
      ["sum", "One 3-D filter summed over channels", "CNN view → one feature map"],
    ],
    onChange,
  );
  const stride = number("stride", "Stride", 1, 16, onChange);
  const paddingMode = radios(
    "paddingMode",
    "Padding",
    [
      ["valid", "valid", ""],
      ["same", "same", ""],
      ["explicit", "explicit P", ""],
    ],
    onChange,
  );
  const padding = number("padding", "P", 0, 16, onChange);
  const dilation = number("dilation", "Dilation", 1, 8, onChange);
  const activation = select(
    "activation",
    "Activation",
    [
      ["", "none"],
      ["relu", "ReLU"],
      ["sigmoid", "sigmoid"],
      ["tanh", "tanh"],
    ],
    onChange,
  );
  const poolKind = select(
    "poolKind",
    "Pooling",
    [
      ["", "none"],
      ["max", "max"],
      ["avg", "average"],
      ["l2", "L2"],
    ],
    onChange,
  );
  const poolSize = number("poolSize", "window", 1, 16, onChange);
  const poolStride = number("poolStride", "stride", 1, 16, onChange);
  const poolBox = el("div", { class: "pool-knobs" }, poolSize.node, poolStride.node);
  container.append(
    el(
      "section",
      { class: "panel knobs-conv" },
      el("h2", {}, "Stride, padding, dilation"),
      stride.node,
      paddingMode.node,
      padding.node,
      dilation.node,
      el("h2", { class: "then" }, "Then"),
      el("div", { class: "then-row" }, activation.node, poolKind.node),
      poolBox,
    ),
  );
  modeContainer.append(mode.node);
  const controls = {
    mode,
    stride,
    paddingMode,
    padding,
    dilation,
    activation,
    poolKind,
    poolSize,
    poolStride,
  };

  function update(state, { colour = true } = {}) {
    for (const [key, control] of Object.entries(controls)) control.set(state[key]);
    padding.node.hidden = state.paddingMode !== "explicit";
    poolBox.hidden = !state.poolKind;
    mode.node.classList.toggle("muted", !colour);
    mode.node.title = colour ? "" : "The input is grayscale: both modes give the same single map.";
  }

  return { update };
}
