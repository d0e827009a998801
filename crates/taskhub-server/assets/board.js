// TaskHub's live task board: the task list, kept current by the event stream.
//
// The board shows what the event log says. Writes go to the tasks API and the board
// changes only when their events arrive, so every viewer sees the same order of
// changes, the writer included. Each task event carries the whole task, so applying
// events in id order after any snapshot taken once the stream is open gives the
// current state: the stream opens first, events are held while `GET /tasks` loads,
// then replayed on top of it.
//
// EventSource reconnects by itself after a network error, sending `Last-Event-ID`.
// After an HTTP error (503 at the connection limit, 401, 429) it gives up for good; the
// board then opens a new one with `?last_event_id=` after a growing delay. A `reset`
// (history no longer covers our last id) or a `gap` (we fell behind) reloads the list.
'use strict';

const TASK_EVENTS = ['task_created', 'task_updated', 'task_deleted'];
const STREAM_URL = '/events/stream?types=' + TASK_EVENTS.join(',');
const STATUSES = ['todo', 'in_progress', 'done'];
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 30000;

const board = {
  /** Task id → task, as the log last described it. */
  tasks: new Map(),
  /** The id of the last event applied; resumes the stream. */
  lastEventId: null,
  /** Events that arrived while a snapshot loads, or null when none is loading. */
  held: null,
  /** A reset or gap came while a snapshot was loading: load another once it is done. */
  reloadAgain: false,
  /** Task ids whose edit form is open: their cards are not redrawn under the user. */
  editing: new Set(),
  source: null,
  failures: 0,
  retryTimer: null,
};

const $ = (selector, root = document) => root.querySelector(selector);

function showConnection(state, text) {
  const element = $('#connection');
  element.dataset.state = state;
  element.textContent = text;
}

function showProblem(text) {
  $('#problem').textContent = text;
}

// ---- the stream ----------------------------------------------------------------------

function connect() {
  clearTimeout(board.retryTimer);
  const resuming = board.lastEventId !== null;
  const url = resuming
    ? `${STREAM_URL}&last_event_id=${encodeURIComponent(board.lastEventId)}`
    : STREAM_URL;
  const source = new EventSource(url, { withCredentials: true });
  board.source = source;
  showConnection('connecting', resuming ? 'Reconnecting…' : 'Connecting…');

  source.addEventListener('connected', () => {
    board.failures = 0;
    if (board.lastEventId === null && board.held === null) {
      loadSnapshot();
    } else {
      showConnection('live', 'Live');
    }
  });
  for (const type of TASK_EVENTS) {
    source.addEventListener(type, onTaskEvent);
  }
  source.addEventListener('reset', loadSnapshot);
  source.addEventListener('gap', loadSnapshot);
  source.onerror = () => {
    if (source.readyState === EventSource.CONNECTING) {
      // A dropped connection: the browser retries by itself, with Last-Event-ID.
      showConnection('reconnecting', 'Connection lost; reconnecting…');
      return;
    }
    // The server answered with an error status: EventSource will not try again, and
    // does not say which. Ask the API: a 401 means the user must sign in first.
    source.close();
    needsCredentials().then((needed) => {
      if (needed) {
        showConnection('offline', 'Sign in to connect');
      } else {
        scheduleRetry();
      }
    });
  };
}

/** Whether the server refuses us for want of credentials (shows the sign-in form). */
async function needsCredentials() {
  try {
    const response = await fetch('/tasks', { method: 'HEAD', credentials: 'same-origin' });
    if (response.status !== 401) return false;
    $('#sign-in').hidden = false;
    $('#token').focus();
    return true;
  } catch {
    return false;
  }
}

function scheduleRetry() {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** board.failures);
  const delay = Math.round(ceiling * (0.5 + Math.random() / 2));
  board.failures += 1;
  const seconds = Math.max(1, Math.round(delay / 1000));
  showConnection('offline', `Disconnected; retrying in ${seconds} s`);
  board.retryTimer = setTimeout(connect, delay);
}

function onTaskEvent(message) {
  let envelope;
  try {
    envelope = JSON.parse(message.data);
  } catch {
    return;
  }
  if (board.held !== null) {
    board.held.push(envelope);
  } else {
    apply(envelope);
    render();
  }
  board.lastEventId = message.lastEventId || envelope.id;
}

/** Loads the whole list; events arriving meanwhile are applied on top, in order. */
async function loadSnapshot() {
  if (board.held !== null) {
    board.reloadAgain = true;
    return;
  }
  board.held = [];
  board.reloadAgain = false;
  $('#board').setAttribute('aria-busy', 'true');
  try {
    const tasks = await api('GET', '/tasks');
    board.tasks = new Map(tasks.map((task) => [task.id, task]));
    for (const envelope of board.held) apply(envelope);
    board.held = null;
    $('#board').setAttribute('aria-busy', 'false');
    render();
    if (board.source && board.source.readyState === EventSource.OPEN) {
      showConnection('live', 'Live');
    }
    if (board.reloadAgain) loadSnapshot();
  } catch (error) {
    // Start over: the next connection loads a fresh snapshot.
    board.held = null;
    board.lastEventId = null;
    showProblem(`Cannot load the tasks: ${error.message}`);
    board.source.close();
    scheduleRetry();
  }
}

function apply(envelope) {
  const data = envelope.data || {};
  const id = String(data.task_id ?? '');
  if (!id) return;
  if (envelope.event === 'task_deleted') {
    board.tasks.delete(id);
    board.editing.delete(id);
  } else if (data.task) {
    board.tasks.set(id, data.task);
  }
}

// ---- the API ---------------------------------------------------------------------------

/** Answers after which a write is tried again: the server is unavailable for now. */
const RETRYABLE = new Set([408, 429, 502, 503, 504]);
/** How long a write keeps trying before the board shows its error for good. */
const WRITE_RETRY_MS = 30_000;

/** A random UUID, the usual Idempotency-Key (`randomUUID` needs a secure context). */
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = 0x40 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * One request. A failure is an Error whose `retryable` says whether trying again may
 * help (no answer came, or the server is unavailable), with the server's `Retry-After`.
 */
async function api(method, path, body, idempotencyKey) {
  const init = { method, credentials: 'same-origin', headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  if (idempotencyKey) init.headers['idempotency-key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    // No answer: the write may have been stored, and its key makes a retry safe.
    throw Object.assign(new Error(`no answer from the server (${error.message})`), {
      retryable: true,
    });
  }
  if (response.status === 401) $('#sign-in').hidden = false;
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const problem = await response.json();
      if (problem.detail) detail = problem.detail;
    } catch {
      // Not problem+json; the status line says enough.
    }
    const retryAfter = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
    throw Object.assign(new Error(detail), {
      retryable: RETRYABLE.has(response.status),
      retryAfterMs: Number.isNaN(retryAfter) ? undefined : retryAfter * 1000,
    });
  }
  return response.status === 204 ? null : response.json();
}

/**
 * Runs a write; failures are shown, success is shown by its event. Every attempt carries
 * one Idempotency-Key, so a write whose answer was lost is retried without being applied
 * twice: the server answers the retry with the first attempt's result.
 */
async function write(method, path, body) {
  const key = newKey();
  const giveUp = Date.now() + WRITE_RETRY_MS;
  let backoff = 500;
  for (;;) {
    try {
      await api(method, path, body, key);
      showProblem('');
      return true;
    } catch (error) {
      const wait = error.retryAfterMs ?? backoff;
      if (!error.retryable || Date.now() + wait > giveUp) {
        showProblem(error.message);
        return false;
      }
      showProblem(`${error.message}; retrying in ${Math.max(1, Math.round(wait / 1000))} s`);
      await new Promise((resolve) => setTimeout(resolve, wait));
      backoff = Math.min(backoff * 2, 4000);
    }
  }
}

// ---- rendering -------------------------------------------------------------------------

function columnsFor(tasks) {
  const statuses = [...STATUSES];
  for (const task of tasks) {
    if (!statuses.includes(task.status)) statuses.push(task.status);
  }
  return statuses;
}

function render() {
  const root = $('#board');
  const tasks = [...board.tasks.values()].sort((a, b) => Number(a.id) - Number(b.id));
  const existing = new Map(
    [...root.querySelectorAll('li.task')].map((li) => [li.dataset.taskId, li]),
  );
  const columns = document.createDocumentFragment();
  for (const status of columnsFor(tasks)) {
    const section = document.createElement('section');
    section.className = 'column';
    section.dataset.status = status;
    const heading = document.createElement('h3');
    heading.id = `column-${status}`;
    const inColumn = tasks.filter((task) => task.status === status);
    heading.textContent = `${status.replaceAll('_', ' ')} (${inColumn.length})`;
    section.setAttribute('aria-labelledby', heading.id);
    const list = document.createElement('ul');
    for (const task of inColumn) {
      const open = board.editing.has(task.id) && existing.get(task.id);
      list.append(open || card(task));
    }
    section.append(heading, list);
    if (inColumn.length === 0) {
      const empty = document.createElement('p');
      empty.className = 'empty';
      empty.textContent = 'Nothing here';
      section.append(empty);
    }
    columns.append(section);
  }
  root.replaceChildren(columns);
}

function card(task) {
  const li = $('#task-template').content.firstElementChild.cloneNode(true);
  li.dataset.taskId = task.id;
  li.dataset.status = task.status;
  $('.title', li).textContent = task.title;
  $('.description', li).textContent = task.description ?? '';
  const select = $('.status', li);
  for (const status of columnsFor([task])) {
    select.append(new Option(status.replaceAll('_', ' '), status, false, status === task.status));
  }
  select.addEventListener('change', () => {
    const path = `/tasks/status/${encodeURIComponent(task.id)}`;
    write('PUT', `${path}?new_status=${encodeURIComponent(select.value)}`);
  });
  $('.edit', li).setAttribute('aria-label', `Edit “${task.title}”`);
  $('.delete', li).setAttribute('aria-label', `Delete “${task.title}”`);
  $('.edit', li).addEventListener('click', () => openEditor(li, task));
  $('.delete', li).addEventListener('click', () => {
    write('DELETE', `/tasks/${encodeURIComponent(task.id)}`);
  });
  return li;
}

function openEditor(li, task) {
  board.editing.add(task.id);
  const form = $('#edit-template').content.firstElementChild.cloneNode(true);
  form.elements.title.value = task.title;
  form.elements.description.value = task.description ?? '';
  const close = () => {
    board.editing.delete(task.id);
    render();
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const patch = {
      title: form.elements.title.value,
      description: form.elements.description.value || null,
    };
    if (await write('PATCH', `/tasks/${encodeURIComponent(task.id)}`, patch)) close();
  });
  $('.cancel', form).addEventListener('click', close);
  $('article', li).replaceChildren(form);
  form.elements.title.focus();
}

// ---- start -------------------------------------------------------------------------------

$('#new-task').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const task = { title: form.elements.title.value, status: form.elements.status.value };
  if (form.elements.description.value) task.description = form.elements.description.value;
  if (await write('POST', '/tasks', task)) {
    form.reset();
    form.elements.title.focus();
  }
});

$('#sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = event.target.elements.token.value.trim();
  document.cookie = `taskhub_token=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
  event.target.hidden = true;
  board.source?.close();
  board.failures = 0;
  connect();
});

connect();
