//! The webhooks' operations API: `GET /webhooks` (where delivery to each target stands)
//! and `POST /webhooks/redeliver` (replay from an id, or one parked event). Both need the
//! `publish` selector `*`: they show and resend every selected event.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use taskhub_core::{EventId, Timestamp};
use taskhub_engine::{Redelivery, WebhookState};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use super::fields::Fields;
use crate::auth::TaskhubCaller;
use crate::edge::body::JsonBody;
use crate::error::ApiError;
use crate::error::openapi::{WebhookErrors, WebhookReadErrors};
use crate::rate_limit::WriteAllowed;
use crate::state::AppState;

/// Every webhook target of this server.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookList {
    webhooks: Vec<WebhookStatus>,
}

/// Where delivery to one target stands.
#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookStatus {
    /// The URL, as given to `--webhook-url`.
    url: String,
    /// The event type selectors delivered (`--webhook-events`); none delivers nothing.
    events: Vec<String>,
    /// Every event up to this id is delivered, parked or not selected; null before
    /// delivery started.
    #[schema(example = "41")]
    cursor: Option<String>,
    /// The newest event in the log.
    #[schema(example = "45")]
    newest: String,
    /// Events committed after the cursor (selected or not).
    lag: u64,
    /// The last attempt: when, the answer's status (null: no answer), and why it
    /// failed (null: it succeeded).
    last_attempt_at: Option<String>,
    last_status: Option<u16>,
    last_error: Option<String>,
    /// Events that failed for longer than `--webhook-max-age`, oldest first (at most 100).
    parked: Vec<ParkedStatus>,
}

/// A parked event.
#[derive(Serialize, ToSchema)]
pub(crate) struct ParkedStatus {
    #[schema(example = "17")]
    id: String,
    parked_at: String,
    last_status: Option<u16>,
    last_error: String,
    /// A redelivery of it was asked for and has not succeeded yet.
    requeued: bool,
}

/// `POST /webhooks/redeliver`'s body, as the OpenAPI document describes it (the handler
/// reads it field by field, to name the faulty field in errors): a target, and either
/// where to replay from or one parked event.
pub(crate) struct RedeliverInput;

impl PartialSchema for RedeliverInput {
    fn schema() -> RefOr<Schema> {
        let url =
            || {
                ObjectBuilder::new().schema_type(Type::String).description(Some(
                "The target, exactly as given to --webhook-url (as GET /webhooks shows it).",
            ))
            };
        let id = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[1-9][0-9]{0,18}$"))
                .description(Some(description))
        };
        let variant = |key: &str, description: &str| {
            ObjectBuilder::new()
                .property("url", url())
                .property(key, id(description))
                .required("url")
                .required(key)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        OneOfBuilder::new()
            .item(variant(
                "from",
                "Deliver again every event from this id on (the cursor moves to just before it).",
            ))
            .item(variant("parked", "Deliver again this parked event."))
            .into()
    }
}

impl ToSchema for RedeliverInput {}

fn needs_everything(caller: &TaskhubCaller) -> Result<(), ApiError> {
    caller.check_publish(None).map_err(|_| {
        ApiError::Forbidden("the webhooks API needs the token's `publish` selector `*`".into())
    })
}

/// `GET /webhooks`: each target's cursor, lag, last attempt and parked events.
#[utoipa::path(get, path = "/webhooks", tag = "operations", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    responses(
        (status = 200, description = "Each target's delivery state", body = WebhookList),
        WebhookReadErrors))]
pub(crate) async fn list(
    State(state): State<AppState>,
    caller: TaskhubCaller,
) -> Result<Json<WebhookList>, ApiError> {
    needs_everything(&caller)?;
    let Some(webhooks) = &state.webhooks else {
        return Ok(Json(WebhookList {
            webhooks: Vec::new(),
        }));
    };
    let newest = state.events.newest_id().await?.max(state.hub.newest());
    let settings = &webhooks.settings;
    let events: Vec<String> = settings.selectors.iter().map(ToString::to_string).collect();
    let mut list = Vec::with_capacity(settings.targets.len());
    for target in &settings.targets {
        let found = state.events.inspect_webhook(&target.text).await?;
        list.push(status(target.text.clone(), events.clone(), newest, found));
    }
    Ok(Json(WebhookList { webhooks: list }))
}

fn status(
    url: String,
    events: Vec<String>,
    newest: EventId,
    state: Option<WebhookState>,
) -> WebhookStatus {
    let time = |at: Timestamp| at.to_string();
    match state {
        None => WebhookStatus {
            url,
            events,
            cursor: None,
            newest: newest.to_string(),
            lag: 0,
            last_attempt_at: None,
            last_status: None,
            last_error: None,
            parked: Vec::new(),
        },
        Some(state) => WebhookStatus {
            url,
            events,
            cursor: Some(state.cursor.to_string()),
            newest: newest.to_string(),
            lag: newest.get().saturating_sub(state.cursor.get()),
            last_attempt_at: state.last_attempt_at.map(time),
            last_status: state.last_status,
            last_error: state.last_error,
            parked: state
                .parked
                .into_iter()
                .map(|parked| ParkedStatus {
                    id: parked.id.to_string(),
                    parked_at: time(parked.parked_at),
                    last_status: parked.last_status,
                    last_error: parked.last_error,
                    requeued: parked.requeued_at.is_some(),
                })
                .collect(),
        },
    }
}

/// `POST /webhooks/redeliver`: replays a target's events from an id, or one parked
/// event. The deliverer picks the request up at once (on another node, within seconds).
#[utoipa::path(post, path = "/webhooks/redeliver", tag = "operations", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    request_body(content = RedeliverInput, content_type = "application/json"),
    responses(
        (status = 202, description = "Redelivery asked for", body = Object),
        WebhookErrors))]
pub(crate) async fn redeliver(
    _: WriteAllowed,
    State(state): State<AppState>,
    caller: TaskhubCaller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    needs_everything(&caller)?;
    let fields = Fields::new(&body, String::new(), &["url", "from", "parked"])?;
    let url = fields.required_str("url")?;
    let id = |key: &str| -> Result<Option<EventId>, ApiError> {
        fields
            .optional_str(key)?
            .map(|text| {
                text.parse::<EventId>()
                    .ok()
                    .filter(|id| id.get() > 0)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            key,
                            format!("must be an event id (1 or more), got {text:?}"),
                        )
                    })
            })
            .transpose()
    };
    let request = match (id("from")?, id("parked")?) {
        (Some(from), None) => Redelivery::After(EventId::new(from.get() - 1)),
        (None, Some(parked)) => Redelivery::Parked(parked),
        _ => {
            return Err(ApiError::invalid(
                "from",
                "give exactly one of `from` (replay from this id) and `parked` (one parked event)",
            ));
        }
    };
    let unknown = || ApiError::NotFound(format!("{url:?} is not a --webhook-url of this server"));
    let (webhooks, (index, target)) = state
        .webhooks
        .as_ref()
        .and_then(|webhooks| Some((webhooks, webhooks.find(url)?)))
        .ok_or_else(unknown)?;
    if !state
        .events
        .redeliver(&target.text, request, Timestamp::now())
        .await?
    {
        return Err(ApiError::NotFound(match request {
            Redelivery::Parked(id) => format!("event {id} is not parked on this webhook"),
            Redelivery::After(_) => "delivery to this webhook has not started yet".into(),
        }));
    }
    webhooks.wake(index);
    let answer = match request {
        Redelivery::After(after) => json!({ "url": url, "from": after.next().to_string() }),
        Redelivery::Parked(id) => json!({ "url": url, "parked": id.to_string() }),
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}
