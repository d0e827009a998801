//! Entry points for the fuzz targets in `fuzz/`, compiled only with the `fuzzing`
//! feature: the parsers that face untrusted bytes, each returning whether it accepted.

use std::future::Future;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use serde_json::Value;
use taskhub_core::mercure::UpdateId;
use taskhub_engine::NewEvent;

use crate::api::{events, tasks};
use crate::auth::{JwtConfig, Verifier, grants, jwks};
use crate::config::defaults::MAX_EVENT_BYTES;

/// `POST /events`: the events a body would publish, if it is accepted.
pub fn publish_body(body: &[u8]) -> Option<Vec<NewEvent>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    events::parse_publish_body(&value, MAX_EVENT_BYTES)
        .ok()
        .map(|(events, _)| events)
}

/// `POST /tasks` and `PATCH /tasks/{id}` bodies.
pub fn task_bodies(body: &[u8]) -> (bool, bool) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return (false, false);
    };
    (
        tasks::parse_new_task(&value).is_ok(),
        tasks::parse_task_patch(&value).is_ok(),
    )
}

/// The secret the JWT target's verifier uses.
pub const JWT_SECRET: &str = "fuzzing-secret-of-at-least-32-bytes";

/// A token as `Authorization: Bearer` would carry it: whether it verifies.
pub fn jwt(token: &str) -> bool {
    static VERIFIER: LazyLock<Option<Verifier>> = LazyLock::new(|| {
        let config = JwtConfig {
            secret: Some(JWT_SECRET.into()),
            ..JwtConfig::default()
        };
        config.fixed_verifier().ok().flatten()
    });
    let Some(verifier) = VERIFIER.as_ref() else {
        return false;
    };
    // A fixed key's check never waits (only a key set's refetch does): one poll ends it.
    let check = std::pin::pin!(grants(verifier, "taskhub", token));
    let mut context = Context::from_waker(Waker::noop());
    matches!(check.poll(&mut context), Poll::Ready(Ok(_)))
}

/// The most keys [`jwks`] accepts in one document.
pub const JWKS_MAX_KEYS: usize = jwks::MAX_KEYS;

/// A JWKS document, as a key-set fetch would read it: how many usable keys it holds,
/// or `None` when it is refused. Never a panic, whatever the bytes.
pub fn jwks(document: &[u8]) -> Option<usize> {
    jwks::parse(document).ok().map(|keys| keys.len())
}

/// A Mercure publish body: the event it would store, if it is accepted.
pub fn mercure_publish(body: &[u8]) -> Option<NewEvent> {
    crate::mercure::publish::Update::parse(body, || UpdateId::uuid_v8([0; 16]))
        .ok()?
        .into_event(MAX_EVENT_BYTES)
        .ok()
}
