// Mercure publish/subscribe routing in real Chromium, the way Mercure's own clients and
// conformance checks exercise a hub: one anonymous EventSource per case, opened before
// its update is published with fetch (a URLSearchParams body), and the update must (or
// must not) arrive through onmessage with the publisher's id and data intact, a
// multi-line data with an empty line included. Four cases run at a time: HTTP/1.1 gives
// a page six connections to one origin, and the publishes need one too.
//
// usage: node mercure_dataset.mjs BASE_URL PUBLISHER_TOKEN
import { randomBytes } from 'node:crypto';
import { launch, PATIENCE_MS } from './lib/chromium.mjs';
import { check, report, run } from './lib/driver.mjs';

const [base, token] = process.argv.slice(2);
const random = () => randomBytes(12).toString('hex');
const [a, b, c, d, e] = Array.from({ length: 5 }, random);

// [name, update topics, subscriber's selectors, received?, private?]
const cases = [
  ['raw string', [a], [a], true],
  ['alternate topic', [random(), b], [b], true],
  ['several selectors', [c], ['nothing-here', c], true],
  ['URI', [`https://example.net/foo/${d}`], [`https://example.net/foo/${d}`], true],
  ['URI template', [`https://example.net/foo/${e}`], ['https://example.net/foo/{random}'], true],
  ['nonmatching raw string', ['will-not-match'], ['another-name'], false],
  ['nonmatching URI', ['https://example.net/foo/will-not-match'], ['https://example.net/foo/another'], false],
  ['nonmatching URI template', ['https://example.net/foo/will-not-match'], ['https://example.net/bar/{var}'], false],
  // The same topics (so the same ids) as public cases above, published privately.
  ['private raw string', [a], [a], false, true],
  ['private URI', [`https://example.net/foo/${d}`], [`https://example.net/foo/${d}`], false, true],
  ['private URI template', [`https://example.net/foo/${e}`], ['https://example.net/foo/{random}'], false, true],
];

run(async () => {
  const browser = await launch();
  try {
    const page = await browser.newPage();
    await page.goto(base + '/healthz');
    const results = await page.evaluate(async ([cases, jwt, patience]) => {
      const outcome = async ([name, topics, selectors, , isPrivate]) => {
        const url = new URL('/.well-known/mercure', window.origin);
        selectors.forEach((selector) => url.searchParams.append('topic', selector));
        const update = new URLSearchParams();
        topics.forEach((topic) => update.append('topic', topic));
        update.set('id', `id-${JSON.stringify(topics)}`);
        update.set('data', `data for\n\n  ${name}`);
        if (isPrivate) update.set('private', 'on');
        const source = new EventSource(url);
        const received = new Promise((done) => {
          source.onmessage = (event) => {
            if (event.lastEventId === update.get('id') && event.data === update.get('data')) done(true);
          };
        });
        await new Promise((open) => { source.onopen = open; });
        const response = await fetch('/.well-known/mercure', {
          method: 'POST',
          headers: { Authorization: `Bearer ${jwt}` },
          body: update,
        });
        const answer = { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
        const waited = await Promise.race([received, new Promise((late) => setTimeout(late, patience, false))]);
        source.close();
        return { name, received: waited, ...answer, id: update.get('id') };
      };
      const results = [];
      for (let start = 0; start < cases.length; start += 4) {
        results.push(...(await Promise.all(cases.slice(start, start + 4).map(outcome))));
      }
      return results;
    }, [cases, token, 2000]);

    for (const [index, result] of results.entries()) {
      const expected = cases[index][3];
      check(result.received === expected, `${result.name}: received ${result.received}, expected ${expected}`);
      // Every publish is accepted, the private ones reusing a public one's id included.
      check(result.status === 200, `${result.name}: publish answered ${result.status}`);
      check(/^text\/plain(;|$)/.test(result.type), `${result.name}: content type ${result.type}`);
      check(result.body === result.id, `${result.name}: the answer is the update's id (${result.body})`);
    }
    report('every case routed as expected', { cases: results.length, patience: PATIENCE_MS });
  } finally {
    await browser.close();
  }
});
