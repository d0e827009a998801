// The Events view: a live tail of every event the visitor may see (what the feed
// receives), filtered by type and topic here in the page (so changing a filter shows the
// events already received), with pause, an inspector for the whole envelope, and a form
// that publishes one event.
//
// The tail keeps the newest KEEP entries and draws new rows once per animation frame,
// so a busy server costs the page one DOM update per frame, not one per event.

import { write } from './api.js';
import { clock } from './words.js';

/** Rows kept in the tail; older ones are dropped. */
const KEEP = 500;

const $ = (selector, root = document) => root.querySelector(selector);

/** A filter like the server's: comma-separated, a trailing `*` is a prefix; empty matches all. */
function selector(text) {
  const items = text.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) return () => true;
  return (value) =>
    value !== undefined &&
    value !== null &&
    items.some((item) => (item.endsWith('*') ? value.startsWith(item.slice(0, -1)) : value === item));
}

export class EventTail {
  constructor() {
    /** Every kept entry, oldest first: an envelope, or a marker ({marker: text}). */
    this.entries = [];
    this.paused = false;
    /** Entries received while paused (the newest KEEP), shown on resume. */
    this.waiting = [];
    /** Events received since the page opened (or the tail was cleared). */
    this.received = 0;
    /** Visible entries not drawn yet (the newest KEEP), oldest first. */
    this.fresh = [];
    this.frame = null;
    this.typeMatches = selector('');
    this.topicMatches = selector('');
    this.chosen = null;
    this.list = $('#tail');
    this.wire();
  }

  onEnvelope(envelope) {
    this.add({ envelope });
  }

  /** A line in the tail that is not an event: a reconnect, a reset, a gap. */
  mark(text) {
    this.add({ marker: text });
  }

  add(entry) {
    if (entry.envelope) this.received += 1;
    if (this.paused) {
      this.waiting.push(entry);
      if (this.waiting.length > KEEP) this.waiting.shift();
    } else {
      this.entries.push(entry);
      if (this.entries.length > KEEP) this.entries.shift();
      if (this.visible(entry)) {
        this.fresh.push(entry);
        if (this.fresh.length > KEEP) this.fresh.shift();
      }
    }
    this.frame ??= requestAnimationFrame(() => this.draw());
  }

  /** Draws the rows received since the last frame, newest first, and the status line. */
  draw() {
    this.frame = null;
    if (this.fresh.length) {
      const rows = document.createDocumentFragment();
      for (let i = this.fresh.length - 1; i >= 0; i -= 1) rows.append(this.row(this.fresh[i]));
      this.fresh = [];
      this.list.prepend(rows);
      while (this.list.childElementCount > KEEP) this.list.lastElementChild.remove();
    }
    this.showStatus();
  }

  visible(entry) {
    if (entry.marker) return true;
    const { event, topic } = entry.envelope;
    return this.typeMatches(event) && this.topicMatches(topic);
  }

  row(entry) {
    const li = document.createElement('li');
    if (entry.marker) {
      li.className = 'marker';
      li.textContent = entry.marker;
      return li;
    }
    const { envelope } = entry;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'event-row';
    button.dataset.eventId = envelope.id;
    button.setAttribute('aria-pressed', String(this.chosen === envelope));
    const parts = [
      ['id', `#${envelope.id}`],
      ['time', clock(envelope.timestamp)],
      ['type', envelope.event],
      ['topic', envelope.topic ?? '—'],
      ['data', JSON.stringify(envelope.data)],
    ];
    for (const [name, text] of parts) {
      const span = document.createElement('span');
      span.className = name;
      span.textContent = text;
      button.append(span);
    }
    button.addEventListener('click', () => this.inspect(envelope, button));
    li.append(button);
    return li;
  }

  /** Redraws the list (after a filter change or a resume), newest first. */
  redraw() {
    this.fresh = [];
    const rows = document.createDocumentFragment();
    for (let i = this.entries.length - 1; i >= 0; i -= 1) {
      if (this.visible(this.entries[i])) rows.append(this.row(this.entries[i]));
    }
    this.list.replaceChildren(rows);
    this.showStatus();
  }

  inspect(envelope, button) {
    this.chosen = envelope;
    for (const pressed of this.list.querySelectorAll('[aria-pressed="true"]')) {
      pressed.setAttribute('aria-pressed', 'false');
    }
    button.setAttribute('aria-pressed', 'true');
    $('#inspector-empty').hidden = true;
    const pre = $('#inspector-json');
    pre.hidden = false;
    pre.textContent = JSON.stringify(envelope, null, 2);
  }

  showStatus() {
    const events = this.entries.filter((entry) => entry.envelope);
    const shown = events.filter((entry) => this.visible(entry)).length;
    let text = `${this.received} ${this.received === 1 ? 'event' : 'events'} received`;
    if (this.received > events.length) text += `, the newest ${events.length} kept`;
    if (shown !== events.length) text += `, ${shown} shown`;
    if (this.paused) text += `; paused, ${this.waiting.length} waiting`;
    $('#tail-status').textContent = text;
  }

  setPaused(paused) {
    this.paused = paused;
    const button = $('#pause');
    button.setAttribute('aria-pressed', String(paused));
    button.textContent = paused ? 'Resume' : 'Pause';
    if (!paused) {
      const waiting = this.waiting;
      this.waiting = [];
      for (const entry of waiting) this.entries.push(entry);
      this.entries.splice(0, Math.max(0, this.entries.length - KEEP));
      this.redraw();
    }
    this.showStatus();
  }

  wire() {
    const filter = () => {
      this.typeMatches = selector($('#filter-type').value);
      this.topicMatches = selector($('#filter-topic').value);
      this.redraw();
    };
    $('#filter-type').addEventListener('input', filter);
    $('#filter-topic').addEventListener('input', filter);
    $('#tail-filter').addEventListener('submit', (event) => event.preventDefault());
    $('#pause').addEventListener('click', () => this.setPaused(!this.paused));
    $('#clear').addEventListener('click', () => {
      this.entries = [];
      this.waiting = [];
      this.received = 0;
      this.redraw();
    });
    $('#publish').addEventListener('submit', (event) => this.publish(event));
  }

  async publish(event) {
    event.preventDefault();
    const form = event.target;
    const result = $('#publish-result');
    let data;
    try {
      data = JSON.parse(form.elements.data.value);
    } catch (error) {
      result.textContent = `The data is not valid JSON: ${error.message}`;
      form.elements.data.setAttribute('aria-invalid', 'true');
      return;
    }
    form.elements.data.removeAttribute('aria-invalid');
    const body = { event: form.elements.event.value.trim(), data };
    const topic = form.elements.topic.value.trim();
    if (topic) body.topic = topic;
    if (form.elements.private.checked) body.private = true;
    result.textContent = 'Publishing…';
    const answer = await write('POST', '/events', body, (text) => {
      if (text) result.textContent = text;
    });
    if (answer) result.textContent = `Published as event #${answer.id}.`;
  }
}

/** Polls `/metrics` and draws events per second and open streams, two minutes of each. */
export class Charts {
  static SAMPLES = 60;
  static EVERY_MS = 2000;

  constructor() {
    this.rates = [];
    this.streams = [];
    this.previous = null;
    this.timer = null;
  }

  start() {
    if (this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), Charts.EVERY_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.previous = null;
  }

  async sample() {
    let text;
    try {
      const response = await fetch('/metrics', { credentials: 'same-origin' });
      if (!response.ok) return;
      text = await response.text();
    } catch {
      return; // The connection badge already says the server is unreachable.
    }
    const value = (name) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line ? Number(line.slice(name.length + 1)) : NaN;
    };
    const now = performance.now();
    const published = value('taskhub_events_published_total');
    const open = value('taskhub_streams_open');
    if (this.previous && Number.isFinite(published)) {
      const seconds = (now - this.previous.at) / 1000;
      const rate = Math.max(0, (published - this.previous.published) / seconds);
      this.push(this.rates, rate);
      $('#rate-value').textContent = rate < 10 ? rate.toFixed(1) : Math.round(rate).toString();
      draw($('#rate-chart'), this.rates);
    }
    if (Number.isFinite(open)) {
      this.push(this.streams, open);
      $('#streams-value').textContent = String(open);
      draw($('#streams-chart'), this.streams);
    }
    this.previous = { at: now, published };
  }

  push(series, value) {
    series.push(value);
    if (series.length > Charts.SAMPLES) series.shift();
  }
}

/** A sparkline: the series scaled to the chart's 120×32 box, newest on the right. */
function draw(svg, series) {
  const top = Math.max(1, ...series);
  const step = 120 / (Charts.SAMPLES - 1);
  const offset = (Charts.SAMPLES - series.length) * step;
  const points = series.map((v, i) => `${(offset + i * step).toFixed(1)},${(31 - (v / top) * 29).toFixed(1)}`);
  svg.querySelector('polyline').setAttribute('points', points.join(' '));
}
