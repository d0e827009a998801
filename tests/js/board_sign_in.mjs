// The console on a server with authentication on: the stream is refused with 401, which
// EventSource never retries; the console asks for a token, keeps it in the
// `taskhub_token` cookie (which both fetch and EventSource send), and goes live: the
// board and the event tail.
//
// usage: node board_sign_in.mjs BASE_URL TOKEN
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { check, report, run } from './lib/driver.mjs';

const [base, token] = process.argv.slice(2);

run(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(PATIENCE_MS);
    await page.goto(base + '/');
    await page.getByLabel('Access token (JWT)').waitFor();
    check((await page.textContent('#connection')) === 'Sign in to connect', 'the state says why');
    report('asked for a token');

    await page.getByLabel('Access token (JWT)').fill(token);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('#connection[data-state="live"]').waitFor();
    check(await page.locator('#sign-in').isHidden(), 'the form is gone');
    await page.fill('#new-title', 'Signed in');
    await page.getByRole('button', { name: 'Add task' }).click();
    await page.locator('li.task', { hasText: 'Signed in' }).waitFor();
    report('live with the token');

    // The Events view shares the signed-in stream.
    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator('.event-row .type', { hasText: 'task_created' }).waitFor();
    report('events with the token');
  } finally {
    await browser.close();
  }
});
