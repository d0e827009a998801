//! `GET /presence`: who has a stream open on each of the given selectors, cluster-wide.
//!
//! Presence *changes* are events (`presence.join` / `presence.leave` on
//! `$presence/<selector>`), read with the ordinary stream and history endpoints; this
//! answers the state now, so a page can draw who is here before following the changes.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, RawQuery, State};
use serde::{Deserialize, Serialize};
use taskhub_core::Filter;
use taskhub_engine::presence::{ListedClient, Listing};
use utoipa::{IntoParams, ToSchema};

use crate::auth::TaskhubCaller;
use crate::edge::query_names;
use crate::error::ApiError;
use crate::error::openapi::HistoryErrors;
use crate::state::AppState;

/// The names of [`PresenceParams`]' parameters: any other (but `_…`) is refused with a 400.
const PRESENCE_PARAMS: &[&str] = &["topics", "access_token"];

/// The query parameters of `GET /presence`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PresenceParams {
    /// The selectors to answer for, comma-separated, each exactly as streams write it in
    /// `topics=` (`deploys/*` is the presence of streams that asked for `deploys/*`, not
    /// of those that asked for `deploys/1`). Each must be covered by the credentials'
    /// `subscribe` selectors.
    #[param(
        example = "tasks/42,deploys/*",
        pattern = r"^[^,\u0000-\u001F\u007F-\u009F]+(,[^,\u0000-\u001F\u007F-\u009F]+)*$"
    )]
    topics: String,
    /// A JWT, for clients that cannot set headers.
    #[param(value_type = Option<String>)]
    #[serde(rename = "access_token")]
    _access_token: Option<serde::de::IgnoredAny>,
}

/// Presence on each selector asked for, in the order asked.
#[derive(Serialize, ToSchema)]
pub(crate) struct PresenceAnswer {
    topics: Vec<SelectorPresence>,
}

/// One selector's presence.
#[derive(Serialize, ToSchema)]
struct SelectorPresence {
    /// The selector, as asked.
    #[schema(example = "tasks/42")]
    selector: String,
    /// Members: distinct subjects (each anonymous stream one of its own) present, a
    /// member whose last stream went less than `--presence-grace-secs` ago included.
    count: u64,
    /// The streams open on it now (not those opened with `presence=false`).
    clients: Vec<PresentClient>,
}

/// One open stream.
#[derive(Serialize, ToSchema)]
struct PresentClient {
    /// The token's `sub` (the auth hook's `subject`); null without one.
    #[schema(example = "alice")]
    subject: Option<String>,
    /// The stream's `client_id`, as its `connected` event said.
    client_id: String,
    /// When the stream opened (RFC 3339).
    #[schema(format = DateTime, example = "2026-11-24T12:00:00.000000Z")]
    since: String,
    /// The node serving it.
    node: String,
}

/// `GET /presence`: the members and open streams of each selector.
#[utoipa::path(get, path = "/presence", tag = "presence", security((), ("bearer" = []), ("cookie" = []), ("query" = [])),
    params(PresenceParams),
    responses(
        (status = 200, description = "Presence on each selector", body = PresenceAnswer),
        HistoryErrors))]
pub(crate) async fn presence(
    State(state): State<AppState>,
    caller: TaskhubCaller,
    RawQuery(query): RawQuery,
    params: Result<Query<PresenceParams>, QueryRejection>,
) -> Result<Json<PresenceAnswer>, ApiError> {
    query_names::reject_unknown(query.as_deref(), PRESENCE_PARAMS)?;
    let Query(params) = params.map_err(|e| ApiError::BadParameter {
        param: "query".into(),
        detail: e.body_text(),
    })?;
    let filter = Filter::parse(None, Some(&params.topics))?;
    caller.check_subscribe(&filter)?;
    let selectors: Vec<String> = filter
        .topics()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    let listings = state.presence.list(&selectors).await?;
    Ok(Json(PresenceAnswer {
        topics: listings.into_iter().map(SelectorPresence::from).collect(),
    }))
}

impl From<Listing> for SelectorPresence {
    fn from(listing: Listing) -> Self {
        Self {
            selector: listing.selector,
            count: listing.count,
            clients: listing
                .clients
                .into_iter()
                .map(PresentClient::from)
                .collect(),
        }
    }
}

impl From<ListedClient> for PresentClient {
    fn from(client: ListedClient) -> Self {
        Self {
            subject: client.subject,
            client_id: client.client_id,
            since: client.since.to_string(),
            node: client.node,
        }
    }
}
