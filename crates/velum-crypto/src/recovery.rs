//! Recovery codes: single-use codes a member of staff can enter instead of a
//! TOTP code when their phone is lost (DOMAIN F37).
//!
//! Each code is 16 characters from the RFC 4648 base32 alphabet, lower case
//! (`a`–`z`, `2`–`7`), drawn from the operating system's CSPRNG: 80 bits of
//! entropy, shown as `abcd-efgh-ijkl-mnop`. Only a SHA-256 of each code is
//! stored, with the clinic and account bound in.
//!
//! Why SHA-256 and not Argon2: Argon2 (like any slow hash) is there to make
//! guessing a *low-entropy*, human-chosen secret from a stolen hash costly.
//! An 80-bit random code needs no such help: at 10^12 SHA-256 guesses a
//! second, finding one code from its hash takes on average about 19,000
//! years (2^79 / 10^12 s). The hash also binds the clinic and account (a
//! salt in effect), and online every wrong code counts towards the
//! account's lock like a wrong TOTP code. A slow hash would only cost
//! an Argon2 run per stored code on every sign-in that uses one, for nothing.

use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::token::random_bytes;

/// How many codes are made at once (at enrolment, or on regeneration).
pub const COUNT: usize = 10;
/// Characters in a code, without separators.
pub const LEN: usize = 16;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A new code as shown to its owner (`abcd-efgh-ijkl-mnop`).
#[must_use]
pub fn generate() -> String {
    let bytes: [u8; LEN] = random_bytes();
    let chars: Vec<char> = bytes
        // 256 is a multiple of 32, so the low five bits are uniform.
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b & 31)]))
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// `Some(code)` in canonical form if `input` is shaped like a recovery code
/// (16 base32 characters once spaces and dashes are removed, any case);
/// `None` otherwise (for example a 6-digit TOTP code).
#[must_use]
pub fn normalise(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// What is stored for a code (in canonical form) of one account.
#[must_use]
pub fn hash(clinic: Uuid, staff: Uuid, code: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"velum/recovery-code/v1\0");
    h.update(clinic.as_bytes());
    h.update(staff.as_bytes());
    h.update(code.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_well_formed_and_normalise_to_themselves() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), LEN + 3);
        let canonical = normalise(&a).expect("a generated code is a code");
        assert_eq!(canonical, a.replace('-', ""));
        assert_eq!(normalise(&a.to_uppercase().replace('-', " ")), Some(canonical));
    }

    #[test]
    fn totp_codes_and_junk_are_not_recovery_codes() {
        for input in [
            "123456",
            "",
            "abcd-efgh-ijkl-mno",
            "abcd-efgh-ijkl-mnop-q",
            "abcd-efgh-ijkl-mn01",
        ] {
            assert_eq!(normalise(input), None, "{input:?}");
        }
    }

    #[test]
    fn the_hash_binds_the_account() {
        let (c, s1, s2) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        assert_eq!(hash(c, s1, "aaaa"), hash(c, s1, "aaaa"));
        assert_ne!(hash(c, s1, "aaaa"), hash(c, s2, "aaaa"));
        assert_ne!(hash(c, s1, "aaaa"), hash(c, s1, "aaab"));
    }
}
