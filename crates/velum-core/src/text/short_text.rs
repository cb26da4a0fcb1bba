//! One short entry ([`ShortText`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{TextError, single_line};

/// One short entry: an allergy, a medication, a condition (and elsewhere, a
/// clinic's name). Trimmed, 1 to 200 characters, one line.
#[derive(Clone, PartialEq, Eq)]
pub struct ShortText(String);
validated_string!(ShortText, TextError);

impl ShortText {
    pub const MAX: usize = 200;

    /// # Errors
    /// Blank, over 200 characters, or a control character (a line break
    /// included: one entry is one line).
    pub fn parse(s: &str) -> Result<Self, TextError> {
        single_line(s, 1, Self::MAX).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("Penicillin", "Penicillin")]
    #[case("  Latex ", "Latex")]
    #[case("Isotretinoin (Roaccutane) 20 mg", "Isotretinoin (Roaccutane) 20 mg")]
    fn short_text_entries_are_trimmed(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(ShortText::parse(input).unwrap().as_str(), stored);
    }

    proptest! {
        #[test]
        fn single_line_text_within_limits_is_accepted(s in "[^\\p{C}\\p{Zl}\\p{Zp}]{0,120}") {
            let trimmed = s.trim();
            match ShortText::parse(&s) {
                Ok(t) => prop_assert_eq!(t.as_str(), trimmed),
                Err(e) => prop_assert!(trimmed.is_empty() && e == TextError::Empty),
            }
        }
    }
}
