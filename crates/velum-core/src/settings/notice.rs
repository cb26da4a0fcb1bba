//! Notice periods in whole hours ([`NoticeHours`]).

/// Why a number of hours was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    #[error("is required")]
    Empty,
    #[error("must be a whole number of hours")]
    NotANumber,
    #[error("must be at most {max} hours (four weeks)")]
    TooLong { max: u16 },
}

/// A notice period in whole hours, 0 to 672 (four weeks): how long before
/// an appointment a client may cancel without a charge, or how long before
/// it a reminder goes out (0: none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NoticeHours(u16);

impl NoticeHours {
    pub const MAX: u16 = 672;

    /// # Errors
    /// Blank, not a whole number, or over 672.
    pub fn parse(s: &str) -> Result<Self, NoticeError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(NoticeError::Empty);
        }
        // Digits only: `str::parse` would take a leading '+'.
        if !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NoticeError::NotANumber);
        }
        let n: u32 = t.parse().map_err(|_| NoticeError::TooLong { max: Self::MAX })?;
        Self::from_hours(n)
    }

    /// # Errors
    /// Over 672.
    pub fn from_hours(n: u32) -> Result<Self, NoticeError> {
        u16::try_from(n)
            .ok()
            .filter(|h| *h <= Self::MAX)
            .map(Self)
            .ok_or(NoticeError::TooLong { max: Self::MAX })
    }

    /// Only for values Velum stored after parsing them (clamped to the range).
    #[must_use]
    pub fn from_stored(n: i64) -> Self {
        Self(u16::try_from(n.clamp(0, i64::from(Self::MAX))).unwrap_or(Self::MAX))
    }

    #[must_use]
    pub const fn hours(self) -> u16 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("0", 0)]
    #[case(" 24 ", 24)]
    #[case("672", 672)]
    #[case("007", 7)]
    fn hours_are_accepted(#[case] input: &str, #[case] hours: u16) {
        assert_eq!(NoticeHours::parse(input).unwrap().hours(), hours);
    }

    #[rstest]
    #[case("", NoticeError::Empty)]
    #[case("-1", NoticeError::NotANumber)]
    #[case("+24", NoticeError::NotANumber)]
    #[case("1.5", NoticeError::NotANumber)]
    #[case("a day", NoticeError::NotANumber)]
    #[case("673", NoticeError::TooLong { max: 672 })]
    #[case("99999999999999999999", NoticeError::TooLong { max: 672 })]
    fn bad_hours_are_refused(#[case] input: &str, #[case] err: NoticeError) {
        assert_eq!(NoticeHours::parse(input), Err(err));
    }

    #[test]
    fn from_hours_and_from_stored_keep_the_range() {
        assert_eq!(NoticeHours::from_hours(48).unwrap().hours(), 48);
        assert!(NoticeHours::from_hours(673).is_err());
        assert_eq!(NoticeHours::from_stored(-3).hours(), 0);
        assert_eq!(NoticeHours::from_stored(10_000).hours(), 672);
    }
}
