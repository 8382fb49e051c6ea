/**
 * The layer view's page state: ONE plain object whose properties are listed here as data (TF
 * Playground style), kept in a store (core/store.js).  No DOM here.
 *
 *   input      {source: "none"|"drawing"|"sample"|"upload", sampleId: int|null, shift: [dy, dx],
 *               code: string|null}  code: the unshifted 32×32 network input of a drawing or upload,
 *               quantised for links (core/q4.js); null for samples and blank input
 *   pinned     null | {layer: name, c, y, x}   the unit whose arithmetic is shown
 *   hidden     [layer names]                   layers the user has collapsed
 *   colorScope "map" | "layer" | "global"      CNN Explainer's three colour-range scopes
 *   showSteps  bool                            show the preprocessing steps
 *   tool       "pen" | "eraser";  brush  px    drawing pad settings
 *   hide       [control names]                 the teacher's hide list (CONTROLS in classroom.js)
 *   present    bool                            presentation mode (projector)
 *   palette    "auto" | "classic" | "projector" | "cvd"   colour maps; auto = projector when presenting
 *   tour       null | step index               the guided tour, open at that step
 * urlstate.js serialises all of these into the URL hash.  The page's data (model, weights, the last
 * response) lives in a second store, main.js's `data`.
 */

import { createStore } from "./core/store.js";
import { PALETTE_CHOICES } from "./core/colors.js";

export { PALETTE_CHOICES };
export const COLOR_SCOPES = ["map", "layer", "global"];
export const TOOLS = ["pen", "eraser"];
export const BRUSH_RANGE = [6, 44]; // px on the 280 px pad; the slider's min and max

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

/** The page state store: {get(), set(patch), subscribe(fn(state, changedKeys))} (core/store.js). */
export function createState(initial = {}) {
  return createStore({ ...defaultState(), ...initial }, { name: "state" });
}
