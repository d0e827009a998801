// Twenty EventSources to one origin in real Chromium. Over HTTP/2 (TLS with ALPN) they
// share one connection and all receive events; over HTTP/1.1 the browser's limit of six
// connections per origin leaves the rest waiting, which is what HTTP/2 is there to fix.
//
// usage: node many_streams.mjs BASE_URL all|six
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { check, report, run } from './lib/driver.mjs';

const [base, expect] = process.argv.slice(2);
const STREAMS = 20;

run(async () => {
  const browser = await launch();
  try {
    // The test's certificate is self-signed for 127.0.0.1: trusted for this context only.
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.setDefaultTimeout(PATIENCE_MS);
    await page.goto(base + '/healthz');
    await page.evaluate((n) => {
      window.streams = [];
      for (let i = 0; i < n; i += 1) {
        const stream = { source: new EventSource('/events/stream?types=hello'), open: false, ids: [] };
        stream.source.addEventListener('connected', () => { stream.open = true; });
        stream.source.addEventListener('hello', (event) => stream.ids.push(event.lastEventId));
        window.streams.push(stream);
      }
    }, STREAMS);
    const open = () => page.evaluate(() => window.streams.filter((s) => s.open).length);

    if (expect === 'six') {
      await page.waitForFunction(() => window.streams.filter((s) => s.open).length === 6);
      await page.waitForTimeout(1000);
      check((await open()) === 6, `HTTP/1.1 opened ${await open()} streams, not the 6 expected`);
      report('http/1.1 stops at six');
      return;
    }

    await page.waitForFunction(() => window.streams.every((s) => s.open));
    const protocol = await page.evaluate(async () => {
      const response = await fetch('/events', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ event: 'hello', data: { to: 'everyone' } }),
      });
      if (response.status !== 202) throw new Error(`publish answered ${response.status}`);
      return performance.getEntriesByType('navigation')[0].nextHopProtocol;
    });
    check(protocol === 'h2', `the page spoke ${protocol}, not h2`);
    await page.waitForFunction(() => window.streams.every((s) => s.ids.length === 1));
    report('all streams received the event', { streams: STREAMS, protocol });
  } finally {
    await browser.close();
  }
});
