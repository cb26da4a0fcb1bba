//! Offboarding a clinic in hosted mode: the clinic is leaving and takes all
//! of its data with it, in an archive only its owner can open; then the
//! platform destroys its keys, deletes every row and blob of it, and issues
//! a certificate saying what it did. No operator ever sees a key or a
//! readable copy.
//!
//! Two parties agree first (see docs/SECURITY.md): the owner asks on the
//! Leaving page ([`App::request_leaving`]: password and a fresh TOTP code
//! again, a strong archive passphrase, of which only the Argon2id salt and
//! X25519 public key are stored, see [`velum_crypto::archive`]), or, when
//! the owner cannot, two different operators approve (the first approval is
//! recorded, [`Offboarding::Approved`]). The owner is emailed at each step.
//!
//! [`App::offboard_clinic`] does it in one transaction, in this order.
//! Before it, when a blob store is configured and the owner asked to leave,
//! the clinic's key rows are read in a short read transaction and its blobs
//! are listed, fetched and opened with no transaction open (each sealed
//! again under a one-off key into an unnamed temporary file, the spool), so
//! no database connection waits on the blob store while reading them; step
//! 4 refuses (`Changed`, nothing deleted) if the key rows it reads differ
//! from those.
//!
//! 1. policy: only a platform operator (or the command line, which holds
//!    the master key and completes only what the owner asked for), only a
//!    clinic that exists, is not the platform's own row, and is
//!    **suspended** (so nobody is working in it), with a reason, and, from
//!    the web page, only when the operator typed the clinic's name;
//! 2. the two parties: the owner's request, or an earlier approval by
//!    another operator (else this approval is recorded and nothing more
//!    happens; the same operator twice is refused and audited);
//! 3. a `clinic_offboarded` event in the clinic's own chain (who, when), so
//!    the trail the clinic takes away ends with the record of its export;
//! 4. when the owner asked: the clinic's rows read in one snapshot a page
//!    at a time ([`ARCHIVE_PAGE`] clients with their keys, medical
//!    summaries and history, or audit events, or rows of another table),
//!    opened (client keys unwrapped, medical summaries and earlier versions
//!    decrypted) and written out as one JSON document (see [the
//!    archive](#the-archive)) as they are read, with the clinic's blobs
//!    fetched before the transaction (see above), sealed to the owner's
//!    passphrase as it is written into an unnamed temporary file and hashed
//!    on the way; then the file is handed to `save`, which must make it
//!    durable. If `save` fails, nothing has been deleted. Without the
//!    owner, no archive is made;
//! 5. every row of the clinic deleted, keys first in effect
//!    (`clinic_keys`, `client_keys`: crypto-shredding every copy left in
//!    backups), the `clinics` row kept as a tombstone with status
//!    `offboarded` ([`velum_store::offboard`]);
//! 6. when a blob store is configured, a job that deletes the clinic's
//!    blobs ([`crate::jobs::JobKind::OffboardedBlobs`]) queued in the same
//!    transaction, under the platform's row (so the deletion of the
//!    clinic's rows cannot take it with it), its unique key naming the
//!    clinic: no database connection waits on the blob store, and the
//!    deletion is durable once the certificate is. The certificate says the
//!    blobs are queued for deletion;
//! 7. the certificate, its SHA-256 in a `clinic_offboarded` event of the
//!    **platform's** chain, the certificate stored beside the tombstone,
//!    the owners' email queued; commit. Then, on SQLite, `VACUUM`, and the
//!    blob deletion job run at once (the server's worker, or the command
//!    line itself); if the store does not answer, the job is retried with
//!    back-off ([`BLOB_DELETION_ATTEMPTS`] attempts) and, if it never
//!    succeeds, kept as failed in the job queue. Until it has run, the
//!    blobs are sealed under the client keys destroyed in step 5.
//!
//! # The archive
//!
//! ```text
//! VELUM CLINIC ARCHIVE\n
//! {"format":3,"clinic_id":…,"exported_at":…,"cipher":…,"kdf":…,"salt":…,"recipient":…,"ephemeral":…}\n
//! <sealed body>
//! ```
//!
//! The framing (marker line, header line, associated data) is the export
//! file's, written once in `sealed_file.rs`. The header line is plaintext
//! JSON and holds nothing personal (the salt and public keys are public
//! values). The body is sealed in 64 KiB chunks as the document is encoded
//! ([`velum_crypto::stream`], the STREAM construction: each chunk's index
//! and a last-chunk flag in its nonce and associated data, so a cut-off,
//! reordered or altered body refuses to open) under a key agreed between
//! the ephemeral key and the owner's passphrase key, with associated data
//! naming the format version, the SHA-256 of the exact header bytes and the
//! clinic id, so an edited header makes the body refuse to open. `velum
//! export open --file F --passphrase-file P` (any build of this open-source
//! binary; no database, no master key) opens it and writes the document,
//! pretty-printed JSON. Earlier formats still open: format 2 was sealed to
//! the passphrase in one piece ([`velum_crypto::seal`]'s format), format 1
//! under a one-off key shown once (it opens with `--key`). The document is
//! written and sealed as its rows are read, so neither it nor the archive
//! is ever whole in memory (the blobs, fetched before the transaction, wait
//! in a spool file sealed under a one-off key, each read back as its client
//! is written); `velum export open` opens a format-3 archive as it reads it
//! ([`open_archive_to`]: one chunk at a time from the file into the
//! output), formats 1 and 2 whole.
//!
//! - `clinic`: id, name, status, created;
//! - `staff`: id, email, name, role, disabled, two-step sign-in set up,
//!   created, updated (no password hashes, two-step secrets or lock-out
//!   counters);
//! - `clients`: every card with its contact details and marketing choices,
//!   `medical` (the current summary, opened), `history` (each change with,
//!   where kept, the previous value opened), and `files` (blobs, base64);
//! - `support_grants`: every break-glass request and decision (archived by
//!   the generic exporter, like any clinic table without an exporter of its
//!   own: a list named after the table, every column its metadata in
//!   `velum_store::transfer` does not leave out, instants in RFC 3339,
//!   sealed values opened);
//! - `settings`: the clinic's own settings and public slug (null when it
//!   never saved any);
//! - `audit`: the chain head and every event, links in hex with their link
//!   version, so the clinic can check its trail with the encoding in
//!   `velum_core::audit` (version-1 links by anyone; version-2 links are
//!   keyed by the installation's master key);
//! - `contents`: where each table of the clinic went, and what was left out.
//!
//! Instants are RFC 3339 in UTC. Clients are in id order, each list in its
//! table's order.
//!
//! # The certificate
//!
//! A JSON document: `certificate` (clinic id and name, when, by whom, the
//! two parties, the archive's SHA-256 and size or `null`, the clinic
//! chain's final head, rows deleted per table, key rows destroyed, the
//! blob deletion queued, which copies remain readable), `certificate_sha256`, and
//! `recorded_in` (the platform-chain event's number and hash). The hash is
//! over `certificate` written as compact JSON with object keys sorted
//! (`jq -cjS .certificate FILE | sha256sum` gives it), and the platform
//! event's detail holds it, so the chain vouches for the certificate and
//! `velum audit verify` for the chain. Nothing personal but the clinic's
//! name.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use velum_blobs::BlobId;
use velum_core::actor::Purpose;
use velum_core::audit::{AuditAction, NewAuditEvent};
use velum_core::clinic::ClinicStatus;
use velum_core::{Actor, ClientId, ClinicId, StaffActor, SystemJob};
use velum_crypto::archive::ArchiveRecipient;
use velum_crypto::{Aad, ArchiveKey, ClientKey, ClinicKey, WrappedKey};
use velum_store::transfer::{self, Archive, Key, Page, TableRows};
use velum_store::{ClinicScope, StoreError, audit, clinics, offboard};

use crate::clients::{history_aad, open_medical};
use crate::platform::platform_id;
use crate::sealed_file::{CLINIC_ARCHIVE, FrameError, Hashing};
use crate::{App, AppError};

/// The archive format this build writes: 3, sealed to the owner's
/// passphrase in chunks as it is written ([`velum_crypto::stream`]). It
/// still opens format 2 (sealed to the passphrase in one piece) and format
/// 1 (a one-off key shown once).
pub const ARCHIVE_FORMAT: u32 = 3;

/// The second format: sealed to the owner's passphrase in one piece.
pub const ARCHIVE_FORMAT_PASSPHRASE: u32 = 2;

/// The first format: sealed under a random key given with the archive.
pub const ARCHIVE_FORMAT_KEY: u32 = 1;

/// The cipher named in a format-2 header.
#[cfg(test)]
const CIPHER_V2: &str = "X25519 (Argon2id passphrase key) + HKDF-SHA256 + AES-256-GCM";

/// The cipher named in a format-3 header.
const CIPHER_V3: &str = "X25519 (Argon2id passphrase key) + HKDF-SHA256 + AES-256-GCM STREAM (64 KiB chunks)";

/// The job name recorded when offboarding runs with no operator signed in
/// (the command line), and for the archive and deletion steps.
const OFFBOARD_JOB: &str = "offboarding";

/// Shortest and longest reason an operator gives for an offboarding or a
/// suspension (it is emailed to the clinic's owner).
pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 10..=500;

/// The archive file's first line.
#[cfg(test)]
const ARCHIVE_MAGIC: &[u8] = CLINIC_ARCHIVE.marker;

/// The certificate's format tag.
pub const CERTIFICATE_FORMAT: &str = "velum.offboarding-certificate/v1";

/// How long an archive made from the web page waits (in the blob store, or
/// the database without one) for the operator to download it (they can
/// delete it sooner).
pub const ARCHIVE_WAIT: SignedDuration = SignedDuration::from_hours(24);

/// The clinic tables the archive exports with an exporter of its own (in
/// `archive_document`), and where each goes: the clinic, staff, clients
/// with their medical summaries, history and files, settings and the audit
/// trail keep the document's shape, and the key tables open the others.
/// Every other table of [`velum_store::transfer::CLINIC_TABLES`] is
/// archived by the generic exporter (`generic_row`), driven by its
/// columns' [`Archive`] metadata, as a list named after the table; so a new
/// simple clinic table appears in the archive without an edit here.
pub const OWN_EXPORTERS: &[(&str, &str)] = &[
    ("clinics", "clinic"),
    (
        "clinic_keys",
        "not included: the clinic's key, destroyed at offboarding; the archive is sealed to the owner's passphrase",
    ),
    (
        "staff",
        "staff (without password hashes, two-step secrets or lock-out counters)",
    ),
    (
        "staff_logins",
        "not included: the sign-in directory repeats each staff email (in staff)",
    ),
    ("clients", "clients"),
    (
        "client_keys",
        "not included: used to open medical summaries, history and files, then destroyed",
    ),
    ("client_medical", "clients[].medical (opened)"),
    ("client_history", "clients[].history (earlier values opened)"),
    ("clinic_settings", "settings"),
    ("clinic_slugs", "settings.public_slug"),
    ("audit_heads", "audit.head"),
    ("audit_events", "audit.events"),
];

/// The document's own top-level keys: no generically archived table may be
/// called one of these (a test checks).
const DOCUMENT_KEYS: &[&str] = &[
    "format",
    "exported_at",
    "clinic",
    "staff",
    "clients",
    "unreadable_files",
    "stray_objects_skipped",
    "settings",
    "audit",
    "contents",
];

/// Each clinic table archived generically (without an exporter of its
/// own), as `(table, clinic column, order_by column, has a sealed
/// column)`: the generic exporter pages it by `order_by` and opens its
/// sealed columns with the row's client key, so the schema test checks
/// that its key is `(clinic column, order_by)` and that a sealed one has
/// one row per client.
#[must_use]
pub fn archived_generically() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    velum_store::transfer::CLINIC_TABLES
        .iter()
        .filter(|t| !has_own_exporter(t.name))
        .map(|t| {
            let sealed = t.columns.iter().any(|c| matches!(c.archive, Archive::Sealed(_)));
            (t.name, t.clinic_column, t.order_by, sealed)
        })
        .collect()
}

/// Does the table have an exporter of its own?
fn has_own_exporter(table: &str) -> bool {
    OWN_EXPORTERS.iter().any(|(t, _)| *t == table)
}

/// Where each table of the clinic goes in the archive (the document's
/// `contents`), in [`velum_store::transfer::CLINIC_TABLES`] order: the
/// place [`OWN_EXPORTERS`] gives it, or, for a table archived generically,
/// the list named after it.
#[must_use]
pub fn archive_places() -> Vec<(&'static str, &'static str)> {
    transfer::CLINIC_TABLES
        .iter()
        .map(|t| {
            let place = OWN_EXPORTERS
                .iter()
                .find(|(n, _)| *n == t.name)
                .map_or(t.name, |(_, p)| *p);
            (t.name, place)
        })
        .collect()
}

/// The columns the archive reads from one clinic table, and the ones it
/// leaves out on purpose, with why.
#[derive(Clone, Debug)]
pub struct ArchiveColumns {
    pub table: &'static str,
    pub reads: Vec<&'static str>,
    pub leaves_out: Vec<(&'static str, &'static str)>,
}

/// Every column of every clinic table, read by the archive or left out of
/// it, derived from each column's [`Archive`] metadata in
/// [`velum_store::transfer::CLINIC_TABLES`] (itself checked against the
/// migrated schema by a test). The archive's exporters read through it:
/// asking for a column that is left out, or not in the table, is an error,
/// so a renamed or dropped column fails the archive build (and the test
/// that builds one from a row of every table) instead of leaving a section
/// empty.
pub static ARCHIVE_COLUMNS: LazyLock<Vec<ArchiveColumns>> = LazyLock::new(|| {
    transfer::CLINIC_TABLES
        .iter()
        .map(|t| ArchiveColumns {
            table: t.name,
            reads: t
                .columns
                .iter()
                .filter(|c| !matches!(c.archive, Archive::LeftOut(_)))
                .map(|c| c.name)
                .collect(),
            leaves_out: t
                .columns
                .iter()
                .filter_map(|c| match c.archive {
                    Archive::LeftOut(why) => Some((c.name, why)),
                    _ => None,
                })
                .collect(),
        })
        .collect()
});

/// Why an offboarding did not happen. Every message is one line, names the
/// problem, and carries ids only; in each case nothing was deleted.
#[derive(Debug, thiserror::Error)]
pub enum OffboardError {
    #[error("only a platform operator may offboard a clinic; nothing was changed")]
    NotAnOperator,
    #[error("there is no clinic {0} here; nothing was changed")]
    UnknownClinic(ClinicId),
    #[error("the platform's own row is not a clinic and cannot be offboarded; nothing was changed")]
    PlatformRow,
    #[error("clinic {clinic} is {status}, not suspended; suspend it first, then offboard it; nothing was changed")]
    NotSuspended { clinic: ClinicId, status: String },
    #[error("clinic {0} has been offboarded already")]
    AlreadyOffboarded(ClinicId),
    #[error("the name typed does not match the clinic's name; nothing was changed")]
    NameMismatch,
    #[error(
        "the owner of clinic {0} has not asked to leave: the command line completes only an offboarding the owner \
         asked for (on the Leaving page); without the owner, two different operators approve it on /platform; \
         nothing was changed"
    )]
    OwnerHasNotAsked(ClinicId),
    #[error(
        "you have approved this offboarding already: a second, different operator must approve it; nothing was changed"
    )]
    SameOperator,
    #[error("cannot write the archive: {0}; nothing was deleted")]
    Save(std::io::Error),
    #[error(
        "the blob store failed while {doing} the clinic's blobs ({detail}); nothing was deleted \
         and the clinic stays suspended: run the offboarding again once the store answers"
    )]
    Blobs { doing: &'static str, detail: String },
    #[error("the clinic changed while it was being offboarded; nothing was deleted, run it again")]
    Changed,
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for OffboardError {
    fn from(e: StoreError) -> Self {
        if e.is_serialization_failure() {
            OffboardError::Changed
        } else {
            OffboardError::App(e.into())
        }
    }
}

/// Why an archive did not open. One line each, naming the cause.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a Velum clinic archive (the file does not start with the archive marker)")]
    NotAnArchive,
    #[error("unsupported archive format version {found} (this Velum reads versions 1 to {ARCHIVE_FORMAT})")]
    UnsupportedVersion { found: String },
    #[error("the archive is damaged: {0}")]
    Damaged(&'static str),
    #[error("--key: {0}")]
    BadKeyText(velum_crypto::CryptoError),
    #[error(
        "--key: this key does not open the archive (it is not the key given with this archive, or the file was altered)"
    )]
    WrongKey,
    #[error(
        "--passphrase-file: this passphrase does not open the archive (it is not the one the owner chose, or the file was altered)"
    )]
    WrongPassphrase,
    #[error("--passphrase-file: this archive is sealed with a key, not a passphrase: give it with --key")]
    NeedsKey,
    #[error("--key: this archive is sealed to the owner's passphrase, not a key: give it with --passphrase-file")]
    NeedsPassphrase,
    #[error("cannot read the archive: {0}")]
    Read(std::io::Error),
    #[error("cannot write the document: {0}")]
    Write(std::io::Error),
}

/// What opens an archive: the key given with a format-1 archive, or the
/// passphrase the owner chose for a format-2 one.
#[derive(Clone, Copy)]
pub enum ArchiveSecret<'a> {
    Key(&'a str),
    Passphrase(&'a str),
}

impl std::fmt::Debug for ArchiveSecret<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ArchiveSecret::Key(_) => "Key(<redacted>)",
            ArchiveSecret::Passphrase(_) => "Passphrase(<redacted>)",
        })
    }
}

/// What the operator asks for.
#[derive(Clone, Copy, Debug)]
pub struct OffboardRequest<'a> {
    pub clinic: ClinicId,
    /// The clinic's name as the operator typed it to confirm (the web page);
    /// `None` from the command line.
    pub confirm_name: Option<&'a str>,
    /// Why (10 to 500 characters): emailed to the clinic's owner and kept
    /// with an approval.
    pub reason: &'a str,
    /// Keep the sealed archive for [`ARCHIVE_WAIT`], for download from the
    /// web page: in the blob store (in the database when none is
    /// configured). The command line writes a file instead.
    pub keep_for_download: bool,
}

/// Where an offboarding stands after an operator's (or the command line's)
/// request.
#[derive(Debug)]
pub enum Offboarding<T> {
    /// The owner has not asked to leave, and this was the first operator
    /// to approve: it is recorded, the owner emailed, and a second,
    /// different operator must approve. Nothing was deleted.
    Approved,
    /// Done: see [`Offboarded`].
    Done(Offboarded<T>),
}

/// The archive an offboarding made: ciphertext sealed to the owner's
/// passphrase. Nobody at the platform can open it.
#[derive(Debug)]
pub struct SealedArchive<T> {
    pub sha256: String,
    pub bytes: u64,
    /// What `save` returned.
    pub saved: T,
}

/// A finished offboarding. No key, no readable copy: `archive` is sealed to
/// the passphrase the owner chose when asking to leave, and is `None` when
/// two operators offboarded a clinic whose owner never asked.
#[derive(Debug)]
pub struct Offboarded<T> {
    pub clinic_id: ClinicId,
    pub archive: Option<SealedArchive<T>>,
    /// The certificate document (pretty JSON), as stored.
    pub certificate: String,
    pub certificate_sha256: String,
}

/// What the owner types on the Leaving page.
#[derive(Clone, Default, serde::Deserialize)]
pub struct LeaveInput {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub passphrase: String,
    #[serde(default)]
    pub passphrase_again: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub totp_code: String,
}

impl std::fmt::Debug for LeaveInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeaveInput(<redacted>)")
    }
}

/// The owner's request to leave, as the Leaving page and `/platform` show it.
#[derive(Clone, Debug)]
pub struct LeavingView {
    pub requested_by: velum_core::StaffId,
    pub requested_at: Timestamp,
    pub reason: String,
}

/// Where a clinic's offboarding stands, for the operator's page.
#[derive(Clone, Debug, Default)]
pub struct OffboardingState {
    /// The owner's request, if they asked to leave.
    pub owner_asked: Option<LeavingView>,
    /// Operators' approvals so far (without the owner: two are needed).
    pub approvals: Vec<Approval>,
}

/// One operator's approval of offboarding a clinic whose owner has not
/// asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub operator_id: velum_core::StaffId,
    pub approved_at: Timestamp,
    pub reason: String,
}

/// A clinic's offboarding record: when, its certificate, and whether the
/// sealed archive still waits for download.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffboardingRecord {
    pub at: Timestamp,
    pub certificate: String,
    pub archive_waiting: bool,
}

/// The certificate proper: what the platform did, with nothing personal but
/// the clinic's name. Its hash goes into the platform's chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    pub format: String,
    pub clinic_id: ClinicId,
    pub clinic_name: String,
    pub offboarded_at: Timestamp,
    /// `operator <staff id>`, or `command line` (the holder of the master key).
    pub by: String,
    /// The two parties that agreed: the owner who asked (or the first
    /// operator who approved) and whoever completed it. Absent from
    /// certificates made before offboarding needed two parties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<String>,
    /// The archive, sealed to the owner's passphrase; `null` when two
    /// operators offboarded a clinic whose owner never asked (no readable
    /// copy was made for anyone).
    pub archive: Option<ArchiveFacts>,
    /// The clinic's audit chain as it stood just before deletion: the last
    /// event (its own `clinic_offboarded`) is the archive's last event.
    pub clinic_chain_head: ChainHead,
    /// Rows deleted, per table.
    pub rows_deleted: BTreeMap<String, u64>,
    pub keys_destroyed: KeysDestroyed,
    pub blobs: Blobs,
    /// Which copies of the clinic's data remain readable, by whom, and for
    /// how long (see docs/SECURITY.md). Absent from older certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies_remaining: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveFacts {
    pub format: u32,
    pub sha256: String,
    pub bytes: u64,
    pub sealed_with: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysDestroyed {
    /// `clinic_keys` rows: the clinic's key, wrapped by the master key.
    pub clinic_key_rows: u64,
    /// `client_keys` rows: each client's data key.
    pub client_key_rows: u64,
}

/// What became of the clinic's blobs: queued for deletion (certificates
/// made now), deleted inside the offboarding (certificates made before the
/// deletion became a job), or why there were none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Blobs {
    Deleted { deleted: u64 },
    Queued { deletion_queued: String },
    NotConfigured(String),
}

/// What the certificate says of a queued blob deletion: true of
/// `App::delete_offboarded_blobs` and the job queue.
pub const BLOB_DELETION_QUEUED: &str = "every object of the clinic in the blob store is deleted by a background job \
     queued in the same transaction as this certificate, run right after it is committed and retried with back-off \
     (30 attempts over about 13 hours; a deletion that still fails is kept as a failed job for the operator to see); \
     until then the objects are sealed under the client keys destroyed above";

/// Attempts a blob deletion job gets before it is kept as failed.
pub const BLOB_DELETION_ATTEMPTS: i64 = 30;

/// The unique key of the blob deletion job of `clinic`.
fn blob_job_key(clinic: ClinicId) -> String {
    format!("offboarded_blobs:{clinic}")
}

/// The certificate file: the certificate, its hash, and where the
/// platform's chain records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateFile {
    pub certificate: Certificate,
    pub certificate_sha256: String,
    pub recorded_in: RecordedIn,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedIn {
    pub chain: String,
    pub seq: i64,
    pub hash: String,
}

/// The archive's plaintext header. Its exact bytes are bound into the body.
/// Format 1 has `key` (a description of the one-off key); format 2 has
/// `kdf`, `salt`, `recipient` and `ephemeral` (hex; public values).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveHeader {
    pub format: u32,
    pub clinic_id: ClinicId,
    pub exported_at: Timestamp,
    pub cipher: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kdf: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<String>,
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    hex::decode(text).ok()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compact JSON with every object's keys sorted: the bytes the
/// certificate's hash is taken over (what `jq -cjS` prints).
#[must_use]
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(&m[k], out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// SHA-256 (hex) of the certificate's canonical JSON.
///
/// # Errors
/// Only if the certificate cannot be encoded (it always can).
pub fn certificate_sha256(c: &Certificate) -> Result<String, AppError> {
    let v = serde_json::to_value(c).map_err(|e| AppError::Internal(format!("certificate json: {e}")))?;
    Ok(sha256_hex(canonical_json(&v).as_bytes()))
}

/// Associated data of the archive body. NEVER CHANGE THIS for formats 1
/// and 2: it is bound into every archive handed to a clinic.
fn archive_aad(format: u32, header_bytes: &[u8], clinic: ClinicId) -> Aad {
    CLINIC_ARCHIVE.aad(format, header_bytes, clinic)
}

/// Open an offboarding archive without any database or master key: what
/// `velum export open` runs. A format-2 archive opens with the owner's
/// passphrase, a format-1 archive with the key given with it. Returns the
/// header and the document (pretty-printed JSON).
///
/// # Errors
/// The [`ArchiveError`] naming what is wrong: not an archive, another
/// format version, a damaged header, the wrong kind of secret, a key that
/// is not 64 hex digits, or a key or passphrase that does not open it.
pub fn open_archive(file: &[u8], secret: ArchiveSecret<'_>) -> Result<(ArchiveHeader, Vec<u8>), ArchiveError> {
    let framing = |e| match e {
        FrameError::NoMarker => ArchiveError::NotAnArchive,
        FrameError::Unsupported { found } => ArchiveError::UnsupportedVersion { found },
        FrameError::Damaged(what) => ArchiveError::Damaged(what),
    };
    let frame = CLINIC_ARCHIVE
        .split(file, &[ARCHIVE_FORMAT_KEY, ARCHIVE_FORMAT_PASSPHRASE, ARCHIVE_FORMAT])
        .map_err(framing)?;
    let header: ArchiveHeader = frame.header().map_err(framing)?;
    let (format, header_bytes, sealed) = (frame.format, frame.header_bytes, frame.sealed);
    let aad = archive_aad(format, header_bytes, header.clinic_id);
    let body = match (format, secret) {
        (ARCHIVE_FORMAT_KEY, ArchiveSecret::Key(text)) => {
            let key = ArchiveKey::from_text(text).map_err(ArchiveError::BadKeyText)?;
            key.open(sealed, &aad).map_err(|_| ArchiveError::WrongKey)?
        }
        (ARCHIVE_FORMAT_KEY, ArchiveSecret::Passphrase(_)) => return Err(ArchiveError::NeedsKey),
        (_, ArchiveSecret::Key(_)) => return Err(ArchiveError::NeedsPassphrase),
        (_, ArchiveSecret::Passphrase(passphrase)) => {
            let part = |v: &Option<String>| {
                v.as_deref().and_then(unhex).ok_or(ArchiveError::Damaged(
                    "the header lacks the passphrase's salt or public keys",
                ))
            };
            let (salt, recipient, ephemeral) =
                (part(&header.salt)?, part(&header.recipient)?, part(&header.ephemeral)?);
            let refused = |e| match e {
                velum_crypto::CryptoError::KeyLength { .. } => {
                    ArchiveError::Damaged("the header's salt or public keys have the wrong length")
                }
                velum_crypto::CryptoError::Malformed if format == ARCHIVE_FORMAT => {
                    ArchiveError::Damaged("the sealed body is cut off or has an unknown version")
                }
                _ => ArchiveError::WrongPassphrase,
            };
            if format == ARCHIVE_FORMAT_PASSPHRASE {
                velum_crypto::archive::open_with_passphrase(passphrase, &salt, &recipient, &ephemeral, sealed, &aad)
                    .map_err(refused)?
            } else {
                let mut reader = velum_crypto::archive::open_stream_with_passphrase(
                    passphrase, &salt, &recipient, &ephemeral, sealed, &aad,
                )
                .map_err(refused)?;
                let mut body = Vec::new();
                std::io::Read::read_to_end(&mut reader, &mut body).map_err(|_| {
                    ArchiveError::Damaged(
                        "the sealed body does not open with this header (cut off, reordered or altered)",
                    )
                })?;
                body
            }
        }
    };
    Ok((header, body))
}

/// The longest header line an archive may have (it is a few hundred bytes).
const MAX_HEADER: u64 = 64 * 1024;

/// Open an offboarding archive read from `file`, writing the document to
/// `out` as it opens: what `velum export open` runs. A format-3 archive is
/// read and opened one 64 KiB chunk at a time, so neither the archive nor
/// the document is ever whole in memory; formats 1 and 2, each sealed in
/// one piece, are read whole and opened by [`open_archive`]. On an error
/// part of the document may have been written (the chunks before a damaged
/// or missing one, each of them authentic): the caller discards it.
///
/// # Errors
/// As [`open_archive`]; `Read` or `Write` for a failing file or output.
pub fn open_archive_to(
    file: impl std::io::Read,
    secret: ArchiveSecret<'_>,
    mut out: impl std::io::Write,
) -> Result<ArchiveHeader, ArchiveError> {
    use std::io::{BufRead, Read};
    let mut file = std::io::BufReader::with_capacity(velum_crypto::stream::CHUNK, file);
    let mut head = vec![0u8; CLINIC_ARCHIVE.marker.len()];
    let got = (&mut file)
        .take(head.len() as u64)
        .read(&mut head)
        .map_err(ArchiveError::Read)?;
    let mut line = Vec::new();
    if got == head.len() && head == CLINIC_ARCHIVE.marker {
        (&mut file)
            .take(MAX_HEADER)
            .read_until(b'\n', &mut line)
            .map_err(ArchiveError::Read)?;
    }
    head.truncate(got);
    head.extend_from_slice(&line);
    let formats = [ARCHIVE_FORMAT_KEY, ARCHIVE_FORMAT_PASSPHRASE, ARCHIVE_FORMAT];
    let format = match CLINIC_ARCHIVE.split(&head, &formats) {
        Ok(frame) => frame.format,
        // A file shorter than its marker, or not one: as `open_archive` says.
        Err(_) => 0,
    };
    if format != ARCHIVE_FORMAT {
        file.read_to_end(&mut head).map_err(ArchiveError::Read)?;
        let (header, body) = open_archive(&head, secret)?;
        out.write_all(&body).map_err(ArchiveError::Write)?;
        return Ok(header);
    }
    let ArchiveSecret::Passphrase(passphrase) = secret else {
        return Err(ArchiveError::NeedsPassphrase);
    };
    let framing = |e| match e {
        FrameError::NoMarker => ArchiveError::NotAnArchive,
        FrameError::Unsupported { found } => ArchiveError::UnsupportedVersion { found },
        FrameError::Damaged(what) => ArchiveError::Damaged(what),
    };
    let frame = CLINIC_ARCHIVE.split(&head, &formats).map_err(framing)?;
    let header: ArchiveHeader = frame.header().map_err(framing)?;
    let aad = archive_aad(ARCHIVE_FORMAT, frame.header_bytes, header.clinic_id);
    let part = |v: &Option<String>| {
        v.as_deref().and_then(unhex).ok_or(ArchiveError::Damaged(
            "the header lacks the passphrase's salt or public keys",
        ))
    };
    let (salt, recipient, ephemeral) = (part(&header.salt)?, part(&header.recipient)?, part(&header.ephemeral)?);
    let mut reader =
        velum_crypto::archive::open_stream_with_passphrase(passphrase, &salt, &recipient, &ephemeral, file, &aad)
            .map_err(|e| match e {
                velum_crypto::CryptoError::KeyLength { .. } => {
                    ArchiveError::Damaged("the header's salt or public keys have the wrong length")
                }
                velum_crypto::CryptoError::Malformed => {
                    ArchiveError::Damaged("the sealed body is cut off or has an unknown version")
                }
                _ => ArchiveError::WrongPassphrase,
            })?;
    let mut buf = vec![0u8; velum_crypto::stream::CHUNK];
    loop {
        let n = reader.read(&mut buf).map_err(|_| {
            ArchiveError::Damaged("the sealed body does not open with this header (cut off, reordered or altered)")
        })?;
        if n == 0 {
            return Ok(header);
        }
        out.write_all(&buf[..n]).map_err(ArchiveError::Write)?;
    }
}

/// The archive file: magic, header line, body sealed to the owner's
/// passphrase in chunks as the document is encoded (format 3), from a
/// document in memory (the tests).
#[cfg(test)]
fn seal_archive_to(
    clinic: ClinicId,
    exported_at: Timestamp,
    document: &Value,
    recipient: &ArchiveRecipient,
) -> Result<Vec<u8>, AppError> {
    let json = |e: serde_json::Error| AppError::Internal(format!("archive encoding: {e}"));
    let io = |_: std::io::Error| AppError::Internal("archive encoding: cannot seal".into());
    // The ephemeral public key goes in the header, and the header's exact
    // bytes in the body's associated data.
    let sealer = recipient.sealer();
    let header = archive_header(ARCHIVE_FORMAT, CIPHER_V3, clinic, exported_at, recipient, &sealer);
    let header_bytes = serde_json::to_vec(&header).map_err(json)?;
    let aad = archive_aad(ARCHIVE_FORMAT, &header_bytes, clinic);
    let mut file = CLINIC_ARCHIVE.assemble(&header_bytes, &[]);
    let mut body = std::io::BufWriter::new(sealer.seal_stream(&aad, &mut file).map_err(io)?);
    serde_json::to_writer_pretty(&mut body, document).map_err(json)?;
    body.into_inner()
        .map_err(|e| io(e.into_error()))?
        .finish()
        .map_err(io)?;
    Ok(file)
}

/// The sealed archive written by [`seal_archive_file`]: its SHA-256 and
/// size, taken as it was written, and the digest of the key rows read.
struct ArchiveMade {
    sha256: String,
    bytes: u64,
    keys_read: [u8; 32],
}

/// Write the archive file into `file`: magic, header line, and the
/// document sealed to the owner's passphrase in chunks as it is written,
/// its rows read from `source` a page at a time; hashed as it is written.
#[expect(clippy::too_many_arguments, reason = "the archive's parts")]
async fn seal_archive_file(
    source: &mut impl RowSource,
    clinic: ClinicId,
    exported_at: Timestamp,
    recipient: &ArchiveRecipient,
    clinic_keys: &HashMap<i64, ClinicKey>,
    files: Vec<BlobFile>,
    stray_blobs: u64,
    file: &mut std::fs::File,
) -> Result<ArchiveMade, OffboardError> {
    use std::io::Write;
    let json = |e: serde_json::Error| AppError::Internal(format!("archive encoding: {e}"));
    let sealer = recipient.sealer();
    let header = archive_header(ARCHIVE_FORMAT, CIPHER_V3, clinic, exported_at, recipient, &sealer);
    let header_bytes = serde_json::to_vec(&header).map_err(json)?;
    let aad = archive_aad(ARCHIVE_FORMAT, &header_bytes, clinic);
    let mut out = Hashing::new(std::io::BufWriter::new(file));
    out.write_all(&CLINIC_ARCHIVE.assemble(&header_bytes, &[]))
        .map_err(OffboardError::Save)?;
    let sealing = sealer.seal_stream(&aad, &mut out).map_err(OffboardError::Save)?;
    let mut body = std::io::BufWriter::with_capacity(velum_crypto::stream::CHUNK, sealing);
    let keys_read =
        write_archive_document(source, clinic, clinic_keys, files, exported_at, stray_blobs, &mut body).await?;
    body.into_inner()
        .map_err(|e| OffboardError::Save(e.into_error()))?
        .finish()
        .map_err(OffboardError::Save)?;
    out.flush().map_err(OffboardError::Save)?;
    let (buffered, sha256, bytes) = out.finish();
    buffered
        .into_inner()
        .map_err(|e| OffboardError::Save(e.into_error()))?
        .sync_all()
        .map_err(OffboardError::Save)?;
    Ok(ArchiveMade {
        sha256,
        bytes,
        keys_read,
    })
}

/// A header sealed to `recipient` through `sealer`.
fn archive_header(
    format: u32,
    cipher: &str,
    clinic: ClinicId,
    exported_at: Timestamp,
    recipient: &ArchiveRecipient,
    sealer: &velum_crypto::archive::Sealer,
) -> ArchiveHeader {
    ArchiveHeader {
        format,
        clinic_id: clinic,
        exported_at,
        cipher: cipher.into(),
        key: None,
        kdf: Some(format!(
            "argon2id m={} t={} p={} salt",
            velum_crypto::archive::PASSPHRASE_M_KIB,
            velum_crypto::archive::PASSPHRASE_T,
            velum_crypto::archive::PASSPHRASE_P
        )),
        salt: Some(hex::encode(recipient.salt())),
        recipient: Some(hex::encode(recipient.public())),
        ephemeral: Some(hex::encode(sealer.ephemeral())),
    }
}

/// A format-2 archive (sealed to the passphrase in one piece), as earlier
/// builds wrote them: kept to test that they still open.
#[cfg(test)]
fn seal_archive_v2(
    clinic: ClinicId,
    exported_at: Timestamp,
    document: &Value,
    recipient: &ArchiveRecipient,
) -> Result<Vec<u8>, AppError> {
    let json = |e: serde_json::Error| AppError::Internal(format!("archive encoding: {e}"));
    let body = serde_json::to_vec_pretty(document).map_err(json)?;
    let sealer = recipient.sealer();
    let header = archive_header(
        ARCHIVE_FORMAT_PASSPHRASE,
        CIPHER_V2,
        clinic,
        exported_at,
        recipient,
        &sealer,
    );
    let header_bytes = serde_json::to_vec(&header).map_err(json)?;
    let sealed = sealer.seal(&body, &archive_aad(ARCHIVE_FORMAT_PASSPHRASE, &header_bytes, clinic));
    Ok(CLINIC_ARCHIVE.assemble(&header_bytes, &sealed))
}

/// A format-1 archive (one-off key), as earlier builds wrote them: kept to
/// test that they still open.
#[cfg(test)]
fn seal_archive(header: &ArchiveHeader, document: &Value, key: &ArchiveKey) -> Result<Vec<u8>, AppError> {
    let json = |_: serde_json::Error| AppError::Internal("archive encoding: cannot encode".into());
    let header_bytes = serde_json::to_vec(header).map_err(json)?;
    let body = serde_json::to_vec_pretty(document).map_err(json)?;
    let sealed = key.seal(&body, &archive_aad(header.format, &header_bytes, header.clinic_id));
    Ok(CLINIC_ARCHIVE.assemble(&header_bytes, &sealed))
}

/// One blob of the clinic, opened and spooled (or not, when its client's
/// key is gone).
struct BlobFile {
    client: ClientId,
    id: BlobId,
    content: Option<Spooled>,
}

/// Where the clinic's opened blobs wait between their fetching, before the
/// offboarding's transaction, and their writing into the archive: an
/// unnamed temporary file, each blob sealed in it under a one-off key held
/// only in memory, so the blobs are never all in memory and never on disk
/// in the clear.
struct Spool {
    file: std::fs::File,
    key: ArchiveKey,
    end: u64,
    count: u64,
}

/// A blob in a [`Spool`].
struct Spooled {
    spool: std::sync::Arc<std::sync::Mutex<Spool>>,
    offset: u64,
    len: u64,
    index: u64,
}

fn spool_aad(index: u64) -> Aad {
    Aad::record_version("offboarding.spool/v1", &[], index)
}

impl Spool {
    fn new() -> std::io::Result<std::sync::Arc<std::sync::Mutex<Spool>>> {
        Ok(std::sync::Arc::new(std::sync::Mutex::new(Spool {
            file: tempfile::tempfile()?,
            key: ArchiveKey::generate(),
            end: 0,
            count: 0,
        })))
    }

    /// Seal `content` into the spool.
    fn put(spool: &std::sync::Arc<std::sync::Mutex<Spool>>, content: &[u8]) -> std::io::Result<Spooled> {
        use std::io::{Seek, Write};
        let mut s = spool
            .lock()
            .map_err(|_| std::io::Error::other("the blob spool is poisoned"))?;
        let index = s.count;
        let sealed = s.key.seal(content, &spool_aad(index));
        let offset = s.end;
        s.file.seek(std::io::SeekFrom::Start(offset))?;
        s.file.write_all(&sealed)?;
        s.end += sealed.len() as u64;
        s.count += 1;
        Ok(Spooled {
            spool: spool.clone(),
            offset,
            len: sealed.len() as u64,
            index,
        })
    }
}

impl Spooled {
    /// The blob's content, read back and opened.
    fn read(&self) -> Result<Vec<u8>, AppError> {
        use std::io::{Read, Seek};
        let failed = |_| AppError::Internal("offboarding archive: cannot read a spooled blob".into());
        let mut s = self.spool.lock().map_err(|_| corrupt("the blob spool is poisoned"))?;
        s.file.seek(std::io::SeekFrom::Start(self.offset)).map_err(failed)?;
        let mut sealed = vec![0u8; usize::try_from(self.len).map_err(|_| corrupt("a spooled blob is too large"))?];
        s.file.read_exact(&mut sealed).map_err(failed)?;
        s.key
            .open(&sealed, &spool_aad(self.index))
            .map_err(|_| corrupt("a spooled blob does not open"))
    }
}

type Row = Map<String, Value>;

/// The tables whose rows open the clinic's blobs.
const KEY_TABLES: &[&str] = &["clinic_keys", "client_keys"];

/// SHA-256 of the key tables' rows among `tables` (clinic keys, then
/// client keys, each in its table's order), as [`write_archive_document`]
/// hashes those it reads: what the blobs were opened with, compared with
/// what the transaction reads.
fn key_digest(tables: &[TableRows]) -> [u8; 32] {
    let mut digest = Sha256::new();
    for name in KEY_TABLES {
        for row in tables.iter().filter(|t| t.table == *name).flat_map(|t| &t.rows) {
            digest.update(Value::Object(row.clone()).to_string());
        }
    }
    digest.finalize().into()
}

/// The readable document as a value, from rows in memory (the tests).
#[cfg(test)]
fn archive_document(
    clinic: ClinicId,
    clinic_keys: &HashMap<i64, ClinicKey>,
    tables: &[TableRows],
    files: Vec<BlobFile>,
    exported_at: Timestamp,
    stray_blobs: u64,
) -> Result<Value, AppError> {
    let mut out = Vec::new();
    let mut source = MemorySource(tables);
    let write = write_archive_document(
        &mut source,
        clinic,
        clinic_keys,
        files,
        exported_at,
        stray_blobs,
        &mut out,
    );
    tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| AppError::Internal(e.to_string()))?
        .block_on(write)?;
    serde_json::from_slice(&out).map_err(|e| AppError::Internal(format!("archive json: {e}")))
}

/// The clinic's blobs, fetched and opened before the offboarding's
/// transaction, with the key rows they were opened with.
struct Prefetched {
    keys: Vec<TableRows>,
    files: Vec<BlobFile>,
    stray: u64,
}

fn corrupt(what: &'static str) -> AppError {
    AppError::Internal(format!("offboarding archive: {what}"))
}

/// One row of a table as the archive's exporter for that table sees it: only
/// the columns [`ARCHIVE_COLUMNS`] says the archive reads can be asked for,
/// and a column asked for must be in the row. A column renamed in the schema
/// (and in [`velum_store::transfer::CLINIC_TABLES`]) therefore fails the
/// archive build instead of leaving a section of the archive empty.
#[derive(Clone, Copy)]
struct Exported<'a> {
    table: &'static transfer::Table,
    row: &'a Row,
}

/// The rows of table `name` for its exporter.
fn rows<'a>(tables: &'a [TableRows], name: &str) -> Result<Vec<Exported<'a>>, AppError> {
    let table = transfer::table(name).ok_or(corrupt("a table the archive reads is not a clinic table"))?;
    Ok(tables
        .iter()
        .filter(|t| t.table == name)
        .flat_map(|t| &t.rows)
        .map(|row| Exported { table, row })
        .collect())
}

impl<'a> Exported<'a> {
    fn field(&self, name: &str) -> Result<&'a Value, AppError> {
        let declared = self.table.columns.iter().find(|c| c.name == name);
        if declared.is_none_or(|c| matches!(c.archive, Archive::LeftOut(_))) {
            return Err(corrupt(
                "a column the archive reads is not one it reads (ARCHIVE_COLUMNS)",
            ));
        }
        self.row
            .get(name)
            .ok_or(corrupt("a column the archive reads is not in the rows read"))
    }

    fn text(&self, name: &str) -> Result<&'a str, AppError> {
        self.field(name)?.as_str().ok_or(corrupt("a text column is missing"))
    }

    fn uuid(&self, name: &str) -> Result<uuid::Uuid, AppError> {
        uuid::Uuid::parse_str(self.text(name)?).map_err(|_| corrupt("an id column is not an id"))
    }

    fn bytes(&self, name: &str) -> Result<Option<Vec<u8>>, AppError> {
        self.field(name)?
            .as_str()
            .map(|s| B64.decode(s).map_err(|_| corrupt("a byte column is not base64")))
            .transpose()
    }

    /// A stored instant (unix microseconds) as RFC 3339; `null` stays `null`.
    fn instant(&self, name: &str) -> Result<Value, AppError> {
        match self.field(name)? {
            Value::Null => Ok(Value::Null),
            v => {
                let micros = v.as_i64().ok_or(corrupt("an instant is not a number"))?;
                let t = Timestamp::from_microsecond(micros).map_err(|_| corrupt("an instant is out of range"))?;
                Ok(Value::String(t.to_string()))
            }
        }
    }

    fn pick(&self, names: &[&str]) -> Result<Row, AppError> {
        names
            .iter()
            .map(|n| Ok(((*n).to_owned(), self.field(n)?.clone())))
            .collect()
    }
}

fn parse_json(plain: &[u8]) -> Result<Value, AppError> {
    serde_json::from_slice(plain).map_err(|_| corrupt("an opened value is not JSON"))
}

/// The generic exporter: one row of a table without an exporter of its own,
/// as an object of every column the archive reads, each as its [`Archive`]
/// metadata says (instants in RFC 3339, sealed values opened with the key of
/// the row's client, `null` when that key is gone).
fn generic_row(r: Exported<'_>, keys: &HashMap<uuid::Uuid, ClientKey>, scope: &ClinicScope) -> Result<Value, AppError> {
    let mut out = Map::new();
    for c in r.table.columns {
        let v = match c.archive {
            Archive::LeftOut(_) => continue,
            Archive::Carried => r.field(c.name)?.clone(),
            Archive::Instant => r.instant(c.name)?,
            Archive::Sealed(label) => {
                let client = r.uuid("client_id")?;
                let version = r
                    .field("version")?
                    .as_i64()
                    .and_then(|v| u64::try_from(v).ok())
                    .ok_or(corrupt("a sealed row has no version"))?;
                match (keys.get(&client), r.bytes(c.name)?) {
                    (Some(key), Some(sealed)) => {
                        let aad =
                            velum_crypto::Aad::record_version(label, &[scope.clinic_id().as_uuid(), client], version);
                        parse_json(&key.open(&sealed, &aad).map_err(|_| AppError::Integrity)?)?
                    }
                    _ => Value::Null,
                }
            }
            Archive::Opened | Archive::Key => {
                return Err(corrupt(
                    "a table archived generically has a column only an exporter of its own can open",
                ));
            }
        };
        out.insert(c.name.to_owned(), v);
    }
    Ok(Value::Object(out))
}

/// Every clinic key row of the clinic (as read for the archive), opened, by
/// `key_id`: a client key is opened with the clinic key its row names, so a
/// clinic whose key rotation has not finished still archives whole.
fn clinic_keys_of(app: &App, clinic: ClinicId, tables: &[TableRows]) -> Result<HashMap<i64, ClinicKey>, AppError> {
    rows(tables, "clinic_keys")?
        .iter()
        .map(|r| {
            let id = r.field("key_id")?.as_i64().ok_or(corrupt("a clinic key has no id"))?;
            let wrapped = r.bytes("wrapped")?.ok_or(corrupt("a clinic key is empty"))?;
            Ok((
                id,
                app.master()
                    .unwrap_clinic_key(&WrappedKey::from_bytes(wrapped), clinic)?,
            ))
        })
        .collect()
}

/// Open a client key row with the clinic key it names.
fn client_key_of(
    clinic_keys: &HashMap<i64, ClinicKey>,
    clinic: ClinicId,
    r: Exported<'_>,
) -> Result<ClientKey, AppError> {
    let client = r.uuid("client_id")?;
    let key_id = r
        .field("key_id")?
        .as_i64()
        .ok_or(corrupt("a client key names no clinic key"))?;
    let clinic_key = clinic_keys
        .get(&key_id)
        .ok_or(corrupt("a client key names a missing clinic key"))?;
    let wrapped = r.bytes("wrapped")?.ok_or(corrupt("a client key is empty"))?;
    Ok(clinic_key.unwrap_client_key(&WrappedKey::from_bytes(wrapped), clinic, ClientId::from_uuid(client))?)
}

/// How many clients (with their keys, medical summaries and history), audit
/// events or rows of a generically archived table the archive reads and
/// writes at a time: memory holds one page, whatever the clinic's size.
pub const ARCHIVE_PAGE: i64 = 500;

/// Where the archive's rows come from, a page at a time: the offboarding's
/// snapshot transaction ([`transfer::read_page`]), or rows in memory (the
/// tests).
trait RowSource {
    async fn page(&mut self, table: &'static transfer::Table, page: Page<'_>) -> Result<Vec<Row>, AppError>;
}

/// The offboarding's transaction.
struct TxSource<'a> {
    tx: &'a mut velum_store::Tx,
    scope: &'a ClinicScope,
}

impl RowSource for TxSource<'_> {
    async fn page(&mut self, table: &'static transfer::Table, page: Page<'_>) -> Result<Vec<Row>, AppError> {
        Ok(transfer::read_page(self.tx, self.scope, table, page).await?)
    }
}

/// A row's value of a key column, for paging.
fn row_key(table: &transfer::Table, row: &Row, column: &str) -> Result<Key, AppError> {
    let kind = table
        .columns
        .iter()
        .find(|c| c.name == column)
        .map(|c| c.kind)
        .ok_or(corrupt("a page is keyed on a column its table lacks"))?;
    let v = row.get(column).ok_or(corrupt("a key column is not in the rows read"))?;
    match kind {
        transfer::Kind::Id => v
            .as_str()
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .map(Key::Id)
            .ok_or(corrupt("an id column is not an id")),
        transfer::Kind::Int => v.as_i64().map(Key::Int).ok_or(corrupt("an integer column is not one")),
        transfer::Kind::Text => v
            .as_str()
            .map(|s| Key::Text(s.to_owned()))
            .ok_or(corrupt("a text column is not text")),
        _ => Err(corrupt(
            "a page is keyed on a column that is neither an id, an integer nor text",
        )),
    }
}

/// Rows in memory, paged as the database pages them.
#[cfg(test)]
struct MemorySource<'a>(&'a [TableRows]);

#[cfg(test)]
impl RowSource for MemorySource<'_> {
    async fn page(&mut self, table: &'static transfer::Table, page: Page<'_>) -> Result<Vec<Row>, AppError> {
        let all: Vec<&Row> = self
            .0
            .iter()
            .filter(|t| t.table == table.name)
            .flat_map(|t| &t.rows)
            .collect();
        let key = |r: &Row, c: &str| row_key(table, r, c);
        Ok(match page {
            Page::After { column, after, limit } => {
                let mut picked = Vec::new();
                for r in all {
                    let k = key(r, column)?;
                    if after.as_ref().is_none_or(|a| &k > a) {
                        picked.push((k, r.clone()));
                    }
                }
                picked.sort_by(|a, b| a.0.cmp(&b.0));
                picked
                    .into_iter()
                    .take(usize::try_from(limit).unwrap_or(0))
                    .map(|(_, r)| r)
                    .collect()
            }
            Page::Between { column, from, to } => {
                let mut picked = Vec::new();
                for r in all {
                    let k = key(r, column)?;
                    if k >= from && k <= to {
                        picked.push(r.clone());
                    }
                }
                picked
            }
        })
    }
}

/// Every row of `table` of the clinic, a page at a time, handed to `each`.
async fn each_row(
    source: &mut impl RowSource,
    name: &str,
    mut each: impl FnMut(Exported<'_>) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let table = transfer::table(name).ok_or(corrupt("a table the archive reads is not a clinic table"))?;
    // Paged on the table's order column when it is one unique column of
    // the clinic's rows; the tables ordered otherwise hold a row or a few.
    let column = table.order_by;
    if column.contains(',') {
        return Err(corrupt("a table the archive pages is ordered on more than one column"));
    }
    let mut after = None;
    loop {
        let page = source
            .page(
                table,
                Page::After {
                    column,
                    after,
                    limit: ARCHIVE_PAGE,
                },
            )
            .await?;
        for row in &page {
            each(Exported { table, row })?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == ARCHIVE_PAGE => after = Some(row_key(table, last, column)?),
            _ => return Ok(()),
        }
    }
}

/// The archive document written as JSON, pretty-printed, one value at a
/// time: top-level keys, and lists whose elements are written as they are
/// made.
struct DocWriter<W: std::io::Write> {
    out: W,
    /// Whether the current object or list has an entry yet.
    first: bool,
}

fn write_err(_: std::io::Error) -> AppError {
    AppError::Internal("offboarding archive: cannot write the archive file".into())
}

impl<W: std::io::Write> DocWriter<W> {
    fn new(mut out: W) -> Result<Self, AppError> {
        out.write_all(b"{").map_err(write_err)?;
        Ok(DocWriter { out, first: true })
    }

    /// `value` pretty-printed, its lines indented by `depth` levels.
    fn value(&mut self, value: &Value, depth: usize) -> Result<(), AppError> {
        let text = serde_json::to_string_pretty(value).map_err(|e| AppError::Internal(format!("archive json: {e}")))?;
        // A JSON text has no raw newline inside a string: each is a line break.
        let indent = format!("\n{}", "  ".repeat(depth));
        self.out
            .write_all(text.replace('\n', &indent).as_bytes())
            .map_err(write_err)
    }

    fn separator(&mut self, depth: usize) -> Result<(), AppError> {
        let sep = if std::mem::replace(&mut self.first, false) {
            ""
        } else {
            ","
        };
        write!(self.out, "{sep}\n{}", "  ".repeat(depth)).map_err(write_err)
    }

    fn key(&mut self, key: &str) -> Result<(), AppError> {
        self.separator(1)?;
        let key = serde_json::to_string(key).map_err(|e| AppError::Internal(format!("archive json: {e}")))?;
        write!(self.out, "{key}: ").map_err(write_err)
    }

    fn entry(&mut self, key: &str, value: &Value) -> Result<(), AppError> {
        self.key(key)?;
        self.value(value, 1)
    }

    /// Start the list under `key`.
    fn open_list(&mut self, key: &str) -> Result<(), AppError> {
        self.key(key)?;
        self.out.write_all(b"[").map_err(write_err)?;
        self.first = true;
        Ok(())
    }

    fn item(&mut self, value: &Value) -> Result<(), AppError> {
        self.separator(2)?;
        self.value(value, 2)
    }

    fn close_list(&mut self) -> Result<(), AppError> {
        if !self.first {
            self.out.write_all(b"\n  ").map_err(write_err)?;
        }
        self.out.write_all(b"]").map_err(write_err)?;
        self.first = false;
        Ok(())
    }

    fn finish(mut self) -> Result<W, AppError> {
        self.out
            .write_all(if self.first { b"}" } else { b"\n}" })
            .map_err(write_err)?;
        Ok(self.out)
    }
}

/// One row as a client card of the archive: contact details, marketing
/// choices, and its medical summary, history and files.
fn client_json(
    r: Exported<'_>,
    has_key: bool,
    medical: Option<Value>,
    history: Vec<Value>,
    files: Vec<Value>,
) -> Result<Value, AppError> {
    let id = r.uuid("id")?;
    Ok(json!({
        "id": id.to_string(),
        "given_name": r.field("given_name")?,
        "family_name": r.field("family_name")?,
        "date_of_birth": r.field("date_of_birth")?,
        "email": r.field("email")?,
        "mobile": r.field("mobile")?,
        "address": r.pick(&["line1", "line2", "town", "postcode"])?,
        "marketing": {"email": r.field("marketing_email")?, "sms": r.field("marketing_sms")?},
        "archived": r.field("archived")?,
        "version": r.field("version")?,
        "created_at": r.instant("created_at")?,
        "updated_at": r.instant("updated_at")?,
        "key_destroyed_before_offboarding": !has_key,
        "medical": medical.unwrap_or(Value::Null),
        "history": history,
        "files": files,
    }))
}

/// The readable document of the clinic, written to `out` as its rows are
/// read from `source` a page at a time (see [`ARCHIVE_PAGE`]), with its
/// opened blobs. Returns the SHA-256 of the key rows read (clinic keys,
/// then client keys), to compare with those the blobs were opened with.
async fn write_archive_document(
    source: &mut impl RowSource,
    clinic: ClinicId,
    clinic_keys: &HashMap<i64, ClinicKey>,
    files: Vec<BlobFile>,
    exported_at: Timestamp,
    stray_blobs: u64,
    out: impl std::io::Write,
) -> Result<[u8; 32], AppError> {
    let scope = crate::job_scope(OFFBOARD_JOB, clinic);
    let table = |name: &str| transfer::table(name).ok_or(corrupt("a table the archive reads is not a clinic table"));
    let mut key_digest = Sha256::new();
    let mut doc = DocWriter::new(out)?;
    doc.entry("format", &json!(format!("velum.clinic-archive/v{ARCHIVE_FORMAT}")))?;
    doc.entry("exported_at", &json!(exported_at.to_string()))?;

    let mut clinic_json = None;
    each_row(source, "clinics", |r| {
        clinic_json.get_or_insert(json!({
            "id": clinic.to_string(),
            "name": r.text("name")?,
            "status": r.text("status")?,
            "created_at": r.instant("created_at")?,
        }));
        Ok(())
    })
    .await?;
    doc.entry("clinic", &clinic_json.ok_or(corrupt("no clinic row"))?)?;
    each_row(source, "clinic_keys", |r| {
        key_digest.update(Value::Object(r.row.clone()).to_string());
        Ok(())
    })
    .await?;

    doc.open_list("staff")?;
    each_row(source, "staff", |r| {
        doc.item(&json!({
            "id": r.field("id")?,
            "email": r.field("email")?,
            "display_name": r.field("display_name")?,
            "role": r.field("role")?,
            "disabled": r.field("disabled")?,
            "two_step_sign_in_set_up": r.field("totp_confirmed")?,
            "created_at": r.instant("created_at")?,
            "updated_at": r.instant("updated_at")?,
        }))
    })
    .await?;
    doc.close_list()?;

    // The blobs by client; those of a client without a key (or not in the
    // clinic) are listed as unreadable after the clients.
    let mut by_client: HashMap<uuid::Uuid, Vec<BlobFile>> = HashMap::new();
    let mut unreadable_files = Vec::new();
    for f in files {
        if f.content.is_some() {
            by_client.entry(f.client.as_uuid()).or_default().push(f);
        } else {
            unreadable_files.push(json!({"client_id": f.client.to_string(), "id": f.id.to_string()}));
        }
    }

    // Clients a page at a time, each page with its clients' keys, medical
    // summaries and history (read in the page's client-id range).
    let (clients, client_keys) = (table("clients")?, table("client_keys")?);
    let (client_medical, client_history) = (table("client_medical")?, table("client_history")?);
    doc.open_list("clients")?;
    let mut after = None;
    loop {
        let page = source
            .page(
                clients,
                Page::After {
                    column: "id",
                    after,
                    limit: ARCHIVE_PAGE,
                },
            )
            .await?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            break;
        };
        let (from, to) = (row_key(clients, first, "id")?, row_key(clients, last, "id")?);
        let range = Page::Between {
            column: "client_id",
            from,
            to: to.clone(),
        };
        // Each client's data key, unwrapped with the clinic key its row names.
        let mut keys: HashMap<uuid::Uuid, ClientKey> = HashMap::new();
        for row in &source.page(client_keys, range.clone()).await? {
            key_digest.update(Value::Object(row.clone()).to_string());
            let r = Exported {
                table: client_keys,
                row,
            };
            keys.insert(r.uuid("client_id")?, client_key_of(clinic_keys, clinic, r)?);
        }
        let mut medical: HashMap<uuid::Uuid, Value> = HashMap::new();
        for row in &source.page(client_medical, range.clone()).await? {
            let r = Exported {
                table: client_medical,
                row,
            };
            let client = r.uuid("client_id")?;
            let summary = match (keys.get(&client), r.bytes("sealed")?) {
                (Some(key), Some(sealed)) => {
                    let row = velum_store::clients::MedicalRow {
                        sealed,
                        version: r
                            .field("version")?
                            .as_i64()
                            .ok_or(corrupt("a medical row has no version"))?,
                        aad_scheme: r
                            .field("aad_scheme")?
                            .as_i64()
                            .ok_or(corrupt("a medical row has no scheme"))?,
                    };
                    parse_json(&open_medical(key, &scope, ClientId::from_uuid(client), &row)?)?
                }
                _ => Value::Null,
            };
            medical.insert(
                client,
                json!({
                    "summary": summary,
                    "version": r.field("version")?,
                    "updated_at": r.instant("updated_at")?,
                    "updated_by": r.field("updated_by")?,
                }),
            );
        }
        let mut history: HashMap<uuid::Uuid, Vec<Value>> = HashMap::new();
        for row in &source.page(client_history, range).await? {
            let r = Exported {
                table: client_history,
                row,
            };
            let client = r.uuid("client_id")?;
            let id = r.uuid("id")?;
            let previous = match (keys.get(&client), r.bytes("previous_sealed")?) {
                (Some(key), Some(sealed)) => {
                    parse_json(&key.open(&sealed, &history_aad(&scope, ClientId::from_uuid(client), id))?)?
                }
                _ => Value::Null,
            };
            history.entry(client).or_default().push(json!({
                "id": id.to_string(),
                "section": r.field("section")?,
                "changed_at": r.instant("changed_at")?,
                "changed_by": r.field("changed_by")?,
                "previous": previous,
            }));
        }
        for row in &page {
            let r = Exported { table: clients, row };
            let id = r.uuid("id")?;
            let mut files = Vec::new();
            for f in by_client.remove(&id).unwrap_or_default() {
                match f.content {
                    Some(spooled) if keys.contains_key(&id) => {
                        let content = spooled.read()?;
                        files.push(json!({
                            "id": f.id.to_string(),
                            "bytes": content.len(),
                            "content_base64": B64.encode(&content),
                        }));
                    }
                    _ => unreadable_files.push(json!({"client_id": f.client.to_string(), "id": f.id.to_string()})),
                }
            }
            let card = client_json(
                r,
                keys.contains_key(&id),
                medical.remove(&id),
                history.remove(&id).unwrap_or_default(),
                files,
            )?;
            doc.item(&card)?;
        }
        if (page.len() as i64) < ARCHIVE_PAGE {
            break;
        }
        after = Some(to);
    }
    doc.close_list()?;
    // Blobs under a client id the clinic does not have: unreadable.
    for f in by_client.into_values().flatten() {
        unreadable_files.push(json!({"client_id": f.client.to_string(), "id": f.id.to_string()}));
    }
    doc.entry("unreadable_files", &Value::Array(unreadable_files))?;
    doc.entry("stray_objects_skipped", &json!(stray_blobs))?;

    // The settings row, every column the archive reads, as the generic
    // exporter lays it out, with the public slug.
    let no_keys = HashMap::new();
    let mut settings = None;
    each_row(source, "clinic_settings", |r| {
        if settings.is_none() {
            let Value::Object(s) = generic_row(r, &no_keys, &scope)? else {
                return Err(corrupt("the settings row is not an object"));
            };
            settings = Some(s);
        }
        Ok(())
    })
    .await?;
    let mut slug = None;
    each_row(source, "clinic_slugs", |r| {
        if slug.is_none() {
            slug = Some(r.field("slug")?.clone());
        }
        Ok(())
    })
    .await?;
    let settings = settings.map_or(Value::Null, |mut s| {
        s.insert("public_slug".into(), slug.unwrap_or(Value::Null));
        Value::Object(s)
    });
    doc.entry("settings", &settings)?;

    let mut head = None;
    each_row(source, "audit_heads", |h| {
        if head.is_none() {
            head = Some(json!({
                "seq": h.field("seq")?,
                "hash": hex::encode(h.bytes("hash")?.unwrap_or_default()),
            }));
        }
        Ok(())
    })
    .await?;
    // `audit`: {"head": …, "events": [ … ]}, the events written as read.
    doc.key("audit")?;
    doc.out.write_all(b"{\n    \"head\": ").map_err(write_err)?;
    doc.value(&head.unwrap_or(Value::Null), 2)?;
    doc.out.write_all(b",\n    \"events\": [").map_err(write_err)?;
    let mut first = true;
    each_row(source, "audit_events", |r| {
        let mut e = r.pick(&[
            "seq",
            "id",
            "actor_id",
            "client_id",
            "sections",
            "action",
            "purpose",
            "source",
            "detail",
            "link_version",
            "actor_kind",
        ])?;
        e.insert("at".into(), r.instant("at")?);
        e.insert("at_micros".into(), r.field("at")?.clone());
        e.insert(
            "prev_hash".into(),
            Value::String(hex::encode(r.bytes("prev_hash")?.unwrap_or_default())),
        );
        e.insert(
            "hash".into(),
            Value::String(hex::encode(r.bytes("hash")?.unwrap_or_default())),
        );
        let sep: &[u8] = if std::mem::replace(&mut first, false) {
            b"\n      "
        } else {
            b",\n      "
        };
        doc.out.write_all(sep).map_err(write_err)?;
        doc.value(&Value::Object(e), 3)
    })
    .await?;
    doc.out
        .write_all(if first { b"]\n  }" } else { b"\n    ]\n  }" })
        .map_err(write_err)?;
    let contents: Map<String, Value> = archive_places()
        .into_iter()
        .map(|(t, place)| (t.to_owned(), Value::String(place.to_owned())))
        .collect();
    doc.entry("contents", &Value::Object(contents))?;
    for t in transfer::CLINIC_TABLES.iter().filter(|t| !has_own_exporter(t.name)) {
        if DOCUMENT_KEYS.contains(&t.name) {
            return Err(corrupt(
                "a table archived generically has the name of a key of the document",
            ));
        }
        doc.open_list(t.name)?;
        generic_table(source, t, clinic_keys, clinic, &mut doc).await?;
        doc.close_list()?;
    }
    doc.finish()?;
    Ok(key_digest.finalize().into())
}

/// The rows of a table archived generically, a page at a time, each with
/// its sealed columns opened under the key of the row's client (read for
/// the clients of the page).
async fn generic_table<W: std::io::Write>(
    source: &mut impl RowSource,
    t: &'static transfer::Table,
    clinic_keys: &HashMap<i64, ClinicKey>,
    clinic: ClinicId,
    doc: &mut DocWriter<W>,
) -> Result<(), AppError> {
    let scope = crate::job_scope(OFFBOARD_JOB, clinic);
    let client_keys = transfer::table("client_keys").ok_or(corrupt("no client_keys table"))?;
    let sealed = t.columns.iter().any(|c| matches!(c.archive, Archive::Sealed(_)));
    let column = t.order_by;
    if column.contains(',') {
        return Err(corrupt("a table the archive pages is ordered on more than one column"));
    }
    let mut after = None;
    loop {
        let page = source
            .page(
                t,
                Page::After {
                    column,
                    after,
                    limit: ARCHIVE_PAGE,
                },
            )
            .await?;
        let mut keys: HashMap<uuid::Uuid, ClientKey> = HashMap::new();
        if sealed {
            for row in &page {
                let client = Exported { table: t, row }.uuid("client_id")?;
                if keys.contains_key(&client) {
                    continue;
                }
                let one = Page::Between {
                    column: "client_id",
                    from: Key::Id(client),
                    to: Key::Id(client),
                };
                for row in &source.page(client_keys, one).await? {
                    let r = Exported {
                        table: client_keys,
                        row,
                    };
                    keys.insert(client, client_key_of(clinic_keys, clinic, r)?);
                }
            }
        }
        for row in &page {
            doc.item(&generic_row(Exported { table: t, row }, &keys, &scope)?)?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == ARCHIVE_PAGE => after = Some(row_key(t, last, column)?),
            _ => return Ok(()),
        }
    }
}

/// The reason an operator gives, checked.
fn checked_reason(reason: &str) -> Result<String, AppError> {
    let reason = reason.trim();
    if REASON_CHARS.contains(&reason.chars().count()) {
        Ok(reason.to_owned())
    } else {
        Err(AppError::field(
            "reason",
            "must say why, in 10 to 500 characters: it is emailed to the clinic's owner",
        ))
    }
}

/// What the copies of an offboarded clinic's data come to: the sentence the
/// certificate carries, true of the code and of docs/SECURITY.md.
fn copies_remaining(backend: velum_store::Backend, at: Timestamp) -> String {
    let live = match backend {
        velum_store::Backend::Sqlite => {
            "The live SQLite database deletes with secure_delete on (deleted rows are overwritten with zeros) and \
             is rebuilt with VACUUM, its write-ahead log then checkpointed and truncated, right after this \
             certificate is committed, so its file keeps none of the deleted rows in free pages (a failed VACUUM \
             is logged, and the next one covers it)."
        }
        velum_store::Backend::Postgres => {
            "On PostgreSQL the deleted rows stay in the table files as dead tuples until autovacuum reuses and \
             overwrites their space; they are not overwritten at once, and until then they are as readable as \
             the database itself to whoever holds the database and the master key."
        }
    };
    format!(
        "Database backups taken before {at} still hold the clinic's rows and its wrapped keys; with the \
         installation's master key they stay readable until the provider's backup retention deletes them. Blob \
         store object versions kept by a versioned bucket are sealed under the destroyed keys and unreadable once \
         those backups are gone. {live} The archive (if one was made) is sealed to the owner's passphrase: the \
         platform cannot read it."
    )
}

impl App {
    /// The owner asks to leave the provider (the Leaving page): their
    /// password and a fresh two-step code are checked again, the reason and
    /// the archive passphrase are checked (as strong as a password, typed
    /// twice, not the account password), and only the passphrase's Argon2id
    /// salt and X25519 public key are stored, so the archive can be sealed
    /// to it later and nobody else can open it. Recorded in the clinic's
    /// chain and the platform's; the owner is emailed.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an owner (audited); `Validation` naming
    /// `reason`, `passphrase`, `passphrase_again`, `password` or `totp_code`
    /// (a wrong password or code is audited too); `Conflict` when the owner
    /// has asked already.
    pub async fn request_leaving(&self, actor: &Actor, input: &LeaveInput) -> Result<(), AppError> {
        let actor = &self.staff_of(actor).await?;
        if actor.role != velum_core::Role::Owner || actor.clinic_id == platform_id() {
            return Err(self.deny(actor, None, &[], "request_leaving").await);
        }
        let scope = actor.scope();
        let mut tx = self.store().begin_read().await?;
        let me = velum_store::staff::get(&mut tx, &scope, actor.staff_id)
            .await?
            .ok_or(AppError::Forbidden)?;
        drop(tx);
        let mut errors = velum_core::client::FieldErrors::new();
        let reason = input.reason.trim();
        if !REASON_CHARS.contains(&reason.chars().count()) {
            errors.add("reason", "must say why the clinic is leaving, in 10 to 500 characters");
        }
        let passphrase = errors.take(
            "passphrase",
            velum_core::text::NewPassword::parse(&input.passphrase, &[me.email.as_str(), "velum"]),
        );
        if input.passphrase != input.passphrase_again {
            errors.add("passphrase_again", "does not match the passphrase");
        }
        // Every field's format is reported in one go; the password and the
        // code are checked only once the form is complete.
        if input.password.is_empty() {
            errors.add("password", "is needed: enter your password");
        }
        let code: String = input.totp_code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
            errors.add("totp_code", "must be the 6-digit code your authenticator app shows now");
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let passphrase = passphrase.ok_or(AppError::Internal("passphrase checked".into()))?;
        // The account password and a fresh code, again, through the
        // sign-in throttle: a stolen session cannot guess them without limit.
        let source = actor.source.map(|a| a.to_string());
        let attempt = self.admit(&me.email, source.as_deref()).await?;
        let hash = me
            .password_hash
            .clone()
            .unwrap_or_else(|| velum_crypto::password::dummy_hash().to_owned());
        let (typed, phrase) = (input.password.clone(), passphrase.expose().to_owned());
        let (password_ok, same) = self
            .argon2(move || {
                let ok = velum_crypto::password::verify_password(&hash, &typed);
                (ok, ok && velum_crypto::password::verify_password(&hash, &phrase))
            })
            .await?;
        let mut tx = self.begin().await?;
        let code_ok = password_ok && self.use_totp_code(&mut tx, &me, &code).await?;
        if !code_ok {
            let field = if password_ok { "totp_code" } else { "password" };
            let reason = format!("request_leaving {field}_wrong");
            match self
                .fail(tx, Some(&me), Some(&attempt), source.as_deref(), &reason)
                .await
            {
                AppError::BadCredentials => {}
                e => return Err(e),
            }
            let answer = AppError::field(field, "is not right");
            return Err(self.refuse(actor, &reason, answer).await);
        }
        self.release(&mut tx, &attempt, true).await?;
        if same {
            return Err(AppError::field("passphrase", "must not be your password"));
        }
        let phrase = passphrase.expose().to_owned();
        let recipient = tokio::task::spawn_blocking(move || ArchiveRecipient::from_passphrase(&phrase))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let now = self.now();
        let fresh = offboard::insert_leaving(
            &mut tx,
            &scope,
            &offboard::LeavingRow {
                requested_by: actor.staff_id,
                requested_at: now,
                reason: reason.to_owned(),
                archive_salt: recipient.salt().to_vec(),
                archive_public: recipient.public().to_vec(),
            },
        )
        .await?;
        if !fresh {
            return Err(AppError::Conflict(velum_core::client::FieldErrors::single(
                "clinic",
                "has asked to leave already",
            )));
        }
        for chain in [actor.clinic_id, platform_id()] {
            self.audit(
                &mut tx,
                NewAuditEvent {
                    clinic_id: chain,
                    actor_kind: actor.kind(),
                    actor_id: Some(actor.staff_id),
                    client_id: None,
                    sections: Vec::new(),
                    action: AuditAction::OffboardingRequested,
                    purpose: Purpose::Administration,
                    source: actor.source.map(|s| s.to_string()),
                    detail: Some(format!("by:{} clinic:{}", actor.staff_id, actor.clinic_id)),
                },
            )
            .await?;
        }
        let clinic_name = clinics::get(&mut tx, &scope).await?.map(|c| c.name).unwrap_or_default();
        let email = crate::email::LeaveRequested {
            clinic_name,
            reason: reason.to_string(),
        };
        self.notify_owners(&mut tx, &scope, &email).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The owner's request to leave, if any (owners only): the Leaving page.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an owner.
    pub async fn leaving(&self, actor: &Actor) -> Result<Option<LeavingView>, AppError> {
        let actor = &self.staff_of(actor).await?;
        if actor.role != velum_core::Role::Owner {
            return Err(self.deny(actor, None, &[], "leaving").await);
        }
        let mut tx = self.store().begin_read().await?;
        Ok(offboard::leaving(&mut tx, &actor.scope()).await?.map(|l| LeavingView {
            requested_by: l.requested_by,
            requested_at: l.requested_at,
            reason: l.reason,
        }))
    }

    /// The clinics whose owner has asked to leave (operators only).
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator.
    pub async fn clinics_asking_to_leave(&self, actor: &Actor) -> Result<Vec<ClinicId>, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let mut tx = self.store().begin_read().await?;
        Ok(offboard::leaving_clinics(&mut tx)
            .await?
            .into_iter()
            .map(ClinicId::from_uuid)
            .collect())
    }

    /// Where a clinic's offboarding stands (operators only).
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator.
    pub async fn offboarding_state(&self, actor: &Actor, clinic: ClinicId) -> Result<OffboardingState, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let scope = actor.operator_scope(clinic).ok_or(AppError::Forbidden)?;
        let mut tx = self.store().begin_read().await?;
        Ok(OffboardingState {
            owner_asked: offboard::leaving(&mut tx, &scope).await?.map(|l| LeavingView {
                requested_by: l.requested_by,
                requested_at: l.requested_at,
                reason: l.reason,
            }),
            approvals: offboard::approvals(&mut tx, &scope)
                .await?
                .into_iter()
                .map(|a| Approval {
                    operator_id: a.operator_id,
                    approved_at: a.approved_at,
                    reason: a.reason,
                })
                .collect(),
        })
    }

    /// Queue `body` to every enabled owner of the clinic, under the
    /// platform's row (so an offboarding, which deletes the clinic's own
    /// outbox rows, cannot swallow it).
    pub(crate) async fn notify_owners(
        &self,
        tx: &mut velum_store::Tx,
        scope: &ClinicScope,
        email: &impl crate::email::Email,
    ) -> Result<usize, AppError> {
        let owners = offboard::owner_emails(tx, scope).await?;
        for to in &owners {
            self.queue_email(tx, platform_id(), to, email).await?;
        }
        Ok(owners.len())
    }

    /// Offboard a suspended clinic, with two parties: the owner asked on the
    /// Leaving page (then one operator, or the command line, completes it,
    /// and the archive is sealed to the owner's passphrase), or two
    /// different operators approve (the first approval is recorded and the
    /// owner emailed; the second completes it, and no archive is made,
    /// since nobody but the owner may hold a readable copy). Completing it
    /// destroys the clinic's keys, deletes every row and blob of it, keeps
    /// its tombstone, and returns the certificate (see the module comment).
    /// `actor` is `None` from the command line (the holder of the master
    /// key), which completes only an offboarding the owner asked for. `save`
    /// gets the sealed archive's bytes and must make them durable; it runs
    /// before anything is deleted, inside the transaction, so if it fails
    /// nothing is; if the commit fails afterwards, the caller discards what
    /// it wrote. Every step is in the platform's chain and the clinic's,
    /// and emailed to the owner with the reason.
    ///
    /// # Errors
    /// See [`OffboardError`]; on every error nothing was deleted.
    pub async fn offboard_clinic<T>(
        &self,
        actor: Option<&Actor>,
        request: OffboardRequest<'_>,
        save: impl FnOnce(&[u8]) -> std::io::Result<T>,
    ) -> Result<Offboarding<T>, OffboardError> {
        self.offboard_clinic_to(actor, request, |file| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(file, &mut bytes)?;
            save(&bytes)
        })
        .await
    }

    /// [`App::offboard_clinic`], with `save` given the sealed archive as a
    /// file (read from its start) rather than in memory: the archive is
    /// never whole in memory (see the module comment).
    ///
    /// # Errors
    /// See [`OffboardError`]; on every error nothing was deleted.
    #[expect(clippy::too_many_lines, reason = "one transaction, its steps in order")]
    pub async fn offboard_clinic_to<T>(
        &self,
        actor: Option<&Actor>,
        request: OffboardRequest<'_>,
        save: impl FnOnce(&mut std::fs::File) -> std::io::Result<T>,
    ) -> Result<Offboarding<T>, OffboardError> {
        let clinic = request.clinic;
        let account = match actor {
            Some(a) => Some(self.staff_of(a).await?),
            None => None,
        };
        let actor = account.as_ref();
        if let Some(a) = actor {
            // DOMAIN F38: a refused authorisation is itself recorded.
            match self.require_operator(a).await {
                Ok(()) => {}
                Err(AppError::Forbidden) => return Err(OffboardError::NotAnOperator),
                Err(other) => return Err(other.into()),
            }
        }
        if clinic == platform_id() {
            return Err(OffboardError::PlatformRow);
        }
        let reason = checked_reason(request.reason)?;
        let scope = match actor {
            Some(a) => a.operator_scope(clinic).ok_or(OffboardError::NotAnOperator)?,
            None => crate::job_scope(OFFBOARD_JOB, clinic),
        };
        // The blobs are fetched before the transaction, so no database
        // connection waits on the blob store; the transaction checks that
        // the keys they were opened with are still the clinic's.
        let mut prefetched = self.prefetch_blobs(&scope).await?;
        let mut tx = self.store().begin_snapshot().await?;
        let row = clinics::get(&mut tx, &scope)
            .await?
            .ok_or(OffboardError::UnknownClinic(clinic))?;
        match row.status {
            ClinicStatus::Suspended => {}
            ClinicStatus::Offboarded => return Err(OffboardError::AlreadyOffboarded(clinic)),
            other @ ClinicStatus::Active => {
                return Err(OffboardError::NotSuspended {
                    clinic,
                    status: other.as_str().to_owned(),
                });
            }
        }
        if let Some(typed) = request.confirm_name
            && typed.trim() != row.name.trim()
        {
            return Err(OffboardError::NameMismatch);
        }
        let now = self.now();
        let by = actor.map_or_else(|| "command line".to_owned(), |a| format!("operator {}", a.staff_id));
        let by_detail = actor.map_or_else(|| "by:cli".to_owned(), |a| format!("by:{}", a.staff_id));
        let event = |chain: ClinicId, action: AuditAction, detail: String| NewAuditEvent {
            clinic_id: chain,
            actor_kind: actor.map_or_else(|| SystemJob::new(OFFBOARD_JOB).kind(), StaffActor::kind),
            actor_id: actor.map(|a| a.staff_id),
            client_id: None,
            sections: Vec::new(),
            action,
            purpose: Purpose::Administration,
            source: actor.and_then(|a| a.source).map(|s| s.to_string()),
            detail: Some(detail),
        };

        // Two parties: the owner who asked, or two different operators.
        let leaving = offboard::leaving(&mut tx, &scope).await?;
        let approvals = offboard::approvals(&mut tx, &scope).await?;
        let parties = match (actor, &leaving) {
            (_, Some(l)) => vec![
                format!("owner {} asked at {}", l.requested_by, l.requested_at),
                by.clone(),
            ],
            (None, None) => return Err(OffboardError::OwnerHasNotAsked(clinic)),
            (Some(a), None) if approvals.iter().any(|x| x.operator_id == a.staff_id) => {
                drop(tx);
                let reason = format!("offboard same_operator_twice clinic:{clinic}");
                return Err(match self.refuse(a, &reason, AppError::Forbidden).await {
                    AppError::Forbidden => OffboardError::SameOperator,
                    other => other.into(),
                });
            }
            (Some(a), None) => match approvals.first() {
                Some(first) => vec![
                    format!("operator {} approved at {}", first.operator_id, first.approved_at),
                    by.clone(),
                ],
                None => {
                    offboard::insert_approval(
                        &mut tx,
                        &scope,
                        &offboard::Approval {
                            operator_id: a.staff_id,
                            approved_at: now,
                            reason: reason.clone(),
                        },
                    )
                    .await?;
                    for chain in [clinic, platform_id()] {
                        let detail = format!("{by_detail} clinic:{clinic} approval:1of2");
                        audit::append(&mut tx, event(chain, AuditAction::OffboardingApproved, detail), now).await?;
                    }
                    self.notify_owners(
                        &mut tx,
                        &scope,
                        &crate::email::OffboardingApproved {
                            clinic_name: row.name.clone(),
                            reason: reason.to_string(),
                        },
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Offboarding::Approved);
                }
            },
        };

        // The clinic's own record of its offboarding: the last event it takes away.
        let last = audit::append(
            &mut tx,
            event(
                clinic,
                AuditAction::ClinicOffboarded,
                format!(
                    "{by_detail} archive:{}",
                    if leaving.is_some() { "sealed-to-owner" } else { "none" }
                ),
            ),
            now,
        )
        .await?;
        let owners = offboard::owner_emails(&mut tx, &scope).await?;
        let mut archive = match &leaving {
            Some(l) => {
                let recipient = ArchiveRecipient::from_parts(&l.archive_salt, &l.archive_public)
                    .map_err(|_| AppError::Internal("the stored archive recipient is damaged".into()))?;
                let (files, stray, opened_with) = match prefetched.take() {
                    Some(p) => (p.files, p.stray, Some(key_digest(&p.keys))),
                    // The owner asked to leave since the blobs were read.
                    None if self.settings().blobs.is_some() => return Err(OffboardError::Changed),
                    None => (Vec::new(), 0, None),
                };
                let key_tables = transfer::read_tables(&mut tx, &scope, |t| t == "clinic_keys").await?;
                let clinic_keys = clinic_keys_of(self, clinic, &key_tables)?;
                // Sealed as it is written into an unnamed temporary file
                // (gone when dropped, even if the process dies): only
                // ciphertext sealed to the owner's passphrase touches disk.
                let mut file = tempfile::tempfile().map_err(OffboardError::Save)?;
                let source = &mut TxSource {
                    tx: &mut tx,
                    scope: &scope,
                };
                let made =
                    seal_archive_file(source, clinic, now, &recipient, &clinic_keys, files, stray, &mut file).await?;
                drop(clinic_keys);
                // The keys changed since the blobs were opened with them.
                if opened_with.is_some_and(|k| k != made.keys_read) {
                    return Err(OffboardError::Changed);
                }
                std::io::Seek::rewind(&mut file).map_err(OffboardError::Save)?;
                let saved = save(&mut file).map_err(OffboardError::Save)?;
                Some((made, file, saved))
            }
            None => None,
        };

        // From here on, destruction. Keys first among the rows deleted.
        let counts = offboard::delete_clinic(&mut tx, &scope).await?;
        let count = |t: &str| counts.iter().find(|(n, _)| *n == t).map_or(0, |(_, n)| *n);
        // The blobs are deleted by a job queued here, so no database
        // connection waits on the blob store and the deletion commits with
        // the certificate that announces it.
        let blobs = match &self.settings().blobs {
            Some(_) => {
                let key = blob_job_key(clinic);
                let job = velum_store::jobs::NewJob {
                    kind: crate::jobs::JobKind::OffboardedBlobs.as_str(),
                    clinic: platform_id(),
                    unique_key: Some(&key),
                    payload: None,
                    run_at: now,
                    max_attempts: BLOB_DELETION_ATTEMPTS,
                    backoff: SignedDuration::from_secs(30),
                };
                velum_store::jobs::enqueue(&mut tx, &job, None, now).await?;
                Blobs::Queued {
                    deletion_queued: BLOB_DELETION_QUEUED.into(),
                }
            }
            None => Blobs::NotConfigured("no blob store configured".into()),
        };
        let certificate = Certificate {
            format: CERTIFICATE_FORMAT.into(),
            clinic_id: clinic,
            clinic_name: row.name.clone(),
            offboarded_at: now,
            by,
            parties,
            archive: archive.as_ref().map(|(made, _, _)| ArchiveFacts {
                format: ARCHIVE_FORMAT,
                sha256: made.sha256.clone(),
                bytes: made.bytes,
                sealed_with: "sealed to the passphrase the owner chose when asking to leave (Argon2id, X25519, \
                              AES-256-GCM); the platform stored only its salt and public key"
                    .into(),
            }),
            clinic_chain_head: ChainHead {
                seq: last.seq,
                hash: hex::encode(last.hash),
            },
            rows_deleted: counts.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
            keys_destroyed: KeysDestroyed {
                clinic_key_rows: count("clinic_keys"),
                client_key_rows: count("client_keys"),
            },
            blobs,
            copies_remaining: Some(copies_remaining(self.store().backend(), now)),
        };
        let certificate_sha256 = certificate_sha256(&certificate)?;
        let recorded = audit::append(
            &mut tx,
            event(
                platform_id(),
                AuditAction::ClinicOffboarded,
                format!("{by_detail} clinic:{clinic} certificate:sha256:{certificate_sha256}"),
            ),
            now,
        )
        .await?;
        let file_doc = CertificateFile {
            certificate,
            certificate_sha256: certificate_sha256.clone(),
            recorded_in: RecordedIn {
                chain: "platform".into(),
                seq: recorded.seq,
                hash: hex::encode(recorded.hash),
            },
        };
        let certificate_text = serde_json::to_string_pretty(&file_doc)
            .map_err(|e| AppError::Internal(format!("certificate json: {e}")))?;
        // The download waits in the blob store, streamed from the file; in
        // the database, read back whole, without a blob store, and on SQLite
        // with a remote one: this transaction holds the one SQLite
        // connection, which must never wait on the network.
        let mut waiting = None;
        let mut uploaded = None;
        if let Some((_, file, _)) = archive.as_mut().filter(|_| request.keep_for_download) {
            std::io::Seek::rewind(file).map_err(OffboardError::Save)?;
            let expires = now.checked_add(ARCHIVE_WAIT).unwrap_or(now);
            let sqlite = self.store().backend() == velum_store::Backend::Sqlite;
            match self.settings().blobs.as_ref().filter(|b| !(sqlite && b.is_remote())) {
                Some(blobs) => {
                    let id = BlobId::new();
                    blobs
                        .put_archive(clinic, id, &mut *file)
                        .await
                        .map_err(|e| OffboardError::Save(std::io::Error::other(e)))?;
                    uploaded = Some((blobs.clone(), id));
                    waiting = Some((offboard::WaitingArchive::Blob(id.as_uuid()), expires));
                }
                None => {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(file, &mut bytes).map_err(OffboardError::Save)?;
                    waiting = Some((offboard::WaitingArchive::Stored(bytes), expires));
                }
            }
        }
        let email = crate::email::Offboarded {
            clinic_name: row.name.clone(),
            reason: reason.to_string(),
            archived: archive.is_some(),
            certificate_sha256: certificate_sha256.to_string(),
        };
        let recorded = async {
            offboard::insert(&mut tx, &scope, now, &certificate_text, waiting).await?;
            for to in &owners {
                self.queue_email(&mut tx, platform_id(), to, &email).await?;
            }
            tx.commit().await?;
            Ok::<(), OffboardError>(())
        }
        .await;
        if let Err(e) = recorded {
            // Not recorded: the uploaded archive would be found by nothing.
            if let Some((blobs, id)) = uploaded
                && let Err(d) = blobs.delete_archive(clinic, id).await
            {
                tracing::warn!(error = %d, "deleting an unrecorded offboarding archive failed");
            }
            return Err(e);
        }
        tracing::info!(clinic = %clinic, "clinic offboarded");
        // SQLite: rebuild the file so no free page keeps a deleted row.
        if let Err(e) = self.store().vacuum_after_delete().await {
            tracing::warn!(error = %e, "VACUUM after offboarding failed; the next offboarding's VACUUM covers it");
        }
        // The queued blob deletion, at once; a failure leaves the job to be
        // retried by the worker.
        if self.settings().blobs.is_some()
            && let Err(e) = self.run_jobs(Some(crate::jobs::JobKind::OffboardedBlobs)).await
        {
            tracing::warn!(error = %e, "deleting an offboarded clinic's blobs failed; the job is retried");
        }
        Ok(Offboarding::Done(Offboarded {
            clinic_id: clinic,
            archive: archive.map(|(made, _, saved)| SealedArchive {
                sha256: made.sha256,
                bytes: made.bytes,
                saved,
            }),
            certificate: certificate_text,
            certificate_sha256,
        }))
    }

    /// The blob deletion job of an offboarded clinic: delete every object
    /// under the clinic in the blob store (idempotent: an object gone
    /// already counts as deleted). A failing store is retried after the
    /// job's back-off.
    pub(crate) async fn delete_offboarded_blobs(&self, job: &velum_store::jobs::Claimed) -> crate::jobs::Outcome {
        use crate::jobs::Outcome;
        let clinic = job
            .unique_key
            .as_deref()
            .and_then(|k| k.strip_prefix("offboarded_blobs:"))
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
            .map(ClinicId::from_uuid);
        let Some(clinic) = clinic else {
            return Outcome::GiveUp("the job names no clinic".to_owned());
        };
        let Some(store) = &self.settings().blobs else {
            return Outcome::Retry("no blob store is configured on this server".to_owned());
        };
        match store.delete_clinic(clinic).await {
            Ok(deleted) => {
                tracing::info!(clinic = %clinic, deleted, "offboarded clinic's blobs deleted");
                Outcome::Done
            }
            Err(e) => Outcome::Retry(format!("the blob store failed: {e}")),
        }
    }

    /// SQLite's `secure_delete` setting and free-page count on the live
    /// connection (`None` on PostgreSQL): after an offboarding, `(1, 0)`.
    ///
    /// # Errors
    /// Database errors.
    pub async fn sqlite_deletion_state(&self) -> Result<Option<(i64, i64)>, AppError> {
        Ok(self.store().sqlite_deletion_state().await?)
    }

    /// When a blob store is configured and the owner has asked to leave:
    /// the clinic's key rows, read in a short transaction, and its blobs,
    /// listed, fetched and opened after it, with no transaction open.
    async fn prefetch_blobs(&self, scope: &ClinicScope) -> Result<Option<Prefetched>, OffboardError> {
        if self.settings().blobs.is_none() {
            return Ok(None);
        }
        let mut tx = self.store().begin_read().await?;
        if offboard::leaving(&mut tx, scope).await?.is_none() {
            return Ok(None);
        }
        let keys = transfer::read_tables(&mut tx, scope, |t| KEY_TABLES.contains(&t)).await?;
        drop(tx);
        let clinic = scope.clinic_id();
        let clinic_keys = clinic_keys_of(self, clinic, &keys)?;
        let (files, stray) = self.clinic_blobs(clinic, &clinic_keys, &keys).await?;
        Ok(Some(Prefetched { keys, files, stray }))
    }

    /// The clinic's blobs, opened with their clients' keys, when a blob
    /// store is configured.
    async fn clinic_blobs(
        &self,
        clinic: ClinicId,
        clinic_keys: &HashMap<i64, ClinicKey>,
        tables: &[TableRows],
    ) -> Result<(Vec<BlobFile>, u64), OffboardError> {
        let Some(store) = &self.settings().blobs else {
            return Ok((Vec::new(), 0));
        };
        let failed = |e: velum_blobs::BlobError| OffboardError::Blobs {
            doing: "reading",
            detail: e.to_string(),
        };
        let (ids, stray) = store.list_clinic(clinic).await.map_err(failed)?;
        let key_rows: HashMap<uuid::Uuid, Exported<'_>> = rows(tables, "client_keys")?
            .into_iter()
            .filter_map(|r| Some((r.uuid("client_id").ok()?, r)))
            .collect();
        let mut files = Vec::with_capacity(ids.len());
        let spool = Spool::new().map_err(OffboardError::Save)?;
        for (client, id) in ids {
            let key = key_rows
                .get(&client.as_uuid())
                .map(|r| client_key_of(clinic_keys, clinic, *r))
                .transpose()?;
            let content = match key {
                Some(key) => {
                    let content = store.get(clinic, client, id, &key).await.map_err(failed)?;
                    Some(Spool::put(&spool, &content).map_err(OffboardError::Save)?)
                }
                None => None,
            };
            files.push(BlobFile { client, id, content });
        }
        Ok((files, stray))
    }

    /// A clinic's offboarding certificate, if it was offboarded: operators
    /// (or the command line, `actor` `None`) only.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator.
    pub async fn offboarding(
        &self,
        actor: Option<&Actor>,
        clinic: ClinicId,
    ) -> Result<Option<OffboardingRecord>, AppError> {
        let scope = match actor {
            Some(a) => {
                let a = self.staff_of(a).await?;
                self.require_operator(&a).await?;
                a.operator_scope(clinic).ok_or(AppError::Forbidden)?
            }
            None => crate::job_scope(OFFBOARD_JOB, clinic),
        };
        let mut tx = self.store().begin_read().await?;
        Ok(offboard::get(&mut tx, &scope, self.now())
            .await?
            .map(|r| OffboardingRecord {
                at: r.at,
                certificate: r.certificate,
                archive_waiting: r.archive_waiting,
            }))
    }

    /// Rows `clinic` still has in every table with a `clinic_id` column, as
    /// the schema names them: after an offboarding, only
    /// `clinic_offboardings` holds one (the certificate). For the command
    /// line (`velum clinic certificate`) and tests.
    ///
    /// # Errors
    /// Database errors.
    pub async fn remaining_rows(&self, clinic: ClinicId) -> Result<Vec<(String, i64)>, AppError> {
        let mut tx = self.store().begin_read().await?;
        Ok(offboard::remaining_rows(&mut tx, &crate::job_scope(OFFBOARD_JOB, clinic)).await?)
    }

    /// Check a certificate against the platform's chain: its hash, and the
    /// `clinic_offboarded` event it names, which must hold that hash.
    /// (`velum audit verify` checks the chain itself.)
    ///
    /// # Errors
    /// `Validation` on `certificate` naming what does not hold.
    pub async fn verify_certificate(&self, text: &str) -> Result<CertificateFile, AppError> {
        let bad = |m: &str| AppError::field("certificate", m);
        let file: CertificateFile = serde_json::from_str(text).map_err(|_| bad("is not an offboarding certificate"))?;
        let sha = certificate_sha256(&file.certificate)?;
        if sha != file.certificate_sha256 {
            return Err(bad("does not match its SHA-256 (it was altered)"));
        }
        let mut tx = self.store().begin_read().await?;
        let event = offboard::chain_event(&mut tx, platform_id().as_uuid(), file.recorded_in.seq).await?;
        let Some((action, detail, hash)) = event else {
            return Err(bad("names an event the platform's chain does not hold"));
        };
        let expected = format!("clinic:{} certificate:sha256:{sha}", file.certificate.clinic_id);
        if action != AuditAction::ClinicOffboarded.as_str()
            || hex::encode(hash) != file.recorded_in.hash
            || !detail.is_some_and(|d| d.ends_with(&expected))
        {
            return Err(bad("is not the one the platform's chain records"));
        }
        Ok(file)
    }

    /// The sealed archive an offboarding from the web page left for
    /// download (operators only), while it waits, as it is read from the
    /// blob store (or, kept in the database by an earlier build, in one
    /// piece).
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator; `NotFound` when none waits;
    /// `Internal` when the blob store is not configured or fails.
    pub async fn offboarding_archive_stream(
        &self,
        actor: &Actor,
        clinic: ClinicId,
    ) -> Result<velum_blobs::ByteStream, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let mut tx = self.store().begin_read().await?;
        let waiting = offboard::archive(
            &mut tx,
            &actor.operator_scope(clinic).ok_or(AppError::Forbidden)?,
            self.now(),
        )
        .await?
        .ok_or(AppError::NotFound)?;
        drop(tx);
        match waiting {
            offboard::WaitingArchive::Stored(bytes) => Ok(velum_blobs::byte_stream_of(bytes)),
            offboard::WaitingArchive::Blob(id) => {
                let blobs = self.settings().blobs.as_ref().ok_or_else(|| {
                    AppError::Internal("the offboarding archive is in the blob store, which is not configured".into())
                })?;
                blobs
                    .get_archive(clinic, BlobId::from_uuid(id))
                    .await
                    .map_err(|e| AppError::Internal(format!("reading the offboarding archive: {e}")))
            }
        }
    }

    /// [`App::offboarding_archive_stream`] read whole (for tests and small
    /// archives).
    ///
    /// # Errors
    /// As [`App::offboarding_archive_stream`].
    pub async fn offboarding_archive(&self, actor: &Actor, clinic: ClinicId) -> Result<Vec<u8>, AppError> {
        let stream = self.offboarding_archive_stream(actor, clinic).await?;
        velum_blobs::collect(stream)
            .await
            .map_err(|e| AppError::Internal(format!("reading the offboarding archive: {e}")))
    }

    /// Delete the waiting archive of `clinic`: the operator has it.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator.
    pub async fn drop_offboarding_archive(&self, actor: &Actor, clinic: ClinicId) -> Result<(), AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let scope = actor.operator_scope(clinic).ok_or(AppError::Forbidden)?;
        self.drop_archives(Some(&scope)).await?;
        Ok(())
    }

    /// Drop the waiting archives of one clinic or every expired one: the
    /// blob-store objects first, then the rows' record of them (so a failed
    /// delete leaves the row, and the next sweep tries again).
    async fn drop_archives(&self, clinic: Option<&ClinicScope>) -> Result<u64, AppError> {
        let now = self.now();
        let mut tx = self.store().begin_read().await?;
        let blobs = offboard::archive_blobs_to_drop(&mut tx, clinic, now).await?;
        drop(tx);
        if !blobs.is_empty() {
            let store = self.settings().blobs.as_ref().ok_or_else(|| {
                AppError::Internal("offboarding archives are in the blob store, which is not configured".into())
            })?;
            for (c, id) in blobs {
                store
                    .delete_archive(ClinicId::from_uuid(c), BlobId::from_uuid(id))
                    .await
                    .map_err(|e| AppError::Internal(format!("deleting an offboarding archive: {e}")))?;
            }
        }
        let mut tx = self.begin().await?;
        let n = offboard::drop_archives(&mut tx, clinic, now).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Delete every waiting archive past [`ARCHIVE_WAIT`] (reads already
    /// refuse them; this frees the space). Run by the server's background
    /// worker. Returns how many were deleted.
    ///
    /// # Errors
    /// Database errors.
    pub async fn drop_expired_archives(&self) -> Result<u64, AppError> {
        self.drop_archives(None).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use velum_store::transfer::CLINIC_TABLES;

    #[test]
    fn every_clinic_table_has_a_place_in_the_archive() {
        let tables: BTreeSet<&str> = CLINIC_TABLES.iter().map(|t| t.name).collect();
        for (t, _) in OWN_EXPORTERS {
            assert!(
                tables.contains(t),
                "{t} has an exporter of its own but is not a clinic table"
            );
        }
        let placed: BTreeSet<&str> = archive_places().into_iter().map(|(t, _)| t).collect();
        assert_eq!(placed, tables);
        for t in CLINIC_TABLES.iter().filter(|t| !has_own_exporter(t.name)) {
            assert!(
                !DOCUMENT_KEYS.contains(&t.name),
                "{}: a generically archived table may not take a key of the document",
                t.name
            );
            for c in t.columns {
                assert!(
                    !matches!(c.archive, Archive::Opened | Archive::Key),
                    "{}.{}: only an exporter of its own opens it; give the table one in OWN_EXPORTERS",
                    t.name,
                    c.name
                );
            }
        }
    }

    #[test]
    fn every_column_of_every_clinic_table_is_read_by_the_archive_or_left_out_with_a_reason() {
        assert_eq!(ARCHIVE_COLUMNS.len(), CLINIC_TABLES.len(), "one entry per table");
        for (t, c) in CLINIC_TABLES.iter().zip(ARCHIVE_COLUMNS.iter()) {
            assert_eq!(t.name, c.table);
            let reads: BTreeSet<&str> = c.reads.iter().copied().collect();
            let left: BTreeSet<&str> = c.leaves_out.iter().map(|(n, _)| *n).collect();
            assert!(reads.is_disjoint(&left), "{}", t.name);
            let covered: BTreeSet<&str> = reads.union(&left).copied().collect();
            let columns: BTreeSet<&str> = t.columns.iter().map(|col| col.name).collect();
            assert_eq!(covered, columns, "{}", t.name);
            for (n, why) in &c.leaves_out {
                assert!(why.len() > 10, "{}.{n}: say why it is left out", t.name);
            }
        }
    }

    /// A row of every clinic table, each column a value of its kind: the
    /// archive builds from it, every section of it filled. An exporter of
    /// its own that asks for a column renamed or dropped in the schema (and
    /// so in `CLINIC_TABLES`, which the store's schema test keeps true)
    /// fails here instead of leaving its section empty.
    #[test]
    fn the_archive_builds_from_a_row_of_every_clinic_table() {
        let id = uuid::Uuid::from_u128(7);
        let micros = 1_800_000_000_000_000_i64;
        let tables: Vec<TableRows> = CLINIC_TABLES
            .iter()
            // No key rows: nothing sealed opens, so sealed values are null.
            .filter(|t| !matches!(t.name, "clinic_keys" | "client_keys"))
            .map(|t| {
                let row: Row = t
                    .columns
                    .iter()
                    .map(|c| {
                        let v = match c.kind {
                            transfer::Kind::Id => json!(id.to_string()),
                            transfer::Kind::Int => json!(micros),
                            transfer::Kind::Bool => json!(true),
                            transfer::Kind::Text => json!("x"),
                            transfer::Kind::Bytes => json!(B64.encode([1u8; 32])),
                        };
                        (c.name.to_owned(), v)
                    })
                    .collect();
                TableRows {
                    table: t.name,
                    rows: vec![row],
                }
            })
            .collect();
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let doc = archive_document(ClinicId::from_uuid(id), &HashMap::new(), &tables, Vec::new(), at, 0).unwrap();
        assert_eq!(doc["clinic"]["name"], "x");
        assert_eq!(doc["staff"][0]["two_step_sign_in_set_up"], true);
        let client = &doc["clients"][0];
        assert_eq!(client["family_name"], "x");
        assert_eq!(client["address"]["postcode"], "x");
        assert_eq!(client["medical"]["version"], micros);
        assert_eq!(client["history"][0]["section"], "x");
        assert_eq!(doc["settings"]["public_slug"], "x");
        assert_eq!(doc["settings"]["time_zone"], "x");
        assert_eq!(doc["settings"]["updated_at"], at.to_string());
        assert!(doc["settings"].get("clinic_id").is_none(), "left out");
        assert_eq!(doc["audit"]["events"][0]["action"], "x");
        assert_eq!(doc["audit"]["head"]["hash"], hex::encode([1u8; 32]));
        // Archived generically: every column read, instants in RFC 3339.
        let grant = &doc["support_grants"][0];
        assert_eq!(grant["reason"], "x");
        assert_eq!(grant["requested_at"], at.to_string());
        assert!(grant.get("clinic_id").is_none(), "left out");
        for t in CLINIC_TABLES.iter().filter(|t| !has_own_exporter(t.name)) {
            assert_eq!(doc[t.name].as_array().map(Vec::len), Some(1), "{}", t.name);
        }
        assert_eq!(
            doc["contents"].as_object().unwrap().len(),
            CLINIC_TABLES.len(),
            "every table's place is named"
        );
    }

    /// The generic exporter opens a column sealed under the row's client
    /// key with the associated data its metadata names, and gives `null`
    /// when the client's key is gone.
    #[test]
    fn the_generic_exporter_opens_sealed_columns_with_the_clients_key() {
        use velum_store::transfer::{Kind, Table, col};
        const COLUMNS: &[transfer::Column] = &[
            col("clinic_id", Kind::Id).left_out("the archive holds one clinic"),
            col("client_id", Kind::Id),
            col("version", Kind::Int),
            col("sealed", Kind::Bytes).sealed("client.consent/v1"),
            col("signed_at", Kind::Int).instant(),
        ];
        static TABLE: Table = Table {
            name: "client_consents",
            clinic_column: "clinic_id",
            order_by: "client_id",
            columns: COLUMNS,
        };
        let clinic = ClinicId::from_uuid(uuid::Uuid::from_u128(1));
        let client = uuid::Uuid::from_u128(2);
        let scope = crate::job_scope(OFFBOARD_JOB, clinic);
        let key = ClientKey::generate();
        let aad = velum_crypto::Aad::record_version("client.consent/v1", &[clinic.as_uuid(), client], 3);
        let sealed = key.seal(br#"{"signed":"yes"}"#, &aad);
        let row: Row = [
            ("clinic_id", json!(clinic.to_string())),
            ("client_id", json!(client.to_string())),
            ("version", json!(3)),
            ("sealed", json!(B64.encode(&sealed))),
            ("signed_at", json!(1_800_000_000_000_000_i64)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let r = Exported {
            table: &TABLE,
            row: &row,
        };
        let keys: HashMap<uuid::Uuid, ClientKey> = [(client, key)].into_iter().collect();
        let v = generic_row(r, &keys, &scope).unwrap();
        assert_eq!(
            v,
            json!({
                "client_id": client.to_string(),
                "version": 3,
                "sealed": {"signed": "yes"},
                "signed_at": Timestamp::from_second(1_800_000_000).unwrap().to_string(),
            })
        );
        assert_eq!(generic_row(r, &HashMap::new(), &scope).unwrap()["sealed"], Value::Null);
        // Another version in the row: the associated data differs, refused.
        let mut moved = row.clone();
        moved.insert("version".into(), json!(2));
        let r = Exported {
            table: &TABLE,
            row: &moved,
        };
        assert!(matches!(generic_row(r, &keys, &scope), Err(AppError::Integrity)));
    }

    #[test]
    fn an_exporter_cannot_read_an_undeclared_or_missing_column() {
        let row: Row = [
            ("name".to_owned(), json!("Birch Clinic")),
            ("kind".to_owned(), json!("clinic")),
        ]
        .into_iter()
        .collect();
        let tables = [TableRows {
            table: "clinics",
            rows: vec![row],
        }];
        let clinics = rows(&tables, "clinics").unwrap();
        assert_eq!(clinics.len(), 1);
        assert_eq!(clinics[0].text("name").unwrap(), "Birch Clinic");
        // Declared but not in the row (a renamed column): an error, not null.
        assert!(clinics[0].field("status").is_err());
        // In the row but not declared as read: an error too.
        assert!(clinics[0].field("kind").is_err());
        assert!(rows(&tables, "no_such_table").is_err());
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level_and_is_compact() {
        let v = json!({"b": 1, "a": {"d": [true, null, "x\"y"], "c": 2.5}});
        assert_eq!(canonical_json(&v), r#"{"a":{"c":2.5,"d":[true,null,"x\"y"]},"b":1}"#);
    }

    #[test]
    fn archives_open_with_their_key_only_and_name_what_is_wrong() {
        use secrecy::ExposeSecret;
        let clinic = ClinicId::from_uuid(uuid::Uuid::from_u128(9));
        let key = ArchiveKey::generate();
        let header = ArchiveHeader {
            format: ARCHIVE_FORMAT_KEY,
            clinic_id: clinic,
            exported_at: Timestamp::from_second(1_800_000_000).unwrap(),
            cipher: "AES-256-GCM".into(),
            key: Some("k".into()),
            kdf: None,
            salt: None,
            recipient: None,
            ephemeral: None,
        };
        let file = seal_archive(&header, &json!({"clients": [{"family_name": "Quill"}]}), &key).unwrap();
        let text = key.to_text();
        let open_archive = |file: &[u8], key: &str| super::open_archive(file, ArchiveSecret::Key(key));
        let (h, body) = open_archive(&file, text.expose_secret()).unwrap();
        assert_eq!(h.clinic_id, clinic);
        assert!(String::from_utf8(body).unwrap().contains("Quill"));

        let other = ArchiveKey::generate().to_text();
        assert!(matches!(
            open_archive(&file, other.expose_secret()),
            Err(ArchiveError::WrongKey)
        ));
        assert!(matches!(
            open_archive(&file, "not a key"),
            Err(ArchiveError::BadKeyText(_))
        ));
        assert!(matches!(open_archive(b"hello", "x"), Err(ArchiveError::NotAnArchive)));
        // An edited header (another clinic id) makes the body refuse to open.
        let edited = String::from_utf8_lossy(&file[..ARCHIVE_MAGIC.len() + 80]).replace(
            "00000000-0000-0000-0000-000000000009",
            "00000000-0000-0000-0000-000000000008",
        );
        let mut tampered = edited.into_bytes();
        tampered.extend_from_slice(&file[ARCHIVE_MAGIC.len() + 80..]);
        assert_ne!(tampered, file);
        assert!(matches!(
            open_archive(&tampered, text.expose_secret()),
            Err(ArchiveError::WrongKey)
        ));
        let v4 = [ARCHIVE_MAGIC, b"{\"format\":4}\nxyz"].concat();
        let err = open_archive(&v4, text.expose_secret()).unwrap_err();
        assert!(err.to_string().contains("version 4"), "{err}");
        assert!(matches!(
            super::open_archive(&file, ArchiveSecret::Passphrase("anything at all")),
            Err(ArchiveError::NeedsKey)
        ));
    }

    #[test]
    fn format_2_archives_open_with_the_owners_passphrase_only() {
        let clinic = ClinicId::from_uuid(uuid::Uuid::from_u128(9));
        let recipient = ArchiveRecipient::from_passphrase("quartz heron lamplight bramble");
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let file = seal_archive_v2(clinic, at, &json!({"clients": [{"family_name": "Quill"}]}), &recipient).unwrap();
        assert!(
            !String::from_utf8_lossy(&file).contains("Quill"),
            "the body is ciphertext"
        );
        let (h, body) = open_archive(&file, ArchiveSecret::Passphrase("quartz heron lamplight bramble")).unwrap();
        assert_eq!(h.format, 2);
        assert_eq!(h.clinic_id, clinic);
        assert!(String::from_utf8(body).unwrap().contains("Quill"));
        assert!(matches!(
            open_archive(&file, ArchiveSecret::Passphrase("quartz heron lamplight brambles")),
            Err(ArchiveError::WrongPassphrase)
        ));
        let key = ArchiveKey::generate().to_text();
        assert!(matches!(
            open_archive(&file, ArchiveSecret::Key(secrecy::ExposeSecret::expose_secret(&key))),
            Err(ArchiveError::NeedsPassphrase)
        ));
        // Another clinic id in the header: the body refuses to open.
        let tampered = String::from_utf8_lossy(&file[..200])
            .replace(
                "00000000-0000-0000-0000-000000000009",
                "00000000-0000-0000-0000-000000000008",
            )
            .into_bytes()
            .into_iter()
            .chain(file[200..].iter().copied())
            .collect::<Vec<u8>>();
        assert_ne!(tampered, file);
        assert!(matches!(
            open_archive(&tampered, ArchiveSecret::Passphrase("quartz heron lamplight bramble")),
            Err(ArchiveError::WrongPassphrase)
        ));
    }

    /// Format 3 (written now): streamed, sealed to the passphrase in chunks;
    /// a cut, reordered or altered body is refused, and a wrong passphrase
    /// is named as such.
    #[test]
    fn format_3_archives_stream_and_refuse_a_cut_or_reordered_body() {
        const PASSPHRASE: &str = "quartz heron lamplight bramble";
        let clinic = ClinicId::from_uuid(uuid::Uuid::from_u128(9));
        let recipient = ArchiveRecipient::from_passphrase(PASSPHRASE);
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let clients: Vec<Value> = (0..4000)
            .map(|i| json!({"family_name": format!("Quill {i}"), "notes": "a note of some length"}))
            .collect();
        let document = json!({ "clients": clients });
        let file = seal_archive_to(clinic, at, &document, &recipient).unwrap();
        let chunk = velum_crypto::stream::CHUNK + 16;
        assert!(file.len() > 3 * chunk, "{}", file.len());
        assert!(
            !String::from_utf8_lossy(&file).contains("Quill"),
            "the body is ciphertext"
        );
        let (h, body) = open_archive(&file, ArchiveSecret::Passphrase(PASSPHRASE)).unwrap();
        assert_eq!(h.format, ARCHIVE_FORMAT);
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), document);
        assert!(matches!(
            open_archive(&file, ArchiveSecret::Passphrase("quartz heron lamplight brambles")),
            Err(ArchiveError::WrongPassphrase)
        ));
        let header_end =
            ARCHIVE_MAGIC.len() + file[ARCHIVE_MAGIC.len()..].iter().position(|&b| b == b'\n').unwrap() + 1;
        // The stream: version byte, 32-byte salt, then the chunks.
        let first = header_end + 33;
        for cut in [first + chunk, first + 2 * chunk, file.len() - 1, header_end + 10] {
            assert!(
                matches!(
                    open_archive(&file[..cut], ArchiveSecret::Passphrase(PASSPHRASE)),
                    Err(ArchiveError::Damaged(_))
                ),
                "cut at {cut}"
            );
        }
        let part = |i: usize| &file[first + i * chunk..first + (i + 1) * chunk];
        let swapped = [&file[..first], part(1), part(0), &file[first + 2 * chunk..]].concat();
        assert_eq!(swapped.len(), file.len());
        assert!(matches!(
            open_archive(&swapped, ArchiveSecret::Passphrase(PASSPHRASE)),
            Err(ArchiveError::Damaged(_))
        ));
        // Opened as it is read: the same document, and the first of it is
        // written out when only the start of the file has been read.
        struct Counting<'a> {
            file: &'a [u8],
            read: std::rc::Rc<std::cell::Cell<usize>>,
        }
        impl std::io::Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = std::io::Read::read(&mut self.file, buf)?;
                self.read.set(self.read.get() + n);
                Ok(n)
            }
        }
        struct FirstWrite {
            read: std::rc::Rc<std::cell::Cell<usize>>,
            read_at_first_write: Option<usize>,
            out: Vec<u8>,
        }
        impl std::io::Write for FirstWrite {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.read_at_first_write.get_or_insert(self.read.get());
                self.out.extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut out = FirstWrite {
            read: read.clone(),
            read_at_first_write: None,
            out: Vec::new(),
        };
        let input = Counting {
            file: &file,
            read: read.clone(),
        };
        let h = open_archive_to(input, ArchiveSecret::Passphrase(PASSPHRASE), &mut out).unwrap();
        assert_eq!(h.format, ARCHIVE_FORMAT);
        assert_eq!(out.out, body);
        let at = out.read_at_first_write.unwrap();
        assert!(
            at <= first + 2 * chunk + 4096,
            "{at} of {} read before the first write",
            file.len()
        );
        for cut in [first + chunk, file.len() - 1] {
            assert!(
                matches!(
                    open_archive_to(&file[..cut], ArchiveSecret::Passphrase(PASSPHRASE), std::io::sink()),
                    Err(ArchiveError::Damaged(_))
                ),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            open_archive_to(&swapped[..], ArchiveSecret::Passphrase(PASSPHRASE), std::io::sink()),
            Err(ArchiveError::Damaged(_))
        ));
        assert!(matches!(
            open_archive_to(
                &file[..],
                ArchiveSecret::Passphrase("quartz heron lamplight brambles"),
                std::io::sink()
            ),
            Err(ArchiveError::WrongPassphrase)
        ));
        assert!(matches!(
            open_archive_to(&b"hello"[..], ArchiveSecret::Passphrase(PASSPHRASE), std::io::sink()),
            Err(ArchiveError::NotAnArchive)
        ));
        // A format-2 archive, read whole, opens through it too.
        let v2 = seal_archive_v2(clinic, at_time(), &json!({"clients": []}), &recipient).unwrap();
        let mut opened = Vec::new();
        assert_eq!(
            open_archive_to(&v2[..], ArchiveSecret::Passphrase(PASSPHRASE), &mut opened)
                .unwrap()
                .format,
            ARCHIVE_FORMAT_PASSPHRASE
        );
        assert_eq!(
            opened,
            open_archive(&v2, ArchiveSecret::Passphrase(PASSPHRASE)).unwrap().1
        );
    }

    /// Memory stays bounded whatever the clinic's size: the archive is
    /// written as its clients are read, a page of [`ARCHIVE_PAGE`] at a
    /// time, so the first client's card reaches the file before the second
    /// page is read, and every client is there, in id order.
    #[test]
    fn the_archive_is_written_as_its_clients_are_read_a_page_at_a_time() {
        use std::cell::{Cell, RefCell};
        use std::rc::Rc;
        let row_of = |t: &transfer::Table, id: uuid::Uuid, name: &str| -> Row {
            t.columns
                .iter()
                .map(|c| {
                    let v = match (c.name, c.kind) {
                        ("family_name", _) => json!(name),
                        (_, transfer::Kind::Id) => json!(id.to_string()),
                        (_, transfer::Kind::Int) => json!(1_800_000_000_000_000_i64),
                        (_, transfer::Kind::Bool) => json!(false),
                        (_, transfer::Kind::Text) => json!("x"),
                        (_, transfer::Kind::Bytes) => json!(B64.encode([1u8; 32])),
                    };
                    (c.name.to_owned(), v)
                })
                .collect()
        };
        let count = usize::try_from(ARCHIVE_PAGE).unwrap() * 3 + 7;
        let clinic = uuid::Uuid::from_u128(1);
        let clients = transfer::table("clients").unwrap();
        // Ids not in the order the rows are given: the archive orders them.
        let ids: Vec<uuid::Uuid> = (0..count)
            .map(|i| uuid::Uuid::from_u128(((i as u128) * 7919 % 100_003) << 64 | 2))
            .collect();
        let tables = vec![
            TableRows {
                table: "clinics",
                rows: vec![row_of(transfer::table("clinics").unwrap(), clinic, "x")],
            },
            TableRows {
                table: "clients",
                rows: ids
                    .iter()
                    .map(|id| row_of(clients, *id, &format!("Client {id}")))
                    .collect(),
            },
        ];
        struct Counting<'a> {
            inner: MemorySource<'a>,
            served: Rc<Cell<usize>>,
        }
        impl RowSource for Counting<'_> {
            async fn page(&mut self, table: &'static transfer::Table, page: Page<'_>) -> Result<Vec<Row>, AppError> {
                let rows = self.inner.page(table, page).await?;
                assert!(rows.len() <= usize::try_from(ARCHIVE_PAGE).unwrap());
                if table.name == "clients" {
                    self.served.set(self.served.get() + rows.len());
                }
                Ok(rows)
            }
        }
        struct Out {
            served: Rc<Cell<usize>>,
            first_card_after: Rc<Cell<Option<usize>>>,
            bytes: Rc<RefCell<Vec<u8>>>,
        }
        impl std::io::Write for Out {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let mut bytes = self.bytes.borrow_mut();
                bytes.extend_from_slice(buf);
                if self.first_card_after.get().is_none() && String::from_utf8_lossy(&bytes).contains("\"Client ") {
                    self.first_card_after.set(Some(self.served.get()));
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let served = Rc::new(Cell::new(0));
        let first_card_after = Rc::new(Cell::new(None));
        let bytes = Rc::new(RefCell::new(Vec::new()));
        let mut source = Counting {
            inner: MemorySource(&tables),
            served: served.clone(),
        };
        let out = Out {
            served: served.clone(),
            first_card_after: first_card_after.clone(),
            bytes: bytes.clone(),
        };
        let no_keys = HashMap::new();
        let write = write_archive_document(
            &mut source,
            ClinicId::from_uuid(clinic),
            &no_keys,
            Vec::new(),
            at_time(),
            0,
            out,
        );
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(write)
            .unwrap();
        assert_eq!(served.get(), count);
        assert_eq!(
            first_card_after.get(),
            Some(usize::try_from(ARCHIVE_PAGE).unwrap()),
            "the first page is written before the next is read"
        );
        let doc: Value = serde_json::from_slice(&bytes.borrow()).unwrap();
        let mut sorted = ids.clone();
        sorted.sort();
        let written: Vec<String> = doc["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(written, sorted.iter().map(ToString::to_string).collect::<Vec<_>>());
        // Pretty-printed as `serde_json::to_string_pretty` prints the same document.
        assert_eq!(
            String::from_utf8(bytes.borrow().clone()).unwrap().len(),
            serde_json::to_string_pretty(&doc).unwrap().len()
        );
    }

    fn at_time() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }
}
