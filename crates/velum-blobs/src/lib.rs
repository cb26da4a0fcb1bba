//! Velum's blob storage: client photos, signed consent PDFs and attachments.
//!
//! What this crate owns:
//!
//! - [`BlobStore`], opened from the `VELUM_BLOB_URL` / `--blob-url` setting:
//!   a local directory (the default for the embedded install) or an
//!   S3-compatible bucket (cargo feature `s3`, on by default);
//! - sealing before writing: every blob is encrypted with the client's data
//!   key (AES-256-GCM, [`velum_crypto::ClientKey`]) with its identity
//!   (clinic, client, blob id) as associated data, so the store only ever
//!   holds ciphertext, a blob copied onto another identity does not open, and
//!   erasing the client's key crypto-shreds their blobs too, in every backup;
//! - object names made of ids only:
//!   `clinics/<clinic uuid>/clients/<client uuid>/<blob uuid>`. Nothing
//!   personal (names, file names, content types) is ever part of a path, a
//!   log line or an error;
//! - clinic-wide operations for the hosted operator: [`BlobStore::usage`]
//!   and [`BlobStore::delete_clinic`] (offboarding).
//!
//! What it does not own: which blobs exist and what they are (their kind,
//! file name, content type and audit events live in the database, through
//! `velum-store` and `velum-app`), and policy (callers check the actor may
//! see photos before asking for one). It depends on `velum-core` and
//! `velum-crypto` only, never on the store, the app or the web layer.
//!
//! Each blob is sealed as one AES-GCM message, so it is held in memory whole
//! while being written or read; this suits photos and PDFs of a few MB.

mod location;

use std::fmt;
use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use uuid::Uuid;
use velum_core::id::{ClientId, ClinicId, InvalidId};
use velum_crypto::{Aad, ClientKey, CryptoError};

use crate::location::Location;

/// The associated-data label of a sealed blob.
///
/// **NEVER CHANGE IT**, nor the order of the ids in [`blob_aad`]: both are
/// bound into every stored blob, and any change makes all of them unreadable.
const AAD_KIND: &str = "client.blob/v1";

/// One stored blob (a photo, a signed PDF, an attachment). Like every Velum
/// id it is a UUID v7, made by the app.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(Uuid);

impl BlobId {
    /// A new, time-ordered id (UUID v7).
    #[must_use]
    pub fn new() -> BlobId {
        BlobId(Uuid::now_v7())
    }

    #[must_use]
    pub const fn from_uuid(uuid: Uuid) -> BlobId {
        BlobId(uuid)
    }

    #[must_use]
    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl Default for BlobId {
    fn default() -> Self {
        BlobId::new()
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.0)
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for BlobId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(BlobId).map_err(|_| InvalidId)
    }
}

/// What can go wrong. Messages carry ids and the rule that failed, never
/// blob contents or credentials.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The location setting is wrong; the message says how.
    #[error("VELUM_BLOB_URL (--blob-url): {0}")]
    BadLocation(String),
    /// No blob is stored under this identity.
    #[error("blob not found")]
    NotFound,
    /// The stored bytes do not open with this key and identity: the wrong
    /// client key (or a crypto-shredded client), bytes moved from another
    /// identity, or altered bytes.
    #[error("blob cannot be opened: {0}")]
    Crypto(#[from] CryptoError),
    /// The object store failed (I/O error, network, permissions, missing
    /// bucket). Object names in the message are ids only.
    #[error("blob storage error: {0}")]
    Storage(#[source] object_store::Error),
}

impl From<object_store::Error> for BlobError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound,
            other => BlobError::Storage(other),
        }
    }
}

/// What one clinic stores, for the hosted operator's usage page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Number of blobs.
    pub objects: u64,
    /// Bytes as stored, i.e. sealed: each blob's plaintext plus
    /// [`velum_crypto::seal::OVERHEAD`] bytes.
    pub bytes: u64,
}

/// Where blobs are kept. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// For `Debug`: the kind of store and where, never credentials.
    describe: Arc<str>,
    /// Over the network (S3), not a local directory.
    remote: bool,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BlobStore").field(&self.describe).finish()
    }
}

/// The associated data of one blob: its full identity, outermost first.
fn blob_aad(clinic: ClinicId, client: ClientId, blob: BlobId) -> Aad {
    Aad::record(AAD_KIND, &[clinic.as_uuid(), client.as_uuid(), blob.as_uuid()])
}

fn clinic_prefix(clinic: ClinicId) -> ObjectPath {
    ObjectPath::from_iter(["clinics".to_owned(), clinic.to_string()])
}

/// `clinics/<clinic>/clients/<client>/<blob>`: ids only, hyphenated lower-case
/// UUIDs, so every part is a valid object-store and file name.
fn object_path(clinic: ClinicId, client: ClientId, blob: BlobId) -> ObjectPath {
    ObjectPath::from_iter([
        "clinics".to_owned(),
        clinic.to_string(),
        "clients".to_owned(),
        client.to_string(),
        blob.to_string(),
    ])
}

impl BlobStore {
    /// Is the store reached over the network (S3) rather than a local
    /// directory? A caller holding the one SQLite connection must not wait
    /// on it.
    #[must_use]
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// Open the store named by the `VELUM_BLOB_URL` / `--blob-url` setting:
    /// `/abs/dir`, `file:///abs/dir` (created if missing), or
    /// `s3://bucket[/prefix]?endpoint=…&region=…&access_key_id=…&secret_access_key=…&session_token=…`
    /// (every parameter optional). S3 credentials and settings not in the
    /// URL come from the standard `AWS_*` environment variables; the URL's
    /// win. `http://` endpoints are allowed (for test servers on loopback);
    /// requests are path-style (`endpoint/bucket/key`).
    ///
    /// Apart from creating a missing local directory, nothing is read or
    /// written yet: a missing bucket, wrong credentials or an unreachable
    /// server show up on the first operation. (object_store retries
    /// transient S3 failures with backoff for up to about three minutes.)
    ///
    /// # Errors
    /// [`BlobError::BadLocation`] naming the setting and what is wrong with
    /// it; [`BlobError::Storage`] if the local directory cannot be created.
    pub fn open(location: &str) -> Result<BlobStore, BlobError> {
        match Location::parse(location)? {
            Location::Local(dir) => {
                std::fs::create_dir_all(&dir).map_err(|e| {
                    BlobError::BadLocation(format!("the local directory cannot be created ({})", e.kind()))
                })?;
                let store = LocalFileSystem::new_with_prefix(&dir)?
                    // Deleting a client's last blob removes their now-empty
                    // directory, so offboarding leaves nothing behind.
                    .with_automatic_cleanup(true)
                    // A photo or a signed consent form must survive a power
                    // cut once `put` has returned, as it would on S3.
                    .with_fsync(true);
                Ok(BlobStore {
                    inner: Arc::new(store),
                    describe: format!("local directory {}", dir.display()).into(),
                    remote: false,
                })
            }
            Location::S3(s3) => open_s3(s3),
        }
    }

    /// Seal `plaintext` with `key` and store it as `blob` of `client` of
    /// `clinic`, replacing any blob stored under the same identity.
    ///
    /// # Errors
    /// [`BlobError::Storage`] if the write fails.
    pub async fn put(
        &self,
        clinic: ClinicId,
        client: ClientId,
        blob: BlobId,
        plaintext: &[u8],
        key: &ClientKey,
    ) -> Result<(), BlobError> {
        let sealed = key.seal(plaintext, &blob_aad(clinic, client, blob));
        self.write_sealed(clinic, client, blob, sealed).await
    }

    /// Read and open `blob` of `client` of `clinic`.
    ///
    /// # Errors
    /// [`BlobError::NotFound`] if nothing is stored there;
    /// [`BlobError::Crypto`] if the bytes do not open with `key` for this
    /// identity (wrong key, moved from another identity, or altered);
    /// [`BlobError::Storage`] if the read fails.
    pub async fn get(
        &self,
        clinic: ClinicId,
        client: ClientId,
        blob: BlobId,
        key: &ClientKey,
    ) -> Result<Vec<u8>, BlobError> {
        let sealed = self.read_sealed(clinic, client, blob).await?;
        Ok(key.open(&sealed, &blob_aad(clinic, client, blob))?)
    }

    /// Delete one blob. Deleting a blob that is not there is not an error
    /// (S3 does not say either way, so neither does the local directory).
    ///
    /// # Errors
    /// [`BlobError::Storage`] if the delete fails.
    pub async fn delete(&self, clinic: ClinicId, client: ClientId, blob: BlobId) -> Result<(), BlobError> {
        match self.inner.delete(&object_path(clinic, client, blob)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Storage(e)),
        }
    }

    /// Delete every blob of `clinic` (offboarding). Other clinics' blobs are
    /// untouched. Returns how many objects were deleted. If it fails half-way,
    /// running it again finishes the job.
    ///
    /// # Errors
    /// [`BlobError::Storage`] if listing or deleting fails.
    pub async fn delete_clinic(&self, clinic: ClinicId) -> Result<u64, BlobError> {
        let prefix = clinic_prefix(clinic);
        let paths = self.inner.list(Some(&prefix)).map_ok(|meta| meta.location).boxed();
        let mut deleted = self.inner.delete_stream(paths);
        let mut count = 0;
        loop {
            match deleted.try_next().await {
                Ok(Some(_)) => count += 1,
                Ok(None) => return Ok(count),
                // Gone already (a concurrent delete): the goal is met.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(BlobError::Storage(e)),
            }
        }
    }

    /// Every blob `clinic` stores, as (client, blob) ids, sorted: for the
    /// clinic's offboarding archive, which carries each blob opened. An
    /// object under the clinic whose name this crate would not write (a
    /// stray file in a local directory) is skipped and counted in the second
    /// value, so it cannot stop an offboarding; `delete_clinic` removes it.
    ///
    /// # Errors
    /// [`BlobError::Storage`] if listing fails.
    pub async fn list_clinic(&self, clinic: ClinicId) -> Result<(Vec<(ClientId, BlobId)>, u64), BlobError> {
        let prefix = clinic_prefix(clinic);
        let paths: Vec<ObjectPath> = self
            .inner
            .list(Some(&prefix))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        let mut ids = Vec::with_capacity(paths.len());
        let mut stray = 0;
        for path in paths {
            let parts: Vec<String> = path.parts().map(|p| p.as_ref().to_owned()).collect();
            let parsed = match parts.as_slice() {
                [c, clinic_part, k, client, blob]
                    if c == "clinics" && k == "clients" && *clinic_part == clinic.to_string() =>
                {
                    client.parse::<ClientId>().ok().zip(blob.parse::<BlobId>().ok())
                }
                _ => None,
            };
            match parsed {
                Some(id) => ids.push(id),
                None => stray += 1,
            }
        }
        ids.sort();
        Ok((ids, stray))
    }

    /// How many blobs `clinic` stores and how many bytes they take as stored.
    /// Lists the clinic's objects, so it costs one request per thousand
    /// objects on S3: cache it for a busy page.
    ///
    /// # Errors
    /// [`BlobError::Storage`] if listing fails.
    pub async fn usage(&self, clinic: ClinicId) -> Result<Usage, BlobError> {
        let prefix = clinic_prefix(clinic);
        self.inner
            .list(Some(&prefix))
            .map_err(BlobError::from)
            .try_fold(Usage::default(), |usage, meta| async move {
                Ok(Usage {
                    objects: usage.objects + 1,
                    bytes: usage.bytes + meta.size,
                })
            })
            .await
    }

    /// The stored (sealed) bytes of a blob, as they are, without opening
    /// them. For copying blobs between stores (local directory to S3) without
    /// ever decrypting them, and for checking what the store really holds.
    ///
    /// # Errors
    /// [`BlobError::NotFound`] or [`BlobError::Storage`].
    pub async fn read_sealed(&self, clinic: ClinicId, client: ClientId, blob: BlobId) -> Result<Vec<u8>, BlobError> {
        let result = self.inner.get(&object_path(clinic, client, blob)).await?;
        Ok(result.bytes().await?.to_vec())
    }

    /// Store already-sealed bytes as they are (the other half of
    /// [`BlobStore::read_sealed`]). Bytes sealed for another identity will
    /// not open here: [`BlobStore::get`] refuses them.
    ///
    /// # Errors
    /// [`BlobError::Storage`] if the write fails.
    pub async fn write_sealed(
        &self,
        clinic: ClinicId,
        client: ClientId,
        blob: BlobId,
        sealed: Vec<u8>,
    ) -> Result<(), BlobError> {
        self.inner
            .put(&object_path(clinic, client, blob), PutPayload::from(sealed))
            .await?;
        Ok(())
    }
}

/// A stored object read back as it arrives, in the store's own pieces.
pub type ByteStream = futures_util::stream::BoxStream<'static, Result<bytes::Bytes, BlobError>>;

/// `bytes` already in memory, as a [`ByteStream`] of one piece.
#[must_use]
pub fn byte_stream_of(bytes: Vec<u8>) -> ByteStream {
    futures_util::stream::once(async move { Ok(bytes::Bytes::from(bytes)) }).boxed()
}

/// Read a whole [`ByteStream`] into memory (for small objects and tests).
///
/// # Errors
/// The stream's first error.
pub async fn collect(mut stream: ByteStream) -> Result<Vec<u8>, BlobError> {
    let mut out = Vec::new();
    while let Some(piece) = stream.try_next().await? {
        out.extend_from_slice(&piece);
    }
    Ok(out)
}

/// How much of a file [`BlobStore::put_archive`] reads at a time.
const ARCHIVE_READ: usize = 1 << 20;

/// `offboarding-archives/<clinic>/<archive>`: outside `clinics/<clinic>/`,
/// so deleting an offboarded clinic's blobs leaves its waiting archive.
fn archive_path(clinic: ClinicId, archive: BlobId) -> ObjectPath {
    ObjectPath::from_iter([
        "offboarding-archives".to_owned(),
        clinic.to_string(),
        archive.to_string(),
    ])
}

impl BlobStore {
    /// Store an offboarding archive (already sealed to its owner) read from
    /// `file` to its end, as a multipart upload of a few MiB a part (on S3;
    /// a local directory writes it to a staging file and renames it), so
    /// the archive is never whole in memory.
    ///
    /// # Errors
    /// [`BlobError::Storage`] if reading `file` or the upload fails (the
    /// upload is then aborted).
    pub async fn put_archive(
        &self,
        clinic: ClinicId,
        archive: BlobId,
        mut file: impl std::io::Read + Send,
    ) -> Result<(), BlobError> {
        let upload = self.inner.put_multipart(&archive_path(clinic, archive)).await?;
        let mut writer = object_store::WriteMultipart::new(upload);
        let mut buf = vec![0u8; ARCHIVE_READ];
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _aborted = writer.abort().await;
                    return Err(BlobError::Storage(object_store::Error::Generic {
                        store: "archive file",
                        source: Box::new(e),
                    }));
                }
            };
            // At most two parts in flight: memory stays a few parts' worth.
            if let Err(e) = writer.wait_for_capacity(2).await {
                let _aborted = writer.abort().await;
                return Err(e.into());
            }
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// An offboarding archive stored by [`BlobStore::put_archive`], as it is
    /// read from the store.
    ///
    /// # Errors
    /// [`BlobError::NotFound`] or [`BlobError::Storage`].
    pub async fn get_archive(&self, clinic: ClinicId, archive: BlobId) -> Result<ByteStream, BlobError> {
        let result = self.inner.get(&archive_path(clinic, archive)).await?;
        Ok(result.into_stream().map_err(BlobError::from).boxed())
    }

    /// Delete an offboarding archive. One that is not there is not an error.
    ///
    /// # Errors
    /// [`BlobError::Storage`] if the delete fails.
    pub async fn delete_archive(&self, clinic: ClinicId, archive: BlobId) -> Result<(), BlobError> {
        match self.inner.delete(&archive_path(clinic, archive)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Storage(e)),
        }
    }
}

#[cfg(feature = "s3")]
fn open_s3(s3: location::S3Location) -> Result<BlobStore, BlobError> {
    use object_store::aws::AmazonS3Builder;
    use object_store::prefix::PrefixStore;

    install_crypto_provider();
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        // Path-style requests (`endpoint/bucket/key`): what MinIO, moto,
        // Ceph and most S3-compatible servers expect; AWS accepts it too.
        .with_virtual_hosted_style_request(false);
    if let Some(endpoint) = &s3.endpoint {
        builder = builder
            .with_allow_http(endpoint.starts_with("http://"))
            .with_endpoint(endpoint);
    }
    if let Some(region) = &s3.region {
        builder = builder.with_region(region);
    }
    if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
        builder = builder.with_access_key_id(id).with_secret_access_key(secret);
    }
    if let Some(token) = &s3.session_token {
        builder = builder.with_token(token);
    }
    // The builder's errors name its own settings (e.g. a missing region);
    // they do not echo credentials.
    let store = builder
        .build()
        .map_err(|e| BlobError::BadLocation(format!("not usable for S3: {e}")))?;
    let describe = format!(
        "S3 bucket {}{}{} at {}",
        s3.bucket,
        if s3.prefix.is_empty() { "" } else { "/" },
        s3.prefix,
        s3.endpoint.as_deref().unwrap_or("the AWS default endpoint")
    );
    let inner: Arc<dyn ObjectStore> = if s3.prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, s3.prefix.as_str()))
    };
    Ok(BlobStore {
        inner,
        describe: describe.into(),
        remote: true,
    })
}

#[cfg(not(feature = "s3"))]
fn open_s3(_: location::S3Location) -> Result<BlobStore, BlobError> {
    Err(BlobError::BadLocation(
        "s3:// needs S3 support, and this Velum was built without it (cargo feature `s3` of velum-blobs)".into(),
    ))
}

/// Install one process-wide rustls `CryptoProvider`, once.
///
/// object_store's reqwest is built with `rustls-no-provider`, so it uses the
/// process-wide provider: ring, the one sqlx and lettre use too (keeping
/// aws-lc-rs out of the build avoids the two-provider panic of
/// shared/STACK.md pitfall 6.1). If `main` or a test harness installed a
/// provider already, that one stays: `install_default` fails and we ignore it.
#[cfg(feature = "s3")]
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_are_ids_only() {
        let clinic = ClinicId::from_uuid(Uuid::from_u128(1));
        let client = ClientId::from_uuid(Uuid::from_u128(2));
        let blob = BlobId::from_uuid(Uuid::from_u128(3));
        assert_eq!(
            object_path(clinic, client, blob).as_ref(),
            "clinics/00000000-0000-0000-0000-000000000001/clients/00000000-0000-0000-0000-000000000002/\
             00000000-0000-0000-0000-000000000003"
        );
        assert!(object_path(clinic, client, blob).prefix_matches(&clinic_prefix(clinic)));
    }

    #[test]
    fn blob_aad_is_pinned() {
        // Stored format: if this fails, existing blobs no longer open.
        // Do not update the expected value; revert the change.
        let aad = blob_aad(
            ClinicId::from_uuid(Uuid::from_u128(1)),
            ClientId::from_uuid(Uuid::from_u128(2)),
            BlobId::from_uuid(Uuid::from_u128(3)),
        );
        let expected = Aad::record(
            "client.blob/v1",
            &[Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)],
        );
        assert_eq!(aad, expected);
    }

    /// An archive is uploaded from a file larger than one read and one
    /// part, read back as stored, kept apart from the clinic's blobs, and
    /// deleted.
    #[tokio::test]
    async fn archives_upload_from_a_file_stream_back_and_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().to_str().unwrap()).unwrap();
        let clinic = ClinicId::from_uuid(Uuid::from_u128(1));
        let id = BlobId::from_uuid(Uuid::from_u128(7));
        let bytes: Vec<u8> = (0..(6 << 20) + 123).map(|i| (i % 251) as u8).collect();
        store.put_archive(clinic, id, &bytes[..]).await.unwrap();
        let stream = store.get_archive(clinic, id).await.unwrap();
        assert_eq!(collect(stream).await.unwrap(), bytes);
        assert_eq!(
            store.delete_clinic(clinic).await.unwrap(),
            0,
            "not under the clinic's prefix"
        );
        assert!(store.get_archive(clinic, id).await.is_ok());
        store.delete_archive(clinic, id).await.unwrap();
        assert!(matches!(store.get_archive(clinic, id).await, Err(BlobError::NotFound)));
        store.delete_archive(clinic, id).await.unwrap();
    }

    #[test]
    fn blob_ids_parse_only_uuids() {
        let id = BlobId::new();
        assert_eq!(id.to_string().parse::<BlobId>(), Ok(id));
        assert_eq!("../x".parse::<BlobId>(), Err(InvalidId));
    }

    #[test]
    fn debug_shows_where_but_no_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().to_str().unwrap()).unwrap();
        assert!(format!("{store:?}").contains("local directory"));
        #[cfg(feature = "s3")]
        {
            let store = BlobStore::open(
                "s3://b/p?endpoint=http://127.0.0.1:1&region=eu-west-2&access_key_id=AKIAXYZ&secret_access_key=hunter2",
            )
            .unwrap();
            let debug = format!("{store:?}");
            assert_eq!(debug, "BlobStore(\"S3 bucket b/p at http://127.0.0.1:1\")");
        }
    }
}
