//! A new staff password ([`NewPassword`], DOMAIN F37).

use std::fmt;

/// Why a new password was refused (DOMAIN F37).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {min} characters")]
    TooShort { min: usize },
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("is too common or easy to guess; try a few unrelated words")]
    TooCommon,
    /// Found in the list of breached passwords shipped with Velum (checked
    /// by `velum_crypto::password::check_new_password`, ASVS 6.2.12).
    #[error("appears in lists of passwords leaked in data breaches; choose another")]
    Breached,
}

/// A new staff password, checked against DOMAIN F37: at least 12 characters,
/// no composition rules, common and guessable passwords refused.
///
/// - At least 12 characters: above ASVS 5.0 6.2.1's minimum of 8, below its
///   recommended 15 (the project's choice, DOMAIN F37). Counted in
///   characters, not bytes, so a passphrase in any script counts fairly.
/// - At most 256: ASVS 6.2.9 requires at least 64 be allowed; 256 leaves
///   room for any password manager while bounding the hashing work.
/// - No composition rules (ASVS 6.2.5): no "one upper case, one digit, one
///   symbol". They push people to `Password1!`.
/// - Common and guessable passwords refused (ASVS 6.2.4, 6.2.11) with
///   `zxcvbn`, which knows the common-password lists, dictionary words,
///   names, keyboard walks, dates, repeats and l33t substitutions, and is
///   given the words a guesser would try first: the caller's `user_inputs`
///   (the person's email, their name), the parts of those, and
///   [`CONTEXT_WORDS`]. It scores only the first 100 characters; a
///   password weak in those is refused whatever follows.
/// - Never trimmed or case-folded (ASVS 6.2.8): the password is what was typed.
///
/// Not done here: the check against breached passwords (ASVS 6.2.12), which
/// needs the breach corpus shipped in `velum-crypto` (a data file is no
/// business of this pure crate); `velum_crypto::password::check_new_password`
/// runs this parse and then that check, and is what the use cases call.
///
/// No `Serialize` or `Deserialize`: a password is never written anywhere but
/// into the password hasher, and `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);
redacted_debug!(NewPassword);

/// Words specific to Velum and its clinics, tried first by anyone guessing a
/// Velum password (the documented context-specific word list of ASVS 6.1.2,
/// used as ASVS 6.2.11 requires).
pub const CONTEXT_WORDS: &[&str] = &["velum", "clinic", "aesthetic", "aesthetics"];

impl NewPassword {
    pub const MIN: usize = 12;
    pub const MAX: usize = 256;

    /// `user_inputs` are words tied to the person or the place: their email,
    /// their name. Each is also split at anything that is not a letter or
    /// digit, so "jo.bloggs@example.org" contributes "bloggs" and "example".
    ///
    /// # Errors
    /// Under 12 or over 256 characters, or too easy to guess.
    pub fn parse(s: &str, user_inputs: &[&str]) -> Result<Self, PasswordError> {
        let n = s.chars().count();
        if n < Self::MIN {
            return Err(PasswordError::TooShort { min: Self::MIN });
        }
        if n > Self::MAX {
            return Err(PasswordError::TooLong { max: Self::MAX });
        }
        let words = guessable_words(user_inputs);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        // Score Three means zxcvbn estimates more than 10^8 guesses: beyond
        // an online attack under rate limiting, and enough to slow an
        // offline one against Argon2. Below that the password is in, or
        // built from, what attackers try first.
        if zxcvbn::zxcvbn(s, &words).score() < zxcvbn::Score::Three {
            return Err(PasswordError::TooCommon);
        }
        Ok(Self(s.to_owned()))
    }

    /// The password, for the hasher and nothing else.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The caller's inputs, their alphanumeric parts of three or more
/// characters, and [`CONTEXT_WORDS`], lower-cased.
fn guessable_words(user_inputs: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = CONTEXT_WORDS.iter().map(|w| (*w).to_owned()).collect();
    for input in user_inputs {
        let input = input.to_lowercase();
        words.extend(
            input
                .split(|c: char| !c.is_alphanumeric())
                .filter(|part| part.chars().count() >= 3 && *part != input)
                .map(str::to_owned),
        );
        words.push(input);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    // DOMAIN F37: at least 12 characters, no composition rules, and common or
    // guessable passwords refused (ASVS 6.2.1, 6.2.4, 6.2.5, 6.2.11).
    #[rstest]
    #[case::common("password123456", Err(PasswordError::TooCommon))]
    #[case::common_12("password1234", Err(PasswordError::TooCommon))]
    #[case::keyboard_walk("qwertyuiop123", Err(PasswordError::TooCommon))]
    #[case::phrase_and_digits("iloveyou1234", Err(PasswordError::TooCommon))]
    #[case::composition_does_not_help("P@ssw0rd2024!", Err(PasswordError::TooCommon))]
    #[case::repeat("aaaaaaaaaaaa", Err(PasswordError::TooCommon))]
    #[case::sequence("123456789012", Err(PasswordError::TooCommon))]
    #[case::context_word("aesthetics1234", Err(PasswordError::TooCommon))]
    #[case::eleven("x7#Kq2!vLm9", Err(PasswordError::TooShort { min: 12 }))]
    #[case::eleven_characters_many_bytes("日本語のパスワードで", Err(PasswordError::TooShort { min: 12 }))]
    #[case::empty("", Err(PasswordError::TooShort { min: 12 }))]
    #[case::passphrase("correct horse battery staple", Ok(()))]
    #[case::hyphenated_words("tidal-copper-meadow-fox-19", Ok(()))]
    #[case::lower_case_words_only("amber walrus cinnamon kite", Ok(()))]
    #[case::twelve_random("x7#Kq2!vLm9@", Ok(()))]
    #[case::twelve_random_no_symbols("Qz8vLw3nRt5k", Ok(()))]
    #[case::non_ascii_passphrase("ĝardeno ŝipo ĉokolado", Ok(()))]
    fn new_passwords(#[case] input: &str, #[case] expected: Result<(), PasswordError>) {
        assert_eq!(
            NewPassword::parse(input, &["jo.bloggs@example.org"]).map(|_| ()),
            expected
        );
    }

    // DOMAIN F37 / ASVS 6.2.11: the person's own details are tried first.
    #[test]
    fn a_password_made_of_the_users_own_details_is_refused() {
        let email = "jo.bloggs@example.org";
        assert_eq!(NewPassword::parse(email, &[email]), Err(PasswordError::TooCommon));
        assert_eq!(
            NewPassword::parse("velumvelum123", &[email]),
            Err(PasswordError::TooCommon)
        );
    }

    // DOMAIN F37 / ASVS 6.2.8 and 6.2.9: kept exactly as typed; 256 allowed.
    #[test]
    fn passwords_are_kept_exactly_as_typed_up_to_256_characters() {
        let spaced = "  Correct Horse Battery Staple  ";
        assert_eq!(NewPassword::parse(spaced, &[]).unwrap().expose(), spaced);
        let long: String = "correct horse battery staple ".repeat(9).chars().take(256).collect();
        assert_eq!(NewPassword::parse(&long, &[]).unwrap().expose(), long);
        assert_eq!(
            NewPassword::parse(&format!("{long}x"), &[]),
            Err(PasswordError::TooLong { max: 256 })
        );
    }

    #[test]
    fn guessable_words_include_the_parts_of_each_input() {
        let words = guessable_words(&["Jo.Bloggs@Example.org"]);
        for w in ["velum", "clinic", "jo.bloggs@example.org", "bloggs", "example", "org"] {
            assert!(words.iter().any(|x| x == w), "{w} missing");
        }
        assert!(!words.iter().any(|x| x == "jo"), "two-letter parts are noise");
    }

    proptest! {
        // DOMAIN F37: the length rule holds for any characters at all.
        #[test]
        fn passwords_under_twelve_characters_are_refused(s in "\\PC{0,11}") {
            prop_assert_eq!(NewPassword::parse(&s, &[]), Err(PasswordError::TooShort { min: 12 }));
        }

        #[test]
        fn passwords_over_256_characters_are_refused(s in "\\PC{257,300}") {
            prop_assert_eq!(NewPassword::parse(&s, &[]), Err(PasswordError::TooLong { max: 256 }));
        }
    }
}
