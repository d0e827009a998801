//! What both protocols' edges share: reading a body within its limits (`body`), the
//! `Last-Event-ID` rule (`resume`), retry-safe writes (`idempotency`), appending what a
//! publish parsed (`publish`),
//! opening an event stream (`stream`), refusing unknown query parameters
//! (`query_names`), and the layers around every route: CORS (`cors`) and the
//! request-head limit (`head_limit`).
//!
//! Import from the leaf modules (`edge::body::JsonBody`): this file only declares them.

pub(crate) mod body;
pub(crate) mod cors;
pub(crate) mod head_limit;
pub(crate) mod idempotency;
pub(crate) mod publish;
pub(crate) mod query_names;
pub(crate) mod resume;
pub(crate) mod stream;
