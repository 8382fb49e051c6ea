/**
 * The architecture summary table: layer, kind, output shape, parameters with their arithmetic,
 * receptive field, and the total.  createSummary(container) → {update(model)}
 */
import { summaryRows } from "./architecture.js";
import { el } from "./core/dom.js";

export function createSummary(container) {
  const table = el("table", "summary-table");
  table.id = "summary-table";
  container.append(table);
  return {
    update(model) {
      const { rows, total } = summaryRows(model);
      const head = el("tr");
      for (const h of ["layer", "kind", "output shape", "parameters", "how many", "receptive field"]) {
        const th = el("th", "", h);
        th.scope = "col";
        head.append(th);
      }
      const thead = el("thead");
      thead.append(head);
      const tbody = el("tbody");
      for (const r of rows) {
        const tr = el("tr");
        tr.dataset.layer = r.name;
        tr.dataset.params = String(r.params);
        const name = el("th", "", r.name);
        name.scope = "row";
        tr.append(
          name,
          el("td", "", r.kind),
          el("td", "num", r.shape),
          el("td", "num params", r.params.toLocaleString("en")),
          el("td", "formula", r.params ? r.formula : "—"),
          el("td", "", r.rf),
        );
        tbody.append(tr);
      }
      const tfoot = el("tfoot");
      const tr = el("tr");
      const label = el("th", "", "total");
      label.scope = "row";
      const sum = el("td", "num params", total.toLocaleString("en"));
      sum.id = "summary-total";
      sum.dataset.total = String(total);
      const cell = el(
        "td",
        "",
        `trainable parameters (weights and biases); ${((total * 4) / 1024).toFixed(0)} KiB as float32`,
      );
      cell.colSpan = 2;
      tr.append(label, el("td"), el("td"), sum, cell);
      tfoot.append(tr);
      const caption = el(
        "caption",
        "",
        `${model.name}: ${model.layers.length} layers, input ${model.input_shape.join("×")}`,
      );
      table.replaceChildren(caption, thead, tbody, tfoot);
    },
  };
}
