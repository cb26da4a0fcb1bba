//! Lists each backend's migrations for `src/migrations.rs`: the files of
//! `migrations/sqlite` or `migrations/postgres` as they are, and each file
//! of `migrations/shared` translated for the backend (written under
//! `OUT_DIR`). A bad migration tree (see `src/migrations/shared.rs`) fails
//! the build with the reason.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[allow(dead_code, reason = "the crate's tests use the rest of this module")]
#[path = "src/migrations/shared.rs"]
mod shared;

fn main() {
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rerun-if-changed=src/migrations/shared.rs");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let plan = match shared::plan(&manifest.join("migrations")) {
        Ok(plan) => plan,
        Err(problems) => panic!("\nthe migrations of velum-store are not right:\n{problems}\n"),
    };
    let mut code = String::new();
    for (name, dialect) in [
        ("SQLITE", shared::Dialect::Sqlite),
        ("POSTGRES", shared::Dialect::Postgres),
    ] {
        let dir = out.join("migrations").join(dialect.dir());
        std::fs::create_dir_all(&dir).expect("OUT_DIR is writable");
        let _ = writeln!(code, "/// `(version, description, SQL)` of each migration, in order.");
        let _ = writeln!(code, "const {name}: &[(i64, &str, &str)] = &[");
        for m in plan.of(dialect) {
            let path = if m.shared {
                let path = dir.join(&m.file_name);
                write_if_changed(&path, &m.sql);
                path
            } else {
                m.source.clone()
            };
            let _ = writeln!(
                code,
                "    ({}, {:?}, include_str!({:?})),",
                m.version,
                m.description,
                path.to_string_lossy()
            );
        }
        code.push_str("];\n");
    }
    write_if_changed(&out.join("migrations.rs"), &code);
}

/// Write a file unless it already holds `text` (so its time stays put).
fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return;
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
