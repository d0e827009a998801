//! What a verified token grants: its claims read into [`TaskhubGrants`]. Two places
//! carry grants, and a token's grants are the union of both:
//!
//! - the grants claim (`taskhub`, or the name `--jwt-claims-path` gives, such as Auth0's
//!   namespaced `https://example.com/taskhub`): `{"subscribe": [...], "publish": [...]}`;
//! - OAuth scopes and roles, for providers that cannot add a structured claim: every
//!   entry of `scope` (space-separated), `scp`, `roles` or `realm_access.roles`
//!   (Keycloak's realm roles) that reads `taskhub:subscribe:SELECTOR` or
//!   `taskhub:publish:SELECTOR` grants that selector. Other entries are ignored.
//!
//! A selector that is not one (a control character, an empty topic) refuses the token:
//! it was minted wrong, and guessing what it meant could grant too much.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Map, Value};
use taskhub_core::Selector;

use super::jwt::TokenError;

/// The grants claim's name when `--jwt-claims-path` is not given.
pub(crate) const DEFAULT_CLAIM: &str = "taskhub";

/// The prefix of a scope or role that grants subscribing to a selector.
const SUBSCRIBE_SCOPE: &str = "taskhub:subscribe:";
/// The prefix of a scope or role that grants publishing to a selector.
const PUBLISH_SCOPE: &str = "taskhub:publish:";

/// What a valid TaskHub token (or an auth hook's answer) grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskhubGrants {
    pub(crate) subscribe: Vec<Selector>,
    pub(crate) publish: Vec<Selector>,
    /// When the credentials stop being valid.
    pub(crate) expires_at: Option<SystemTime>,
    /// Who the credentials belong to (a token's `sub`, the hook's `subject`): presence
    /// counts a subject once however many streams it opens.
    pub(crate) subject: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GrantsClaim {
    subscribe: Vec<String>,
    publish: Vec<String>,
}

/// The grants of a verified token's `claims`, read from the claim named `claim`, its
/// scopes and its roles.
pub(crate) fn from_claims(
    claims: &Map<String, Value>,
    claim: &str,
) -> Result<TaskhubGrants, TokenError> {
    let mut grants = TaskhubGrants {
        expires_at: claims
            .get("exp")
            .and_then(Value::as_u64)
            .and_then(|exp| UNIX_EPOCH.checked_add(Duration::from_secs(exp))),
        subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
        ..TaskhubGrants::default()
    };
    if let Some(value) = claims.get(claim) {
        let listed = GrantsClaim::deserialize(value)
            .map_err(|_| TokenError::BadGrantsClaim(claim.to_owned()))?;
        for item in listed.subscribe {
            grants.subscribe.push(selector(claim, item)?);
        }
        for item in listed.publish {
            grants.publish.push(selector(claim, item)?);
        }
    }
    for (name, entry) in scopes_and_roles(claims) {
        if let Some(item) = entry.strip_prefix(SUBSCRIBE_SCOPE) {
            grants.subscribe.push(selector(name, item.to_owned())?);
        } else if let Some(item) = entry.strip_prefix(PUBLISH_SCOPE) {
            grants.publish.push(selector(name, item.to_owned())?);
        }
    }
    Ok(grants)
}

fn selector(claim: &str, item: String) -> Result<Selector, TokenError> {
    Selector::topic(&item).map_err(|_| TokenError::BadSelector {
        claim: claim.to_owned(),
        selector: item,
    })
}

/// Every scope and role entry, with the claim it came from.
fn scopes_and_roles(claims: &Map<String, Value>) -> impl Iterator<Item = (&'static str, &str)> {
    fn strings<'a>(
        name: &'static str,
        value: Option<&'a Value>,
    ) -> impl Iterator<Item = (&'static str, &'a str)> {
        value
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(move |entry| (name, entry))
    }
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .into_iter()
        .flat_map(str::split_ascii_whitespace)
        .map(|entry| ("scope", entry));
    scope
        .chain(strings("scp", claims.get("scp")))
        .chain(strings("roles", claims.get("roles")))
        .chain(strings(
            "realm_access.roles",
            claims.get("realm_access").and_then(|r| r.get("roles")),
        ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(claims: Value, claim: &str) -> Result<TaskhubGrants, TokenError> {
        let Value::Object(map) = claims else {
            panic!("claims are an object")
        };
        from_claims(&map, claim)
    }

    fn names(selectors: &[Selector]) -> Vec<String> {
        selectors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_namespaced_claim_is_read_by_its_literal_name() {
        let claims = json!({
            "exp": 2_000_000_000u64,
            "sub": "alice",
            "https://example.com/taskhub": {"subscribe": ["tasks/*"], "publish": ["t/1"]},
            "taskhub": {"subscribe": ["ignored"]},
        });
        let grants = read(claims, "https://example.com/taskhub").expect("grants");
        assert_eq!(names(&grants.subscribe), ["tasks/*"]);
        assert_eq!(names(&grants.publish), ["t/1"]);
        assert!(grants.expires_at.is_some());
        assert_eq!(grants.subject.as_deref(), Some("alice"));
    }

    #[test]
    fn scopes_and_roles_map_to_selectors() {
        let claims = json!({
            "scope": "openid profile taskhub:subscribe:tasks/* taskhub:publish:t/1",
            "scp": ["taskhub:subscribe:a"],
            "roles": ["admin", "taskhub:publish:b/*"],
            "realm_access": {"roles": ["taskhub:subscribe:c", "offline_access"]},
        });
        let grants = read(claims, DEFAULT_CLAIM).expect("grants");
        assert_eq!(names(&grants.subscribe), ["tasks/*", "a", "c"]);
        assert_eq!(names(&grants.publish), ["t/1", "b/*"]);
    }

    #[test]
    fn a_bad_selector_or_a_malformed_claim_refuses_the_token() {
        assert!(matches!(
            read(json!({"scope": "taskhub:publish:a\u{1}"}), DEFAULT_CLAIM),
            Err(TokenError::BadSelector { .. })
        ));
        assert!(matches!(
            read(json!({"taskhub": ["subscribe"]}), DEFAULT_CLAIM),
            Err(TokenError::BadGrantsClaim(_))
        ));
        assert_eq!(
            read(json!({}), DEFAULT_CLAIM).expect("no grants"),
            TaskhubGrants::default()
        );
    }
}
