//! Validated personal-data values (G2, G4). Each type is parsed once at the
//! edge, keeps its value private, and prints `<redacted>` in `Debug`, so a
//! name or phone number cannot reach a log through `{:?}`. Error messages
//! say which rule failed and never repeat the input.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

macro_rules! redacted_debug {
    ($t:ident) => {
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($t), "(<redacted>)"))
            }
        }
    };
}

macro_rules! string_type {
    ($t:ident, $err:ty) => {
        redacted_debug!($t);

        impl $t {
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Only for values read back from Velum's own store, which
            /// were parsed on the way in (no re-validation).
            #[must_use]
            pub fn from_stored(s: String) -> Self {
                Self(s)
            }
        }

        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl TryFrom<String> for $t {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is required")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("may contain letters, spaces, apostrophes, hyphens and full stops only")]
    InvalidCharacter,
}

/// A person's given or family name, in any script.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);
string_type!(PersonName, NameError);

impl PersonName {
    pub const MAX: usize = 100;

    /// # Errors
    /// Empty, too long, or a character that is not part of a name.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return Err(NameError::Empty);
        }
        if collapsed.chars().count() > Self::MAX {
            return Err(NameError::TooLong { max: Self::MAX });
        }
        // Letters and combining marks of any script (Unicode alphabetic),
        // plus the punctuation names use: O'Neill, Smith-Jones, St. John.
        let ok = collapsed
            .chars()
            .all(|c| (c.is_alphabetic() || is_mark(c) || matches!(c, ' ' | '\'' | '’' | '-' | '.')) && !c.is_numeric());
        if !ok {
            return Err(NameError::InvalidCharacter);
        }
        Ok(Self(collapsed))
    }

    /// The form used for prefix search: lower case, without apostrophes,
    /// hyphens and full stops.
    #[must_use]
    pub fn search_key(&self) -> String {
        self.0
            .to_lowercase()
            .chars()
            .filter(|c| !matches!(c, '\'' | '’' | '-' | '.'))
            .collect()
    }
}

/// Combining marks (accents typed as separate characters, Indic vowel signs).
fn is_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F | 0x0483..=0x0489 | 0x0591..=0x05BD | 0x0610..=0x061A | 0x064B..=0x065F
        | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957 | 0x0962..=0x0963 | 0x0981..=0x0983
        | 0x09BC..=0x09D7 | 0x0A01..=0x0A51 | 0x0A81..=0x0ACD | 0x0B01..=0x0B57 | 0x0BBE..=0x0BCD
        | 0x0C00..=0x0C56 | 0x0D00..=0x0D57 | 0x0E31..=0x0E3A | 0x0E47..=0x0E4E | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0x3099..=0x309A | 0xFE20..=0xFE2F)
}

/// Why an email address was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("is required")]
    Empty,
    #[error("must be at most 254 characters")]
    TooLong,
    #[error("must be an email address, like name@example.com")]
    Invalid,
}

/// An email address, lower-cased (addresses are compared without case).
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);
string_type!(EmailAddress, EmailError);

impl EmailAddress {
    /// # Errors
    /// Empty, too long, or not of the form local@domain.tld.
    pub fn parse(s: &str) -> Result<Self, EmailError> {
        let s = s.trim().to_lowercase();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.chars().count() > 254 {
            return Err(EmailError::TooLong);
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::Invalid);
        };
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.chars().count() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(s))
        } else {
            Err(EmailError::Invalid)
        }
    }
}

/// Why a mobile number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MobileError {
    #[error("is required")]
    Empty,
    #[error("must be a phone number, like 07911 123456")]
    NotANumber,
    #[error("must be a UK mobile number, like 07911 123456")]
    NotUkMobile,
}

/// A UK mobile number, stored in E.164 form (`+447911123456`).
#[derive(Clone, PartialEq, Eq)]
pub struct UkMobile(String);
string_type!(UkMobile, MobileError);

impl UkMobile {
    /// # Errors
    /// Empty, not a number, or not a valid UK mobile.
    pub fn parse(s: &str) -> Result<Self, MobileError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(MobileError::Empty);
        }
        if !t.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            return Err(MobileError::NotANumber);
        }
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        // "0044 7911 …" is the international prefix written out.
        let normalised = if t.starts_with('+') {
            format!("+{digits}")
        } else if let Some(rest) = digits.strip_prefix("00") {
            format!("+{rest}")
        } else {
            digits
        };
        let number =
            phonenumber::parse(Some(phonenumber::country::Id::GB), &normalised).map_err(|_| MobileError::NotANumber)?;
        let db = &*phonenumber::metadata::DATABASE;
        if number.code().value() != 44 || !number.is_valid() || number.number_type(db) != phonenumber::Type::Mobile {
            return Err(MobileError::NotUkMobile);
        }
        Ok(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// The national form for display: "07911 123456".
    #[must_use]
    pub fn national(&self) -> String {
        let rest = self.0.strip_prefix("+44").unwrap_or(&self.0);
        if rest.len() == 10 {
            format!("0{} {}", &rest[..4], &rest[4..])
        } else {
            self.0.clone()
        }
    }
}

/// Why a postcode was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostcodeError {
    #[error("is required")]
    Empty,
    #[error("must be a UK postcode, like SW1A 1AA")]
    Invalid,
}

/// A UK postcode, upper case with one space before the inward code.
#[derive(Clone, PartialEq, Eq)]
pub struct Postcode(String);
string_type!(Postcode, PostcodeError);

impl Postcode {
    /// # Errors
    /// Empty, or not one of the UK postcode formats.
    pub fn parse(s: &str) -> Result<Self, PostcodeError> {
        let compact: String = s
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        if compact.is_empty() {
            return Err(PostcodeError::Empty);
        }
        if !compact.is_ascii() || compact.len() < 5 || compact.len() > 7 {
            return Err(PostcodeError::Invalid);
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        if compact == "GIR0AA" || (valid_outward(outward) && valid_inward(inward)) {
            Ok(Self(format!("{outward} {inward}")))
        } else {
            Err(PostcodeError::Invalid)
        }
    }
}

/// Outward codes: A9, A99, A9A, AA9, AA99, AA9A, with the Royal Mail's
/// letter-position rules.
fn valid_outward(o: &str) -> bool {
    let c: Vec<char> = o.chars().collect();
    let first = |x: char| x.is_ascii_uppercase() && !"QVX".contains(x);
    let second = |x: char| x.is_ascii_uppercase() && !"IJZ".contains(x);
    let third = |x: char| "ABCDEFGHJKPSTUW".contains(x);
    let fourth = |x: char| "ABEHMNPRVWXY".contains(x);
    let d = |x: char| x.is_ascii_digit();
    match c.as_slice() {
        [a, b] => first(*a) && d(*b),
        [a, b, e] if d(*b) => first(*a) && (d(*e) || third(*e)),
        [a, b, e] => first(*a) && second(*b) && d(*e),
        [a, b, e, f] => first(*a) && second(*b) && d(*e) && (d(*f) || fourth(*f)),
        _ => false,
    }
}

fn valid_inward(i: &str) -> bool {
    let c: Vec<char> = i.chars().collect();
    let letter = |x: char| x.is_ascii_uppercase() && !"CIKMOV".contains(x);
    matches!(c.as_slice(), [d, a, b] if d.is_ascii_digit() && letter(*a) && letter(*b))
}

/// Why a date of birth was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DateOfBirthError {
    #[error("is required")]
    Empty,
    #[error("must be a date, like 1985-04-23 or 23/04/1985")]
    Invalid,
    #[error("cannot be in the future")]
    InFuture,
    #[error("must be after 1900")]
    TooEarly,
}

/// A date of birth: a real date, not in the future, not before 1900.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DateOfBirth(Date);
redacted_debug!(DateOfBirth);

impl DateOfBirth {
    /// # Errors
    /// Empty, not a date, in the future (after `today`), or before 1900.
    pub fn parse(s: &str, today: Date) -> Result<Self, DateOfBirthError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(DateOfBirthError::Empty);
        }
        let date = parse_date(s).ok_or(DateOfBirthError::Invalid)?;
        if date > today {
            return Err(DateOfBirthError::InFuture);
        }
        if date < jiff::civil::date(1900, 1, 1) {
            return Err(DateOfBirthError::TooEarly);
        }
        Ok(Self(date))
    }

    #[must_use]
    pub fn as_date(&self) -> Date {
        self.0
    }

    /// Only for dates read back from Velum's own store.
    #[must_use]
    pub fn from_date_stored(d: Date) -> Self {
        Self(d)
    }

    /// Whole years of age on `on`.
    #[must_use]
    pub fn age_on(&self, on: Date) -> i16 {
        let mut age = on.year() - self.0.year();
        if (on.month(), on.day()) < (self.0.month(), self.0.day()) {
            age -= 1;
        }
        age
    }

    /// `YYYY-MM-DD`.
    #[must_use]
    pub fn to_iso(&self) -> String {
        self.0.strftime("%Y-%m-%d").to_string()
    }
}

impl Serialize for DateOfBirth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

/// `YYYY-MM-DD`, or `DD/MM/YYYY` (also `D/M/YYYY`).
fn parse_date(s: &str) -> Option<Date> {
    let num = |p: &str| -> Option<i16> {
        (!p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let dashed = s.split('-').collect::<Vec<_>>();
    let (y, m, d) = if let [y, m, d] = dashed[..]
        && y.len() == 4
    {
        (num(y)?, num(m)?, num(d)?)
    } else if let [d, m, y] = dashed[..] {
        // 23-04-1985, as some people type it.
        (y.len() == 4).then_some(())?;
        (num(y)?, num(m)?, num(d)?)
    } else if let [d, m, y] = s.split('/').collect::<Vec<_>>()[..] {
        (y.len() == 4).then_some(())?;
        (num(y)?, num(m)?, num(d)?)
    } else {
        return None;
    };
    Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

/// Why free text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("is required")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("contains characters that cannot be stored")]
    ControlCharacter,
}

fn bounded(s: &str, min: usize, max: usize, allow_newlines: bool) -> Result<String, TextError> {
    let t = s.trim();
    let n = t.chars().count();
    if n < min {
        return Err(TextError::Empty);
    }
    if n > max {
        return Err(TextError::TooLong { max });
    }
    if t.chars()
        .any(|c| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(TextError::ControlCharacter);
    }
    Ok(t.to_owned())
}

/// A line of an address.
#[derive(Clone, PartialEq, Eq)]
pub struct AddressLine(String);
string_type!(AddressLine, TextError);

impl AddressLine {
    /// # Errors
    /// Empty, over 200 characters, or control characters.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        bounded(s, 1, 200, false).map(Self)
    }
}

/// A town or city.
#[derive(Clone, PartialEq, Eq)]
pub struct Town(String);
string_type!(Town, TextError);

impl Town {
    /// # Errors
    /// Empty, over 100 characters, or control characters.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        bounded(s, 1, 100, false).map(Self)
    }
}

/// One short entry: an allergy, a medication, a condition, a clinic name.
#[derive(Clone, PartialEq, Eq)]
pub struct ShortText(String);
string_type!(ShortText, TextError);

impl ShortText {
    /// # Errors
    /// Empty, over 200 characters, or control characters.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        bounded(s, 1, 200, false).map(Self)
    }
}

/// Free text, possibly empty, up to 10,000 characters; line breaks allowed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FreeText(String);
string_type!(FreeText, TextError);

impl FreeText {
    /// # Errors
    /// Over 10,000 characters, or control characters other than line breaks and tabs.
    pub fn parse(s: &str) -> Result<Self, TextError> {
        bounded(s, 0, 10_000, true).map(Self)
    }
}

/// Why a new password was refused (DOMAIN F37).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("is too common or easy to guess; try a few unrelated words")]
    TooCommon,
}

/// A new staff password: at least 12 characters, no composition rules, not
/// common or guessable (DOMAIN F37; ASVS 6.2.1, 6.2.4, 6.2.5, 6.2.9).
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);
redacted_debug!(NewPassword);

impl NewPassword {
    pub const MIN: usize = 12;
    pub const MAX: usize = 256;

    /// `user_inputs` are words a guesser would try first (the email, the
    /// product name).
    ///
    /// # Errors
    /// Too short, too long, or too easy to guess.
    pub fn parse(s: &str, user_inputs: &[&str]) -> Result<Self, PasswordError> {
        let n = s.chars().count();
        if n < Self::MIN {
            return Err(PasswordError::TooShort { min: Self::MIN });
        }
        if n > Self::MAX {
            return Err(PasswordError::TooLong { max: Self::MAX });
        }
        // zxcvbn matches the common-password and word lists, keyboard
        // patterns, dates and repeats; below "Three" is guessable in 10^10 tries.
        if zxcvbn::zxcvbn(s, user_inputs).score() < zxcvbn::Score::Three {
            return Err(PasswordError::TooCommon);
        }
        Ok(Self(s.to_owned()))
    }

    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    fn today() -> Date {
        jiff::civil::date(2026, 11, 23)
    }

    #[rstest]
    #[case("  Zoë ", "Zoë")]
    #[case("O'Neill", "O'Neill")]
    #[case("Smith-Jones", "Smith-Jones")]
    #[case("de  la   Cruz", "de la Cruz")]
    #[case("St. John", "St. John")]
    #[case("Σοφία", "Σοφία")]
    #[case("Иванова", "Иванова")]
    #[case("李", "李")]
    #[case("محمد", "محمد")]
    #[case("प्रिया", "प्रिया")]
    #[case("Siân", "Siân")]
    fn names_in_any_script_are_accepted(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(PersonName::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", NameError::Empty)]
    #[case("   ", NameError::Empty)]
    #[case("R2D2", NameError::InvalidCharacter)]
    #[case("<script>", NameError::InvalidCharacter)]
    #[case("a@b", NameError::InvalidCharacter)]
    fn bad_names_are_refused(#[case] input: &str, #[case] err: NameError) {
        assert_eq!(PersonName::parse(input), Err(err));
    }

    #[test]
    fn search_keys_ignore_case_and_punctuation() {
        assert_eq!(PersonName::parse("O'Neill-Smith").unwrap().search_key(), "oneillsmith");
    }

    #[rstest]
    #[case("sw1a1aa", "SW1A 1AA")]
    #[case("  ls6 2ab ", "LS6 2AB")]
    #[case("M1 1AE", "M1 1AE")]
    #[case("B33 8TH", "B33 8TH")]
    #[case("CR2 6XH", "CR2 6XH")]
    #[case("DN55 1PT", "DN55 1PT")]
    #[case("W1A 0AX", "W1A 0AX")]
    #[case("EC1A 1BB", "EC1A 1BB")]
    #[case("BT9 6AD", "BT9 6AD")]
    #[case("gir0aa", "GIR 0AA")]
    fn postcodes_are_normalised(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(Postcode::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("XX1 1XXX")]
    #[case("Q1 1AA")]
    #[case("SW1A 1CA")]
    #[case("12345")]
    #[case("LS6")]
    #[case("ÅB1 1AA")]
    fn bad_postcodes_are_refused(#[case] input: &str) {
        assert_eq!(Postcode::parse(input), Err(PostcodeError::Invalid));
    }

    #[rstest]
    #[case("07911 123456")]
    #[case("07911-123-456")]
    #[case("+44 7911 123456")]
    #[case("0044 7911 123456")]
    #[case("(07911) 123456")]
    fn uk_mobiles_are_stored_in_e164(#[case] input: &str) {
        let m = UkMobile::parse(input).unwrap();
        assert_eq!(m.as_str(), "+447911123456");
        assert_eq!(m.national(), "07911 123456");
    }

    #[rstest]
    #[case("020 7946 0000", MobileError::NotUkMobile)]
    #[case("+1 202 555 0143", MobileError::NotUkMobile)]
    #[case("12345", MobileError::NotUkMobile)]
    #[case("call me", MobileError::NotANumber)]
    #[case("", MobileError::Empty)]
    fn other_numbers_are_refused(#[case] input: &str, #[case] err: MobileError) {
        assert_eq!(UkMobile::parse(input), Err(err));
    }

    #[rstest]
    #[case(" Jo.Bloggs@Example.ORG ", Ok("jo.bloggs@example.org"))]
    #[case("a@b", Err(EmailError::Invalid))]
    #[case("a@@b.com", Err(EmailError::Invalid))]
    #[case("a b@c.com", Err(EmailError::Invalid))]
    #[case("a@-b.com", Err(EmailError::Invalid))]
    #[case("", Err(EmailError::Empty))]
    fn emails(#[case] input: &str, #[case] expected: Result<&str, EmailError>) {
        assert_eq!(
            EmailAddress::parse(input).map(|e| e.as_str().to_owned()),
            expected.map(str::to_owned)
        );
    }

    #[rstest]
    #[case("1985-04-23", Ok("1985-04-23"))]
    #[case("23/04/1985", Ok("1985-04-23"))]
    #[case("3/4/1985", Ok("1985-04-03"))]
    #[case("23-04-1985", Ok("1985-04-23"))]
    #[case("31/02/2000", Err(DateOfBirthError::Invalid))]
    #[case("2026-11-24", Err(DateOfBirthError::InFuture))]
    #[case("1899-12-31", Err(DateOfBirthError::TooEarly))]
    #[case("yesterday", Err(DateOfBirthError::Invalid))]
    #[case("", Err(DateOfBirthError::Empty))]
    fn dates_of_birth(#[case] input: &str, #[case] expected: Result<&str, DateOfBirthError>) {
        assert_eq!(
            DateOfBirth::parse(input, today()).map(|d| d.to_iso()),
            expected.map(str::to_owned)
        );
    }

    #[test]
    fn age_counts_whole_years_including_leap_day_birthdays() {
        let dob = DateOfBirth::parse("2008-02-29", today()).unwrap();
        assert_eq!(dob.age_on(jiff::civil::date(2026, 2, 28)), 17);
        assert_eq!(dob.age_on(jiff::civil::date(2026, 3, 1)), 18);
    }

    // DOMAIN F37: at least 12 characters, no composition rules, common passwords refused.
    #[rstest]
    #[case("password1234", Err(PasswordError::TooCommon))]
    #[case("qwertyuiop123", Err(PasswordError::TooCommon))]
    #[case("short-pw", Err(PasswordError::TooShort { min: 12 }))]
    #[case("correct horse battery staple", Ok(()))]
    #[case("tidal-copper-meadow-fox-19", Ok(()))]
    #[case("x7#Kq2!vLm9@", Ok(()))]
    fn new_passwords(#[case] input: &str, #[case] expected: Result<(), PasswordError>) {
        assert_eq!(NewPassword::parse(input, &["velum"]).map(|_| ()), expected);
    }

    #[test]
    fn debug_and_errors_never_show_the_value() {
        let name = PersonName::parse("Quarrington").unwrap();
        assert_eq!(format!("{name:?}"), "PersonName(<redacted>)");
        let pw = NewPassword::parse("tidal-copper-meadow-fox-19", &[]).unwrap();
        assert!(!format!("{pw:?}").contains("tidal"));
        for (err, input) in [
            (PostcodeError::Invalid.to_string(), "Quarrington"),
            (MobileError::NotUkMobile.to_string(), "Quarrington"),
            (DateOfBirthError::Invalid.to_string(), "Quarrington"),
        ] {
            assert!(!err.contains(input));
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC{0,40}") {
            let _ = PersonName::parse(&s);
            let _ = EmailAddress::parse(&s);
            let _ = UkMobile::parse(&s);
            let _ = Postcode::parse(&s);
            let _ = DateOfBirth::parse(&s, today());
            let _ = FreeText::parse(&s);
        }

        #[test]
        fn valid_postcodes_round_trip(area in "[A-PR-UWYZ][A-HK-Y]?", district in 1u8..99, sector in 0u8..10, unit in "[ABD-HJLNP-UW-Z]{2}") {
            let raw = format!("{area}{district} {sector}{unit}");
            if let Ok(p) = Postcode::parse(&raw) {
                prop_assert_eq!(Postcode::parse(p.as_str()).unwrap(), p);
            }
        }

        #[test]
        fn parsed_names_reparse_to_themselves(s in "[\\p{L} '-]{1,60}") {
            if let Ok(n) = PersonName::parse(&s) {
                prop_assert_eq!(PersonName::parse(n.as_str()).unwrap(), n);
            }
        }
    }
}
