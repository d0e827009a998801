//! `publish`: one `POST /events`, answered with the server's acknowledgement.
//!
//! No retries: a `POST` whose answer was lost may have been recorded, and sending it again
//! would publish the event twice. The caller sees the error and decides.

use std::fmt;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::endpoint::{USER_AGENT, endpoint};
use crate::error::ClientError;
use crate::error::refusal;

/// How long the whole request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

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
}

impl fmt::Debug for PublishOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishOptions")
            .field("base_url", &self.base_url)
            .field("event", &self.event)
            .field("data", &self.data)
            .field("topic", &self.topic)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Publishes one event and returns the server's answer, e.g. `{"id":"17"}`.
pub async fn publish(options: &PublishOptions) -> Result<Value, ClientError> {
    let data: Value = serde_json::from_str(&options.data).map_err(ClientError::InvalidData)?;
    let url = endpoint(&options.base_url, "events")?;
    let mut body = serde_json::json!({ "event": options.event, "data": data });
    if let Some(topic) = &options.topic {
        body["topic"] = Value::String(topic.clone());
    }
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .timeout(TIMEOUT)
        .build()?;
    let mut request = http
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(token) = &options.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    if !response.status().is_success() {
        return Err(refusal(response).await);
    }
    let answer = response.bytes().await?;
    serde_json::from_slice(&answer).map_err(ClientError::InvalidResponse)
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
    async fn data_that_is_not_json_is_refused_before_sending() {
        // Nothing listens on port 9 here: reaching the network would be an `Http` error.
        let result = publish(&options("http://127.0.0.1:9".to_owned(), "{not json")).await;
        assert!(
            matches!(result, Err(ClientError::InvalidData(_))),
            "{result:?}"
        );
    }
}
