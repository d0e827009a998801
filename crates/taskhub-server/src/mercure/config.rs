//! The Mercure settings: which keys verify publishers' and subscribers' tokens (a key,
//! or the key set of a JWKS URL, the same implementation as TaskHub's own API's), and
//! whether subscribers without one are welcome.

use jsonwebtoken::{Algorithm, DecodingKey};
use tracing::warn;

use crate::auth::{ClaimRules, KeySets, MIN_SECRET_BYTES, Verifier};
use crate::edge::cors::CorsOrigins;
use crate::outbound::{OutboundUrl, OutboundUrlError};

/// A key and the algorithm tokens are signed with: a shared secret for HS256 (the
/// default), HS384 and HS512, or a PEM public key for RS*, PS* and ES*, as Mercure's
/// `MERCURE_*_JWT_KEY` and `MERCURE_*_JWT_ALG` take them.
#[derive(Clone, Debug)]
pub struct MercureKey {
    pub key: String,
    pub algorithm: String,
}

/// What verifies one role's tokens.
#[derive(Clone, Debug)]
pub enum MercureKeys {
    /// One key (`--mercure-jwt-key` and relatives).
    Key(MercureKey),
    /// The keys of a JWKS URL (`--mercure-jwks-url`), each fixing its own algorithm.
    KeySet(String),
}

/// The Mercure hub's settings; the hub is on when this is given.
#[derive(Clone, Debug)]
pub struct MercureConfig {
    /// Verifies publishers' tokens.
    pub publisher: MercureKeys,
    /// Verifies subscribers' tokens; `None` when subscribers are anonymous only.
    pub subscriber: Option<MercureKeys>,
    /// Subscribers without a token receive public updates.
    pub anonymous: bool,
}

/// Why the Mercure settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MercureConfigError {
    #[error(
        "a Mercure hub needs the key that verifies publishers: --mercure-jwt-key or \
         --mercure-publisher-jwt-key"
    )]
    NoPublisherKey,
    #[error(
        "no key verifies Mercure subscribers (--mercure-jwt-key or \
         --mercure-subscriber-jwt-key), so they could only be anonymous: add \
         --mercure-anonymous, or a key"
    )]
    NoSubscriberKey,
    #[error("--mercure-anonymous needs a Mercure hub: give --mercure-jwt-key")]
    AnonymousWithoutHub,
    #[error("unknown Mercure JWT algorithm {0:?}: use HS256, HS384, HS512, RS*, PS* or ES*")]
    UnknownAlgorithm(String),
    #[error(
        "the Mercure {role} key is not an {family} public key in PEM form, as {algorithm} needs"
    )]
    BadPublicKey {
        role: &'static str,
        family: &'static str,
        algorithm: String,
    },
    #[error("the Mercure {0} key is empty")]
    EmptyKey(&'static str),
    #[error("--mercure-jwks-url: {0}")]
    KeySetUrl(#[from] OutboundUrlError),
}

impl MercureConfig {
    /// The settings from the flags: the role-specific keys fall back on the shared one;
    /// `None` when no key is given (the hub is off).
    pub fn resolve(
        shared: Option<MercureKeys>,
        publisher: Option<MercureKeys>,
        subscriber: Option<MercureKeys>,
        anonymous: bool,
    ) -> Result<Option<Self>, MercureConfigError> {
        if shared.is_none() && publisher.is_none() && subscriber.is_none() {
            return if anonymous {
                Err(MercureConfigError::AnonymousWithoutHub)
            } else {
                Ok(None)
            };
        }
        let publisher = publisher
            .or_else(|| shared.clone())
            .ok_or(MercureConfigError::NoPublisherKey)?;
        let subscriber = subscriber.or(shared);
        if subscriber.is_none() && !anonymous {
            return Err(MercureConfigError::NoSubscriberKey);
        }
        Ok(Some(Self {
            publisher,
            subscriber,
            anonymous,
        }))
    }

    /// The hub's credentials, built once at start-up (a JWKS URL's set fetched once,
    /// through `sets`). A publish authenticated by cookie must come from this hub's own
    /// origin (over HTTPS when `https`) or one of `cors_origins`.
    pub(crate) async fn build(
        &self,
        cors_origins: &CorsOrigins,
        https: bool,
        sets: &mut KeySets,
    ) -> Result<MercureHub, MercureConfigError> {
        let subscriber = match &self.subscriber {
            Some(keys) => Some(role_verifier(keys, "subscriber", sets).await?),
            None => None,
        };
        Ok(MercureHub {
            publisher: role_verifier(&self.publisher, "publisher", sets).await?,
            subscriber,
            anonymous: self.anonymous,
            cors_origins: cors_origins.clone(),
            https,
        })
    }
}

/// The hub's credentials at run time, which its two extractors (`caller`) read.
#[derive(Debug)]
pub(crate) struct MercureHub {
    pub(crate) publisher: Verifier,
    /// `None`: no subscriber token can be valid; subscribers are anonymous.
    pub(crate) subscriber: Option<Verifier>,
    pub(crate) anonymous: bool,
    /// Origins besides the hub's own that may publish with the cookie.
    pub(crate) cors_origins: CorsOrigins,
    /// Whether the hub's own origin is `https://`.
    pub(crate) https: bool,
}

/// Mercure's tokens need no `exp`; when they have one, it is checked, and a stream ends
/// when its token expires.
const MERCURE_RULES: ClaimRules = ClaimRules {
    exp_required: false,
    issuer: None,
    audience: None,
};

async fn role_verifier(
    keys: &MercureKeys,
    role: &'static str,
    sets: &mut KeySets,
) -> Result<Verifier, MercureConfigError> {
    match keys {
        MercureKeys::Key(key) => verifier(key, role),
        MercureKeys::KeySet(url) => {
            let url = OutboundUrl::parse(url)?;
            Ok(Verifier::with_key_set(sets.get(&url).await, &MERCURE_RULES))
        }
    }
}

fn verifier(key: &MercureKey, role: &'static str) -> Result<Verifier, MercureConfigError> {
    if key.key.is_empty() {
        return Err(MercureConfigError::EmptyKey(role));
    }
    let algorithm: Algorithm = key
        .algorithm
        .parse()
        .map_err(|_| MercureConfigError::UnknownAlgorithm(key.algorithm.clone()))?;
    let pem = key.key.as_bytes();
    let bad_key = |family| MercureConfigError::BadPublicKey {
        role,
        family,
        algorithm: key.algorithm.clone(),
    };
    let decoding = match algorithm {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            if key.key.len() < MIN_SECRET_BYTES {
                warn!(
                    role,
                    "the Mercure {role} key is shorter than {MIN_SECRET_BYTES} bytes: an HMAC key that short \
                     can be guessed offline from any token it signed"
                );
            }
            DecodingKey::from_secret(pem)
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => DecodingKey::from_rsa_pem(pem).map_err(|_| bad_key("RSA"))?,
        Algorithm::ES256 | Algorithm::ES384 => {
            DecodingKey::from_ec_pem(pem).map_err(|_| bad_key("EC"))?
        }
        Algorithm::EdDSA => DecodingKey::from_ed_pem(pem).map_err(|_| bad_key("Ed25519"))?,
        _ => return Err(MercureConfigError::UnknownAlgorithm(key.algorithm.clone())),
    };
    Ok(Verifier::new(decoding, vec![algorithm], &MERCURE_RULES))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &str) -> Option<MercureKeys> {
        Some(MercureKeys::Key(MercureKey {
            key: key.into(),
            algorithm: "HS256".into(),
        }))
    }

    fn secret(keys: &MercureKeys) -> &str {
        match keys {
            MercureKeys::Key(key) => &key.key,
            MercureKeys::KeySet(url) => url,
        }
    }

    #[test]
    fn role_keys_fall_back_on_the_shared_one() {
        let config = MercureConfig::resolve(key("shared"), None, key("subs"), false)
            .expect("valid")
            .expect("on");
        assert_eq!(secret(&config.publisher), "shared");
        assert_eq!(config.subscriber.as_ref().map(secret), Some("subs"));
        assert!(matches!(
            MercureConfig::resolve(None, None, None, false),
            Ok(None)
        ));
        assert!(matches!(
            MercureConfig::resolve(None, None, None, true),
            Err(MercureConfigError::AnonymousWithoutHub)
        ));
        assert!(matches!(
            MercureConfig::resolve(None, None, key("subs"), false),
            Err(MercureConfigError::NoPublisherKey)
        ));
        assert!(matches!(
            MercureConfig::resolve(None, key("pub"), None, false),
            Err(MercureConfigError::NoSubscriberKey)
        ));
        let anonymous = MercureConfig::resolve(None, key("pub"), None, true)
            .expect("valid")
            .expect("on");
        assert!(anonymous.subscriber.is_none());
    }

    #[test]
    fn keys_must_fit_their_algorithm() {
        let build = |key: &str, algorithm: &str| {
            verifier(
                &MercureKey {
                    key: key.into(),
                    algorithm: algorithm.into(),
                },
                "publisher",
            )
        };
        assert!(build("x".repeat(32).as_str(), "HS256").is_ok());
        assert!(matches!(
            build("secret", "none"),
            Err(MercureConfigError::UnknownAlgorithm(_))
        ));
        assert!(matches!(
            build("not a pem", "RS256"),
            Err(MercureConfigError::BadPublicKey { family: "RSA", .. })
        ));
        assert!(matches!(
            build("", "HS256"),
            Err(MercureConfigError::EmptyKey("publisher"))
        ));
    }
}
