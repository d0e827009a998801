// TaskHub's console: the Board and Events views over one event feed, signing in with a
// token when the server needs one, and the light or dark theme.

import { whenUnauthorized } from './api.js';
import { Board } from './board.js';
import { Charts, EventTail } from './events.js';
import { Feed } from './feed.js';

const $ = (selector) => document.querySelector(selector);

function showProblem(text) {
  $('#problem').textContent = text;
}

function showConnection(state, text) {
  const element = $('#connection');
  element.dataset.state = state;
  element.textContent = text;
}

function askForToken() {
  const form = $('#sign-in');
  if (!form.hidden) return;
  form.hidden = false;
  $('#token').focus();
}

const feed = new Feed();
const board = new Board(showProblem);
const tail = new EventTail();
const charts = new Charts();

whenUnauthorized(askForToken);
feed.needsCredentials = async () => {
  try {
    const response = await fetch('/tasks', { method: 'HEAD', credentials: 'same-origin' });
    if (response.status !== 401) return false;
    askForToken();
    return true;
  } catch {
    return false;
  }
};

feed.addEventListener('state', ({ detail }) => showConnection(detail.state, detail.text));
feed.addEventListener('connected', async ({ detail }) => {
  if (detail.resumedAfter !== null) tail.mark(`Reconnected; resumed after event #${detail.resumedAfter}`);
  try {
    await board.onConnected(detail.resumedAfter);
  } catch {
    // Start over: the next connection loads a fresh snapshot.
    feed.lastEventId = null;
    feed.source?.close();
    feed.scheduleRetry();
    return;
  }
  if (feed.open) showConnection('live', 'Live');
});
feed.addEventListener('envelope', ({ detail }) => {
  board.onEnvelope(detail.envelope);
  tail.onEnvelope(detail.envelope);
});
feed.addEventListener('reset', ({ detail }) => {
  tail.mark(`History no longer covers event #${detail.data.last_event_id}: events before now may be missing`);
  board.loadSnapshot().catch(() => {});
});
feed.addEventListener('gap', ({ detail }) => {
  tail.mark(`Fell behind: events #${detail.data.first_dropped_id} to #${detail.data.last_dropped_id} were skipped`);
  board.loadSnapshot().catch(() => {});
});

// ---- signing in ---------------------------------------------------------------------------

$('#sign-in').addEventListener('submit', (event) => {
  event.preventDefault();
  const token = event.target.elements.token.value.trim();
  // A cookie, because EventSource cannot send headers and fetch sends it too.
  document.cookie = `taskhub_token=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
  event.target.hidden = true;
  showProblem('');
  feed.restart();
});

// ---- views ----------------------------------------------------------------------------------

const VIEWS = ['board', 'events'];

function showView() {
  const wanted = location.hash.slice(1);
  const view = VIEWS.includes(wanted) ? wanted : 'board';
  for (const name of VIEWS) {
    $(`#view-${name}`).hidden = name !== view;
    const tab = $(`#tab-${name}`);
    if (name === view) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  document.title = `${view === 'board' ? 'Board' : 'Events'} · TaskHub console`;
  if (view === 'events') charts.start();
  else charts.stop();
}

window.addEventListener('hashchange', showView);
showView();

// ---- theme ------------------------------------------------------------------------------------

const THEME_KEY = 'taskhub-theme';
const systemDark = window.matchMedia('(prefers-color-scheme: dark)');

function applyTheme() {
  const chosen = localStorage.getItem(THEME_KEY);
  const dark = chosen ? chosen === 'dark' : systemDark.matches;
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  $('#theme').setAttribute('aria-pressed', String(dark));
}

$('#theme').addEventListener('click', () => {
  const dark = document.documentElement.dataset.theme !== 'dark';
  localStorage.setItem(THEME_KEY, dark ? 'dark' : 'light');
  applyTheme();
});
systemDark.addEventListener('change', applyTheme);
applyTheme();

feed.connect();
