//! Reading a request body: within `--max-body-bytes` and `--body-timeout-secs`, answered
//! with problem+json otherwise; and [`JsonBody`], a body parsed as JSON.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::header::CONTENT_LENGTH;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::error::ApiError;

/// How a request body is read: at most `max_bytes` (`--max-body-bytes`), within
/// `timeout` (`--body-timeout-secs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BodyLimits {
    pub(crate) max_bytes: usize,
    pub(crate) timeout: Duration,
}

/// How much of a body over the limit is read and thrown away before the 413 goes out.
///
/// A server that closes a connection while the client's bytes are still arriving makes
/// the kernel answer them with a reset, and a reset can destroy the 413 before the client
/// reads it. Draining lets the answer arrive; past this much, the client is hostile or
/// broken and gets the close.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

/// The whole body of `request`, within `limits`.
pub(crate) async fn read(request: Request, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let BodyLimits {
        max_bytes: limit,
        timeout,
    } = limits;
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut body = request.into_body();
    let too_large = ApiError::BodyTooLarge { limit };
    if declared.is_some_and(|len| len > limit as u64) {
        let _ = tokio::time::timeout(timeout, drain(&mut body)).await;
        return Err(too_large);
    }
    let read = async {
        let mut bytes = BytesMut::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ApiError::UnreadableBody(e.to_string()))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            if bytes.len() + data.len() > limit {
                drain(&mut body).await;
                return Err(too_large);
            }
            bytes.extend_from_slice(&data);
        }
        Ok(bytes.freeze())
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ApiError::BodyTimeout(timeout))?
}

/// Reads and discards the rest of `body`, up to [`DRAIN_LIMIT`] bytes.
async fn drain(body: &mut Body) {
    let mut drained = 0u64;
    while drained <= DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => {
                drained += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            Some(Err(_)) | None => return,
        }
    }
}

/// A request body parsed as JSON. Any content type is accepted, since `curl -d` sends
/// `application/x-www-form-urlencoded`.
#[derive(Debug)]
pub(crate) struct JsonBody(pub(crate) Value);

impl<S> FromRequest<S> for JsonBody
where
    BodyLimits: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read(request, BodyLimits::from_ref(state)).await?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::MalformedJson(e.to_string()))
    }
}
