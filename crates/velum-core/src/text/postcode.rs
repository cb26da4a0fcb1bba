//! A UK postcode ([`Postcode`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a postcode was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostcodeError {
    #[error("is required")]
    Empty,
    #[error("must be a UK postcode, like SW1A 1AA")]
    Invalid,
}

/// A UK postcode, stored upper case with one space before the three-character
/// inward code: "sw1a1aa" becomes "SW1A 1AA".
///
/// The outward code is one of A9, A99, A9A, AA9, AA99 or AA9A, and the inward
/// code is 9AA; "GIR 0AA" (Girobank) is the one historic exception. The
/// Royal Mail's letter-position rules are applied too, so typos that produce
/// an impossible postcode are caught:
///
/// - first position: any letter but Q, V, X;
/// - second position (AA9, AA99, AA9A): any letter but I, J, Z;
/// - third position (A9A): only A B C D E F G H J K P S T U W;
/// - fourth position (AA9A): only A B E H M N P R V W X Y;
/// - inward letters: any but C I K M O V.
///
/// This checks the format, not that the postcode exists (that needs the
/// Royal Mail's address file). Overseas-territory and BFPO codes are refused.
#[derive(Clone, PartialEq, Eq)]
pub struct Postcode(String);
validated_string!(Postcode, PostcodeError);

impl Postcode {
    /// # Errors
    /// Blank, or not in a UK postcode format.
    pub fn parse(s: &str) -> Result<Self, PostcodeError> {
        // Spaces are optional and may be anywhere; everything else must be
        // an ASCII letter or digit. Upper-casing only ASCII means no other
        // character can case-map into a valid postcode ('ß' -> "SS").
        let mut compact = String::with_capacity(8);
        for c in s.chars().filter(|c| !c.is_whitespace()) {
            if !c.is_ascii_alphanumeric() || compact.len() == 7 {
                return Err(PostcodeError::Invalid);
            }
            compact.push(c.to_ascii_uppercase());
        }
        if compact.is_empty() {
            return Err(PostcodeError::Empty);
        }
        if compact.len() < 5 {
            return Err(PostcodeError::Invalid);
        }
        let (outward, inward) = compact.split_at(compact.len() - 3);
        if compact == "GIR0AA" || (valid_outward(outward.as_bytes()) && valid_inward(inward.as_bytes())) {
            Ok(Self(format!("{outward} {inward}")))
        } else {
            Err(PostcodeError::Invalid)
        }
    }
}

/// A9, A99, A9A, AA9, AA99 or AA9A, with the letter-position rules.
fn valid_outward(o: &[u8]) -> bool {
    let first = |x: u8| x.is_ascii_uppercase() && !b"QVX".contains(&x);
    let second = |x: u8| x.is_ascii_uppercase() && !b"IJZ".contains(&x);
    let third = |x: u8| b"ABCDEFGHJKPSTUW".contains(&x);
    let fourth = |x: u8| b"ABEHMNPRVWXY".contains(&x);
    let digit = |x: u8| x.is_ascii_digit();
    match *o {
        [a, b] => first(a) && digit(b),
        [a, b, c] if digit(b) => first(a) && (digit(c) || third(c)),
        [a, b, c] => first(a) && second(b) && digit(c),
        [a, b, c, d] => first(a) && second(b) && digit(c) && (digit(d) || fourth(d)),
        _ => false,
    }
}

/// 9AA, the letters never C, I, K, M, O or V.
fn valid_inward(i: &[u8]) -> bool {
    let letter = |x: u8| x.is_ascii_uppercase() && !b"CIKMOV".contains(&x);
    matches!(*i, [d, a, b] if d.is_ascii_digit() && letter(a) && letter(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    /// Valid postcodes in all six outward formats, built from the
    /// letter-position rules.
    const POSTCODE: &str = "([A-PR-UWYZ][0-9]|[A-PR-UWYZ][0-9][0-9]|[A-PR-UWYZ][0-9][ABCDEFGHJKPSTUW]\
        |[A-PR-UWYZ][A-HK-Y][0-9]|[A-PR-UWYZ][A-HK-Y][0-9][0-9]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY]) \
        [0-9][ABD-HJLNP-UW-Z]{2}";

    #[rstest]
    #[case("sw1a1aa", "SW1A 1AA")] // AA9A
    #[case("SW1A   1AA", "SW1A 1AA")]
    #[case("s w 1 a 1 a a", "SW1A 1AA")]
    #[case("\u{A0}SW1A\u{A0}1AA\u{A0}", "SW1A 1AA")]
    #[case("  ls6 2ab ", "LS6 2AB")] // AA9
    #[case("M1 1AE", "M1 1AE")] // A9
    #[case("B33 8TH", "B33 8TH")] // A99
    #[case("W1A 0AX", "W1A 0AX")] // A9A
    #[case("N1C 4AG", "N1C 4AG")]
    #[case("DN55 1PT", "DN55 1PT")] // AA99
    #[case("CR2 6XH", "CR2 6XH")]
    #[case("EC1A 1BB", "EC1A 1BB")]
    #[case("NW1W 9AZ", "NW1W 9AZ")]
    #[case("BT9 6AD", "BT9 6AD")]
    #[case("gir0aa", "GIR 0AA")]
    #[case("GIR 0AA", "GIR 0AA")]
    fn postcodes_are_normalised(#[case] input: &str, #[case] stored: &str) {
        assert_eq!(Postcode::parse(input).unwrap().as_str(), stored);
    }

    #[rstest]
    #[case("", PostcodeError::Empty)]
    #[case("   ", PostcodeError::Empty)]
    #[case("Q1 1AA", PostcodeError::Invalid)] // first position: not Q, V, X
    #[case("V1 1AA", PostcodeError::Invalid)]
    #[case("X1 1AA", PostcodeError::Invalid)]
    #[case("AI1 1AA", PostcodeError::Invalid)] // second position: not I, J, Z
    #[case("AJ1 1AA", PostcodeError::Invalid)]
    #[case("AZ1 1AA", PostcodeError::Invalid)]
    #[case("W1I 1AA", PostcodeError::Invalid)] // third position (A9A): not I, L, ...
    #[case("W1L 1AA", PostcodeError::Invalid)]
    #[case("EC1C 1AA", PostcodeError::Invalid)] // fourth position (AA9A): not C, ...
    #[case("EC1D 1AA", PostcodeError::Invalid)]
    #[case("SW1A 1CA", PostcodeError::Invalid)] // inward: not C, I, K, M, O, V
    #[case("SW1A 1AI", PostcodeError::Invalid)]
    #[case("SW1A 1KA", PostcodeError::Invalid)]
    #[case("SW1A 1AM", PostcodeError::Invalid)]
    #[case("SW1A 1OA", PostcodeError::Invalid)]
    #[case("SW1A 1AV", PostcodeError::Invalid)]
    #[case("SW1A AAA", PostcodeError::Invalid)]
    #[case("SW1A 11A", PostcodeError::Invalid)]
    #[case("1S6 2AB", PostcodeError::Invalid)]
    #[case("GIR 0AB", PostcodeError::Invalid)]
    #[case("12345", PostcodeError::Invalid)]
    #[case("LS6", PostcodeError::Invalid)]
    #[case("SW1A 1AA1", PostcodeError::Invalid)]
    #[case("SW1AA 1AA", PostcodeError::Invalid)]
    #[case("SW1A-1AA", PostcodeError::Invalid)]
    #[case("SW1A 1AA.", PostcodeError::Invalid)]
    #[case("ÅB1 1AA", PostcodeError::Invalid)]
    #[case("ß1 1AA", PostcodeError::Invalid)] // would upper-case to "SS1 1AA"
    #[case("ＳＷ１Ａ １ＡＡ", PostcodeError::Invalid)] // full-width
    fn bad_postcodes_are_refused(#[case] input: &str, #[case] err: PostcodeError) {
        assert_eq!(Postcode::parse(input), Err(err));
    }

    proptest! {
        #[test]
        fn valid_postcodes_are_accepted_in_any_case_and_spacing(p in POSTCODE) {
            let parsed = Postcode::parse(&p).unwrap();
            prop_assert_eq!(parsed.as_str(), p.as_str());
            prop_assert_eq!(Postcode::parse(&p.to_lowercase()), Ok(parsed.clone()));
            prop_assert_eq!(Postcode::parse(&p.replace(' ', "")), Ok(parsed.clone()));
            prop_assert_eq!(Postcode::parse(&format!("  {}  ", p.replace(' ', "   "))), Ok(parsed.clone()));
            prop_assert_eq!(Postcode::parse(parsed.as_str()), Ok(parsed));
        }

        #[test]
        fn inward_codes_with_forbidden_letters_are_refused(
            p in POSTCODE,
            bad in "[CIKMOV]",
            second in any::<bool>(),
        ) {
            let mut chars: Vec<char> = p.chars().collect();
            let at = chars.len() - if second { 1 } else { 2 };
            chars[at] = bad.chars().next().unwrap();
            let p: String = chars.into_iter().collect();
            prop_assert_eq!(Postcode::parse(&p), Err(PostcodeError::Invalid));
        }
    }
}
