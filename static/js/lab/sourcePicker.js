// Where the input comes from: built-in images, the 7×7 numbers example, the layer view's drawing,
// shipped MNIST digits, or an uploaded PNG/JPEG. Reports the choice; shows notices and errors.
import { el } from "../core/dom.js";

const BUILTINS = [
  ["builtin:scene", "Scene (house, hills, sun)"],
  ["builtin:shapes", "Shapes (straight & curved edges)"],
  ["builtin:checker", "Checkerboard"],
  ["builtin:text", "Text"],
  ["numbers7", "7×7 numbers (textbook example)"],
];

export function createSourcePicker(container, { onSelect, onUpload }) {
  const select = el("select", { id: "source", "aria-label": "input image" });
  const file = el("input", {
    type: "file",
    id: "upload",
    accept: "image/png,image/jpeg",
    class: "visually-hidden",
  });
  const uploadLabel = el(
    "label",
    { for: "upload", class: "btn", title: "PNG or JPEG; colour is kept; over 512 px a side is scaled down" },
    "Upload…",
  );
  const notice = el("p", { class: "notice", role: "status" });
  const error = el("p", { class: "error", role: "alert" });
  container.append(el("div", { class: "upload-row" }, select, uploadLabel, file), notice, error);
  select.addEventListener("change", () => onSelect(select.value));
  file.addEventListener("change", () => {
    if (file.files && file.files[0]) onUpload(file.files[0]);
    file.value = "";
  });

  let key = "";
  /** {source, samples: [{id, label}], hasDrawing, uploadName, notice, error} */
  function update({
    source,
    samples = [],
    hasDrawing = false,
    uploadName = null,
    notice: n = "",
    error: err = "",
  }) {
    const linked = source.startsWith("draw:") ? source : null;
    const listed =
      source.startsWith("sample:") && !samples.some((s) => `sample:${s.id}` === source) ? source : null;
    const nextKey = `${samples.length}|${hasDrawing}|${uploadName}|${linked}|${listed}`;
    if (nextKey !== key) {
      key = nextKey;
      select.replaceChildren(
        el(
          "optgroup",
          { label: "Built-in (CC0)" },
          BUILTINS.map(([v, t]) => el("option", { value: v }, t)),
        ),
        hasDrawing
          ? el(
              "optgroup",
              { label: "From the layer view" },
              el("option", { value: "drawing" }, "Your last drawing (32×32)"),
            )
          : null,
        uploadName
          ? el("optgroup", { label: "Uploaded" }, el("option", { value: "upload" }, uploadName))
          : null,
        linked || listed
          ? el(
              "optgroup",
              { label: "From the link" },
              el(
                "option",
                { value: linked || listed },
                linked ? "The layer view’s drawing (32×32)" : `MNIST digit (${listed.slice(7)})`,
              ),
            )
          : null,
        samples.length
          ? el(
              "optgroup",
              { label: "MNIST test digits" },
              samples.map((s) =>
                el("option", { value: `sample:${s.id}` }, `digit ${s.label} (sample ${s.id})`),
              ),
            )
          : null,
      );
    }
    select.value = source;
    notice.textContent = n || "";
    notice.hidden = !n;
    error.textContent = err || "";
  }

  return { update };
}
