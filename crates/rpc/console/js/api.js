// The node's HTTP API. Every failure becomes an ApiError with the API's code, message and
// field (errors are always {"error": {"code", "message", "field"?}}), or code "network" when
// the node cannot be reached. Admin calls travel with the session cookie only; a 401 on one
// of them means the session has ended, and the hook set by the admin pages takes over.

const TIMEOUT_MS = 30_000;

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    // Set when a hook already dealt with the error (a redirect to the login page): pages then
    // show nothing more.
    this.handled = false;
  }
}

let onUnauthorized = null;

/** Called with the ApiError when an admin call is answered 401. */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

function combine(signal) {
  const timeout = AbortSignal.timeout ? AbortSignal.timeout(TIMEOUT_MS) : undefined;
  if (!signal) return timeout;
  if (!timeout || !AbortSignal.any) return signal;
  return AbortSignal.any([signal, timeout]);
}

/**
 * `request('GET', '/v1/status', {signal})`. Options: `json` (a body to send as JSON; a string
 * is sent as is, for bodies with exact big integers), `bytes` (a raw octet-stream body),
 * `admin` (a 401 ends the session), `signal`, `discardBody` (do not even parse the answer:
 * for the login, whose answer holds the session token the console must not keep).
 */
export async function request(method, path, options = {}) {
  const headers = { Accept: 'application/json' };
  let body;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = typeof options.json === 'string' ? options.json : JSON.stringify(options.json);
  } else if (options.bytes !== undefined) {
    headers['Content-Type'] = 'application/octet-stream';
    body = options.bytes;
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body,
      credentials: 'same-origin',
      cache: 'no-store',
      signal: combine(options.signal),
    });
  } catch (e) {
    if (options.signal && options.signal.aborted) throw e; // the page was left: nobody listens
    if (e && e.name === 'TimeoutError') throw new ApiError(0, 'timeout', 'The node did not answer within 30 s.');
    throw new ApiError(0, 'network', 'Cannot reach the node. Is it running, and is this its address?');
  }
  if (response.ok) {
    if (options.discardBody || response.status === 204) return null;
    const text = await response.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(response.status, 'bad_response', 'The node answered with something that is not JSON.');
    }
  }
  const error = await errorOf(response);
  if (options.admin && response.status === 401 && onUnauthorized) onUnauthorized(error);
  throw error;
}

async function errorOf(response) {
  let detail = {};
  try {
    const parsed = JSON.parse(await response.text());
    if (parsed && typeof parsed.error === 'object' && parsed.error) detail = parsed.error;
  } catch {
    // Not the API's error shape (a proxy's page, say): fall back to the status line.
  }
  const message = typeof detail.message === 'string' && detail.message
    ? detail.message
    : `The node answered ${response.status} ${response.statusText || ''}`.trim();
  const code = typeof detail.code === 'string' ? detail.code : `http_${response.status}`;
  const field = typeof detail.field === 'string' ? detail.field : undefined;
  return new ApiError(response.status, code, message, field);
}

export const get = (path, options) => request('GET', path, options);
export const post = (path, options) => request('POST', path, options);
export const put = (path, options) => request('PUT', path, options);
export const del = (path, options) => request('DELETE', path, options);

/** A path segment, URI-encoded (API values never reach a URL unencoded). */
export const seg = (value) => encodeURIComponent(String(value));

/** Admin calls: the cookie, and the 401 hook. */
export const admin = {
  get: (path, options = {}) => request('GET', path, { ...options, admin: true }),
  post: (path, options = {}) => request('POST', path, { ...options, admin: true }),
  put: (path, options = {}) => request('PUT', path, { ...options, admin: true }),
  del: (path, options = {}) => request('DELETE', path, { ...options, admin: true }),
};

/** "field: message" when the API names the field at fault, else the message. */
export function describe(error) {
  if (!error) return 'Unknown error';
  if (error instanceof ApiError && error.field) return `${error.field}: ${error.message}`;
  return error.message || String(error);
}
