"""Schemathesis hooks for the OpenAPI test (crates/taskhub/tests/api/openapi.rs).

Every write takes an `Idempotency-Key`. Schemathesis draws header values from a small
space ("0", "00", ...), so it sends one key with many different bodies, and the server
rightly answers the second such request 422 ("already used for a different request").
That is the documented behaviour, not a rejected valid request: so a request that
schemathesis generated as valid gets a key of its own, as a real client's would be.
Requests generated to be invalid keep what schemathesis drew.
"""

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
    return None
