//! Running the `velum` binary in tests: a clean environment, its output as
//! text, success and refusal checks, and a data directory holding a master
//! key. A test passes the binary's path, `env!("CARGO_BIN_EXE_velum")`,
//! which only the binary's own integration tests know.

use std::path::Path;
use std::process::{Command, Output};

use velum_app::DataLocation;

/// `velum args` at `bin`, in an environment without Velum's settings (a
/// test sets what it needs after this), logging warnings only.
pub fn command(bin: &str, args: &[&str]) -> Command {
    let mut c = Command::new(bin);
    c.args(args);
    for name in [
        "VELUM_MASTER_KEY_FILE",
        "VELUM_DATABASE_URL",
        "VELUM_DATA_DIR",
        "VELUM_BLOB_URL",
        "VELUM_INSECURE_HTTP",
        "VELUM_BASE_URL",
    ] {
        c.env_remove(name);
    }
    c.env("RUST_LOG", "warn");
    c
}

/// Run `velum args` at `bin` (see [`command`]) to its end.
pub fn run(bin: &str, args: &[&str]) -> Output {
    command(bin, args).output().expect("run velum")
}

/// [`run`] with the master key read from `key` (`VELUM_MASTER_KEY_FILE`).
pub fn run_with_key(bin: &str, args: &[&str], key: &Path) -> Output {
    command(bin, args)
        .env("VELUM_MASTER_KEY_FILE", key)
        .output()
        .expect("run velum")
}

/// Everything a run printed: stdout, then stderr.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The run succeeded; its stdout.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "velum failed: {}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A refusal: failure, one line on stderr naming each of `expect`.
#[track_caller]
pub fn refused(o: &Output, expect: &[&str]) -> String {
    let err = bad_flags(o, expect);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    err
}

/// Refused (by the argument parser, which adds a usage line, or
/// otherwise): failure, stderr naming each of `expect`.
#[track_caller]
pub fn bad_flags(o: &Output, expect: &[&str]) -> String {
    assert!(!o.status.success(), "velum should have refused: {}", text(o));
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in {err}");
    }
    err
}

/// A new data directory holding `key` as `master.key` (mode 0600). The
/// test kit's own key is [`crate::TEST_KEY`].
pub fn data_dir_with_key(key: [u8; 32]) -> tempfile::TempDir {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.path().join("master.key"))
        .expect("create master.key");
    f.write_all(&key).expect("write master.key");
    dir
}

/// The embedded database in data directory `dir`, as `velum` opens it.
pub fn sqlite(dir: &Path) -> DataLocation {
    DataLocation::SqliteFile(dir.join("velum.db"))
}

/// A path as an argument (test paths are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
