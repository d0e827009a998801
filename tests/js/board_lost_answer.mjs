// The board when the answer to a write is lost: the server stores the new task, but the
// connection breaks before its 201 reaches the page (Playwright fetches the answer and
// then resets the connection), and a status change then meets a 503. The board tries
// again with the same Idempotency-Key each time, so the task is created once and changed
// once, and the page says it is retrying meanwhile.
//
// usage: node board_lost_answer.mjs BASE_URL
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { check, report, run } from './lib/driver.mjs';

const [base] = process.argv.slice(2);

run(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(PATIENCE_MS);
    page.on('pageerror', (error) => console.error('page error:', error));
    await page.goto(base + '/');
    await page.locator('#connection[data-state="live"]').waitFor();

    const keys = { POST: [], PUT: [] };
    await page.route('**/tasks**', async (route) => {
      const request = route.request();
      const method = request.method();
      if (!(method in keys)) return route.continue();
      keys[method].push(request.headers()['idempotency-key']);
      if (method === 'POST' && keys.POST.length === 1) {
        await route.fetch(); // The server stores it; the page never hears.
        return route.abort('connectionreset');
      }
      if (method === 'PUT' && keys.PUT.length === 1) {
        return route.fulfill({
          status: 503,
          headers: { 'retry-after': '1', 'content-type': 'application/problem+json' },
          body: JSON.stringify({ status: 503, detail: 'the event store is unavailable' }),
        });
      }
      return route.continue();
    });

    await page.fill('#new-title', 'Lost in transit');
    await page.click('#new-task button[type="submit"]');
    const card = page.locator('li.task', { hasText: 'Lost in transit' });
    await card.waitFor();
    // The form is cleared only once the write is acknowledged: by the retry.
    await page.waitForFunction(() => document.querySelector('#new-title').value === '');
    check(keys.POST.length === 2, `one retry after the lost answer: ${keys.POST.length}`);
    check(/^[0-9a-f-]{36}$/.test(keys.POST[0]), `a UUID key: ${keys.POST[0]}`);
    check(keys.POST[0] === keys.POST[1], `the retry carries the same key: ${keys.POST}`);
    report('created once across a lost answer');

    await card.locator('select.status').selectOption('done');
    await page.waitForFunction(() => /retrying in \d+ s/.test(document.body.textContent));
    await page.locator('section[data-status="done"] li.task', { hasText: 'Lost in transit' }).waitFor();
    check(keys.PUT.length === 2 && keys.PUT[0] === keys.PUT[1], `PUT retried with its key: ${keys.PUT}`);
    report('changed after a 503');

    const tasks = await (await fetch(base + '/tasks')).json();
    check(tasks.length === 1, `one task on the server: ${JSON.stringify(tasks)}`);
    report('one task on the server');
  } finally {
    await browser.close();
  }
});
