//! Parsing the blob location setting (`VELUM_BLOB_URL` / `--blob-url`).
//!
//! Accepted forms:
//!
//! - `/abs/dir` or `file:///abs/dir`: a local directory (created if missing);
//! - `s3://bucket[/prefix]?endpoint=…&region=…&access_key_id=…&secret_access_key=…&session_token=…`:
//!   an S3-compatible bucket. Every parameter is optional; unset ones come
//!   from the standard `AWS_*` environment variables, and the URL's win.
//!
//! Parsing is separate from connecting so that every mistake in the setting
//! is reported before anything touches the disk or the network. Errors name
//! the setting and the rule, never the value: an S3 URL may carry a secret.

use std::fmt;
use std::path::PathBuf;

use crate::BlobError;

/// Where blobs live, parsed from the setting.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A local directory, absolute.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Location),
}

/// The parts of an `s3://` location.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct S3Location {
    pub(crate) bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`), or empty.
    pub(crate) prefix: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) access_key_id: Option<String>,
    pub(crate) secret_access_key: Option<String>,
    pub(crate) session_token: Option<String>,
}

/// Redacted: the URL's credentials never reach a log line.
impl fmt::Debug for S3Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Location")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id.as_ref().map(|_| "<redacted>"))
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(dir) => f.debug_tuple("Local").field(dir).finish(),
            Location::S3(s3) => f.debug_tuple("S3").field(s3).finish(),
        }
    }
}

fn bad(reason: impl Into<String>) -> BlobError {
    BlobError::BadLocation(reason.into())
}

const FORMS: &str = "use /absolute/dir, file:///absolute/dir or s3://bucket?endpoint=https://…&region=…";

impl Location {
    pub(crate) fn parse(text: &str) -> Result<Location, BlobError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(bad(format!("the setting is empty; {FORMS}")));
        }
        if !text.contains("://") {
            return local(PathBuf::from(text));
        }
        let url = url::Url::parse(text).map_err(|e| bad(format!("not a valid URL ({e}); {FORMS}")))?;
        match url.scheme() {
            "file" => {
                if url.host_str().is_some_and(|h| !h.is_empty() && h != "localhost") {
                    return Err(bad(
                        "a file:// URL must not name a host; write file:///absolute/dir (three slashes)",
                    ));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(bad("a file:// URL takes no ?parameters or #fragment"));
                }
                let dir = url
                    .to_file_path()
                    .map_err(|()| bad("the file:// URL is not an absolute directory path"))?;
                local(dir)
            }
            "s3" => s3(&url).map(Location::S3),
            other => Err(bad(format!("unsupported scheme {other}://; {FORMS}"))),
        }
    }
}

fn local(dir: PathBuf) -> Result<Location, BlobError> {
    // A relative path would depend on the service's working directory
    // (`/` under systemd), which is never what was meant.
    if !dir.is_absolute() {
        return Err(bad(format!("a local directory must be an absolute path; {FORMS}")));
    }
    Ok(Location::Local(dir))
}

fn s3(url: &url::Url) -> Result<S3Location, BlobError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "put S3 credentials in ?access_key_id=…&secret_access_key=… or the AWS_* environment, not before the bucket",
        ));
    }
    if url.port().is_some() {
        return Err(bad(
            "s3://bucket takes no port; give the server as ?endpoint=http://host:port",
        ));
    }
    let bucket = url.host_str().unwrap_or_default().to_owned();
    if bucket.is_empty() {
        return Err(bad("an s3:// URL needs a bucket name: s3://bucket?endpoint=…"));
    }
    if url.fragment().is_some() {
        return Err(bad("an s3:// URL takes no #fragment"));
    }
    // The URL parser has already resolved `.` and `..` segments.
    let prefix = url.path().trim_matches('/').to_owned();
    if prefix
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
        && !prefix.is_empty()
    {
        return Err(bad("the key prefix after the bucket has an empty, `.` or `..` part"));
    }
    let mut s3 = S3Location {
        bucket,
        prefix,
        ..S3Location::default()
    };
    for (name, value) in url.query_pairs() {
        let slot = match name.as_ref() {
            "endpoint" => &mut s3.endpoint,
            "region" => &mut s3.region,
            "access_key_id" => &mut s3.access_key_id,
            "secret_access_key" => &mut s3.secret_access_key,
            "session_token" => &mut s3.session_token,
            // The name is safe to show (it is not one of ours, so it is
            // not a known secret); the value is not shown.
            other => {
                return Err(bad(format!(
                    "unknown s3:// parameter `{other}`; known: endpoint, region, access_key_id, secret_access_key, session_token"
                )));
            }
        };
        if slot.is_some() {
            return Err(bad(format!("s3:// parameter `{name}` is given twice")));
        }
        if value.is_empty() {
            return Err(bad(format!("s3:// parameter `{name}` is empty")));
        }
        *slot = Some(value.into_owned());
    }
    if let Some(endpoint) = &s3.endpoint {
        let parsed = url::Url::parse(endpoint)
            .map_err(|_| bad("s3:// parameter `endpoint` must be a URL such as http://127.0.0.1:9000"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad(
                "s3:// parameter `endpoint` must be an http:// or https:// URL with a host",
            ));
        }
    }
    if s3.access_key_id.is_some() != s3.secret_access_key.is_some() {
        return Err(bad(
            "s3:// parameters `access_key_id` and `secret_access_key` must be given together",
        ));
    }
    Ok(s3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match Location::parse(text) {
            Err(e) => e.to_string(),
            Ok(l) => panic!("{text} parsed as {l:?}"),
        }
    }

    #[test]
    fn local_directories() {
        assert_eq!(
            Location::parse("/srv/velum/blobs").unwrap(),
            Location::Local("/srv/velum/blobs".into())
        );
        assert_eq!(
            Location::parse("file:///srv/velum/blobs").unwrap(),
            Location::Local("/srv/velum/blobs".into())
        );
        assert_eq!(
            Location::parse("file:///srv/with%20space").unwrap(),
            Location::Local("/srv/with space".into())
        );
        assert!(err("blobs").contains("absolute path"));
        assert!(err("./blobs").contains("absolute path"));
        assert!(err("file://srv/blobs").contains("three slashes"));
        assert!(err("   ").contains("the setting is empty"));
    }

    #[test]
    fn s3_buckets() {
        let Location::S3(s3) = Location::parse(
            "s3://velum-test/eu/clinics-a?endpoint=http://127.0.0.1:19000&region=eu-west-2&access_key_id=k&secret_access_key=s",
        )
        .unwrap() else {
            panic!("not s3");
        };
        assert_eq!(s3.bucket, "velum-test");
        assert_eq!(s3.prefix, "eu/clinics-a");
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:19000"));
        assert_eq!(s3.region.as_deref(), Some("eu-west-2"));
        assert_eq!(s3.access_key_id.as_deref(), Some("k"));
        assert_eq!(s3.secret_access_key.as_deref(), Some("s"));
        let Location::S3(plain) = Location::parse("s3://bucket").unwrap() else {
            panic!("not s3");
        };
        assert_eq!(
            (plain.bucket.as_str(), plain.prefix.as_str(), plain.endpoint),
            ("bucket", "", None)
        );
    }

    #[test]
    fn bad_locations_name_the_setting_and_the_rule_but_not_the_secret() {
        for (text, rule) in [
            ("gs://bucket", "unsupported scheme gs://"),
            ("s3://", "needs a bucket name"),
            ("s3://b?endpoint=ftp://x", "http:// or https://"),
            ("s3://b?endpoint=nonsense", "must be a URL"),
            ("s3://b?colour=blue", "unknown s3:// parameter `colour`"),
            ("s3://b?region=a&region=b", "given twice"),
            ("s3://b?region=", "is empty"),
            ("s3://b?access_key_id=only", "must be given together"),
            ("s3://key:hunter2@b", "not before the bucket"),
            ("s3://b:9000", "takes no port"),
            ("s3://b/a//c", "empty, `.` or `..` part"),
        ] {
            let message = err(text);
            assert!(message.starts_with("VELUM_BLOB_URL (--blob-url): "), "{message}");
            assert!(message.contains(rule), "{text}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        let debug = format!(
            "{:?}",
            Location::parse("s3://b?access_key_id=AKIAXYZ&secret_access_key=hunter2").unwrap()
        );
        assert!(!debug.contains("hunter2") && !debug.contains("AKIAXYZ"), "{debug}");
    }
}
