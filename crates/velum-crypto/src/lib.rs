//! Velum's cryptography, in one place so it can be reviewed in one place.
//!
//! What this crate owns:
//!
//! - the key ring ([`keys`]): a 32-byte master key (read from a file by the
//!   caller) wraps one key per clinic; a clinic key wraps one data key per
//!   client. Destroying a client's wrapped key crypto-shreds that client.
//!   The master key also derives the `SQLCipher` database key and a
//!   non-secret fingerprint;
//! - envelope encryption ([`seal`]): special-category data is sealed with
//!   AES-256-GCM under the client's data key, with the record's identity
//!   ([`Aad`]) bound in as associated data;
//! - the audit hash chain ([`chain`]): keyed HMAC-SHA-256 links (v2) under
//!   a key derived from the master key, the plain SHA-256 links of older
//!   events (v1), and the Ed25519 key that signs chain heads;
//! - password hashing with Argon2id ([`password`]);
//! - TOTP second factor and its QR code ([`totp`]), and single-use recovery
//!   codes ([`recovery`]);
//! - random session and reset tokens ([`token`]);
//! - sealing an offboarding archive to the owner's passphrase ([`archive`]).
//!
//! Every wrapped key and sealed blob starts with a format version byte, so
//! key rotation can later re-wrap keys without re-encrypting data.
//!
//! It depends only on `velum-core` (for the typed ids) and on small
//! cryptography crates: never on the store, the app, the web layer, or
//! anything that does IO. It does not read the clock (callers pass unix
//! seconds) and does not touch files (callers read and write the key file).
//! Secrets are zeroized on drop and never appear in `Debug` output or in
//! errors (G4).

pub mod archive;
pub mod chain;
pub mod keys;
pub mod password;
pub mod recovery;
pub mod seal;
pub mod stream;
pub mod token;
pub mod totp;

pub use keys::{ArchiveKey, ClientKey, ClinicKey, MasterKey, WrappedKey};
pub use seal::{Aad, SealError};
pub use totp::TotpSecret;

/// What can go wrong in this crate. No variant carries secret material, so
/// these errors are safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Unwrapping or opening failed: the key is wrong, the associated data
    /// (record identity or key owner) is wrong, or the bytes were altered.
    /// AES-GCM cannot tell these apart, and callers should not try to.
    #[error("decryption failed: wrong key, wrong associated data, or the data was altered")]
    WrongKey,
    /// The bytes are too short to be a sealed value or a wrapped key.
    #[error("encrypted value or wrapped key is malformed")]
    Malformed,
    /// The format version byte is not one this build understands.
    #[error("encrypted value has unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// Key material of the wrong length.
    #[error("key must be {expected} bytes, got {actual}")]
    KeyLength { expected: usize, actual: usize },
    /// A TOTP secret shorter than RFC 4226 allows (128 bits) or implausibly
    /// long.
    #[error(
        "TOTP secret must be {min} to {max} bytes, got {0}",
        min = totp::MIN_SECRET_LEN,
        max = totp::MAX_SECRET_LEN
    )]
    TotpSecretLength(usize),
    /// Text that should be an RFC 4648 base32 TOTP secret is not.
    #[error("TOTP secret is not valid base32")]
    Base32,
    /// Text that should be an archive key is not 64 hexadecimal digits.
    #[error("the key must be 64 hexadecimal digits (hyphens and spaces are ignored)")]
    KeyText,
}
