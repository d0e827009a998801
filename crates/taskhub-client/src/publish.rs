//! `publish`: one `POST /events`, answered with the server's acknowledgement, retried
//! until it is.
//!
//! Every attempt carries the same `Idempotency-Key`, so retrying is safe: a `POST` whose
//! answer was lost (a timeout, a dropped connection, a 503 whose outcome was unknown) may
//! have been stored, and the server answers its retry with the first attempt's id instead
//! of storing the event twice. Refusals for good (4xx but 408 and 429) are not retried.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;
use tokio::time::Instant;

use crate::endpoint::{USER_AGENT, endpoint};
use crate::error::ClientError;
use crate::error::refusal;

/// How long one attempt may take. The server answers 503 within about five seconds when
/// its store does not answer, so this is only reached when the network is lost.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first wait between attempts; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// One event to publish.
#[derive(Clone)]
pub struct PublishOptions {
    /// The server's base URL, with or without a trailing `/`.
    pub base_url: String,
    /// The event type.
    pub event: String,
    /// The event's data as JSON text; checked before anything is sent.
    pub data: String,
    /// The event's topic, if any.
    pub topic: Option<String>,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// The `Idempotency-Key` every attempt carries; a random UUID when `None`. Pass your
    /// own to make a publish safe to repeat across runs (a job's id, say).
    pub idempotency_key: Option<String>,
    /// How long to keep retrying before giving up with the last error.
    pub retry_for: Duration,
}

impl PublishOptions {
    /// How long `taskhub publish` keeps retrying by default.
    pub const DEFAULT_RETRY_FOR: Duration = Duration::from_secs(60);
}

impl fmt::Debug for PublishOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishOptions")
            .field("base_url", &self.base_url)
            .field("event", &self.event)
            .field("data", &self.data)
            .field("topic", &self.topic)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("idempotency_key", &self.idempotency_key)
            .field("retry_for", &self.retry_for)
            .finish()
    }
}

/// Publishes one event and returns the server's answer, e.g. `{"id":"17"}`, retrying
/// (with one idempotency key) while the outcome is unknown or the server is unavailable.
pub async fn publish(options: &PublishOptions) -> Result<Value, ClientError> {
    let data: Value = serde_json::from_str(&options.data).map_err(ClientError::InvalidData)?;
    let url = endpoint(&options.base_url, "events")?;
    let mut body = serde_json::json!({ "event": options.event, "data": data });
    if let Some(topic) = &options.topic {
        body["topic"] = Value::String(topic.clone());
    }
    let body = body.to_string();
    let key = options.idempotency_key.clone().unwrap_or_else(random_key);
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(ATTEMPT_TIMEOUT)
        .build()?;
    let give_up = Instant::now() + options.retry_for;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let mut request = http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("idempotency-key", &key)
            .body(body.clone());
        if let Some(token) = &options.token {
            request = request.bearer_auth(token);
        }
        let (error, retry_after) = match attempt(request).await {
            Attempt::Answered(answer) => return Ok(answer),
            Attempt::Refused(error) => return Err(error),
            Attempt::Unsure { error, retry_after } => (error, retry_after),
        };
        let wait = retry_after.unwrap_or(backoff);
        if Instant::now() + wait > give_up {
            return Err(error);
        }
        tracing::debug!(error = %crate::error::chain(&error), ?wait, "publish not acknowledged; retrying with its key");
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// How one attempt went.
enum Attempt {
    Answered(Value),
    /// Refused for good: retrying cannot help.
    Refused(ClientError),
    /// No answer, or the server is unavailable for now; `Retry-After` if it said.
    Unsure {
        error: ClientError,
        retry_after: Option<Duration>,
    },
}

async fn attempt(request: reqwest::RequestBuilder) -> Attempt {
    let unsure = |error: reqwest::Error| Attempt::Unsure {
        error: error.into(),
        retry_after: None,
    };
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => return unsure(error),
    };
    let status = response.status();
    if status.is_success() {
        return match response.bytes().await {
            Ok(answer) => serde_json::from_slice(&answer).map_or_else(
                |e| Attempt::Refused(ClientError::InvalidResponse(e)),
                Attempt::Answered,
            ),
            // The answer was lost on the way: the event may be stored; the key says.
            Err(error) => unsure(error),
        };
    }
    let temporary = matches!(
        status,
        StatusCode::REQUEST_TIMEOUT
            | StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT
    );
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .map(Duration::from_secs);
    let error = refusal(response).await;
    if temporary {
        Attempt::Unsure { error, retry_after }
    } else {
        Attempt::Refused(error)
    }
}

/// A random UUID (version 4), the usual idempotency key.
fn random_key() -> String {
    let mut bytes = [0u8; 16];
    // The OS's generator does not fail once seeded; were it ever to, the key would be
    // all zeros for this one publish, and a key shared by two publishes makes the second
    // a 422 (a different body) or an answer to the first: never a duplicate.
    let _ = getrandom::fill(&mut bytes);
    bytes[6] = 0x40 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{accept, bind, response, send, within};

    fn options(base_url: String, data: &str) -> PublishOptions {
        PublishOptions {
            base_url,
            event: "deployed".to_owned(),
            data: data.to_owned(),
            topic: Some("deploys/web".to_owned()),
            token: Some("secret".to_owned()),
            idempotency_key: None,
            retry_for: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn posts_the_event_and_returns_the_acknowledgement() {
        let (listener, base_url) = bind().await;
        let server = tokio::spawn(async move {
            let (mut stream, request) = accept(&listener).await;
            let headers = "content-type: application/json\r\n";
            send(
                &mut stream,
                &response("202 Accepted", headers, r#"{"id":"17"}"#),
            )
            .await;
            request
        });
        let answer = publish(&options(base_url, r#"{"version": 3, "ok": true}"#))
            .await
            .expect("published");
        assert_eq!(answer, serde_json::json!({"id": "17"}));

        let request = within("the server's request", server)
            .await
            .expect("server task");
        assert!(
            request.head.starts_with("POST /events HTTP/1.1\r\n"),
            "{}",
            request.head
        );
        assert_eq!(request.header("authorization"), Some("Bearer secret"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        let key = request.header("idempotency-key").expect("a key");
        assert_eq!(key.len(), 36, "a UUID: {key}");
        assert_eq!(&key[14..15], "4", "version 4: {key}");
        assert_eq!(
            request.body,
            r#"{"event":"deployed","data":{"version":3,"ok":true},"topic":"deploys/web"}"#
        );
    }

    #[tokio::test]
    async fn a_refusal_carries_the_problem_title_and_detail() {
        let (listener, base_url) = bind().await;
        tokio::spawn(async move {
            let (mut stream, _) = accept(&listener).await;
            let problem = r#"{"type":"about:blank","title":"Invalid event","status":422,"detail":"`event` must be 1-64 chars of [A-Za-z0-9_.:-]"}"#;
            let headers = "content-type: application/problem+json\r\n";
            send(
                &mut stream,
                &response("422 Unprocessable Entity", headers, problem),
            )
            .await;
        });
        let mut options = options(base_url, "1");
        options.topic = None;
        match publish(&options).await {
            Err(ClientError::Status {
                status: 422,
                title,
                detail,
            }) => {
                assert_eq!(title.as_deref(), Some("Invalid event"));
                assert_eq!(
                    detail.as_deref(),
                    Some("`event` must be 1-64 chars of [A-Za-z0-9_.:-]")
                );
            }
            other => panic!("expected the 422, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unavailable_server_is_retried_with_the_same_key_until_it_answers() {
        let (listener, base_url) = bind().await;
        let server = tokio::spawn(async move {
            let mut keys = Vec::new();
            let problem =
                r#"{"title":"Store unavailable","status":503,"detail":"may have been stored"}"#;
            for _ in 0..2 {
                let (mut stream, request) = accept(&listener).await;
                keys.push(request.header("idempotency-key").map(str::to_owned));
                let headers = "content-type: application/problem+json\r\nretry-after: 0\r\n";
                send(
                    &mut stream,
                    &response("503 Service Unavailable", headers, problem),
                )
                .await;
            }
            // The third attempt meets a server that closes without answering.
            drop(accept(&listener).await);
            let (mut stream, request) = accept(&listener).await;
            keys.push(request.header("idempotency-key").map(str::to_owned));
            let headers = "content-type: application/json\r\nidempotent-replayed: true\r\n";
            send(
                &mut stream,
                &response("202 Accepted", headers, r#"{"id":"5"}"#),
            )
            .await;
            keys
        });
        let mut options = options(base_url, "1");
        options.idempotency_key = Some("deploy-42".to_owned());
        let answer = publish(&options).await.expect("published");
        assert_eq!(answer, serde_json::json!({"id": "5"}));
        let keys = within("the server's requests", server)
            .await
            .expect("server");
        assert_eq!(keys, vec![Some("deploy-42".to_owned()); 3]);
    }

    #[tokio::test]
    async fn it_gives_up_after_retry_for_with_the_last_error() {
        let (listener, base_url) = bind().await;
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = accept(&listener).await;
                let headers = "content-type: application/problem+json\r\nretry-after: 1\r\n";
                let problem = r#"{"title":"Store unavailable","status":503}"#;
                send(
                    &mut stream,
                    &response("503 Service Unavailable", headers, problem),
                )
                .await;
            }
        });
        let mut options = options(base_url, "1");
        options.retry_for = Duration::from_millis(1500);
        let started = std::time::Instant::now();
        match publish(&options).await {
            Err(ClientError::Status { status: 503, .. }) => {}
            other => panic!("expected the 503, got {other:?}"),
        }
        // One wait of Retry-After's second fits in the window, a second would not.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn data_that_is_not_json_is_refused_before_sending() {
        // Nothing listens on port 9 here: reaching the network would be an `Http` error.
        let result = publish(&options("http://127.0.0.1:9".to_owned(), "{not json")).await;
        assert!(
            matches!(result, Err(ClientError::InvalidData(_))),
            "{result:?}"
        );
    }
}
