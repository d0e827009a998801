//! Retry-safe writes at the edge: the `Idempotency-Key` request header (IETF httpapi
//! draft "The Idempotency-Key HTTP Header Field"), the fingerprint of the request it
//! names, and the `Idempotent-Replayed` mark on an answer that a retry got from the record.
//!
//! Every write takes a [`RetryKey`]. The engine records the key atomically with the write
//! and answers a retry as the first attempt was answered, so a client that lost an answer
//! (a timeout, a 503 whose outcome was unknown, a dropped connection) retries with the
//! same key and never writes twice. The fingerprint covers the method, the target (path
//! and query) and the body: the same key on any other request is refused with 422.
//! Authorization is checked before the engine is asked, so a caller replays only answers
//! to writes it may make.

use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use sha2::{Digest, Sha256};
use taskhub_core::IdempotencyKey;
use taskhub_core::mercure::UpdateId;
use taskhub_engine::{Applied, Fingerprint, Idempotency};
use utoipa::IntoParams;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Required, path};

use crate::error::ApiError;

/// The request header (lowercase, as `http` spells names).
pub(crate) const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on an answer a retry got from its key's record (Stripe's name; the draft has none).
pub(crate) const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long keys are remembered (`--idempotency-ttl-secs`), as extractors take it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdempotencyTtl(pub(crate) Duration);

/// A write's `Idempotency-Key`, if it sent one, and what identifies the request beside
/// its body. A malformed key is a 400 naming the header.
#[derive(Debug)]
pub(crate) struct RetryKey(Option<Keyed>);

#[derive(Debug)]
struct Keyed {
    key: IdempotencyKey,
    ttl: Duration,
    method: Method,
    /// Path and query, as sent.
    target: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RetryKey
where
    IdempotencyTtl: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(HEADER).iter();
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        let bad = |detail: String| ApiError::BadHeader {
            header: "Idempotency-Key",
            detail,
        };
        if values.next().is_some() {
            return Err(bad("may appear only once".into()));
        }
        let value = value
            .to_str()
            .map_err(|_| bad("may only contain printable ASCII characters".into()))?;
        let key = IdempotencyKey::parse(value).map_err(|e| bad(e.to_string()))?;
        let target = parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), ToString::to_string);
        Ok(Self(Some(Keyed {
            key,
            ttl: IdempotencyTtl::from_ref(state).0,
            method: parts.method.clone(),
            target,
        })))
    }
}

impl RetryKey {
    /// As [`for_body`](Self::for_body), for a JSON body as parsed, written compactly;
    /// written only when the request has a key (a publish without one costs nothing).
    pub(crate) fn for_json(self, body: &serde_json::Value) -> Option<Idempotency> {
        self.0.as_ref()?;
        self.for_body(body.to_string().as_bytes())
    }

    /// What the engine needs to honour the key, for a request whose body is `body` (the
    /// bytes a form carried, or the JSON as parsed and written compactly); `None` when
    /// the request had no key.
    pub(crate) fn for_body(self, body: &[u8]) -> Option<Idempotency> {
        let Keyed {
            key,
            ttl,
            method,
            target,
        } = self.0?;
        let mut digest = Sha256::new();
        // Each part with its length, so no two different requests hash the same bytes.
        for part in [method.as_str().as_bytes(), target.as_bytes(), body] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part);
        }
        Some(Idempotency {
            key,
            fingerprint: Fingerprint::from_digest(&digest.finalize().into()),
            ttl,
        })
    }
}

/// The id of a Mercure update published with `idempotency` and without an id of its
/// own: derived from the request, so a retry names the same update as the first attempt.
pub(crate) fn update_id(idempotency: &Idempotency) -> UpdateId {
    let digest = Sha256::digest(idempotency.fingerprint.as_str().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    UpdateId::uuid_v8(bytes)
}

/// The header as the OpenAPI document lists it on every write.
impl IntoParams for RetryKey {
    fn into_params(_: impl Fn() -> Option<path::ParameterIn>) -> Vec<path::Parameter> {
        // The bare form; the quoted one (`"…"`, spaces allowed inside) is accepted too.
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(IdempotencyKey::MAX_LEN))
            .pattern(Some("^[!#-~][!-~]*$"))
            .examples(["8e03978e-40d5-43e8-bc93-6894a57f9324"]);
        vec![
            path::ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(path::ParameterIn::Header)
                .description(Some(
                    "Makes a retry safe: a request with a key used within \
                     --idempotency-ttl-secs is answered as its first attempt was \
                     (`Idempotent-Replayed: true`) and writes nothing; the same key on a \
                     different request is 422. A structured-field string, or a bare token.",
                ))
                .required(Required::False)
                .schema(Some(schema))
                .build(),
        ]
    }
}

/// `response`, marked `Idempotent-Replayed: true` when it was a retry's.
pub(crate) fn answer<T>(applied: Applied<T>, respond: impl FnOnce(T) -> Response) -> Response {
    let replayed = applied.replayed;
    let mut response = respond(applied.value);
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}
