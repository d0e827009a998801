// A Node listener on the `eventsource` package (the WHATWG EventSource for Node): prints
// each event's envelope as one JSON line. The package reconnects by itself after a
// dropped connection, sending Last-Event-ID.
//
// usage: node node_eventsource.mjs BASE_URL [EVENT_TYPE…]   (default type: tick)
import { EventSource } from 'eventsource';

const [base, ...types] = process.argv.slice(2);
const source = new EventSource(`${base}/events/stream`);
for (const type of types.length ? types : ['tick']) {
  source.addEventListener(type, (event) => {
    const envelope = JSON.parse(event.data);
    if (envelope.id !== event.lastEventId) throw new Error('the id: line and the envelope disagree');
    process.stdout.write(JSON.stringify(envelope) + '\n');
  });
}
process.once('SIGTERM', () => {
  source.close();
  process.exit(0);
});
