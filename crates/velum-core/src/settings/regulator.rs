//! Who a clinic is registered with ([`Regulator`], [`RegistrationNumber`]).
//!
//! DOMAIN C5: clinics doing regulated activities (surgical procedures, the
//! treatment of disease, disorder or injury) register with the health care
//! regulator of their nation: the CQC in England, Healthcare Improvement
//! Scotland, Healthcare Inspectorate Wales, or the RQIA in Northern Ireland.
//! DOMAIN C4: a local-authority licence for non-surgical cosmetic procedures
//! (Health and Care Act 2022 s.180) is expected but not yet in force; the
//! licensing authority and licence number are kept for when it is.

/// Why a regulator was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegulatorError {
    #[error("must be one of CQC, HIS, HIW or RQIA")]
    Unknown,
}

/// The health care regulator a clinic is registered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regulator {
    /// Care Quality Commission (England).
    Cqc,
    /// Healthcare Improvement Scotland.
    His,
    /// Healthcare Inspectorate Wales.
    Hiw,
    /// Regulation and Quality Improvement Authority (Northern Ireland).
    Rqia,
}

impl Regulator {
    pub const ALL: [Regulator; 4] = [Regulator::Cqc, Regulator::His, Regulator::Hiw, Regulator::Rqia];

    /// The stored and API value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Regulator::Cqc => "cqc",
            Regulator::His => "his",
            Regulator::Hiw => "hiw",
            Regulator::Rqia => "rqia",
        }
    }

    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Regulator::Cqc => "Care Quality Commission (England)",
            Regulator::His => "Healthcare Improvement Scotland",
            Regulator::Hiw => "Healthcare Inspectorate Wales",
            Regulator::Rqia => "RQIA (Northern Ireland)",
        }
    }

    /// # Errors
    /// Not one of the four (case and spaces ignored).
    pub fn parse(s: &str) -> Result<Self, RegulatorError> {
        let t = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == t)
            .ok_or(RegulatorError::Unknown)
    }
}

/// Why a registration or licence number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationNumberError {
    #[error("is required")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("may only contain letters, digits, spaces, hyphens and slashes")]
    BadCharacter,
}

/// A registration or licence number as the regulator or council issued it
/// (a CQC location id is like `1-123456789`): ASCII letters, digits, spaces,
/// hyphens and slashes, 1 to 40 characters, stored trimmed and upper case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationNumber(String);

impl RegistrationNumber {
    pub const MAX: usize = 40;

    /// # Errors
    /// Blank, too long, or another character.
    pub fn parse(s: &str) -> Result<Self, RegistrationNumberError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(RegistrationNumberError::Empty);
        }
        if t.chars().count() > Self::MAX {
            return Err(RegistrationNumberError::TooLong { max: Self::MAX });
        }
        if !t.bytes().all(|b| b.is_ascii_alphanumeric() || b" -/".contains(&b)) {
            return Err(RegistrationNumberError::BadCharacter);
        }
        Ok(Self(t.to_ascii_uppercase()))
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

    #[test]
    fn regulators_round_trip() {
        for r in Regulator::ALL {
            assert_eq!(Regulator::parse(r.as_str()), Ok(r));
            assert!(!r.label().is_empty());
        }
        assert_eq!(Regulator::parse(" CQC "), Ok(Regulator::Cqc));
        assert_eq!(Regulator::parse("ofsted"), Err(RegulatorError::Unknown));
        assert_eq!(Regulator::parse(""), Err(RegulatorError::Unknown));
    }

    #[rstest]
    #[case(" 1-123456789 ", "1-123456789")]
    #[case("lic/2026/0042", "LIC/2026/0042")]
    #[case("HIW 00123", "HIW 00123")]
    fn numbers_are_trimmed_and_upper_cased(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(RegistrationNumber::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", RegistrationNumberError::Empty)]
    #[case("1-123<script>", RegistrationNumberError::BadCharacter)]
    #[case("1\n2", RegistrationNumberError::BadCharacter)]
    #[case("№123", RegistrationNumberError::BadCharacter)]
    fn bad_numbers_are_refused(#[case] input: &str, #[case] err: RegistrationNumberError) {
        assert_eq!(RegistrationNumber::parse(input), Err(err));
    }

    #[test]
    fn at_most_forty_characters() {
        assert!(RegistrationNumber::parse(&"1".repeat(40)).is_ok());
        assert_eq!(
            RegistrationNumber::parse(&"1".repeat(41)),
            Err(RegistrationNumberError::TooLong { max: 40 })
        );
    }
}
