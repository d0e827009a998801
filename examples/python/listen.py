"""Listen to TaskHub's event stream with nothing but Python's standard library.

Prints one JSON envelope per event and resumes after a disconnect with Last-Event-ID,
so no event is missed while the server restarts.

    python3 listen.py [BASE_URL] [--types task_updated] [--count N]
"""
import argparse
import json
import time
import urllib.parse
import urllib.request


def listen(base_url, types=None, count=None):
    last_id, retry_ms, seen = None, 3000, 0
    query = "?" + urllib.parse.urlencode({"types": types}) if types else ""
    while True:
        request = urllib.request.Request(base_url.rstrip("/") + "/events/stream" + query)
        if last_id:
            request.add_header("Last-Event-ID", last_id)
        try:
            with urllib.request.urlopen(request) as stream:
                event_id = data = None
                for raw in stream:
                    line = raw.decode("utf-8").rstrip("\r\n")
                    if line.startswith("retry: "):
                        retry_ms = int(line[7:])
                    elif line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif line == "" and data is not None:  # a blank line ends an event
                        if event_id is not None:  # `connected` and `reset` carry no id
                            last_id = event_id
                            print(json.dumps(json.loads(data)), flush=True)
                            seen += 1
                            if count is not None and seen >= count:
                                return
                        event_id = data = None
        except OSError:
            pass  # the server went away: wait, then resume from last_id
        time.sleep(retry_ms / 1000)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url", nargs="?", default="http://127.0.0.1:8000")
    parser.add_argument("--types")
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    listen(args.base_url, args.types, args.count)
