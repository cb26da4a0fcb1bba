//! A line of a postal address ([`AddressLine`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{TextError, single_line};

/// A line of a postal address: trimmed, 1 to 200 characters, no control
/// characters.
#[derive(Clone, PartialEq, Eq)]
pub struct AddressLine(String);
validated_string!(AddressLine, TextError);

impl AddressLine {
    pub const MAX: usize = 200;

    /// # Errors
    /// Blank, over 200 characters, or a control character.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        single_line(s, 1, Self::MAX).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("  12 High Street ", "12 High Street")]
    #[case("Flat 3, 14–16 Rue de l'Église", "Flat 3, 14–16 Rue de l'Église")]
    #[case("شارع الملك فهد", "شارع الملك فهد")]
    fn address_lines_are_trimmed(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(AddressLine::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", TextError::Empty)]
    #[case(" \t ", TextError::Empty)]
    #[case("12\nHigh Street", TextError::ControlCharacter)]
    #[case("12\tHigh Street", TextError::ControlCharacter)]
    #[case("12 High\u{0} Street", TextError::ControlCharacter)]
    #[case("12 High\u{85}Street", TextError::ControlCharacter)] // C1 next-line
    #[case("12 High\u{2028}Street", TextError::ControlCharacter)] // line separator
    #[case("\u{202E}teertS hgiH 21", TextError::ControlCharacter)] // right-to-left override
    #[case("12 \u{2066}High\u{2069} Street", TextError::ControlCharacter)] // isolates
    fn bad_address_lines_are_refused(#[case] input: &str, #[case] err: TextError) {
        assert_eq!(AddressLine::parse(input), Err(err));
    }
}
