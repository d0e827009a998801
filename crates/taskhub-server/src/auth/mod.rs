//! Who is calling, and what they may do.
//!
//! With `--jwt-secret` (or `--jwt-public-key`) every events and tasks endpoint needs a
//! JWT; without either, authentication is off and the server only listens on loopback,
//! where callers are trusted (see `server`). A token's `taskhub` claim carries two lists
//! of topic selectors:
//! - `subscribe`: the private events it may receive, and the topics it may filter on;
//! - `publish`: the topics it may publish to (`tasks/{id}` for task writes).
//!
//! Any valid token may subscribe to public events and read tasks.

mod caller;
mod jwt;
pub(crate) mod token;

pub(crate) use caller::{Access, Caller};
pub use jwt::{JwtConfig, JwtConfigError};
pub(crate) use jwt::{TokenError, Verifier};
