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
//!
//! Argon2's working memory (19 MiB a call with these parameters) comes from
//! a small pool of buffers that are kept and reused, never from a fresh
//! allocation per call. glibc's malloc raises its mmap threshold after the
//! first large block is freed, so fresh 19 MiB blocks ended up in per-thread
//! arenas that kept them: a flood of sign-ins grew the process by hundreds
//! of megabytes (docs/PERFORMANCE.md). With the pool the memory is bounded
//! by the number of Argon2 calls running at once, which the app limits to
//! the cores.

use std::io::Read as _;
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use subtle::ConstantTimeEq as _;
use velum_core::text::{NewPassword, PasswordError};

/// Argon2 working memory kept for reuse: at most `keep` buffers, each as
/// large as the largest parameters it has served.
struct MemoryPool {
    free: Mutex<Vec<Vec<Block>>>,
    keep: usize,
}

/// A buffer taken from a [`MemoryPool`]; back into the pool when dropped.
struct PooledMemory<'a> {
    pool: &'a MemoryPool,
    blocks: Vec<Block>,
}

impl MemoryPool {
    const fn new(keep: usize) -> MemoryPool {
        MemoryPool {
            free: Mutex::new(Vec::new()),
            keep,
        }
    }

    /// A buffer of at least `blocks` blocks: a kept one when there is one
    /// (grown if these parameters need more), else a new one.
    fn take(&self, blocks: usize) -> PooledMemory<'_> {
        let kept = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut memory = kept.unwrap_or_default();
        if memory.len() < blocks {
            drop(std::mem::take(&mut memory));
            memory = vec![Block::default(); blocks];
        }
        PooledMemory {
            pool: self,
            blocks: memory,
        }
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

impl Drop for PooledMemory<'_> {
    fn drop(&mut self) {
        let mut free = self.pool.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if free.len() < self.pool.keep {
            free.push(std::mem::take(&mut self.blocks));
        }
    }
}

/// The process's pool, keeping one buffer per core: the app runs at most
/// that many Argon2 calls at once (`App::argon2` in velum-app).
fn pool() -> &'static MemoryPool {
    static POOL: OnceLock<MemoryPool> = OnceLock::new();
    POOL.get_or_init(|| MemoryPool::new(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)))
}

/// Argon2 of `password` with `salt` into `out` (whose length is the output
/// length), using pooled memory.
fn argon2_into(
    pool: &MemoryPool,
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let mut memory = pool.take(argon2.params().block_count());
    argon2.hash_password_into_with_memory(password, salt, out, &mut memory.blocks[..])
}

/// Hash `password` for storage, with a fresh random salt.
///
/// # Panics
/// If the operating system cannot supply a random salt, or the password is
/// over 4 GiB (the web layer limits request bodies long before that).
#[must_use]
pub fn hash_password(password: &str) -> String {
    hash_with(pool(), password)
}

fn hash_with(pool: &MemoryPool, password: &str) -> String {
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = argon2::password_hash::generate_salt();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(pool, &argon2, password.as_bytes(), &salt, &mut out)
        .expect("Argon2 hashing fails only for a 4 GiB password");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).expect("the default Argon2 parameters encode"),
        salt: Some(Salt::new(&salt).expect("a 16-byte salt is valid")),
        hash: Some(Output::new(&out).expect("a 32-byte output is valid")),
    }
    .to_string()
}

/// Whether `password` matches the stored PHC hash. False for a wrong
/// password and for anything that is not a valid hash; never panics. The
/// hash's own algorithm, version and parameters are used, so hashes made
/// with other parameters still verify. The final comparison is
/// constant-time.
#[must_use]
pub fn verify_password(phc: &str, password: &str) -> bool {
    verify_with(pool(), phc, password)
}

fn verify_with(pool: &MemoryPool, phc: &str, password: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash.version.map_or(Ok(Version::default()), Version::try_from) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(out) = buffer.get_mut(..expected.len()) else {
        return false;
    };
    if argon2_into(pool, &argon2, password.as_bytes(), salt, out).is_err() {
        return false;
    }
    bool::from(out.ct_eq(expected.as_ref()))
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

    /// Hashes made the crate's own way (as Velum made them before the
    /// memory pool) verify here, and hashes made here verify the crate's
    /// way: the PHC format is unchanged.
    #[test]
    fn hashes_stay_compatible_with_the_argon2_crate_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery staple")
            .unwrap()
            .to_string();
        assert!(theirs.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(&theirs, "correct horse battery staple"));
        assert!(!verify_password(&theirs, "correct horse battery stapl"));
        let ours = hash_password("correct horse battery staple");
        assert_eq!(ours.len(), theirs.len());
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery staple", ours.as_str())
                .is_ok()
        );
        assert!(Argon2::default().verify_password(b"wrong", ours.as_str()).is_err());
    }

    /// A stored hash with other parameters, algorithm, version or output
    /// length verifies with its own, including when it needs more memory
    /// than the pooled buffers have.
    #[test]
    fn hashes_with_other_parameters_verify_with_their_own() {
        use argon2::password_hash::PasswordHasher as _;
        let salt = b"velum-test-salt!";
        for (algorithm, version, params) in [
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(64, 1, 1, None).unwrap(),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(8 * 1024, 3, 2, Some(16)).unwrap(),
            ),
            (
                Algorithm::Argon2i,
                Version::V0x10,
                Params::new(256, 2, 1, Some(64)).unwrap(),
            ),
            (
                Algorithm::Argon2d,
                Version::V0x13,
                Params::new(128, 1, 4, None).unwrap(),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(32 * 1024, 1, 1, None).unwrap(),
            ),
        ] {
            let phc = Argon2::new(algorithm, version, params)
                .hash_password_with_salt(b"pw-with-other-params", salt)
                .unwrap()
                .to_string();
            assert!(verify_password(&phc, "pw-with-other-params"), "{phc}");
            assert!(!verify_password(&phc, "pw-with-other-param"), "{phc}");
        }
        // A wrong parameter in an otherwise valid hash changes the result.
        let phc = hash_password("pw");
        assert!(!verify_password(&phc.replace("t=2", "t=3"), "pw"));
    }

    /// Argon2's memory is reused, not allocated per call: sequential calls
    /// keep one buffer; parallel ones keep at most the pool's size, and a
    /// buffer grows when a hash needs more memory.
    #[test]
    fn argon2_memory_comes_from_a_bounded_pool() {
        let pool = MemoryPool::new(2);
        let phc = hash_with(&pool, "pw");
        assert_eq!(pool.kept(), 1);
        let first = pool.take(0).blocks.as_ptr();
        for pw in ["pw", "wrong", ""] {
            assert_eq!(verify_with(&pool, &phc, pw), pw == "pw");
            assert_eq!(pool.kept(), 1);
        }
        assert_eq!(pool.take(0).blocks.as_ptr(), first, "the same buffer each time");
        let (a, b, c) = (pool.take(64), pool.take(64), pool.take(64));
        drop((a, b, c));
        assert_eq!(pool.kept(), 2);
        let blocks = Params::DEFAULT_M_COST as usize;
        assert!(pool.take(blocks + 1).blocks.len() > blocks);
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
