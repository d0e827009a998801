// The seed guide's browser example, verbatim but for the URL, in real Chromium: with
// the default typed stream its addEventListener('task_updated') fires (and onmessage
// stays quiet); with ?typed=false its onmessage receives every event instead.
//
// usage: node seed_example.mjs BASE_URL
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { check, report, run } from './lib/driver.mjs';

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

/** Opens a page on the server's origin running the seed's example against `url`. */
async function runSeedExample(browser, url) {
  const page = await browser.newPage();
  const logged = [];
  page.on('console', async (message) => {
    const [label, data] = message.args();
    logged.push({ label: await label?.jsonValue(), data: await data?.jsonValue() });
  });
  await page.goto(base + '/healthz');
  await page.evaluate((streamUrl) => {
    const eventSource = new EventSource(streamUrl);

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
  }, url);
  await page.waitForFunction(() => window.seedSource.readyState === EventSource.OPEN);
  return { page, logged };
}

async function until(condition, what) {
  const deadline = Date.now() + PATIENCE_MS;
  while (!condition()) {
    check(Date.now() < deadline, `timed out: ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

run(async () => {
  const browser = await launch();
  try {
    const typed = await runSeedExample(browser, base + '/events/stream');
    const untyped = await runSeedExample(browser, base + '/events/stream?typed=false');
    // Both are subscribed once their `connected` event came; typed's is not logged.
    await until(() => untyped.logged.some((l) => l.data?.event === 'connected'), 'connected');
    check(
      untyped.logged[0].data.data.message === 'SSE connection established',
      `the connected event as the seed sends it: ${JSON.stringify(untyped.logged[0])}`,
    );

    const task = await api('POST', '/tasks', { title: 'Ship it' });
    // The seed's own call.
    const answer = await api('PUT', `/tasks/status/${task.id}?new_status=done`);
    check(answer.status === 'updated', 'the seed call answers {"status":"updated"}');

    await until(() => typed.logged.some((l) => l.label === 'Task updated:'), 'typed: task_updated');
    const update = typed.logged.find((l) => l.label === 'Task updated:').data;
    check(update.event === 'task_updated', 'the envelope names its type');
    check(update.data.task_id === task.id && update.data.status === 'done', 'the seed fields');
    check(typeof update.id === 'string' && update.timestamp.endsWith('Z'), 'id and timestamp');
    report('typed stream: addEventListener works');

    const received = () => untyped.logged.filter((l) => l.label === 'Event received:');
    await until(() => received().some((l) => l.data.event === 'task_updated'), 'untyped: onmessage');
    check(
      JSON.stringify(received().map((l) => l.data.event)) === '["connected","task_created","task_updated"]',
      `onmessage sees every event in order: ${JSON.stringify(received().map((l) => l.data.event))}`,
    );
    check(!untyped.logged.some((l) => l.label === 'Task updated:'), 'no typed events with typed=false');
    check(!typed.logged.some((l) => l.label === 'Event received:'), 'onmessage is quiet on typed streams');
    check(!typed.logged.concat(untyped.logged).some((l) => l.label === 'SSE Error:'), 'no errors');
    report('typed=false: onmessage works');
  } finally {
    await browser.close();
  }
});
