"""Schemathesis hooks for the OpenAPI test (crates/taskhub/tests/api/openapi.rs).

Every write takes an `Idempotency-Key`. Schemathesis draws header values from a small
space ("0", "00", ...), so it sends one key with many different bodies, and the server
rightly answers the second such request 422 ("already used for a different request").
That is the documented behaviour, not a rejected valid request: so a request that
schemathesis generated as valid gets a key of its own, as a real client's would be.
Requests generated to be invalid keep what schemathesis drew.

Likewise `POST /webhooks/redeliver` names a target by the URL the server was started
with, which no schema can know: a valid request gets the test server's
(`TASKHUB_TEST_WEBHOOK_URL`), or every one of them would rightly be a 404.
"""

import os
import uuid

import schemathesis

HEADER = "idempotency-key"


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    headers = case.headers or {}
    names = [name for name in headers if name.lower() == HEADER]
    meta = getattr(case, "meta", None)
    negative = meta is not None and meta.generation.mode.is_negative
    if names and not negative:
        for name in names:
            headers[name] = str(uuid.uuid4())
    webhook = os.environ.get("TASKHUB_TEST_WEBHOOK_URL")
    if webhook and not negative and isinstance(case.body, dict) and "url" in case.body:
        case.body["url"] = webhook
    return None
