//! The one rule every Mercure string on the wire obeys: no control character, so none
//! can end an SSE line early, and a bounded length.

use icu_properties::CodePointMapData;
use icu_properties::props::GeneralCategory;

/// Why a string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} bytes, got {len}")]
    TooLong { len: usize, max: usize },
    #[error("must not contain control characters, found U+{:04X}", u32::from(*found))]
    ControlChar { found: char },
    #[error(
        "must not contain Unicode format characters (general category Cf), found U+{:04X}",
        u32::from(*found)
    )]
    FormatChar { found: char },
    #[error("{0}")]
    Reserved(&'static str),
}

/// Checks that `value` is 1 to `max` bytes without a control character (C0, DEL, C1).
pub(crate) fn check_line(value: &str, max: usize) -> Result<(), ParseTextError> {
    if let Some(found) = value.chars().find(|c| c.is_control()) {
        return Err(ParseTextError::ControlChar { found });
    }
    if value.is_empty() {
        return Err(ParseTextError::Empty);
    }
    if value.len() > max {
        return Err(ParseTextError::TooLong {
            len: value.len(),
            max,
        });
    }
    Ok(())
}

/// [`check_line`], and no Unicode format character (general category `Cf`: the
/// bidirectional and zero-width controls), which Mercure 1.0 refuses in topic matchers
/// since they are invisible and let one identifier pass for another.
pub(crate) fn check_visible_line(value: &str, max: usize) -> Result<(), ParseTextError> {
    check_line(value, max)?;
    let categories = CodePointMapData::<GeneralCategory>::new();
    match value
        .chars()
        .find(|&c| categories.get(c) == GeneralCategory::Format)
    {
        Some(found) => Err(ParseTextError::FormatChar { found }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_of_every_kind_are_refused() {
        for bad in ["a\nb", "a\rb", "\0", "a\u{7f}", "a\u{85}b", "\u{9f}"] {
            assert!(
                matches!(check_line(bad, 10), Err(ParseTextError::ControlChar { .. })),
                "{bad:?}"
            );
        }
        assert_eq!(check_line("", 10), Err(ParseTextError::Empty));
        assert_eq!(
            check_line("abc", 2),
            Err(ParseTextError::TooLong { len: 3, max: 2 })
        );
        assert_eq!(check_line("id-[\"x\"] é", 20), Ok(()));
    }

    #[test]
    fn format_characters_are_refused_where_they_must_be_visible() {
        for bad in [
            "a\u{200B}b",
            "\u{202E}abc",
            "\u{FEFF}",
            "a\u{E007F}",
            "\u{AD}",
        ] {
            assert!(check_line(bad, 10).is_ok(), "{bad:?}");
            assert!(
                matches!(
                    check_visible_line(bad, 10),
                    Err(ParseTextError::FormatChar { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check_visible_line("a\nb", 10),
            Err(ParseTextError::ControlChar { .. })
        ));
        assert_eq!(check_visible_line("é 書 🙂 ‐", 20), Ok(()));
    }
}
