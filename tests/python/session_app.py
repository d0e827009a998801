"""A web application with its own login (session cookies, no JWT) that answers
TaskHub's auth hook, for the hook tests:

  GET  /login?user=NAME     the same from a browser, then a redirect to the site's `/`
  POST /login {"user"}      sets the `sessionid` cookie (alice may read everything and
                            publish news/* and tasks; carol may read and publish the Mercure
                            topics under https://example.com/books/; bob may only read
                            public events; mallory is banned: the hook answers 403)
  POST /auth                the hook: TaskHub's question in, the session's grants out
                            (`ttl_secs` as set by /mode), 401 for an unknown session
  POST /mode {"mode", "ttl_secs"}  how the hook behaves: "ok", "down" (500), "slow"
                            (answers after 5 s), "redirect" (307 to a hook that says
                            yes), "huge" (an answer over TaskHub's limit), "hold" (holds
                            every question until /release)
  POST /release {"mode"}    answers the held questions as `mode` says (then the mode)
  GET  /stats               {"calls": hook calls so far, "questions": every question}
  GET  /ok                  what /redirect points at: always yes, never to be reached

usage: python3 session_app.py; prints {"port": N} once listening on 127.0.0.1.
"""

import asyncio
import json
import secrets
import sys

from aiohttp import web

GRANTS = {
    "alice": {"subscribe": ["*"], "publish": ["news/*", "tasks/*"]},
    "bob": {"subscribe": [], "publish": []},
    "carol": {
        "subscribe": ["https://example.com/books/*"],
        "publish": ["https://example.com/books/*"],
    },
}


class App:
    def __init__(self):
        self.sessions: dict[str, str] = {}
        self.mode = "ok"
        self.ttl_secs = 600
        self.questions: list[dict] = []
        self.released = asyncio.Event()

    async def login(self, request):
        user = (await request.json())["user"]
        session = secrets.token_urlsafe(16)
        self.sessions[session] = user
        response = web.json_response({"user": user})
        response.set_cookie("sessionid", session, httponly=True, samesite="Lax")
        return response

    async def browser_login(self, request):
        session = secrets.token_urlsafe(16)
        self.sessions[session] = request.query["user"]
        # The site's root: the board TaskHub serves behind the same nginx.
        response = web.HTTPFound("/")
        response.set_cookie("sessionid", session, path="/", httponly=True, samesite="Lax")
        raise response

    async def auth(self, request):
        question = await request.json()
        self.questions.append(question)
        if self.mode == "hold":
            await self.released.wait()
        if self.mode == "down":
            return web.Response(status=500, text="the app is broken")
        if self.mode == "slow":
            await asyncio.sleep(5)
        if self.mode == "redirect":
            raise web.HTTPTemporaryRedirect("/ok")
        if self.mode == "huge":
            return web.json_response({"subject": "x" * 100_000, "ttl_secs": 60})
        session = question.get("credentials", {}).get("cookie:sessionid")
        user = self.sessions.get(session)
        if user is None:
            return web.json_response({"detail": "no such session"}, status=401)
        if user not in GRANTS:
            return web.json_response({"detail": f"{user} is banned"}, status=403)
        return web.json_response({"subject": user, "ttl_secs": self.ttl_secs, **GRANTS[user]})

    async def ok(self, _request):
        return web.json_response({"subject": "anyone", "subscribe": ["*"], "publish": ["*"], "ttl_secs": 600})

    async def set_mode(self, request):
        body = await request.json()
        self.mode = body["mode"]
        self.ttl_secs = body.get("ttl_secs", self.ttl_secs)
        if self.mode == "hold":
            self.released = asyncio.Event()
        return web.json_response({})

    async def release(self, request):
        self.mode = (await request.json())["mode"]
        self.released.set()
        return web.json_response({})

    async def stats(self, _request):
        return web.json_response({"calls": len(self.questions), "questions": self.questions})


async def main():
    app_state = App()
    app = web.Application()
    app.router.add_post("/login", app_state.login)
    app.router.add_get("/login", app_state.browser_login)
    app.router.add_post("/auth", app_state.auth)
    app.router.add_post("/ok", app_state.ok)
    app.router.add_post("/mode", app_state.set_mode)
    app.router.add_post("/release", app_state.release)
    app.router.add_get("/stats", app_state.stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


asyncio.run(main())
