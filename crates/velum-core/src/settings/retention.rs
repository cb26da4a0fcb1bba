//! A clinic's longer retention periods ([`RetentionYears`], DOMAIN F34, F36).

/// What a retention period applies to, and its statutory minimum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetentionKind {
    /// Clinical records: at least 8 years after the last clinical contact
    /// for adults (DOMAIN B2, F34).
    Clinical,
    /// Invoices and payments: at least 6 years (DOMAIN B8, F36).
    Financial,
}

impl RetentionKind {
    /// The shortest period the law or the NHS code allows, in years.
    #[must_use]
    pub const fn minimum_years(self) -> u8 {
        match self {
            RetentionKind::Clinical => 8,
            RetentionKind::Financial => 6,
        }
    }
}

/// Why a retention period was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RetentionError {
    #[error("must be a whole number of years")]
    NotANumber,
    #[error("cannot be shorter than the minimum of {min} years; a clinic may keep records longer, never shorter")]
    ShorterThanMinimum { min: u8 },
    #[error("must be at most {max} years")]
    TooLong { max: u8 },
}

/// A clinic's own retention period, in whole years: only ever longer than
/// (or equal to) the statutory minimum of its kind, never shorter (DOMAIN
/// F34: "a clinic may configure longer periods but not shorter"), and at
/// most 100 years.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionYears(u8);

impl RetentionYears {
    pub const MAX: u8 = 100;

    /// # Errors
    /// Not a whole number, under the kind's minimum, or over 100.
    pub fn parse(kind: RetentionKind, s: &str) -> Result<Self, RetentionError> {
        let t = s.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RetentionError::NotANumber);
        }
        let n: u32 = t.parse().map_err(|_| RetentionError::TooLong { max: Self::MAX })?;
        Self::from_years(kind, n)
    }

    /// # Errors
    /// Under the kind's minimum, or over 100.
    pub fn from_years(kind: RetentionKind, n: u32) -> Result<Self, RetentionError> {
        let min = kind.minimum_years();
        if n < u32::from(min) {
            return Err(RetentionError::ShorterThanMinimum { min });
        }
        u8::try_from(n)
            .ok()
            .filter(|y| *y <= Self::MAX)
            .map(Self)
            .ok_or(RetentionError::TooLong { max: Self::MAX })
    }

    /// A stored value, read back. A value under the minimum (which `parse`
    /// never lets in) is raised to it: retention is never shortened.
    #[must_use]
    pub fn from_stored(kind: RetentionKind, n: i64) -> Self {
        let min = i64::from(kind.minimum_years());
        Self(u8::try_from(n.clamp(min, i64::from(Self::MAX))).unwrap_or(Self::MAX))
    }

    #[must_use]
    pub const fn years(self) -> u8 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    // DOMAIN F34: clinical records at least 8 years; F36: financial 6.
    #[rstest]
    #[case(RetentionKind::Clinical, "8", 8)]
    #[case(RetentionKind::Clinical, " 10 ", 10)]
    #[case(RetentionKind::Financial, "6", 6)]
    #[case(RetentionKind::Financial, "100", 100)]
    fn periods_at_or_above_the_minimum_are_accepted(
        #[case] kind: RetentionKind,
        #[case] input: &str,
        #[case] years: u8,
    ) {
        assert_eq!(RetentionYears::parse(kind, input).unwrap().years(), years);
    }

    #[rstest]
    #[case(RetentionKind::Clinical, "7", RetentionError::ShorterThanMinimum { min: 8 })]
    #[case(RetentionKind::Clinical, "0", RetentionError::ShorterThanMinimum { min: 8 })]
    #[case(RetentionKind::Financial, "5", RetentionError::ShorterThanMinimum { min: 6 })]
    #[case(RetentionKind::Clinical, "101", RetentionError::TooLong { max: 100 })]
    #[case(RetentionKind::Clinical, "-9", RetentionError::NotANumber)]
    #[case(RetentionKind::Clinical, "8.5", RetentionError::NotANumber)]
    #[case(RetentionKind::Clinical, "", RetentionError::NotANumber)]
    fn shorter_or_odd_periods_are_refused(
        #[case] kind: RetentionKind,
        #[case] input: &str,
        #[case] err: RetentionError,
    ) {
        assert_eq!(RetentionYears::parse(kind, input), Err(err));
    }

    #[test]
    fn a_stored_value_is_never_below_the_minimum() {
        assert_eq!(RetentionYears::from_stored(RetentionKind::Clinical, 3).years(), 8);
        assert_eq!(RetentionYears::from_stored(RetentionKind::Financial, 12).years(), 12);
    }

    proptest! {
        // DOMAIN F34: no accepted value is shorter than the minimum.
        #[test]
        fn nothing_shorter_than_the_minimum_is_accepted(n in 0u32..200) {
            for kind in [RetentionKind::Clinical, RetentionKind::Financial] {
                match RetentionYears::from_years(kind, n) {
                    Ok(y) => prop_assert!(y.years() >= kind.minimum_years() && u32::from(y.years()) == n),
                    Err(_) => prop_assert!(n < u32::from(kind.minimum_years()) || n > 100),
                }
            }
        }
    }
}
