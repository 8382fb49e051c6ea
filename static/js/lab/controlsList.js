// The kernel lab's hideable controls, as data: name → CSS selector of what it hides.  A teacher
// lists names in the hash (hide=upload,knobs,histogram); main.js marks the matching elements with
// data-control so static/js/teacher.js can hide them.
export const LAB_CONTROLS = {
  source: '#source-panel',
  upload: 'label[for="upload"]',
  mode: '.radios-mode',
  kernel: '#kernel-panel',
  presets: '#preset, .preset-explain',
  'kernel-tools': '.kernel-tools, .kernel-head',
  knobs: '#knobs',
  stride: '.knob:has(input[name="stride"])',
  padding: '.radios-paddingMode, .knob:has(input[name="padding"])',
  dilation: '.knob:has(input[name="dilation"])',
  activation: '.knob:has(select[name="activation"])',
  pooling: '.knob:has(select[name="poolKind"]), .pool-knobs',
  animation: '#animation',
  formula: '#formula-panel',
  numbers: '#numbers-panel',
  arithmetic: '#arithmetic-panel',
  histogram: '#histogram-panel',
  link: '#share',
  present: '#present-toggle',
  nav: '.lab-header nav',
};

/** Give every element a control name selects its data-control attribute (several names allowed). */
export function markControls(root = document) {
  for (const [name, selector] of Object.entries(LAB_CONTROLS)) {
    for (const node of root.querySelectorAll(selector)) {
      const own = new Set((node.dataset.control || '').split(/\s+/).filter(Boolean));
      own.add(name);
      node.dataset.control = [...own].join(' ');
    }
  }
}
