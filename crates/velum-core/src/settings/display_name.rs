//! The name a clinic shows to its clients ([`DisplayName`]).

use crate::text::TextError;

/// The name the clinic shows to clients (on the booking page, in emails):
/// trimmed, 1 to 100 characters, one line, no hidden controls. Not the
/// clinic's registered name on the platform, which stays as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX: usize = 100;

    /// # Errors
    /// Blank, over 100 characters, or a control character.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        crate::text::ShortText::parse(s).and_then(|t| {
            if t.as_str().chars().count() > Self::MAX {
                Err(TextError::TooLong { max: Self::MAX })
            } else {
                Ok(Self(t.as_str().to_owned()))
            }
        })
    }

    /// Only for values Velum stored after parsing them.
    #[must_use]
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("  Bright Skin, Leeds ", "Bright Skin, Leeds")]
    #[case("Clinique Élan", "Clinique Élan")]
    fn names_are_trimmed(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(DisplayName::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", TextError::Empty)]
    #[case("Bright\nSkin", TextError::ControlCharacter)]
    #[case("\u{202E}nikS", TextError::ControlCharacter)]
    fn bad_names_are_refused(#[case] input: &str, #[case] err: TextError) {
        assert_eq!(DisplayName::parse(input), Err(err));
    }

    #[test]
    fn at_most_one_hundred_characters() {
        assert!(DisplayName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            DisplayName::parse(&"e".repeat(101)),
            Err(TextError::TooLong { max: 100 })
        );
    }
}
