//! Reading a JSON request body: enforces `--max-body-bytes` and answers problem+json.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, Request};
use serde_json::Value;

use super::AppState;
use super::problem::ApiError;

/// A request body parsed as JSON, no larger than `--max-body-bytes`. Any content type
/// is accepted, since `curl -d` sends `application/x-www-form-urlencoded`.
#[derive(Debug)]
pub(crate) struct JsonBody(pub(crate) Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_body_bytes;
        let too_large = ApiError::BodyTooLarge { limit };
        let declared = request
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(too_large);
        }
        let body: Body = request.into_body();
        let timeout = state.config.body_timeout;
        let read = tokio::time::timeout(timeout, to_bytes(body, limit));
        let bytes = read
            .await
            .map_err(|_| ApiError::BodyTimeout(timeout))?
            .map_err(|e| {
                let over_limit = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                if over_limit {
                    too_large
                } else {
                    ApiError::MalformedJson(format!("the body could not be read: {e}"))
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::MalformedJson(e.to_string()))
    }
}
