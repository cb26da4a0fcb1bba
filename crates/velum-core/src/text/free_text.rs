//! Free text such as notes ([`FreeText`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{TextError, is_hidden_control};

/// Free text such as medical-summary notes: possibly empty, up to 10,000
/// characters, line breaks and tabs allowed.
///
/// Line breaks are stored as `\n`: browsers submit a text area's line breaks
/// as `\r\n`, and counting those as two characters would refuse text that fit
/// the text area's own limit.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FreeText(String);
validated_string!(FreeText, TextError);

impl FreeText {
    pub const MAX: usize = 10_000;

    /// # Errors
    /// Over 10,000 characters, or a control character other than a line
    /// break or a tab.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        let unified = s.replace("\r\n", "\n").replace('\r', "\n");
        let t = unified.trim();
        if t.chars().count() > Self::MAX {
            return Err(TextError::TooLong { max: Self::MAX });
        }
        if t.chars().any(|c| is_hidden_control(c) && !matches!(c, '\n' | '\t')) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(t.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("", "")]
    #[case("  \r\n ", "")]
    #[case("  Bruises easily. ", "Bruises easily.")]
    #[case("line 1\r\nline 2", "line 1\nline 2")]
    #[case("line 1\rline 2", "line 1\nline 2")]
    #[case("dose:\t0.5 ml", "dose:\t0.5 ml")]
    #[case(
        "مريض\u{200F} (Arabic with a right-to-left mark)",
        "مريض\u{200F} (Arabic with a right-to-left mark)"
    )]
    fn free_text_keeps_line_breaks_and_tabs(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(FreeText::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("bell\u{7}", TextError::ControlCharacter)]
    #[case("a\u{0}b", TextError::ControlCharacter)]
    #[case("a\u{2029}b", TextError::ControlCharacter)]
    #[case("a\u{202D}b", TextError::ControlCharacter)]
    fn bad_free_text_is_refused(#[case] input: &str, #[case] err: TextError) {
        assert_eq!(FreeText::parse(input), Err(err));
    }

    #[test]
    fn free_text_limit_counts_a_line_break_once() {
        let at_limit = format!("{}\r\n{}", "a".repeat(4_999), "b".repeat(5_000));
        assert_eq!(FreeText::parse(&at_limit).unwrap().as_str().chars().count(), 10_000);
        assert_eq!(
            FreeText::parse(&"a".repeat(10_001)),
            Err(TextError::TooLong { max: 10_000 })
        );
        assert_eq!(FreeText::default().as_str(), "");
    }
}
