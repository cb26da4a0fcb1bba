//! Installation backups (`velum backup`, `velum restore`): one file holding
//! a consistent copy of the whole database, sealed under a key derived from
//! the master key, in the sealed-file framing (`sealed_file.rs`):
//!
//! ```text
//! VELUM BACKUP\n
//! <manifest: plaintext JSON on one line>\n
//! <the copy, sealed as a STREAM (velum_crypto::stream)>
//! ```
//!
//! The manifest says what the file holds (format, when, from where, which
//! backend, the master key's fingerprint, every table's row count, sizes)
//! and is bound into the body's associated data, so neither can be changed
//! or swapped without the body failing to open. Beside the file,
//! `FILE.sha256` holds its SHA-256 in `sha256sum` form, to check a copy
//! without the key.
//!
//! The copy is the SQLCipher file itself on the embedded backend (from
//! `VACUUM INTO`, so it is encrypted twice), and a `pg_dump` archive
//! (custom format) on PostgreSQL; the command line runs `pg_dump` and
//! `pg_restore`. Whoever holds the master key can restore a backup on any
//! machine; nobody else can read it, which is what protects the data
//! directory too (docs/SECURITY.md, "Keys").

use std::collections::BTreeMap;
use std::io::{self, BufRead, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use velum_core::ClinicId;
use velum_crypto::MasterKey;
use velum_crypto::stream::{OpenReader, SealWriter};
use velum_store::Tx;
use velum_store::backup as store;
pub use velum_store::backup::migrations_applied;

use crate::sealed_file::{BACKUP, FrameError, Hashing};
use crate::{App, AppError};

/// The backup format this build writes and reads.
pub const FORMAT: u32 = 1;
/// What the body of a backup of the embedded database is.
pub const CONTENT_SQLITE: &str = "sqlcipher-database";
/// What the body of a backup of PostgreSQL is.
pub const CONTENT_PG_DUMP: &str = "pg_dump-custom";
/// The job name a restore check acts as.
const BACKUP_JOB: &str = "backup";
/// The longest manifest line read before giving up on a file.
const MAX_MANIFEST: usize = 1 << 20;

/// The manifest: the header line of a backup file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The Velum version that wrote it.
    pub velum_version: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Where it was taken from: the data directory, or the PostgreSQL host
    /// and database (never credentials).
    pub source: String,
    /// [`CONTENT_SQLITE`] or [`CONTENT_PG_DUMP`].
    pub content: String,
    /// The fingerprint of the master key it is sealed under.
    pub key_fingerprint: String,
    /// The size of the database copied, in bytes (the SQLite copy's size;
    /// on PostgreSQL, `pg_database_size` when the snapshot was taken).
    pub database_bytes: u64,
    /// Every table's row count in the copy.
    pub counts: BTreeMap<String, i64>,
}

/// Why a backup file was refused.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("not a Velum backup file")]
    NotABackup,
    #[error("a backup of format {0}, which this version of Velum does not read")]
    Unsupported(String),
    #[error("the backup is damaged: {0}")]
    Damaged(&'static str),
    #[error("the backup was made under another master key (fingerprint {found}, this key's is {ours})")]
    WrongKey { found: String, ours: String },
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl From<FrameError> for BackupError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::NoMarker => BackupError::NotABackup,
            FrameError::Unsupported { found } => BackupError::Unsupported(found),
            FrameError::Damaged(what) => BackupError::Damaged(what),
        }
    }
}

/// The installation-wide backup binds the all-zero clinic id (the
/// platform's) into its associated data.
fn platform() -> ClinicId {
    ClinicId::from_uuid(uuid::Uuid::nil())
}

/// A backup being written: [`BackupWriter::finish`] seals the last chunk.
#[derive(Debug)]
pub struct BackupWriter<W: Write> {
    sealed: SealWriter<Hashing<W>>,
}

/// What [`BackupWriter::finish`] wrote.
#[derive(Debug)]
pub struct Written<W> {
    pub out: W,
    /// Lower-case hex SHA-256 of the whole file.
    pub sha256: String,
    pub bytes: u64,
}

impl<W: Write> BackupWriter<W> {
    /// Start a backup file in `out`: marker, `manifest`, and the sealed
    /// body, to which the copy is then written.
    ///
    /// # Errors
    /// `out`'s errors.
    pub fn start(master: &MasterKey, manifest: &Manifest, out: W) -> io::Result<Self> {
        let header = serde_json::to_vec(manifest).map_err(io::Error::other)?;
        let mut out = Hashing::new(out);
        out.write_all(BACKUP.marker)?;
        out.write_all(&header)?;
        out.write_all(b"\n")?;
        let aad = BACKUP.aad(manifest.format, &header, platform());
        Ok(BackupWriter {
            sealed: master.seal_backup_stream(&aad, out)?,
        })
    }

    /// Seal the last chunk; the file is complete.
    ///
    /// # Errors
    /// `out`'s errors.
    pub fn finish(self) -> io::Result<Written<W>> {
        let (out, sha256, bytes) = self.sealed.finish()?.finish();
        Ok(Written { out, sha256, bytes })
    }
}

impl<W: Write> Write for BackupWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.sealed.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sealed.flush()
    }
}

/// Read a backup's marker and manifest from `input` and check that
/// `master` is the key it was sealed under; the reader that opens its body
/// follows. Every byte it yields is authenticated, but a damaged file is
/// only known when the reader reaches its end: act on nothing before then.
///
/// # Errors
/// [`BackupError`]: not a backup, another format, damaged, another key.
pub fn open<R: BufRead>(master: &MasterKey, mut input: R) -> Result<(Manifest, OpenReader<R>), BackupError> {
    let mut marker = vec![0u8; BACKUP.marker.len()];
    input.read_exact(&mut marker).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => BackupError::NotABackup,
        _ => BackupError::Io(e),
    })?;
    let mut header = Vec::new();
    (&mut input).take(MAX_MANIFEST as u64).read_until(b'\n', &mut header)?;
    if header.pop() != Some(b'\n') {
        return Err(BackupError::Damaged("the manifest line is cut off"));
    }
    let mut head = marker;
    head.extend_from_slice(&header);
    head.push(b'\n');
    let frame = BACKUP.split(&head, &[FORMAT])?;
    let manifest: Manifest = frame.header()?;
    let ours = master.fingerprint();
    if manifest.key_fingerprint != ours {
        return Err(BackupError::WrongKey {
            found: manifest.key_fingerprint,
            ours,
        });
    }
    let aad = BACKUP.aad(frame.format, frame.header_bytes, platform());
    let reader = master
        .open_backup_stream(&aad, input)
        .map_err(|_| BackupError::Damaged("the sealed body is cut off"))?;
    Ok((manifest, reader))
}

/// The SHA-256 of the file at `path` as lower-case hex, reporting the bytes
/// read so far to `progress`.
///
/// # Errors
/// IO errors.
pub fn file_sha256(path: &Path, progress: &dyn Fn(u64)) -> io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        done += n as u64;
        progress(done);
    }
    Ok(hex::encode(hash.finalize()))
}

/// A PostgreSQL snapshot held open for `pg_dump --snapshot`: its id and
/// the row counts as of it. Keep it until `pg_dump` has finished, then
/// [`PgSnapshot::end`] it.
pub struct PgSnapshot {
    tx: Tx,
    pub id: String,
    pub counts: BTreeMap<String, i64>,
    pub database_bytes: u64,
}

impl std::fmt::Debug for PgSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSnapshot")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PgSnapshot {
    /// Let the snapshot go (nothing was written in it).
    ///
    /// # Errors
    /// Database errors.
    pub async fn end(self) -> Result<(), AppError> {
        Ok(self.tx.commit().await?)
    }
}

impl App {
    /// Copy the embedded database to `path` (a new file beside the backup
    /// being written) as one consistent snapshot while the server keeps
    /// writing, and count its rows. `None` on PostgreSQL.
    ///
    /// # Errors
    /// Store errors.
    pub async fn sqlite_snapshot(&self, path: &Path) -> Result<Option<BTreeMap<String, i64>>, AppError> {
        if self.store().sqlite_snapshot_into(path).await?.is_none() {
            return Ok(None);
        }
        let copy = velum_store::Store::open_sqlite(
            path,
            &self.master().sqlcipher_key(),
            &self.master().fingerprint(),
            self.master().audit_chain_key(),
        )
        .await?;
        let counts = async {
            let mut tx = copy.begin_read().await?;
            let counts = store::table_counts(&mut tx).await?;
            tx.commit().await?;
            Ok::<_, AppError>(counts)
        }
        .await;
        copy.close().await;
        Ok(Some(counts?))
    }

    /// On PostgreSQL, open a `REPEATABLE READ` transaction, export its
    /// snapshot for `pg_dump` and count every table in it. `None` on SQLite.
    ///
    /// # Errors
    /// Store errors.
    pub async fn pg_snapshot(&self) -> Result<Option<PgSnapshot>, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let Some(id) = store::export_snapshot(&mut tx).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        let counts = store::table_counts(&mut tx).await?;
        let database_bytes = store::pg_database_size(&mut tx).await?;
        Ok(Some(PgSnapshot {
            tx,
            id,
            counts,
            database_bytes,
        }))
    }

    /// Every table's row count now (to compare a restored copy with its
    /// manifest).
    ///
    /// # Errors
    /// Store errors.
    pub async fn table_counts(&self) -> Result<BTreeMap<String, i64>, AppError> {
        let mut tx = self.store().begin_read().await?;
        let counts = store::table_counts(&mut tx).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Open up to `limit` clients' medical summaries, across clinics, with
    /// the key chain (master key, clinic key, client key): proof that a
    /// restored copy is readable, not only present. Returns how many opened.
    ///
    /// # Errors
    /// [`AppError::Integrity`] or a key error for the first one that does
    /// not open; store errors.
    pub async fn sample_decrypt(&self, limit: i64) -> Result<usize, AppError> {
        let mut tx = self.store().begin_read().await?;
        let sample = store::medical_sample(&mut tx, limit).await?;
        let mut opened = 0;
        for (clinic, client) in sample {
            let scope = crate::job_scope(BACKUP_JOB, clinic);
            let Some(row) = velum_store::clients::medical(&mut tx, &scope, client).await? else {
                continue;
            };
            let key = self.client_key(&mut tx, &scope, client).await?;
            crate::clients::open_medical(&key, &scope, client, &row)?;
            opened += 1;
        }
        tx.commit().await?;
        Ok(opened)
    }
}

/// Whether the PostgreSQL database at `url` is empty (no tables), so a
/// restore may go into it. Connects without migrating.
///
/// # Errors
/// A bad URL, an unreachable server, database errors.
pub async fn postgres_is_empty(url: &str) -> Result<bool, AppError> {
    Ok(velum_store::Store::postgres_is_empty(url).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(key: &MasterKey) -> Manifest {
        Manifest {
            format: FORMAT,
            created_at: "2026-01-02T03:04:05Z".into(),
            velum_version: "0.1.0".into(),
            backend: "sqlite".into(),
            source: "/srv/velum".into(),
            content: CONTENT_SQLITE.into(),
            key_fingerprint: key.fingerprint(),
            database_bytes: 3,
            counts: BTreeMap::from([("clients".into(), 2)]),
        }
    }

    fn write(key: &MasterKey, body: &[u8]) -> (Vec<u8>, String) {
        let mut w = BackupWriter::start(key, &manifest(key), Vec::new()).unwrap();
        w.write_all(body).unwrap();
        let written = w.finish().unwrap();
        assert_eq!(written.bytes, written.out.len() as u64);
        (written.out, written.sha256)
    }

    fn read(key: &MasterKey, file: &[u8]) -> Result<(Manifest, Vec<u8>), BackupError> {
        let (m, mut r) = open(key, file)?;
        let mut body = Vec::new();
        r.read_to_end(&mut body)?;
        Ok((m, body))
    }

    #[test]
    fn a_backup_reads_back_with_its_key_and_its_checksum_is_of_the_whole_file() {
        let key = MasterKey::from_bytes(&[3; 32]).unwrap();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (file, sha) = write(&key, &body);
        assert!(file.starts_with(b"VELUM BACKUP\n{\"format\":1,"));
        assert_eq!(sha, hex::encode(Sha256::digest(&file)));
        let (m, got) = read(&key, &file).unwrap();
        assert_eq!(m, manifest(&key));
        assert_eq!(got, body);
    }

    #[test]
    fn another_key_an_edited_manifest_or_a_flipped_byte_is_refused() {
        let key = MasterKey::from_bytes(&[3; 32]).unwrap();
        let (file, _) = write(&key, b"the database");
        let other = MasterKey::from_bytes(&[4; 32]).unwrap();
        assert!(matches!(read(&other, &file), Err(BackupError::WrongKey { .. })));
        let edited = String::from_utf8_lossy(&file).replace("\"clients\":2", "\"clients\":3");
        // The body's bytes are not UTF-8; edit the header only.
        let at = file.iter().skip(13).position(|&b| b == b'\n').unwrap() + 14;
        let mut tampered = edited.as_bytes()[..at].to_vec();
        tampered.extend_from_slice(&file[at..]);
        assert!(read(&key, &tampered).is_err(), "an edited manifest must not open");
        let mut flipped = file.clone();
        let last = flipped.len() - 5;
        flipped[last] ^= 1;
        assert!(read(&key, &flipped).is_err(), "a flipped byte must not open");
        assert!(matches!(
            read(&key, b"VELUM CLINIC EXPORT\n{}\n"),
            Err(BackupError::NotABackup)
        ));
    }
}
