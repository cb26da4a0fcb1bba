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

/// A new token that names its owner, `<owner>.<secret>`: the owner's 16-byte
/// id and a 256-bit secret, each URL-safe base64 (22 + 1 + 43 characters).
/// Velum's owners are clinics, so a stored token can be keyed by clinic first
/// and found without searching every clinic. The hash covers the whole text,
/// so a secret cannot be moved to another owner.
#[must_use]
pub fn new_owned_token(owner: [u8; 16]) -> (String, [u8; 32]) {
    let (secret, _) = new_token();
    let token = format!("{}.{secret}", URL_SAFE_NO_PAD.encode(owner));
    let hash = hash_token(&token);
    (token, hash)
}

/// The owner and stored hash of a token made by [`new_owned_token`];
/// `None` for anything of another shape.
#[must_use]
pub fn parse_owned_token(token: &str) -> Option<([u8; 16], [u8; 32])> {
    let (owner, secret) = token.split_once('.')?;
    let owner: [u8; 16] = URL_SAFE_NO_PAD.decode(owner).ok()?.try_into().ok()?;
    let secret_len = URL_SAFE_NO_PAD.decode(secret).ok()?.len();
    (secret_len == 32).then(|| (owner, hash_token(token)))
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
    fn owned_tokens_name_their_owner_and_reject_other_shapes() {
        let owner = [7u8; 16];
        let (token, hash) = new_owned_token(owner);
        assert_eq!(token.len(), 22 + 1 + 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        );
        assert_eq!(parse_owned_token(&token), Some((owner, hash)));
        assert_eq!(hash, hash_token(&token));
        // Another owner with the same secret is another token.
        let (_, secret) = token.split_once('.').unwrap();
        let moved = format!("{}.{secret}", URL_SAFE_NO_PAD.encode([8u8; 16]));
        assert_ne!(parse_owned_token(&moved).map(|p| p.1), Some(hash));
        let (plain, _) = new_token();
        for bad in [
            plain.as_str(),
            "",
            ".",
            "abc.def",
            &token[1..],
            &format!("{token}x"),
            &token.replace('.', ""),
        ] {
            assert_eq!(parse_owned_token(bad), None, "{bad:?}");
        }
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
