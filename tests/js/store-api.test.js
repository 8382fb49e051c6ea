// The store (core/store.js) and latest-wins requests (core/api.js) with a fake network.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createStore } from "../../static/js/core/store.js";
import { ApiError, createLatestWins, getJSON } from "../../static/js/core/api.js";

test("a store tells its listeners which keys changed, and refuses unknown keys", () => {
  const store = createStore({ a: 1, b: [] }, { name: "t" });
  const seen = [];
  const stop = store.subscribe((s, changed) => seen.push([changed, s.a]));
  store.set({ a: 1 });
  store.set({ a: 2, b: store.get().b });
  store.set({ b: [] });
  stop();
  store.set({ a: 3 });
  assert.deepEqual(seen, [
    [["a"], 2],
    [["b"], 2],
  ]);
  assert.equal(store.get().a, 3);
  assert.throws(() => store.set({ c: 1 }), /t: unknown key "c"/);
});

/** A fake send: each call waits until the test settles it. */
function fakeNetwork() {
  const calls = [];
  const send = (body, { signal }) =>
    new Promise((resolve, reject) => {
      calls.push({ body, signal, resolve });
      signal.addEventListener("abort", () =>
        reject(Object.assign(new Error("aborted"), { name: "AbortError" })),
      );
    });
  return { calls, send };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

test("one in flight: submits while it runs keep only the newest, every answer is shown", async () => {
  const net = fakeNetwork();
  const shown = [];
  const channel = createLatestWins(net.send, { onResult: (r) => shown.push(r) });
  let n = 0;
  const maker = () => ++n;
  channel.submit(maker);
  channel.submit(maker);
  channel.submit(maker);
  await tick();
  assert.equal(net.calls.length, 1);
  assert.equal(channel.busy, true);
  net.calls[0].resolve("first");
  await tick();
  await tick();
  assert.equal(net.calls.length, 2, "the two waiting submits went as one");
  assert.equal(net.calls[1].body, 2, "its body was built when it was sent");
  net.calls[1].resolve("second");
  await tick();
  assert.deepEqual(shown, ["first", "second"]);
  assert.equal(channel.busy, false);
});

test("interrupting: a submit aborts the request in flight, whose answer is never shown", async () => {
  const net = fakeNetwork();
  const shown = [];
  const errors = [];
  const channel = createLatestWins(net.send, {
    interrupt: true,
    onResult: (r) => shown.push(r),
    onError: (e) => errors.push(e),
  });
  channel.submit(async () => "a");
  await tick();
  channel.submit(async () => "b");
  await tick();
  assert.equal(net.calls.length, 2);
  assert.equal(net.calls[0].signal.aborted, true);
  net.calls[0].resolve("late a");
  net.calls[1].resolve("b done");
  await tick();
  assert.deepEqual(shown, ["b done"]);
  assert.deepEqual(errors, [], "an abort is not an error");
});

test("an error of the newest request is reported with its meta", async () => {
  const channel = createLatestWins(() => Promise.reject(new ApiError(400, "bad_image", "no")), {
    onError: (e, meta) => {
      assert.equal(e.code, "bad_image");
      assert.equal(meta.seq, 1);
      reported = true;
    },
  });
  let reported = false;
  channel.submit(() => ({}));
  await tick();
  await tick();
  assert.ok(reported);
});

test("getJSON turns the API's error body into an ApiError", async (t) => {
  t.mock.method(globalThis, "fetch", async () => ({
    ok: false,
    status: 422,
    json: async () => ({ error: { code: "bad_shape", message: "shape [3] is not an image" } }),
  }));
  await assert.rejects(
    getJSON("/api/x"),
    (e) => e instanceof ApiError && e.status === 422 && e.code === "bad_shape",
  );
  t.mock.method(globalThis, "fetch", async () => ({
    ok: true,
    status: 200,
    json: async () => {
      throw new SyntaxError("Unexpected token");
    },
  }));
  await assert.rejects(getJSON("/api/y"), (e) => e.code === "bad_json");
});

test("a 403 class_code_required sends the browser back to the join form, then here", async (t) => {
  const went = [];
  globalThis.location = { pathname: "/kernels", search: "", hash: "#k=sobel", assign: (u) => went.push(u) };
  t.after(() => delete globalThis.location);
  t.mock.method(globalThis, "fetch", async () => ({
    ok: false,
    status: 403,
    json: async () => ({ error: { code: "class_code_required", message: "enter the code" } }),
  }));
  await assert.rejects(getJSON("/api/model"), (e) => e instanceof ApiError && e.status === 403);
  assert.deepEqual(went, ["/join?next=%2Fkernels%23k%3Dsobel"]);
  t.mock.method(globalThis, "fetch", async () => ({
    ok: false,
    status: 403,
    json: async () => ({ error: { code: "forbidden", message: "another 403" } }),
  }));
  await assert.rejects(getJSON("/api/model"));
  assert.equal(went.length, 1); // only that code navigates
});
