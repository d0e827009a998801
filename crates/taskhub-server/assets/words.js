// How the console says things: status names, times, numbers.

/** The three statuses the API defaults to, as the board names them. */
const KNOWN_STATUSES = { todo: 'To do', in_progress: 'In progress', done: 'Done' };

/** A status as a label: the known three by name, any other in sentence case (`in_review` → "In review"). */
export function statusLabel(status) {
  if (KNOWN_STATUSES[status]) return KNOWN_STATUSES[status];
  const words = status.replace(/[_-]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'medium' });

/** "5 minutes ago", "yesterday"… for an RFC 3339 time. */
export function ago(timestamp, now = Date.now()) {
  const seconds = (Date.parse(timestamp) - now) / 1000;
  if (!Number.isFinite(seconds)) return 'at an unknown time';
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size] of [['day', 86400], ['hour', 3600], ['minute', 60]]) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds), 'second');
}

/** A task's created and updated times: a short line, and the exact times for a tooltip. */
export function describeTimes(createdAt, updatedAt) {
  const created = `Created ${ago(createdAt)}`;
  const text = updatedAt && updatedAt !== createdAt ? `${created} · updated ${ago(updatedAt)}` : created;
  const exact = (t) => (Number.isFinite(Date.parse(t)) ? absolute.format(new Date(t)) : t);
  let title = `Created ${exact(createdAt)}`;
  if (updatedAt) title += `\nUpdated ${exact(updatedAt)}`;
  return { text, title };
}

/** A time of day with milliseconds, for the event tail. */
export function clock(timestamp) {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) return String(timestamp);
  return date.toLocaleTimeString('en-GB', { hour12: false }) + '.' + String(date.getMilliseconds()).padStart(3, '0');
}
