/**
 * The architecture summary (like Keras' model.summary()) from GET /api/model.  No DOM.
 * summaryRows(model) → {rows: [{name, kind, shape, params, formula, rf}], total}
 */

const times = (a) => a.join("×");

/** Receptive field in words: "5×5, jump 1" or "whole input (32×32)" for dense layers (jump 0). */
function receptiveText(rf, inputShape) {
  if (!rf) return "";
  if (rf.jump[0] === 0 && rf.jump[1] === 0) return `whole input (${times(inputShape.slice(-2))})`;
  const jump = rf.jump[0] === rf.jump[1] ? rf.jump[0] : times(rf.jump);
  return `${times(rf.size)}, jump ${jump}`;
}

export function summaryRows(model) {
  const rows = model.layers.map((d) => ({
    name: d.name,
    kind: d.kind,
    shape: times(d.output_shape),
    params: d.params,
    formula: d.params_formula || (d.params ? String(d.params) : "—"),
    rf: receptiveText(d.receptive_field, model.input_shape),
  }));
  return { rows, total: rows.reduce((s, r) => s + r.params, 0) };
}
