/**
 * What hovering a unit shows, computed from the last forward pass and the model (no DOM, no fetch):
 * the previous-layer units / windows it reads, the pool winner, its receptive field on the input
 * and the tooltip text.  inspect(model, tensors, weights, unit) → {scene, tip, rf}
 */
import { inputIndex, receptiveRect, sources } from "./geometry.js";
import { at, numberText as fmt } from "./core/tensor.js";

export function layerIndex(model, name) {
  const li = model.layers.findIndex((d) => d.name === name);
  if (li < 0) throw new Error(`unknown layer "${name}"`);
  return li;
}

export function inspect(model, tensors, weights, unit) {
  const li = layerIndex(model, unit.layer);
  const d = model.layers[li];
  const t = tensors[li];
  if (unit.c < 0 || unit.c >= t.C || unit.y < 0 || unit.y >= t.H || unit.x < 0 || unit.x >= t.W) {
    throw new Error(`unit ${JSON.stringify(unit)} outside ${d.name} [${d.output_shape}]`);
  }
  const src = sources(model.layers, li, unit, tensors, weights);
  const from = inputIndex(model.layers, li);
  const prevName = from >= 0 ? model.layers[from].name : null;
  const rf = receptiveRect(d, unit, model.input_shape);
  const scene = {
    target: unit,
    sources: src.units.map((s) => ({
      unit: { layer: prevName, c: s.c, y: s.y, x: s.x },
      strength: s.contribution,
    })),
    windows: src.windows.map((w) => ({ layer: prevName, ...w })),
    winner: src.winner && { layer: prevName, ...src.winner },
    rf,
  };
  if (scene.windows.length) scene.sources = [];
  const value = at(t, unit.c, unit.y, unit.x);
  const where =
    d.op === "softmax"
      ? `digit ${unit.c}`
      : d.family === "map"
        ? `channel ${unit.c} · row ${unit.y}, col ${unit.x}`
        : `unit ${unit.c}`;
  // the lines drawn to a dense unit, said in words (a newcomer cannot read "|w×a|")
  const reads =
    d.op === "dense"
      ? `\nlines: the ${src.units.length} inputs that push this unit up or down the most (weight × activation)`
      : "";
  const tip =
    `${d.name} (${d.kind}) · ${where} · value ${fmt(value)}\n` +
    `receptive field ${rf.height}×${rf.width} at (${rf.top}, ${rf.left})${reads}`;
  return { scene, tip, rf, value };
}
