//! `GET /openapi.json`: the API described from the code. A pure collector: the paths
//! come from the `#[utoipa::path]` attribute on each handler, the body and answer shapes
//! from the types beside each handler, the error responses from `error::openapi`.
//! Nothing imports this file but the router.

use axum::Json;
use axum::extract::State;
use serde_json::Value;
use taskhub_core::Task;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::events::{self, PublishBody, Published};
use crate::api::health::{self, Status};
use crate::api::history::{self, HistoryPage};
use crate::api::presence::{self, PresenceAnswer};
use crate::api::tasks::{self, NewTaskInput, TaskPatchInput};
use crate::api::webhooks::{self, RedeliverInput, WebhookList};
use crate::error::openapi::Problem;
use crate::mercure;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TaskHub",
        description = "Publish events over HTTP, receive them live over Server-Sent Events, \
                       resumable with Last-Event-ID; and a tasks API whose every change is an event."
    ),
    paths(
        events::publish,
        events::stream,
        history::list,
        history::get,
        history::latest,
        presence::presence,
        tasks::create,
        tasks::list,
        tasks::get,
        tasks::update,
        tasks::delete,
        tasks::set_status,
        health::live,
        health::ready,
        webhooks::list,
        webhooks::redeliver,
        document,
    ),
    components(schemas(PublishBody, Published, HistoryPage, PresenceAnswer, NewTaskInput, TaskPatchInput, Task, Problem, Status, WebhookList, RedeliverInput)),
    modifiers(&Credentials),
    tags((name = "events"), (name = "history"), (name = "presence"), (name = "tasks"), (name = "operations"))
)]
pub(crate) struct ApiDoc;

/// The three places a JWT may travel, when authentication is on (docs/auth.md).
struct Credentials;

impl Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT signed with --jwt-secret (HS256), the key of --jwt-public-key \
                         (RS256/ES256), or a key of the --jwt-jwks-url key set \
                         (RS256/ES256/EdDSA, the key fixing the algorithm); `iss` and `aud` \
                         checked when --jwt-issuer and --jwt-audience are set. With \
                         --auth-hook-url, a request without a valid token may instead carry \
                         the application's own credentials (--auth-hook-forward), which the \
                         hook judges; a key set never fetched or a hook down answers 503.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("taskhub_token"))),
        );
        components.add_security_scheme(
            "query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("access_token"))),
        );
    }
}

/// The Mercure hub's two operations, in the document when the hub is on.
#[derive(OpenApi)]
#[openapi(
    paths(mercure::publish::publish, mercure::subscribe::subscribe),
    modifiers(&MercureCredentials),
    tags((name = "mercure", description = "The Mercure protocol (draft-07) on the same event log"))
)]
struct MercureDoc;

/// Where Mercure's JWT may travel besides `Authorization: Bearer`.
struct MercureCredentials;

impl Modify for MercureCredentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "mercure_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("mercureAuthorization"))),
        );
        components.add_security_scheme(
            "mercure_query",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("authorization"))),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
pub(crate) async fn document(State(state): State<AppState>) -> Json<Value> {
    let mut api = ApiDoc::openapi();
    if state.mercure.is_some() {
        api.merge(MercureDoc::openapi());
    }
    let mut document =
        serde_json::to_value(api).expect("an OpenAPI document is plain data, serialisable");
    require_topic_when_private(&mut document);
    Json(document)
}

/// A private event needs a topic: a JSON Schema `if`/`then`, which the derive cannot say.
fn require_topic_when_private(document: &mut Value) {
    if let Some(Value::Object(event)) = document.pointer_mut("/components/schemas/EventInput") {
        event.insert(
            "if".into(),
            serde_json::json!({"properties": {"private": {"const": true}}, "required": ["private"]}),
        );
        event.insert(
            "then".into(),
            serde_json::json!({"properties": {"topic": {"type": "string"}}, "required": ["topic"]}),
        );
    }
}
