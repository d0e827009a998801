//! JWT verification: HS256 with a shared secret by default, RS256/ES256 (and relatives)
//! with a PEM public key, or the keys of a JWKS URL (`keyset`), each of which verifies
//! only the algorithm its own type fixes. `alg: none` is never accepted; `exp` is
//! required of TaskHub's own tokens (Mercure's, checked by the same [`Verifier`], may
//! omit it); `iss` and `aud` are checked when configured; `exp` and `nbf` are allowed
//! [`LEEWAY`] for clocks that disagree when the keys are an identity provider's (a JWKS
//! URL), none when they are the server's own secret or key.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::de::DeserializeOwned;

use super::keyset::{KeyError, KeySet, KeySets};
use crate::outbound::{OutboundUrl, OutboundUrlError};

/// How tokens are checked, from `--jwt-secret`, `--jwt-public-key`, `--jwt-jwks-url`,
/// `--jwt-algorithms`, `--jwt-issuer`, `--jwt-audience` and `--jwt-claims-path`.
#[derive(Clone, Debug, Default)]
pub struct JwtConfig {
    /// Shared secret for the HS* algorithms.
    pub secret: Option<String>,
    /// A PEM public key (RSA or EC) for the RS*, PS* and ES* algorithms.
    pub public_key_pem: Option<Vec<u8>>,
    /// A JWKS URL (an identity provider's `jwks_uri`) whose keys verify tokens.
    pub jwks_url: Option<String>,
    /// Accepted algorithms; empty means the key's usual one (HS256, RS256 or ES256).
    /// Not for a JWKS URL, whose keys each fix their own.
    pub algorithms: Vec<String>,
    /// The `iss` every token must carry, when set.
    pub issuer: Option<String>,
    /// A value the token's `aud` must hold, when set.
    pub audience: Option<String>,
    /// The claim holding TaskHub's grants [default: `taskhub`]; a namespaced name such
    /// as `https://example.com/taskhub` (Auth0's custom claims) is taken literally.
    pub claims_path: Option<String>,
}

/// The shortest HMAC secret accepted: 256 bits, the output size of HS256, below which
/// a secret can be guessed offline from any token it signed.
pub const MIN_SECRET_BYTES: usize = 32;

/// How far `exp` and `nbf` may be off for a key set's tokens: a token minted by an
/// identity provider whose clock runs a little ahead of this server's must not be refused
/// as not yet valid.
pub(crate) const LEEWAY: Duration = Duration::from_secs(5);

/// Why the JWT settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error("give one of a JWT secret, a JWT public key or a JWKS URL")]
    BothKeys,
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes long")]
    WeakSecret,
    #[error("the JWT public key is neither an RSA nor an EC public key in PEM form")]
    BadPublicKey,
    #[error("unknown JWT algorithm {0:?}")]
    UnknownAlgorithm(String),
    #[error("JWT algorithm {0:?} does not fit the configured key")]
    AlgorithmMismatch(String),
    #[error(
        "--jwt-algorithms cannot be used with --jwt-jwks-url: each key of the set fixes \
         its own algorithm"
    )]
    AlgorithmsWithKeySet,
    #[error("--jwt-{0} needs a key: --jwt-secret, --jwt-public-key or --jwt-jwks-url")]
    RuleWithoutKey(&'static str),
    #[error("--jwt-{0} is empty")]
    EmptyRule(&'static str),
    #[error("the JWKS URL: {0}")]
    KeySetUrl(#[from] OutboundUrlError),
}

/// What a token must satisfy beyond its signature.
#[derive(Clone, Debug, Default)]
pub(crate) struct ClaimRules {
    /// `exp` must be present (TaskHub's tokens; Mercure's may omit it).
    pub(crate) exp_required: bool,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
}

/// Verifies tokens; built once at start-up.
#[derive(Clone)]
pub(crate) struct Verifier {
    keys: Keys,
    /// The checks every token gets; for a key set, `algorithms` is replaced per token
    /// by the one its key fixes.
    validation: Validation,
}

#[derive(Clone)]
enum Keys {
    /// A secret or a PEM public key.
    Fixed(DecodingKey),
    /// The keys of a JWKS URL, looked up by each token's `kid`.
    Set(KeySet),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.validation.algorithms)
            .field("key_set", &matches!(self.keys, Keys::Set(_)))
            .finish_non_exhaustive()
    }
}

/// Why a token was refused. The message never contains the token.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token's algorithm is not accepted here")]
    Algorithm,
    #[error("the token has no `{0}` claim, which is required")]
    MissingClaim(String),
    #[error("the token's issuer (iss) is not the one accepted here")]
    WrongIssuer,
    #[error("the token's audience (aud) does not include this server")]
    WrongAudience,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's `{claim}` claim has a bad selector {selector:?}")]
    BadSelector { claim: String, selector: String },
    #[error("the token's `{0}` claim is not an object of `subscribe` and `publish` lists")]
    BadGrantsClaim(String),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl JwtConfig {
    /// The verifier, or `None` when no key is configured (authentication off). A JWKS
    /// URL's set is fetched once here, through `sets`.
    pub(crate) async fn verifier(
        &self,
        sets: &mut KeySets,
    ) -> Result<Option<Verifier>, JwtConfigError> {
        let Some(url) = &self.jwks_url else {
            return self.fixed_verifier();
        };
        if self.secret.is_some() || self.public_key_pem.is_some() {
            return Err(JwtConfigError::BothKeys);
        }
        if !self.algorithms.is_empty() {
            return Err(JwtConfigError::AlgorithmsWithKeySet);
        }
        let url = OutboundUrl::parse(url)?;
        let rules = self.rules()?;
        Ok(Some(Verifier::with_key_set(sets.get(&url).await, &rules)))
    }

    /// The verifier of a secret or a PEM public key; `None` without either.
    pub(crate) fn fixed_verifier(&self) -> Result<Option<Verifier>, JwtConfigError> {
        let (key, family): (DecodingKey, &[Algorithm]) = match (&self.secret, &self.public_key_pem)
        {
            (None, None) => {
                for (flag, set) in [
                    ("issuer", self.issuer.is_some()),
                    ("audience", self.audience.is_some()),
                    ("claims-path", self.claims_path.is_some()),
                ] {
                    if set {
                        return Err(JwtConfigError::RuleWithoutKey(flag));
                    }
                }
                return Ok(None);
            }
            (Some(_), Some(_)) => return Err(JwtConfigError::BothKeys),
            (Some(secret), None) => {
                if secret.len() < MIN_SECRET_BYTES {
                    return Err(JwtConfigError::WeakSecret);
                }
                let hmac = &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];
                (DecodingKey::from_secret(secret.as_bytes()), hmac)
            }
            (None, Some(pem)) => {
                if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
                    let rsa = &[
                        Algorithm::RS256,
                        Algorithm::RS384,
                        Algorithm::RS512,
                        Algorithm::PS256,
                        Algorithm::PS384,
                        Algorithm::PS512,
                    ];
                    (key, rsa)
                } else if let Ok(key) = DecodingKey::from_ec_pem(pem) {
                    (key, &[Algorithm::ES256, Algorithm::ES384])
                } else {
                    return Err(JwtConfigError::BadPublicKey);
                }
            }
        };
        let algorithms = if self.algorithms.is_empty() {
            vec![family[0]]
        } else {
            self.algorithms
                .iter()
                .map(|name| {
                    let alg: Algorithm = name
                        .parse()
                        .map_err(|_| JwtConfigError::UnknownAlgorithm(name.clone()))?;
                    if family.contains(&alg) {
                        Ok(alg)
                    } else {
                        Err(JwtConfigError::AlgorithmMismatch(name.clone()))
                    }
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Some(Verifier::new(key, algorithms, &self.rules()?)))
    }

    /// The claim rules of TaskHub's own tokens.
    fn rules(&self) -> Result<ClaimRules, JwtConfigError> {
        let non_empty = |flag, value: &Option<String>| match value {
            Some(v) if v.is_empty() => Err(JwtConfigError::EmptyRule(flag)),
            _ => Ok(value.clone()),
        };
        non_empty("claims-path", &self.claims_path)?;
        Ok(ClaimRules {
            exp_required: true,
            issuer: non_empty("issuer", &self.issuer)?,
            audience: non_empty("audience", &self.audience)?,
        })
    }
}

impl Verifier {
    /// Checks tokens signed with `key` by one of `algorithms`.
    pub(crate) fn new(key: DecodingKey, algorithms: Vec<Algorithm>, rules: &ClaimRules) -> Self {
        Self {
            keys: Keys::Fixed(key),
            validation: validation(algorithms, rules),
        }
    }

    /// Checks tokens signed by a key of `set`, each with the algorithm its key fixes.
    pub(crate) fn with_key_set(set: KeySet, rules: &ClaimRules) -> Self {
        let mut validation = validation(Vec::new(), rules);
        validation.leeway = LEEWAY.as_secs();
        Self {
            keys: Keys::Set(set),
            validation,
        }
    }

    /// The claims of a valid token. Awaits only when a key set must be fetched again
    /// for the token's unknown `kid`.
    pub(crate) async fn decode<C: DeserializeOwned>(&self, token: &str) -> Result<C, TokenError> {
        match &self.keys {
            Keys::Fixed(key) => checked(token, key, &self.validation),
            Keys::Set(set) => {
                let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
                let jwk = set.key_for(header.kid.as_deref()).await?;
                // The key's own algorithm and no other: a token saying HS256 (signed
                // with the public key as an HMAC secret) or another family fails here.
                let mut validation = self.validation.clone();
                validation.algorithms = vec![jwk.algorithm];
                checked(token, &jwk.key, &validation)
            }
        }
    }
}

fn validation(algorithms: Vec<Algorithm>, rules: &ClaimRules) -> Validation {
    let mut validation = Validation::new(algorithms.first().copied().unwrap_or_default());
    validation.algorithms = algorithms;
    let mut required = Vec::new();
    if rules.exp_required {
        required.push("exp");
    }
    if let Some(issuer) = &rules.issuer {
        validation.set_issuer(&[issuer]);
        required.push("iss");
    }
    match &rules.audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    // A token minted with the server's own secret or key is held to the second (the
    // contract: an expired token is 401); a key set's (`with_key_set`) gets `LEEWAY`.
    validation.leeway = 0;
    validation
}

fn checked<C: DeserializeOwned>(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<C, TokenError> {
    use jsonwebtoken::errors::ErrorKind;
    decode::<C>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => TokenError::Algorithm,
            ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
            ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
            ErrorKind::InvalidAudience => TokenError::WrongAudience,
            _ => TokenError::Malformed,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors() {
        let short = JwtConfig {
            secret: Some("short".into()),
            ..JwtConfig::default()
        };
        assert!(matches!(
            short.fixed_verifier(),
            Err(JwtConfigError::WeakSecret)
        ));
        let mismatch = JwtConfig {
            secret: Some("x".repeat(32)),
            algorithms: vec!["RS256".into()],
            ..JwtConfig::default()
        };
        assert!(matches!(
            mismatch.fixed_verifier(),
            Err(JwtConfigError::AlgorithmMismatch(_))
        ));
        let none = JwtConfig {
            secret: Some("x".repeat(32)),
            algorithms: vec!["none".into()],
            ..JwtConfig::default()
        };
        assert!(matches!(
            none.fixed_verifier(),
            Err(JwtConfigError::UnknownAlgorithm(_))
        ));
        assert!(
            JwtConfig::default()
                .fixed_verifier()
                .is_ok_and(|v| v.is_none())
        );
        let issuer_alone = JwtConfig {
            issuer: Some("https://idp.example.com/".into()),
            ..JwtConfig::default()
        };
        assert!(matches!(
            issuer_alone.fixed_verifier(),
            Err(JwtConfigError::RuleWithoutKey("issuer"))
        ));
        let empty_audience = JwtConfig {
            secret: Some("x".repeat(32)),
            audience: Some(String::new()),
            ..JwtConfig::default()
        };
        assert!(matches!(
            empty_audience.fixed_verifier(),
            Err(JwtConfigError::EmptyRule("audience"))
        ));
    }
}
