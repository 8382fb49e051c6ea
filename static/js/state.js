/**
 * The page state: ONE plain object whose properties are listed here as data (TF Playground style),
 * so a later issue can serialise exactly these keys into the URL hash, add presentation mode or a
 * guided tour by calling set().  No DOM here.
 *
 *   input      {source: "none"|"drawing"|"sample"|"upload", sampleId: int|null, shift: [dy, dx],
 *               code: string|null}  code: the unshifted 32×32 network input of a drawing or upload,
 *               quantised for links (codec.js); null for samples and blank input
 *   pinned     null | {layer: name, c, y, x}   the unit whose arithmetic is shown
 *   hidden     [layer names]                   layers the user has collapsed
 *   colorScope "map" | "layer" | "global"      CNN Explainer's three colour-range scopes
 *   showSteps  bool                            show the preprocessing steps
 *   tool       "pen" | "eraser";  brush  px    drawing pad settings
 *   hide       [control names]                 the teacher's hide list (CONTROLS in classroom.js)
 *   present    bool                            presentation mode (projector)
 *   palette    "auto" | "classic" | "projector" | "cvd"   colour maps; auto = projector when presenting
 *   tour       null | step index               the guided tour, open at that step
 * urlstate.js serialises all of these into the URL hash.
 */

export const STATE_KEYS = ["input", "pinned", "hidden", "colorScope", "showSteps", "tool", "brush",
  "hide", "present", "palette", "tour"];

export const COLOR_SCOPES = ["map", "layer", "global"];
export const PALETTE_CHOICES = ["auto", "classic", "projector", "cvd"];
export const TOOLS = ["pen", "eraser"];
export const BRUSH_RANGE = [6, 44];   // px on the 280 px pad; the slider's min and max

export function defaultState() {
  return {
    input: { source: "none", sampleId: null, shift: [0, 0], code: null },
    pinned: null,
    hidden: [],
    colorScope: "layer",
    showSteps: false,
    tool: "pen",
    brush: 22,
    hide: [],
    present: false,
    palette: "auto",
    tour: null,
  };
}

/** createState(initial) → {get(), set(patch), subscribe(fn) → unsubscribe}.
 *  fn(state, changedKeys) runs after every set() that changed something (shallow compare). */
export function createState(initial = defaultState()) {
  let state = { ...defaultState(), ...initial };
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      const changed = [];
      for (const key of Object.keys(patch)) {
        if (!STATE_KEYS.includes(key)) throw new Error(`state: unknown key "${key}"`);
        if (state[key] !== patch[key]) changed.push(key);
      }
      if (!changed.length) return;
      state = { ...state, ...patch };
      for (const fn of listeners) fn(state, changed);
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}
