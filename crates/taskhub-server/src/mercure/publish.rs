//! `POST /.well-known/mercure`: a form-encoded update, appended to the event log like any
//! event and answered with its id once it is durable.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{FromRef, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde_json::value::to_raw_value;
use taskhub_core::mercure::{MercureFields, MercureTopic, UpdateId, UpdateType};
use taskhub_core::{EventType, Topic};
use taskhub_engine::NewEvent;

use super::caller::MercurePublisher;
use super::discovery::PATH;
use super::form;
use crate::edge::body::{self, BodyLimits};
use crate::edge::idempotency::{self, RetryKey};
use crate::edge::publish::{RESERVED_TOPIC, append, check_data_size};
use crate::error::ApiError;
use crate::error::openapi::MercurePublishErrors;
use crate::limits::MAX_MERCURE_TOPICS;
use crate::rate_limit::WriteAllowed;
use crate::state::AppState;

/// Publishes one update: the publisher's token must be valid and its `mercure.publish`
/// selectors must match every topic. Answers `200 text/plain` with the update's id.
#[utoipa::path(post, path = PATH, tag = "mercure",
    security(("bearer" = []), ("mercure_cookie" = []), ("mercure_query" = [])),
    params(RetryKey),
    request_body(content = String, content_type = "application/x-www-form-urlencoded",
        description = "`topic` (repeatable: the first is canonical), `data`, `private`, `id`, `type`, `retry`"),
    responses(
        (status = 200, description = "Stored; the update's id", content_type = "text/plain", body = String),
        MercurePublishErrors))]
pub(crate) async fn publish(
    _: WriteAllowed,
    State(state): State<AppState>,
    MercurePublisher(grants): MercurePublisher,
    retry_key: RetryKey,
    request: Request,
) -> Result<Response, ApiError> {
    check_content_type(request.headers())?;
    let body = body::read(request, BodyLimits::from_ref(&state)).await?;
    let idempotency = retry_key.for_body(&body);
    let update = Update::parse(&body, || {
        idempotency
            .as_ref()
            .map_or_else(generate_id, idempotency::update_id)
    })?;
    if let Some(denied) = update
        .topics
        .iter()
        .find(|topic| !grants.publish.iter().any(|s| s.matches(topic.as_str())))
    {
        return Err(ApiError::Forbidden(format!(
            "the token's `mercure.publish` selectors do not match topic {:?}",
            denied.as_str()
        )));
    }
    let id = update.id.to_string();
    let event = update.into_event(state.config.max_event_bytes)?;
    let appended = append(&state.events, vec![event], idempotency).await?;
    let plain = HeaderValue::from_static("text/plain; charset=utf-8");
    Ok(idempotency::answer(appended, |_| {
        ([(CONTENT_TYPE, plain)], id).into_response()
    }))
}

/// Draft-07 publishes are form-encoded; anything else is refused rather than guessed at.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let media_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::trim);
    match media_type {
        Some(t) if t.eq_ignore_ascii_case("application/x-www-form-urlencoded") => Ok(()),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "a Mercure publish is application/x-www-form-urlencoded, got {}",
            other.map_or("no Content-Type".into(), |t| format!("{t:?}"))
        ))),
    }
}

/// The fields of a publish, parsed.
#[derive(Debug)]
pub(crate) struct Update {
    topics: Vec<MercureTopic>,
    data: String,
    private: bool,
    /// As published, or generated.
    id: UpdateId,
    update_type: Option<UpdateType>,
    retry: Option<u64>,
}

impl Update {
    /// The update in `body`; `fresh_id` names it when the body gives no `id`.
    pub(crate) fn parse(
        body: &[u8],
        fresh_id: impl FnOnce() -> UpdateId,
    ) -> Result<Self, ApiError> {
        let pairs = form::pairs(body).map_err(|bad| ApiError::BadFormField {
            field: bad.name.unwrap_or_else(|| "body".into()),
            detail: "is not UTF-8 once percent-decoded".into(),
        })?;
        let (mut topics, mut private) = (Vec::new(), false);
        let (mut data, mut id, mut update_type, mut retry) = (None, None, None, None);
        for (name, value) in pairs {
            let field = |detail: String| ApiError::BadFormField {
                field: name.clone(),
                detail,
            };
            match name.as_str() {
                "topic" => {
                    if topics.len() == MAX_MERCURE_TOPICS {
                        return Err(field(format!(
                            "at most {MAX_MERCURE_TOPICS} topics per update"
                        )));
                    }
                    if value.starts_with(Topic::RESERVED_PREFIX) {
                        return Err(ApiError::invalid("topic", RESERVED_TOPIC));
                    }
                    topics.push(MercureTopic::parse(&value).map_err(|e| field(e.to_string()))?);
                }
                "private" => private = true,
                "data" => once(&mut data, value).map_err(field)?,
                "id" => once(&mut id, value).map_err(field)?,
                "type" => once(&mut update_type, value).map_err(field)?,
                "retry" => once(&mut retry, value).map_err(field)?,
                // Fields the protocol does not define are ignored, as Mercure hubs do.
                _ => {}
            }
        }
        let field = |name: &str, detail: String| ApiError::BadFormField {
            field: name.into(),
            detail,
        };
        if topics.is_empty() {
            return Err(field("topic", "an update needs at least one topic".into()));
        }
        Ok(Self {
            topics,
            data: data.unwrap_or_default(),
            private,
            id: match id {
                Some(id) => UpdateId::parse(&id).map_err(|e| field("id", e.to_string()))?,
                None => fresh_id(),
            },
            update_type: update_type
                .map(|t| UpdateType::parse(&t))
                .transpose()
                .map_err(|e| field("type", e.to_string()))?,
            retry: retry
                .map(|r| r.parse::<u64>())
                .transpose()
                .map_err(|_| field("retry", "must be a whole number of milliseconds".into()))?,
        })
    }

    /// The event stored for this update: its type if TaskHub's alphabet allows it (else
    /// `message`), its canonical topic if it is a valid TaskHub topic, its data as a JSON
    /// string, and everything Mercure needs to write it back out unchanged (its data as
    /// published included).
    pub(crate) fn into_event(self, max_data: usize) -> Result<NewEvent, ApiError> {
        let data = to_raw_value(&self.data).map_err(|e| ApiError::BadFormField {
            field: "data".into(),
            detail: e.to_string(),
        })?;
        check_data_size(&data, max_data).map_err(|e| ApiError::BadFormField {
            field: "data".into(),
            detail: format!("{e} (stored as a JSON string)"),
        })?;
        let event_type = self
            .update_type
            .as_ref()
            .and_then(|t| EventType::parse(t.as_str()).ok())
            .unwrap_or_else(EventType::message);
        let topic = self
            .topics
            .first()
            .and_then(|t| Topic::parse(t.as_str()).ok());
        Ok(NewEvent {
            event_type,
            topic,
            private: self.private,
            data,
            mercure: Some(MercureFields {
                id: self.id,
                topics: self.topics,
                update_type: self.update_type,
                retry: self.retry,
                data: self.data.into(),
            }),
        })
    }
}

/// Stores a field that may appear once.
fn once(slot: &mut Option<String>, value: String) -> Result<(), String> {
    match slot {
        Some(_) => Err("may appear only once".into()),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// A fresh `urn:uuid:` UUIDv7 for an update published without an id.
fn generate_id() -> UpdateId {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut random = [0u8; 10];
    // The OS's generator does not fail once seeded; were it ever to, ids of the same
    // millisecond would repeat, which resuming tolerates (it takes the newest).
    let _ = getrandom::fill(&mut random);
    UpdateId::uuid_v7(millis, random)
}
