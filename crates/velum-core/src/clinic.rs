//! A clinic's lifecycle status and its name.

use std::fmt;
use std::str::FromStr;

use crate::text::{ShortText, TextError};

/// Where a clinic is in its life. Stored as text in `clinics.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClinicStatus {
    /// Staff can sign in and work.
    Active,
    /// Its provider stopped it: nobody can sign in until it is reactivated.
    Suspended,
    /// It left: its data and keys are gone, only its tombstone row is left.
    Offboarded,
}

impl ClinicStatus {
    pub const ALL: [ClinicStatus; 3] = [ClinicStatus::Active, ClinicStatus::Suspended, ClinicStatus::Offboarded];

    /// The stored text.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ClinicStatus::Active => "active",
            ClinicStatus::Suspended => "suspended",
            ClinicStatus::Offboarded => "offboarded",
        }
    }

    #[must_use]
    pub const fn is_active(self) -> bool {
        matches!(self, ClinicStatus::Active)
    }

    #[must_use]
    pub const fn is_suspended(self) -> bool {
        matches!(self, ClinicStatus::Suspended)
    }

    #[must_use]
    pub const fn is_offboarded(self) -> bool {
        matches!(self, ClinicStatus::Offboarded)
    }
}

impl fmt::Display for ClinicStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text is not a clinic status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be one of active, suspended, offboarded")]
pub struct UnknownClinicStatus;

impl FromStr for ClinicStatus {
    type Err = UnknownClinicStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClinicStatus::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(UnknownClinicStatus)
    }
}

/// A clinic's name: one line, 1 to 200 characters, trimmed (the rules of
/// [`ShortText`]). No two clinics that have not been offboarded share one,
/// compared without case ([`ClinicName::key`]); the database decides that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClinicName(ShortText);

impl ClinicName {
    /// # Errors
    /// As [`ShortText::parse`].
    pub fn parse(s: &str) -> Result<Self, TextError> {
        ShortText::parse(s).map(Self)
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// What two names are compared by: trimmed, lower case.
    #[must_use]
    pub fn key(&self) -> String {
        self.as_str().trim().to_lowercase()
    }
}

impl fmt::Display for ClinicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text_and_nothing_else_parses() {
        for s in ClinicStatus::ALL {
            assert_eq!(s.as_str().parse::<ClinicStatus>(), Ok(s));
        }
        assert_eq!("Active".parse::<ClinicStatus>(), Err(UnknownClinicStatus));
        assert_eq!("".parse::<ClinicStatus>(), Err(UnknownClinicStatus));
        assert!(ClinicStatus::Active.is_active() && !ClinicStatus::Suspended.is_active());
        assert!(ClinicStatus::Suspended.is_suspended() && !ClinicStatus::Offboarded.is_suspended());
        assert!(ClinicStatus::Offboarded.is_offboarded() && !ClinicStatus::Active.is_offboarded());
    }

    #[test]
    fn clinic_names_are_short_single_lines_compared_without_case() {
        let a = ClinicName::parse("  Harley Skin  ").unwrap();
        assert_eq!(a.as_str(), "Harley Skin");
        assert_eq!(a.key(), ClinicName::parse("HARLEY SKIN").unwrap().key());
        assert_eq!(ClinicName::parse("   "), Err(TextError::Empty));
        assert_eq!(ClinicName::parse("a\nb"), Err(TextError::ControlCharacter));
        assert!(ClinicName::parse(&"x".repeat(201)).is_err());
    }
}
