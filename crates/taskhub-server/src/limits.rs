//! The API's fixed limits, each named once: the handlers enforce them and the OpenAPI
//! document states them. A single value's limits (an event type's length, a topic's, a
//! task title's) live on its type in `taskhub-core`; what a deployment may change is a
//! setting, with its default, in `config`.

/// Most events in one `POST /events` batch.
pub(crate) const MAX_BATCH_EVENTS: usize = 1000;

/// Most events a stream's `rewind` may ask for.
pub(crate) const MAX_REWIND: usize = 1000;

/// Most events one page of `GET /events` holds.
pub(crate) const MAX_PAGE: usize = 1000;

/// Most topics one Mercure update may carry (the canonical one and its alternates).
pub(crate) const MAX_MERCURE_TOPICS: usize = 100;

/// Most `topic` selectors one Mercure subscription may give.
pub(crate) const MAX_MERCURE_SELECTORS: usize = 100;
