//! A date of birth ([`DateOfBirth`]).

use std::fmt;

use jiff::civil::Date;
use serde::Serialize;

/// Why a date of birth was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateOfBirthError {
    #[error("is required")]
    Empty,
    /// Not in an accepted format, or not a real date (31/02/2000).
    #[error("must be a date, like 1985-04-23")]
    Invalid,
    #[error("cannot be in the future")]
    InFuture,
    /// Before 1 January 1900: a typo for a recent year, not a living client.
    #[error("cannot be before 1900")]
    TooEarly,
}

/// A date of birth: a real calendar date, not after "today", not before
/// 1 January 1900.
///
/// "Today" is an argument, never read from a clock here (G1), so this type
/// has no `Deserialize`: deserialising would have no "today" to check
/// against. Serialised as `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DateOfBirth(Date);
redacted_debug!(DateOfBirth);

impl DateOfBirth {
    const EARLIEST: Date = jiff::civil::date(1900, 1, 1);

    /// Accepts `YYYY-MM-DD` (what `<input type="date">` sends) and the UK's
    /// `DD/MM/YYYY`, also written `D/M/YYYY`. Two-digit years are refused:
    /// "01/02/03" has no safe reading.
    ///
    /// # Errors
    /// Blank, not a real date in an accepted format, after `today`, or
    /// before 1900.
    pub fn parse(s: &str, today: Date) -> Result<Self, DateOfBirthError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DateOfBirthError::Empty);
        }
        let date = parse_date(s).ok_or(DateOfBirthError::Invalid)?;
        if date > today {
            return Err(DateOfBirthError::InFuture);
        }
        if date < Self::EARLIEST {
            return Err(DateOfBirthError::TooEarly);
        }
        Ok(Self(date))
    }

    #[must_use]
    pub fn as_date(&self) -> Date {
        self.0
    }

    /// Only for dates read back from Velum's own store, which were parsed on
    /// the way in (no re-validation: "today" has moved on since).
    #[must_use]
    pub fn from_date_stored(date: Date) -> Self {
        Self(date)
    }

    /// Age in whole years on `on`: the number of birthdays had by then.
    ///
    /// Someone born on 29 February has their birthday on 1 March in other
    /// years, the usual reading in UK law (a person attains an age at the
    /// start of the anniversary of their birth, and a non-leap year has no
    /// 29 February). For the under-18 rules this is the cautious reading: it
    /// never makes anyone 18 a day early. Negative if `on` is before the
    /// birth.
    #[must_use]
    pub fn age_on(&self, on: Date) -> i16 {
        let years = on.year() - self.0.year();
        // (month, day) order is calendar order, and (2, 29) sorts after
        // (2, 28), so a leap-day birthday is "not yet" until 1 March.
        if (on.month(), on.day()) < (self.0.month(), self.0.day()) {
            years - 1
        } else {
            years
        }
    }

    /// `YYYY-MM-DD`.
    #[must_use]
    pub fn to_iso(&self) -> String {
        self.0.strftime("%Y-%m-%d").to_string()
    }
}

impl Serialize for DateOfBirth {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_iso())
    }
}

/// `YYYY-MM-DD` (two-digit month and day, as ISO 8601 requires), or
/// `DD/MM/YYYY` with one- or two-digit day and month. `None` for anything
/// else, including impossible dates.
fn parse_date(s: &str) -> Option<Date> {
    let (year, month, day) = if let Some((y, rest)) = s.split_once('-') {
        let (m, d) = rest.split_once('-')?;
        (number(y, 4, 4)?, number(m, 2, 2)?, number(d, 2, 2)?)
    } else {
        let (d, rest) = s.split_once('/')?;
        let (m, y) = rest.split_once('/')?;
        (number(y, 4, 4)?, number(m, 1, 2)?, number(d, 1, 2)?)
    };
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// `min..=max` ASCII digits as a number. `str::parse` is not used because it
/// accepts a leading '+'.
fn number(s: &str, min: usize, max: usize) -> Option<i16> {
    if !(min..=max).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0, |n, b| n * 10 + i16::from(b - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;
    use rstest::rstest;

    /// A fixed "today": nothing here reads a clock (G1).
    fn today() -> Date {
        date(2025, 6, 15)
    }

    /// A date from 1900-01-01 to `today()`.
    fn any_birth_date() -> impl Strategy<Value = Date> {
        let span = date(1900, 1, 1).until(today()).unwrap().get_days();
        (0..=span).prop_map(|days| date(1900, 1, 1).checked_add(jiff::Span::new().days(days)).unwrap())
    }

    /// The age rule written out the long way: the number of birthdays on or
    /// before `on`, a 29 February birthday falling on 1 March in other years.
    fn age_by_counting(dob: Date, on: Date) -> i16 {
        let birthday = |year: i16| Date::new(year, dob.month(), dob.day()).unwrap_or_else(|_| date(year, 3, 1));
        let mut age = 0;
        while birthday(dob.year() + age + 1) <= on {
            age += 1;
        }
        age
    }

    #[rstest]
    #[case("1985-04-23", "1985-04-23")]
    #[case(" 1985-04-23 ", "1985-04-23")]
    #[case("23/04/1985", "1985-04-23")]
    #[case("03/04/1985", "1985-04-03")]
    #[case("3/4/1985", "1985-04-03")]
    #[case("29/02/2000", "2000-02-29")]
    #[case("1900-01-01", "1900-01-01")] // the earliest allowed
    #[case("2025-06-15", "2025-06-15")] // born today
    #[case("15/6/2025", "2025-06-15")]
    fn dates_of_birth_are_accepted(#[case] input: &str, #[case] iso: &str) {
        assert_eq!(DateOfBirth::parse(input, today()).unwrap().to_iso(), iso);
    }

    #[rstest]
    #[case("", DateOfBirthError::Empty)]
    #[case("  ", DateOfBirthError::Empty)]
    #[case("31/02/2000", DateOfBirthError::Invalid)]
    #[case("29/02/2001", DateOfBirthError::Invalid)]
    #[case("2000-02-30", DateOfBirthError::Invalid)]
    #[case("2000-13-01", DateOfBirthError::Invalid)]
    #[case("00/01/2000", DateOfBirthError::Invalid)]
    #[case("1985-4-23", DateOfBirthError::Invalid)] // ISO needs two-digit months
    #[case("85-04-23", DateOfBirthError::Invalid)]
    #[case("23/04/85", DateOfBirthError::Invalid)] // two-digit years are ambiguous
    #[case("123/04/1985", DateOfBirthError::Invalid)]
    #[case("23-04-1985", DateOfBirthError::Invalid)]
    #[case("1985/04/23", DateOfBirthError::Invalid)]
    #[case("23/04/1985/1", DateOfBirthError::Invalid)]
    #[case("+985-04-23", DateOfBirthError::Invalid)]
    #[case("1985-04-23T00:00", DateOfBirthError::Invalid)]
    #[case("23 April 1985", DateOfBirthError::Invalid)]
    #[case("yesterday", DateOfBirthError::Invalid)]
    #[case("٢٣/٠٤/١٩٨٥", DateOfBirthError::Invalid)] // Arabic-Indic digits
    #[case("2025-06-16", DateOfBirthError::InFuture)]
    #[case("16/06/2025", DateOfBirthError::InFuture)]
    #[case("9999-12-31", DateOfBirthError::InFuture)]
    #[case("1899-12-31", DateOfBirthError::TooEarly)]
    #[case("01/01/1000", DateOfBirthError::TooEarly)]
    #[case("0000-01-01", DateOfBirthError::TooEarly)]
    fn bad_dates_of_birth_are_refused(#[case] input: &str, #[case] err: DateOfBirthError) {
        assert_eq!(DateOfBirth::parse(input, today()), Err(err));
    }

    #[rstest]
    #[case("1985-04-23", date(2025, 4, 22), 39)]
    #[case("1985-04-23", date(2025, 4, 23), 40)]
    #[case("1985-04-23", date(1985, 4, 23), 0)]
    #[case("1985-04-23", date(1985, 4, 22), -1)]
    #[case("2007-06-16", date(2025, 6, 15), 17)] // 18 tomorrow
    #[case("2007-06-15", date(2025, 6, 15), 18)]
    // Born on 29 February: the birthday is 1 March in other years.
    #[case("2008-02-29", date(2026, 2, 28), 17)]
    #[case("2008-02-29", date(2026, 3, 1), 18)]
    #[case("2008-02-29", date(2024, 2, 28), 15)]
    #[case("2008-02-29", date(2024, 2, 29), 16)]
    fn age_counts_birthdays(#[case] dob: &str, #[case] on: Date, #[case] age: i16) {
        let dob = DateOfBirth::parse(dob, date(2100, 1, 1)).unwrap();
        assert_eq!(dob.age_on(on), age);
    }

    #[test]
    fn a_stored_date_round_trips() {
        let d = date(1985, 4, 23);
        let dob = DateOfBirth::from_date_stored(d);
        assert_eq!(dob.as_date(), d);
        assert_eq!(dob.to_iso(), "1985-04-23");
        assert_eq!(DateOfBirth::parse(&dob.to_iso(), today()), Ok(dob));
    }

    proptest! {
        #[test]
        fn every_way_of_writing_a_date_gives_one_value(d in any_birth_date()) {
            let iso = DateOfBirth::parse(&d.to_string(), today()).unwrap();
            prop_assert_eq!(iso.as_date(), d);
            prop_assert_eq!(iso.to_iso(), d.to_string());
            let uk = format!("{:02}/{:02}/{}", d.day(), d.month(), d.year());
            prop_assert_eq!(DateOfBirth::parse(&uk, today()), Ok(iso));
            let short = format!("{}/{}/{}", d.day(), d.month(), d.year());
            prop_assert_eq!(DateOfBirth::parse(&short, today()), Ok(iso));
        }

        #[test]
        fn age_counts_birthdays_had(dob in any_birth_date(), on in any_birth_date()) {
            let parsed = DateOfBirth::from_date_stored(dob);
            if on >= dob {
                prop_assert_eq!(parsed.age_on(on), age_by_counting(dob, on));
            } else {
                prop_assert!(parsed.age_on(on) < 0);
            }
        }

        /// The age goes up on the birthday itself, not a day early or late
        /// (random pairs of dates rarely land on one).
        #[test]
        fn age_goes_up_on_each_birthday(dob in any_birth_date(), years in 0i16..=120) {
            let parsed = DateOfBirth::from_date_stored(dob);
            let year = dob.year() + years;
            let birthday = Date::new(year, dob.month(), dob.day()).unwrap_or_else(|_| date(year, 3, 1));
            prop_assert_eq!(parsed.age_on(birthday), years);
            prop_assert_eq!(parsed.age_on(birthday.yesterday().unwrap()), years - 1);
        }
    }
}
