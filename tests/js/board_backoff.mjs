// The board after an HTTP error, which EventSource never retries by itself: the server
// restarts and a stream from someone else takes its only slot (--max-clients 1), so the
// board's reconnect is refused with 503. The board shows it is offline, retries with
// backoff, and once the slot is free resumes from its last event id: a change made while
// it was refused appears.
//
// usage: node board_backoff.mjs BASE_URL
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { ask, check, report, run } from './lib/driver.mjs';

const [base] = process.argv.slice(2);

async function api(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return response.json();
}

run(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(PATIENCE_MS);
    await page.goto(base + '/');
    await page.locator('#connection[data-state="live"]').waitFor();
    const task = await api('POST', '/tasks', { title: 'Survive a refusal' });
    await page.locator('li.task', { hasText: 'Survive a refusal' }).waitFor();

    await page.route('**/events/stream**', (route) => route.abort('connectionrefused'));
    await ask('restart and take the only stream slot');
    await page.unroute('**/events/stream**');
    await page.locator('#connection[data-state="offline"]').waitFor();
    const shown = await page.textContent('#connection');
    check(/retrying in \d+ s/.test(shown), `the board says when it retries: ${shown}`);
    report('offline after a 503');

    await api('PUT', `/tasks/status/${task.id}?new_status=done`);
    check((await page.getAttribute('#connection', 'data-state')) !== 'live', 'refused meanwhile');
    await ask('free the slot');
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.locator('section[data-status="done"] li.task', { hasText: 'Survive a refusal' }).waitFor();
    report('resumed without losing the change');
  } finally {
    await browser.close();
  }
});
