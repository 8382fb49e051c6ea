// The URL codecs of both pages (core/urlcodec.js, urlstate.js, lab/state.js): round trips and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCodec, intField, linkParams, namesField } from "../../static/js/core/urlcodec.js";
import { fromParams, linkDefaults, toHash } from "../../static/js/urlstate.js";
import { defaultState } from "../../static/js/state.js";
import { fromHash, initialState, toHash as labHash, clean } from "../../static/js/lab/state.js";

const model = {
  layers: [
    { name: "input", family: "map", output_shape: [1, 32, 32] },
    { name: "conv1", family: "map", output_shape: [6, 28, 28] },
    { name: "fc1", family: "vector", output_shape: [120] },
  ],
};
const ctx = { model, controls: ["gallery", "upload", "nav"], tourLength: 9 };
const params = (hash) => new URLSearchParams(hash);

test("the layer view's state survives a trip through its link", () => {
  const state = {
    ...defaultState(),
    input: { source: "sample", sampleId: 12, shift: [2, -1], code: null },
    pinned: { layer: "conv1", c: 3, y: 10, x: 14 },
    hidden: ["conv1"],
    colorScope: "map",
    showSteps: true,
    hide: ["gallery", "nav"],
    present: true,
    palette: "cvd",
    tour: 2,
    tool: "eraser",
    brush: 30,
  };
  const hash = toHash(state, model);
  assert.equal(
    hash,
    "sample=12&shift=2,-1&pin=conv1:3:10:14&collapse=conv1&scope=map&steps=1&hide=gallery,nav&present=1" +
      "&cmap=cvd&tour=3&tool=eraser&brush=30",
  );
  const { patch, input, problems } = fromParams(params(hash), ctx);
  assert.deepEqual(problems, []);
  assert.deepEqual(input, { sample: 12, shift: [2, -1] });
  assert.deepEqual({ ...state, ...patch }, state);
});

test("the default state makes an empty link; a vector pin drops its row and column", () => {
  assert.equal(toHash(defaultState(), model), "");
  const s = { ...defaultState(), pinned: { layer: "fc1", c: 7, y: 0, x: 0 } };
  assert.equal(toHash(s, model), "pin=fc1:7");
  assert.deepEqual(fromParams(params("pin=fc1:7"), ctx).patch.pinned, { layer: "fc1", c: 7, y: 0, x: 0 });
});

test("a drawing's code travels as draw=; a sample or a digit wins over it", () => {
  const s = {
    ...defaultState(),
    input: { source: "drawing", sampleId: null, shift: [0, 0], code: "q4AAAA" },
  };
  assert.equal(toHash(s, model), "draw=q4AAAA");
  assert.deepEqual(fromParams(params("draw=q4AAAA"), ctx).input, { code: "q4AAAA" });
  assert.deepEqual(fromParams(params("draw=q4AAAA&digit=3"), ctx).input, { label: 3 });
  assert.deepEqual(fromParams(params("draw=q4AAAA&sample=3"), ctx).input, { sample: 3 });
});

test("digit= is a class label of the model (a teacher's digit=3 is a 3); ids go in sample=", () => {
  const ten = { layers: [...model.layers, { name: "fc3", family: "vector", output_shape: [10] }] };
  const c = { ...ctx, model: ten };
  assert.deepEqual(fromParams(params("digit=9"), c).input, { label: 9 });
  const { input, problems } = fromParams(params("digit=12"), c);
  assert.equal(input, null);
  assert.match(problems[0], /not a class label \(0–9\).*sample=12/);
  // a model of 120 outputs has 120 classes
  assert.deepEqual(fromParams(params("digit=12"), ctx).input, { label: 12 });
  // the page writes the exact image, never digit=
  const s = { ...defaultState(), input: { source: "sample", sampleId: 40, shift: [0, 0], code: null } };
  assert.equal(toHash(s, ten), "sample=40");
});

test("a hash edited in place resets what it leaves out to the defaults", () => {
  const d = linkDefaults();
  assert.deepEqual(Object.keys(d).sort(), [
    "brush",
    "colorScope",
    "hidden",
    "hide",
    "palette",
    "pinned",
    "present",
    "showSteps",
    "tool",
    "tour",
  ]);
  assert.deepEqual(d, Object.fromEntries(Object.keys(d).map((k) => [k, defaultState()[k]])));
});

test("bad entries are skipped and reported, good ones kept", () => {
  const { patch, input, problems } = fromParams(
    params(
      "sample=-2&pin=conv1:6:0:0&collapse=conv1,nope&scope=wide&hide=gallery,bogus&tour=10&brush=99&tool=pen",
    ),
    ctx,
  );
  assert.equal(input, null);
  assert.deepEqual(patch, { hidden: ["conv1"], hide: ["gallery"], tool: "pen" });
  assert.equal(problems.length, 7, problems.join("\n"));
  assert.ok(problems.some((p) => p.includes("outside conv1")));
  assert.ok(problems.some((p) => p.includes("nope")));
});

test("the hash wins over the query string", () => {
  assert.equal(linkParams("?digit=1", "#digit=2").get("digit"), "2");
  assert.equal(linkParams("?digit=1", "").get("digit"), "1");
  assert.equal(linkParams("?digit=1", "#").get("digit"), "1");
});

test("a codec table writes only what differs and reads back through the same fields", () => {
  const codec = createCodec([
    intField("n", "count", [0, 5], 1),
    namesField("x", "names", () => ["a", "b"], "unknown"),
  ]);
  assert.equal(codec.toHash({ count: 1, names: [] }), "");
  assert.equal(codec.toHash({ count: 4, names: ["b", "a"] }), "n=4&x=b,a");
  const { values, problems } = codec.fromParams(params("n=6&x=a,z"));
  assert.deepEqual(values, { names: ["a"] });
  assert.equal(problems.length, 2);
});

test("the kernel lab's settings and a custom kernel survive its link", () => {
  const base = initialState();
  const custom = {
    values: [
      [0.25, -1.5],
      [1 / 3, 2],
    ],
    text: [
      ["0.25", "-1.5"],
      ["0.333", "2"],
    ],
  };
  const state = {
    ...base,
    source: "sample:7",
    presetId: "custom",
    kernel: custom,
    mode: "sum",
    stride: 3,
    paddingMode: "explicit",
    padding: 2,
    dilation: 2,
    activation: "relu",
    poolKind: "avg",
    poolSize: 3,
    poolStride: 1,
    kernelName: "conv2 filter 3, input map 1",
    hide: ["histogram"],
    present: true,
    palette: "projector",
  };
  const hash = labHash(state);
  assert.ok(hash.startsWith("src=sample:7&k=custom&mode=sum&s=3"), hash);
  assert.ok(hash.endsWith(`kv=0.25,-1.5;${1 / 3},2`), hash);
  const { state: back, problems } = fromHash(`#${hash}`, initialState());
  assert.deepEqual(problems, []);
  assert.deepEqual(back.kernel.values, custom.values);
  const { kernel: _k, ...rest } = back;
  const { kernel: _k2, ...want } = state;
  assert.deepEqual(rest, want);
});

test("the kernel lab skips an upload and bad entries, and checks knob values", () => {
  assert.equal(labHash({ ...initialState(), source: "upload" }), "");
  const { state, problems } = fromHash("#s=0&pad=wide&k=nope&hide=histogram,zz", initialState());
  assert.equal(state.stride, 1);
  assert.equal(state.presetId, "sobel_x", "an unknown preset falls back to the default");
  assert.deepEqual(state.hide, ["histogram"]);
  assert.equal(problems.length, 4, problems.join("\n"));
  assert.equal(clean("stride", 4), 4);
  assert.throws(() => clean("dilation", 9), /integer from 1 to 8/);
  assert.throws(() => clean("activation", "gelu"), /must be one of/);
});
