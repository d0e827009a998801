//! TaskHub's own API: publishing and subscribing (`events`), reading the log as pages
//! (`history`), who is present (`presence`), the tasks (`tasks`), the operations endpoints
//! (`health`, `metrics`, `webhooks`), and
//! the browser console (`console`). Each handler's file also holds the types its OpenAPI
//! description names; `fields` reads JSON bodies field by field, so errors name the field
//! at fault.
//!
//! Import from the leaf modules: this file only declares them.

pub(crate) mod console;
pub(crate) mod events;
mod fields;
pub(crate) mod health;
pub(crate) mod history;
pub(crate) mod metrics;
pub(crate) mod presence;
pub(crate) mod tasks;
pub(crate) mod webhooks;
