import { test } from "node:test";
import assert from "node:assert/strict";
import { createPacer, PACING } from "../../static/js/core/pacer.js";
import { createLatestWins } from "../../static/js/core/api.js";

const half = () => 0.5; // no spread: the wait is the gap itself

test("one page alone: no queue, no gap, it sends as fast as answers come", () => {
  const pacer = createPacer({ random: half });
  for (let i = 0; i < 50; i++) assert.equal(pacer.after(0), 0);
  assert.equal(pacer.after(null), 0, "another server: no header, nothing changes");
});

test("the gap moves in proportion to how far the wait is from the target, within [0, max]", () => {
  const pacer = createPacer({ random: half });
  const long = PACING.target + 40;
  assert.equal(pacer.after(long), PACING.gain * 40);
  assert.equal(pacer.after(long), 2 * PACING.gain * 40, "a queue that stays long keeps widening it");
  assert.equal(pacer.after(PACING.target), 2 * PACING.gain * 40, "at the target: held");
  assert.equal(pacer.after(0), 2 * PACING.gain * 40 - PACING.gain * PACING.target, "short: narrowed");
  for (let i = 0; i < 1000; i++) pacer.after(0);
  assert.equal(pacer.gap, 0, "never below 0");
  for (let i = 0; i < 1000; i++) pacer.after(10 * PACING.max);
  assert.equal(pacer.gap, PACING.max, "never above the cap");
  assert.equal(pacer.after("NaN"), PACING.max, "a garbled header changes nothing");
});

test("each wait is spread around the gap so that a hall does not send in step", () => {
  const lo = createPacer({ random: () => 0 });
  const hi = createPacer({ random: () => 0.999999 });
  const a = lo.after(PACING.target + 100);
  const b = hi.after(PACING.target + 100);
  const gap = PACING.gain * 100;
  assert.equal(lo.gap, gap);
  assert.ok(Math.abs(a - gap * (1 - PACING.spread)) < 1e-9);
  assert.ok(Math.abs(b - gap * (1 + PACING.spread)) < 1e-3);
});

test("PACING is plain JSON (bench/bench_lecture.py reads it from the file)", async () => {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(new URL("../../static/js/core/pacer.js", import.meta.url), "utf8");
  const body = text.match(/export const PACING = (\{.*?\});/s)[1];
  const json = body.replace(/(\w+):/g, '"$1":').replace(/,\s*}/, "}");
  assert.deepEqual(JSON.parse(json), PACING);
});

test("a paced channel holds the next request for the pace, and sends only the newest then", async () => {
  const calls = [];
  const send = (body) => new Promise((resolve) => calls.push({ body, resolve }));
  const shown = [];
  const channel = createLatestWins(send, { pace: (r) => r.wait, onResult: (r) => shown.push(r.v) });
  let n = 0;
  channel.submit(() => ++n);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.length, 1);
  calls[0].resolve({ v: "a", wait: 60 });
  await new Promise((r) => setTimeout(r, 0));
  channel.submit(() => ++n); // within the pace: waits…
  channel.submit(() => ++n); // …and is replaced by the newer one
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls.length, 1, "nothing sent within the pace");
  assert.equal(channel.busy, true, "a request waiting for its turn is busy");
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls.length, 2, "sent once the pace is over");
  assert.equal(calls[1].body, 2, "one request, built when it went: the newest input");
  calls[1].resolve({ v: "b", wait: 0 });
  await new Promise((r) => setTimeout(r, 0));
  channel.submit(() => ++n);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(calls.length, 3, "no pace: straight away");
  calls[2].resolve({ v: "c", wait: 0 });
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(shown, ["a", "b", "c"]);
  assert.equal(channel.busy, false);
});

test("forward() hands the X-ConvScope-Queued header to its caller, null when there is none", async (t) => {
  const { forward } = await import("../../static/js/core/api.js");
  const reply = (headers) => async () => new Response(JSON.stringify({ ok: true }), { status: 200, headers });
  t.mock.method(globalThis, "fetch", reply({ "X-ConvScope-Queued": "12" }));
  const heard = {};
  assert.deepEqual(await forward({ image: [[0]] }, { heard }), { ok: true });
  assert.equal(heard.queued, 12);
  t.mock.method(globalThis, "fetch", reply({}));
  await forward({ image: [[0]] }, { heard });
  assert.equal(heard.queued, null);
});
