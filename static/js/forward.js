/**
 * The layer view's one forward channel: inputs are submitted as body makers, sent latest-wins
 * (core/api.js: at most one in flight, newest waiting), paced when the server's queue is long
 * (core/pacer.js: a full lecture hall), decoded (core/tensor.js) into the data store, and timed for
 * the benches.
 *
 * createForward({state, data, options, onResponse(parsed, job, meta), onError(err)}) →
 *   {submit(maker, t), resubmit(), busy()}
 *   maker() → {body, shifted}: built when sent, so it is always the newest input
 */
import * as api from "./core/api.js";
import { parseForward } from "./core/tensor.js";
import { encodeQ4 } from "./core/q4.js";
import { createPacer } from "./core/pacer.js";

const PERF_KEEP = 2000;

export function createForward({ state, data, options, onResponse, onError }) {
  let lastMaker = null;
  const pacer = createPacer();
  const send = (job, { signal }) => {
    const body = options.tensors === "json" ? job.body : { ...job.body, encoding: options.tensors };
    const heard = {};
    return api.forward(body, { signal, heard }).then((r) => ({ r, job, queued: heard.queued }));
  };
  const channel = api.createLatestWins(send, {
    pace: ({ queued }) => pacer.after(queued),
    onResult: ({ r, job }, meta) => receive(r, job, meta),
    onError: (err) => {
      data.get().errors.push(String(err));
      onError(err);
    },
  });

  function receive(r, job, meta) {
    const t0 = performance.now();
    const parsed = parseForward(r, data.get().model);
    data.set({ response: r, tensors: parsed.list, rendered: data.get().rendered + 1 });
    if (!job.shifted) keepUnshifted(parsed, r);
    const tensors = performance.now() - t0;
    const split = onResponse(parsed, job, meta);
    recordPerf(data, meta, { tensors, ...split });
  }

  /** An unshifted input is what later shifts move (its preprocessing steps stay on show while
   * shifted); a drawing's is also the link's code. */
  function keepUnshifted(parsed, r) {
    data.set({ base: parsed.input, baseSteps: parsed.steps, baseTensors: parsed.list });
    const s = state.get();
    const gray = parsed.input.C === 1;
    if ((s.input.source === "drawing" || s.input.source === "upload") && !r.empty && gray) {
      state.set({ input: { ...s.input, code: encodeQ4(parsed.input.data) } });
    }
  }

  return {
    submit(maker, t) {
      lastMaker = maker;
      channel.submit(maker, t);
    },
    resubmit() {
      if (lastMaker) channel.submit(lastMaker);
    },
    busy: () => channel.busy,
  };
}

/** One perf entry per response, once the frame after painting it has started. */
function recordPerf(data, meta, split) {
  const paintedAt = performance.now();
  requestAnimationFrame(() => {
    const frameAt = performance.now();
    const entry = {
      ...split,
      seq: meta.seq,
      pen: meta.requestedAt,
      sent: meta.sentAt,
      parsed: meta.parsedAt,
      painted: paintedAt,
      frame: frameAt,
    };
    performance.measure("convscope:pen→painted", { start: meta.requestedAt, end: frameAt });
    const perf = data.get().perf; // an append-only log, kept in place (benches empty it)
    perf.push(entry);
    if (perf.length > PERF_KEEP) perf.shift();
    data.set({ renders: data.get().renders + 1 });
  });
}
