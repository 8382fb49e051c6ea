/**
 * "Copy link": copies the page's shareable URL.  navigator.clipboard needs a secure context and
 * permission (a LAN address over plain http is neither), so the link is always shown in a text
 * field as well, selected, ready for Ctrl+C.  Used by both pages.
 * createShareBox(container, {getUrl() → string, label}) → {element, copy()}
 */

import { el } from "./dom.js";

export function createShareBox(container, { getUrl, label = "Copy link" }) {
  const button = el(
    "button",
    { type: "button", class: "share-copy btn", id: "copy-link", "aria-controls": "share-url" },
    label,
  );
  const field = el("input", {
    type: "text",
    readOnly: true,
    id: "share-url",
    class: "share-url",
    hidden: true,
    "aria-label": "Link to this view",
  });
  const note = el("span", { class: "share-note", role: "status" });
  const root = el("div", "share", button, field, note);
  container.append(root);

  async function tryClipboard(text) {
    if (!window.isSecureContext || !navigator.clipboard || !navigator.clipboard.writeText) return false;
    try {
      // a permission prompt that never resolves must not leave the button hanging
      await Promise.race([
        navigator.clipboard.writeText(text),
        new Promise((_, no) => setTimeout(() => no(new Error("timeout")), 800)),
      ]);
      return true;
    } catch {
      return false;
    }
  }

  async function copy() {
    const url = getUrl();
    field.value = url;
    field.hidden = false;
    field.size = Math.min(60, Math.max(20, url.length));
    root.dataset.url = url;
    if (await tryClipboard(url)) {
      note.textContent = "Link copied.";
      root.dataset.copied = "clipboard";
    } else {
      field.focus();
      field.select();
      let ok;
      try {
        ok = document.execCommand && document.execCommand("copy");
      } catch {
        ok = false;
      }
      note.textContent = ok ? "Link copied." : "Press Ctrl+C (⌘C) to copy the selected link.";
      root.dataset.copied = ok ? "selection" : "manual";
    }
    field.select();
  }
  button.addEventListener("click", copy);
  field.addEventListener("focus", () => field.select());
  return { element: root, copy };
}
