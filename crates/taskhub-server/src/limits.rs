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

/// Most topic selectors one Mercure subscription may give: `topic`, `match` and
/// `match_<type>` parameters together.
pub(crate) const MAX_MERCURE_SELECTORS: usize = 100;

/// Most `match_urlpattern` matchers one Mercure subscription may give: each compiles to
/// several regexes when the stream opens (and is matched against every update with a
/// topic that parses as a URL), so they are capped tighter than exact matchers.
pub(crate) const MAX_MERCURE_URL_PATTERNS: usize = 20;

/// The longest `match_urlpattern` matcher, in bytes (an exact matcher may be as long as a
/// topic, 4096 bytes).
pub(crate) const MAX_MERCURE_URL_PATTERN_BYTES: usize = 1024;
