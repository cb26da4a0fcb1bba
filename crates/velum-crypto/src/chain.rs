//! The audit hash chain: each event's link covers the previous link, so
//! deleting, reordering or editing any stored event breaks every later link.
//!
//! Two link versions exist, and a chain may hold both (v1 events first):
//!
//! - **v1** ([`link`]): plain SHA-256. Anyone who can write to the database
//!   can edit an event and recompute every later hash, so v1 only detects
//!   accidents and careless edits. New events are never v1.
//! - **v2** ([`ChainKey`]): HMAC-SHA-256 under a key derived from the master
//!   key, one per chain. Without the master key nobody can compute a valid
//!   v2 link, so an edit made directly in the database cannot be hidden.
//!   The first v2 link of an upgraded chain covers the last v1 link, so the
//!   v1 events before it are protected from then on too.
//!
//! This module only hashes. How an event is turned into bytes is the
//! caller's (`velum_core::audit`), and must itself never change.

use std::fmt;

use hmac::{KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::keys::KEY_LEN;

/// The "previous hash" of a chain's first event.
pub const GENESIS: [u8; 32] = [0; 32];

/// Domain separation: these hashes can never equal a SHA-256 computed for
/// another purpose over the same bytes.
const DOMAIN: &[u8] = b"velum/audit/v1";

/// The hash of the event after `prev`:
///
/// ```text
/// SHA-256("velum/audit/v1" || prev || len(event_bytes) as u64 big-endian || event_bytes)
/// ```
///
/// **Never change this**: stored chains are verified with it.
#[must_use]
pub fn link(prev: &[u8; 32], event_bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(prev);
    hasher.update((event_bytes.len() as u64).to_be_bytes());
    hasher.update(event_bytes);
    hasher.finalize().into()
}

/// Link versions as stored beside each event (`audit_events.link_version`).
pub const V1: i64 = 1;
/// See [`V1`].
pub const V2: i64 = 2;

/// Domain separation for v2 links.
const DOMAIN_V2: &[u8] = b"velum/audit/v2";

/// HKDF "info" prefix of one chain's key; the chain's clinic id (16 bytes)
/// follows. Never change it: stored v2 links are verified with it.
const INFO_CHAIN_CLINIC: &[u8] = b"velum/audit-chain/v2/clinic";

/// The installation's audit-chain key, derived from the master key
/// ([`MasterKey::audit_chain_key`](crate::MasterKey::audit_chain_key)).
/// Each chain (one per clinic, and the platform's, whose id is all zeros)
/// gets its own key from it ([`ChainKey::for_chain`]).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ChainKey([u8; KEY_LEN]);

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainKey(<redacted>)")
    }
}

impl ChainKey {
    pub(crate) fn from_derived(bytes: &[u8; KEY_LEN]) -> ChainKey {
        ChainKey(*bytes)
    }

    /// The key of one chain: HKDF-SHA-256 of this key with info
    /// `velum/audit-chain/v2/clinic` followed by the chain's 16 id bytes.
    /// A link made for one clinic's chain is therefore never valid in
    /// another's, even over the same bytes.
    #[must_use]
    pub fn for_chain(&self, chain: Uuid) -> LinkKey {
        let mut info = INFO_CHAIN_CLINIC.to_vec();
        info.extend_from_slice(chain.as_bytes());
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        hkdf::Hkdf::<Sha256>::new(None, &self.0)
            .expand(&info, out.as_mut())
            .expect("32 bytes is within HKDF-SHA256's 8160-byte limit");
        LinkKey(*out)
    }
}

/// One chain's v2 link key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct LinkKey([u8; KEY_LEN]);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(<redacted>)")
    }
}

impl LinkKey {
    /// The v2 link of the event after `prev`:
    ///
    /// ```text
    /// HMAC-SHA-256(chain key, "velum/audit/v2" || prev || len(event_bytes) as u64 big-endian || event_bytes)
    /// ```
    ///
    /// **Never change this**: stored chains are verified with it.
    #[must_use]
    pub fn link(&self, prev: &[u8; 32], event_bytes: &[u8]) -> [u8; 32] {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(DOMAIN_V2);
        mac.update(prev);
        mac.update(&(event_bytes.len() as u64).to_be_bytes());
        mac.update(event_bytes);
        mac.finalize().into_bytes().into()
    }

    /// Does `stored` equal the v2 link of this event (in constant time)?
    #[must_use]
    pub fn verify(&self, prev: &[u8; 32], event_bytes: &[u8], stored: &[u8]) -> bool {
        let expected = self.link(prev, event_bytes);
        subtle::ConstantTimeEq::ct_eq(expected.as_slice(), stored).into()
    }
}

/// The Ed25519 key that signs chain heads handed out of the installation
/// (`velum audit head`), derived from the master key
/// ([`MasterKey::audit_head_signing_key`](crate::MasterKey::audit_head_signing_key)),
/// so it needs no storage of its own and its public half is the same every
/// time. Someone who can write to the database cannot sign a head.
pub struct HeadSigningKey(ed25519_dalek::SigningKey);

impl fmt::Debug for HeadSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeadSigningKey(<redacted>)")
    }
}

impl HeadSigningKey {
    pub(crate) fn from_seed(seed: &[u8; KEY_LEN]) -> HeadSigningKey {
        HeadSigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The public key (32 bytes), which anyone may hold.
    #[must_use]
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// An Ed25519 signature (RFC 8032) of `message`.
    #[must_use]
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        ed25519_dalek::Signer::sign(&self.0, message).to_bytes()
    }
}

/// Is `signature` a valid Ed25519 signature of `message` under
/// `public_key`? Strict verification: no malleable or small-order forms.
#[must_use]
pub fn verify_head_signature(public_key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chain_key_of_0x11() -> ChainKey {
        crate::MasterKey::from_bytes(&[0x11; 32]).unwrap().audit_chain_key()
    }

    #[test]
    fn v2_link_is_an_hmac_of_its_documented_input() {
        let key = chain_key_of_0x11().for_chain(Uuid::nil());
        let mut input = b"velum/audit/v2".to_vec();
        input.extend_from_slice(&GENESIS);
        input.extend_from_slice(&3u64.to_be_bytes());
        input.extend_from_slice(b"abc");
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key.0).unwrap();
        mac.update(&input);
        let expected: [u8; 32] = mac.finalize().into_bytes().into();
        assert_eq!(key.link(&GENESIS, b"abc"), expected);
        assert_ne!(key.link(&GENESIS, b"abc"), link(&GENESIS, b"abc"), "never the v1 hash");
    }

    #[test]
    fn v2_links_are_pinned() {
        // Stored chains depend on these values; never update them.
        // HKDF-SHA256(ikm = 32 x 0x11, info "velum/audit-chain/v2"), then
        // HKDF-SHA256(that, info "velum/audit-chain/v2/clinic" || chain id),
        // then the HMAC above; cross-checked with Python's hmac/hashlib.
        let keys = chain_key_of_0x11();
        assert_eq!(
            hex::encode(keys.for_chain(Uuid::nil()).link(&GENESIS, b"")),
            PINNED_V2_PLATFORM_EMPTY
        );
        assert_eq!(
            hex::encode(keys.for_chain(Uuid::from_u128(1)).link(&[0xab; 32], b"event")),
            PINNED_V2_CLINIC_1_EVENT
        );
    }
    const PINNED_V2_PLATFORM_EMPTY: &str = "fba70b785afa2a6a54a89bd11d5e0832a15f9a453ad204e8a09707a816fac8cb";
    const PINNED_V2_CLINIC_1_EVENT: &str = "d99d52cde7f129f5e545e2af2764efffda061a0ea733f425bc142db8cbfb35c4";

    #[test]
    fn head_signatures_verify_only_unchanged_and_under_their_key() {
        let master = crate::MasterKey::from_bytes(&[0x11; 32]).unwrap();
        let key = master.audit_head_signing_key();
        assert_eq!(
            key.public_key(),
            master.audit_head_signing_key().public_key(),
            "derived, stable"
        );
        let other = crate::MasterKey::from_bytes(&[0x12; 32])
            .unwrap()
            .audit_head_signing_key();
        assert_ne!(key.public_key(), other.public_key());
        let sig = key.sign(b"head");
        assert!(verify_head_signature(&key.public_key(), b"head", &sig));
        assert!(
            !verify_head_signature(&key.public_key(), b"heaD", &sig),
            "altered message"
        );
        assert!(
            !verify_head_signature(&other.public_key(), b"head", &sig),
            "another key"
        );
        let mut bad = sig;
        bad[10] ^= 1;
        assert!(
            !verify_head_signature(&key.public_key(), b"head", &bad),
            "altered signature"
        );
        assert_eq!(format!("{key:?}"), "HeadSigningKey(<redacted>)");
    }

    #[test]
    fn another_master_key_or_another_chain_gives_another_link() {
        let ours = chain_key_of_0x11();
        let theirs = crate::MasterKey::from_bytes(&[0x12; 32]).unwrap().audit_chain_key();
        let clinic = Uuid::from_u128(7);
        let good = ours.for_chain(clinic).link(&GENESIS, b"event");
        assert!(ours.for_chain(clinic).verify(&GENESIS, b"event", &good));
        assert!(
            !theirs.for_chain(clinic).verify(&GENESIS, b"event", &good),
            "wrong key fails"
        );
        assert!(
            !ours.for_chain(Uuid::from_u128(8)).verify(&GENESIS, b"event", &good),
            "wrong chain fails"
        );
        assert!(
            !ours.for_chain(clinic).verify(&GENESIS, b"evenT", &good),
            "edited event fails"
        );
        assert!(
            !ours.for_chain(clinic).verify(&GENESIS, b"event", &good[..31]),
            "truncated link fails"
        );
        // A DBA's recomputation: the plain SHA-256 link does not verify.
        assert!(
            !ours
                .for_chain(clinic)
                .verify(&GENESIS, b"event", &link(&GENESIS, b"event"))
        );
        assert_eq!(format!("{ours:?}"), "ChainKey(<redacted>)");
        assert_eq!(format!("{:?}", ours.for_chain(clinic)), "LinkKey(<redacted>)");
    }

    #[test]
    fn link_matches_its_documented_definition() {
        let mut input = b"velum/audit/v1".to_vec();
        input.extend_from_slice(&GENESIS);
        input.extend_from_slice(&3u64.to_be_bytes());
        input.extend_from_slice(b"abc");
        let expected: [u8; 32] = Sha256::digest(&input).into();
        assert_eq!(link(&GENESIS, b"abc"), expected);
    }

    #[test]
    fn link_is_pinned() {
        // Stored chains depend on this value; never update it.
        let hex = hex::encode(link(&GENESIS, b""));
        assert_eq!(hex, PINNED_EMPTY_GENESIS_LINK);
    }
    const PINNED_EMPTY_GENESIS_LINK: &str = "1abf1f9e0ae9b940be8a5a79d5f0369a3109ae4fa0d349b690ad236e3a940ed6";

    #[test]
    fn a_chain_of_links_depends_on_order() {
        let ab = link(&link(&GENESIS, b"a"), b"b");
        let ba = link(&link(&GENESIS, b"b"), b"a");
        assert_ne!(ab, ba);
    }

    proptest! {
        #[test]
        fn a_changed_byte_of_prev_or_event_fails_v2_verification(
            prev in any::<[u8; 32]>(),
            event in proptest::collection::vec(any::<u8>(), 1..128),
            index in any::<proptest::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let key = chain_key_of_0x11().for_chain(Uuid::from_u128(3));
            let good = key.link(&prev, &event);
            let mut other = event.clone();
            other[index.index(event.len())] ^= flip;
            prop_assert!(!key.verify(&prev, &other, &good));
            let mut other_prev = prev;
            other_prev[index.index(32)] ^= flip;
            prop_assert!(!key.verify(&other_prev, &event, &good));
        }

        #[test]
        fn link_is_deterministic(prev in any::<[u8; 32]>(), event in proptest::collection::vec(any::<u8>(), 0..256)) {
            prop_assert_eq!(link(&prev, &event), link(&prev, &event));
        }

        #[test]
        fn changing_any_byte_of_prev_changes_the_hash(
            prev in any::<[u8; 32]>(),
            event in proptest::collection::vec(any::<u8>(), 0..64),
            index in 0usize..32,
            flip in 1u8..=255,
        ) {
            let mut other = prev;
            other[index] ^= flip;
            prop_assert_ne!(link(&prev, &event), link(&other, &event));
        }

        #[test]
        fn changing_any_byte_of_the_event_changes_the_hash(
            prev in any::<[u8; 32]>(),
            event in proptest::collection::vec(any::<u8>(), 1..256),
            index in any::<proptest::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let mut other = event.clone();
            other[index.index(event.len())] ^= flip;
            prop_assert_ne!(link(&prev, &event), link(&prev, &other));
        }

        #[test]
        fn extending_the_event_changes_the_hash(
            prev in any::<[u8; 32]>(),
            event in proptest::collection::vec(any::<u8>(), 0..64),
            extra in any::<u8>(),
        ) {
            // Appending a byte (a different length) is never the same link.
            let mut longer = event.clone();
            longer.push(extra);
            prop_assert_ne!(link(&prev, &event), link(&prev, &longer));
        }
    }
}
