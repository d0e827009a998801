//! The servers the benchmark can drive, and how to speak to each: where to subscribe,
//! and the publish request that carries a batch of tokens.
//!
//! | kind | subscribe | publish |
//! |---|---|---|
//! | `taskhub` | `GET /events/stream` | `POST /events`, one event or a JSON array (≤ 1000) |
//! | `nchan` | `GET /sub/<ch>` + `Accept: text/event-stream` | `POST /pub?channel=<ch>` + `X-EventSource-Event` |
//! | `pushpin` | `GET /sub/<ch>` | `POST :5561/publish/` `{"items":[…http-stream…]}` (several items per call) |
//! | `seed` | `GET /events/stream` | `PUT /tasks/status/<id>?new_status=<token>` |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::BenchError;
use crate::http;
use crate::token::Token;
use crate::url::HttpUrl;

/// The SSE event type (and nchan/pushpin channel) the benchmark publishes on.
pub const EVENT: &str = "bench";

/// Which server protocol to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Taskhub,
    Nchan,
    Pushpin,
    Seed,
}

impl Kind {
    pub const ALL: [Self; 4] = [Self::Taskhub, Self::Nchan, Self::Pushpin, Self::Seed];

    pub fn name(self) -> &'static str {
        match self {
            Self::Taskhub => "taskhub",
            Self::Nchan => "nchan",
            Self::Pushpin => "pushpin",
            Self::Seed => "seed",
        }
    }

    /// Most events one publish request can carry.
    pub fn max_batch(self) -> usize {
        match self {
            Self::Taskhub | Self::Pushpin => 1000,
            Self::Nchan | Self::Seed => 1,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s || (s == "seed-fastapi" && *k == Self::Seed))
            .ok_or_else(|| {
                BenchError::Config(format!(
                    "unknown server {s:?} (taskhub, nchan, pushpin, seed)"
                ))
            })
    }
}

/// One server to measure: its protocol and its two URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub kind: Kind,
    /// The SSE stream URL.
    pub subscribe: String,
    /// The publish URL (for `seed`, the prefix the task id is appended to).
    pub publish: String,
    /// TaskHub: the topic each event is published on (`None`: no topic).
    #[serde(default)]
    pub topic: Option<String>,
}

/// TaskHub's presence during a run (`--presence`): its subscribers filter on one topic
/// that every event is published on, and are present on it (`on`) or not (`off`, the
/// same filtering with `presence=false`), so the two are an A/B of presence alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PresenceMode {
    On,
    Off,
}

impl Target {
    /// The usual URLs of a server of `kind` listening on `port` (pushpin publishes on
    /// its control port 5561).
    pub fn local(kind: Kind, port: u16) -> Self {
        let base = format!("http://127.0.0.1:{port}");
        let (subscribe, publish) = match kind {
            Kind::Taskhub => (format!("{base}/events/stream"), format!("{base}/events")),
            Kind::Nchan => (
                format!("{base}/sub/{EVENT}"),
                format!("{base}/pub?channel={EVENT}"),
            ),
            Kind::Pushpin => (
                format!("{base}/sub/{EVENT}"),
                "http://127.0.0.1:5561/publish/".to_owned(),
            ),
            Kind::Seed => (
                format!("{base}/events/stream"),
                format!("{base}/tasks/status/"),
            ),
        };
        Self {
            kind,
            subscribe,
            publish,
            topic: None,
        }
    }

    /// A TaskHub target whose subscribers filter on the events' one topic, present on it
    /// or not; other servers have no presence and are left as they are.
    pub fn with_presence(mut self, mode: Option<PresenceMode>) -> Self {
        let Some(mode) = mode else {
            return self;
        };
        if self.kind == Kind::Taskhub {
            let separator = if self.subscribe.contains('?') {
                '&'
            } else {
                '?'
            };
            self.subscribe.push(separator);
            self.subscribe.push_str(&format!("topics={EVENT}"));
            if mode == PresenceMode::Off {
                self.subscribe.push_str("&presence=false");
            }
            self.topic = Some(EVENT.to_owned());
        }
        self
    }

    pub fn subscribe_url(&self) -> Result<HttpUrl, BenchError> {
        HttpUrl::parse(&self.subscribe)
    }

    pub fn publish_url(&self) -> Result<HttpUrl, BenchError> {
        HttpUrl::parse(&self.publish)
    }

    /// The `GET` that opens one stream (every server gets the browser's headers).
    pub fn subscribe_request(&self) -> Result<Vec<u8>, BenchError> {
        Ok(http::request(
            "GET",
            &self.subscribe_url()?,
            "Accept: text/event-stream\r\nCache-Control: no-cache\r\n",
            b"",
        ))
    }

    /// The request publishing `tokens` (at most [`Kind::max_batch`] of them), each
    /// event's data padded with `pad`.
    pub fn publish_request(&self, tokens: &[Token], pad: &str) -> Result<Vec<u8>, BenchError> {
        let url = self.publish_url()?;
        let data = |t: &Token| {
            if pad.is_empty() {
                serde_json::json!({ "k": t.to_string() })
            } else {
                serde_json::json!({ "k": t.to_string(), "pad": pad })
            }
        };
        const JSON: &str = "Content-Type: application/json\r\n";
        Ok(match self.kind {
            Kind::Taskhub => {
                let events: Vec<_> = tokens
                    .iter()
                    .map(|t| match &self.topic {
                        Some(topic) => {
                            serde_json::json!({ "event": EVENT, "data": data(t), "topic": topic })
                        }
                        None => serde_json::json!({ "event": EVENT, "data": data(t) }),
                    })
                    .collect();
                let body = match events.as_slice() {
                    [one] => one.to_string(),
                    _ => serde_json::Value::from(events).to_string(),
                };
                http::request("POST", &url, JSON, body.as_bytes())
            }
            Kind::Nchan => {
                let body = tokens
                    .first()
                    .map(|t| data(t).to_string())
                    .unwrap_or_default();
                let headers = format!("{JSON}X-EventSource-Event: {EVENT}\r\n");
                http::request("POST", &url, &headers, body.as_bytes())
            }
            Kind::Pushpin => {
                let items: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        let content = format!(
                            "event: {EVENT}\nid: {}-{}\ndata: {}\n\n",
                            t.publisher,
                            t.seq,
                            data(t)
                        );
                        serde_json::json!({
                            "channel": EVENT,
                            "formats": { "http-stream": { "content": content } },
                        })
                    })
                    .collect();
                let body = serde_json::json!({ "items": items }).to_string();
                http::request("POST", &url, JSON, body.as_bytes())
            }
            Kind::Seed => {
                // The seed takes no body: the token travels as the new status, the
                // padding in the task id (both are URL-safe).
                let token = tokens.first().map(ToString::to_string).unwrap_or_default();
                let target = format!("{}{EVENT}{pad}?new_status={token}", url.target);
                http::request("PUT", &url.with_target(target), "", b"")
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(n: u64) -> Vec<Token> {
        (0..n)
            .map(|seq| Token {
                publisher: 1,
                seq,
                sent_micros: 9,
            })
            .collect()
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).expect("utf-8")
    }

    #[test]
    fn builds_each_servers_publish_call() {
        let req = |kind, n| {
            text(
                Target::local(kind, 9)
                    .publish_request(&tokens(n), "")
                    .expect("ok"),
            )
        };
        let taskhub = req(Kind::Taskhub, 1);
        assert!(
            taskhub.starts_with("POST /events HTTP/1.1\r\n"),
            "{taskhub}"
        );
        assert!(taskhub.ends_with(r#"{"event":"bench","data":{"k":"~1~0~9~"}}"#));
        assert!(req(Kind::Taskhub, 2).ends_with(r#"{"k":"~1~1~9~"}}]"#));
        let nchan = req(Kind::Nchan, 1);
        assert!(nchan.starts_with("POST /pub?channel=bench HTTP/1.1\r\n"));
        assert!(nchan.contains("X-EventSource-Event: bench\r\n"));
        let pushpin = req(Kind::Pushpin, 2);
        assert!(pushpin.starts_with("POST /publish/ HTTP/1.1\r\nHost: 127.0.0.1:5561\r\n"));
        assert!(
            pushpin.contains(r#""content":"event: bench\nid: 1-1\ndata: {\"k\":\"~1~1~9~\"}\n\n""#)
        );
        let seed = req(Kind::Seed, 1);
        assert!(
            seed.starts_with("PUT /tasks/status/bench?new_status=~1~0~9~ HTTP/1.1\r\n"),
            "{seed}"
        );
    }

    #[test]
    fn presence_filters_taskhub_streams_on_the_events_topic() {
        let on = Target::local(Kind::Taskhub, 9).with_presence(Some(PresenceMode::On));
        assert_eq!(
            on.subscribe,
            "http://127.0.0.1:9/events/stream?topics=bench"
        );
        let publish = text(on.publish_request(&tokens(1), "").expect("ok"));
        assert!(publish.ends_with(r#""topic":"bench"}"#), "{publish}");
        let off = Target::local(Kind::Taskhub, 9).with_presence(Some(PresenceMode::Off));
        assert!(off.subscribe.ends_with("?topics=bench&presence=false"));
        let nchan = Target::local(Kind::Nchan, 9);
        assert_eq!(nchan.clone().with_presence(Some(PresenceMode::On)), nchan);
    }

    #[test]
    fn parses_kind_names() {
        assert_eq!("seed-fastapi".parse::<Kind>().expect("ok"), Kind::Seed);
        assert!("apache".parse::<Kind>().is_err());
    }
}
