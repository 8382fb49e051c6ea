// Histogram of the feature map's values (Plotly.js, served by the app; `plotly`: a promise of it).
import { el } from "../core/dom.js";

const LAYOUT = {
  margin: { l: 48, r: 12, t: 8, b: 40 },
  height: 220,
  bargap: 0.05,
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "#fff",
  font: { size: 14, family: "system-ui, sans-serif" },
  xaxis: { title: { text: "value" }, zeroline: true, zerolinecolor: "#888" },
  yaxis: { title: { text: "pixels" }, rangemode: "tozero" },
  showlegend: false,
};

export function createHistogramView(container, { plotly: arriving }) {
  const plot = el("div", { class: "histogram-plot" });
  const note = el("p", { class: "view-note" });
  container.append(plot, note);
  let plotly = null;
  let latest;
  arriving.then(
    (P) => {
      plotly = P;
      if (latest !== undefined) update(latest);
    },
    () => {
      note.textContent = "Histogram unavailable: Plotly.js did not load.";
    },
  );

  /** stages: [{name, values: Float32Array|number[]}] — one trace each; null clears. */
  function update(stages) {
    latest = stages;
    if (!plotly) return;
    if (!stages || stages.length === 0) {
      plotly.purge(plot);
      note.textContent = "No values to plot.";
      return;
    }
    const colours = ["#3b6fd1", "#e07b39", "#3aa35b"];
    const traces = stages.map((s, i) => ({
      type: "histogram",
      x: s.values,
      name: s.name,
      nbinsx: 60,
      opacity: stages.length > 1 ? 0.6 : 0.9,
      marker: { color: colours[i % colours.length] },
    }));
    plotly.react(
      plot,
      traces,
      { ...LAYOUT, showlegend: stages.length > 1, barmode: "overlay", legend: { orientation: "h", y: 1.15 } },
      { displayModeBar: false, responsive: true },
    );
    note.textContent = stages.map((s) => `${s.name}: ${s.values.length.toLocaleString()} values`).join("; ");
  }

  return { update };
}
