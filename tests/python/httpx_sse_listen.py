"""A Python listener on httpx-sse: prints each event's envelope as one JSON line, and
after any drop reconnects with Last-Event-ID, waiting the server's advised `retry:`.

usage: python3 httpx_sse_listen.py BASE_URL
"""

import json
import sys
import time

import httpx
from httpx_sse import SSEError, connect_sse


def listen(base_url: str) -> None:
    last_event_id = None
    retry_seconds = 1.0
    with httpx.Client(timeout=httpx.Timeout(5.0, read=None)) as client:
        while True:
            headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
            try:
                with connect_sse(client, "GET", f"{base_url}/events/stream", headers=headers) as source:
                    source.response.raise_for_status()
                    for event in source.iter_sse():
                        if event.retry is not None:
                            retry_seconds = event.retry / 1000
                        if not event.id:
                            continue  # control events (`connected`, `reset`) carry no id
                        envelope = json.loads(event.data)
                        assert envelope["id"] == event.id and envelope["event"] == event.event
                        print(json.dumps(envelope), flush=True)
                        last_event_id = event.id
            except (httpx.HTTPError, SSEError):
                pass
            time.sleep(retry_seconds)


if __name__ == "__main__":
    listen(sys.argv[1])
