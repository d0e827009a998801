// The board through the auth hook: the browser logs in to the application (its session
// cookie, no JWT) on the same site, behind nginx, then opens the board at `/`, which
// goes live on that cookie alone: fetch and EventSource send it, TaskHub asks the hook.
//
// usage: node board_session.mjs SITE_URL
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { check, report, run } from './lib/driver.mjs';

const [site] = process.argv.slice(2);

run(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(PATIENCE_MS);
    // The application's login sets its cookie and redirects to the board.
    await page.goto(site + '/app/login?user=alice');
    check(new URL(page.url()).pathname === '/', 'redirected to the board');
    const cookies = await page.context().cookies();
    check(cookies.some((c) => c.name === 'sessionid' && c.httpOnly), 'the session cookie is set');
    check(!cookies.some((c) => c.name === 'taskhub_token'), 'no token anywhere');
    await page.locator('#connection[data-state="live"]').waitFor();
    check(await page.locator('#sign-in').isHidden(), 'no sign-in form');
    report('live on the session cookie');

    await page.fill('#new-title', 'Through the hook');
    await page.getByRole('button', { name: 'Add task' }).click();
    await page.locator('li.task', { hasText: 'Through the hook' }).waitFor();
    report('a task written and seen live');
  } finally {
    await browser.close();
  }
});
