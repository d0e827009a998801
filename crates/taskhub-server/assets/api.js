// The HTTP API as the console uses it: requests with credentials, problem+json answers
// turned into sentences a person can act on, and retry-safe writes.
//
// Every write carries one Idempotency-Key for all its attempts, so a write whose answer
// was lost (a dropped connection, a 503 whose outcome is unknown) is retried without
// being applied twice: the server answers the retry with the first attempt's result.

/** Answers after which a write is tried again: the server is unavailable for now. */
const RETRYABLE = new Set([408, 429, 502, 503, 504]);
/** How long a write keeps trying before its error is shown for good. */
const WRITE_RETRY_MS = 30_000;

/** A failed request: `message` is plain words; `retryable` says whether trying again may help. */
export class RequestError extends Error {
  constructor(message, { status = 0, retryable = false, retryAfterMs, field } = {}) {
    super(message);
    this.status = status;
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
    this.field = field;
  }
}

/** The server's words without code markup: `topic` becomes “topic”. */
export function plainWords(text) {
  const sentence = String(text).replace(/`([^`]*)`/g, '“$1”').replaceAll('`', '');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
}

/** A random UUID, the usual Idempotency-Key (`randomUUID` needs a secure context). */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = 0x40 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Called with no argument when the server answers 401: the console asks for a token. */
let onUnauthorized = () => {};
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/** One request; resolves to the parsed JSON (or null for 204), rejects with a RequestError. */
export async function request(method, path, { body, key } = {}) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  if (key) init.headers['idempotency-key'] = key;
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    // No answer: a write may have been stored, and its key makes a retry safe.
    throw new RequestError('The server did not answer (it may be restarting, or the network is down)', {
      retryable: true,
    });
  }
  if (response.ok) return response.status === 204 ? null : response.json();
  if (response.status === 401) onUnauthorized();
  let message = `The server answered ${response.status} ${response.statusText}`.trim();
  let field;
  try {
    const problem = await response.json();
    if (problem.detail) message = plainWords(problem.detail);
    field = problem.field;
  } catch {
    // Not problem+json: the status line says enough.
  }
  const retryAfter = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
  throw new RequestError(message, {
    status: response.status,
    retryable: RETRYABLE.has(response.status),
    retryAfterMs: Number.isNaN(retryAfter) ? undefined : retryAfter * 1000,
    field,
  });
}

/**
 * A write, retried with the same Idempotency-Key while the server is unavailable or
 * does not answer. `report(text)` is told each problem ('' once it succeeded); resolves
 * to the answer, or to undefined after a failure it reported.
 */
export async function write(method, path, body, report) {
  const key = newKey();
  const giveUp = Date.now() + WRITE_RETRY_MS;
  let backoff = 500;
  for (;;) {
    try {
      const answer = await request(method, path, { body, key });
      report('');
      return answer ?? true;
    } catch (error) {
      const wait = error.retryAfterMs ?? backoff;
      if (!error.retryable || Date.now() + wait > giveUp) {
        report(error.message);
        return undefined;
      }
      report(`${error.message}; retrying in ${Math.max(1, Math.round(wait / 1000))} s`);
      await new Promise((resolve) => setTimeout(resolve, wait));
      backoff = Math.min(backoff * 2, 4000);
    }
  }
}
