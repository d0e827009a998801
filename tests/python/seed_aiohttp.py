"""The seed guide's aiohttp client, verbatim except for the URL (an argument) and the
print, which writes each parsed event as one JSON line for the test to read.

usage: python3 seed_aiohttp.py BASE_URL
"""

import aiohttp
import asyncio
import json
import sys

BASE_URL = sys.argv[1]


async def listen_to_events():
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{BASE_URL}/events/stream") as response:
            async for line in response.content:
                if line:
                    decoded = line.decode('utf-8').strip()
                    if decoded.startswith('data: '):
                        data = json.loads(decoded[6:])
                        print(json.dumps(data), flush=True)

asyncio.run(listen_to_events())
