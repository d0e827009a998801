//! The start-up report of what an acknowledgement is worth with this Redis's persistence
//! (docs/cluster.md, "Durability"). TaskHub never changes Redis's settings; it only says.

use std::collections::HashMap;

use redis::aio::ConnectionLike;
use tracing::{info, warn};

/// Logs whether an acknowledged event survives a crash of Redis or of its machine.
pub(crate) async fn report(connection: &mut impl ConnectionLike) {
    let settings: Result<HashMap<String, String>, _> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("append*")
        .query_async(connection)
        .await;
    let Ok(settings) = settings else {
        // Managed services often rename or forbid CONFIG.
        info!(
            "cannot read Redis's persistence settings; acknowledged events are as durable as Redis is configured to make them"
        );
        return;
    };
    let appendonly = settings.get("appendonly").map_or("?", String::as_str);
    let appendfsync = settings.get("appendfsync").map_or("?", String::as_str);
    if (appendonly, appendfsync) == ("yes", "always") {
        info!(
            appendonly,
            appendfsync, "Redis fsyncs before it answers: acknowledged events survive a crash"
        );
    } else {
        warn!(
            appendonly,
            appendfsync,
            "a crash of Redis or its machine can lose acknowledged events; for none, run Redis \
             with appendonly yes and appendfsync always (docs/cluster.md)"
        );
    }
}
