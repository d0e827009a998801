//! The caller of one request to TaskHub's own API, once authenticated (the
//! [`TaskhubCaller`] extractor), and the checks made against it.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use serde_json::{Map, Value};
use taskhub_core::{EventFrame, Filter, Selector, TaskId, Topic};

use super::grants::{self, TaskhubGrants};
use super::hook::{AuthHook, HookError};
use super::jwt::{TokenError, Verifier};
use super::keyset::KeyError;
use super::token;
use crate::client_addr::{ClientAddr, TrustedProxies};
use crate::error::ApiError;

/// How TaskHub's callers are authenticated: by tokens, by the auth hook, both (a valid
/// token first, else the hook), or neither (authentication off). The one place a
/// request's credentials become a [`TaskhubCaller`].
#[derive(Clone, Debug, Default)]
pub(crate) struct TaskhubTokens {
    check: Option<Arc<TokenCheck>>,
    hook: Option<Arc<AuthHook>>,
}

#[derive(Debug)]
struct TokenCheck {
    verifier: Verifier,
    /// The claim holding the grants (`--jwt-claims-path`).
    claim: String,
}

impl TaskhubTokens {
    /// Tokens checked by `verifier`, their grants read from the claim named `claim`
    /// (`None`: `taskhub`),
    /// and `hook` asked for requests without a valid token.
    pub(crate) fn new(
        verifier: Option<Verifier>,
        claim: Option<&str>,
        hook: Option<AuthHook>,
    ) -> Self {
        Self {
            check: verifier.map(|verifier| {
                Arc::new(TokenCheck {
                    verifier,
                    claim: claim.unwrap_or(grants::DEFAULT_CLAIM).to_owned(),
                })
            }),
            hook: hook.map(Arc::new),
        }
    }

    /// Whether requests need credentials.
    pub(crate) fn required(&self) -> bool {
        self.check.is_some() || self.hook.is_some()
    }

    /// The auth hook's grants for this request's forwarded credentials (cached, or
    /// asked once however many requests ask together); `None` when there is no hook.
    /// The one way a request reaches the hook: TaskHub's API and the Mercure hub alike.
    pub(crate) async fn ask_hook<S>(
        &self,
        parts: &mut Parts,
        state: &S,
    ) -> Option<Result<TaskhubGrants, HookError>>
    where
        TrustedProxies: FromRef<S>,
        S: Send + Sync,
    {
        let hook = self.hook.as_ref()?;
        let Ok(ClientAddr(client)) = ClientAddr::from_request_parts(parts, state).await;
        Some(hook.grants(parts, client).await)
    }

    /// Whether the hook would be given a cookie from this request (see
    /// `AuthHook::forwards_cookie`).
    pub(crate) fn hook_forwards_cookie(&self, parts: &Parts) -> bool {
        self.hook
            .as_ref()
            .is_some_and(|hook| hook.forwards_cookie(parts))
    }
}

/// Verifies a TaskHub token and reads what it grants (see `grants`).
pub(crate) async fn grants(
    verifier: &Verifier,
    claim: &str,
    token: &str,
) -> Result<TaskhubGrants, TokenError> {
    let claims: Map<String, Value> = verifier.decode(token).await?;
    grants::from_claims(&claims, claim)
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
    /// Who the caller is, when its credentials say (`None` with authentication off).
    pub(crate) fn subject(&self) -> Option<&str> {
        match self {
            Self::Trusted => None,
            Self::Token(grants) => grants.subject.as_deref(),
        }
    }

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
    TrustedProxies: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    /// A valid token wins; without one, the hook (if any) decides from the forwarded
    /// credentials; with neither, the token's own error, or 401.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let tokens = TaskhubTokens::from_ref(state);
        if !tokens.required() {
            return Ok(Self::Trusted);
        }
        let refused = match (&tokens.check, token::find(parts)) {
            (Some(check), Some(token)) => match grants(&check.verifier, &check.claim, &token).await
            {
                Ok(grants) => return Ok(Self::Token(grants)),
                Err(error) => Some(error),
            },
            _ => None,
        };
        if let Some(answer) = tokens.ask_hook(parts, state).await {
            return match (answer, refused) {
                (Ok(grants), _) => Ok(Self::Token(grants)),
                // A bad token and nothing for the hook: the token's error says more.
                (Err(HookError::NoCredentials(_)), Some(error)) => Err(error.into()),
                (Err(error), _) => Err(error.into()),
            };
        }
        Err(refused.map_or_else(
            || {
                ApiError::Unauthorized(
                    "credentials are required: a JWT in `Authorization: Bearer`, the \
                     `taskhub_token` cookie or the `access_token` query parameter"
                        .into(),
                )
            },
            ApiError::from,
        ))
    }
}

/// The hook's verdict, as the client gets it.
impl From<HookError> for ApiError {
    fn from(error: HookError) -> Self {
        match error {
            HookError::NoCredentials(_) | HookError::Unauthorized(_) => {
                Self::Unauthorized(error.to_string())
            }
            HookError::Forbidden(_) => Self::Forbidden(error.to_string()),
            HookError::Unavailable(_) => Self::AuthUnavailable(error.to_string()),
        }
    }
}

/// A refused token, as the client gets it: 503 when it could not be checked at all.
impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Key(KeyError::Unavailable) => Self::AuthUnavailable(error.to_string()),
            other => Self::Unauthorized(other.to_string()),
        }
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
