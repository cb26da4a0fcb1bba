//! Random bytes and bearer tokens (sessions, password resets, invitations).
//!
//! Tokens are stored hashed: the database holds only SHA-256 of the token,
//! so a leaked table cannot be replayed as cookies or reset links. A plain
//! hash (not Argon2) is right here because the token has 256 bits of entropy
//! and cannot be guessed, unlike a password.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::TryRng as _;
use rand::rngs::SysRng;
use sha2::{Digest as _, Sha256};

/// `N` bytes from the operating system's CSPRNG (`getrandom`).
///
/// # Panics
/// If the operating system cannot supply random bytes. Carrying on without
/// randomness would mean predictable keys, nonces and tokens, so this is not
/// recoverable.
#[must_use]
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SysRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random number generator failed");
    bytes
}

/// A new 256-bit random session or reset token, as URL-safe base64 without
/// padding (43 characters, safe in cookies and URLs), and its SHA-256 for
/// storage. Give the token to the user; store only the hash.
#[must_use]
pub fn new_token() -> (String, [u8; 32]) {
    let mut bytes: [u8; 32] = random_bytes();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token as presented by the user, to look up its stored hash.
#[must_use]
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_unique_and_stored_as_their_hash() {
        let (token, hash) = new_token();
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).map(|b| b.len()), Ok(32));
        assert_eq!(hash_token(&token), hash);
        let (other, other_hash) = new_token();
        assert_ne!(token, other);
        assert_ne!(hash, other_hash);
    }

    #[test]
    fn hash_token_is_sha256_of_the_text() {
        // FIPS 180-2 test vector for "abc".
        let expected = [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03,
            0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
        ];
        assert_eq!(hash_token("abc"), expected);
    }

    #[test]
    fn random_bytes_are_not_constant() {
        let a: [u8; 32] = random_bytes();
        let b: [u8; 32] = random_bytes();
        assert_ne!(a, b);
        let empty: [u8; 0] = random_bytes();
        assert_eq!(empty, []);
    }
}
