"""An identity provider's key server for the JWKS tests: real RSA, EC P-256 and Ed25519
keys made with `cryptography`, their public halves served as a JWKS document, and tokens
signed with them on request. The test drives it over HTTP:

  GET  /jwks                      the published keys (Cache-Control: max-age=600, or as
                                  /cache sets); 503 while "down"; every request is counted
  GET  /count[?above=N]           {"jwks": requests to /jwks so far}; with `above`, once
                                  there are more than N
  POST /keys   {"kid", "kty"}     make a key (kty RSA, EC or OKP), not yet published; a
                                  kid made again names a new key (published if it was)
  POST /cache  {"max_age"}        the max-age the set is served with from now on
  POST /publish {"kids": [...]}   publish exactly these keys (a rotation retires the rest)
  POST /down   {"down": bool}     the provider fails (503) or recovers
  POST /sign   {"kid", "claims"}  a token signed by that key with its own algorithm
  POST /confuse {"kid", "claims"} an HS256 token whose HMAC secret is that RSA key's
                                  public PEM: the algorithm-confusion attack

usage: python3 jwks_server.py [CERT KEY]; prints {"port": N} once listening on
127.0.0.1. With a certificate and its key, GET /jwks is also served over HTTPS on
another port: {"port": N, "tls_port": M}.
"""

import asyncio
import base64
import ssl
import hashlib
import hmac
import json
import sys

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(value: int, length: int | None = None) -> str:
    length = length or (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(length, "big"))


class Key:
    def __init__(self, kid: str, kty: str):
        self.kid = kid
        self.kty = kty
        if kty == "RSA":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.alg = "RS256"
        elif kty == "EC":
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.alg = "ES256"
        elif kty == "OKP":
            self.private = ed25519.Ed25519PrivateKey.generate()
            self.alg = "EdDSA"
        else:
            raise ValueError(kty)

    def jwk(self) -> dict:
        public = self.private.public_key()
        if self.kty == "RSA":
            numbers = public.public_numbers()
            fields = {"n": uint(numbers.n), "e": uint(numbers.e)}
        elif self.kty == "EC":
            numbers = public.public_numbers()
            fields = {"crv": "P-256", "x": uint(numbers.x, 32), "y": uint(numbers.y, 32)}
        else:
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            fields = {"crv": "Ed25519", "x": b64url(raw)}
        return {"kty": self.kty, "kid": self.kid, "use": "sig", "alg": self.alg, **fields}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> bytes:
        if self.kty == "RSA":
            return self.private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        if self.kty == "EC":
            r, s = decode_dss_signature(self.private.sign(message, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.private.sign(message)


def token(header: dict, claims: dict, sign) -> str:
    signing_input = (
        b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    )
    return signing_input + "." + b64url(sign(signing_input.encode()))


class Provider:
    def __init__(self):
        self.keys: dict[str, Key] = {}
        self.published: list[str] = []
        self.down = False
        self.jwks_requests = 0
        self.requested = asyncio.Condition()
        self.max_age = 600

    async def jwks(self, _request):
        async with self.requested:
            self.jwks_requests += 1
            self.requested.notify_all()
        if self.down:
            return web.Response(status=503, text="down")
        document = {"keys": [self.keys[kid].jwk() for kid in self.published]}
        return web.json_response(
            document, headers={"Cache-Control": f"public, max-age={self.max_age}"}
        )

    async def count(self, request):
        above = int(request.query.get("above", -1))
        async with self.requested:
            await self.requested.wait_for(lambda: self.jwks_requests > above)
        return web.json_response({"jwks": self.jwks_requests})

    async def make_key(self, request):
        body = await request.json()
        self.keys[body["kid"]] = Key(body["kid"], body["kty"])
        return web.json_response({})

    async def publish(self, request):
        self.published = list((await request.json())["kids"])
        return web.json_response({})

    async def set_cache(self, request):
        self.max_age = int((await request.json())["max_age"])
        return web.json_response({})

    async def set_down(self, request):
        self.down = bool((await request.json())["down"])
        return web.json_response({})

    async def sign(self, request):
        body = await request.json()
        key = self.keys[body["kid"]]
        header = {"alg": key.alg, "typ": "JWT", "kid": key.kid}
        header.update(body.get("header", {}))
        return web.json_response({"token": token(header, body["claims"], key.sign)})

    async def confuse(self, request):
        body = await request.json()
        secret = self.keys[body["kid"]].public_pem()
        header = {"alg": "HS256", "typ": "JWT", "kid": body["kid"]}

        def sign(message: bytes) -> bytes:
            return hmac.new(secret, message, hashlib.sha256).digest()

        return web.json_response({"token": token(header, body["claims"], sign)})


async def main():
    provider = Provider()
    app = web.Application()
    app.router.add_get("/jwks", provider.jwks)
    app.router.add_get("/count", provider.count)
    app.router.add_post("/keys", provider.make_key)
    app.router.add_post("/publish", provider.publish)
    app.router.add_post("/cache", provider.set_cache)
    app.router.add_post("/down", provider.set_down)
    app.router.add_post("/sign", provider.sign)
    app.router.add_post("/confuse", provider.confuse)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    started = {"port": site._server.sockets[0].getsockname()[1]}
    if len(sys.argv) == 3:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[1], sys.argv[2])
        tls_app = web.Application()
        tls_app.router.add_get("/jwks", provider.jwks)
        tls_runner = web.AppRunner(tls_app, access_log=None)
        await tls_runner.setup()
        tls_site = web.TCPSite(tls_runner, "127.0.0.1", 0, ssl_context=context)
        await tls_site.start()
        started["tls_port"] = tls_site._server.sockets[0].getsockname()[1]
    print(json.dumps(started), flush=True)
    # Until the test closes stdin (or kills this process).
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


asyncio.run(main())
