/**
 * Teacher controls shared by both pages: the hide list (each page lists its hideable controls as a
 * table name → CSS selector; markControls gives the matching elements data-control="name", and the
 * URL's hide=… list hides them), presentation mode with its key, and file downloads.
 */

/** Give every element a control's selector matches its data-control attribute (several names allowed). */
export function markControls(table, root = document) {
  for (const [name, selector] of Object.entries(table)) {
    for (const node of root.querySelectorAll(selector)) {
      const own = new Set((node.dataset.control || "").split(/\s+/).filter(Boolean));
      own.add(name);
      node.dataset.control = [...own].join(" ");
    }
  }
}

/** Hide every [data-control] whose name is listed; a panel left with nothing visible hides too. */
export function applyHide(names, root = document) {
  const hide = new Set(names);
  for (const node of root.querySelectorAll("[data-control]")) {
    const own = node.dataset.control.split(/\s+/);
    node.classList.toggle(
      "teacher-hidden",
      own.some((n) => hide.has(n)),
    );
  }
  for (const panel of root.querySelectorAll("[data-collapse-empty]")) {
    const kids = [...panel.children];
    panel.classList.toggle(
      "teacher-empty",
      kids.length > 0 && kids.every((k) => k.classList.contains("teacher-hidden")),
    );
  }
}

/** Call fn() when `key` is pressed outside text fields and menus, with no modifier. */
function onKey(key, fn) {
  document.addEventListener("keydown", (e) => {
    if (e.key !== key || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
    const t = e.target;
    if (t.closest && t.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"))
      return;
    e.preventDefault();
    fn();
  });
}

/**
 * Presentation mode: the #present-toggle button and the p key flip store.present; while on, the
 * root element has the class "present" (the pages' CSS enlarges everything) and onChange(on) runs.
 */
export function bindPresentation(store, { button, onChange = () => {} }) {
  const flip = () => store.set({ present: !store.get().present });
  button.addEventListener("click", flip);
  onKey("p", flip);
  const apply = (on) => {
    document.documentElement.classList.toggle("present", on);
    button.setAttribute("aria-pressed", String(on));
    onChange(on);
  };
  store.subscribe((s, changed) => {
    if (changed.includes("present")) apply(s.present);
  });
  return () => apply(store.get().present);
}

/** Save a Blob as a file through a temporary link (no server round trip). */
export function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}
