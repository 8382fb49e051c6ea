/**
 * The model picker both pages share: which of the server's models (GET /api/models) the page
 * shows, kept in the URL as ?model=NAME (absent: the server's default), so a link opens the same
 * network.  Picking another model reloads the page with the new URL: every view is built once for
 * one network, and a fresh start is the one path that cannot leave a view on the old one.
 *
 * chosenModel(search) → name | null          the URL's model (validated against the list later)
 * createModelPicker(select, {models, current, onPick(name)})   fills a <select>
 * bindModelUpload({control, input, onDone(name), onError(message)})   the .onnx upload (a file
 *   control and drag-and-drop onto the page), shown only when the server allows uploads
 */

/** The ?model= of a query string, or null. */
export function chosenModel(search) {
  const name = new URLSearchParams(search).get("model");
  return name && /^[A-Za-z0-9._-]{1,64}(@\d{1,9})?$/.test(name) ? name : null;
}

/** A training job's snapshot, "<job>@<step>" (served, never listed): {job, step}, or null. */
export function snapshotOf(name) {
  const m = /^([0-9a-f]{1,32})@(\d{1,9})$/.exec(name || "");
  return m ? { job: m[1], step: Number(m[2]) } : null;
}

/** The URL for another model, keeping the rest of the query and the hash (or dropping the
 * hash's input when the model's input differs, see the layer view). */
export function urlForModel(loc, name, keepHash = true) {
  const q = new URLSearchParams(loc.search);
  q.set("model", name);
  return `${loc.pathname}?${q}${keepHash ? loc.hash : ""}`;
}

/** One option per model: "lenet · gray 32×32 · 99.63 %". */
export function modelLabel(m) {
  const i = m.input;
  const acc = typeof m.accuracy === "number" ? ` · ${(100 * m.accuracy).toFixed(2)} %` : "";
  return `${m.name} · ${i.channels === 3 ? "RGB" : "gray"} ${i.height}×${i.width}${acc}`;
}

export function createModelPicker(select, { models, current, onPick }) {
  select.replaceChildren();
  for (const m of models) {
    const o = document.createElement("option");
    o.value = m.name;
    o.textContent = modelLabel(m);
    o.selected = m.name === current;
    select.append(o);
  }
  select.disabled = models.length < 2;
  select.addEventListener("change", () => onPick(select.value));
}

/** POST the file to /api/models; resolves to the new model's summary or rejects with the server's words. */
export async function uploadModel(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  const response = await fetch("/api/models", {
    method: "POST",
    body: form,
    headers: { Accept: "application/json" },
  });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const e = (body && body.error) || {};
    throw new Error(e.message || `upload failed: HTTP ${response.status}`);
  }
  return body;
}

export function bindModelUpload({ control, input, onDone, onError }) {
  control.hidden = false;
  const send = (file) => {
    if (!file) return;
    uploadModel(file).then(
      (m) => onDone(m.name),
      (e) => onError(`Your model: ${e.message}`),
    );
  };
  input.addEventListener("change", () => send(input.files[0]));
  const isModel = (e) =>
    e.dataTransfer && Array.from(e.dataTransfer.items || []).some((i) => i.kind === "file");
  document.addEventListener("dragover", (e) => {
    if (!isModel(e)) return;
    e.preventDefault();
    document.body.classList.add("dropping-model");
  });
  document.addEventListener("dragleave", () => document.body.classList.remove("dropping-model"));
  document.addEventListener("drop", (e) => {
    document.body.classList.remove("dropping-model");
    const file = e.dataTransfer && Array.from(e.dataTransfer.files).find((f) => /\.onnx$/i.test(f.name));
    if (!file) return; // an image dropped on the pad is the pad's
    e.preventDefault();
    send(file);
  });
}
