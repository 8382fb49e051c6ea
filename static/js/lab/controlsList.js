// The kernel lab's hideable controls, as data: name → CSS selector of what it hides (the layer
// view's table has the same shape, static/js/controls-list.js).  A teacher lists names in the hash
// (hide=upload,knobs,histogram); core/teacher.js marks and hides the matching elements.
export const LAB_CONTROLS = {
  source: "#source-panel",
  upload: 'label[for="upload"]',
  mode: ".radios-mode",
  kernel: "#kernel-panel",
  presets: "#preset, .preset-explain",
  "kernel-tools": ".kernel-tools, .kernel-head",
  knobs: "#knobs",
  stride: '.knob:has(input[name="stride"])',
  padding: '.radios-paddingMode, .knob:has(input[name="padding"])',
  dilation: '.knob:has(input[name="dilation"])',
  activation: '.knob:has(select[name="activation"])',
  pooling: '.knob:has(select[name="poolKind"]), .pool-knobs',
  animation: "#animation",
  formula: "#formula-panel",
  numbers: "#numbers-panel",
  arithmetic: "#arithmetic-panel",
  histogram: "#histogram-panel",
  link: "#share",
  present: "#present-toggle",
  nav: ".lab-header nav",
};

export const LAB_CONTROL_NAMES = Object.keys(LAB_CONTROLS);
