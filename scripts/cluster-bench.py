#!/usr/bin/env python3
"""Aggregate deliveries per second of a TaskHub cluster (docs/cluster.md).

Opens --subscribers SSE streams spread evenly over the nodes, then publishes batches to a
random node each time, as fast as the nodes acknowledge, for --seconds. Counts every
event every subscriber receives (the `id:` lines) and prints the aggregate deliveries per
second over the publishing window, then checks that every subscriber received every
acknowledged event. Standard library only.

    scripts/cluster-bench.py http://127.0.0.1:28001 http://127.0.0.1:28002 http://127.0.0.1:28003
"""

import argparse
import asyncio
import json
import random
import time
from urllib.parse import urlsplit


async def open_stream(url):
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        f"GET /events/stream HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"stream refused: {head[:80]!r}")
    return reader, writer


async def subscriber(reader, counts, index, stop):
    tail = b""
    while not stop.is_set():
        chunk = await reader.read(1 << 16)
        if not chunk:
            return
        data = tail + chunk
        counts[index] += data.count(b"\nid: ")
        tail = data[-4:]


async def publisher(nodes, batch, payload, stop, acked, rng):
    conns = {}
    while not stop.is_set():
        url = rng.choice(nodes)
        if url not in conns:
            parts = urlsplit(url)
            conns[url] = await asyncio.open_connection(parts.hostname, parts.port)
        reader, writer = conns[url]
        body = json.dumps(
            [{"event": "bench", "data": {"pad": payload}} for _ in range(batch)]
        ).encode()
        writer.write(
            b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        if head.startswith(b"HTTP/1.1 202"):
            acked[0] += batch


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nodes", nargs="+")
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--publishers", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--bytes", type=int, default=100, help="padding per event")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    streams = []
    for i in range(args.subscribers):
        streams.append(await open_stream(args.nodes[i % len(args.nodes)]))
    counts = [0] * len(streams)
    stop_reading, stop_publishing = asyncio.Event(), asyncio.Event()
    readers = [
        asyncio.create_task(subscriber(r, counts, i, stop_reading))
        for i, (r, _) in enumerate(streams)
    ]
    await asyncio.sleep(1)
    acked = [0]
    rng = random.Random(1)
    payload = "x" * args.bytes
    started, delivered_before = time.monotonic(), sum(counts)
    publishers = [
        asyncio.create_task(
            publisher(args.nodes, args.batch, payload, stop_publishing, acked, rng)
        )
        for _ in range(args.publishers)
    ]
    await asyncio.sleep(args.seconds)
    stop_publishing.set()
    await asyncio.gather(*publishers)
    window = time.monotonic() - started
    delivered_in_window = sum(counts) - delivered_before
    # Let the subscribers catch up, then check everyone got everything.
    deadline = time.monotonic() + 60
    while min(counts) < acked[0] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    drained = time.monotonic() - started
    stop_reading.set()
    for _, writer in streams:
        writer.close()
    for task in readers:
        task.cancel()
    print(
        json.dumps(
            {
                "nodes": len(args.nodes),
                "subscribers": args.subscribers,
                "events_acknowledged": acked[0],
                "publish_window_s": round(window, 2),
                "events_per_s": round(acked[0] / window),
                "deliveries_in_window_per_s": round(delivered_in_window / window),
                "deliveries_until_drained_per_s": round(sum(counts) / drained),
                "every_subscriber_got_every_event": min(counts) == acked[0] == max(counts),
                "min_received": min(counts),
                "max_received": max(counts),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
