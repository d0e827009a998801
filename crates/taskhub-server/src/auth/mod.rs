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
//!
//! - `token`: where a token travels (header, cookie, query); shared with Mercure's
//!   credentials, which look in other places.
//! - `jwt`: the settings and the [`Verifier`] (signature, `exp`, `nbf`), also used by
//!   the Mercure hub's keys. A new way to obtain keys (JWKS) or to authenticate (a hook
//!   to the application) plugs in here, behind `TaskhubTokens` and `Verifier`.
//! - `caller`: the [`TaskhubCaller`] extractor and the checks made against its grants.

mod caller;
mod jwt;
pub(crate) mod token;

#[cfg(feature = "fuzzing")]
pub(crate) use caller::grants;
pub(crate) use caller::{Access, TaskhubCaller, TaskhubTokens};
pub use jwt::MIN_SECRET_BYTES;
pub use jwt::{JwtConfig, JwtConfigError};
pub(crate) use jwt::{TokenError, Verifier};
