//! `application/x-www-form-urlencoded`, decoded strictly: a value whose percent-decoded
//! bytes are not UTF-8 is refused, never patched with replacement characters.

use percent_encoding::percent_decode;

/// A pair that does not decode to UTF-8; `name` is its name when that much decoded.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct BadPair {
    pub(super) name: Option<String>,
}

/// The name-value pairs of `input`, in order (empty pairs skipped).
pub(super) fn pairs(input: &[u8]) -> Result<Vec<(String, String)>, BadPair> {
    input
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &pair[..0]),
            };
            let name = decode(name).ok_or(BadPair { name: None })?;
            let value = decode(value).ok_or_else(|| BadPair {
                name: Some(name.clone()),
            })?;
            Ok((name, value))
        })
        .collect()
}

/// `+` is a space; then percent-decoding, which must give UTF-8.
fn decode(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(percent_decode(&spaced).collect()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_a_browser_form() {
        assert_eq!(
            pairs(b"topic=https%3A%2F%2Fa%2F1&data=a+b%2Bc&private&&id=%C3%A9"),
            Ok(vec![
                ("topic".into(), "https://a/1".into()),
                ("data".into(), "a b+c".into()),
                ("private".into(), String::new()),
                ("id".into(), "é".into()),
            ])
        );
        assert_eq!(pairs(b""), Ok(vec![]));
        assert_eq!(pairs(b"data=%0A"), Ok(vec![("data".into(), "\n".into())]));
    }

    #[test]
    fn refuses_what_is_not_utf8() {
        assert_eq!(
            pairs(b"topic=a&data=%FF"),
            Err(BadPair {
                name: Some("data".into())
            })
        );
        assert_eq!(pairs(b"%C3=1"), Err(BadPair { name: None }));
        assert_eq!(
            pairs(b"data=\xff"),
            Err(BadPair {
                name: Some("data".into())
            })
        );
    }
}
