// The sliding-window animation's clock and position (no DOM): index runs 0 … total − 1 in raster
// order; index −1 means "not animating" (the whole output is shown).

export const SPEEDS = [
  ["slow", 2],
  ["normal", 8],
  ["fast", 40],
  ["faster", 400],
  ["fastest", 4000],
];

export function createAnimator({ onFrame, timer = globalThis }) {
  let total = 0;
  let index = -1;
  let playing = false;
  let perSecond = 8;
  let handle = null;
  let last = 0;
  let carry = 0;

  const emit = () => onFrame({ index, total, playing });

  function stopClock() {
    if (handle !== null) timer.clearTimeout(handle);
    handle = null;
  }

  function tick() {
    const now = performance.now();
    carry += ((now - last) / 1000) * perSecond;
    last = now;
    const steps = Math.floor(carry);
    if (steps > 0) {
      carry -= steps;
      index = Math.min(total - 1, index + steps);
      if (index >= total - 1) playing = false;
      emit();
    }
    handle = playing ? timer.setTimeout(tick, 1000 / 60) : null;
  }

  return {
    /** A new output of `total` positions: stop and show it whole. */
    reset(newTotal) {
      stopClock();
      total = Math.max(0, newTotal);
      index = -1;
      playing = false;
      carry = 0;
      emit();
    },
    play() {
      if (total <= 0) return;
      if (index >= total - 1) index = -1;
      if (index < 0) {
        index = 0;
      }
      playing = true;
      last = performance.now();
      carry = 0;
      emit();
      stopClock();
      handle = timer.setTimeout(tick, 1000 / 60);
    },
    pause() {
      playing = false;
      stopClock();
      emit();
    },
    step(by = 1) {
      if (total <= 0) return;
      playing = false;
      stopClock();
      index = index < 0 ? 0 : Math.min(total - 1, index + by);
      emit();
    },
    stop() {
      playing = false;
      stopClock();
      index = -1;
      emit();
    },
    setSpeed(v) {
      if (!(v > 0)) throw new Error(`speed must be positive, got ${v}`);
      perSecond = v;
    },
    get state() {
      return { index, total, playing, perSecond };
    },
  };
}
