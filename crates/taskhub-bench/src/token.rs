//! The mark each published event carries: `~P~S~T~` (publisher, sequence, send time).
//!
//! It is plain text with no JSON or URL special characters, so it survives every
//! server's framing unchanged (inside TaskHub's envelope, nchan's raw body, the seed's
//! double framing, a URL query), and a subscriber finds it with one byte search instead
//! of parsing JSON.

use std::fmt;

/// The delimiter; appears nowhere else in the payloads the benchmark sends.
const MARK: u8 = b'~';

/// One published event's identity and send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// Which publisher sent it (each publisher numbers its events from 0).
    pub publisher: u32,
    /// Its number within that publisher's sequence.
    pub seq: u64,
    /// When it was sent, microseconds since the Unix epoch.
    pub sent_micros: u64,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "~{}~{}~{}~", self.publisher, self.seq, self.sent_micros)
    }
}

impl Token {
    /// Finds the first token in `bytes`, if any.
    pub fn find(bytes: &[u8]) -> Option<Self> {
        let start = memchr::memchr(MARK, bytes)?;
        let mut rest = &bytes[start + 1..];
        let publisher = take_number(&mut rest)?;
        let seq = take_number(&mut rest)?;
        let sent_micros = take_number(&mut rest)?;
        Some(Self {
            publisher: u32::try_from(publisher).ok()?,
            seq,
            sent_micros,
        })
    }
}

/// Parses `digits~` off the front of `rest`.
fn take_number(rest: &mut &[u8]) -> Option<u64> {
    let end = memchr::memchr(MARK, rest)?;
    if end == 0 || end > 20 {
        return None;
    }
    let mut value: u64 = 0;
    for &b in &rest[..end] {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    *rest = &rest[end + 1..];
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_inside_any_framing() {
        let token = Token {
            publisher: 3,
            seq: 42,
            sent_micros: 1_795_521_600_123_456,
        };
        let line = format!(r#"data: data: {{"id": "x", "data": {{"status": "{token}"}}}}"#);
        assert_eq!(Token::find(line.as_bytes()), Some(token));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(Token::find(b"no mark here"), None);
        assert_eq!(Token::find(b"~1~2~"), None);
        assert_eq!(Token::find(b"~1~x~3~"), None);
        assert_eq!(Token::find(b"~~2~3~"), None);
        assert_eq!(Token::find(b"~1~99999999999999999999999~3~"), None);
    }
}
