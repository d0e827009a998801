// The Board view: the task list, kept current by the event feed.
//
// The board shows what the event log says. Writes go to the tasks API and the board
// changes only when their events arrive, so every viewer sees the same order of
// changes, the writer included. Each task event carries the whole task, so applying
// events in id order after any snapshot taken once the stream is open gives the current
// state: events are held while `GET /tasks` loads, then replayed on top of it. A `reset`
// (history no longer covers our last id) or a `gap` (we fell behind) reloads the list.

import { request, write } from './api.js';
import { describeTimes, statusLabel } from './words.js';

const TASK_EVENTS = new Set(['task_created', 'task_updated', 'task_deleted']);
/** The columns every board has, in order; other statuses get a column after them. */
const STATUSES = ['todo', 'in_progress', 'done'];
/** How long a deleted card can be brought back before the delete is sent. */
const UNDO_MS = 5000;
/** How long a card changed by an event stays highlighted. */
const HIGHLIGHT_MS = 2500;

const $ = (selector, root = document) => root.querySelector(selector);

export class Board {
  /** `showProblem(text)` shows (or, with '', clears) the page's problem line. */
  constructor(showProblem) {
    this.showProblem = showProblem;
    /** Task id → task, as the log last described it. */
    this.tasks = new Map();
    /** Events that arrived while a snapshot loads, or null when none is loading. */
    this.held = null;
    /** A reset or gap came while a snapshot was loading: load another once it is done. */
    this.reloadAgain = false;
    /** Whether a snapshot has been loaded since the stream (re)started from nothing. */
    this.loaded = false;
    /** Task ids whose edit form is open: their cards are not redrawn under the user. */
    this.editing = new Set();
    /** Task ids deleted here but not sent yet (undo is still possible): id → timer. */
    this.pendingDeletes = new Map();
    /** Task ids changed by an event lately: highlighted until the time stored. */
    this.changed = new Map();
    this.search = '';
    this.root = $('#board');
    this.wire();
    // Times are relative ("2 min ago"): refresh them now and then.
    setInterval(() => this.refreshTimes(), 30_000);
  }

  // ---- the feed ------------------------------------------------------------------------

  /** The stream (re)opened: load a snapshot unless it resumed after an event we have. */
  async onConnected(resumedAfter) {
    if (!this.loaded || resumedAfter === null) await this.loadSnapshot();
  }

  onEnvelope(envelope) {
    if (!TASK_EVENTS.has(envelope.event)) return;
    if (this.held !== null) {
      this.held.push(envelope);
    } else {
      this.apply(envelope, true);
      this.render();
    }
  }

  /** Loads the whole list; events arriving meanwhile are applied on top, in order. */
  async loadSnapshot() {
    if (this.held !== null) {
      this.reloadAgain = true;
      return;
    }
    this.held = [];
    this.reloadAgain = false;
    this.root.setAttribute('aria-busy', 'true');
    try {
      const tasks = await request('GET', '/tasks');
      this.tasks = new Map(tasks.map((task) => [task.id, task]));
      for (const envelope of this.held) this.apply(envelope, false);
      this.held = null;
      this.loaded = true;
      this.root.setAttribute('aria-busy', 'false');
      this.render();
      if (this.reloadAgain) await this.loadSnapshot();
    } catch (error) {
      this.held = null;
      this.loaded = false;
      this.showProblem(`Cannot load the tasks: ${error.message}`);
      throw error;
    }
  }

  apply(envelope, highlight) {
    const data = envelope.data || {};
    const id = String(data.task_id ?? '');
    if (!id) return;
    if (envelope.event === 'task_deleted') {
      this.tasks.delete(id);
      this.editing.delete(id);
    } else if (data.task) {
      this.tasks.set(id, data.task);
      if (highlight) {
        this.changed.set(id, Date.now() + HIGHLIGHT_MS);
        setTimeout(() => this.unhighlight(id), HIGHLIGHT_MS + 50);
      }
    }
  }

  unhighlight(id) {
    const until = this.changed.get(id);
    if (until === undefined || until > Date.now()) return;
    this.changed.delete(id);
    this.root.querySelector(`li.task[data-task-id="${CSS.escape(id)}"]`)?.classList.remove('changed');
  }

  // ---- rendering -------------------------------------------------------------------------

  columns(tasks) {
    const statuses = [...STATUSES];
    for (const task of tasks) {
      if (!statuses.includes(task.status)) statuses.push(task.status);
    }
    return statuses;
  }

  matches(task) {
    if (!this.search) return true;
    const text = `${task.title}\n${task.description ?? ''}`.toLowerCase();
    return text.includes(this.search);
  }

  render() {
    const focused = document.activeElement?.closest?.('li.task')?.dataset.taskId;
    const all = [...this.tasks.values()]
      .filter((task) => !this.pendingDeletes.has(task.id))
      .sort((a, b) => Number(a.id) - Number(b.id));
    const existing = new Map(
      [...this.root.querySelectorAll('li.task')].map((li) => [li.dataset.taskId, li]),
    );
    const statuses = this.columns(all);
    const columns = document.createDocumentFragment();
    for (const status of statuses) {
      const inColumn = all.filter((task) => task.status === status);
      const shown = inColumn.filter((task) => this.matches(task));
      const section = document.createElement('section');
      section.className = 'column';
      section.dataset.status = status;
      const heading = document.createElement('h3');
      heading.id = `column-${status}`;
      const count = this.search ? `${shown.length} of ${inColumn.length}` : `${inColumn.length}`;
      heading.innerHTML = '<span class="label"></span> <span class="count"></span>';
      $('.label', heading).textContent = statusLabel(status);
      $('.count', heading).textContent = count;
      section.setAttribute('aria-labelledby', heading.id);
      const list = document.createElement('ul');
      for (const task of shown) {
        const open = this.editing.has(task.id) && existing.get(task.id);
        list.append(open || this.card(task, statuses));
      }
      section.append(heading, list);
      if (shown.length === 0) {
        const empty = document.createElement('p');
        empty.className = 'empty';
        empty.textContent = this.search && inColumn.length ? 'No match' : 'Nothing here';
        section.append(empty);
      }
      this.dropTarget(section);
      columns.append(section);
    }
    this.root.replaceChildren(columns);
    if (focused) this.root.querySelector(`li.task[data-task-id="${CSS.escape(focused)}"]`)?.focus();
  }

  card(task, statuses) {
    const li = $('#task-template').content.firstElementChild.cloneNode(true);
    li.dataset.taskId = task.id;
    li.dataset.status = task.status;
    li.setAttribute('aria-label', `${task.title}, ${statusLabel(task.status)}`);
    if ((this.changed.get(task.id) ?? 0) > Date.now()) li.classList.add('changed');
    $('.title', li).textContent = task.title;
    $('.description', li).textContent = task.description ?? '';
    this.showTimes($('.times', li), task);
    const select = $('.status', li);
    for (const status of statuses) {
      select.append(new Option(statusLabel(status), status, false, status === task.status));
    }
    select.addEventListener('change', () => this.move(task, select.value));
    $('.edit', li).setAttribute('aria-label', `Edit “${task.title}”`);
    $('.delete', li).setAttribute('aria-label', `Delete “${task.title}”`);
    $('.edit', li).addEventListener('click', () => this.openEditor(li, task));
    $('.delete', li).addEventListener('click', () => this.remove(task));
    li.addEventListener('dragstart', (event) => {
      event.dataTransfer.setData('text/x-taskhub-task', task.id);
      event.dataTransfer.effectAllowed = 'move';
      li.classList.add('dragging');
    });
    li.addEventListener('dragend', () => li.classList.remove('dragging'));
    li.addEventListener('keydown', (event) => {
      if (event.target !== li || !event.shiftKey) return;
      const step = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
      if (!step) return;
      event.preventDefault();
      const order = this.columns([...this.tasks.values()]);
      const next = order[order.indexOf(task.status) + step];
      if (next) this.move(task, next);
    });
    return li;
  }

  showTimes(element, task) {
    const { text, title } = describeTimes(task.created_at, task.updated_at);
    element.textContent = text;
    element.title = title;
  }

  refreshTimes() {
    for (const li of this.root.querySelectorAll('li.task')) {
      const task = this.tasks.get(li.dataset.taskId);
      const times = $('.times', li);
      if (task && times) this.showTimes(times, task);
    }
  }

  dropTarget(section) {
    section.addEventListener('dragover', (event) => {
      if (!event.dataTransfer.types.includes('text/x-taskhub-task')) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'move';
      section.classList.add('drop');
    });
    section.addEventListener('dragleave', (event) => {
      if (!section.contains(event.relatedTarget)) section.classList.remove('drop');
    });
    section.addEventListener('drop', (event) => {
      event.preventDefault();
      section.classList.remove('drop');
      const task = this.tasks.get(event.dataTransfer.getData('text/x-taskhub-task'));
      if (task) this.move(task, section.dataset.status);
    });
  }

  // ---- writes ----------------------------------------------------------------------------

  async move(task, status) {
    if (status === task.status) return;
    $('#board-announcer').textContent = `Moving “${task.title}” to ${statusLabel(status)}`;
    const path = `/tasks/status/${encodeURIComponent(task.id)}?new_status=${encodeURIComponent(status)}`;
    if (await write('PUT', path, undefined, this.showProblem)) {
      $('#board-announcer').textContent = `“${task.title}” is now in ${statusLabel(status)}`;
    }
  }

  /** Hides the card at once and sends the delete after UNDO_MS unless undone. */
  remove(task) {
    this.flushDeletes();
    const send = () => {
      this.pendingDeletes.delete(task.id);
      $('#undo').hidden = true;
      write('DELETE', `/tasks/${encodeURIComponent(task.id)}`, undefined, this.showProblem).then(
        (done) => {
          if (!done) this.render();
        },
      );
    };
    this.pendingDeletes.set(task.id, { timer: setTimeout(send, UNDO_MS), send });
    $('#undo-text').textContent = `Deleted “${task.title}”.`;
    $('#undo').hidden = false;
    $('#undo-button').focus();
    this.render();
  }

  /** Sends every delete still waiting for its undo time (a new delete, leaving the page). */
  flushDeletes() {
    for (const { timer, send } of this.pendingDeletes.values()) {
      clearTimeout(timer);
      send();
    }
  }

  undo() {
    for (const [id, { timer }] of this.pendingDeletes) {
      clearTimeout(timer);
      this.pendingDeletes.delete(id);
      $('#board-announcer').textContent = `“${this.tasks.get(id)?.title ?? 'The task'}” is back`;
    }
    $('#undo').hidden = true;
    this.render();
  }

  openEditor(li, task) {
    this.editing.add(task.id);
    li.draggable = false;
    const form = $('#edit-template').content.firstElementChild.cloneNode(true);
    form.elements.title.value = task.title;
    form.elements.description.value = task.description ?? '';
    const close = () => {
      this.editing.delete(task.id);
      this.render();
    };
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const patch = {
        title: form.elements.title.value,
        description: form.elements.description.value || null,
      };
      if (await write('PATCH', `/tasks/${encodeURIComponent(task.id)}`, patch, this.showProblem)) close();
    });
    $('.cancel', form).addEventListener('click', close);
    $('article', li).replaceChildren(form);
    form.elements.title.focus();
  }

  wire() {
    $('#new-task').addEventListener('submit', async (event) => {
      event.preventDefault();
      const form = event.target;
      const task = { title: form.elements.title.value, status: form.elements.status.value };
      if (form.elements.description.value) task.description = form.elements.description.value;
      if (await write('POST', '/tasks', task, this.showProblem)) {
        form.reset();
        form.elements.title.focus();
      }
    });
    $('#search').addEventListener('input', (event) => {
      this.search = event.target.value.trim().toLowerCase();
      this.render();
    });
    $('#undo-button').addEventListener('click', () => this.undo());
    // Leaving the page sends what is waiting (keepalive lets the requests outlive it).
    window.addEventListener('pagehide', () => {
      for (const id of this.pendingDeletes.keys()) {
        fetch(`/tasks/${encodeURIComponent(id)}`, { method: 'DELETE', keepalive: true, credentials: 'same-origin' });
      }
    });
  }
}
