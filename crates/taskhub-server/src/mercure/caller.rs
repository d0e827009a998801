//! The hub's two extractors, the one place Mercure credentials are read:
//! [`MercurePublisher`] (a valid publisher token is required) and [`MercureSubscriber`]
//! (a valid subscriber token, or none where the hub takes anonymous subscribers).
//!
//! Without a valid Mercure token, a request carrying the credentials the auth hook is
//! given (`--auth-hook-forward`: the application's session cookie) is let in by the hook,
//! through the same code, cache and single flight as TaskHub's own API
//! ([`TaskhubTokens::ask_hook`]); its answer's selectors become the Mercure grants
//! (`MercureGrants::from_hook`). The hook's 401/403 are passed on, a hook that is down
//! is a 503; a request with neither a token nor a forwarded credential is answered as
//! before (anonymous where the hub allows it, else 401).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{HOST, ORIGIN, REFERER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use super::config::MercureHub;
use super::discovery::PATH;
use super::token::{self, MercureGrants, Source};
use crate::auth::{HookError, TaskhubTokens};
use crate::client_addr::TrustedProxies;
use crate::error::ApiError;

/// A publish's caller: what its token grants.
#[derive(Debug)]
pub(crate) struct MercurePublisher(pub(crate) MercureGrants);

/// A subscriber: what its token grants (nothing beyond public updates when anonymous).
#[derive(Debug)]
pub(crate) struct MercureSubscriber(pub(crate) MercureGrants);

/// The hub, or the 404 of a server whose hub is off.
fn hub<S>(state: &S) -> Result<Arc<MercureHub>, ApiError>
where
    Option<Arc<MercureHub>>: FromRef<S>,
{
    Option::<Arc<MercureHub>>::from_ref(state).ok_or_else(|| ApiError::NoRoute(PATH.into()))
}

impl<S> FromRequestParts<S> for MercurePublisher
where
    Option<Arc<MercureHub>>: FromRef<S>,
    TaskhubTokens: FromRef<S>,
    TrustedProxies: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    /// A valid token wins; without one, the auth hook (if any) decides.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let hub = hub(state)?;
        let refused = match token::find(&parts.headers, &parts.uri) {
            Some((token, source)) => match token::grants(&hub.publisher, &token).await {
                Ok(grants) => {
                    if source == Source::Cookie {
                        check_origin(&parts.headers, &hub)?;
                    }
                    return Ok(Self(grants));
                }
                Err(error) => Some(ApiError::from(error)),
            },
            None => None,
        };
        // A forwarded cookie is CSRF-prone as the hub's own is: checked before the
        // application is asked about it.
        if TaskhubTokens::from_ref(state).hook_forwards_cookie(parts) {
            check_origin(&parts.headers, &hub)?;
        }
        match ask_hook(parts, state, refused).await? {
            Some(grants) => Ok(Self(grants)),
            None => Err(ApiError::Unauthorized(
                "publishing needs a JWT with a `mercure.publish` claim: in `Authorization: \
                 Bearer`, the `authorization` query parameter or the `mercureAuthorization` \
                 cookie"
                    .into(),
            )),
        }
    }
}

impl<S> FromRequestParts<S> for MercureSubscriber
where
    Option<Arc<MercureHub>>: FromRef<S>,
    TaskhubTokens: FromRef<S>,
    TrustedProxies: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    /// A valid token wins; without one, the auth hook (if any) decides; with neither,
    /// anonymous where the hub allows it.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let hub = hub(state)?;
        let refused = match token::find(&parts.headers, &parts.uri) {
            Some((token, _)) => match &hub.subscriber {
                Some(verifier) => match token::grants(verifier, &token).await {
                    Ok(grants) => return Ok(Self(grants)),
                    Err(error) => Some(ApiError::from(error)),
                },
                None => Some(ApiError::Unauthorized(
                    "this hub takes no subscriber tokens".into(),
                )),
            },
            None => None,
        };
        match ask_hook(parts, state, refused).await? {
            Some(grants) => Ok(Self(grants)),
            None if hub.anonymous => Ok(Self(MercureGrants::default())),
            None => Err(ApiError::Unauthorized(
                "subscribing needs a JWT: in `Authorization: Bearer`, the `authorization` \
                 query parameter or the `mercureAuthorization` cookie"
                    .into(),
            )),
        }
    }
}

/// Without a valid token: the auth hook's grants for the forwarded credentials, on the
/// hub's topics. `Ok(None)` when there is no hook, or nothing to forward, and no token
/// was refused; a refused token's error when there was one and nothing to forward.
async fn ask_hook<S>(
    parts: &mut Parts,
    state: &S,
    refused: Option<ApiError>,
) -> Result<Option<MercureGrants>, ApiError>
where
    TaskhubTokens: FromRef<S>,
    TrustedProxies: FromRef<S>,
    S: Send + Sync,
{
    let answer = TaskhubTokens::from_ref(state).ask_hook(parts, state).await;
    match (answer, refused) {
        (Some(Ok(grants)), _) => Ok(Some(MercureGrants::from_hook(grants))),
        (None | Some(Err(HookError::NoCredentials(_))), None) => Ok(None),
        // A bad token and nothing for the hook: the token's error says more.
        (None | Some(Err(HookError::NoCredentials(_))), Some(error)) => Err(error),
        (Some(Err(error)), _) => Err(error.into()),
    }
}

/// A browser attaches the cookie to a form posted from any site, so a publish the cookie
/// authenticates must come from a page of this hub's own origin or of `--cors-origins`
/// (its `Origin`, or its `Referer` when a browser sends no `Origin`).
fn check_origin(headers: &HeaderMap, hub: &MercureHub) -> Result<(), ApiError> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let origin = header(ORIGIN).map(str::to_owned).or_else(|| {
        let referer = header(REFERER)?;
        let (scheme, rest) = referer.split_once("://")?;
        let host = rest.split(['/', '?', '#']).next()?;
        Some(format!("{scheme}://{host}"))
    });
    let scheme = if hub.https { "https" } else { "http" };
    let own = header(HOST).map(|host| format!("{scheme}://{host}"));
    match origin {
        Some(origin) if Some(&origin) == own.as_ref() => Ok(()),
        Some(origin) if hub.cors_origins.allows(&origin) => Ok(()),
        Some(origin) => Err(ApiError::Forbidden(format!(
            "a publish authenticated by cookie must come from this hub's origin or one of \
             --cors-origins, not {origin:?}"
        ))),
        None => Err(ApiError::Forbidden(
            "a publish authenticated by cookie must say where it comes from (Origin)".into(),
        )),
    }
}
