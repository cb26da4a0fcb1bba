//! The audit hash chain: each event's hash covers the previous hash, so
//! deleting, reordering or editing any stored event breaks every later link.
//!
//! This module only hashes. How an event is turned into bytes is the
//! caller's (`velum_core::audit`), and must itself never change.

use sha2::{Digest as _, Sha256};

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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        let hex: String = link(&GENESIS, b"")
            .iter()
            .flat_map(|b| [b >> 4, b & 0xf])
            .map(|nibble| char::from_digit(u32::from(nibble), 16).unwrap())
            .collect();
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
