//! The caller of one request to TaskHub's own API, once authenticated (the
//! [`TaskhubCaller`] extractor), and the checks made against it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use serde::Deserialize;
use taskhub_core::{EventFrame, Filter, Selector, TaskId, Topic};

use super::jwt::{TokenError, Verifier};
use super::token;
use crate::error::ApiError;

/// How TaskHub's tokens are checked: `None` when no key is configured (authentication
/// off). The one place a request's credentials become a [`TaskhubCaller`].
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskhubTokens(Option<Arc<Verifier>>);

impl TaskhubTokens {
    pub(crate) fn new(verifier: Option<Verifier>) -> Self {
        Self(verifier.map(Arc::new))
    }

    /// Whether requests need a token.
    pub(crate) fn required(&self) -> bool {
        self.0.is_some()
    }
}

/// What a valid TaskHub token grants (its `taskhub` claim).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskhubGrants {
    pub(crate) subscribe: Vec<Selector>,
    pub(crate) publish: Vec<Selector>,
    /// When the token stops being valid.
    pub(crate) expires_at: Option<SystemTime>,
}

/// The claims of a TaskHub token that TaskHub reads; others are ignored.
#[derive(Deserialize)]
struct TaskhubClaims {
    exp: u64,
    #[serde(default)]
    taskhub: TaskhubClaim,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskhubClaim {
    subscribe: Vec<String>,
    publish: Vec<String>,
}

/// Verifies a TaskHub token and reads what its `taskhub` claim grants.
pub(crate) fn grants(verifier: &Verifier, token: &str) -> Result<TaskhubGrants, TokenError> {
    let claims: TaskhubClaims = verifier.decode(token)?;
    let selectors = |items: Vec<String>| {
        items
            .into_iter()
            .map(|item| Selector::topic(&item).map_err(|_| TokenError::BadSelector(item)))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(TaskhubGrants {
        subscribe: selectors(claims.taskhub.subscribe)?,
        publish: selectors(claims.taskhub.publish)?,
        expires_at: UNIX_EPOCH.checked_add(Duration::from_secs(claims.exp)),
    })
}

/// Who made a request to TaskHub's own API.
#[derive(Clone, Debug)]
pub(crate) enum TaskhubCaller {
    /// Authentication is off: the server listens on loopback and trusts its callers with
    /// everything but private events, which need credentials to be addressed to.
    Trusted,
    /// A valid token.
    Token(TaskhubGrants),
}

impl TaskhubCaller {
    /// May publish an event on this topic (an event without a topic needs `*`).
    pub(crate) fn check_publish(&self, topic: Option<&Topic>) -> Result<(), ApiError> {
        let Self::Token(grants) = self else {
            return Ok(());
        };
        let wanted = match topic {
            Some(topic) => Selector::Exact(topic.as_str().into()),
            None => Selector::Prefix("".into()),
        };
        if grants.publish.iter().any(|s| s.covers(&wanted)) {
            return Ok(());
        }
        Err(ApiError::Forbidden(match topic {
            Some(topic) => format!("the token's `publish` selectors do not cover topic {topic:?}"),
            None => "publishing an event without a topic needs the `publish` selector `*`".into(),
        }))
    }

    /// May change this task (`None`: create one, which needs every task, `tasks/*`).
    pub(crate) fn check_task_write(&self, id: Option<TaskId>) -> Result<(), ApiError> {
        let Self::Token(grants) = self else {
            return Ok(());
        };
        let wanted = match id {
            Some(id) => Selector::Exact(Topic::for_task(id).as_str().into()),
            None => Selector::Prefix("tasks/".into()),
        };
        if grants.publish.iter().any(|s| s.covers(&wanted)) {
            return Ok(());
        }
        let topic = id.map_or("tasks/*".to_owned(), |id| format!("tasks/{id}"));
        Err(ApiError::Forbidden(format!(
            "the token's `publish` selectors do not cover {topic}"
        )))
    }

    /// What a subscription with this filter may receive; 403 if it asks for topics its
    /// token's `subscribe` selectors do not cover.
    pub(crate) fn check_subscribe(&self, filter: &Filter) -> Result<Access, ApiError> {
        let Self::Token(grants) = self else {
            return Ok(Access::default());
        };
        if let Some(requested) = filter.topics()
            && let Some(denied) = requested
                .iter()
                .find(|wanted| !grants.subscribe.iter().any(|s| s.covers(wanted)))
        {
            return Err(ApiError::Forbidden(format!(
                "the token's `subscribe` selectors do not cover the requested topic `{denied}`"
            )));
        }
        Ok(Access {
            private_topics: grants.subscribe.clone(),
            expires_at: grants.expires_at,
        })
    }

    /// What reading one topic may show (`GET /topics/{topic}/latest`); 403 if the token's
    /// `subscribe` selectors do not cover it.
    pub(crate) fn check_read_topic(&self, topic: &Topic) -> Result<Access, ApiError> {
        let Self::Token(grants) = self else {
            return Ok(Access::default());
        };
        let wanted = Selector::Exact(topic.as_str().into());
        if !grants.subscribe.iter().any(|s| s.covers(&wanted)) {
            return Err(ApiError::Forbidden(format!(
                "the token's `subscribe` selectors do not cover the topic {:?}",
                topic.as_str()
            )));
        }
        Ok(Access {
            private_topics: grants.subscribe.clone(),
            expires_at: grants.expires_at,
        })
    }
}

impl<S> FromRequestParts<S> for TaskhubCaller
where
    TaskhubTokens: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let TaskhubTokens(Some(verifier)) = TaskhubTokens::from_ref(state) else {
            return Ok(Self::Trusted);
        };
        let token = token::find(parts).ok_or(ApiError::Unauthorized(
            "credentials are required: a JWT in `Authorization: Bearer`, the `taskhub_token` \
             cookie or the `access_token` query parameter"
                .into(),
        ))?;
        grants(&verifier, &token)
            .map(Self::Token)
            .map_err(|e| ApiError::Unauthorized(e.to_string()))
    }
}

/// What one subscriber may see beyond public events, and until when.
#[derive(Clone, Debug, Default)]
pub(crate) struct Access {
    private_topics: Vec<Selector>,
    /// The stream ends when its credentials expire.
    pub(crate) expires_at: Option<SystemTime>,
}

impl Access {
    /// Whether this subscriber may receive the event at all.
    pub(crate) fn may_see(&self, frame: &EventFrame) -> bool {
        !frame.is_private()
            || frame
                .topic()
                .is_some_and(|topic| self.sees_private_on(topic))
    }

    /// Whether this subscriber receives the private events on `topic`.
    pub(crate) fn sees_private_on(&self, topic: &Topic) -> bool {
        self.private_topics
            .iter()
            .any(|s| s.matches(topic.as_str()))
    }
}
