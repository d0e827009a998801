"""An application's webhook endpoint for the webhook tests: every request is verified with
the Standard Webhooks reference library (`standardwebhooks`), and the test drives it:

  POST /hook            a webhook: verified (401 when the signature does not verify),
                        recorded, then answered with the current status (after the
                        current delay)
  GET  /received        {"verified": [{"id", "timestamp", "signature", "body", "status"}],
                         "rejected": N}: every verified request in arrival order, with
                        the status it was answered
  POST /answer          {"status": S, "delay": SECONDS, "big": BOOL}: how later webhooks
                        are answered (`big`: with a 20,000-byte body)

usage: python3 webhook_receiver.py SECRET [PORT]; prints {"port": N} once listening on
127.0.0.1 (PORT 0 or none: any free port).
"""

import asyncio
import json
import sys

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    secret = sys.argv[1]
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    verifier = Webhook(secret)
    verified: list[dict] = []
    state = {"rejected": 0, "status": 200, "delay": 0.0, "big": False}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            name: request.headers.get(name, "")
            for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
        }
        try:
            verifier.verify(body, headers)
        except WebhookVerificationError as error:
            state["rejected"] += 1
            return web.Response(status=401, text=f"bad signature: {error}")
        status = state["status"]
        verified.append(
            {
                "id": headers["webhook-id"],
                "timestamp": headers["webhook-timestamp"],
                "signature": headers["webhook-signature"],
                "body": body.decode(),
                "content_type": request.headers.get("content-type", ""),
                "status": status,
            }
        )
        if state["delay"]:
            await asyncio.sleep(state["delay"])
        if 300 <= status < 400:
            return web.Response(status=status, headers={"location": "http://127.0.0.1:9/elsewhere"})
        if state["big"]:
            return web.Response(status=status, text="x" * 20_000)
        return web.Response(status=status, text="ok" if status < 300 else "failing on purpose")

    async def received(_request: web.Request) -> web.Response:
        return web.json_response({"verified": verified, "rejected": state["rejected"]})

    async def answer(request: web.Request) -> web.Response:
        asked = await request.json()
        state["status"] = int(asked.get("status", 200))
        state["delay"] = float(asked.get("delay", 0))
        state["big"] = bool(asked.get("big", False))
        return web.json_response(state)

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/hook", hook)
        app.router.add_get("/received", received)
        app.router.add_post("/answer", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]
        print(json.dumps({"port": bound}), flush=True)
        # Until the test closes stdin or kills it.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
