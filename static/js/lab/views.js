// The kernel lab's views, built once into the page's panels; each reports what the user does
// through the callbacks it is given and owns no state of record.
import { byId as $ } from "../core/dom.js";
import { createSourcePicker } from "./sourcePicker.js";
import { createKernelEditor } from "./kernelEditor.js";
import { createKnobs } from "./knobs.js";
import { createInputView } from "./inputView.js";
import { createMapView } from "./mapView.js";
import { createFormulaView } from "./formulaView.js";
import { createHistogramView } from "./histogramView.js";
import { loadPlotly } from "../core/plotly.js";
import { createArithmeticPanel } from "./arithmeticPanel.js";
import { createNumbersView } from "./numbersView.js";

/** createViews({onSource, onUpload, onKernel, onKnob, onHover, onChannel}) → {picker, editor, …} */
export function createViews({ onSource, onUpload, onKernel, onKnob, onHover, onChannel }) {
  return {
    picker: createSourcePicker($("source-panel"), { onSelect: onSource, onUpload }),
    editor: createKernelEditor($("kernel-panel"), { onKernel }),
    knobs: createKnobs($("knobs"), { modeContainer: $("source-panel"), onChange: onKnob }),
    inputView: createInputView($("input-view")),
    mapView: createMapView($("output-view"), { title: "Feature map", onHover, onChannel }),
    poolView: createMapView($("pool-view"), { title: "After pooling", size: 260 }),
    formulaView: createFormulaView($("formula")),
    histogram: createHistogramView($("histogram"), { plotly: loadPlotly() }),
    panel: createArithmeticPanel($("arithmetic")),
    numbers: createNumbersView($("numbers")),
  };
}
