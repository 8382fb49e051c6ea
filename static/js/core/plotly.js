/**
 * Plotly.js (4.8 MB, from the server's vendor route): fetched from the start (base.html preloads
 * it) but run only when a module asks, so that parsing it never holds up the page's first picture.
 *
 * loadPlotly() → Promise<Plotly>: the same promise on every call; rejects if the script fails.
 */
const SRC = "/vendor/plotly.min.js";
let loading = null;

export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = SRC;
      script.async = true;
      script.addEventListener("load", () =>
        window.Plotly
          ? resolve(window.Plotly)
          : reject(new Error("Plotly.js loaded but did not define Plotly")),
      );
      script.addEventListener("error", () => reject(new Error("Plotly.js did not load")));
      document.head.append(script);
    });
  }
  return loading;
}
