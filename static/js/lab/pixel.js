// One output pixel of the kernel lab: the hovered one (or the sliding-window animation's) is
// marked on the map, its window on the input and in the numbers, and its arithmetic is shown.
import { byId as $ } from "../core/dom.js";
import { windowTaps, windowArithmetic, rasterPosition, ACTIVATIONS } from "./geometry.js";
import { createAnimator } from "./animator.js";
import { createAnimationControls } from "./animationControls.js";

/** createPixel({state, data, views}) → {hover(p), setChannel(c), newOutput(total)} */
export function createPixel({ state, data, views }) {
  // data.hovered: {oy, ox} | null; data.channel: the output channel shown (RGB maps: one of three)
  const stageOf = (body) => body && (body.activation || body.conv);

  function arithmetic(response, geo, oy, ox) {
    const s = state.get();
    const mode = response.input.shape[0] === 1 ? "per_channel" : s.mode;
    const outChannel = mode === "sum" ? 0 : data.get().channel;
    const arith = windowArithmetic(response.input.data, s.kernel.values, geo, oy, ox, {
      mode,
      channel: outChannel,
      bias: 0,
    });
    return {
      arith,
      geo,
      oy,
      ox,
      mode,
      channels: response.input.shape[0],
      kernel: s.kernel.values,
      serverValue: response.conv.data[outChannel][oy][ox],
      activation: s.activation || null,
      activated: s.activation ? ACTIVATIONS[s.activation](arith.sum) : null,
    };
  }

  /** Highlight `hovered` everywhere and show its arithmetic. */
  function show() {
    const { response, geo, hovered } = data.get();
    if (!hovered || !stageOf(response) || !response.conv) {
      views.mapView.mark(null);
      views.inputView.showWindow(null);
      views.numbers.highlight(null);
      views.panel.update(null);
      return;
    }
    const taps = windowTaps(geo, hovered.oy, hovered.ox);
    views.mapView.mark(hovered);
    views.inputView.showWindow(taps);
    views.numbers.highlight(hovered, taps);
    views.panel.update(arithmetic(response, geo, hovered.oy, hovered.ox));
  }

  function refreshNumbers() {
    const { response, geo, channel } = data.get();
    if (!response) return;
    const stage = stageOf(response);
    views.numbers.update({ input: response.input.data, geo, output: stage ? stage.data : null, channel });
  }

  function frame({ index, total, playing }) {
    const { geo } = data.get();
    const pos = index >= 0 && geo ? rasterPosition(index, geo.Wo) : { oy: null, ox: null };
    controls.update({ index, total, playing, ...pos });
    views.mapView.reveal(index >= 0 ? index + 1 : null);
    views.numbers.reveal(index >= 0 ? index + 1 : null);
    data.set({ hovered: index >= 0 ? { oy: pos.oy, ox: pos.ox } : null });
    show();
  }

  const animator = createAnimator({ onFrame: frame });
  const controls = createAnimationControls($("animation"), {
    onPlay: () => animator.play(),
    onPause: () => animator.pause(),
    onStop: () => animator.stop(),
    onSpeed: (v) => animator.setSpeed(v),
    onStep: (by) => {
      const { geo } = data.get();
      const s = animator.state;
      if (by === "row" && geo)
        animator.step(s.index < 0 ? geo.Wo - 1 : geo.Wo - 1 - (s.index % geo.Wo) || geo.Wo);
      else animator.step(1);
    },
  });

  return {
    hover(p) {
      if (animator.state.index >= 0) return; // the animation owns the highlight while it runs
      data.set({ hovered: p });
      show();
    },
    setChannel(c) {
      data.set({ channel: c });
      show();
      refreshNumbers();
    },
    /** A new response whose output has `total` pixels: the animation starts over. */
    newOutput(total) {
      data.set({ channel: views.mapView.channel() });
      animator.reset(total); // shows the whole output: no pixel hovered
      refreshNumbers();
      show();
    },
  };
}
