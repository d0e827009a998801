//! `listen`: follow `GET /events/stream`, write each event's envelope as one line, and resume
//! with `Last-Event-ID` after every drop, so nothing is lost or printed twice.

use std::fmt;
use std::io::Write;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use tokio_util::sync::CancellationToken;

use crate::endpoint::{DEFAULT_BASE_URL, USER_AGENT, stream_url};
use crate::error::ClientError;
use crate::error::{chain, refusal};
use crate::reconnect::{DEFAULT_RETRY, is_transient, reconnect_delay};
use crate::sse::{Classifier, Incoming};

/// How long to wait for a connection to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A stream silent this long is taken for dead and reopened: four of the server's default
/// 15 s keepalive intervals. A half-open connection would otherwise hang forever.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What to subscribe to. The filter lists are passed through as given; the server checks them.
#[derive(Clone)]
pub struct ListenOptions {
    /// The server's base URL, with or without a trailing `/`.
    pub base_url: String,
    /// `types=`: a comma list of event types, an item ending in `*` is a prefix.
    pub types: Option<String>,
    /// `topics=`: a comma list of topics, same `*` rule.
    pub topics: Option<String>,
    /// Sent as `Authorization: Bearer <token>`, never in the URL.
    pub token: Option<String>,
    /// Resume after this id on the first connection.
    pub last_event_id: Option<String>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            types: None,
            topics: None,
            token: None,
            last_event_id: None,
        }
    }
}

impl fmt::Debug for ListenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenOptions")
            .field("base_url", &self.base_url)
            .field("types", &self.types)
            .field("topics", &self.topics)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("last_event_id", &self.last_event_id)
            .finish()
    }
}

/// Follows the stream until `cancel` is cancelled, then returns `Ok(())`.
///
/// Writes one line per event to `out` and flushes it: the event's envelope JSON, or for
/// `reset` and `gap` a `{"event":…,"data":…}` line. Reconnects after the server's last
/// `retry:` (3 s before it sent one) when the stream ends or breaks or the server cannot be
/// reached, and after `Retry-After` on a 429/5xx. Any other refusal, an invalid URL or a
/// failing writer ends it with an error.
pub async fn listen<W: Write>(
    options: &ListenOptions,
    out: &mut W,
    cancel: &CancellationToken,
) -> Result<(), ClientError> {
    let url = stream_url(
        &options.base_url,
        options.types.as_deref(),
        options.topics.as_deref(),
    )?;
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(IDLE_TIMEOUT)
        .build()?;
    let mut session = Session {
        http,
        url,
        token: options.token.as_deref(),
        last_id: options.last_event_id.clone(),
        retry: DEFAULT_RETRY,
        out,
    };
    loop {
        let delay = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            delay = session.connect() => delay?,
        };
        tracing::debug!(delay_ms = delay.as_millis(), last_event_id = ?session.last_id, "reconnecting");
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// The state that outlives one connection.
struct Session<'a, W> {
    http: reqwest::Client,
    url: Url,
    token: Option<&'a str>,
    /// The id of the last event written, sent as `Last-Event-ID` on the next connection.
    last_id: Option<String>,
    /// The server's last `retry:` value.
    retry: Duration,
    out: &'a mut W,
}

impl<W: Write> Session<'_, W> {
    /// One connection, from request to end of stream. `Ok` is the wait before the next one.
    async fn connect(&mut self) -> Result<Duration, ClientError> {
        let mut request = self
            .http
            .get(self.url.clone())
            .header(ACCEPT, "text/event-stream");
        if let Some(token) = self.token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = &self.last_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = match request.send().await {
            Ok(response) => response,
            // A token or id that cannot be a header value: retrying will not fix it.
            Err(error) if error.is_builder() => return Err(error.into()),
            Err(error) => {
                tracing::warn!(error = chain(&error), "cannot reach the server");
                return Ok(self.retry);
            }
        };
        let status = response.status();
        if !status.is_success() {
            if !is_transient(status) {
                return Err(refusal(response).await);
            }
            let retry_after = response.headers().get(RETRY_AFTER);
            let delay = reconnect_delay(self.retry, retry_after.and_then(|v| v.to_str().ok()));
            tracing::warn!(%status, delay_ms = delay.as_millis(), "the server asked to retry later");
            return Ok(delay);
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        if !content_type
            .to_ascii_lowercase()
            .starts_with("text/event-stream")
        {
            return Err(ClientError::NotEventStream { content_type });
        }
        tracing::debug!(url = %self.url, "connected");

        let mut events = response.bytes_stream().eventsource();
        let mut classifier = Classifier::default();
        while let Some(event) = events.next().await {
            let event = match event {
                Ok(event) => event,
                Err(error) => {
                    tracing::warn!(error = chain(&error), "the stream broke");
                    return Ok(self.retry);
                }
            };
            if let Some(retry) = event.retry {
                self.retry = retry;
            }
            self.handle(classifier.classify(event))?;
        }
        tracing::info!("the server ended the stream");
        Ok(self.retry)
    }

    fn handle(&mut self, incoming: Incoming) -> Result<(), ClientError> {
        match incoming {
            Incoming::Event { id, envelope } => {
                self.write_line(&envelope)?;
                self.last_id = Some(id);
            }
            Incoming::Notice(line) => self.write_line(&line)?,
            Incoming::Ignored { event } => tracing::debug!(event, "control event"),
        }
        Ok(())
    }

    fn write_line(&mut self, line: &str) -> Result<(), ClientError> {
        writeln!(self.out, "{line}")?;
        self.out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
