//! Parsing a JWKS document (RFC 7517) into the keys TaskHub verifies with. Each key's
//! algorithm comes from the key itself (its `kty`, `crv` and `alg`), never from a token:
//! an RSA key verifies RS256 (or the RS*/PS* its `alg` names), a P-256 key ES256, a P-384
//! key ES384, an Ed25519 key EdDSA. Symmetric (`oct`) keys, encryption keys (`use: enc`)
//! and keys of other types are skipped: a published key set never holds a secret, and
//! an HMAC key taken from one would let anyone who read it sign tokens.
//!
//! The document is bounded ([`MAX_DOCUMENT_BYTES`], [`MAX_KEYS`]): a provider's set holds
//! a handful of keys, and a set read over the network must not grow without bound.

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// Largest JWKS document read. Real sets are a few KiB (Entra's, among the largest, is
/// under 20 KiB).
pub(crate) const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Most keys a document may list. Providers publish two to ten (current, next, retired).
pub(crate) const MAX_KEYS: usize = 32;

/// One usable key.
#[derive(Clone)]
pub(crate) struct Jwk {
    /// The key's `kid`, which a token names in its header.
    pub(crate) kid: Option<String>,
    /// The only algorithm this key verifies.
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Why a JWKS document was refused (the keys cached before it stay in use).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum JwksError {
    #[error("the document is over {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("the document is not a JWKS (a JSON object with a `keys` array): {0}")]
    NotJwks(String),
    #[error("the document lists {0} keys; at most {MAX_KEYS} are accepted")]
    TooManyKeys(usize),
    #[error("two keys share the kid {0:?}")]
    DuplicateKid(String),
    #[error("the key {kid:?} is unusable: {reason}")]
    BadKey { kid: Option<String>, reason: String },
    #[error("the document has no signature key TaskHub can use (RSA, EC P-256/P-384, Ed25519)")]
    NoUsableKey,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<RawKey>,
}

/// The members of a JWK that TaskHub reads; others are ignored.
#[derive(Deserialize)]
struct RawKey {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The usable keys of a JWKS document.
pub(crate) fn parse(document: &[u8]) -> Result<Vec<Jwk>, JwksError> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(JwksError::TooLarge);
    }
    let document: Document =
        serde_json::from_slice(document).map_err(|e| JwksError::NotJwks(e.to_string()))?;
    if document.keys.len() > MAX_KEYS {
        return Err(JwksError::TooManyKeys(document.keys.len()));
    }
    let mut keys: Vec<Jwk> = Vec::with_capacity(document.keys.len());
    for raw in document.keys {
        let Some(jwk) = usable(raw)? else { continue };
        if let Some(kid) = &jwk.kid
            && keys.iter().any(|k| k.kid.as_ref() == Some(kid))
        {
            return Err(JwksError::DuplicateKid(kid.clone()));
        }
        keys.push(jwk);
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(keys)
}

/// The key, `None` when it is not for verifying signatures with an algorithm TaskHub
/// takes, or an error when it claims to be and is malformed.
fn usable(raw: RawKey) -> Result<Option<Jwk>, JwksError> {
    if raw.usage.as_deref().is_some_and(|usage| usage != "sig") {
        return Ok(None);
    }
    let bad = |reason: &str| JwksError::BadKey {
        kid: raw.kid.clone(),
        reason: reason.to_owned(),
    };
    let named: Option<Algorithm> = match raw.alg.as_deref() {
        None => None,
        Some(name) => match name.parse() {
            Ok(alg) => Some(alg),
            // An algorithm TaskHub does not know (RSA-OAEP, a future one): not for us.
            Err(_) => return Ok(None),
        },
    };
    let (algorithm, key) = match raw.kty.as_str() {
        "RSA" => {
            let algorithm = match named {
                None => Algorithm::RS256,
                Some(
                    alg @ (Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512),
                ) => alg,
                Some(_) => return Err(bad("its `alg` is not an RSA algorithm")),
            };
            let (Some(n), Some(e)) = (&raw.n, &raw.e) else {
                return Err(bad("an RSA key needs `n` and `e`"));
            };
            let key = DecodingKey::from_rsa_components(n, e)
                .map_err(|_| bad("`n` or `e` is not base64url"))?;
            (algorithm, key)
        }
        "EC" => {
            let algorithm = match raw.crv.as_deref() {
                Some("P-256") => Algorithm::ES256,
                Some("P-384") => Algorithm::ES384,
                // P-521 (ES512) is not supported by the verifier.
                _ => return Ok(None),
            };
            if named.is_some_and(|alg| alg != algorithm) {
                return Err(bad("its `alg` does not fit its curve"));
            }
            let (Some(x), Some(y)) = (&raw.x, &raw.y) else {
                return Err(bad("an EC key needs `x` and `y`"));
            };
            let key = DecodingKey::from_ec_components(x, y)
                .map_err(|_| bad("`x` or `y` is not a point of its curve"))?;
            (algorithm, key)
        }
        "OKP" => {
            if raw.crv.as_deref() != Some("Ed25519") {
                return Ok(None);
            }
            if named.is_some_and(|alg| alg != Algorithm::EdDSA) {
                return Err(bad("its `alg` is not EdDSA"));
            }
            let Some(x) = &raw.x else {
                return Err(bad("an Ed25519 key needs `x`"));
            };
            let key =
                DecodingKey::from_ed_components(x).map_err(|_| bad("`x` is not base64url"))?;
            (Algorithm::EdDSA, key)
        }
        // `oct` (a shared secret) and anything else.
        _ => return Ok(None),
    };
    Ok(Some(Jwk {
        kid: raw.kid,
        algorithm,
        key,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RSA-2048 public key's components (the RFC 7517 appendix A.1 example).
    const N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    const X_P256: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
    const Y_P256: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
    const X_ED: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn rsa(kid: &str) -> serde_json::Value {
        serde_json::json!({"kty": "RSA", "kid": kid, "n": N, "e": "AQAB"})
    }

    #[test]
    fn each_key_type_gets_its_own_algorithm() {
        let document = serde_json::json!({"keys": [
            rsa("r"),
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": N, "e": "AQAB"},
            {"kty": "EC", "kid": "e", "crv": "P-256", "x": X_P256, "y": Y_P256},
            {"kty": "OKP", "kid": "d", "crv": "Ed25519", "x": X_ED},
        ]});
        let keys = parse(document.to_string().as_bytes()).expect("parsed");
        let algorithms: Vec<_> = keys.iter().map(|k| k.algorithm).collect();
        assert_eq!(
            algorithms,
            [
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::EdDSA
            ]
        );
    }

    #[test]
    fn secrets_encryption_keys_and_unknown_types_are_skipped() {
        let document = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "s", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "oaep", "alg": "RSA-OAEP", "n": N, "e": "AQAB"},
            {"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"},
            rsa("kept"),
        ]});
        let keys = parse(document.to_string().as_bytes()).expect("parsed");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("kept"));
        let only_secret = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert_eq!(
            parse(only_secret.to_string().as_bytes()).map(|_| ()),
            Err(JwksError::NoUsableKey)
        );
    }

    #[test]
    fn a_key_whose_alg_contradicts_its_type_is_refused() {
        for key in [
            serde_json::json!({"kty": "RSA", "kid": "k", "alg": "HS256", "n": N, "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "kid": "k", "alg": "ES256", "n": N, "e": "AQAB"}),
            serde_json::json!({"kty": "EC", "kid": "k", "alg": "ES384", "crv": "P-256", "x": X_P256, "y": Y_P256}),
            serde_json::json!({"kty": "OKP", "kid": "k", "alg": "ES256", "crv": "Ed25519", "x": X_ED}),
        ] {
            let document = serde_json::json!({ "keys": [key] });
            assert!(
                matches!(
                    parse(document.to_string().as_bytes()),
                    Err(JwksError::BadKey { .. })
                ),
                "{key}"
            );
        }
    }

    #[test]
    fn the_bounds_hold() {
        let many: Vec<_> = (0..=MAX_KEYS).map(|i| rsa(&i.to_string())).collect();
        let document = serde_json::json!({ "keys": many });
        assert_eq!(
            parse(document.to_string().as_bytes()).map(|_| ()),
            Err(JwksError::TooManyKeys(MAX_KEYS + 1))
        );
        let padded = format!(
            "{{\"keys\": [{}], \"pad\": \"{}\"}}",
            rsa("a"),
            "x".repeat(MAX_DOCUMENT_BYTES)
        );
        assert_eq!(
            parse(padded.as_bytes()).map(|_| ()),
            Err(JwksError::TooLarge)
        );
        let twice = serde_json::json!({"keys": [rsa("a"), rsa("a")]});
        assert_eq!(
            parse(twice.to_string().as_bytes()).map(|_| ()),
            Err(JwksError::DuplicateKid("a".into()))
        );
        for garbage in ["", "[]", "{}", "{\"keys\": 1}", "{\"keys\": [{}]}"] {
            assert!(
                matches!(parse(garbage.as_bytes()), Err(JwksError::NotJwks(_))),
                "{garbage}"
            );
        }
    }
}
