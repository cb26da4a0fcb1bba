//! The key ring: master key → clinic keys → client data keys.
//!
//! - The **master key** (32 random bytes in a file only the service can
//!   read) wraps one key per clinic and derives the `SQLCipher` database key.
//! - A **clinic key** wraps one data key per client, and seals small
//!   clinic-level secrets such as staff TOTP secrets.
//! - A **client key** seals that client's special-category data. Deleting
//!   its wrapped form crypto-shreds the client: every sealed field, and every
//!   backup of it, becomes unreadable.
//!
//! Wrapping is AES-256-GCM (the [`seal`](crate::seal) format) with associated
//! data naming the purpose and the owner, so a wrapped key copied onto
//! another clinic or client does not unwrap. Master-key rotation re-wraps
//! clinic keys; nothing below them is re-encrypted.
//!
//! Key types are not `Clone` (fewer copies of secrets in memory; share one
//! behind an `Arc` if needed), are zeroized on drop, and print as
//! `<redacted>` (G4).

use std::fmt;

use hkdf::Hkdf;
use secrecy::SecretString;
use sha2::Sha256;
use velum_core::id::{ClientId, ClinicId};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::CryptoError;
use crate::seal::{Aad, open_with, seal_with};
use crate::token::random_bytes;

/// Length of every symmetric key here: AES-256.
pub const KEY_LEN: usize = 32;

// HKDF "info" labels. Each derived key is for one purpose only; never
// change these, or the database key and stored wrapped keys stop matching.
const INFO_SQLCIPHER: &[u8] = b"velum/sqlcipher/v1";
const INFO_KEY_ID: &[u8] = b"velum/key-id/v1";
const INFO_CLINIC_WRAP: &[u8] = b"velum/clinic-key-wrap/v1";
const INFO_AUDIT_CHAIN: &[u8] = b"velum/audit-chain/v2";
const INFO_AUDIT_HEAD_SIGNING: &[u8] = b"velum/audit-head-signing/v1";
const INFO_BACKUP: &[u8] = b"velum/backup/v1";

// Associated-data labels for wrapped keys. Never change these either.
const AAD_CLINIC_KEY: &[u8] = b"velum/clinic-key/v1";
const AAD_CLIENT_KEY: &[u8] = b"velum/client-key/v1";

/// HKDF-SHA256 (RFC 5869) without salt: the input is already a uniformly
/// random key, so extract needs no salt (RFC 5869 §3.1).
fn derive(ikm: &[u8; KEY_LEN], info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(None, ikm)
        .expand(info, out.as_mut())
        .expect("32 bytes is within HKDF-SHA256's 8160-byte limit");
    out
}

fn key_from_plaintext(plaintext: &Zeroizing<Vec<u8>>) -> Result<[u8; KEY_LEN], CryptoError> {
    <[u8; KEY_LEN]>::try_from(plaintext.as_slice()).map_err(|_| CryptoError::Malformed)
}

fn clinic_key_aad(clinic: ClinicId) -> Vec<u8> {
    let mut aad = AAD_CLINIC_KEY.to_vec();
    aad.extend_from_slice(clinic.as_uuid().as_bytes());
    aad
}

fn client_key_aad(clinic: ClinicId, client: ClientId) -> Vec<u8> {
    let mut aad = AAD_CLIENT_KEY.to_vec();
    aad.extend_from_slice(clinic.as_uuid().as_bytes());
    aad.extend_from_slice(client.as_uuid().as_bytes());
    aad
}

/// Lower-case hex of a key into a buffer that is wiped on drop: no
/// unzeroized copy of the digits is left behind.
fn lower_hex(key: &[u8; KEY_LEN]) -> Zeroizing<[u8; 2 * KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; 2 * KEY_LEN]);
    // Cannot fail: the buffer is exactly twice the key's length.
    let _ = hex::encode_to_slice(key, out.as_mut_slice());
    out
}

/// The installation's root key. Read from the key file by the caller.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; KEY_LEN]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// A new random master key, from the operating system's CSPRNG.
    #[must_use]
    pub fn generate() -> MasterKey {
        MasterKey(random_bytes())
    }

    /// A master key from the key file's bytes.
    ///
    /// # Errors
    /// [`CryptoError::KeyLength`] unless `bytes` is exactly 32 bytes long.
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, CryptoError> {
        <[u8; KEY_LEN]>::try_from(bytes)
            .map(MasterKey)
            .map_err(|_| CryptoError::KeyLength {
                expected: KEY_LEN,
                actual: bytes.len(),
            })
    }

    /// The raw key, for writing the key file. The caller zeroizes the copy.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; KEY_LEN] {
        self.0
    }

    /// The `SQLCipher` key, derived with HKDF-SHA256 (info
    /// `velum/sqlcipher/v1`), as `SQLCipher`'s raw-key literal
    /// `x'<64 hex digits>'`. Raw keys skip `SQLCipher`'s own PBKDF2 (the key is
    /// already random). The caller double-quotes it: `PRAGMA key = "x'…'"`
    /// (<https://www.zetetic.net/sqlcipher/sqlcipher-api/#key>). Never log it.
    #[must_use]
    pub fn sqlcipher_key(&self) -> SecretString {
        let key = derive(&self.0, INFO_SQLCIPHER);
        // Sized up front so the string never reallocates and leaves an
        // unzeroized copy behind.
        let mut literal = String::with_capacity(2 * KEY_LEN + 3);
        literal.push_str("x'");
        literal.extend(lower_hex(&key).iter().map(|&b| char::from(b)));
        literal.push('\'');
        SecretString::from(literal)
    }

    /// A short, non-secret fingerprint of this key (hex of the first 8 bytes
    /// of HKDF-SHA256 with info `velum/key-id/v1`). Store it beside the data
    /// so that starting with the wrong key file fails with a clear message.
    /// It reveals nothing useful about the key (HKDF output is one-way).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        let id = derive(&self.0, INFO_KEY_ID);
        hex::encode(&id[..8])
    }

    /// The audit chain's v2 key: HKDF-SHA256 with info
    /// `velum/audit-chain/v2`. Each chain's own key is derived from it
    /// ([`ChainKey::for_chain`](crate::chain::ChainKey::for_chain)).
    #[must_use]
    pub fn audit_chain_key(&self) -> crate::chain::ChainKey {
        crate::chain::ChainKey::from_derived(&derive(&self.0, INFO_AUDIT_CHAIN))
    }

    /// The Ed25519 key that signs audit-chain heads: its 32-byte seed is
    /// HKDF-SHA256 with info `velum/audit-head-signing/v1`.
    #[must_use]
    pub fn audit_head_signing_key(&self) -> crate::chain::HeadSigningKey {
        crate::chain::HeadSigningKey::from_seed(&derive(&self.0, INFO_AUDIT_HEAD_SIGNING))
    }

    /// Seal an installation backup (`velum backup`) into `out`, chunk by
    /// chunk ([`crate::stream`]), under a key derived from this master key
    /// (HKDF-SHA256, info `velum/backup/v1`): whoever holds the master key
    /// can restore it on any machine, and nobody else can read it, so a
    /// backup is exactly as protected as the data it copies.
    ///
    /// # Errors
    /// `out`'s errors.
    pub fn seal_backup_stream<W: std::io::Write>(
        &self,
        aad: &Aad,
        out: W,
    ) -> std::io::Result<crate::stream::SealWriter<W>> {
        crate::stream::SealWriter::new(&derive(&self.0, INFO_BACKUP), aad, out)
    }

    /// Open a stream sealed by [`MasterKey::seal_backup_stream`].
    ///
    /// # Errors
    /// As [`ClinicKey::open_stream`].
    pub fn open_backup_stream<R: std::io::Read>(
        &self,
        aad: &Aad,
        input: R,
    ) -> std::io::Result<crate::stream::OpenReader<R>> {
        crate::stream::OpenReader::new(&derive(&self.0, INFO_BACKUP), aad, input)
    }

    /// The key that actually wraps clinic keys: derived, so that the master
    /// key itself is only ever an HKDF input and never used for two things.
    fn wrapping_key(&self) -> Zeroizing<[u8; KEY_LEN]> {
        derive(&self.0, INFO_CLINIC_WRAP)
    }

    /// Wrap `key` for storage beside `clinic`.
    #[must_use]
    pub fn wrap_clinic_key(&self, key: &ClinicKey, clinic: ClinicId) -> WrappedKey {
        WrappedKey(seal_with(&self.wrapping_key(), &key.0, &clinic_key_aad(clinic)))
    }

    /// Unwrap the key of `clinic`.
    ///
    /// # Errors
    /// [`CryptoError::WrongKey`] if this is not the master key that wrapped
    /// it, the key belongs to another clinic, or the bytes were altered;
    /// [`CryptoError::Malformed`] or [`CryptoError::UnsupportedVersion`] if
    /// the bytes are not a wrapped key at all.
    pub fn unwrap_clinic_key(&self, wrapped: &WrappedKey, clinic: ClinicId) -> Result<ClinicKey, CryptoError> {
        let plaintext = Zeroizing::new(open_with(&self.wrapping_key(), &wrapped.0, &clinic_key_aad(clinic))?);
        key_from_plaintext(&plaintext).map(ClinicKey)
    }
}

/// One clinic's key. Wraps its clients' keys and seals clinic-level secrets.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ClinicKey([u8; KEY_LEN]);

impl fmt::Debug for ClinicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClinicKey(<redacted>)")
    }
}

impl ClinicKey {
    /// A new random clinic key.
    #[must_use]
    pub fn generate() -> ClinicKey {
        ClinicKey(random_bytes())
    }

    /// Wrap `key` for storage beside `client` of `clinic`.
    #[must_use]
    pub fn wrap_client_key(&self, key: &ClientKey, clinic: ClinicId, client: ClientId) -> WrappedKey {
        WrappedKey(seal_with(&self.0, &key.0, &client_key_aad(clinic, client)))
    }

    /// Unwrap the key of `client` of `clinic`.
    ///
    /// # Errors
    /// [`CryptoError::WrongKey`] if this clinic key did not wrap it for this
    /// clinic and client, or the bytes were altered; [`CryptoError::Malformed`]
    /// or [`CryptoError::UnsupportedVersion`] if they are not a wrapped key.
    pub fn unwrap_client_key(
        &self,
        wrapped: &WrappedKey,
        clinic: ClinicId,
        client: ClientId,
    ) -> Result<ClientKey, CryptoError> {
        let plaintext = Zeroizing::new(open_with(&self.0, &wrapped.0, &client_key_aad(clinic, client))?);
        key_from_plaintext(&plaintext).map(ClientKey)
    }

    /// Seal a small clinic-level secret (e.g. a staff member's TOTP secret)
    /// under the clinic key. The [`Aad`] encoding cannot collide with the
    /// client-key wrapping data, so a sealed secret never opens as a key.
    #[must_use]
    pub fn seal(&self, plaintext: &[u8], aad: &Aad) -> Vec<u8> {
        seal_with(&self.0, plaintext, aad.as_bytes())
    }

    /// Open a value sealed by [`ClinicKey::seal`] with the same `aad`.
    ///
    /// # Errors
    /// [`CryptoError::WrongKey`] for the wrong key, the wrong `aad` or altered
    /// bytes; [`CryptoError::Malformed`] or [`CryptoError::UnsupportedVersion`]
    /// if the bytes are not a sealed value.
    pub fn open(&self, sealed: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        open_with(&self.0, sealed, aad.as_bytes())
    }

    /// Seal a long stream (a clinic export) into `out` chunk by chunk,
    /// bound to `aad` ([`crate::stream`]).
    ///
    /// # Errors
    /// `out`'s errors.
    pub fn seal_stream<W: std::io::Write>(&self, aad: &Aad, out: W) -> std::io::Result<crate::stream::SealWriter<W>> {
        crate::stream::SealWriter::new(&self.0, aad, out)
    }

    /// Open a stream sealed by [`ClinicKey::seal_stream`] with the same
    /// `aad`, chunk by chunk.
    ///
    /// # Errors
    /// `InvalidData` for a stream of another version or cut before it
    /// starts; `input`'s errors. Damage further on is reported by the
    /// reader.
    pub fn open_stream<R: std::io::Read>(&self, aad: &Aad, input: R) -> std::io::Result<crate::stream::OpenReader<R>> {
        crate::stream::OpenReader::new(&self.0, aad, input)
    }
}

/// One client's data key. Seals that client's special-category data.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ClientKey([u8; KEY_LEN]);

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientKey(<redacted>)")
    }
}

impl ClientKey {
    /// A new random client data key.
    #[must_use]
    pub fn generate() -> ClientKey {
        ClientKey(random_bytes())
    }

    /// Seal `plaintext`, binding it to the record named by `aad`.
    #[must_use]
    pub fn seal(&self, plaintext: &[u8], aad: &Aad) -> Vec<u8> {
        seal_with(&self.0, plaintext, aad.as_bytes())
    }

    /// Open a value sealed by [`ClientKey::seal`] with the same `aad`.
    ///
    /// # Errors
    /// [`CryptoError::WrongKey`] for the wrong key, the wrong `aad` or altered
    /// bytes; [`CryptoError::Malformed`] or [`CryptoError::UnsupportedVersion`]
    /// if the bytes are not a sealed value.
    pub fn open(&self, sealed: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        open_with(&self.0, sealed, aad.as_bytes())
    }
}

/// A one-off key for one archive handed out of the installation: a clinic's
/// offboarding archive. It is random, belongs to no key ring, is shown once
/// (as [`ArchiveKey::to_text`]) to be given to the clinic, and is never
/// stored, so once the installation's own keys for the clinic are destroyed
/// only the holder of this text can read the archive.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ArchiveKey([u8; KEY_LEN]);

impl fmt::Debug for ArchiveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArchiveKey(<redacted>)")
    }
}

impl ArchiveKey {
    /// A new random archive key, from the operating system's CSPRNG.
    #[must_use]
    pub fn generate() -> ArchiveKey {
        ArchiveKey(random_bytes())
    }

    /// The key as people pass it on: 64 lower-case hex digits in eight
    /// groups of eight joined by `-` (71 characters). Show it once; never
    /// log or store it.
    #[must_use]
    pub fn to_text(&self) -> SecretString {
        let hex = lower_hex(&self.0);
        let mut text = String::with_capacity(2 * KEY_LEN + 7);
        for (i, chunk) in hex.chunks(8).enumerate() {
            if i > 0 {
                text.push('-');
            }
            text.extend(chunk.iter().map(|&b| char::from(b)));
        }
        SecretString::from(text)
    }

    /// Read a key given as [`ArchiveKey::to_text`] prints it. Hyphens and
    /// white space are ignored and either case is accepted, so a key copied
    /// with line breaks or typed in upper case still reads.
    ///
    /// # Errors
    /// [`CryptoError::KeyText`] unless exactly 64 hex digits remain.
    pub fn from_text(text: &str) -> Result<ArchiveKey, CryptoError> {
        let digits: Zeroizing<Vec<u8>> = Zeroizing::new(
            text.bytes()
                .filter(|b| *b != b'-' && !b.is_ascii_whitespace())
                .collect(),
        );
        if digits.len() != 2 * KEY_LEN {
            return Err(CryptoError::KeyText);
        }
        let mut key = [0u8; KEY_LEN];
        if hex::decode_to_slice(digits.as_slice(), &mut key).is_err() {
            key.zeroize();
            return Err(CryptoError::KeyText);
        }
        Ok(ArchiveKey(key))
    }

    /// Seal `plaintext`, binding `aad`.
    #[must_use]
    pub fn seal(&self, plaintext: &[u8], aad: &Aad) -> Vec<u8> {
        seal_with(&self.0, plaintext, aad.as_bytes())
    }

    /// Open a value sealed by [`ArchiveKey::seal`] with the same `aad`.
    ///
    /// # Errors
    /// [`CryptoError::WrongKey`] for the wrong key, the wrong `aad` or altered
    /// bytes; [`CryptoError::Malformed`] or [`CryptoError::UnsupportedVersion`]
    /// if the bytes are not a sealed value.
    pub fn open(&self, sealed: &[u8], aad: &Aad) -> Result<Vec<u8>, CryptoError> {
        open_with(&self.0, sealed, aad.as_bytes())
    }
}

/// A key encrypted under the key above it, as stored: format version byte,
/// nonce, ciphertext and tag. Not secret.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey(Vec<u8>);

impl WrappedKey {
    /// Wrapped-key bytes as read from storage. Checked when unwrapped.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        WrappedKey(bytes)
    }

    /// The bytes to store.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes to store, without copying.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl fmt::Debug for WrappedKey {
    // Ciphertext is not secret, but dumping it into logs helps nobody.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::OVERHEAD;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn clinic(n: u128) -> ClinicId {
        ClinicId::from_uuid(Uuid::from_u128(n))
    }

    fn client(n: u128) -> ClientId {
        ClientId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn archive_keys_read_back_from_their_text_in_any_spelling() {
        use secrecy::ExposeSecret;
        let key = ArchiveKey([0xa5; 32]);
        let text = key.to_text();
        let text = text.expose_secret();
        assert_eq!(text.len(), 71);
        assert_eq!(text.split('-').count(), 8);
        assert!(text.starts_with("a5a5a5a5-"));
        let aad = Aad::record("t", &[]);
        let sealed = key.seal(b"archive", &aad);
        for spelling in [
            text.to_owned(),
            text.to_uppercase(),
            text.replace('-', ""),
            text.replace('-', "\n "),
        ] {
            let back = ArchiveKey::from_text(&spelling).unwrap();
            assert_eq!(back.open(&sealed, &aad).unwrap(), b"archive");
        }
        for bad in ["", "a5", &text[..70], &format!("{text}0"), &text.replace('a', "g")] {
            assert_eq!(ArchiveKey::from_text(bad).unwrap_err(), CryptoError::KeyText, "{bad}");
        }
        let other = ArchiveKey::generate();
        assert_eq!(other.open(&sealed, &aad), Err(CryptoError::WrongKey));
        assert_eq!(format!("{other:?}"), "ArchiveKey(<redacted>)");
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let master = MasterKey::from_bytes(&[0xab; 32]).unwrap();
        assert_eq!(format!("{master:?}"), "MasterKey(<redacted>)");
        assert_eq!(format!("{:?}", ClinicKey([0xab; 32])), "ClinicKey(<redacted>)");
        assert_eq!(format!("{:?}", ClientKey([0xab; 32])), "ClientKey(<redacted>)");
    }

    #[test]
    fn master_key_must_be_exactly_32_bytes() {
        assert_eq!(
            MasterKey::from_bytes(&[0; 31]).unwrap_err(),
            CryptoError::KeyLength {
                expected: 32,
                actual: 31
            }
        );
        assert!(MasterKey::from_bytes(&[0; 33]).is_err());
        assert!(MasterKey::from_bytes(&[]).is_err());
        let key = MasterKey::generate();
        let again = MasterKey::from_bytes(&key.to_bytes()).unwrap();
        assert_eq!(key.to_bytes(), again.to_bytes());
        assert_ne!(MasterKey::generate().to_bytes(), key.to_bytes());
    }

    #[test]
    fn sqlcipher_key_is_a_raw_key_literal_derived_not_copied() {
        let master = MasterKey::from_bytes(&[0x11; 32]).unwrap();
        let literal = secrecy::ExposeSecret::expose_secret(&master.sqlcipher_key()).to_owned();
        assert_eq!(literal.len(), 67);
        assert!(literal.starts_with("x'") && literal.ends_with('\''));
        assert!(literal[2..66].bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!literal.contains(&"11".repeat(32)));
        // Deterministic, and pinned: the database opens with this forever.
        assert_eq!(literal, secrecy::ExposeSecret::expose_secret(&master.sqlcipher_key()));
        let other = MasterKey::from_bytes(&[0x12; 32]).unwrap();
        assert_ne!(literal, secrecy::ExposeSecret::expose_secret(&other.sqlcipher_key()));
        assert_eq!(literal, PINNED_SQLCIPHER_KEY_OF_0X11);
    }
    // HKDF-SHA256(ikm = 32 × 0x11, no salt, info "velum/sqlcipher/v1"),
    // cross-checked with Python's hmac/hashlib.
    const PINNED_SQLCIPHER_KEY_OF_0X11: &str = "x'3ccb6c7931c97b3e2e7012be8bf940afe26b5dcb6e26778094b163724525206b'";

    #[test]
    fn fingerprint_is_short_stable_and_key_specific() {
        let a = MasterKey::from_bytes(&[0x11; 32]).unwrap();
        let b = MasterKey::from_bytes(&[0x12; 32]).unwrap();
        assert_eq!(a.fingerprint().len(), 16);
        assert_eq!(a.fingerprint(), a.fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), PINNED_FINGERPRINT_OF_0X11);
        let sql = a.sqlcipher_key();
        assert!(!secrecy::ExposeSecret::expose_secret(&sql).contains(&a.fingerprint()));
    }
    const PINNED_FINGERPRINT_OF_0X11: &str = "1c2030fd2ef7e143";

    #[test]
    fn wrapped_keys_have_the_sealed_layout() {
        let master = MasterKey::generate();
        let wrapped = master.wrap_clinic_key(&ClinicKey::generate(), clinic(1));
        assert_eq!(wrapped.as_bytes().len(), KEY_LEN + OVERHEAD);
        assert_eq!(wrapped.as_bytes()[0], 1);
        assert_eq!(format!("{wrapped:?}"), "WrappedKey(61 bytes)");
    }

    #[test]
    fn a_sealed_clinic_secret_never_unwraps_as_a_client_key() {
        let key = ClinicKey::generate();
        let (c, p) = (clinic(1), client(2));
        let aad = Aad::record("velum/client-key/v1", &[c.as_uuid(), p.as_uuid()]);
        let sealed = key.seal(&[0; 32], &aad);
        assert_eq!(
            key.unwrap_client_key(&WrappedKey::from_bytes(sealed), c, p)
                .unwrap_err(),
            CryptoError::WrongKey
        );
    }

    #[test]
    fn the_whole_chain_round_trips() {
        let master = MasterKey::generate();
        let (c, p) = (clinic(10), client(20));
        let clinic_key = ClinicKey::generate();
        let client_key = ClientKey::generate();
        let aad = Aad::record("client.medical", &[c.as_uuid(), p.as_uuid()]);
        let sealed = client_key.seal(b"penicillin allergy", &aad);

        let wrapped_clinic = master.wrap_clinic_key(&clinic_key, c);
        let wrapped_client = clinic_key.wrap_client_key(&client_key, c, p);

        // Later, from storage only:
        let wrapped_clinic = WrappedKey::from_bytes(wrapped_clinic.into_bytes());
        let clinic_key = master.unwrap_clinic_key(&wrapped_clinic, c).unwrap();
        let client_key = clinic_key.unwrap_client_key(&wrapped_client, c, p).unwrap();
        assert_eq!(client_key.open(&sealed, &aad).unwrap(), b"penicillin allergy");
    }

    #[test]
    fn clinic_secrets_round_trip_and_bind_their_aad() {
        let key = ClinicKey::generate();
        let aad = Aad::record("staff.totp", &[Uuid::from_u128(1), Uuid::from_u128(2)]);
        let sealed = key.seal(b"totp secret", &aad);
        assert_eq!(key.open(&sealed, &aad).unwrap(), b"totp secret");
        let other = Aad::record("staff.totp", &[Uuid::from_u128(1), Uuid::from_u128(3)]);
        assert_eq!(key.open(&sealed, &other), Err(CryptoError::WrongKey));
        assert_eq!(ClinicKey::generate().open(&sealed, &aad), Err(CryptoError::WrongKey));
    }

    fn uuid() -> impl Strategy<Value = Uuid> {
        any::<u128>().prop_map(Uuid::from_u128)
    }

    fn ids() -> impl Strategy<Value = Vec<Uuid>> {
        proptest::collection::vec(uuid(), 0..4)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn seal_open_round_trips(
            plaintext in proptest::collection::vec(any::<u8>(), 0..512),
            kind in "[a-z.]{0,24}",
            ids in ids(),
        ) {
            let key = ClientKey::generate();
            let aad = Aad::record(&kind, &ids);
            let sealed = key.seal(&plaintext, &aad);
            prop_assert_eq!(sealed.len(), plaintext.len() + OVERHEAD);
            prop_assert_eq!(key.open(&sealed, &aad), Ok(plaintext));
        }

        #[test]
        fn open_with_another_aad_fails(
            plaintext in proptest::collection::vec(any::<u8>(), 0..64),
            ids in ids(),
            other_ids in ids(),
            kind in "[a-z.]{0,12}",
            other_kind in "[a-z.]{0,12}",
        ) {
            prop_assume!((&kind, &ids) != (&other_kind, &other_ids));
            let key = ClientKey::generate();
            let sealed = key.seal(&plaintext, &Aad::record(&kind, &ids));
            prop_assert_eq!(
                key.open(&sealed, &Aad::record(&other_kind, &other_ids)),
                Err(CryptoError::WrongKey)
            );
        }

        #[test]
        fn open_with_another_key_fails(
            plaintext in proptest::collection::vec(any::<u8>(), 0..64),
            ids in ids(),
        ) {
            let aad = Aad::record("client.medical", &ids);
            let sealed = ClientKey::generate().seal(&plaintext, &aad);
            prop_assert_eq!(ClientKey::generate().open(&sealed, &aad), Err(CryptoError::WrongKey));
        }

        #[test]
        fn any_altered_byte_is_detected(
            plaintext in proptest::collection::vec(any::<u8>(), 0..64),
            index in any::<proptest::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let key = ClientKey::generate();
            let aad = Aad::record("client.medical", &[]);
            let mut sealed = key.seal(&plaintext, &aad);
            let i = index.index(sealed.len());
            sealed[i] ^= flip;
            let expected = if i == 0 {
                // The version byte is checked before decrypting.
                CryptoError::UnsupportedVersion(1 ^ flip)
            } else {
                CryptoError::WrongKey
            };
            prop_assert_eq!(key.open(&sealed, &aad), Err(expected));
        }

        #[test]
        fn truncated_sealed_values_never_open(
            plaintext in proptest::collection::vec(any::<u8>(), 0..64),
            cut in any::<proptest::sample::Index>(),
        ) {
            let key = ClientKey::generate();
            let aad = Aad::record("x", &[]);
            let sealed = key.seal(&plaintext, &aad);
            let cut = cut.index(sealed.len());
            prop_assert!(key.open(&sealed[..cut], &aad).is_err());
        }

        #[test]
        fn clinic_keys_unwrap_only_for_their_clinic(a in any::<u128>(), b in any::<u128>()) {
            let master = MasterKey::generate();
            let key = ClinicKey::generate();
            let wrapped = master.wrap_clinic_key(&key, clinic(a));
            let back = master.unwrap_clinic_key(&wrapped, clinic(a)).unwrap();
            prop_assert_eq!(back.0, key.0);
            if a != b {
                prop_assert_eq!(
                    master.unwrap_clinic_key(&wrapped, clinic(b)).unwrap_err(),
                    CryptoError::WrongKey
                );
            }
            prop_assert_eq!(
                MasterKey::generate().unwrap_clinic_key(&wrapped, clinic(a)).unwrap_err(),
                CryptoError::WrongKey
            );
        }

        #[test]
        fn client_keys_unwrap_only_for_their_clinic_and_client(
            c in any::<u128>(), p in any::<u128>(), other_c in any::<u128>(), other_p in any::<u128>(),
        ) {
            let clinic_key = ClinicKey::generate();
            let key = ClientKey::generate();
            let wrapped = clinic_key.wrap_client_key(&key, clinic(c), client(p));
            let back = clinic_key.unwrap_client_key(&wrapped, clinic(c), client(p)).unwrap();
            prop_assert_eq!(back.0, key.0);
            if (c, p) != (other_c, other_p) {
                prop_assert_eq!(
                    clinic_key
                        .unwrap_client_key(&wrapped, clinic(other_c), client(other_p))
                        .unwrap_err(),
                    CryptoError::WrongKey
                );
            }
            // Swapping the two ids is a different owner too.
            if c != p {
                prop_assert_eq!(
                    clinic_key.unwrap_client_key(&wrapped, clinic(p), client(c)).unwrap_err(),
                    CryptoError::WrongKey
                );
            }
            prop_assert_eq!(
                ClinicKey::generate().unwrap_client_key(&wrapped, clinic(c), client(p)).unwrap_err(),
                CryptoError::WrongKey
            );
        }
    }
}
