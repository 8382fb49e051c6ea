/**
 * The training page's controls: a network design (conv blocks, dense layers) and a recipe, each
 * a plain object the server reads as is (convnet/design.py, server/training.py).
 *
 * createDesignForm({blocks, blockCount, dense, denseCount, preset}, options, onChange(design))
 *   → {set(design), get() → design, disable(flag)}
 * createRecipeForm(container, options, onChange(recipe)) → {get() → {recipe, limit}, disable(flag)}
 */
import { el } from "../core/dom.js";

const KERNELS = [1, 2, 3, 4, 5, 6, 7, 8, 9];
const PADDINGS = ["valid", "same", 1, 2, 3, 4];

function select(label, values, value, onChange, aria) {
  const s = el("select", { "aria-label": aria || label });
  for (const v of values)
    s.append(el("option", { value: String(v), selected: String(v) === String(value) }, String(v)));
  s.addEventListener("change", () => onChange(s.value));
  return el("label", {}, `${label} `, s);
}

function number(label, value, { min, max, step = 1 }, onChange, aria) {
  const i = el("input", {
    type: "number",
    value: String(value),
    min: String(min),
    max: String(max),
    step: String(step),
  });
  i.setAttribute("aria-label", aria || label);
  i.addEventListener("change", () => onChange(i.value));
  return el("label", {}, `${label} `, i);
}

const asNumber = (v) => (/^\d+$/.test(String(v)) ? Number(v) : v);

export function createDesignForm(nodes, options, onChange) {
  let design = null;
  const { limits } = options;
  for (let n = 0; n <= limits.blocks; n++)
    nodes.blockCount.append(el("option", { value: String(n) }, String(n)));
  for (let n = 0; n <= limits.hidden_layers; n++)
    nodes.denseCount.append(el("option", { value: String(n) }, String(n)));
  for (const [name, p] of Object.entries(options.presets))
    nodes.preset.append(el("option", { value: name }, p.title));

  const changed = () => {
    render();
    onChange(get());
  };
  const block = (b, i) => {
    const edit =
      (key, f = asNumber) =>
      (v) => {
        design.blocks[i] = { ...design.blocks[i], [key]: f(v) };
        changed();
      };
    const whole = (v) => Number(v);
    return el(
      "fieldset",
      { class: "block" },
      el("legend", {}, `Conv block ${i + 1}`),
      number(
        "filters",
        b.filters,
        { min: 1, max: limits.filters },
        edit("filters", whole),
        `Block ${i + 1} filters`,
      ),
      select("kernel", KERNELS, b.kernel, edit("kernel", whole), `Block ${i + 1} kernel size`),
      select("stride", [1, 2, 3], b.stride, edit("stride", whole), `Block ${i + 1} stride`),
      select("padding", PADDINGS, b.padding, edit("padding"), `Block ${i + 1} padding`),
      select(
        "activation",
        options.activations,
        b.activation,
        edit("activation", String),
        `Block ${i + 1} activation`,
      ),
      select("pool", options.pools, b.pool, edit("pool", String), `Block ${i + 1} pooling`),
      select("pool size", [2, 3, 4], b.pool_size, edit("pool_size", whole), `Block ${i + 1} pool size`),
      b.connections === "lenet5" ? el("span", "note", "LeNet-5's partial C3 table") : null,
    );
  };
  function render() {
    nodes.blocks.replaceChildren(...design.blocks.map(block));
    nodes.blockCount.value = String(design.blocks.length);
    nodes.denseCount.value = String(design.dense.length);
    nodes.preset.value = design.preset && options.presets[design.preset] ? design.preset : nodes.preset.value;
    nodes.dense.replaceChildren(
      ...[
        ...design.dense.map((u, i) =>
          number(`dense ${i + 1} units`, u, { min: 1, max: limits.units }, (v) => {
            design.dense[i] = Number(v);
            changed();
          }),
        ),
        design.dense.length === 0
          ? null
          : select(
              "activation",
              options.activations,
              design.dense_activation,
              (v) => {
                design.dense_activation = v;
                changed();
              },
              "Dense layers' activation",
            ),
      ].filter(Boolean),
    );
  }
  nodes.blockCount.addEventListener("change", () => {
    const n = Number(nodes.blockCount.value);
    const last = design.blocks[design.blocks.length - 1] || {
      filters: 6,
      kernel: 5,
      stride: 1,
      padding: "valid",
      activation: "relu",
      pool: "max",
      pool_size: 2,
      connections: "full",
    };
    while (design.blocks.length < n) design.blocks.push({ ...last, connections: "full" });
    design.blocks.length = n;
    changed();
  });
  nodes.denseCount.addEventListener("change", () => {
    const n = Number(nodes.denseCount.value);
    while (design.dense.length < n) design.dense.push(64);
    design.dense.length = n;
    changed();
  });
  nodes.preset.addEventListener("change", () => {
    set(options.presets[nodes.preset.value].design);
    onChange(get());
  });
  function set(d) {
    design = structuredClone(d);
    render();
  }
  function get() {
    const { preset, ...rest } = design;
    return preset ? { ...rest, preset } : rest;
  }
  return {
    set,
    get,
    disable(flag) {
      for (const node of [nodes.blocks, nodes.dense, nodes.blockCount, nodes.denseCount, nodes.preset])
        for (const c of [node, ...node.querySelectorAll("input, select")])
          if ("disabled" in c) c.disabled = flag;
    },
  };
}

export function createRecipeForm(container, options, onChange) {
  const r = { ...options.recipe };
  let limit = 0;
  const L = options.recipe_limits;
  const set = (key, f) => (v) => {
    r[key] = f(v);
    onChange();
  };
  const aug = el("input", { type: "checkbox", checked: r.augment, "aria-label": "Augmentation" });
  aug.addEventListener("change", () => {
    r.augment = aug.checked;
    onChange();
  });
  container.replaceChildren(
    select("optimiser", ["adam", "sgd"], r.optimizer, set("optimizer", String), "Optimiser"),
    number("learning rate", r.lr, { min: 0.00001, max: 1, step: 0.0001 }, set("lr", Number), "Learning rate"),
    select("schedule", ["cosine", "step", "constant"], r.schedule, set("schedule", String), "Schedule"),
    number(
      "batch size",
      r.batch_size,
      { min: L.batch_size[0], max: L.batch_size[1] },
      set("batch_size", Number),
      "Batch size",
    ),
    number("epochs", r.epochs, { min: L.epochs[0], max: L.epochs[1] }, set("epochs", Number), "Epochs"),
    number("seed", r.seed, { min: 0, max: 99999 }, set("seed", Number), "Seed"),
    number(
      "training images (0: all)",
      limit,
      { min: 0, max: L.limit[1], step: 100 },
      (v) => {
        limit = Number(v);
        onChange();
      },
      "Training images",
    ),
    el("label", { class: "check" }, aug, " augmentation (random shifts, turns, scaling)"),
  );
  const inputs = Object.fromEntries(
    [...container.querySelectorAll("input, select")].map((n) => [n.getAttribute("aria-label"), n]),
  );
  return {
    get: () => ({ recipe: { ...r }, limit }),
    /** Show a job's recipe (a reload, or a second browser, sees what the running job uses). */
    set(recipe, jobLimit = 0) {
      const fields = {
        optimizer: "Optimiser",
        lr: "Learning rate",
        schedule: "Schedule",
        batch_size: "Batch size",
        epochs: "Epochs",
        seed: "Seed",
      };
      for (const [key, label] of Object.entries(fields)) {
        if (recipe[key] === undefined) continue;
        r[key] = recipe[key];
        inputs[label].value = String(recipe[key]);
      }
      r.augment = Boolean(recipe.augment);
      aug.checked = r.augment;
      limit = jobLimit || 0;
      inputs["Training images"].value = String(limit);
    },
    /** A dataset's sensible length: 240 shipped digits need many short epochs, MNIST a couple. */
    suggest(dataset) {
      const small = dataset === "digits";
      r.epochs = small ? 30 : 2;
      r.batch_size = small ? 16 : 64;
      inputs.Epochs.value = String(r.epochs);
      inputs["Batch size"].value = String(r.batch_size);
    },
    disable(flag) {
      for (const c of container.querySelectorAll("input, select")) c.disabled = flag;
    },
  };
}
