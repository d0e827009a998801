// The task board in real Chromium, used by two people at once: every change one makes
// through the page appears live on the other's; markup is escaped; a screenshot is
// taken after a live update; and across a server crash, changes made while the pages
// were cut off arrive once they reconnect (Last-Event-ID), alongside the seed guide's
// own JavaScript example in a third page.
//
// usage: node board.mjs BASE_URL SCREENSHOT_PATH
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { ask, check, report, run } from './lib/driver.mjs';

const [base, screenshotPath] = process.argv.slice(2);

async function api(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
}

async function openBoard(browser) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
  page.setDefaultTimeout(PATIENCE_MS);
  page.on('pageerror', (error) => console.error('page error:', error));
  await page.goto(base + '/');
  await page.locator('#connection[data-state="live"]').waitFor();
  return page;
}

/** Waits for `condition` (checked every 50 ms), failing with `what` after the patience. */
async function until(condition, what) {
  const deadline = Date.now() + PATIENCE_MS;
  while (!condition()) {
    check(Date.now() < deadline, `timed out: ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

const card = (page, title) => page.locator('li.task', { hasText: title });
const inColumn = (page, status, title) =>
  page.locator(`section[data-status="${status}"] li.task`, { hasText: title });

/** The seed guide's browser example, verbatim but for the URL; what it logs is kept. */
async function openSeedExample(browser) {
  const page = await browser.newPage();
  page.setDefaultTimeout(PATIENCE_MS);
  const updates = [];
  page.on('console', async (message) => {
    const [label, data] = message.args();
    if ((await label?.jsonValue()) === 'Task updated:') updates.push(await data.jsonValue());
  });
  await page.goto(base + '/healthz');
  await page.evaluate((origin) => {
    const eventSource = new EventSource(origin + '/events/stream');

    eventSource.onmessage = function (event) {
      const data = JSON.parse(event.data);
      console.log('Event received:', data);
    };

    eventSource.onerror = function (error) {
      console.error('SSE Error:', error);
    };

    // 特定のイベントタイプをリッスン
    eventSource.addEventListener('task_updated', function (event) {
      const data = JSON.parse(event.data);
      console.log('Task updated:', data);
    });
    window.seedSource = eventSource;
  }, base);
  await page.waitForFunction(() => window.seedSource.readyState === EventSource.OPEN);
  return { page, updates };
}

run(async () => {
  const browser = await launch();
  try {
    const alice = await openBoard(browser);
    const bob = await openBoard(browser);
    report('both boards live');

    // Every control has an accessible name, and the connection state is announced.
    const labelled = await api('POST', '/tasks', { title: 'Check the labels' });
    const labelledCard = alice.locator(`li.task[data-task-id="${labelled.id}"]`);
    await labelledCard.getByRole('button', { name: 'Edit “Check the labels”' }).click();
    const unnamed = await alice.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter((control) => !control.closest('[hidden]'))
        .filter((control) => !(control.labels?.length || control.getAttribute('aria-label') || control.textContent.trim()))
        .map((control) => control.outerHTML),
    );
    check(unnamed.length === 0, `controls without a name: ${unnamed.join(', ')}`);
    check((await alice.getAttribute('#connection', 'role')) === 'status', 'the state is a live region');
    await labelledCard.getByRole('button', { name: 'Cancel' }).click();
    await api('DELETE', `/tasks/${labelled.id}`);
    await card(bob, 'Check the labels').waitFor({ state: 'detached' });

    // Alice adds a task through the form; Bob sees it.
    await alice.fill('#new-title', 'Write the release notes');
    await alice.fill('#new-description', 'Everything that changed since 1.4.1');
    await alice.getByRole('button', { name: 'Add task' }).click();
    await inColumn(bob, 'todo', 'Write the release notes').waitFor();
    // Bob's stream may show it before Alice's own request has returned and cleared her form.
    await alice
      .waitForFunction(() => document.querySelector('#new-title').value === '', null, { timeout: PATIENCE_MS })
      .catch(() => {});
    check((await alice.inputValue('#new-title')) === '', 'the form is cleared after adding');

    // Bob moves it on; Alice sees it change column.
    await card(bob, 'Write the release notes').getByLabel('Status').selectOption('in_progress');
    await inColumn(alice, 'in_progress', 'Write the release notes').waitFor();
    check((await inColumn(alice, 'todo', 'Write the release notes').count()) === 0, 'moved, not copied');

    // Alice edits the title; Bob sees the new one.
    const id = await card(alice, 'Write the release notes').getAttribute('data-task-id');
    const aliceCard = alice.locator(`li.task[data-task-id="${id}"]`);
    await aliceCard.getByRole('button', { name: 'Edit “Write the release notes”' }).click();
    await aliceCard.getByLabel('Title').fill('Publish the release notes');
    await aliceCard.getByRole('button', { name: 'Save' }).click();
    await card(bob, 'Publish the release notes').waitFor();
    check((await card(bob, 'Write the release notes').count()) === 0, 'the old title is gone');
    report('create, status and edit are live');

    // Other clients' changes (here, the API) appear too, and markup stays text.
    const hostile = '<img src=x onerror="window.injected = true">';
    const other = await api('POST', '/tasks', { title: hostile, description: 'not HTML' });
    await card(bob, 'not HTML').waitFor();
    check((await card(bob, 'not HTML').locator('.title').textContent()) === hostile, 'title shown as text');
    check((await bob.evaluate(() => window.injected)) === undefined, 'no markup ran');
    await api('DELETE', `/tasks/${other.id}`);
    await card(alice, 'not HTML').waitFor({ state: 'detached' });

    // Bob deletes a task; it leaves Alice's board.
    const doomed = await api('POST', '/tasks', { title: 'Book the venue' });
    await card(bob, 'Book the venue').waitFor();
    await card(bob, 'Book the venue').getByRole('button', { name: 'Delete “Book the venue”' }).click();
    await card(alice, 'Book the venue').waitFor({ state: 'detached' });
    check((await api('GET', `/tasks`)).every((task) => task.id !== doomed.id), 'deleted in the store');
    report('deletes are live');

    // A board worth a picture, taken right after a live update from Bob.
    await api('POST', '/tasks', { title: 'Review the API guide', description: 'Docs team' });
    await api('POST', '/tasks', { title: 'Tag v1.5.0', status: 'done' });
    await api('POST', '/tasks', { title: 'Draft the 2.0 roadmap', description: 'Input from the user survey' });
    await api('POST', '/tasks', { title: 'Rotate the signing keys', status: 'in_progress' });
    await card(alice, 'Rotate the signing keys').waitFor();
    await card(bob, 'Review the API guide').getByLabel('Status').selectOption('done');
    await inColumn(alice, 'done', 'Review the API guide').waitFor();
    await alice.screenshot({ path: screenshotPath });
    report('screenshot', { path: screenshotPath });

    // The server crashes and comes back. While the pages cannot reach it, others change
    // tasks; once they reconnect (with Last-Event-ID) every change arrives.
    const seed = await openSeedExample(browser);
    const watched = await api('POST', '/tasks', { title: 'Watch the restart' });
    await api('PUT', `/tasks/status/${watched.id}?new_status=in_progress`);
    await card(alice, 'Watch the restart').waitFor();
    const statuses = () => seed.updates.filter((u) => u.data.task_id === watched.id).map((u) => u.data.status);
    await until(() => statuses().includes('in_progress'), 'the seed example sees updates');
    for (const page of [alice, bob, seed.page]) {
      await page.route('**/events/stream**', (route) => route.abort('connectionrefused'));
    }
    await ask('restart');
    await alice.locator('#connection:not([data-state="live"])').waitFor();
    await api('PUT', `/tasks/status/${watched.id}?new_status=done`);
    const missed = await api('POST', '/tasks', { title: 'Created while you were away' });
    await api('PATCH', `/tasks/${missed.id}`, { title: 'Renamed while you were away' });
    check((await alice.getAttribute('#connection', 'data-state')) !== 'live', 'cut off while changing');
    for (const page of [alice, bob, seed.page]) await page.unroute('**/events/stream**');

    for (const page of [alice, bob]) {
      await page.locator('#connection[data-state="live"]').waitFor();
      await inColumn(page, 'done', 'Watch the restart').waitFor();
      await card(page, 'Renamed while you were away').waitFor();
    }
    const renamed = () => seed.updates.some((u) => u.data.task.title === 'Renamed while you were away');
    await until(() => statuses().includes('done') && renamed(), 'the seed example resumes');
    check(
      JSON.stringify(statuses()) === '["in_progress","done"]',
      `the seed example saw each update of the watched task once: ${JSON.stringify(statuses())}`,
    );
    check(renamed(), 'the seed example saw the rename made while it was cut off');
    report('resumed after the restart');
  } finally {
    await browser.close();
  }
});
