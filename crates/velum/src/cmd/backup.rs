//! `velum backup`: a consistent, encrypted copy of the whole installation,
//! taken while `velum serve` runs. `velum restore`: put one back into a new,
//! empty data directory (or PostgreSQL database) and prove it whole.
//!
//! The file is sealed under a key derived from the master key
//! ([`velum_app::backup`]): the holder of the master key restores it on any
//! machine, nobody else reads it. On the embedded backend the copy is made
//! with `VACUUM INTO` (one read transaction; writers carry on); on
//! PostgreSQL with `pg_dump` in the custom format, inside a snapshot this
//! command exports, so the row counts in the manifest are those of the dump.

use std::io::{BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use velum_app::backup::{self, BackupWriter, CONTENT_PG_DUMP, CONTENT_SQLITE, FORMAT, Manifest};

use crate::config::{DB_FILE, DataArgs, KEY_FILE, MailArgs};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The backup file to write (must not exist; mode 0600). Its SHA-256 is
    /// written beside it as FILE.sha256.
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The backup file written by `velum backup` (FILE.sha256 must be beside it).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
}

fn bar(total: Option<u64>, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{msg:>10} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{msg:>10} {spinner} {bytes} ({bytes_per_sec})",
        ),
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what);
    bar
}

/// A new file, mode 0600, that must not exist yet.
fn create_new(path: &Path, setting: &str) -> anyhow::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
        .with_context(|| format!("{setting}: cannot create {} (it must not exist yet)", path.display()))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The PostgreSQL host and database of `url`, without credentials or
/// parameters.
fn pg_source(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("postgres://{host}/{path}")
}

/// `program` (`pg_dump`, `pg_restore`) pointed at `url`, with the URL's
/// password handed over in the child's environment (`PGPASSWORD`), never on
/// its command line, where any local user could read it while it runs.
fn pg_tool(program: &str, url: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    let (url, password) = split_password(url);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.arg(format!("--dbname={url}"));
    cmd
}

/// The URL without the password of its user part, and that password
/// (percent-decoded, as libpq reads it).
fn split_password(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_owned(), None);
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_owned(), None);
    };
    (
        format!("{scheme}://{user}@{host}{tail}"),
        Some(percent_decode(password)),
    )
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        let hex = (b == b'%').then(|| bytes.clone().take(2).collect::<Vec<u8>>());
        match hex
            .as_deref()
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.len() == 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            Some(v) => {
                out.push(v);
                bytes.nth(1);
            }
            None => out.push(b),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn remove_quietly(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

pub async fn run_backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let to = args.to;
    for p in [to.clone(), with_suffix(&to, ".sha256")] {
        if std::fs::symlink_metadata(&p).is_ok() {
            bail!("--to: {} already exists; give a new name", p.display());
        }
    }
    let key = crate::config::data_key(&args.data)?;
    let app = crate::config::open_app(&args.data, MailArgs::offline()).await?;
    let partial = with_suffix(&to, ".partial");
    // SQLite writes the snapshot with the process's umask: it goes in a
    // private (0700) directory of its own beside the backup, removed with
    // everything in it when done, and never in the way of the next run.
    let parent = to
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let scratch = tempfile::Builder::new()
        .prefix(".velum-backup-")
        .tempdir_in(parent)
        .with_context(|| format!("--to: cannot make a private scratch directory beside {}", to.display()))?;
    let snapshot_file = scratch.path().join("snapshot.db");
    let result = write_backup(&app, &key, &args.data, &to, &partial, &snapshot_file).await;
    app.close().await;
    drop(scratch);
    let (manifest, written) = match result {
        Ok(v) => v,
        Err(e) => {
            remove_quietly(&[partial]);
            return Err(e);
        }
    };
    std::fs::rename(&partial, &to).with_context(|| format!("--to: cannot rename to {}", to.display()))?;
    let name = to
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut sum = create_new(&with_suffix(&to, ".sha256"), "--to")?;
    sum.write_all(format!("{}  {name}\n", written.sha256).as_bytes())?;
    sum.sync_all()?;
    println!(
        "Backup written: {} ({} bytes, {} backend, sha256 {}).",
        to.display(),
        written.bytes,
        manifest.backend,
        written.sha256
    );
    println!(
        "Rows: {} clients, {} audit events, {} tables in all.",
        manifest.counts.get("clients").copied().unwrap_or(0),
        manifest.counts.get("audit_events").copied().unwrap_or(0),
        manifest.counts.len()
    );
    println!("It opens only with this installation's master key: keep the key apart from the backup.");
    Ok(ExitCode::SUCCESS)
}

async fn write_backup(
    app: &velum_app::App,
    key: &velum_app::MasterKey,
    data: &DataArgs,
    to: &Path,
    partial: &Path,
    snapshot_file: &Path,
) -> anyhow::Result<(Manifest, backup::Written<std::fs::File>)> {
    let out = create_new(partial, "--to")?;
    let created_at = app.now().to_string();
    let mut manifest = Manifest {
        format: FORMAT,
        created_at,
        velum_version: env!("CARGO_PKG_VERSION").to_owned(),
        backend: String::new(),
        source: String::new(),
        content: String::new(),
        key_fingerprint: key.fingerprint(),
        database_bytes: 0,
        counts: Default::default(),
    };
    let written = if let Some(url) = &data.database_url {
        let snapshot = app
            .pg_snapshot()
            .await?
            .ok_or_else(|| anyhow::anyhow!("--database-url: not a PostgreSQL database"))?;
        manifest.backend = "postgres".into();
        manifest.source = pg_source(url);
        manifest.content = CONTENT_PG_DUMP.into();
        manifest.database_bytes = snapshot.database_bytes;
        manifest.counts = snapshot.counts.clone();
        let mut writer = BackupWriter::start(key, &manifest, out)?;
        let mut child = pg_tool("pg_dump", url)
            .args(["--format=custom", "--no-owner", "--no-privileges"])
            .arg(format!("--snapshot={}", snapshot.id))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot run pg_dump (Debian: postgresql-client)")?;
        let mut stdout = child.stdout.take().context("pg_dump's output")?;
        let progress = bar(None, "pg_dump");
        let copied = tokio::task::block_in_place(|| -> anyhow::Result<()> {
            std::io::copy(&mut progress.wrap_read(&mut stdout), &mut writer).context("--to: cannot write")?;
            Ok(())
        });
        let status = tokio::task::block_in_place(|| child.wait())?;
        progress.finish_and_clear();
        snapshot.end().await?;
        if !status.success() {
            bail!("--database-url: pg_dump failed ({status}; its message is above)");
        }
        copied?;
        writer.finish()?
    } else {
        let dir = data.data_dir.as_ref().context("--data-dir: give the data directory")?;
        let counts = app
            .sqlite_snapshot(snapshot_file)
            .await
            .with_context(|| format!("--to: cannot copy the database beside {}", to.display()))?
            .context("--data-dir: not the embedded database")?;
        manifest.backend = "sqlite".into();
        manifest.source = std::path::absolute(dir)
            .unwrap_or_else(|_| dir.clone())
            .display()
            .to_string();
        manifest.content = CONTENT_SQLITE.into();
        manifest.database_bytes = std::fs::metadata(snapshot_file)?.len();
        manifest.counts = counts;
        let mut writer = BackupWriter::start(key, &manifest, out)?;
        let progress = bar(Some(manifest.database_bytes), "backup");
        tokio::task::block_in_place(|| -> anyhow::Result<()> {
            let mut copy = std::fs::File::open(snapshot_file)?;
            std::io::copy(&mut progress.wrap_read(&mut copy), &mut writer).context("--to: cannot write")?;
            Ok(())
        })?;
        progress.finish_and_clear();
        writer.finish()?
    };
    written.out.sync_all().context("--to: cannot sync")?;
    Ok((manifest, written))
}

pub async fn run_restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let from = args.from;
    let sum_path = with_suffix(&from, ".sha256");
    let expected = std::fs::read_to_string(&sum_path).with_context(|| {
        format!(
            "--from: cannot read {} (every backup has its checksum beside it)",
            sum_path.display()
        )
    })?;
    let expected = expected
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let size = std::fs::metadata(&from)
        .with_context(|| format!("--from: cannot read {}", from.display()))?
        .len();
    let progress = bar(Some(size), "checksum");
    let actual = tokio::task::block_in_place(|| backup::file_sha256(&from, &|n| progress.set_position(n)))
        .with_context(|| format!("--from: cannot read {}", from.display()))?;
    progress.finish_and_clear();
    if actual != expected {
        bail!(
            "--from: {} does not match its checksum in {}: the file is damaged or was changed",
            from.display(),
            sum_path.display()
        );
    }

    // The target must be new and empty, so a restore never mixes with or
    // overwrites live data.
    if let Some(url) = &args.data.database_url {
        let empty = backup::postgres_is_empty(url)
            .await
            .map_err(|e| anyhow::anyhow!("--database-url: {e}"))?;
        if !empty {
            bail!("--database-url: the database is not empty (it has tables); restore only into a new, empty database");
        }
    } else {
        let dir = args
            .data
            .data_dir
            .as_ref()
            .context("--data-dir: give the data directory to restore into")?;
        if !dir.exists() {
            std::fs::create_dir_all(dir).with_context(|| format!("--data-dir: cannot create {}", dir.display()))?;
        }
        let others: Vec<String> = std::fs::read_dir(dir)
            .with_context(|| format!("--data-dir: cannot read {}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != KEY_FILE)
            .collect();
        // Name the database first when it is there: that is what matters.
        let named = others.iter().find(|n| n.as_str() == DB_FILE).or(others.first());
        if let Some(first) = named {
            bail!(
                "--data-dir: {} is not empty (it holds {first}); restore only into a new, empty data directory",
                dir.display()
            );
        }
    }

    let key = crate::config::data_key(&args.data)?;
    let file = std::fs::File::open(&from).with_context(|| format!("--from: cannot read {}", from.display()))?;
    let (manifest, mut reader) =
        backup::open(&key, BufReader::new(file)).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    drop(key);
    // The restored copy is verified against the manifest's row counts, which
    // only a binary with the same migrations can do before it migrates
    // anything: a backup of another schema is restored by the release that
    // made it, and the upgrade happens when the new release next starts.
    let ours = backup::migrations_applied();
    let theirs = manifest.counts.get("_sqlx_migrations").copied().unwrap_or(0);
    if theirs != ours {
        bail!(
            "--from: the backup holds schema {theirs} (made by Velum {}), this Velum has schema {ours}; \
             restore it with the release that made it, then start this one to upgrade",
            manifest.velum_version
        );
    }
    match (manifest.backend.as_str(), &args.data.database_url) {
        ("sqlite", None) | ("postgres", Some(_)) => {}
        ("sqlite", Some(_)) => {
            bail!("--database-url: this is a backup of the embedded database; restore it with --data-dir")
        }
        ("postgres", None) => bail!("--data-dir: this is a backup of PostgreSQL; restore it with --database-url"),
        (other, _) => bail!("--from: a backup of an unknown backend {other:?}"),
    }
    let progress = bar(
        (manifest.backend == "sqlite").then_some(manifest.database_bytes),
        "restore",
    );
    if let Some(url) = &args.data.database_url {
        let mut child = pg_tool("pg_restore", url)
            .args([
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot run pg_restore (Debian: postgresql-client)")?;
        let mut stdin = child.stdin.take().context("pg_restore's input")?;
        let copied = tokio::task::block_in_place(|| std::io::copy(&mut progress.wrap_read(&mut reader), &mut stdin));
        progress.finish_and_clear();
        if let Err(e) = copied {
            // pg_restore stopped reading because it failed: say so, not that
            // the file is damaged (its single transaction has rolled back).
            if let Ok(Some(status)) = child.try_wait()
                && !status.success()
            {
                bail!("--database-url: pg_restore failed ({status}; its message is above); nothing was restored");
            }
            // The body did not open to its end: stop pg_restore before it
            // commits anything.
            let _ = child.kill();
            let _ = child.wait();
            bail!("--from: the backup is damaged ({e}); nothing was restored");
        }
        drop(stdin);
        let status = tokio::task::block_in_place(|| child.wait())?;
        if !status.success() {
            bail!("--database-url: pg_restore failed ({status}; its message is above)");
        }
    } else {
        let dir = args.data.data_dir.as_ref().context("--data-dir")?;
        let db = dir.join(DB_FILE);
        let partial = with_suffix(&db, ".partial");
        let mut out = create_new(&partial, "--data-dir")?;
        let copied = tokio::task::block_in_place(|| -> std::io::Result<u64> {
            let n = std::io::copy(&mut progress.wrap_read(&mut reader), &mut out)?;
            out.sync_all()?;
            Ok(n)
        });
        progress.finish_and_clear();
        match copied {
            Ok(n) if n == manifest.database_bytes => {}
            Ok(n) => {
                remove_quietly(&[partial]);
                bail!(
                    "--from: the backup holds {n} bytes of database, its manifest says {}; nothing was restored",
                    manifest.database_bytes
                );
            }
            Err(e) => {
                remove_quietly(&[partial]);
                bail!("--from: the backup is damaged ({e}); nothing was restored");
            }
        }
        std::fs::rename(&partial, &db).with_context(|| format!("--data-dir: cannot write {}", db.display()))?;
    }
    verify_restored(&args.data, &manifest).await
}

/// Open what was restored and prove it: the audit chains verify, every
/// table holds the rows the manifest counted, and medical summaries open
/// with the key chain.
async fn verify_restored(data: &DataArgs, manifest: &Manifest) -> anyhow::Result<ExitCode> {
    let app = crate::config::open_app(data, MailArgs::offline()).await?;
    let checked = async {
        let report = app.verify_audit().await?;
        if let Some(b) = report.first_break {
            bail!(
                "the audit trail of the restored copy is BROKEN: clinic {} at event #{}: {}",
                b.clinic_id,
                b.seq,
                b.reason
            );
        }
        let counts = app.table_counts().await?;
        if counts != manifest.counts {
            let table = manifest
                .counts
                .keys()
                .chain(counts.keys())
                .find(|t| counts.get(*t) != manifest.counts.get(*t))
                .cloned()
                .unwrap_or_default();
            bail!(
                "the restored copy's table {table} holds {:?} rows, the manifest says {:?}",
                counts.get(&table),
                manifest.counts.get(&table)
            );
        }
        let opened = app.sample_decrypt(20).await?;
        Ok((report, opened))
    }
    .await;
    app.close().await;
    let (report, opened) = checked
        .map_err(|e| anyhow::anyhow!("{e:#}; the restored copy did not verify: inspect it, and do not serve it"))?;
    println!(
        "Restored the backup of {} taken {} ({} backend).",
        manifest.source, manifest.created_at, manifest.backend
    );
    println!(
        "Verified: audit trail intact ({} chains, {} events); row counts match the manifest ({} clients, {} tables); {opened} medical summaries opened.",
        report.chains,
        report.events,
        manifest.counts.get("clients").copied().unwrap_or(0),
        manifest.counts.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pg_tool_gets_the_password_in_its_environment_not_its_arguments() {
        assert_eq!(
            super::split_password("postgres://velum:s3%40cret@db.example:5432/velum?sslmode=require"),
            (
                "postgres://velum@db.example:5432/velum?sslmode=require".to_owned(),
                Some("s3@cret".to_owned())
            )
        );
        assert_eq!(
            super::split_password("postgres://velum@localhost/velum"),
            ("postgres://velum@localhost/velum".to_owned(), None)
        );
        assert_eq!(super::split_password("postgres:///velum").1, None);
        let cmd = super::pg_tool("pg_dump", "postgres://u:p%2Fw@h/d");
        let args: Vec<_> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(args, ["--dbname=postgres://u@h/d"]);
        let env: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            env,
            [(std::ffi::OsStr::new("PGPASSWORD"), Some(std::ffi::OsStr::new("p/w")))]
        );
    }

    #[test]
    fn the_source_of_a_pg_backup_names_no_credentials() {
        assert_eq!(
            super::pg_source("postgres://velum:s3cret@db.example:5432/velum?sslmode=verify-full"),
            "postgres://db.example:5432/velum"
        );
        assert_eq!(
            super::pg_source("postgres://localhost/velum"),
            "postgres://localhost/velum"
        );
    }
}
