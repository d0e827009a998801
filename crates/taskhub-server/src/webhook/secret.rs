//! The signing secret (`--webhook-secret`) and the Standard Webhooks signature.
//!
//! A secret is written `whsec_` and the base64 of 24 to 64 random bytes. Each request is
//! signed over `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 keyed by the
//! decoded bytes, and the signature sent as `v1,` and its base64
//! (<https://www.standardwebhooks.com/>).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A decoded signing secret. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub(crate) struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// Why a `--webhook-secret` was refused (the secret itself is never repeated).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseSecretError {
    #[error(
        "--webhook-secret must start with whsec_ followed by base64 (a Standard Webhooks \
         secret, e.g. whsec_$(head -c 32 /dev/urandom | base64))"
    )]
    Prefix,
    #[error("--webhook-secret: the part after whsec_ is not valid base64")]
    Base64,
    #[error(
        "--webhook-secret must decode to {min} to {max} bytes, got {0}",
        min = WebhookSecret::MIN_BYTES,
        max = WebhookSecret::MAX_BYTES
    )]
    Length(usize),
}

impl WebhookSecret {
    /// The Standard Webhooks specification's bounds on a secret's size.
    pub(crate) const MIN_BYTES: usize = 24;
    pub(crate) const MAX_BYTES: usize = 64;

    pub(crate) fn parse(text: &str) -> Result<Self, ParseSecretError> {
        let encoded = text
            .strip_prefix("whsec_")
            .ok_or(ParseSecretError::Prefix)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| ParseSecretError::Base64)?;
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&bytes.len()) {
            return Err(ParseSecretError::Length(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The `webhook-signature` header's value for one attempt.
    pub(crate) fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector the Standard Webhooks reference libraries check themselves against.
    #[test]
    fn the_specification_test_vector_reproduces_exactly() {
        let secret =
            WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_changed_id_timestamp_or_body_changes_the_signature() {
        let secret =
            WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let base = secret.sign("1", 10, b"{}");
        assert_ne!(base, secret.sign("2", 10, b"{}"));
        assert_ne!(base, secret.sign("1", 11, b"{}"));
        assert_ne!(base, secret.sign("1", 10, b"{ }"));
    }

    #[test]
    fn malformed_secrets_are_refused_without_repeating_them() {
        assert_eq!(
            WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").err(),
            Some(ParseSecretError::Prefix)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_not base64!").err(),
            Some(ParseSecretError::Base64)
        );
        assert_eq!(
            WebhookSecret::parse("whsec_c2hvcnQ=").err(),
            Some(ParseSecretError::Length(5))
        );
        let message = WebhookSecret::parse("whsec_c2hvcnQ=")
            .err()
            .map(|e| e.to_string());
        assert!(message.is_some_and(|m| !m.contains("c2hvcnQ")));
        assert_eq!(
            format!("{:?}", WebhookSecret(vec![1; 32])),
            "WebhookSecret(…)"
        );
    }
}
