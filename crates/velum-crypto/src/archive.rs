//! Sealing an archive to a passphrase that is typed long before the archive
//! exists, without storing the passphrase or anything that opens the
//! archive.
//!
//! When a clinic's owner asks to leave, they type a passphrase. Velum
//! derives a 32-byte secret from it with Argon2id (64 MiB, 3 passes, one
//! lane) and a random 16-byte salt, treats that secret as an X25519 private
//! key, and keeps only the salt and the matching **public** key
//! ([`ArchiveRecipient`]). The passphrase and the private key are dropped
//! (zeroized) at once. At offboarding, the archive is sealed to that public
//! key: a fresh ephemeral X25519 key agrees a shared secret with it, HKDF-
//! SHA256 turns that into an AES-256-GCM key (bound to both public keys),
//! and the ephemeral private key is dropped. Only someone who knows the
//! passphrase can recompute the private key and open the archive; the
//! platform (its operators, its database, its master key) holds ciphertext
//! and a public key only. Someone holding the stored salt and public key
//! can try passphrases offline at Argon2id's cost, which is why the owner's
//! passphrase must be a strong one.
//!
//! The parameters are part of the format: NEVER CHANGE THEM for format 1 of
//! [`ArchiveRecipient`]; a new format gets new constants.

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::seal::{Aad, open_with, seal_with};
use crate::token::random_bytes;

/// Argon2id memory cost (KiB), passes and lanes for the passphrase.
pub const PASSPHRASE_M_KIB: u32 = 64 * 1024;
pub const PASSPHRASE_T: u32 = 3;
pub const PASSPHRASE_P: u32 = 1;
/// Length of the random Argon2id salt.
pub const SALT_LEN: usize = 16;
/// Length of an X25519 public key.
pub const PUBLIC_LEN: usize = 32;

/// HKDF info prefix for the archive key. Never change it.
const HKDF_INFO: &[u8] = b"velum/archive-recipient/x25519-hkdf-sha256-aes256gcm/v1";

/// The only thing kept of an owner's archive passphrase: the Argon2id salt
/// and the X25519 public key derived from it. Not secret; it can seal to
/// the passphrase but never open anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveRecipient {
    salt: [u8; SALT_LEN],
    public: [u8; PUBLIC_LEN],
}

/// One sealing to an [`ArchiveRecipient`]: a fresh ephemeral X25519 key,
/// whose public half goes in the archive's header (so the header, bound
/// into the associated data, can name it before the body is sealed).
pub struct Sealer {
    secret: StaticSecret,
    ephemeral: [u8; PUBLIC_LEN],
    recipient: [u8; PUBLIC_LEN],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// The ephemeral public key: goes in the archive's header.
    #[must_use]
    pub fn ephemeral(&self) -> &[u8; PUBLIC_LEN] {
        &self.ephemeral
    }

    /// Seal `plaintext` (binding `aad`) so that only the passphrase opens
    /// it. The ephemeral private key is dropped (zeroized) with `self`.
    #[must_use]
    pub fn seal(self, plaintext: &[u8], aad: &Aad) -> Vec<u8> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(self.recipient));
        let key = archive_key(shared.as_bytes(), &self.ephemeral, &self.recipient);
        seal_with(&key, plaintext, aad.as_bytes())
    }

    /// Seal a long body into `out` chunk by chunk ([`crate::stream`]) so
    /// that only the passphrase opens it. The ephemeral private key is
    /// dropped (zeroized) with `self`; the stream keeps only the derived key.
    ///
    /// # Errors
    /// `out`'s errors.
    pub fn seal_stream<W: std::io::Write>(self, aad: &Aad, out: W) -> std::io::Result<crate::stream::SealWriter<W>> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(self.recipient));
        let key = archive_key(shared.as_bytes(), &self.ephemeral, &self.recipient);
        crate::stream::SealWriter::new(&key, aad, out)
    }
}

fn passphrase_secret(passphrase: &str, salt: &[u8]) -> Result<StaticSecret, CryptoError> {
    let params = Params::new(PASSPHRASE_M_KIB, PASSPHRASE_T, PASSPHRASE_P, Some(32))
        .expect("the passphrase parameters are valid Argon2 parameters");
    let mut out = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|_| CryptoError::Malformed)?;
    Ok(StaticSecret::from(*out))
}

fn archive_key(shared: &[u8; 32], ephemeral: &[u8; PUBLIC_LEN], recipient: &[u8; PUBLIC_LEN]) -> Zeroizing<[u8; 32]> {
    let mut info = HKDF_INFO.to_vec();
    info.extend_from_slice(ephemeral);
    info.extend_from_slice(recipient);
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, shared)
        .expand(&info, out.as_mut())
        .expect("32 bytes is within HKDF-SHA256's 8160-byte limit");
    out
}

impl ArchiveRecipient {
    /// Derive the recipient of `passphrase` under a new random salt. Slow on
    /// purpose (Argon2id, 64 MiB): run it off the async runtime.
    #[must_use]
    pub fn from_passphrase(passphrase: &str) -> ArchiveRecipient {
        let salt: [u8; SALT_LEN] = random_bytes();
        let secret = passphrase_secret(passphrase, &salt).expect("a 16-byte salt is a valid Argon2 salt");
        ArchiveRecipient {
            salt,
            public: PublicKey::from(&secret).to_bytes(),
        }
    }

    /// A stored recipient.
    ///
    /// # Errors
    /// [`CryptoError::KeyLength`] if either part has the wrong length.
    pub fn from_parts(salt: &[u8], public: &[u8]) -> Result<ArchiveRecipient, CryptoError> {
        let salt = <[u8; SALT_LEN]>::try_from(salt).map_err(|_| CryptoError::KeyLength {
            expected: SALT_LEN,
            actual: salt.len(),
        })?;
        let public = <[u8; PUBLIC_LEN]>::try_from(public).map_err(|_| CryptoError::KeyLength {
            expected: PUBLIC_LEN,
            actual: public.len(),
        })?;
        Ok(ArchiveRecipient { salt, public })
    }

    #[must_use]
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    #[must_use]
    pub fn public(&self) -> &[u8; PUBLIC_LEN] {
        &self.public
    }

    /// Start sealing to this recipient with a fresh ephemeral key.
    #[must_use]
    pub fn sealer(&self) -> Sealer {
        let secret = StaticSecret::from(random_bytes::<32>());
        Sealer {
            ephemeral: PublicKey::from(&secret).to_bytes(),
            secret,
            recipient: self.public,
        }
    }
}

/// Open a body sealed by [`Sealer::seal`], from the passphrase and
/// what the archive's header carries (salt, recipient public key, ephemeral
/// public key).
///
/// # Errors
/// [`CryptoError::WrongKey`] for a wrong passphrase (or altered bytes or
/// associated data); [`CryptoError::KeyLength`] for header parts of the
/// wrong length.
pub fn open_with_passphrase(
    passphrase: &str,
    salt: &[u8],
    recipient: &[u8],
    ephemeral: &[u8],
    sealed: &[u8],
    aad: &Aad,
) -> Result<Vec<u8>, CryptoError> {
    let stored = ArchiveRecipient::from_parts(salt, recipient)?;
    let ephemeral = <[u8; PUBLIC_LEN]>::try_from(ephemeral).map_err(|_| CryptoError::KeyLength {
        expected: PUBLIC_LEN,
        actual: ephemeral.len(),
    })?;
    let key = passphrase_key(passphrase, &stored, &ephemeral)?;
    open_with(&key, sealed, aad.as_bytes())
}

/// The body key from the passphrase and the header's parts; a passphrase
/// whose public key is not the recipient's is [`CryptoError::WrongKey`].
fn passphrase_key(
    passphrase: &str,
    stored: &ArchiveRecipient,
    ephemeral: &[u8; PUBLIC_LEN],
) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let secret = passphrase_secret(passphrase, &stored.salt)?;
    if PublicKey::from(&secret).to_bytes() != stored.public {
        return Err(CryptoError::WrongKey);
    }
    let shared = secret.diffie_hellman(&PublicKey::from(*ephemeral));
    Ok(archive_key(shared.as_bytes(), ephemeral, &stored.public))
}

/// Open a body sealed by [`Sealer::seal_stream`], from the passphrase and
/// the header's parts, as a reader that authenticates chunk by chunk.
///
/// # Errors
/// [`CryptoError::WrongKey`] for a wrong passphrase; [`CryptoError::KeyLength`]
/// for header parts of the wrong length; [`CryptoError::Malformed`] for a
/// body that is not a sealed stream. Damage further on is reported by the
/// reader (`InvalidData`).
pub fn open_stream_with_passphrase<R: std::io::Read>(
    passphrase: &str,
    salt: &[u8],
    recipient: &[u8],
    ephemeral: &[u8],
    sealed: R,
    aad: &Aad,
) -> Result<crate::stream::OpenReader<R>, CryptoError> {
    let stored = ArchiveRecipient::from_parts(salt, recipient)?;
    let ephemeral = <[u8; PUBLIC_LEN]>::try_from(ephemeral).map_err(|_| CryptoError::KeyLength {
        expected: PUBLIC_LEN,
        actual: ephemeral.len(),
    })?;
    let key = passphrase_key(passphrase, &stored, &ephemeral)?;
    crate::stream::OpenReader::new(&key, aad, sealed).map_err(|_| CryptoError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_passphrase_opens_and_the_recipient_holds_no_secret() {
        let aad = Aad::record("velum.test/archive", &[]);
        let r = ArchiveRecipient::from_passphrase("copper kettle orchard lantern");
        let again = ArchiveRecipient::from_passphrase("copper kettle orchard lantern");
        assert_ne!(r.salt(), again.salt(), "a new salt each time");
        assert_ne!(r.public(), again.public());
        let sealer = r.sealer();
        let ephemeral = *sealer.ephemeral();
        let s = (ephemeral, sealer.seal(b"the clinic's data", &aad));
        let opened =
            open_with_passphrase("copper kettle orchard lantern", r.salt(), r.public(), &s.0, &s.1, &aad).unwrap();
        assert_eq!(opened, b"the clinic's data");
        let wrong = open_with_passphrase("copper kettle orchard lanterns", r.salt(), r.public(), &s.0, &s.1, &aad);
        assert_eq!(wrong, Err(CryptoError::WrongKey));
        let other_aad = Aad::record("velum.test/other", &[]);
        let moved = open_with_passphrase(
            "copper kettle orchard lantern",
            r.salt(),
            r.public(),
            &s.0,
            &s.1,
            &other_aad,
        );
        assert_eq!(moved, Err(CryptoError::WrongKey));
        // The stored parts round-trip, and nothing in them is the passphrase.
        let stored = ArchiveRecipient::from_parts(r.salt(), r.public()).unwrap();
        assert_eq!(stored, r);
        assert!(ArchiveRecipient::from_parts(&[0; 3], r.public()).is_err());
    }
}
