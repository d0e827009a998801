//! Tokens for the tests that sign their own: the clock, and `alg: none` forgeries.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// Seconds since 1970.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// `alg: none`, signature empty.
pub(crate) fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        encode_url(br#"{"alg":"none","typ":"JWT"}"#),
        encode_url(claims.to_string().as_bytes())
    )
}

/// Just enough base64url (unpadded) for the `alg: none` token.
fn encode_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
