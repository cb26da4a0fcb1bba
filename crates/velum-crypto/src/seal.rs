//! Envelope encryption: AES-256-GCM with the record's identity as associated
//! data.
//!
//! Sealed format (also used for wrapped keys):
//!
//! ```text
//! version (1 byte, = 1) || nonce (12 random bytes) || ciphertext || tag (16 bytes)
//! ```
//!
//! The associated data is not stored: the caller names the record again when
//! opening, so a ciphertext copied onto another record (another client,
//! another field) fails to open instead of showing the wrong person's data.
//! Nonces are random: each key seals few values (one client's fields, or one
//! clinic's keys and staff secrets), far below the 2^32 messages per key at
//! which NIST SP 800-38D §8.3 stops allowing random 96-bit nonces.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use uuid::Uuid;

use crate::CryptoError;
use crate::token::random_bytes;

/// The error of [`open`](crate::ClientKey::open)ing a sealed value: the
/// crate's one error type, under the name callers of the `seal` API use.
pub type SealError = CryptoError;

/// Format version of sealed values and wrapped keys. Bump it (and keep
/// opening the old one) if the layout or algorithm ever changes.
pub(crate) const VERSION: u8 = 1;
/// AES-GCM's standard 96-bit nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// AES-GCM's full 128-bit tag.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a sealed value adds to its plaintext.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// Associated data naming the record a ciphertext belongs to.
///
/// **NEVER CHANGE THE ENCODING.** These bytes are bound into every stored
/// ciphertext: any change, even a reordering, makes all existing data
/// unreadable. Add a new constructor (with a different `kind`) instead.
///
/// The encoding of [`Aad::record`] is, with every length a big-endian `u64`:
///
/// ```text
/// len(kind) || kind (UTF-8) || count(ids) || id_1 (16 bytes) || ... || id_n
/// ```
///
/// Each part is length-prefixed, so two different `(kind, ids)` pairs never
/// encode to the same bytes. The first byte is always `0x00` (no label is
/// 2^56 bytes long), which also keeps these bytes apart from the key-wrapping
/// associated data in [`keys`](crate::keys), which starts with `velum/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Aad(Vec<u8>);

impl Aad {
    /// Associated data for one record: a label saying what the value is and
    /// the ids of what it belongs to, outermost first, e.g.
    /// `Aad::record("client.medical", &[clinic.as_uuid(), client.as_uuid()])`.
    #[must_use]
    pub fn record(kind: &str, ids: &[Uuid]) -> Aad {
        let mut bytes = Vec::with_capacity(8 + kind.len() + 8 + 16 * ids.len());
        bytes.extend_from_slice(&(kind.len() as u64).to_be_bytes());
        bytes.extend_from_slice(kind.as_bytes());
        bytes.extend_from_slice(&(ids.len() as u64).to_be_bytes());
        for id in ids {
            bytes.extend_from_slice(id.as_bytes());
        }
        Aad(bytes)
    }

    /// Associated data for one version of a record: [`Aad::record`]'s bytes
    /// followed by `version` as a big-endian `u64`, e.g. the medical record's
    /// version, so that an older ciphertext of the same record copied over
    /// the current row does not open (a rollback is detected, not shown).
    ///
    /// **NEVER CHANGE THE ENCODING** (as for [`Aad::record`]). It cannot
    /// collide with an [`Aad::record`] encoding: for the same `kind` the
    /// lengths differ by 8 modulo 16 (ids are 16 bytes each), and a
    /// different `kind` differs in its length-prefixed label.
    #[must_use]
    pub fn record_version(kind: &str, ids: &[Uuid], version: u64) -> Aad {
        let mut aad = Aad::record(kind, ids);
        aad.0.extend_from_slice(&version.to_be_bytes());
        aad
    }

    /// The encoded bytes, as passed to AES-GCM.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Seal `plaintext` under `key`, binding `aad`.
///
/// # Panics
/// Only if `plaintext` exceeds AES-GCM's limit of 64 GiB.
pub(crate) fn seal_with(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    let nonce: [u8; NONCE_LEN] = random_bytes();
    let ciphertext = cipher
        .encrypt((&nonce).into(), Payload { msg: plaintext, aad })
        .expect("AES-GCM only refuses plaintexts over 64 GiB");
    let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    sealed.push(VERSION);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    sealed
}

/// Open a value sealed by [`seal_with`].
pub(crate) fn open_with(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let (&version, rest) = sealed.split_first().ok_or(CryptoError::Malformed)?;
    if version != VERSION {
        return Err(CryptoError::UnsupportedVersion(version));
    }
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(nonce.into(), Payload { msg: ciphertext, aad })
        .map_err(|_| CryptoError::WrongKey)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn aad_encoding_is_pinned() {
        // This is the stored format: if this test fails, existing data no
        // longer opens. Do not update the expected bytes; revert the change.
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let aad = Aad::record("ab", &[id]);
        let expected: &[u8] = &[
            0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b', // len(kind), kind
            0, 0, 0, 0, 0, 0, 0, 1, // count(ids)
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, // id, RFC 9562 byte order
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
        ];
        assert_eq!(aad.as_bytes(), expected);
    }

    #[test]
    fn versioned_aad_encoding_is_pinned() {
        // Stored format, like `aad_encoding_is_pinned`: never update these bytes.
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let aad = Aad::record_version("ab", &[id], 0x0102);
        let expected: &[u8] = &[
            0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b', // len(kind), kind
            0, 0, 0, 0, 0, 0, 0, 1, // count(ids)
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, // id
            0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, //
            0, 0, 0, 0, 0, 0, 0x01, 0x02, // version
        ];
        assert_eq!(aad.as_bytes(), expected);
    }

    #[test]
    fn versions_of_one_record_have_different_aad() {
        let ids = [Uuid::from_u128(1), Uuid::from_u128(2)];
        let v1 = Aad::record_version("client.medical/v2", &ids, 1);
        let v2 = Aad::record_version("client.medical/v2", &ids, 2);
        assert_ne!(v1, v2);
        assert_ne!(v1, Aad::record("client.medical/v2", &ids));
        let sealed = seal_with(&KEY, b"allergy: latex", v1.as_bytes());
        assert_eq!(open_with(&KEY, &sealed, v2.as_bytes()), Err(CryptoError::WrongKey));
        assert_eq!(open_with(&KEY, &sealed, v1.as_bytes()), Ok(b"allergy: latex".to_vec()));
    }

    #[test]
    fn aad_is_unambiguous_where_naive_concatenation_is_not() {
        let a = Uuid::from_u128(1);
        assert_ne!(Aad::record("ab", &[]), Aad::record("a", &[]));
        assert_ne!(Aad::record("x", &[a]), Aad::record("x", &[a, a]));
        assert_ne!(Aad::record("x", &[]), Aad::record("", &[]));
    }

    #[test]
    fn sealed_layout_is_version_nonce_ciphertext_tag() {
        let sealed = seal_with(&KEY, b"hello", b"");
        assert_eq!(sealed[0], VERSION);
        assert_eq!(sealed.len(), b"hello".len() + OVERHEAD);
    }

    #[test]
    fn sealing_twice_gives_different_bytes() {
        assert_ne!(seal_with(&KEY, b"same", b""), seal_with(&KEY, b"same", b""));
    }

    #[test]
    fn short_or_unknown_version_input_is_rejected_without_decrypting() {
        assert_eq!(open_with(&KEY, &[], b""), Err(CryptoError::Malformed));
        assert_eq!(open_with(&KEY, &[VERSION; 28], b""), Err(CryptoError::Malformed));
        let mut sealed = seal_with(&KEY, b"x", b"");
        sealed[0] = 2;
        assert_eq!(open_with(&KEY, &sealed, b""), Err(CryptoError::UnsupportedVersion(2)));
    }

    #[test]
    fn empty_plaintext_round_trips() {
        let sealed = seal_with(&KEY, b"", b"aad");
        assert_eq!(sealed.len(), OVERHEAD);
        assert_eq!(open_with(&KEY, &sealed, b"aad"), Ok(Vec::new()));
    }

    fn uuids() -> impl Strategy<Value = Vec<Uuid>> {
        proptest::collection::vec(any::<u128>().prop_map(Uuid::from_u128), 0..4)
    }

    proptest! {
        #[test]
        fn aad_encodings_differ_when_inputs_differ(
            k1 in ".{0,12}", ids1 in uuids(), k2 in ".{0,12}", ids2 in uuids()
        ) {
            prop_assume!((k1.as_str(), &ids1) != (k2.as_str(), &ids2));
            prop_assert_ne!(Aad::record(&k1, &ids1), Aad::record(&k2, &ids2));
        }

        #[test]
        fn versioned_aad_never_equals_a_plain_one(
            k1 in ".{0,12}", ids1 in uuids(), k2 in ".{0,12}", ids2 in uuids(), v in any::<u64>()
        ) {
            prop_assert_ne!(Aad::record_version(&k1, &ids1, v), Aad::record(&k2, &ids2));
        }
    }
}
