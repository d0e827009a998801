// The console's one event stream: every event the visitor may see, shared by both views.
//
// `?typed=false` sends every event without an `event:` line, so one `onmessage` sees all
// types (EventSource has no wildcard listener). Envelopes carry an `id`; the stream's own
// frames do not: `connected` ({"event":"connected"}), `reset` and `gap` (a `reason`).
//
// EventSource reconnects by itself after a network error, sending `Last-Event-ID`. After
// an HTTP error (503 at the connection limit, 401, 429) it gives up for good; the feed
// then opens a new one with `?last_event_id=` after a growing delay, or, on a 401, waits
// for a token.
//
// Dispatches: `state` {state, text}; `connected` {resumedAfter}; `envelope` {envelope};
// `reset` and `gap` {data}.

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;

export class Feed extends EventTarget {
  constructor() {
    super();
    /** The id of the last event received; the stream resumes after it. */
    this.lastEventId = null;
    this.source = null;
    this.failures = 0;
    this.retryTimer = null;
    /** Set by the console: resolves true when the server wants credentials (401). */
    this.needsCredentials = async () => false;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  showState(state, text) {
    this.emit('state', { state, text });
  }

  /** Opens the stream (again), resuming after `lastEventId` if there is one. */
  connect() {
    clearTimeout(this.retryTimer);
    this.source?.close();
    const resuming = this.lastEventId !== null;
    let url = '/events/stream?typed=false';
    if (resuming) url += `&last_event_id=${encodeURIComponent(this.lastEventId)}`;
    const source = new EventSource(url, { withCredentials: true });
    this.source = source;
    this.showState('connecting', resuming ? 'Reconnecting…' : 'Connecting…');
    source.onmessage = (message) => this.onMessage(message);
    source.onerror = () => {
      if (source !== this.source) return;
      if (source.readyState === EventSource.CONNECTING) {
        // A dropped connection: the browser retries by itself, with Last-Event-ID.
        this.showState('reconnecting', 'Connection lost; reconnecting…');
        return;
      }
      // The server answered with an error status: EventSource will not try again and
      // does not say which. Ask the API: a 401 means the visitor must sign in first.
      source.close();
      this.needsCredentials().then((needed) => {
        if (needed) {
          this.showState('offline', 'Sign in to connect');
        } else {
          this.scheduleRetry();
        }
      });
    };
  }

  /** Whether the stream is open now. */
  get open() {
    return this.source?.readyState === EventSource.OPEN;
  }

  onMessage(message) {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch {
      return;
    }
    if (data && typeof data === 'object' && 'id' in data) {
      this.lastEventId = data.id;
      this.emit('envelope', { envelope: data });
    } else if (data?.event === 'connected') {
      this.failures = 0;
      this.emit('connected', { resumedAfter: this.lastEventId });
    } else if (data?.reason === 'history_unavailable') {
      this.emit('reset', { data });
    } else if (data?.reason === 'slow_consumer') {
      this.emit('gap', { data });
    }
  }

  scheduleRetry() {
    const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.failures);
    const delay = Math.round(ceiling * (0.5 + Math.random() / 2));
    this.failures += 1;
    const seconds = Math.max(1, Math.round(delay / 1000));
    this.showState('offline', `Disconnected; retrying in ${seconds} s`);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Starts over (after signing in): a fresh connection, no backoff. */
  restart() {
    this.failures = 0;
    this.connect();
  }
}
