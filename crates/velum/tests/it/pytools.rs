//! The Python tools some tests run, from the project's venv
//! (`scripts/pytools` installs them; `scripts/test` runs it first).

use std::path::PathBuf;

/// The program `name` in the venv, or `None` after a `SKIPPED` line when it
/// is not installed. With `CI` set, a missing tool fails the test instead.
pub fn tool(name: &str, test: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/var/tmp"), PathBuf::from);
    let path = base.join("velum-moto").join("bin").join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        !velum_testkit::under_ci(),
        "{test}: {name} is not installed at {}; run scripts/pytools",
        path.display()
    );
    eprintln!("SKIPPED: {test}: {name} is not installed (run scripts/pytools)");
    None
}
