//! JWT verification: HS256 with a shared secret by default, or RS256/ES256 (and
//! relatives) with a public key. `alg: none` is never accepted; `exp` is required of
//! TaskHub's own tokens (Mercure's, checked by the same [`Verifier`], may omit it).

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::de::DeserializeOwned;

/// How tokens are checked, from `--jwt-secret`, `--jwt-public-key` and `--jwt-algorithms`.
#[derive(Clone, Debug, Default)]
pub struct JwtConfig {
    /// Shared secret for the HS* algorithms.
    pub secret: Option<String>,
    /// A PEM public key (RSA or EC) for the RS*, PS* and ES* algorithms.
    pub public_key_pem: Option<Vec<u8>>,
    /// Accepted algorithms; empty means the key's usual one (HS256, RS256 or ES256).
    pub algorithms: Vec<String>,
}

/// The shortest HMAC secret accepted: 256 bits, the output size of HS256, below which
/// a secret can be guessed offline from any token it signed.
pub const MIN_SECRET_BYTES: usize = 32;

/// Why the JWT settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error("give either a JWT secret or a JWT public key, not both")]
    BothKeys,
    #[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes long")]
    WeakSecret,
    #[error("the JWT public key is neither an RSA nor an EC public key in PEM form")]
    BadPublicKey,
    #[error("unknown JWT algorithm {0:?}")]
    UnknownAlgorithm(String),
    #[error("JWT algorithm {0:?} does not fit the configured key")]
    AlgorithmMismatch(String),
}

/// Verifies tokens; built once at start-up.
#[derive(Clone)]
pub(crate) struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithms", &self.validation.algorithms)
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
    #[error("the token has no `exp` claim, which is required")]
    MissingExp,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's `taskhub` claim has a bad selector {0:?}")]
    BadSelector(String),
}

impl JwtConfig {
    /// The verifier, or `None` when no key is configured (authentication off).
    pub(crate) fn verifier(&self) -> Result<Option<Verifier>, JwtConfigError> {
        let (key, family): (DecodingKey, &[Algorithm]) = match (&self.secret, &self.public_key_pem)
        {
            (None, None) => return Ok(None),
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
        Ok(Some(Verifier::new(key, algorithms, true)))
    }
}

impl Verifier {
    /// Checks tokens signed with `key` by one of `algorithms`: their signature, `exp`
    /// (which `exp_required` makes mandatory) and `nbf`, with no leeway.
    pub(crate) fn new(key: DecodingKey, algorithms: Vec<Algorithm>, exp_required: bool) -> Self {
        let mut validation = Validation::new(algorithms.first().copied().unwrap_or_default());
        validation.algorithms = algorithms;
        let required: &[&str] = if exp_required { &["exp"] } else { &[] };
        validation.set_required_spec_claims(required);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.leeway = 0;
        Self { key, validation }
    }

    /// The claims of a valid token.
    pub(crate) fn decode<C: DeserializeOwned>(&self, token: &str) -> Result<C, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        decode::<C>(token, &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::Algorithm
                }
                ErrorKind::MissingRequiredClaim(_) => TokenError::MissingExp,
                _ => TokenError::Malformed,
            })
    }
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
        assert!(matches!(short.verifier(), Err(JwtConfigError::WeakSecret)));
        let mismatch = JwtConfig {
            secret: Some("x".repeat(32)),
            algorithms: vec!["RS256".into()],
            ..JwtConfig::default()
        };
        assert!(matches!(
            mismatch.verifier(),
            Err(JwtConfigError::AlgorithmMismatch(_))
        ));
        let none = JwtConfig {
            secret: Some("x".repeat(32)),
            algorithms: vec!["none".into()],
            ..JwtConfig::default()
        };
        assert!(matches!(
            none.verifier(),
            Err(JwtConfigError::UnknownAlgorithm(_))
        ));
        assert!(JwtConfig::default().verifier().is_ok_and(|v| v.is_none()));
    }
}
