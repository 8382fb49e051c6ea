/**
 * The layer view's hideable controls, as data: name → what it hides.  A teacher lists names in
 * the URL (hide=gallery,upload,eraser); the page marks each element with data-control="name".
 */
export const CONTROLS = {
  draw: "the drawing pad panel",
  tools: "all drawing tools",
  pen: "the pen button",
  eraser: "the eraser button",
  brush: "the brush size slider",
  undo: "the undo button",
  clear: "the clear button",
  seen: "the 'what the network sees' panel",
  shift: "the shift-by-one-pixel buttons",
  steps: "the preprocessing-steps checkbox",
  gallery: "the MNIST digit gallery",
  upload: "the image upload",
  detail: "the arithmetic panel",
  scope: "the colour range menu",
  palette: "the colour map menu",
  present: "the presentation-mode button",
  tour: "the tour button",
  export: "the export buttons",
  link: "the copy-link button",
  summary: "the architecture summary",
  filters: "the filter viewer",
  nav: "the links to the other page",
};
export const CONTROL_NAMES = Object.keys(CONTROLS);
