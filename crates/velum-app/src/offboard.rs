//! Offboarding a clinic in hosted mode: the clinic is leaving and takes all
//! of its data with it, in a form it can read once the platform has
//! destroyed its keys; then the platform destroys them, deletes every row
//! and blob of the clinic, and issues a certificate saying what it did.
//!
//! [`App::offboard_clinic`] does it in one transaction, in this order:
//!
//! 1. policy: only a platform operator (or the command line, which holds
//!    the master key), only a clinic that exists, is not the platform's own
//!    row, and is **suspended** (so nobody is working in it), and, from the
//!    web page, only when the operator typed the clinic's name;
//! 2. a `clinic_offboarded` event in the clinic's own chain (who, when), so
//!    the trail the clinic takes away ends with the record of its export;
//! 3. every row of the clinic read in one snapshot, opened (client keys
//!    unwrapped, medical summaries and earlier versions decrypted) and laid
//!    out as one JSON document (see [the archive](#the-archive)), with the
//!    clinic's blobs opened too when a blob store is configured;
//! 4. the document sealed with AES-256-GCM under a fresh random 256-bit
//!    [`ArchiveKey`], handed to `save`, which must make it durable. The key
//!    is returned to the caller to show **once**; it is never stored or
//!    logged. If `save` fails, nothing has been deleted;
//! 5. every row of the clinic deleted, keys first in effect
//!    (`clinic_keys`, `client_keys`: crypto-shredding every copy left in
//!    backups), the `clinics` row kept as a tombstone with status
//!    `offboarded` ([`velum_store::offboard`]);
//! 6. the clinic's blobs deleted, when a blob store is configured. This is
//!    the last step that can fail before the commit, and a failure rolls
//!    the database back (the clinic stays suspended; run it again, deleting
//!    blobs is idempotent);
//! 7. the certificate, its SHA-256 in a `clinic_offboarded` event of the
//!    **platform's** chain, and the certificate stored beside the
//!    tombstone; commit.
//!
//! # The archive
//!
//! ```text
//! VELUM CLINIC ARCHIVE\n
//! {"format":1,"clinic_id":…,"exported_at":…,"cipher":"AES-256-GCM", …}\n
//! <sealed body>
//! ```
//!
//! The header line is plaintext JSON and holds nothing personal. The body is
//! [`velum_crypto::seal`]'s format (version byte, 96-bit nonce, ciphertext,
//! tag) under the archive key, with associated data naming the format
//! version, the SHA-256 of the exact header bytes and the clinic id, so an
//! edited header makes the body refuse to open. `velum export open --file F
//! --key K` (any build of this open-source binary; no database, no master
//! key) opens it and writes the document, pretty-printed JSON:
//!
//! - `clinic`: id, name, status, created;
//! - `staff`: id, email, name, role, disabled, two-step sign-in set up,
//!   created, updated (no password hashes, two-step secrets or lock-out
//!   counters);
//! - `clients`: every card with its contact details and marketing choices,
//!   `medical` (the current summary, opened), `history` (each change with,
//!   where kept, the previous value opened), and `files` (blobs, base64);
//! - `support_grants`: every break-glass request and decision;
//! - `audit`: the chain head and every event, links in hex with their link
//!   version, so the clinic can check its trail with the encoding in
//!   `velum_core::audit` (version-1 links by anyone; version-2 links are
//!   keyed by the installation's master key);
//! - `contents`: where each table of the clinic went, and what was left out.
//!
//! Instants are RFC 3339 in UTC. The document is built in memory, like
//! `velum export`'s (see `transfer.rs` for what changes at much larger
//! sizes).
//!
//! # The certificate
//!
//! A JSON document: `certificate` (clinic id and name, when, by whom, the
//! archive's SHA-256 and size, the clinic chain's final head, rows deleted
//! per table, key rows destroyed, blobs deleted), `certificate_sha256`, and
//! `recorded_in` (the platform-chain event's number and hash). The hash is
//! over `certificate` written as compact JSON with object keys sorted
//! (`jq -cjS .certificate FILE | sha256sum` gives it), and the platform
//! event's detail holds it, so the chain vouches for the certificate and
//! `velum audit verify` for the chain. Nothing personal but the clinic's
//! name.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use jiff::{SignedDuration, Timestamp};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use velum_blobs::BlobId;
use velum_core::actor::Purpose;
use velum_core::audit::{AuditAction, NewAuditEvent};
use velum_core::{Actor, ClientId, ClinicId};
use velum_crypto::{Aad, ArchiveKey, ClientKey, ClinicKey, WrappedKey};
use velum_store::transfer::{self, TableRows};
use velum_store::{ClinicScope, StoreError, audit, clinics, offboard};

use crate::clients::{history_aad, medical_aad};
use crate::platform::platform_id;
use crate::{App, AppError};

/// The archive format this build writes and opens.
pub const ARCHIVE_FORMAT: u32 = 1;

/// The archive file's first line.
const ARCHIVE_MAGIC: &[u8] = b"VELUM CLINIC ARCHIVE\n";

/// The certificate's format tag.
pub const CERTIFICATE_FORMAT: &str = "velum.offboarding-certificate/v1";

/// How long an archive made from the web page waits in the database for the
/// operator to download it (they can delete it sooner).
pub const ARCHIVE_WAIT: SignedDuration = SignedDuration::from_hours(24);

/// Where each table of the clinic goes in the archive: THE list, checked
/// against [`velum_store::transfer::CLINIC_TABLES`] by a test, so a new clinic table must be given
/// a place before a clinic can be offboarded with it.
pub const ARCHIVE_PLACES: &[(&str, &str)] = &[
    ("clinics", "clinic"),
    (
        "clinic_keys",
        "not included: the clinic's key, destroyed at offboarding; the archive has its own key",
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
    ("support_grants", "support_grants"),
    ("audit_heads", "audit.head"),
    ("audit_events", "audit.events"),
];

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
    #[error("cannot write the archive: {0}; nothing was deleted")]
    Save(std::io::Error),
    #[error(
        "the blob store failed while {doing} the clinic's blobs ({detail}); nothing was deleted from the database \
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
    #[error("unsupported archive format version {found} (this Velum reads version {ARCHIVE_FORMAT})")]
    UnsupportedVersion { found: String },
    #[error("the archive is damaged: {0}")]
    Damaged(&'static str),
    #[error("--key: {0}")]
    BadKeyText(velum_crypto::CryptoError),
    #[error(
        "--key: this key does not open the archive (it is not the key given with this archive, or the file was altered)"
    )]
    WrongKey,
}

/// What the operator asks for.
#[derive(Clone, Copy, Debug)]
pub struct OffboardRequest<'a> {
    pub clinic: ClinicId,
    /// The clinic's name as the operator typed it to confirm (the web page);
    /// `None` from the command line.
    pub confirm_name: Option<&'a str>,
    /// Keep the sealed archive in the database for [`ARCHIVE_WAIT`], for
    /// download from the web page. The command line writes a file instead.
    pub keep_for_download: bool,
}

/// A finished offboarding.
pub struct Offboarded<T> {
    pub clinic_id: ClinicId,
    /// The archive's key: show it once, to hand to the clinic. Never stored.
    pub archive_key: SecretString,
    pub archive_sha256: String,
    pub archive_bytes: u64,
    /// The certificate document (pretty JSON), as stored.
    pub certificate: String,
    pub certificate_sha256: String,
    /// What `save` returned.
    pub saved: T,
}

impl<T> std::fmt::Debug for Offboarded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offboarded")
            .field("clinic_id", &self.clinic_id)
            .field("archive_key", &"<redacted>")
            .field("archive_sha256", &self.archive_sha256)
            .finish_non_exhaustive()
    }
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
    pub archive: ArchiveFacts,
    /// The clinic's audit chain as it stood just before deletion: the last
    /// event (its own `clinic_offboarded`) is the archive's last event.
    pub clinic_chain_head: ChainHead,
    /// Rows deleted, per table.
    pub rows_deleted: BTreeMap<String, u64>,
    pub keys_destroyed: KeysDestroyed,
    pub blobs: Blobs,
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

/// Blobs deleted, or why none were.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Blobs {
    Deleted { deleted: u64 },
    NotConfigured(String),
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
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveHeader {
    pub format: u32,
    pub clinic_id: ClinicId,
    pub exported_at: Timestamp,
    pub cipher: String,
    pub key: String,
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
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

/// Associated data of the archive body. NEVER CHANGE THIS for format 1:
/// it is bound into every archive handed to a clinic.
fn archive_aad(header_bytes: &[u8], clinic: ClinicId) -> Aad {
    Aad::record(
        &format!(
            "velum.clinic-archive/v{ARCHIVE_FORMAT}/sha256:{}",
            sha256_hex(header_bytes)
        ),
        &[clinic.as_uuid()],
    )
}

/// Open an offboarding archive with the key given with it, without any
/// database or master key: what `velum export open` runs. Returns the
/// header and the document (pretty-printed JSON).
///
/// # Errors
/// The [`ArchiveError`] naming what is wrong: not an archive, another
/// format version, a damaged header, a key that is not 64 hex digits, or a
/// key that does not open it.
pub fn open_archive(file: &[u8], key_text: &str) -> Result<(ArchiveHeader, Vec<u8>), ArchiveError> {
    let rest = file.strip_prefix(ARCHIVE_MAGIC).ok_or(ArchiveError::NotAnArchive)?;
    let split = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(ArchiveError::Damaged("the header line is cut off"))?;
    let (header_bytes, sealed) = (&rest[..split], &rest[split + 1..]);
    let loose: Value =
        serde_json::from_slice(header_bytes).map_err(|_| ArchiveError::Damaged("the header is not readable"))?;
    match loose.get("format") {
        Some(v) if v.as_u64() == Some(u64::from(ARCHIVE_FORMAT)) => {}
        Some(v) => {
            return Err(ArchiveError::UnsupportedVersion {
                found: v.to_string().chars().take(20).collect(),
            });
        }
        None => return Err(ArchiveError::Damaged("the header has no format version")),
    }
    let header: ArchiveHeader =
        serde_json::from_value(loose).map_err(|_| ArchiveError::Damaged("the header is not readable"))?;
    let key = ArchiveKey::from_text(key_text).map_err(ArchiveError::BadKeyText)?;
    let body = key
        .open(sealed, &archive_aad(header_bytes, header.clinic_id))
        .map_err(|_| ArchiveError::WrongKey)?;
    Ok((header, body))
}

fn seal_archive(header: &ArchiveHeader, document: &Value, key: &ArchiveKey) -> Result<Vec<u8>, AppError> {
    let json = |e: serde_json::Error| AppError::Internal(format!("archive encoding: {e}"));
    let header_bytes = serde_json::to_vec(header).map_err(json)?;
    let body = serde_json::to_vec_pretty(document).map_err(json)?;
    let sealed = key.seal(&body, &archive_aad(&header_bytes, header.clinic_id));
    let mut file = Vec::with_capacity(ARCHIVE_MAGIC.len() + header_bytes.len() + 1 + sealed.len());
    file.extend_from_slice(ARCHIVE_MAGIC);
    file.extend_from_slice(&header_bytes);
    file.push(b'\n');
    file.extend_from_slice(&sealed);
    Ok(file)
}

/// One blob of the clinic, opened (or not, when its client's key is gone).
struct BlobFile {
    client: ClientId,
    id: BlobId,
    content: Option<Vec<u8>>,
}

type Row = Map<String, Value>;

fn corrupt(what: &'static str) -> AppError {
    AppError::Internal(format!("offboarding archive: {what}"))
}

fn rows<'a>(tables: &'a [TableRows], name: &str) -> &'a [Row] {
    tables
        .iter()
        .find(|t| t.table == name)
        .map_or(&[], |t| t.rows.as_slice())
}

fn field<'a>(row: &'a Row, name: &str) -> &'a Value {
    row.get(name).unwrap_or(&Value::Null)
}

fn text<'a>(row: &'a Row, name: &str) -> Result<&'a str, AppError> {
    field(row, name).as_str().ok_or(corrupt("a text column is missing"))
}

fn uuid_of(row: &Row, name: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(text(row, name)?).map_err(|_| corrupt("an id column is not an id"))
}

fn bytes_of(row: &Row, name: &str) -> Result<Option<Vec<u8>>, AppError> {
    field(row, name)
        .as_str()
        .map(|s| B64.decode(s).map_err(|_| corrupt("a byte column is not base64")))
        .transpose()
}

/// A stored instant (unix microseconds) as RFC 3339; `null` stays `null`.
fn instant(row: &Row, name: &str) -> Result<Value, AppError> {
    match field(row, name) {
        Value::Null => Ok(Value::Null),
        v => {
            let micros = v.as_i64().ok_or(corrupt("an instant is not a number"))?;
            let t = Timestamp::from_microsecond(micros).map_err(|_| corrupt("an instant is out of range"))?;
            Ok(Value::String(t.to_string()))
        }
    }
}

fn pick(row: &Row, names: &[&str]) -> Row {
    names.iter().map(|n| ((*n).to_owned(), field(row, n).clone())).collect()
}

fn parse_json(plain: &[u8]) -> Result<Value, AppError> {
    serde_json::from_slice(plain).map_err(|_| corrupt("an opened value is not JSON"))
}

/// The readable document, from the clinic's rows (as read for `velum
/// export`) and its opened blobs.
fn archive_document(
    clinic: ClinicId,
    clinic_key: &ClinicKey,
    tables: &[TableRows],
    files: Vec<BlobFile>,
    exported_at: Timestamp,
    stray_blobs: u64,
) -> Result<Value, AppError> {
    for t in tables {
        if !ARCHIVE_PLACES.iter().any(|(name, _)| *name == t.table) {
            return Err(AppError::Internal(format!(
                "offboarding archive: table {} has no place in the archive",
                t.table
            )));
        }
    }
    let scope = ClinicScope::new(clinic);
    let clinic_row = rows(tables, "clinics").first().ok_or(corrupt("no clinic row"))?;
    let clinic_json = json!({
        "id": clinic.to_string(),
        "name": text(clinic_row, "name")?,
        "status": text(clinic_row, "status")?,
        "created_at": instant(clinic_row, "created_at")?,
    });

    let staff = rows(tables, "staff")
        .iter()
        .map(|r| {
            Ok(json!({
                "id": field(r, "id"),
                "email": field(r, "email"),
                "display_name": field(r, "display_name"),
                "role": field(r, "role"),
                "disabled": field(r, "disabled"),
                "two_step_sign_in_set_up": field(r, "totp_confirmed"),
                "created_at": instant(r, "created_at")?,
                "updated_at": instant(r, "updated_at")?,
            }))
        })
        .collect::<Result<Vec<Value>, AppError>>()?;

    // Each client's data key, unwrapped with the clinic key.
    let mut keys: HashMap<uuid::Uuid, ClientKey> = HashMap::new();
    for r in rows(tables, "client_keys") {
        let client = uuid_of(r, "client_id")?;
        let wrapped = bytes_of(r, "wrapped")?.ok_or(corrupt("a client key is empty"))?;
        let key =
            clinic_key.unwrap_client_key(&WrappedKey::from_bytes(wrapped), clinic, ClientId::from_uuid(client))?;
        keys.insert(client, key);
    }
    let mut medical: HashMap<uuid::Uuid, Value> = HashMap::new();
    for r in rows(tables, "client_medical") {
        let client = uuid_of(r, "client_id")?;
        let summary = match (keys.get(&client), bytes_of(r, "sealed")?) {
            (Some(key), Some(sealed)) => {
                parse_json(&key.open(&sealed, &medical_aad(&scope, ClientId::from_uuid(client)))?)?
            }
            _ => Value::Null,
        };
        medical.insert(
            client,
            json!({
                "summary": summary,
                "version": field(r, "version"),
                "updated_at": instant(r, "updated_at")?,
                "updated_by": field(r, "updated_by"),
            }),
        );
    }
    let mut history: HashMap<uuid::Uuid, Vec<Value>> = HashMap::new();
    for r in rows(tables, "client_history") {
        let client = uuid_of(r, "client_id")?;
        let id = uuid_of(r, "id")?;
        let previous = match (keys.get(&client), bytes_of(r, "previous_sealed")?) {
            (Some(key), Some(sealed)) => {
                parse_json(&key.open(&sealed, &history_aad(&scope, ClientId::from_uuid(client), id))?)?
            }
            _ => Value::Null,
        };
        history.entry(client).or_default().push(json!({
            "id": id.to_string(),
            "section": field(r, "section"),
            "changed_at": instant(r, "changed_at")?,
            "changed_by": field(r, "changed_by"),
            "previous": previous,
        }));
    }
    let mut by_client: HashMap<uuid::Uuid, Vec<Value>> = HashMap::new();
    let mut unreadable_files = Vec::new();
    for f in files {
        match f.content {
            Some(content) if keys.contains_key(&f.client.as_uuid()) => {
                by_client.entry(f.client.as_uuid()).or_default().push(json!({
                    "id": f.id.to_string(),
                    "bytes": content.len(),
                    "content_base64": B64.encode(&content),
                }));
            }
            _ => unreadable_files.push(json!({"client_id": f.client.to_string(), "id": f.id.to_string()})),
        }
    }
    let clients = rows(tables, "clients")
        .iter()
        .map(|r| {
            let id = uuid_of(r, "id")?;
            Ok(json!({
                "id": id.to_string(),
                "given_name": field(r, "given_name"),
                "family_name": field(r, "family_name"),
                "date_of_birth": field(r, "date_of_birth"),
                "email": field(r, "email"),
                "mobile": field(r, "mobile"),
                "address": pick(r, &["line1", "line2", "town", "postcode"]),
                "marketing": {"email": field(r, "marketing_email"), "sms": field(r, "marketing_sms")},
                "archived": field(r, "archived"),
                "version": field(r, "version"),
                "created_at": instant(r, "created_at")?,
                "updated_at": instant(r, "updated_at")?,
                "key_destroyed_before_offboarding": !keys.contains_key(&id),
                "medical": medical.remove(&id).unwrap_or(Value::Null),
                "history": history.remove(&id).unwrap_or_default(),
                "files": by_client.remove(&id).unwrap_or_default(),
            }))
        })
        .collect::<Result<Vec<Value>, AppError>>()?;

    let grants = rows(tables, "support_grants")
        .iter()
        .map(|r| {
            let mut g = pick(r, &["id", "operator_id", "reason", "minutes", "status", "decided_by"]);
            for t in ["requested_at", "decided_at", "expires_at"] {
                g.insert(t.to_owned(), instant(r, t)?);
            }
            Ok(Value::Object(g))
        })
        .collect::<Result<Vec<Value>, AppError>>()?;

    let head = rows(tables, "audit_heads")
        .first()
        .map(|h| -> Result<Value, AppError> {
            Ok(json!({
                "seq": field(h, "seq"),
                "hash": hex(&bytes_of(h, "hash")?.unwrap_or_default()),
            }))
        })
        .transpose()?
        .unwrap_or(Value::Null);
    let events = rows(tables, "audit_events")
        .iter()
        .map(|r| {
            let mut e = pick(
                r,
                &[
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
                ],
            );
            e.insert("at".into(), instant(r, "at")?);
            e.insert("at_micros".into(), field(r, "at").clone());
            e.insert(
                "prev_hash".into(),
                Value::String(hex(&bytes_of(r, "prev_hash")?.unwrap_or_default())),
            );
            e.insert(
                "hash".into(),
                Value::String(hex(&bytes_of(r, "hash")?.unwrap_or_default())),
            );
            Ok(Value::Object(e))
        })
        .collect::<Result<Vec<Value>, AppError>>()?;

    let contents: Map<String, Value> = ARCHIVE_PLACES
        .iter()
        .map(|(t, place)| ((*t).to_owned(), Value::String((*place).to_owned())))
        .collect();
    Ok(json!({
        "format": format!("velum.clinic-archive/v{ARCHIVE_FORMAT}"),
        "exported_at": exported_at.to_string(),
        "clinic": clinic_json,
        "staff": staff,
        "clients": clients,
        "unreadable_files": unreadable_files,
        "stray_objects_skipped": stray_blobs,
        "support_grants": grants,
        "audit": {"head": head, "events": events},
        "contents": contents,
    }))
}

impl App {
    /// Offboard a suspended clinic: write its readable archive, destroy its
    /// keys and delete every row and blob of it, keep its tombstone, and
    /// return the certificate (see the module comment for the steps and
    /// formats). `actor` is `None` from the command line (the holder of the
    /// master key); otherwise it must be a platform operator. `save` gets
    /// the archive file's bytes and must make them durable; it runs before
    /// anything is deleted, inside the transaction, so if it fails nothing
    /// is; if the commit fails afterwards, the caller discards what it
    /// wrote.
    ///
    /// # Errors
    /// See [`OffboardError`]; on every error nothing was deleted.
    pub async fn offboard_clinic<T>(
        &self,
        actor: Option<&Actor>,
        request: OffboardRequest<'_>,
        save: impl FnOnce(&[u8]) -> std::io::Result<T>,
    ) -> Result<Offboarded<T>, OffboardError> {
        let clinic = request.clinic;
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
        let scope = ClinicScope::new(clinic);
        let mut tx = self.store().begin_snapshot().await?;
        let row = clinics::get(&mut tx, &scope)
            .await?
            .ok_or(OffboardError::UnknownClinic(clinic))?;
        match row.status.as_str() {
            "suspended" => {}
            "offboarded" => return Err(OffboardError::AlreadyOffboarded(clinic)),
            other => {
                return Err(OffboardError::NotSuspended {
                    clinic,
                    status: other.to_owned(),
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
        let event = |chain: ClinicId, detail: String| NewAuditEvent {
            clinic_id: chain,
            actor_id: actor.map(|a| a.staff_id),
            client_id: None,
            sections: Vec::new(),
            action: AuditAction::ClinicOffboarded,
            purpose: Purpose::Administration,
            source: actor.and_then(|a| a.source).map(|s| s.to_string()),
            detail: Some(detail),
        };

        // The clinic's own record of its export: the last event it takes away.
        let last = audit::append(
            &mut tx,
            event(clinic, format!("{by_detail} archive:v{ARCHIVE_FORMAT}")),
            now,
        )
        .await?;
        let tables = transfer::read_clinic(&mut tx, &scope).await?;
        let (_, wrapped) = clinics::current_key(&mut tx, &scope).await?;
        let clinic_key = self
            .master()
            .unwrap_clinic_key(&wrapped, clinic)
            .map_err(AppError::from)?;
        let (files, stray) = self.clinic_blobs(clinic, &clinic_key, &tables).await?;
        let document = archive_document(clinic, &clinic_key, &tables, files, now, stray)?;
        let archive_key = ArchiveKey::generate();
        let header = ArchiveHeader {
            format: ARCHIVE_FORMAT,
            clinic_id: clinic,
            exported_at: now,
            cipher: "AES-256-GCM".into(),
            key: "64 hexadecimal digits, given with this archive and stored nowhere else".into(),
        };
        let file = seal_archive(&header, &document, &archive_key)?;
        drop(document);
        let archive_sha256 = sha256_hex(&file);
        let archive_bytes = file.len() as u64;
        let saved = save(&file).map_err(OffboardError::Save)?;

        // From here on, destruction. Keys first among the rows deleted.
        let counts = offboard::delete_clinic(&mut tx, &scope).await?;
        let count = |t: &str| counts.iter().find(|(n, _)| *n == t).map_or(0, |(_, n)| *n);
        let blobs = match &self.settings().blobs {
            Some(store) => Blobs::Deleted {
                deleted: store.delete_clinic(clinic).await.map_err(|e| OffboardError::Blobs {
                    doing: "deleting",
                    detail: e.to_string(),
                })?,
            },
            None => Blobs::NotConfigured("no blob store configured".into()),
        };
        let certificate = Certificate {
            format: CERTIFICATE_FORMAT.into(),
            clinic_id: clinic,
            clinic_name: row.name.clone(),
            offboarded_at: now,
            by,
            archive: ArchiveFacts {
                format: ARCHIVE_FORMAT,
                sha256: archive_sha256.clone(),
                bytes: archive_bytes,
                sealed_with: "AES-256-GCM under a one-off 256-bit key given to the clinic and stored nowhere".into(),
            },
            clinic_chain_head: ChainHead {
                seq: last.seq,
                hash: hex(&last.hash),
            },
            rows_deleted: counts.iter().map(|(t, n)| ((*t).to_owned(), *n)).collect(),
            keys_destroyed: KeysDestroyed {
                clinic_key_rows: count("clinic_keys"),
                client_key_rows: count("client_keys"),
            },
            blobs,
        };
        let certificate_sha256 = certificate_sha256(&certificate)?;
        let recorded = audit::append(
            &mut tx,
            event(
                platform_id(),
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
                hash: hex(&recorded.hash),
            },
        };
        let certificate_text = serde_json::to_string_pretty(&file_doc)
            .map_err(|e| AppError::Internal(format!("certificate json: {e}")))?;
        let waiting = request
            .keep_for_download
            .then(|| (file.as_slice(), now.checked_add(ARCHIVE_WAIT).unwrap_or(now)));
        offboard::insert(&mut tx, &scope, now, &certificate_text, waiting).await?;
        tx.commit().await?;
        tracing::info!(clinic = %clinic, "clinic offboarded");
        Ok(Offboarded {
            clinic_id: clinic,
            archive_key: archive_key.to_text(),
            archive_sha256,
            archive_bytes,
            certificate: certificate_text,
            certificate_sha256,
            saved,
        })
    }

    /// The clinic's blobs, opened with their clients' keys, when a blob
    /// store is configured.
    async fn clinic_blobs(
        &self,
        clinic: ClinicId,
        clinic_key: &ClinicKey,
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
        let wrapped: HashMap<uuid::Uuid, Vec<u8>> = rows(tables, "client_keys")
            .iter()
            .filter_map(|r| Some((uuid_of(r, "client_id").ok()?, bytes_of(r, "wrapped").ok()??)))
            .collect();
        let mut files = Vec::with_capacity(ids.len());
        for (client, id) in ids {
            let key = wrapped
                .get(&client.as_uuid())
                .map(|w| clinic_key.unwrap_client_key(&WrappedKey::from_bytes(w.clone()), clinic, client))
                .transpose()
                .map_err(AppError::from)?;
            let content = match key {
                Some(key) => Some(store.get(clinic, client, id, &key).await.map_err(failed)?),
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
    ) -> Result<Option<offboard::OffboardingRow>, AppError> {
        if let Some(a) = actor {
            self.require_operator(a).await?;
        }
        let mut tx = self.store().begin_read().await?;
        Ok(offboard::get(&mut tx, &ClinicScope::new(clinic), self.now()).await?)
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
        Ok(offboard::remaining_rows(&mut tx, &ClinicScope::new(clinic)).await?)
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
            || hex(&hash) != file.recorded_in.hash
            || !detail.is_some_and(|d| d.ends_with(&expected))
        {
            return Err(bad("is not the one the platform's chain records"));
        }
        Ok(file)
    }

    /// The sealed archive an offboarding from the web page left for
    /// download (operators only), while it waits.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator; `NotFound` when none waits.
    pub async fn offboarding_archive(&self, actor: &Actor, clinic: ClinicId) -> Result<Vec<u8>, AppError> {
        self.require_operator(actor).await?;
        let mut tx = self.store().begin_read().await?;
        offboard::archive(&mut tx, &ClinicScope::new(clinic), self.now())
            .await?
            .ok_or(AppError::NotFound)
    }

    /// Delete the waiting archive of `clinic`: the operator has it.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator.
    pub async fn drop_offboarding_archive(&self, actor: &Actor, clinic: ClinicId) -> Result<(), AppError> {
        self.require_operator(actor).await?;
        let mut tx = self.begin().await?;
        offboard::drop_archives(&mut tx, Some(&ClinicScope::new(clinic)), self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Delete every waiting archive past [`ARCHIVE_WAIT`] (reads already
    /// refuse them; this frees the space). Run by the server's background
    /// worker. Returns how many were deleted.
    ///
    /// # Errors
    /// Database errors.
    pub async fn drop_expired_archives(&self) -> Result<u64, AppError> {
        let mut tx = self.begin().await?;
        let n = offboard::drop_archives(&mut tx, None, self.now()).await?;
        tx.commit().await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use velum_store::transfer::CLINIC_TABLES;

    #[test]
    fn every_clinic_table_has_a_place_in_the_archive() {
        let placed: BTreeSet<&str> = ARCHIVE_PLACES.iter().map(|(t, _)| *t).collect();
        let tables: BTreeSet<&str> = CLINIC_TABLES.iter().map(|t| t.name).collect();
        assert_eq!(placed, tables, "give the new clinic table a place in ARCHIVE_PLACES");
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
            format: ARCHIVE_FORMAT,
            clinic_id: clinic,
            exported_at: Timestamp::from_second(1_800_000_000).unwrap(),
            cipher: "AES-256-GCM".into(),
            key: "k".into(),
        };
        let file = seal_archive(&header, &json!({"clients": [{"family_name": "Quill"}]}), &key).unwrap();
        let text = key.to_text();
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
        let v2 = [ARCHIVE_MAGIC, b"{\"format\":2}\nxyz"].concat();
        let err = open_archive(&v2, text.expose_secret()).unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");
    }
}
