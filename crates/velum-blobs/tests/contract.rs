//! The blob store contract, run on every backend: the local directory
//! always, and S3 whenever `VELUM_TEST_S3_URL` is set (start a throwaway
//! server with `eval "$(scripts/moto)"`). Without it the S3 tests print a
//! `SKIPPED: S3 …` line and pass, unless `CI` is set: then they fail.
//!
//! Each S3 test makes its own randomly named bucket, so tests can run in
//! parallel against one server and never see each other's objects.

use std::path::Path;

use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;
use velum_blobs::{BlobError, BlobId, BlobStore, Usage};
use velum_core::id::{ClientId, ClinicId};
use velum_crypto::seal::OVERHEAD;
use velum_crypto::{ClientKey, CryptoError};

/// One store under test, and the directory behind it if it is local.
struct Target {
    store: BlobStore,
    dir: Option<TempDir>,
}

impl Target {
    fn local() -> Target {
        let dir = tempfile::tempdir().expect("temp dir");
        // A directory that does not exist yet: `open` creates it.
        let root = dir.path().join("blobs");
        let store = BlobStore::open(root.to_str().expect("utf-8 temp path")).expect("open local store");
        Target { store, dir: Some(dir) }
    }

    /// `None` (after saying so on stderr) when no S3 server is configured.
    async fn s3(test: &str) -> Option<Target> {
        let Some(base) = s3_url() else {
            assert!(
                !under_ci(),
                "S3 {test}: VELUM_TEST_S3_URL is not set and CI is: CI must run every S3 test"
            );
            eprintln!(
                "SKIPPED: S3 {test}: VELUM_TEST_S3_URL is not set (start a server with: eval \"$(scripts/moto)\")"
            );
            return None;
        };
        let mut url = url::Url::parse(&base).expect("VELUM_TEST_S3_URL must be an s3:// URL");
        let bucket = format!("velum-test-{}", Uuid::new_v4().simple());
        url.set_host(Some(&bucket)).expect("bucket name is a valid host");
        let has = |name: &str| url.query_pairs().any(|(k, _)| k == name);
        let region = url
            .query_pairs()
            .find(|(k, _)| k == "region")
            .map(|(_, v)| v.into_owned());
        let endpoint = url
            .query_pairs()
            .find(|(k, _)| k == "endpoint")
            .map(|(_, v)| v.into_owned())
            .expect("VELUM_TEST_S3_URL needs ?endpoint=http://host:port");
        // moto accepts any credentials but wants some. They go in the URL,
        // not the process environment, which the tests share.
        if !has("access_key_id") {
            url.query_pairs_mut()
                .append_pair("access_key_id", "test")
                .append_pair("secret_access_key", "test");
        }
        create_bucket(&endpoint, &bucket, region.as_deref()).await;
        let store = BlobStore::open(url.as_str()).expect("open S3 store");
        Some(Target { store, dir: None })
    }
}

/// Whether the tests run under CI (`CI` set to any non-empty value).
#[expect(clippy::disallowed_methods, reason = "the tests read their own settings")]
fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty())
}

/// The S3 server tests may use, if any.
#[expect(clippy::disallowed_methods, reason = "the tests read their own settings")]
fn s3_url() -> Option<String> {
    std::env::var("VELUM_TEST_S3_URL").ok().filter(|url| !url.is_empty())
}

/// `PUT /bucket` over plain HTTP/1.1. object_store cannot create buckets,
/// and test servers (moto, MinIO in its default setup) accept an unsigned
/// create on loopback. A whole HTTP client would be a large dependency for
/// one request.
async fn create_bucket(endpoint: &str, bucket: &str, region: Option<&str>) {
    let endpoint = url::Url::parse(endpoint).expect("endpoint is a URL");
    assert_eq!(
        endpoint.scheme(),
        "http",
        "the test helper creates buckets over plain http only (a loopback test server)"
    );
    let host = endpoint.host_str().expect("endpoint has a host");
    let port = endpoint.port_or_known_default().expect("endpoint has a port");
    // Outside us-east-1, S3 wants the region in the body.
    let body = match region {
        Some(r) if r != "us-east-1" => format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{r}</LocationConstraint></CreateBucketConfiguration>"
        ),
        _ => String::new(),
    };
    let request = format!(
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect((host, port))
        .await
        .unwrap_or_else(|e| panic!("cannot reach the S3 test server at {host}:{port}: {e}"));
    stream.write_all(request.as_bytes()).await.expect("send PUT bucket");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read PUT bucket reply");
    let response = String::from_utf8_lossy(&response);
    let status = response.lines().next().unwrap_or_default();
    assert!(
        status.starts_with("HTTP/1.1 200") || status.starts_with("HTTP/1.0 200"),
        "creating bucket {bucket} failed: {status}"
    );
}

/// Ids for one test: two clinics, each with two clients.
struct Ids {
    clinic: ClinicId,
    other_clinic: ClinicId,
    client: ClientId,
    other_client: ClientId,
}

fn ids() -> Ids {
    Ids {
        clinic: ClinicId::new(),
        other_clinic: ClinicId::new(),
        client: ClientId::new(),
        other_client: ClientId::new(),
    }
}

/// Distinctive, non-repeating content, so a search for it in the stored
/// bytes cannot match by chance.
fn photo(len: usize) -> Vec<u8> {
    let mut bytes = b"CANARY-PHOTO-velum-blob-plaintext:".to_vec();
    let mut x: u32 = 0x1234_5678;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn round_trip(t: &Target) {
    let Ids { clinic, client, .. } = ids();
    let key = ClientKey::generate();
    for len in [0, 1, 4096, 1 << 20] {
        let blob = BlobId::new();
        let content = photo(len);
        t.store.put(clinic, client, blob, &content, &key).await.unwrap();
        assert_eq!(
            t.store.get(clinic, client, blob, &key).await.unwrap(),
            content,
            "{len} bytes"
        );
    }
    // Writing the same identity again replaces the blob.
    let blob = BlobId::new();
    t.store.put(clinic, client, blob, b"first", &key).await.unwrap();
    t.store.put(clinic, client, blob, b"second", &key).await.unwrap();
    assert_eq!(t.store.get(clinic, client, blob, &key).await.unwrap(), b"second");
}

async fn missing_blobs_are_not_found(t: &Target) {
    let Ids { clinic, client, .. } = ids();
    let err = t
        .store
        .get(clinic, client, BlobId::new(), &ClientKey::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::NotFound), "{err:?}");
}

async fn wrong_identity_or_key_fails(t: &Target) {
    let Ids {
        clinic,
        other_clinic,
        client,
        other_client,
    } = ids();
    let key = ClientKey::generate();
    let blob = BlobId::new();
    t.store.put(clinic, client, blob, &photo(300), &key).await.unwrap();
    let sealed = t.store.read_sealed(clinic, client, blob).await.unwrap();

    // The same bytes moved to another client, clinic or blob id do not open,
    // even with the very key that sealed them.
    let other_blob = BlobId::new();
    for (c, p, b) in [
        (clinic, other_client, blob),
        (other_clinic, client, blob),
        (clinic, client, other_blob),
        (other_clinic, other_client, other_blob),
    ] {
        t.store.write_sealed(c, p, b, sealed.clone()).await.unwrap();
        let err = t.store.get(c, p, b, &key).await.unwrap_err();
        assert!(matches!(err, BlobError::Crypto(CryptoError::WrongKey)), "{err:?}");
    }

    // Another client's key (or a crypto-shredded client's) opens nothing.
    let err = t
        .store
        .get(clinic, client, blob, &ClientKey::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Crypto(CryptoError::WrongKey)), "{err:?}");
    // And the original still opens.
    assert_eq!(t.store.get(clinic, client, blob, &key).await.unwrap(), photo(300));
}

async fn tampered_bytes_fail(t: &Target) {
    let Ids { clinic, client, .. } = ids();
    let key = ClientKey::generate();
    let blob = BlobId::new();
    t.store.put(clinic, client, blob, &photo(100), &key).await.unwrap();
    let sealed = t.store.read_sealed(clinic, client, blob).await.unwrap();
    assert_eq!(sealed.len(), 100 + OVERHEAD);

    // One flipped bit anywhere: version byte, nonce, ciphertext, tag.
    for i in [0, 1, 12, 13, 50, sealed.len() - 1] {
        let mut altered = sealed.clone();
        altered[i] ^= 0x01;
        t.store.write_sealed(clinic, client, blob, altered).await.unwrap();
        let err = t.store.get(clinic, client, blob, &key).await.unwrap_err();
        assert!(matches!(err, BlobError::Crypto(_)), "byte {i}: {err:?}");
    }
    // Truncated, and emptied.
    for cut in [sealed.len() - 1, 20, 0] {
        t.store
            .write_sealed(clinic, client, blob, sealed[..cut].to_vec())
            .await
            .unwrap();
        let err = t.store.get(clinic, client, blob, &key).await.unwrap_err();
        assert!(matches!(err, BlobError::Crypto(_)), "cut at {cut}: {err:?}");
    }
    // Putting the original bytes back makes it open again: nothing else changed.
    t.store.write_sealed(clinic, client, blob, sealed).await.unwrap();
    assert_eq!(t.store.get(clinic, client, blob, &key).await.unwrap(), photo(100));
}

async fn delete_removes_one_blob(t: &Target) {
    let Ids { clinic, client, .. } = ids();
    let key = ClientKey::generate();
    let (gone, kept) = (BlobId::new(), BlobId::new());
    t.store.put(clinic, client, gone, b"to delete", &key).await.unwrap();
    t.store.put(clinic, client, kept, b"to keep", &key).await.unwrap();

    t.store.delete(clinic, client, gone).await.unwrap();
    let err = t.store.get(clinic, client, gone, &key).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound), "{err:?}");
    assert_eq!(t.store.get(clinic, client, kept, &key).await.unwrap(), b"to keep");
    // Deleting again, or something never stored, is not an error.
    t.store.delete(clinic, client, gone).await.unwrap();
    t.store.delete(clinic, client, BlobId::new()).await.unwrap();
}

async fn delete_clinic_leaves_other_clinics(t: &Target) {
    let Ids {
        clinic,
        other_clinic,
        client,
        other_client,
    } = ids();
    let key = ClientKey::generate();
    let mut offboarded = Vec::new();
    for (p, n) in [(client, 2), (other_client, 1)] {
        for _ in 0..n {
            let blob = BlobId::new();
            t.store.put(clinic, p, blob, b"offboarded", &key).await.unwrap();
            offboarded.push((p, blob));
        }
    }
    // The other clinic has a client with the same id (ids are unique in
    // practice, but the clinic must be what separates them).
    let kept = BlobId::new();
    t.store.put(other_clinic, client, kept, b"stays", &key).await.unwrap();

    assert_eq!(t.store.delete_clinic(clinic).await.unwrap(), 3);
    for (p, blob) in offboarded {
        let err = t.store.get(clinic, p, blob, &key).await.unwrap_err();
        assert!(matches!(err, BlobError::NotFound), "{err:?}");
    }
    assert_eq!(t.store.usage(clinic).await.unwrap(), Usage::default());
    assert_eq!(t.store.get(other_clinic, client, kept, &key).await.unwrap(), b"stays");
    assert_eq!(
        t.store.usage(other_clinic).await.unwrap(),
        Usage {
            objects: 1,
            bytes: (b"stays".len() + OVERHEAD) as u64
        }
    );
    // Again, on an empty (or unknown) clinic: nothing to do.
    assert_eq!(t.store.delete_clinic(clinic).await.unwrap(), 0);
    assert_eq!(t.store.delete_clinic(ClinicId::new()).await.unwrap(), 0);

    if let Some(dir) = &t.dir {
        // The local directory keeps no empty client directories behind.
        let root = dir.path().join("blobs/clinics").join(clinic.to_string());
        assert!(
            !root.join("clients").join(client.to_string()).exists(),
            "an offboarded client's directory is left behind"
        );
    }
}

async fn list_clinic_names_every_blob_of_the_clinic_only(t: &Target) {
    let Ids {
        clinic,
        other_clinic,
        client,
        other_client,
    } = ids();
    let key = ClientKey::generate();
    let mut expected = Vec::new();
    for p in [client, other_client, client] {
        let blob = BlobId::new();
        t.store.put(clinic, p, blob, b"listed", &key).await.unwrap();
        expected.push((p, blob));
    }
    t.store
        .put(other_clinic, client, BlobId::new(), b"not listed", &key)
        .await
        .unwrap();
    expected.sort();
    assert_eq!(t.store.list_clinic(clinic).await.unwrap(), (expected, 0));
    assert_eq!(t.store.list_clinic(ClinicId::new()).await.unwrap(), (Vec::new(), 0));
}

async fn usage_counts_objects_and_stored_bytes(t: &Target) {
    let Ids {
        clinic,
        other_clinic,
        client,
        other_client,
    } = ids();
    let key = ClientKey::generate();
    assert_eq!(t.store.usage(clinic).await.unwrap(), Usage::default());

    let (a, b, c) = (BlobId::new(), BlobId::new(), BlobId::new());
    t.store.put(clinic, client, a, &photo(1000), &key).await.unwrap();
    t.store.put(clinic, other_client, b, &photo(24), &key).await.unwrap();
    t.store.put(other_clinic, client, c, &photo(5000), &key).await.unwrap();
    assert_eq!(
        t.store.usage(clinic).await.unwrap(),
        Usage {
            objects: 2,
            bytes: (1000 + 24 + 2 * OVERHEAD) as u64
        }
    );
    assert_eq!(
        t.store.usage(other_clinic).await.unwrap(),
        Usage {
            objects: 1,
            bytes: (5000 + OVERHEAD) as u64
        }
    );

    // Replacing a blob does not count it twice; deleting one stops counting it.
    t.store.put(clinic, client, a, &photo(10), &key).await.unwrap();
    t.store.delete(clinic, other_client, b).await.unwrap();
    assert_eq!(
        t.store.usage(clinic).await.unwrap(),
        Usage {
            objects: 1,
            bytes: (10 + OVERHEAD) as u64
        }
    );
}

async fn stored_bytes_never_contain_the_plaintext(t: &Target) {
    let Ids { clinic, client, .. } = ids();
    let key = ClientKey::generate();
    let content = photo(64 * 1024);
    let canary = &content[..32];
    let blob = BlobId::new();
    t.store.put(clinic, client, blob, &content, &key).await.unwrap();
    // The same content twice gives different stored bytes (random nonces).
    let twin = BlobId::new();
    t.store.put(clinic, client, twin, &content, &key).await.unwrap();

    let sealed = t.store.read_sealed(clinic, client, blob).await.unwrap();
    assert!(!contains(&sealed, canary), "the stored blob holds plaintext");
    assert_ne!(
        sealed[1..],
        t.store.read_sealed(clinic, client, twin).await.unwrap()[1..]
    );

    if let Some(dir) = &t.dir {
        // Every file under the root, including any temporary file left by a
        // write, holds ciphertext only, and every path is made of ids.
        let mut files = 0;
        walk(dir.path(), &mut |path| {
            files += 1;
            let bytes = std::fs::read(path).unwrap();
            assert!(!contains(&bytes, canary), "{} holds plaintext", path.display());
            let relative = path.strip_prefix(dir.path().join("blobs")).unwrap();
            for part in relative.iter() {
                let part = part.to_str().unwrap();
                assert!(
                    part == "clinics" || part == "clients" || Uuid::parse_str(part).is_ok(),
                    "path part {part:?} is not an id"
                );
            }
        });
        assert_eq!(files, 2);
    }
}

fn walk(dir: &Path, visit: &mut impl FnMut(&Path)) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, visit);
        } else {
            visit(&path);
        }
    }
}

/// One test per backend for each contract function above.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::Target::local()).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(target) = super::Target::s3(stringify!($name)).await else {
                        return;
                    };
                    super::$name(&target).await;
                }
            )*
        }
    };
}

contract!(
    round_trip,
    missing_blobs_are_not_found,
    wrong_identity_or_key_fails,
    tampered_bytes_fail,
    delete_removes_one_blob,
    delete_clinic_leaves_other_clinics,
    list_clinic_names_every_blob_of_the_clinic_only,
    usage_counts_objects_and_stored_bytes,
    stored_bytes_never_contain_the_plaintext,
);

#[test]
fn a_bad_location_names_the_setting() {
    for bad in ["", "relative/dir", "ftp://host/dir", "s3://?endpoint=http://x"] {
        let err = BlobStore::open(bad).unwrap_err();
        assert!(err.to_string().starts_with("VELUM_BLOB_URL (--blob-url): "), "{err}");
    }
}
