//! Password hashing with Argon2id.
//!
//! Parameters are argon2 0.6's defaults: Argon2id v19, 19 MiB, 2 passes,
//! 1 lane, 16-byte random salt, which is the first configuration the OWASP
//! Password Storage Cheat Sheet recommends
//! (<https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html#argon2id>).
//! Hashes are PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), which
//! carry their own parameters, so raising them later keeps old hashes valid.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

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
}
