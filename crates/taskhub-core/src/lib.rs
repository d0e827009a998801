//! TaskHub's domain model and wire format, free of any I/O.
//!
//! # Layout
//! - [`EventType`], [`Topic`], [`EventId`], [`TaskStatus`]: newtypes that can only hold valid
//!   values, so everything past the HTTP edge can trust them ("parse, don't validate").
//! - [`Filter`]: a subscriber's `types` / `topics` selection.
//! - [`IdempotencyKey`]: a client's name for one write, so that retrying it is safe.
//! - [`frame`]: the SSE encoder. Each event is encoded exactly once into an [`EventFrame`]
//!   whose bytes every subscriber shares; a [`FrameGroup`] holds the frames committed
//!   together in one buffer, so a subscriber takes a run of them as one slice.
//! - [`Timestamp`]: RFC 3339 UTC instants as the envelope carries them.
//! - [`task`]: the task record of the tasks API.
//! - [`mercure`]: the Mercure protocol's ids, topics, selectors and URI templates.

mod event_id;
mod event_type;
mod filter;
pub mod frame;
mod frame_group;
mod idempotency_key;
pub mod mercure;
mod selector;
pub mod task;
mod timestamp;
mod topic;

pub use event_id::{EventId, ParseEventIdError};
pub use event_type::{EventType, ParseEventTypeError};
pub use filter::{Filter, ParseFilterError};
pub use frame::EventFrame;
pub use frame_group::FrameGroup;
pub use idempotency_key::{IdempotencyKey, ParseIdempotencyKeyError};
pub use selector::Selector;
pub use task::{ParseTaskStatusError, Task, TaskId, TaskStatus, UnknownTaskId};
pub use timestamp::{ParseTimestampError, Timestamp};
pub use topic::{ParseTopicError, Topic};
