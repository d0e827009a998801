//! A key set published at a JWKS URL (an OpenID provider's `jwks_uri`): fetched at
//! start, cached, refreshed in the background, and looked up by a token's `kid`. One
//! implementation for every verifier that takes keys from a URL: TaskHub's own API
//! (`--jwt-jwks-url`) and the Mercure hub (`--mercure-jwks-url`); the same URL given
//! twice is fetched once ([`KeySets`]).
//!
//! The rules, each with a reason:
//! - Refreshed when the answer's `Cache-Control: max-age` runs out, held within
//!   [`MIN_REFRESH`]..[`MAX_REFRESH`] ([`DEFAULT_REFRESH`] without one): a provider that
//!   says `max-age=0` must not turn TaskHub into a poller, nor one that says a year keep
//!   a retired key alive that long.
//! - A token naming a `kid` the set lacks makes TaskHub fetch the set again at once (a
//!   provider rotating keys publishes the new one just before signing with it), but at
//!   most once per [`UNKNOWN_KID_REFETCH`]: forged kids cannot make TaskHub hammer the
//!   provider. Fetches are single-flight: requests waiting for one share its outcome.
//! - A failed fetch keeps the keys already cached (the provider being down must not log
//!   everyone out) and is retried with a backoff up to [`MAX_RETRY`].
//! - With no keys ever fetched, a token cannot be checked: [`KeyError::Unavailable`],
//!   which the API answers with 503, never by letting the request through.

pub(crate) mod jwks;

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, Method, StatusCode};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub(crate) use jwks::Jwk;

use crate::metrics::METRICS;
use crate::outbound::{self, OutboundRequest, OutboundUrl, Reach};

/// How long keys are kept when the provider's answer says nothing (`Cache-Control`).
pub(crate) const DEFAULT_REFRESH: Duration = Duration::from_secs(10 * 60);
/// The shortest refresh interval, whatever `max-age` says.
pub(crate) const MIN_REFRESH: Duration = Duration::from_secs(60);
/// The longest refresh interval, whatever `max-age` says.
pub(crate) const MAX_REFRESH: Duration = Duration::from_secs(24 * 3600);
/// At most one fetch per this interval is caused by tokens naming an unknown `kid`.
pub(crate) const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(30);
/// The longest wait between retries of a failing fetch (from one second, doubling).
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(30);
/// A fetch (connect, TLS, answer) must be done within this.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A cached key set. Cheap to clone: the cache is shared.
#[derive(Clone, Debug)]
pub(crate) struct KeySet(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    url: OutboundUrl,
    /// The keys of the last good fetch, replaced whole. A std lock: held only to clone
    /// or swap the `Arc`, never across an await.
    keys: RwLock<Option<Arc<[Jwk]>>>,
    /// Held for the length of a fetch, so there is one at a time; holds when a token's
    /// unknown `kid` last caused one.
    fetching: tokio::sync::Mutex<Option<Instant>>,
}

/// Why no key verifies a token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum KeyError {
    #[error("the signing keys could not be fetched yet: try again shortly")]
    Unavailable,
    #[error("the token's `kid` names no current signing key")]
    UnknownKid,
    #[error("the token has no `kid`, and the key set holds more than one key")]
    NoKid,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Outbound(#[from] outbound::OutboundError),
    #[error("the answer's status is {0}, not 200")]
    Status(StatusCode),
    #[error(transparent)]
    Jwks(#[from] jwks::JwksError),
}

impl KeySet {
    /// The key set at `url`: fetched once now (a server answers its first requests
    /// with keys when the provider is up), then in the background until `stop` is
    /// cancelled or the last clone is dropped.
    pub(crate) async fn start(url: OutboundUrl, stop: CancellationToken) -> Self {
        let shared = Arc::new(Shared {
            url,
            keys: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(None),
        });
        let mut backoff = Backoff::default();
        let first = backoff.after(shared.fetch().await, &shared);
        tokio::spawn(refresh(Arc::downgrade(&shared), stop, first, backoff));
        Self(shared)
    }

    /// The key a token whose header names `kid` must verify with.
    pub(crate) async fn key_for(&self, kid: Option<&str>) -> Result<Jwk, KeyError> {
        let Some(kid) = kid else {
            let keys = self.0.current().ok_or(KeyError::Unavailable)?;
            return match &keys[..] {
                [only] => Ok(only.clone()),
                _ => Err(KeyError::NoKid),
            };
        };
        if let Some(found) = self.0.find(kid)? {
            return Ok(found);
        }
        let mut last_refetch = self.0.fetching.lock().await;
        // Another request may have fetched the set while this one waited.
        if let Some(found) = self.0.find(kid)? {
            return Ok(found);
        }
        if last_refetch.is_some_and(|at| at.elapsed() < UNKNOWN_KID_REFETCH) {
            return Err(KeyError::UnknownKid);
        }
        *last_refetch = Some(Instant::now());
        if let Err(error) = self.0.fetch().await {
            warn!(url = %self.0.url, %error, "cannot refetch the key set for an unknown kid");
        }
        drop(last_refetch);
        self.0.find(kid)?.ok_or(KeyError::UnknownKid)
    }
}

impl Shared {
    fn current(&self) -> Option<Arc<[Jwk]>> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The key named `kid`; `Unavailable` while no set was ever fetched.
    fn find(&self, kid: &str) -> Result<Option<Jwk>, KeyError> {
        let keys = self.current().ok_or(KeyError::Unavailable)?;
        Ok(keys.iter().find(|k| k.kid.as_deref() == Some(kid)).cloned())
    }

    /// Fetches the set and, if it is good, replaces the cached one; returns how long it
    /// may be kept.
    async fn fetch(&self) -> Result<Duration, FetchError> {
        METRICS.jwks_fetches.inc();
        let result = self.fetch_once().await;
        if result.is_err() {
            METRICS.jwks_fetch_failures.inc();
        }
        result
    }

    async fn fetch_once(&self) -> Result<Duration, FetchError> {
        let response = outbound::send(OutboundRequest {
            method: Method::GET,
            url: &self.url,
            json: None,
            timeout: FETCH_TIMEOUT,
            max_body_bytes: jwks::MAX_DOCUMENT_BYTES,
            headers: HeaderMap::new(),
            reach: Reach::Any,
        })
        .await?;
        if response.status != StatusCode::OK {
            return Err(FetchError::Status(response.status));
        }
        let keys = jwks::parse(&response.body)?;
        let count = keys.len();
        *self
            .keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(keys.into());
        let refresh = max_age(&response.headers);
        info!(url = %self.url, keys = count, refresh_secs = refresh.as_secs(), "fetched the key set");
        Ok(refresh)
    }
}

/// The background refresh of one set: after `wait`, then when each answer's `max-age`
/// runs out, and after a failure with a backoff.
async fn refresh(
    shared: Weak<Shared>,
    stop: CancellationToken,
    mut wait: Duration,
    mut backoff: Backoff,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let Some(set) = shared.upgrade() else { return };
        // One fetch at a time: a token's refetch takes the same lock.
        let turn = set.fetching.lock().await;
        let outcome = set.fetch().await;
        drop(turn);
        wait = backoff.after(outcome, &set);
    }
}

/// The wait before the next fetch: from one second, doubling up to [`MAX_RETRY`], while
/// fetches fail; the answer's `max-age` once one succeeds.
#[derive(Debug)]
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_secs(1))
    }
}

impl Backoff {
    fn after(&mut self, outcome: Result<Duration, FetchError>, set: &Shared) -> Duration {
        match outcome {
            Ok(max_age) => {
                *self = Self::default();
                max_age
            }
            Err(error) => {
                let wait = self.0;
                let cached = set.current().is_some();
                warn!(url = %set.url, %error, cached, retry_secs = wait.as_secs(), "cannot fetch the key set");
                self.0 = (wait * 2).min(MAX_RETRY);
                wait
            }
        }
    }
}

/// How long an answer may be kept: its `Cache-Control: max-age`, within the bounds;
/// [`MIN_REFRESH`] for `no-cache`/`no-store`.
fn max_age(headers: &HeaderMap) -> Duration {
    let mut age = None;
    for directive in headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let directive = directive.trim();
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        {
            return MIN_REFRESH;
        }
        if let Some((name, value)) = directive.split_once('=')
            && name.trim().eq_ignore_ascii_case("max-age")
            && let Ok(secs) = value.trim().trim_matches('"').parse::<u64>()
        {
            age = Some(Duration::from_secs(secs));
        }
    }
    age.unwrap_or(DEFAULT_REFRESH)
        .clamp(MIN_REFRESH, MAX_REFRESH)
}

/// The key sets of one server, by URL: a URL configured twice (TaskHub's API and the
/// Mercure hub on one provider) is one cache and one fetch. Used only at start-up.
#[derive(Debug)]
pub(crate) struct KeySets {
    sets: HashMap<OutboundUrl, KeySet>,
    stop: CancellationToken,
}

impl KeySets {
    pub(crate) fn new(stop: CancellationToken) -> Self {
        Self {
            sets: HashMap::new(),
            stop,
        }
    }

    /// The set at `url`, started (and fetched once) on first use.
    pub(crate) async fn get(&mut self, url: &OutboundUrl) -> KeySet {
        if let Some(set) = self.sets.get(url) {
            return set.clone();
        }
        let set = KeySet::start(url.clone(), self.stop.child_token()).await;
        self.sets.insert(url.clone(), set.clone());
        set
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn max_age_is_read_and_bounded() {
        assert_eq!(max_age(&HeaderMap::new()), DEFAULT_REFRESH);
        assert_eq!(
            max_age(&with("public, max-age=3600, must-revalidate")),
            Duration::from_secs(3600)
        );
        assert_eq!(max_age(&with("max-age=0")), MIN_REFRESH);
        assert_eq!(max_age(&with("max-age=31536000")), MAX_REFRESH);
        assert_eq!(max_age(&with("no-store")), MIN_REFRESH);
        assert_eq!(max_age(&with("max-age=junk")), DEFAULT_REFRESH);
    }
}
