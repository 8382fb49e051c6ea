/**
 * The JSON API client (docs/CONTRACTS.md).  Never touches the DOM.
 *
 * Stable exports (the kernel lab imports this module read-only):
 *   ApiError                      Error with .status, .code (snake_case) and .message
 *   getJSON(path, {signal})       GET → parsed JSON, throws ApiError on a 4xx/5xx
 *   postJSON(path, body, {signal})POST a JSON body → parsed JSON, throws ApiError
 *   getModel(), getWeights(name), getSamples({images}), getSample(id), forward(body, {signal}),
 *   convolve(body, {signal})
 *   createLatestOnly(send)        "at most one in flight, newest wins, nothing queues"
 */

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

async function parse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    if (response.ok) throw new ApiError(response.status, "bad_json", `The server sent invalid JSON: ${err.message}`);
  }
  if (!response.ok) {
    const e = (body && body.error) || {};
    throw new ApiError(response.status, e.code || "http_error", e.message || `HTTP ${response.status}`);
  }
  return body;
}

export async function getJSON(path, { signal } = {}) {
  return parse(await fetch(path, { signal, headers: { Accept: "application/json" } }));
}

export async function postJSON(path, body, { signal } = {}) {
  return parse(await fetch(path, {
    method: "POST", signal, body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Accept: "application/json" },
  }));
}

export const getModel = (opts) => getJSON("/api/model", opts);
export const getWeights = (name, opts) => getJSON(`/api/model/layers/${encodeURIComponent(name)}/weights`, opts);
export const getSamples = ({ images = false } = {}, opts) =>
  getJSON(images ? "/api/samples?include=images" : "/api/samples", opts);
export const getSample = (id, opts) => getJSON(`/api/samples/${Number(id)}`, opts);
export const forward = (body, opts) => postJSON("/api/forward", body, opts);
export const convolve = (body, opts) => postJSON("/api/convolve", body, opts);

/**
 * Wrap send(body) so that at most one request is in flight.  submit(makeBody) records the newest
 * body-maker; if a request is running it replaces any waiting one (nothing queues up) and is sent
 * when the running one settles.  The body is built at send time, so it is always the newest input.
 * onResult(result, meta) / onError(err, meta) get meta = {seq, sentAt, requestedAt}.
 */
export function createLatestOnly(send, { onResult, onError, onSend } = {}) {
  let inFlight = false;
  let waiting = null;           // {makeBody, requestedAt}
  let seq = 0;

  async function run(job) {
    inFlight = true;
    const meta = { seq: ++seq, requestedAt: job.requestedAt, sentAt: performance.now() };
    try {
      const body = job.makeBody();
      onSend && onSend(meta);
      const result = await send(body);
      meta.parsedAt = performance.now();
      onResult && onResult(result, meta);   // shown even if a newer one waits: live updates
    } catch (err) {
      onError && onError(err, meta);
    } finally {
      inFlight = false;
      if (waiting) {
        const next = waiting;
        waiting = null;
        run(next);
      }
    }
  }

  return {
    submit(makeBody, requestedAt = performance.now()) {
      if (inFlight) {
        // keep the earliest unanswered request time: latency is measured from the first pen move
        waiting = { makeBody, requestedAt: waiting ? waiting.requestedAt : requestedAt };
      } else {
        run({ makeBody, requestedAt });
      }
    },
    get busy() { return inFlight; },
  };
}
