/**
 * The layer view's hideable controls, as data: name → CSS selector of what it hides (the kernel
 * lab's table has the same shape, lab/controlsList.js).  A teacher lists names in the URL
 * (hide=gallery,upload,eraser); core/teacher.js marks and hides the matching elements.
 */
export const CONTROLS = {
  draw: ".pad-panel", // the drawing pad panel
  tools: ".pad-panel .tools, .pad-panel .pad-actions", // all drawing tools (with undo and clear)
  pen: "#tool-pen",
  eraser: "#tool-eraser",
  brush: ".tools .brush", // the brush size slider
  undo: "#undo",
  clear: "#clear",
  camera: "#camera, #camera-video", // the live camera input
  seen: "#seen-panel", // the 'what the network sees' panel
  shift: "#seen-panel .shift", // the shift-by-one-pixel buttons
  steps: "label.check:has(#show-steps)", // the preprocessing-steps checkbox
  gallery: "#gallery-title, #photos, #gallery", // the MNIST digit gallery (and an RGB model's photographs)
  upload: "label.upload", // the image upload
  detail: "#detail-host", // the arithmetic panel
  scope: "label:has(#color-scope)", // the colour range menu
  palette: "label.palette-pick", // the colour map menu
  present: "#present-toggle",
  tour: "#tour-start",
  export: "#export-png, #export-json",
  link: "#share", // the copy-link button
  compare: "#compare-details", // before and after the shift
  summary: "#summary-details", // the architecture summary
  filters: "#filters-details", // the filter viewer
  nav: ".site-nav", // the links to the other page
};
export const CONTROL_NAMES = Object.keys(CONTROLS);
