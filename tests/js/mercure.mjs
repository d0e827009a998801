// A Mercure client in real Chromium, on the TaskHub origin: it subscribes with
// EventSource to a URI template, publishes with fetch (form-encoded, bearer token), and
// receives the update through onmessage, with the id the publish answered.
//
// usage: node mercure.mjs BASE_URL PUBLISHER_TOKEN
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { check, report, run } from './lib/driver.mjs';

const [base, token] = process.argv.slice(2);

run(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(base + '/healthz');
    await page.evaluate((hub) => {
      const url = new URL(hub);
      url.searchParams.append('topic', 'https://example.com/books/{id}');
      window.received = [];
      const source = new EventSource(url);
      source.onmessage = (event) => window.received.push({ id: event.lastEventId, data: event.data });
      window.hubSource = source;
    }, base + '/.well-known/mercure');
    await page.waitForFunction(() => window.hubSource.readyState === EventSource.OPEN);
    report('subscribed');

    const published = await page.evaluate(async ([hub, jwt]) => {
      const publish = async (fields) => {
        const response = await fetch(hub, {
          method: 'POST',
          headers: { Authorization: `Bearer ${jwt}` },
          body: new URLSearchParams(fields),
        });
        return { status: response.status, id: await response.text() };
      };
      return [
        await publish([['topic', 'https://example.com/books/1'], ['data', '{"title":"Dune"}']]),
        // Outside the token's selectors: refused, never delivered.
        await publish([['topic', 'https://example.com/authors/1'], ['data', 'no']]),
        await publish([['topic', 'https://example.com/books/2'], ['data', 'line 1\nline 2'], ['id', 'book-2']]),
      ];
    }, [base + '/.well-known/mercure', token]);
    check(published[0].status === 200 && published[0].id.startsWith('urn:uuid:'), `first publish: ${JSON.stringify(published[0])}`);
    check(published[1].status === 403, `a topic the token does not cover is 403: ${published[1].status}`);
    check(published[2].status === 200 && published[2].id === 'book-2', `the publisher's id is kept: ${JSON.stringify(published[2])}`);

    await page.waitForFunction(() => window.received.length >= 2, null, { timeout: PATIENCE_MS });
    const received = await page.evaluate(() => window.received);
    check(received.length === 2, `exactly the two updates: ${JSON.stringify(received)}`);
    check(received[0].id === published[0].id && JSON.parse(received[0].data).title === 'Dune', `the first: ${JSON.stringify(received[0])}`);
    check(received[1].id === 'book-2' && received[1].data === 'line 1\nline 2', `multi-line data: ${JSON.stringify(received[1])}`);
    report('received with onmessage');
  } finally {
    await browser.close();
  }
});
