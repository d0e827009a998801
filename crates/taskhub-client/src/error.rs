//! [`ClientError`]: why `listen`, `history` or `publish` gave up, and reading a refusal's problem+json.

use std::error::Error;

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// Why a client call failed. Wrapped errors are exposed as [`Error::source`], not repeated
/// in the message: print the whole chain (e.g. anyhow's `{:#}`) to show the cause.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not an `http://` URL.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// `publish`'s data is not valid JSON; nothing was sent.
    #[error("the event data is not valid JSON")]
    InvalidData(#[source] serde_json::Error),
    /// The server refused the request for good; `title` and `detail` come from its
    /// problem+json body when it sent one.
    #[error("the server answered {}", describe(*.status, .title.as_deref(), .detail.as_deref()))]
    Status {
        status: u16,
        title: Option<String>,
        detail: Option<String>,
    },
    /// A 2xx answer to `GET /events/stream` that is not `text/event-stream`: not a TaskHub URL.
    #[error("the server answered with content type {content_type:?}, not an event stream")]
    NotEventStream { content_type: String },
    /// A 2xx answer to `POST /events` or `GET /events` whose body is not the JSON expected.
    #[error("the server's answer is not the JSON expected")]
    InvalidResponse(#[source] serde_json::Error),
    /// A 2xx answer that makes no sense (an event id that is not a number).
    #[error("the server's answer makes no sense: {0}")]
    UnexpectedAnswer(String),
    /// Options that cannot go together; nothing was sent.
    #[error("{0}")]
    InvalidOptions(String),
    /// The request could not be built, sent or read.
    #[error("HTTP request failed")]
    Http(#[from] reqwest::Error),
    /// The caller's writer failed (e.g. stdout closed).
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// `403 Forbidden: token does not cover tasks/42`, from what the server said.
fn describe(status: u16, title: Option<&str>, detail: Option<&str>) -> String {
    let reason = title.or_else(|| {
        StatusCode::from_u16(status)
            .ok()
            .and_then(|code| code.canonical_reason())
    });
    let mut text = status.to_string();
    for (separator, part) in [(" ", reason), (": ", detail)] {
        if let Some(part) = part {
            text.push_str(separator);
            text.push_str(part);
        }
    }
    text
}

/// The error for a refused request, with the problem+json `title` and `detail` if present.
pub(crate) async fn refusal(response: Response) -> ClientError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let problem: Value = serde_json::from_str(&body).unwrap_or_default();
    let field = |name: &str| problem.get(name).and_then(Value::as_str).map(str::to_owned);
    ClientError::Status {
        status,
        title: field("title"),
        detail: field("detail"),
    }
}

/// An error and its causes on one line, for logs: `a: b: c`.
pub(crate) fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_read_like_the_problem() {
        let status = |status, title: Option<&str>, detail: Option<&str>| ClientError::Status {
            status,
            title: title.map(str::to_owned),
            detail: detail.map(str::to_owned),
        };
        assert_eq!(
            status(
                403,
                Some("Forbidden"),
                Some("token does not cover tasks/42")
            )
            .to_string(),
            "the server answered 403 Forbidden: token does not cover tasks/42"
        );
        assert_eq!(
            status(404, None, None).to_string(),
            "the server answered 404 Not Found"
        );
        assert_eq!(
            status(599, None, Some("x")).to_string(),
            "the server answered 599: x"
        );
    }

    #[test]
    fn chain_shows_the_cause() {
        let cause = serde_json::from_str::<Value>("{").expect_err("invalid JSON");
        let text = chain(&ClientError::InvalidData(cause));
        assert!(
            text.starts_with("the event data is not valid JSON: EOF"),
            "{text}"
        );
    }
}
