//! The webhook settings as flags give them ([`WebhookConfig`]), and as delivery uses them
//! once checked ([`WebhookSettings`]): every URL, the secret and the selectors are parsed
//! at start, so a bad flag stops the server with a one-line reason.

use std::time::Duration;

use taskhub_core::{EventType, Filter, Selector};

use super::secret::{ParseSecretError, WebhookSecret};
use crate::outbound::{OutboundUrl, OutboundUrlError};

/// The defaults of the webhook flags.
pub mod defaults {
    use std::time::Duration;

    /// How long a failing event is retried before it is parked.
    pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
    /// How long one attempt (connect, send, answer) may take.
    pub const TIMEOUT: Duration = Duration::from_secs(10);
}

/// Longest `--webhook-timeout-secs`: a target slower than this is better told to answer
/// first and work after.
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

/// Largest answer body a webhook target may send (it is read only to be dropped, and
/// quoted in `last_error` when it is not 2xx); a longer one fails the attempt.
pub(crate) const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// The webhook flags, as given.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// `--webhook-url`, each a target.
    pub urls: Vec<String>,
    /// `--webhook-secret`: `whsec_` and base64.
    pub secret: Option<String>,
    /// `--webhook-events`: comma-separated type selectors; none delivers nothing.
    pub events: Option<String>,
    pub max_age: Duration,
    pub timeout: Duration,
    /// Let targets resolve to private, loopback or link-local addresses.
    pub allow_private: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            secret: None,
            events: None,
            max_age: defaults::MAX_AGE,
            timeout: defaults::TIMEOUT,
            allow_private: false,
        }
    }
}

/// Why the webhook flags were refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookConfigError {
    #[error("--webhook-url {0}")]
    Url(#[from] OutboundUrlError),
    #[error("--webhook-url {0:?} is given twice")]
    Duplicate(String),
    #[error("--webhook-url needs --webhook-secret (a Standard Webhooks secret, whsec_…)")]
    NoSecret,
    #[error("--webhook-secret and --webhook-events need at least one --webhook-url")]
    NoUrl,
    #[error("{0}")]
    Secret(#[from] ParseSecretError),
    #[error(
        "--webhook-events item {item:?} is not an event type selector (a type such as \
         task_updated, or a prefix such as presence.* or *)"
    )]
    Selector { item: String },
    #[error("--webhook-events has more than {} selectors", Filter::MAX_SELECTORS)]
    TooManySelectors,
    #[error("--{flag} must be at least 1 second")]
    TooShort { flag: &'static str },
    #[error("--{flag} must be at most {} seconds", most.as_secs())]
    TooLong { flag: &'static str, most: Duration },
}

/// One target: its URL as given (the ledger's key, and what `GET /webhooks` shows) and
/// parsed.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) text: String,
    pub(crate) url: OutboundUrl,
}

/// The checked settings delivery runs on.
#[derive(Debug)]
pub(crate) struct WebhookSettings {
    pub(crate) targets: Vec<Target>,
    pub(crate) secret: WebhookSecret,
    /// Which event types are delivered; empty delivers none.
    pub(crate) selectors: Vec<Selector>,
    pub(crate) max_age: Duration,
    pub(crate) timeout: Duration,
    pub(crate) allow_private: bool,
}

impl WebhookSettings {
    pub(crate) fn selects(&self, event_type: &EventType) -> bool {
        self.selectors
            .iter()
            .any(|selector| selector.matches(event_type.as_str()))
    }
}

impl WebhookConfig {
    /// Checks the flags; `None` when no URL is given (webhooks off).
    pub(crate) fn build(&self) -> Result<Option<WebhookSettings>, WebhookConfigError> {
        if self.urls.is_empty() {
            if self.secret.is_some() || self.events.is_some() {
                return Err(WebhookConfigError::NoUrl);
            }
            return Ok(None);
        }
        let mut targets: Vec<Target> = Vec::with_capacity(self.urls.len());
        for text in &self.urls {
            if targets.iter().any(|t| t.text == *text) {
                return Err(WebhookConfigError::Duplicate(text.clone()));
            }
            targets.push(Target {
                url: OutboundUrl::parse_any(text)?,
                text: text.clone(),
            });
        }
        let secret =
            WebhookSecret::parse(self.secret.as_deref().ok_or(WebhookConfigError::NoSecret)?)?;
        let selectors = match self.events.as_deref().filter(|e| !e.is_empty()) {
            None => Vec::new(),
            Some(list) => parse_selectors(list)?,
        };
        for (flag, value) in [
            ("webhook-max-age", self.max_age),
            ("webhook-timeout-secs", self.timeout),
        ] {
            if value < Duration::from_secs(1) {
                return Err(WebhookConfigError::TooShort { flag });
            }
        }
        if self.timeout > MAX_TIMEOUT {
            return Err(WebhookConfigError::TooLong {
                flag: "webhook-timeout-secs",
                most: MAX_TIMEOUT,
            });
        }
        Ok(Some(WebhookSettings {
            targets,
            secret,
            selectors,
            max_age: self.max_age,
            timeout: self.timeout,
            allow_private: self.allow_private,
        }))
    }
}

/// Type selectors as streams' `types=` takes them: exact types, or prefixes ending in `*`.
fn parse_selectors(list: &str) -> Result<Vec<Selector>, WebhookConfigError> {
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    if items.len() > Filter::MAX_SELECTORS {
        return Err(WebhookConfigError::TooManySelectors);
    }
    items
        .into_iter()
        .map(|item| {
            Selector::event_type(item).map_err(|_| WebhookConfigError::Selector {
                item: item.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn config(urls: &[&str], events: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            urls: urls.iter().map(|u| (*u).to_owned()).collect(),
            secret: Some(SECRET.to_owned()),
            events: events.map(str::to_owned),
            ..WebhookConfig::default()
        }
    }

    #[test]
    fn selectors_pick_types_exactly_or_by_prefix() {
        let settings = config(&["http://example.com/in"], Some("presence.*,task_updated"))
            .build()
            .expect("valid")
            .expect("on");
        let ty = |t: &str| EventType::parse(t).expect("type");
        assert!(settings.selects(&ty("presence.join")));
        assert!(settings.selects(&ty("task_updated")));
        assert!(!settings.selects(&ty("task_created")));
        let none = config(&["http://example.com/in"], None)
            .build()
            .expect("valid")
            .expect("on");
        assert!(!none.selects(&ty("task_updated")));
    }

    #[test]
    fn each_bad_flag_is_named() {
        let refused = |c: WebhookConfig| c.build().expect_err("refused").to_string();
        assert!(refused(config(&["ftp://x/"], None)).starts_with("--webhook-url"));
        assert!(refused(config(&["http://x/", "http://x/"], None)).contains("twice"));
        assert!(refused(config(&["http://x/"], Some("a,,b"))).contains("--webhook-events"));
        assert!(refused(config(&["http://x/"], Some("bad type"))).contains("\"bad type\""));
        let mut no_secret = config(&["http://x/"], None);
        no_secret.secret = None;
        assert!(refused(no_secret).contains("needs --webhook-secret"));
        assert!(refused(config(&[], Some("a"))).contains("at least one --webhook-url"));
        let mut short = config(&["http://x/"], None);
        short.max_age = Duration::from_millis(10);
        assert!(refused(short).contains("--webhook-max-age"));
        let mut long = config(&["http://x/"], None);
        long.timeout = Duration::from_secs(301);
        assert!(refused(long).contains("at most 300 seconds"));
        assert!(WebhookConfig::default().build().expect("off").is_none());
    }
}
