/**
 * A store: one plain object, changed only through set(), with listeners told which keys changed.
 * Both pages keep their state in one (the layer view also its data: model, weights, the last
 * response); views read it and the test hook window.__convscope reads it.  No DOM.
 *
 * createStore(initial, {name}) → {get(), set(patch), subscribe(fn) → unsubscribe}
 *   set() rejects keys the initial object lacks; fn(state, changedKeys) runs after every set() that
 *   changed something (shallow compare).  Listeners run in the order they subscribed.
 */
export function createStore(initial, { name = "store" } = {}) {
  const keys = new Set(Object.keys(initial));
  let state = { ...initial };
  const listeners = new Set();
  return {
    get: () => state,
    set(patch) {
      const changed = [];
      for (const key of Object.keys(patch)) {
        if (!keys.has(key)) throw new Error(`${name}: unknown key "${key}"`);
        if (state[key] !== patch[key]) changed.push(key);
      }
      if (!changed.length) return changed;
      state = { ...state, ...patch };
      for (const fn of listeners) fn(state, changed);
      return changed;
    },
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}
