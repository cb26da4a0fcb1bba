//! A UK mobile number ([`UkMobile`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a mobile number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MobileError {
    #[error("is required")]
    Empty,
    /// Letters or other characters a phone number does not contain, no
    /// digits at all, or far more characters than any phone number.
    #[error("must be a phone number, like 07911 123456")]
    NotANumber,
    /// A number, but not a valid mobile number in the +44 plan (a landline,
    /// a pager, another country's number, or a number no operator has).
    #[error("must be a UK mobile number, like 07911 123456")]
    NotUkMobile,
}

/// A UK mobile number, stored in E.164 form: `+447911123456`.
///
/// Accepts the ways people write one: "07911 123456", "07911-123-456",
/// "(07911) 123456", "+44 7911 123456", "+44 (0)7911 123456",
/// "0044 7911 123456". Validity and the number's type come from the
/// `phonenumber` crate (Google's libphonenumber metadata), so ranges Ofcom has
/// not allocated, and the drama range 07700 900xxx, are refused. Mobiles in
/// the Crown Dependencies (Jersey, Guernsey, Isle of Man) share +44 and are
/// accepted: texts reach them like any other UK mobile.
#[derive(Clone, PartialEq, Eq)]
pub struct UkMobile(String);
validated_string!(UkMobile, MobileError);

impl UkMobile {
    /// Longer input is not a phone number however it is spaced; the cap also
    /// bounds the work `phonenumber` does on hostile input.
    const MAX_INPUT: usize = 40;

    /// # Errors
    /// Blank, not a phone number, or not a valid UK mobile.
    pub fn parse(s: &str) -> Result<Self, MobileError> {
        let t = s.trim();
        if t.is_empty() {
            return Err(MobileError::Empty);
        }
        if t.chars().count() > Self::MAX_INPUT {
            return Err(MobileError::NotANumber);
        }
        // Digits and the separators people type, with one '+' in front
        // ("+44 …", "(+44) …"). Letters are refused rather than read as a
        // keypad ("0800 FLOWERS") or an extension ("ext 12"), which
        // `phonenumber` would accept.
        let (plus, rest) = match t.find(|c: char| c != '(' && !c.is_whitespace()) {
            Some(i) if t[i..].starts_with('+') => (true, format!("{}{}", &t[..i], &t[i + 1..])),
            _ => (false, t.to_owned()),
        };
        if !rest
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')'))
        {
            return Err(MobileError::NotANumber);
        }
        let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(MobileError::NotANumber);
        }
        // "0044 …" is the international prefix dialled from the UK; pass it
        // on as "+44 …". A "(0)" after +44 is left for `phonenumber`, which
        // drops the trunk prefix.
        let normalised = if plus {
            format!("+{digits}")
        } else if let Some(international) = digits.strip_prefix("00") {
            format!("+{international}")
        } else {
            digits
        };
        let number =
            phonenumber::parse(Some(phonenumber::country::Id::GB), &normalised).map_err(|_| MobileError::NotANumber)?;
        let database = &*phonenumber::metadata::DATABASE;
        if number.code().value() != 44
            || !number.is_valid()
            || number.number_type(database) != phonenumber::Type::Mobile
        {
            return Err(MobileError::NotUkMobile);
        }
        Ok(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// The number as people in the UK read it: "07911 123456". Every UK
    /// mobile is 07 and nine more digits, grouped 5 + 6. A stored value not
    /// of that shape is shown as stored.
    #[must_use]
    pub fn national(&self) -> String {
        match self.0.strip_prefix("+44") {
            Some(rest) if rest.len() == 10 && rest.bytes().all(|b| b.is_ascii_digit()) => {
                format!("0{} {}", &rest[..4], &rest[4..])
            }
            _ => self.0.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case("07911 123456")]
    #[case("07911-123-456")]
    #[case("+44 7911 123456")]
    #[case("0044 7911 123456")]
    #[case("(07911) 123456")]
    #[case("+44 (0)7911 123456")]
    #[case("+44 07911 123456")]
    #[case("(+44) 7911 123456")]
    #[case("447911123456")]
    #[case("07911123456")]
    #[case(" 07911 123 456 ")]
    #[case("07911.123.456")]
    #[case("07911\u{A0}123456")]
    fn uk_mobiles_are_stored_in_e164(#[case] input: &str) {
        let m = UkMobile::parse(input).unwrap();
        assert_eq!(m.as_str(), "+447911123456");
        assert_eq!(m.national(), "07911 123456");
    }

    #[rstest]
    #[case("07400 123456", "+447400123456", "07400 123456")]
    #[case("07123 456789", "+447123456789", "07123 456789")]
    #[case("07500123456", "+447500123456", "07500 123456")]
    #[case("07797 123456", "+447797123456", "07797 123456")] // Jersey
    #[case("07624 123456", "+447624123456", "07624 123456")] // Isle of Man
    fn other_uk_mobile_ranges(#[case] input: &str, #[case] e164: &str, #[case] national: &str) {
        let m = UkMobile::parse(input).unwrap();
        assert_eq!((m.as_str(), m.national().as_str()), (e164, national));
    }

    #[rstest]
    #[case("", MobileError::Empty)]
    #[case("  ", MobileError::Empty)]
    #[case("020 7946 0000", MobileError::NotUkMobile)] // a London landline
    #[case("+1 202 555 0143", MobileError::NotUkMobile)]
    #[case("+33 6 12 34 56 78", MobileError::NotUkMobile)] // a French mobile
    #[case("0033 6 12 34 56 78", MobileError::NotUkMobile)]
    #[case("07700 900123", MobileError::NotUkMobile)] // Ofcom's drama range
    #[case("07000 123456", MobileError::NotUkMobile)] // a personal number
    #[case("07640 123456", MobileError::NotUkMobile)] // a pager
    #[case("12345", MobileError::NotUkMobile)]
    #[case("079111234567", MobileError::NotUkMobile)] // a digit too many
    #[case("0791112345", MobileError::NotUkMobile)] // a digit too few
    #[case("call me", MobileError::NotANumber)]
    #[case("0800 FLOWERS", MobileError::NotANumber)]
    #[case("07911 123456 ext 12", MobileError::NotANumber)]
    #[case("07911+123456", MobileError::NotANumber)]
    #[case("++447911123456", MobileError::NotANumber)]
    #[case("+", MobileError::NotANumber)]
    #[case("()", MobileError::NotANumber)]
    #[case("０７９１１ １２３４５６", MobileError::NotANumber)] // full-width digits
    #[case("0 7 9 1 1 1 2 3 4 5 6 0 0 0 0 0 0 0 0 0 0", MobileError::NotANumber)] // over 40 characters
    fn other_numbers_are_refused(#[case] input: &str, #[case] err: MobileError) {
        assert_eq!(UkMobile::parse(input), Err(err));
    }

    #[test]
    fn national_shows_an_unexpected_stored_value_as_stored() {
        assert_eq!(UkMobile::from_stored("+33612345678".into()).national(), "+33612345678");
    }

    proptest! {
        /// 071xx to 075xx and 078xx are wholly allocated mobile ranges.
        #[test]
        fn every_way_of_writing_a_mobile_gives_one_value(n in "7[1-58][0-9]{8}") {
            let (a, b) = n.split_at(4);
            let e164 = format!("+44{n}");
            for written in [
                format!("0{n}"),
                format!("0{a} {b}"),
                format!("0{a}-{}-{}", &b[..3], &b[3..]),
                format!("(0{a}) {b}"),
                format!("+44 {a} {b}"),
                format!("+44 (0){a} {b}"),
                format!("0044 {a} {b}"),
                format!("44{n}"),
            ] {
                let m = UkMobile::parse(&written).unwrap();
                prop_assert_eq!(m.as_str(), e164.as_str());
                prop_assert_eq!(m.national(), format!("0{a} {b}"));
            }
        }
    }
}
