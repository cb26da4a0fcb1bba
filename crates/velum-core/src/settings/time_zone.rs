//! The clinic's time zone ([`ClinicTimeZone`]).

use std::sync::LazyLock;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::{TimeZone, TimeZoneDatabase};

/// The zone database bundled into the binary, so every machine agrees on
/// when the clocks change and nothing here reads a file (G1).
static ZONES: LazyLock<TimeZoneDatabase> = LazyLock::new(TimeZoneDatabase::bundled);

/// Why a time zone was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeZoneError {
    #[error("is required")]
    Empty,
    #[error("must be a time zone name from the IANA database, like Europe/London")]
    Unknown,
}

/// A clinic's time zone: an IANA name ("Europe/London", "Europe/Dublin")
/// from the bundled zone database. Clinic-local dates ("today", a client's
/// age) are taken in it. Stored as the database's own spelling of the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClinicTimeZone {
    name: String,
    tz: TimeZone,
}

impl ClinicTimeZone {
    /// The zone of a clinic that has not chosen one.
    pub const DEFAULT: &'static str = "Europe/London";

    /// # Errors
    /// Blank, or not a name in the zone database.
    pub fn parse(s: &str) -> Result<Self, TimeZoneError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(TimeZoneError::Empty);
        }
        // Names are ASCII; anything else (or a path) is not one of them.
        if !t.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b)) || t.starts_with('/') {
            return Err(TimeZoneError::Unknown);
        }
        let tz = ZONES.get(t).map_err(|_| TimeZoneError::Unknown)?;
        let name = tz.iana_name().unwrap_or(t).to_owned();
        Ok(Self { name, tz })
    }

    /// Europe/London.
    #[must_use]
    pub fn london() -> Self {
        Self::parse(Self::DEFAULT).unwrap_or_else(|_| Self {
            name: Self::DEFAULT.to_owned(),
            tz: TimeZone::UTC,
        })
    }

    /// Only for a name Velum stored after parsing it. A name the bundled
    /// database no longer knows falls back to Europe/London rather than
    /// locking the clinic out.
    #[must_use]
    pub fn from_stored(s: &str) -> Self {
        Self::parse(s).unwrap_or_else(|_| Self::london())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// Instant `t` as clinic staff read it, e.g. "3 Mar 2026, 14:05".
    #[must_use]
    pub fn show(&self, t: Timestamp) -> String {
        t.to_zoned(self.tz.clone()).strftime("%-d %b %Y, %H:%M").to_string()
    }

    /// The civil date at the clinic at instant `t`.
    #[must_use]
    pub fn date_at(&self, t: Timestamp) -> Date {
        t.to_zoned(self.tz.clone()).date()
    }
}

impl Default for ClinicTimeZone {
    fn default() -> Self {
        Self::london()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use rstest::rstest;

    #[rstest]
    #[case("Europe/London", "Europe/London")]
    #[case(" Europe/Dublin ", "Europe/Dublin")]
    #[case("europe/london", "Europe/London")]
    #[case("UTC", "UTC")]
    #[case("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires")]
    fn zone_names_are_accepted(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(ClinicTimeZone::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", TimeZoneError::Empty)]
    #[case("  ", TimeZoneError::Empty)]
    #[case("Europe/Narnia", TimeZoneError::Unknown)]
    #[case("London", TimeZoneError::Unknown)]
    #[case("/etc/passwd", TimeZoneError::Unknown)]
    #[case("../../etc/passwd", TimeZoneError::Unknown)]
    #[case("Europe/Londön", TimeZoneError::Unknown)]
    fn other_names_are_refused(#[case] input: &str, #[case] err: TimeZoneError) {
        assert_eq!(ClinicTimeZone::parse(input), Err(err));
    }

    #[test]
    fn the_date_follows_the_zone_across_midnight() {
        // 23:30 UTC on 30 June: already 1 July in London (BST) and Tokyo,
        // still 30 June in New York.
        let t: Timestamp = "2026-06-30T23:30:00Z".parse().unwrap();
        assert_eq!(ClinicTimeZone::london().date_at(t), date(2026, 7, 1));
        assert_eq!(ClinicTimeZone::parse("UTC").unwrap().date_at(t), date(2026, 6, 30));
        assert_eq!(
            ClinicTimeZone::parse("America/New_York").unwrap().date_at(t),
            date(2026, 6, 30)
        );
        // In winter London is on UTC.
        let w: Timestamp = "2026-12-31T23:30:00Z".parse().unwrap();
        assert_eq!(ClinicTimeZone::london().date_at(w), date(2026, 12, 31));
    }

    #[test]
    fn default_and_stored_fallback_are_london() {
        assert_eq!(ClinicTimeZone::default().as_str(), "Europe/London");
        assert_eq!(ClinicTimeZone::from_stored("Gone/Zone").as_str(), "Europe/London");
        assert_eq!(ClinicTimeZone::from_stored("Europe/Paris").as_str(), "Europe/Paris");
    }
}
