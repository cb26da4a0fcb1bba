//! Password hashing with Argon2id.
//!
//! Parameters are argon2 0.6's defaults: Argon2id v19, 19 MiB, 2 passes,
//! 1 lane, 16-byte random salt, which is the first configuration the OWASP
//! Password Storage Cheat Sheet recommends
//! (<https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id>).
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), which
//! carry their own parameters, so raising them later keeps old hashes valid.
//!
//! New passwords are checked here too ([`check_new_password`]): the rules of
//! `velum_core::text::NewPassword` (length, zxcvbn) and then the list of
//! breached passwords shipped with Velum (ASVS 6.2.12; `data/README.md`).

use std::io::Read as _;
use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use velum_core::text::{NewPassword, PasswordError};

/// Hash `password` for storage, with a fresh random salt.
///
/// # Panics
/// If the operating system cannot supply a random salt, or the password is
/// over 4 GiB (the web layer limits request bodies long before that).
#[must_use]
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("Argon2 hashing fails only without an RNG or for a 4 GiB password")
        .to_string()
}

/// Whether `password` matches the stored PHC hash. False for a wrong
/// password and for anything that is not a valid hash; never panics. The
/// final comparison is constant-time (password-hash's `Output` equality).
#[must_use]
pub fn verify_password(phc: &str, password: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok()
}

/// A fixed PHC hash to verify against when the account does not exist, so
/// a login for an unknown email costs the same time as one for a known
/// email and the response time does not reveal which emails have accounts.
///
/// Computed once per process from a random password nobody knows, so
/// nothing ever verifies against it.
#[must_use]
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&crate::token::new_token().0))
}

/// Passwords seen in breaches, from the SecLists "10 million password list"
/// top million (`data/README.md` says where it comes from and how it was
/// made): the entries that the length rule alone would let through (12
/// characters or more), lower-cased, one a line, sorted, gzip-compressed.
static BREACHED_GZ: &[u8] = include_bytes!("../data/breached-passwords.txt.gz");

/// The breached list, decompressed once per process and sorted for binary
/// search (about 44,000 entries, under 2 MB).
fn breached_list() -> &'static [Box<str>] {
    static LIST: OnceLock<Vec<Box<str>>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut text = String::new();
        flate2::read::GzDecoder::new(BREACHED_GZ)
            .read_to_string(&mut text)
            .expect("the breached-password list compiled into Velum is valid gzip UTF-8");
        let mut list: Vec<Box<str>> = text.lines().filter(|l| !l.is_empty()).map(Box::from).collect();
        list.sort_unstable();
        list.dedup();
        list
    })
}

/// Whether `password` is in the breached list, ignoring case: a breached
/// password with its letters' case changed is tried by every cracking tool.
#[must_use]
pub fn is_breached(password: &str) -> bool {
    let lower = password.to_lowercase();
    breached_list().binary_search_by(|e| (**e).cmp(lower.as_str())).is_ok()
}

/// A new staff password, checked against DOMAIN F37: at least 12
/// characters, not guessable (zxcvbn, in [`NewPassword::parse`]) and not in
/// the breached list (ASVS 6.2.12). The use cases call this, never
/// `NewPassword::parse` alone.
///
/// # Errors
/// [`PasswordError`] naming the rule that failed.
pub fn check_new_password(password: &str, user_inputs: &[&str]) -> Result<NewPassword, PasswordError> {
    let checked = NewPassword::parse(password, user_inputs)?;
    if is_breached(password) {
        return Err(PasswordError::Breached);
    }
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correct_password_verifies_and_others_do_not() {
        let phc = hash_password("correct horse battery staple");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&phc, "correct horse battery staple"));
        assert!(!verify_password(&phc, "correct horse battery stapler"));
        assert!(!verify_password(&phc, ""));
    }

    #[test]
    fn the_same_password_hashes_differently_each_time() {
        assert_ne!(hash_password("pw"), hash_password("pw"));
    }

    #[test]
    fn malformed_hashes_never_verify_and_never_panic() {
        for phc in [
            "",
            "$",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaA",
            "$bcrypt$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=19456,t=2,p=1$!!!$???",
        ] {
            assert!(!verify_password(phc, "pw"), "{phc:?} verified");
        }
        // A valid hash with its output cut short.
        let phc = hash_password("pw");
        assert!(!verify_password(&phc[..phc.len() - 4], "pw"));
    }

    #[test]
    fn dummy_hash_is_a_stable_valid_hash_that_matches_nothing() {
        assert_eq!(dummy_hash(), dummy_hash());
        assert!(dummy_hash().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!verify_password(dummy_hash(), ""));
        assert!(!verify_password(dummy_hash(), "password"));
    }

    #[test]
    fn the_breached_list_loads_sorted_lower_case_and_long_enough_to_matter() {
        let list = breached_list();
        assert_eq!(list.len(), 43_940);
        assert!(list.windows(2).all(|w| w[0] < w[1]));
        for e in list {
            assert!(
                e.chars().count() >= NewPassword::MIN,
                "{e:?} is shorter than the length rule"
            );
            assert_eq!(e.to_lowercase(), **e);
        }
    }

    /// F37 (ASVS 6.2.12): a breached password that zxcvbn alone accepts is
    /// refused, in any letter case; an unbreached strong one is accepted.
    #[test]
    fn breached_passwords_are_refused_even_when_zxcvbn_accepts_them() {
        for breached in ["7m9n6l1d5p8r3k2l4s6a", "85fg754kl62br853lpq7", "7M9N6l1d5P8R3k2L4s6A"] {
            assert!(
                NewPassword::parse(breached, &[]).is_ok(),
                "zxcvbn alone accepts {breached}"
            );
            assert_eq!(
                check_new_password(breached, &[]),
                Err(PasswordError::Breached),
                "{breached}"
            );
        }
        assert!(is_breached("PASSWORD1234"));
        assert!(!is_breached("saffron-glacier-otter-map-41"));
        assert!(check_new_password("saffron-glacier-otter-map-41", &["jo@example.org"]).is_ok());
        // Short and guessable passwords still fail on their own rule first.
        assert_eq!(
            check_new_password("short", &[]),
            Err(PasswordError::TooShort { min: NewPassword::MIN })
        );
    }
}
