//! The Mercure protocol's half of the domain (draft-dunglas-mercure-07, as the 0.x hubs
//! deployed today speak it, and, so far, Mercure 1.0's topic matchers from
//! draft-dunglas-mercure-08), free of I/O like the rest of this crate.
//!
//! A Mercure update is stored as a TaskHub event plus [`MercureFields`]: what Mercure
//! says that TaskHub's envelope does not (the publisher's id, every topic, the SSE
//! `event:` and `retry:`), and its data as published. Both protocols read the one log;
//! `EventFrame::mercure` encodes any event, native or Mercure, for a Mercure stream, once
//! (`encode`).
//!
//! - [`UpdateId`], [`MercureTopic`], [`UpdateType`]: the publish form's fields, parsed.
//! - [`TopicSelector`]: `*`, an exact topic, or an RFC 6570 URI template (`uri_template`),
//!   as draft-07's `topic=` reads it; or a Mercure 1.0 topic matcher of a [`MatchType`]:
//!   `exact`, or a WHATWG URL Pattern resolved against the [`HubUrl`] (`url_pattern`).
//! - [`MercureFields`]: what an event carries when it came from a Mercure publisher, and
//!   how engines store it beside the envelope (`stored`).
//! - [`ResumePoint`]: a subscriber's `Last-Event-ID`, and [`native_id`], the id native
//!   events have on Mercure streams.

pub(crate) mod encode;
mod fields;
mod resume;
mod selector;
mod stored;
mod text;
mod uri_template;
mod url_pattern;

pub use fields::{MercureFields, MercureTopic, UpdateId, UpdateType};
pub use resume::{ResumePoint, native_id};
pub use selector::{BadMatcher, MatchType, TopicSelector, UnknownMatchType};
pub use stored::CorruptMercureFields;
pub use text::ParseTextError;
pub use url_pattern::{BadHost, BadUrlPattern, HubUrl};
