//! The auth hook (`--auth-hook-url`): for a request with no valid token, TaskHub asks the
//! application who its credentials (a session cookie, an API key: only those named by
//! `--auth-hook-forward`) belong to and what they may do. The application answers
//! `{"subject", "subscribe": [...], "publish": [...], "ttl_secs"}`, or 401/403, which
//! the client gets as problem+json.
//!
//! - The question is a small JSON POST: method, path, the requested `topics`/`types`,
//!   the client's address and the forwarded credentials. The answer must not depend on
//!   anything but the credentials: it is cached per credential for its `ttl_secs`
//!   (at most [`MAX_TTL`]) in a bounded cache ([`MAX_CACHED`] answers); the grants are
//!   checked against each request by TaskHub, as a token's are.
//! - Single-flight: requests with the same uncached credentials arriving together make
//!   one call and share its outcome, a refusal or failure included ([`Flights`]); at
//!   most [`MAX_IN_FLIGHT`] credentials are asked about at once, beyond which a request
//!   gets 503 rather than load the application further.
//! - Fail-closed: a hook that does not answer within `--auth-hook-timeout-ms`, answers
//!   another status, a redirect (never followed), more than [`MAX_ANSWER_BYTES`], or
//!   something that is not an answer, makes the request fail with 503.
//! - A request carrying none of the forwarded credentials never reaches the hook: it is
//!   401 at once, so anonymous traffic cannot load the application.
//! - Refusals are not cached: a user who just logged in has a new session cookie anyway,
//!   and an old one must not stay refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use taskhub_core::Selector;

use super::grants::TaskhubGrants;
use super::single_flight::{Flights, Full};
use super::token;
use crate::metrics::METRICS;
use crate::outbound::{self, OutboundError, OutboundRequest, OutboundUrl, OutboundUrlError, Reach};

/// The longest an answer is trusted, whatever its `ttl_secs`.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(3600);
/// Most answers cached; beyond it the expired ones go, then arbitrary ones.
pub(crate) const MAX_CACHED: usize = 10_000;
/// Most distinct credentials asked about at once.
pub(crate) const MAX_IN_FLIGHT: usize = 1024;
/// Largest answer read from the hook.
pub(crate) const MAX_ANSWER_BYTES: usize = 16 * 1024;
/// Most credentials `--auth-hook-forward` may name.
const MAX_FORWARDED: usize = 8;
/// Longest value of one forwarded credential: a longer one is not sent (nor cached).
const MAX_CREDENTIAL_BYTES: usize = 4096;

/// The hook's settings, from `--auth-hook-url`, `--auth-hook-forward` and
/// `--auth-hook-timeout-ms`.
#[derive(Clone, Debug)]
pub struct AuthHookConfig {
    pub url: String,
    /// What to forward: `cookie:NAME` or `header:NAME`.
    pub forward: Vec<String>,
    pub timeout: Duration,
}

/// Why the hook's settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthHookConfigError {
    #[error("--auth-hook-url: {0}")]
    Url(#[from] OutboundUrlError),
    #[error("--auth-hook-forward must name at least one credential (cookie:NAME or header:NAME)")]
    NothingForwarded,
    #[error("--auth-hook-forward names at most {MAX_FORWARDED} credentials")]
    TooManyForwarded,
    #[error("--auth-hook-forward: {0:?} is neither cookie:NAME nor header:NAME")]
    BadCredential(String),
    #[error(
        "--auth-hook-forward: {0:?} carries TaskHub's own tokens (forward one cookie by \
         name, cookie:NAME); the hook is asked only when there is no valid token"
    )]
    OwnCredential(String),
    #[error("--auth-hook-timeout-ms must be from 1 to 60000")]
    Timeout,
}

/// A credential the hook gets.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Credential {
    Cookie(String),
    Header(HeaderName),
}

impl Credential {
    fn parse(text: &str) -> Result<Self, AuthHookConfigError> {
        let bad = || AuthHookConfigError::BadCredential(text.to_owned());
        let (kind, name) = text.split_once(':').ok_or_else(bad)?;
        let name = name.trim();
        let credential = match kind.trim() {
            "cookie"
                if !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'=' && b != b';') =>
            {
                Self::Cookie(name.to_owned())
            }
            "header" => Self::Header(HeaderName::try_from(name).map_err(|_| bad())?),
            _ => return Err(bad()),
        };
        let own = match &credential {
            Self::Cookie(name) => name == "taskhub_token",
            // The whole `Cookie` header would carry every cookie, TaskHub's token among
            // them: name the one cookie instead.
            Self::Header(name) => {
                name == axum::http::header::AUTHORIZATION || name == axum::http::header::COOKIE
            }
        };
        if own {
            return Err(AuthHookConfigError::OwnCredential(text.to_owned()));
        }
        Ok(credential)
    }

    /// How the hook's question names it.
    fn label(&self) -> String {
        match self {
            Self::Cookie(name) => format!("cookie:{name}"),
            Self::Header(name) => format!("header:{name}"),
        }
    }

    fn value(&self, parts: &Parts) -> Option<String> {
        let value = match self {
            Self::Cookie(name) => token::cookie(&parts.headers, name),
            Self::Header(name) => parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
        }?;
        (value.len() <= MAX_CREDENTIAL_BYTES).then_some(value)
    }
}

/// The hook at run time: its settings and its cache.
#[derive(Debug)]
pub(crate) struct AuthHook {
    url: OutboundUrl,
    forward: Vec<Credential>,
    timeout: Duration,
    /// Answers by credential digest. A std mutex: held for a lookup or an insert,
    /// never across the hook's call.
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    /// The calls in flight, by the same digest: one per credential at a time.
    flights: Flights<[u8; 32], Result<TaskhubGrants, HookError>>,
}

#[derive(Clone, Debug)]
struct Cached {
    grants: TaskhubGrants,
    /// When the answer stops being trusted (its `ttl_secs`, at most [`MAX_TTL`]).
    until: Instant,
}

/// Why the hook did not let a request in. Cloned for the requests sharing one call.
#[derive(Clone, Debug, thiserror::Error)]
pub(crate) enum HookError {
    #[error(
        "credentials are required: a JWT in `Authorization: Bearer`, the `taskhub_token` \
         cookie or the `access_token` query parameter, or {0}"
    )]
    NoCredentials(String),
    #[error("the application refused these credentials{0}")]
    Unauthorized(String),
    #[error("the application forbids this{0}")]
    Forbidden(String),
    #[error("the auth hook is unavailable ({0}); try again shortly")]
    Unavailable(String),
}

/// What the hook is asked.
#[derive(Serialize)]
struct Question<'a> {
    method: &'a str,
    path: &'a str,
    topics: Option<&'a str>,
    types: Option<&'a str>,
    client_addr: String,
    credentials: HashMap<String, String>,
}

/// The hook's yes; other members are ignored.
#[derive(Deserialize)]
struct Answer {
    /// Who the credentials belong to: the debug log, and presence's subject.
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    subscribe: Vec<String>,
    #[serde(default)]
    publish: Vec<String>,
    ttl_secs: u64,
}

/// A refusal's optional explanation (`{"detail": "..."}`), passed on.
#[derive(Deserialize)]
struct Refusal {
    detail: String,
}

impl AuthHookConfig {
    pub(crate) fn build(&self) -> Result<AuthHook, AuthHookConfigError> {
        let url = OutboundUrl::parse(&self.url)?;
        if self.forward.is_empty() {
            return Err(AuthHookConfigError::NothingForwarded);
        }
        if self.forward.len() > MAX_FORWARDED {
            return Err(AuthHookConfigError::TooManyForwarded);
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(60) {
            return Err(AuthHookConfigError::Timeout);
        }
        let forward = self
            .forward
            .iter()
            .map(|text| Credential::parse(text))
            .collect::<Result<_, _>>()?;
        Ok(AuthHook {
            url,
            forward,
            timeout: self.timeout,
            cache: Mutex::new(HashMap::new()),
            flights: Flights::new(MAX_IN_FLIGHT),
        })
    }
}

impl AuthHook {
    /// The grants of this request's forwarded credentials: cached, or the hook's answer.
    pub(crate) async fn grants(
        &self,
        parts: &Parts,
        client: IpAddr,
    ) -> Result<TaskhubGrants, HookError> {
        let credentials: Vec<(String, String)> = self
            .forward
            .iter()
            .filter_map(|c| c.value(parts).map(|value| (c.label(), value)))
            .collect();
        if credentials.is_empty() {
            let names: Vec<String> = self.forward.iter().map(Credential::label).collect();
            return Err(HookError::NoCredentials(names.join(", ")));
        }
        let key = digest(&credentials);
        if let Some(cached) = self.cached(&key) {
            METRICS.auth_hook_cache_hits.inc();
            return Ok(cached);
        }
        let call = move || async move {
            // A flight that ended between the look-up above and this one's start
            // left its answer here.
            if let Some(cached) = self.cached(&key) {
                METRICS.auth_hook_cache_hits.inc();
                return Ok(cached);
            }
            let (grants, until) = self.ask(parts, client, credentials).await?;
            self.remember(key, grants.clone(), until);
            Ok(grants)
        };
        let joined = || METRICS.auth_hook_waits.inc();
        self.flights
            .run(key, call, joined)
            .await
            .unwrap_or_else(|Full| {
                METRICS.auth_hook_failures.inc();
                Err(HookError::Unavailable(format!(
                    "{MAX_IN_FLIGHT} other credentials are being asked about"
                )))
            })
    }

    /// Whether this request carries a forwarded cookie: a browser sends cookies with
    /// requests other sites make it send, so some requests need an allowed `Origin`.
    pub(crate) fn forwards_cookie(&self, parts: &Parts) -> bool {
        self.forward
            .iter()
            .any(|c| matches!(c, Credential::Cookie(_)) && c.value(parts).is_some())
    }

    fn cached(&self, key: &[u8; 32]) -> Option<TaskhubGrants> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = cache.get(key)?;
        (entry.until > Instant::now()).then(|| entry.grants.clone())
    }

    fn remember(&self, key: [u8; 32], grants: TaskhubGrants, until: Instant) {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= MAX_CACHED && !cache.contains_key(&key) {
            let now = Instant::now();
            cache.retain(|_, entry| entry.until > now);
            if cache.len() >= MAX_CACHED
                && let Some(victim) = cache.keys().next().copied()
            {
                cache.remove(&victim);
            }
        }
        cache.insert(key, Cached { grants, until });
    }

    /// Calls the hook.
    async fn ask(
        &self,
        parts: &Parts,
        client: IpAddr,
        credentials: Vec<(String, String)>,
    ) -> Result<(TaskhubGrants, Instant), HookError> {
        METRICS.auth_hook_calls.inc();
        let query = |name| token::query(&parts.uri, name);
        let (topics, types) = (query("topics"), query("types"));
        let question = Question {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            topics: topics.as_deref(),
            types: types.as_deref(),
            client_addr: client.to_string(),
            credentials: credentials.into_iter().collect(),
        };
        let failed = |why: String| {
            METRICS.auth_hook_failures.inc();
            tracing::warn!(hook = %self.url, error = %why, "the auth hook failed");
            HookError::Unavailable(why)
        };
        let json = serde_json::to_vec(&question).map_err(|e| failed(e.to_string()))?;
        let response = outbound::send(OutboundRequest {
            method: Method::POST,
            url: &self.url,
            json: Some(json),
            timeout: self.timeout,
            max_body_bytes: MAX_ANSWER_BYTES,
            headers: HeaderMap::new(),
            reach: Reach::Any,
        })
        .await
        .map_err(|e| match e {
            OutboundError::Timeout(_) => failed("it did not answer in time".into()),
            other => failed(other.to_string()),
        })?;
        let detail = || {
            serde_json::from_slice::<Refusal>(&response.body)
                .ok()
                .map(|r| format!(": {}", r.detail.chars().take(200).collect::<String>()))
                .unwrap_or_default()
        };
        match response.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => {
                METRICS.auth_hook_refusals.inc();
                return Err(HookError::Unauthorized(detail()));
            }
            StatusCode::FORBIDDEN => {
                METRICS.auth_hook_refusals.inc();
                return Err(HookError::Forbidden(detail()));
            }
            other => return Err(failed(format!("it answered {other}"))),
        }
        let answer: Answer = serde_json::from_slice(&response.body)
            .map_err(|e| failed(format!("its answer is not one: {e}")))?;
        let selectors = |items: Vec<String>| {
            items
                .into_iter()
                .map(|item| {
                    Selector::topic(&item)
                        .map_err(|_| failed(format!("its answer has a bad selector {item:?}")))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let ttl = Duration::from_secs(answer.ttl_secs).min(MAX_TTL);
        if ttl.is_zero() {
            return Err(failed("its answer's ttl_secs is 0".into()));
        }
        tracing::debug!(
            subject = answer.subject.as_deref(),
            ttl_secs = ttl.as_secs(),
            "the auth hook let credentials in"
        );
        let grants = TaskhubGrants {
            subscribe: selectors(answer.subscribe)?,
            publish: selectors(answer.publish)?,
            expires_at: SystemTime::now().checked_add(ttl),
            subject: answer.subject,
        };
        Ok((grants, Instant::now() + ttl))
    }
}

/// The cache key: a digest of the exact credentials forwarded (names and values), so one
/// user's answer is never another's, and no credential is kept in memory in the clear.
fn digest(credentials: &[(String, String)]) -> [u8; 32] {
    let mut hash = Sha256::new();
    for (label, value) in credentials {
        for part in [label.as_bytes(), value.as_bytes()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
    }
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(forward: &[&str]) -> AuthHookConfig {
        AuthHookConfig {
            url: "http://127.0.0.1:9/auth".into(),
            forward: forward.iter().map(|s| (*s).to_owned()).collect(),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn forwarded_credentials_are_parsed_and_taskhubs_own_refused() {
        assert!(
            config(&["cookie:sessionid", "header:x-api-key"])
                .build()
                .is_ok()
        );
        for bad in ["sessionid", "query:x", "cookie:", "header:bad header"] {
            assert!(
                matches!(
                    config(&[bad]).build(),
                    Err(AuthHookConfigError::BadCredential(_))
                ),
                "{bad}"
            );
        }
        for own in [
            "cookie:taskhub_token",
            "header:Authorization",
            "header:cookie",
        ] {
            assert!(
                matches!(
                    config(&[own]).build(),
                    Err(AuthHookConfigError::OwnCredential(_))
                ),
                "{own}"
            );
        }
        assert!(matches!(
            config(&[]).build(),
            Err(AuthHookConfigError::NothingForwarded)
        ));
        let mut slow = config(&["cookie:s"]);
        slow.timeout = Duration::ZERO;
        assert!(matches!(slow.build(), Err(AuthHookConfigError::Timeout)));
        let mut remote = config(&["cookie:s"]);
        remote.url = "http://app.example.com/auth".into();
        assert!(matches!(remote.build(), Err(AuthHookConfigError::Url(_))));
    }

    #[test]
    fn the_cache_key_separates_names_and_values() {
        let a = digest(&[("cookie:s".into(), "ab".into())]);
        let b = digest(&[("cookie:sa".into(), "b".into())]);
        let c = digest(&[("cookie:s".into(), "ab".into())]);
        assert_ne!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn the_cache_is_bounded() {
        let hook = config(&["cookie:s"]).build().expect("hook");
        let until = Instant::now() + Duration::from_secs(60);
        for i in 0..=MAX_CACHED as u64 {
            let key = digest(&[("cookie:s".into(), i.to_string())]);
            hook.remember(key, TaskhubGrants::default(), until);
        }
        assert_eq!(hook.cache.lock().expect("cache").len(), MAX_CACHED);
    }
}
