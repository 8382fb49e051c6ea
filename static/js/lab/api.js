// The kernel lab's API client: fetch and JSON only, never the DOM.
// Errors come back as {"error": {"code", "message"}}; they are thrown as ApiError.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError'; this.status = status; this.code = code;
  }
}

async function request(url, options = {}) {
  const response = await fetch(url, { headers: { Accept: 'application/json' }, ...options });
  const type = response.headers.get('Content-Type') || '';
  const body = type.includes('json') ? await response.json() : null;
  if (!response.ok) {
    const err = body && body.error ? body.error : { code: 'http_error', message: `${url}: HTTP ${response.status}` };
    throw new ApiError(response.status, err.code, err.message);
  }
  if (body === null) throw new ApiError(response.status, 'not_json', `${url} did not answer with JSON`);
  return body;
}

/**
 * POST /api/convolve. Latest call wins: a new call aborts the one still in flight, whose promise
 * then rejects with an AbortError (callers ignore those).
 */
export function createConvolver(url = '/api/convolve') {
  let inflight = null;
  return function convolve(body) {
    if (inflight) inflight.abort();
    const controller = new AbortController();
    inflight = controller;
    return request(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
      signal: controller.signal,
    }).finally(() => { if (inflight === controller) inflight = null; });
  };
}

export const listSamples = () => request('/api/samples');
export const getSample = (id) => request(`/api/samples/${encodeURIComponent(id)}`);
export const getLayerWeights = (name) => request(`/api/model/layers/${encodeURIComponent(name)}/weights`);

/** A Blob or File as a data: URL (FileReader; no DOM). */
export function blobToDataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error || new Error('could not read the file'));
    reader.readAsDataURL(blob);
  });
}

/** A same-origin image (e.g. a built-in sample) as a data: URL. */
export async function imageDataUrl(url) {
  const response = await fetch(url);
  if (!response.ok) throw new ApiError(response.status, 'not_found', `${url}: HTTP ${response.status}`);
  return blobToDataUrl(await response.blob());
}
