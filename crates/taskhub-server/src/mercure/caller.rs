//! The hub's two extractors, the one place Mercure credentials are read:
//! [`MercurePublisher`] (a valid publisher token is required) and [`MercureSubscriber`]
//! (a valid subscriber token, or none where the hub takes anonymous subscribers).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{HOST, ORIGIN, REFERER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use super::config::MercureHub;
use super::discovery::PATH;
use super::token::{self, MercureGrants, Source};
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
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let hub = hub(state)?;
        let (token, source) = token::find(&parts.headers, &parts.uri).ok_or_else(|| {
            ApiError::Unauthorized(
                "publishing needs a JWT with a `mercure.publish` claim: in `Authorization: \
                 Bearer`, the `authorization` query parameter or the `mercureAuthorization` \
                 cookie"
                    .into(),
            )
        })?;
        let grants = token::grants(&hub.publisher, &token)
            .await
            .map_err(ApiError::from)?;
        if source == Source::Cookie {
            check_origin(&parts.headers, &hub)?;
        }
        Ok(Self(grants))
    }
}

impl<S> FromRequestParts<S> for MercureSubscriber
where
    Option<Arc<MercureHub>>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let hub = hub(state)?;
        match token::find(&parts.headers, &parts.uri) {
            Some((token, _)) => {
                let verifier = hub.subscriber.as_ref().ok_or_else(|| {
                    ApiError::Unauthorized("this hub takes no subscriber tokens".into())
                })?;
                token::grants(verifier, &token)
                    .await
                    .map(Self)
                    .map_err(ApiError::from)
            }
            None if hub.anonymous => Ok(Self(MercureGrants::default())),
            None => Err(ApiError::Unauthorized(
                "subscribing needs a JWT: in `Authorization: Bearer`, the `authorization` \
                 query parameter or the `mercureAuthorization` cookie"
                    .into(),
            )),
        }
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
