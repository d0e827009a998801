//! Appending what a publish parsed, for both protocols: the limit on an event's data,
//! the reserved topics, and the append itself, timed into `taskhub_publish_duration_seconds`.

use std::time::Instant;

use serde_json::value::RawValue;
use taskhub_core::EventId;
use taskhub_engine::{Applied, Idempotency, NewEvent};

use crate::backend::EventLog;
use crate::error::ApiError;
use crate::metrics::METRICS;

/// Why a client may not publish to a topic starting with `$` (a 422 on both protocols).
pub(crate) const RESERVED_TOPIC: &str =
    "topics starting with `$` are reserved for TaskHub's own events (such as `$presence/…`)";

/// An event's data over `--max-event-bytes`; each protocol names the field its way.
#[derive(Debug, thiserror::Error)]
#[error("is {bytes} bytes as JSON; the limit is {limit}")]
pub(crate) struct DataTooLarge {
    bytes: usize,
    limit: usize,
}

/// Whether `data`, as stored, fits in `limit` bytes.
pub(crate) fn check_data_size(data: &RawValue, limit: usize) -> Result<(), DataTooLarge> {
    let bytes = data.get().len();
    if bytes > limit {
        return Err(DataTooLarge { bytes, limit });
    }
    Ok(())
}

/// Appends `events` to the log, all or nothing, and returns their ids once durable; with
/// an idempotency key, at most once (a retry gets the first attempt's ids).
pub(crate) async fn append(
    log: &EventLog,
    events: Vec<NewEvent>,
    idempotency: Option<Idempotency>,
) -> Result<Applied<Vec<EventId>>, ApiError> {
    let started = Instant::now();
    let ids = log.publish(events, idempotency).await?;
    METRICS.publish_duration.observe(started.elapsed());
    Ok(ids)
}
