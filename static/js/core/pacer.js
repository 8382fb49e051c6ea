/**
 * Pacing one page among a hall of them.  A forward's answer says how long its request waited in the
 * server's queue (the X-ConvScope-Queued header, server/pacing.py).  After each answer the page
 * moves the gap it leaves before its next send in proportion to how far that wait is from a small
 * target: up while the queue is long, down while it is short, never below 0 or above a second.  One
 * page alone never sees a queue, so its gap stays 0 and it sends as fast as answers come.  A hall of
 * 300 settles where the pages together ask for about what the server can serve, with a queue of a
 * few milliseconds, and each page's gap close to the others' (a fair share).
 *
 * bench/bench_lecture.py, 300 students on 2 cores (60 s, 2 × 2 threads): answers at p95 38 ms instead
 * of 402 ms; what a student sees is p50 0.30 s behind the pen instead of 0.50 s (p95 0.70–0.90 s
 * against 0.80 s: the paced hall leaves the server idle part of the time, 657–672 drawings/s served
 * against 945).
 * An additive-increase, multiplicative-decrease pacer (TCP's shape) was tried first: it kept the
 * queue as short but over-reacted to the kernel lab's bursts and left some pages at its 2-s cap.
 *
 * createPacer({random}) → {after(queuedMs) → ms to wait before the next send, gap}
 *   queuedMs: the header's number; null/NaN (no header: another server) leaves the gap as it is.
 * Each wait is spread by ±25 % so that the pages do not all send again in the same tick.
 *
 * PACING is plain JSON: bench/bench_lecture.py reads it from this file to pace its simulated hall
 * the same way.
 */
export const PACING = {
  target: 6,
  gain: 0.5,
  max: 1000,
  spread: 0.25,
};

export function createPacer({ random = Math.random, policy = PACING } = {}) {
  let gap = 0;
  return {
    after(queuedMs) {
      const q = Number(queuedMs);
      if (queuedMs !== null && queuedMs !== undefined && Number.isFinite(q))
        gap = Math.min(policy.max, Math.max(0, gap + policy.gain * (q - policy.target)));
      return gap * (1 - policy.spread + 2 * policy.spread * random());
    },
    get gap() {
      return gap;
    },
  };
}
