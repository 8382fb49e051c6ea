/**
 * Teacher controls shared by both pages: the hide list (any element with data-control="name" can
 * be hidden from the URL) and the presentation-mode key.
 */

/** Hide every [data-control] whose name is listed; a panel left with nothing visible hides too. */
export function applyHide(names, root = document) {
  const hide = new Set(names);
  for (const node of root.querySelectorAll("[data-control]")) {
    const own = node.dataset.control.split(/\s+/);
    node.classList.toggle("teacher-hidden", own.some((n) => hide.has(n)));
  }
  for (const panel of root.querySelectorAll("[data-collapse-empty]")) {
    const kids = [...panel.children];
    panel.classList.toggle("teacher-empty", kids.length > 0 && kids.every((k) => k.classList.contains("teacher-hidden")));
  }
}

/** Call fn() when `key` is pressed outside text fields and menus, with no modifier. */
export function onKey(key, fn) {
  document.addEventListener("keydown", (e) => {
    if (e.key !== key || e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
    const t = e.target;
    if (t.closest && t.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']")) return;
    e.preventDefault();
    fn();
  });
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
