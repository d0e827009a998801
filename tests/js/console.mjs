// The console in real Chromium: the Board (columns for any status with consistent
// labels, times, search, drag and drop, keyboard moves, highlighted changes, delete with
// undo, errors in plain words, no wrapping buttons, narrow screens) and the Events view
// (live tail, filters, pause, inspector, publish form, live charts, resuming across a
// server restart), in light and dark, each audited by axe-core (no serious or critical
// violation). Screenshots of both views are written to SCREENSHOT_DIR.
//
// usage: node console.mjs BASE_URL SCREENSHOT_DIR
import { createRequire } from 'node:module';
import path from 'node:path';

import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { ask, check, report, run } from './lib/driver.mjs';

const [base, screenshotDir] = process.argv.slice(2);
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

async function api(method, urlPath, body) {
  const response = await fetch(base + urlPath, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${urlPath}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? null : response.json();
}

/** Runs axe-core on the page; fails on any serious or critical violation. */
async function audit(page, what) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: axePath });
  const results = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const described = bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`);
  check(bad.length === 0, `${what}: axe found ${described.join('\n')}`);
  report('axe', { what, violations: results.violations.length, serious_or_critical: 0 });
}

/** Every visible button's label fits on one line. */
async function buttonsOnOneLine(page, what) {
  const wrapped = await page.evaluate(() =>
    [...document.querySelectorAll('button')]
      .filter((button) => button.offsetParent !== null)
      .filter((button) => {
        // A text that wraps has a box per line.
        const texts = document.createTreeWalker(button, NodeFilter.SHOW_TEXT);
        const range = document.createRange();
        for (let text = texts.nextNode(); text; text = texts.nextNode()) {
          if (!text.textContent.trim()) continue;
          range.selectNodeContents(text);
          const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
          if (lines.size > 1) return true;
        }
        return false;
      })
      .map((button) => button.textContent.trim()),
  );
  check(wrapped.length === 0, `${what}: buttons wrap: ${wrapped.join(', ')}`);
}

/** Waits for `condition` (checked every 50 ms), failing with `what` after the patience. */
async function until(condition, what) {
  const deadline = Date.now() + PATIENCE_MS;
  while (!(await condition())) {
    check(Date.now() < deadline, `timed out: ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

const card = (page, title) => page.locator('li.task', { hasText: title });
const inColumn = (page, status, title) =>
  page.locator(`section[data-status="${status}"] li.task`, { hasText: title });

run(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
    page.setDefaultTimeout(PATIENCE_MS);
    page.on('pageerror', (error) => console.error('page error:', error));
    const notFound = [];
    page.on('response', (response) => {
      if (response.status() === 404) notFound.push(response.url());
    });
    // The page's timers are Playwright's, flowing as usual until paused (for undo, below).
    await page.clock.install();
    await page.goto(base + '/');
    await page.locator('#connection[data-state="live"]').waitFor();
    check((await page.getAttribute('html', 'data-theme')) === 'light', 'the system theme (light) is used');

    // ---- Board: any status gets a column; labels are consistent ------------------------
    const notes = await api('POST', '/tasks', { title: 'Write the release notes', description: 'Everything since 1.4.1' });
    await api('POST', '/tasks', { title: 'Book the venue', status: 'in_progress' });
    await api('POST', '/tasks', { title: 'Tag v1.5.0', status: 'done' });
    await api('POST', '/tasks', { title: 'Review the API guide', status: 'in_review', description: 'Docs team' });
    await api('POST', '/tasks', { title: 'Rotate the signing keys', status: 'blocked-on-ops' });
    await card(page, 'Rotate the signing keys').waitFor();
    const headings = await page.locator('.column h3 .label').allTextContents();
    check(
      JSON.stringify(headings) === JSON.stringify(['To do', 'In progress', 'Done', 'In review', 'Blocked on ops']),
      `column labels: ${JSON.stringify(headings)}`,
    );
    const options = await card(page, 'Tag v1.5.0').locator('select.status option').allTextContents();
    check(options.slice(0, 3).join('|') === 'To do|In progress|Done', `status labels: ${options}`);
    const times = await card(page, 'Tag v1.5.0').locator('.times').textContent();
    check(/^Created just now$/.test(times), `times shown: ${times}`);
    await buttonsOnOneLine(page, 'five columns at 1280 px');
    report('columns for any status');

    // ---- search ------------------------------------------------------------------------
    await page.getByLabel('Search').fill('docs');
    await card(page, 'Write the release notes').waitFor({ state: 'detached' });
    check((await page.locator('li.task').count()) === 1, 'only the match is shown');
    check(await card(page, 'Review the API guide').isVisible(), 'a description matches');
    await page.getByLabel('Search').fill('');
    await card(page, 'Write the release notes').waitFor();
    report('search');

    // ---- drag and drop, keyboard moves, highlighted changes ---------------------------------
    // Which cards were drawn highlighted (the highlight fades, so it is recorded as drawn).
    await page.evaluate(() => {
      window.highlighted = new Set();
      new MutationObserver((changes) => {
        for (const change of changes) {
          for (const node of change.addedNodes) {
            if (!(node instanceof Element)) continue;
            for (const li of node.querySelectorAll('li.task.changed')) window.highlighted.add(li.dataset.taskId);
          }
        }
      }).observe(document.querySelector('#board'), { childList: true, subtree: true });
    });
    await page.dragAndDrop(`li.task[data-task-id="${notes.id}"]`, 'section[data-status="done"]');
    await inColumn(page, 'done', 'Write the release notes').waitFor();
    check((await api('GET', `/tasks/${notes.id}`)).status === 'done', 'the drop changed the status');
    check(
      await page.evaluate((id) => window.highlighted.has(id), notes.id),
      'a card changed by an event is highlighted',
    );
    await page.locator(`li.task[data-task-id="${notes.id}"]`).focus();
    await page.keyboard.press('Shift+ArrowLeft');
    await inColumn(page, 'in_progress', 'Write the release notes').waitFor();
    check(
      (await page.evaluate(() => document.activeElement?.dataset.taskId)) === notes.id,
      'the moved card keeps the focus',
    );
    await page.keyboard.press('Shift+ArrowRight');
    await inColumn(page, 'done', 'Write the release notes').waitFor();
    report('drag and drop and keyboard moves');

    // ---- delete: undo, then for real ---------------------------------------------------------
    // The page's clock stands still while undo is tried, so its five seconds cannot run
    // out however slowly the test goes; then it flows again and the delete is sent.
    await page.clock.pauseAt(Date.now() + 1000);
    const venue = card(page, 'Book the venue');
    await venue.getByRole('button', { name: 'Delete “Book the venue”' }).click();
    await venue.waitFor({ state: 'detached' });
    check(await page.locator('#undo').isVisible(), 'undo is offered');
    await page.getByRole('button', { name: 'Undo' }).click();
    await card(page, 'Book the venue').waitFor();
    check((await api('GET', '/tasks')).some((t) => t.title === 'Book the venue'), 'undone: not deleted');
    await card(page, 'Book the venue').getByRole('button', { name: 'Delete “Book the venue”' }).click();
    check((await api('GET', '/tasks')).some((t) => t.title === 'Book the venue'), 'not sent before its time');
    await page.clock.resume();
    await page.locator('#undo').waitFor({ state: 'hidden' });
    await until(
      async () => !(await api('GET', '/tasks')).some((t) => t.title === 'Book the venue'),
      'deleted once undo expired',
    );
    report('delete with undo');

    // ---- errors in plain words ----------------------------------------------------------------
    // Connections are refused until the page has said so, then the retry gets through.
    let refuse = true;
    await page.route('**/tasks', (route) => {
      if (route.request().method() !== 'POST' || !refuse) return route.continue();
      return route.abort('connectionrefused');
    });
    await page.fill('#new-title', 'Survive a refused connection');
    await page.getByRole('button', { name: 'Add task' }).click();
    await page.waitForFunction(() => /retrying in \d+ s/.test(document.querySelector('#problem').textContent));
    const offline = await page.textContent('#problem');
    refuse = false;
    check(!/failed to fetch/i.test(offline) && offline.includes('did not answer'), `plain words: ${offline}`);
    await card(page, 'Survive a refused connection').waitFor();
    await page.unroute('**/tasks');
    report('errors in plain words');

    await audit(page, 'board, light');

    // ---- theme ----------------------------------------------------------------------------------
    await page.getByRole('button', { name: 'Dark theme' }).click();
    check((await page.getAttribute('html', 'data-theme')) === 'dark', 'the toggle turns it dark');
    check((await page.getAttribute('#theme', 'aria-pressed')) === 'true', 'the toggle says so');
    await audit(page, 'board, dark');
    await page.reload();
    await page.locator('#connection[data-state="live"]').waitFor();
    check((await page.getAttribute('html', 'data-theme')) === 'dark', 'the choice is kept');
    await page.getByRole('button', { name: 'Dark theme' }).click();
    report('themes');

    // A picture of the board, right after a live change.
    await api('PUT', `/tasks/status/${notes.id}?new_status=in_progress`);
    await inColumn(page, 'in_progress', 'Write the release notes').waitFor();
    await page.screenshot({ path: path.join(screenshotDir, 'console-board.png') });

    // ---- Events view ------------------------------------------------------------------------------
    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator('#view-events').waitFor();
    check((await page.getAttribute('#tab-events', 'aria-current')) === 'page', 'the tab shows where we are');
    const deploy = await api('POST', '/events', { event: 'deploy.finished', topic: 'deploys/eu', data: { version: '1.4.2' } });
    const row = page.locator(`.event-row[data-event-id="${deploy.id}"]`);
    await row.waitFor();
    check((await row.locator('.type').textContent()) === 'deploy.finished', 'the row shows the type');
    check(await page.locator('.event-row .type', { hasText: 'task_updated' }).count() > 0, 'task events are in the tail too');

    // Inspect the envelope.
    await row.click();
    const inspected = JSON.parse(await page.textContent('#inspector-json'));
    check(inspected.id === deploy.id && inspected.topic === 'deploys/eu' && inspected.data.version === '1.4.2', 'the whole envelope');
    check(typeof inspected.timestamp === 'string', 'with its timestamp');

    // Filters, by type and by topic.
    await page.locator('#filter-type').fill('deploy.*');
    await page.locator('.event-row .type', { hasText: 'task_' }).first().waitFor({ state: 'detached' });
    check((await page.locator('.event-row').count()) === 1, 'only the deploy');
    await page.locator('#filter-type').fill('');
    await page.locator('#filter-topic').fill('tasks/*');
    await row.waitFor({ state: 'detached' });
    check((await page.locator('.event-row').count()) > 0, 'task events remain');
    await page.locator('#filter-topic').fill('');

    // The publish form: an error in plain words, then an event.
    await page.locator('#publish-event').fill('note');
    await page.locator('#publish-data').fill('{"text": "from the console"}');
    await page.locator('#publish input[name="private"]').check();
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.waitForFunction(() => /topic/.test(document.querySelector('#publish-result').textContent));
    const refused = await page.textContent('#publish-result');
    check(!refused.includes('`') && refused.includes('“topic”'), `plain words: ${refused}`);
    await page.locator('#publish input[name="private"]').uncheck();
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.waitForFunction(() => /Published as event #\d+/.test(document.querySelector('#publish-result').textContent));
    const published = (await page.textContent('#publish-result')).match(/#(\d+)/)[1];
    await page.locator(`.event-row[data-event-id="${published}"]`).waitFor();
    report('tail, inspector, filters, publish');

    // Pause: new events wait; resume shows them.
    await page.getByRole('button', { name: 'Pause' }).click();
    const whilePaused = await api('POST', '/events', { event: 'while.paused', data: 1 });
    await page.waitForFunction(() => /1 waiting/.test(document.querySelector('#tail-status').textContent));
    check((await page.locator(`.event-row[data-event-id="${whilePaused.id}"]`).count()) === 0, 'not shown while paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator(`.event-row[data-event-id="${whilePaused.id}"]`).waitFor();
    report('pause');

    // Charts read from /metrics: this page's stream is open, and events were published.
    await page.waitForFunction(() => Number(document.querySelector('#streams-value').textContent) >= 1);
    await api('POST', '/events', Array.from({ length: 20 }, (_, n) => ({ event: 'tick', data: { n } })));
    await page.waitForFunction(() => Number(document.querySelector('#rate-value').textContent) > 0);
    await page.waitForFunction(
      () => document.querySelector('#rate-chart polyline').getAttribute('points').split(' ').length >= 2,
    );
    report('charts');


    await api('POST', '/events', { event: 'user.signed_up', topic: 'users/1842', data: { plan: 'team' } });
    await api('POST', '/events', { event: 'deploy.started', topic: 'deploys/us', data: { version: '1.5.0' } });
    await page.locator('.event-row .type', { hasText: 'deploy.started' }).waitFor();
    await audit(page, 'events, light');
    await page.screenshot({ path: path.join(screenshotDir, 'console-events.png') });
    await page.getByRole('button', { name: 'Dark theme' }).click();
    await audit(page, 'events, dark');
    await page.getByRole('button', { name: 'Dark theme' }).click();

    // A burst beyond what the tail keeps: the newest 500 stay, drawn a frame at a time.
    const burst = await api('POST', '/events', Array.from({ length: 1000 }, (_, n) => ({ event: 'burst', data: { n } })));
    await page.locator(`.event-row[data-event-id="${burst.ids.at(-1)}"]`).waitFor();
    await page.waitForFunction(() => /the newest 500 kept/.test(document.querySelector('#tail-status').textContent));
    const kept = await page.locator('#tail > li').count();
    check(kept === 500, `the tail keeps 500 rows: ${kept}`);
    check((await page.locator(`.event-row[data-event-id="${burst.ids[0]}"]`).count()) === 0, 'the oldest went');
    report('burst');

    // ---- resume across a server restart -------------------------------------------------------
    await page.route('**/events/stream**', (route) => route.abort('connectionrefused'));
    await ask('restart');
    await page.locator('#connection:not([data-state="live"])').waitFor();
    const missed = await api('POST', '/events', { event: 'while.away', data: { n: 1 } });
    await page.unroute('**/events/stream**');
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.locator(`.event-row[data-event-id="${missed.id}"]`).waitFor();
    await page.locator('.marker', { hasText: 'Reconnected; resumed after event #' }).waitFor();
    check((await page.locator(`.event-row[data-event-id="${missed.id}"]`).count()) === 1, 'the missed event once');
    report('resumed after the restart');

    // ---- narrow screens --------------------------------------------------------------------------
    await page.setViewportSize({ width: 360, height: 740 });
    for (const view of ['Events', 'Board']) {
      await page.getByRole('link', { name: view }).click();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      check(overflow <= 0, `${view} fits 360 px: ${overflow} px too wide`);
      await buttonsOnOneLine(page, `${view} at 360 px`);
    }
    report('narrow screens');

    check(notFound.length === 0, `nothing the page asked for is missing: ${notFound.join(', ')}`);
  } finally {
    await browser.close();
  }
});
