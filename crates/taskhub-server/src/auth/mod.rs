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
//! - `jwt`: the settings and the [`Verifier`] (signature, `exp`, `nbf`, `iss`, `aud`),
//!   also used by the Mercure hub's keys.
//! - `keyset`: keys from a JWKS URL (`--jwt-jwks-url`, `--mercure-jwks-url`): cached,
//!   refreshed, refetched for an unknown `kid`; one implementation for every verifier.
//! - `grants`: what a verified token's claims (the grants claim, scopes, roles) grant.
//! - `hook`: the auth hook (`--auth-hook-url`), asked about requests without a valid
//!   token with the application's own credentials (a session cookie); fail-closed.
//! - `single_flight`: concurrent hook calls for one credential made once.
//! - `caller`: the [`TaskhubCaller`] extractor and the checks made against its grants.
//!
//! A key set that was never fetched, or a hook that is down, makes a request needing
//! credentials fail with 503 (`TokenError::Key`, `HookError::Unavailable`), never
//! pass.

mod caller;
mod grants;
mod hook;
mod jwt;
pub(crate) mod keyset;
mod single_flight;
pub(crate) mod token;

#[cfg(feature = "fuzzing")]
pub(crate) use caller::grants;
pub(crate) use caller::{Access, TaskhubCaller, TaskhubTokens};
pub(crate) use grants::TaskhubGrants;
pub(crate) use hook::HookError;
pub use hook::{AuthHookConfig, AuthHookConfigError};
pub(crate) use jwt::{ClaimRules, TokenError, Verifier};
pub use jwt::{JwtConfig, JwtConfigError, MIN_SECRET_BYTES};
pub(crate) use keyset::KeySets;
#[cfg(feature = "fuzzing")]
pub(crate) use keyset::jwks;
