/**
 * The one JSON API client of both pages (docs/CONTRACTS.md).  Never touches the DOM.
 *
 *   ApiError                       Error with .status, .code (snake_case) and .message
 *   getJSON(path, {signal})        GET → parsed JSON; throws ApiError on a 4xx/5xx or a non-JSON body
 *   (postJSON, inside: POST a JSON body → parsed JSON; throws ApiError)
 *   getModels, getModel, getWeights, getSamples, getSample, forward, convolve   the endpoints
 *   useModel(name)   the model getModel, getWeights and forward are about (null: the default)
 *   createLatestWins(send, opts)   latest request wins (AbortController + a counter)
 *   blobToDataUrl(blob), fetchDataUrl(url)   images as data: URLs
 */

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/**
 * A server started with --class-code answers 403 class_code_required once this browser's session
 * has ended (the server restarted, the browser was closed): back to the join form, then here again.
 */
function rejoin() {
  if (typeof location === "undefined") return; // not in a browser (node's unit tests)
  const here = location.pathname + location.search + location.hash;
  location.assign(`/join?next=${encodeURIComponent(here)}`);
}

async function parse(response, url) {
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    if (response.ok)
      throw new ApiError(response.status, "bad_json", `${url} sent invalid JSON: ${err.message}`);
  }
  if (!response.ok) {
    const e = (body && body.error) || {};
    if (e.code === "class_code_required") rejoin();
    throw new ApiError(
      response.status,
      e.code || "http_error",
      e.message || `${url}: HTTP ${response.status}`,
    );
  }
  return body;
}

export async function getJSON(path, { signal } = {}) {
  return parse(await fetch(path, { signal, headers: { Accept: "application/json" } }), path);
}

/** heard: an object that gets {queued}: the X-ConvScope-Queued milliseconds (server/pacing.py), or null */
async function postJSON(path, body, { signal, heard = null } = {}) {
  const response = await fetch(path, {
    method: "POST",
    signal,
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Accept: "application/json" },
  });
  if (heard) {
    const queued = response.headers ? response.headers.get("X-ConvScope-Queued") : null;
    heard.queued = queued === null ? null : Number(queued);
  }
  return parse(response, path);
}

// The model every request of this page is about (core/models.js); null: the server's default.
let model = null;
export function useModel(name) {
  model = name || null;
}
const withModel = (path) => (model ? `${path}?model=${encodeURIComponent(model)}` : path);
const bodyWithModel = (body) => (model && body.model === undefined ? { ...body, model } : body);

export const getModels = (opts) => getJSON("/api/models", opts);
/** A GET for the page's model: path (with or without a query) + model=NAME when one is picked. */
export const getJSONModel = (path, opts) =>
  getJSON(model ? `${path}${path.includes("?") ? "&" : "?"}model=${encodeURIComponent(model)}` : path, opts);
export const getModel = (opts) => getJSON(withModel("/api/model"), opts);
/** A layer's weights; packed: {shape, dtype, base64} arrays (a third of the bytes, no number parsing). */
export const getWeights = (name, { packed = false, ...opts } = {}) =>
  getJSONModel(
    `/api/model/layers/${encodeURIComponent(name)}/weights${packed ? "?encoding=base64" : ""}`,
    opts,
  );
export const getSamples = ({ images = false } = {}, opts) =>
  getJSONModel(images ? "/api/samples?include=images" : "/api/samples", opts);
export const getSample = (id, opts) => getJSONModel(`/api/samples/${encodeURIComponent(id)}`, opts);
export const forward = (body, opts) => postJSON("/api/forward", bodyWithModel(body), opts);
export const convolve = (body, opts) => postJSON("/api/convolve", body, opts);
export const explain = (body, opts) => postJSON("/api/explain", bodyWithModel(body), opts);
export const synthesize = (body, opts) => postJSON("/api/synthesize", bodyWithModel(body), opts);
export const getTop = ({ layer, unit }, opts) =>
  getJSON(
    `/api/top?layer=${encodeURIComponent(layer)}&unit=${unit.join(",")}` +
      (model ? `&model=${encodeURIComponent(model)}` : ""),
    opts,
  );

const noop = () => {};

/**
 * Latest request wins.  submit(makeBody) numbers the request; makeBody() (may be async) builds the
 * body when it is sent, so it is always the newest input; send(body, {signal}) does the fetch.
 *   interrupt: false  (the layer view's pen) at most one request in flight; a submit while one runs
 *                     replaces the one waiting (nothing queues up) and goes when the running one
 *                     settles; every answer is shown, so the maps follow the pen live
 *   interrupt: true   (the kernel lab's knobs) a submit aborts the request in flight
 * onResult(result, meta) / onError(err, meta) are called only for the newest request sent, never for
 * an aborted one; meta = {seq, requestedAt, sentAt, parsedAt}.  onSend(meta) once the body is built.
 * pace(result) → ms (core/pacer.js): after an answer, the next request waits that long (a full hall:
 * the server says its queue is long); a submit meanwhile waits, replaced by newer ones, as above.
 */
export function createLatestWins(
  send,
  { onResult = noop, onError = noop, onSend = noop, interrupt = false, pace = null } = {},
) {
  let counter = 0;
  let current = null; // {seq, controller}
  let waiting = null; // {makeBody, requestedAt}
  let notBefore = 0; // performance.now() before which no request goes (pace)
  let timer = null;

  function next() {
    if (!waiting || current || timer !== null) return;
    const delay = notBefore - performance.now();
    if (delay > 0) {
      timer = setTimeout(() => {
        timer = null;
        next();
      }, delay);
      return;
    }
    const job = waiting;
    waiting = null;
    run(job);
  }

  async function run({ makeBody, requestedAt }) {
    const seq = ++counter;
    const controller = new AbortController();
    current = { seq, controller };
    const meta = { seq, requestedAt, sentAt: performance.now() };
    const newest = () => seq === counter && !controller.signal.aborted;
    try {
      const body = await makeBody();
      if (!newest()) return;
      onSend(meta);
      const result = await send(body, { signal: controller.signal });
      meta.parsedAt = performance.now();
      if (pace) notBefore = meta.parsedAt + pace(result);
      if (newest()) onResult(result, meta);
    } catch (err) {
      if (newest() && err.name !== "AbortError") onError(err, meta);
    } finally {
      if (current && current.seq === seq) current = null;
      next();
    }
  }

  return {
    submit(makeBody, requestedAt = performance.now()) {
      if (current && interrupt) {
        current.controller.abort();
        current = null;
      }
      // keep the earliest unanswered request time: latency is measured from the first pen move
      waiting = { makeBody, requestedAt: waiting ? waiting.requestedAt : requestedAt };
      next();
    },
    /** a request in flight, or one waiting for its turn */
    get busy() {
      return current !== null || waiting !== null;
    },
    get sent() {
      return counter;
    },
  };
}

/** A Blob or File as a data: URL. */
export function blobToDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error || new Error("could not read the file"));
    reader.readAsDataURL(blob);
  });
}

/** A same-origin image (e.g. a built-in sample) as a data: URL. */
export async function fetchDataUrl(url) {
  const response = await fetch(url);
  if (!response.ok) throw new ApiError(response.status, "not_found", `${url}: HTTP ${response.status}`);
  return blobToDataUrl(await response.blob());
}
