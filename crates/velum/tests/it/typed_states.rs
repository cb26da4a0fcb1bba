//! Issue 17 item 1: no clinic status, support grant state or role is
//! compared as a string anywhere in the source or the templates. They are
//! parsed once (`FromStr`, `as_str` in velum-core) and compared as enums;
//! SQL text keeps its own literals (`status <> 'offboarded'`), which use
//! single quotes and are not matched here.

use std::path::{Path, PathBuf};

/// Every clinic status, grant state and role as stored or shown.
const WORDS: &[&str] = &[
    "active",
    "suspended",
    "offboarded",
    "requested",
    "granted",
    "live",
    "expired",
    "denied",
    "revoked",
    "owner",
    "manager",
    "practitioner",
    "receptionist",
    "marketing",
    "auditor",
    "operator",
    "support",
];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs" || e == "html") {
            out.push(path);
        }
    }
}

/// The comparisons of `line` with one of [`WORDS`] as a string literal: `==`
/// or `!=` on either side, or a match arm that starts with the literal.
fn literal_comparisons(line: &str) -> Vec<&'static str> {
    let trimmed = line.trim_start();
    WORDS
        .iter()
        .copied()
        .filter(|w| {
            let lit = format!("\"{w}\"");
            [
                format!("== {lit}"),
                format!("!= {lit}"),
                format!("{lit} =="),
                format!("{lit} !="),
            ]
            .iter()
            .any(|p| line.contains(p.as_str()))
                || trimmed.starts_with(&format!("{lit} =>"))
                || trimmed.starts_with(&format!("{lit} |"))
        })
        .collect()
}

#[test]
fn the_checker_finds_what_it_looks_for() {
    assert_eq!(literal_comparisons(r#"if c.status == "active" {"#), ["active"]);
    assert_eq!(literal_comparisons(r#"{% if g.state != "granted" %}"#), ["granted"]);
    assert_eq!(
        literal_comparisons(r#"    "offboarded" => return Err(x),"#),
        ["offboarded"]
    );
    assert!(literal_comparisons(r#"ClinicStatus::Active => "active","#).is_empty());
    assert!(literal_comparisons("WHERE status <> 'offboarded'").is_empty());
}

#[test]
fn no_status_state_or_role_is_compared_as_a_string() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let krate = entry.unwrap().path();
        for sub in ["src", "templates"] {
            if krate.join(sub).is_dir() {
                files(&krate.join(sub), &mut all);
            }
        }
    }
    assert!(
        all.len() > 50,
        "only {} files found under {}",
        all.len(),
        root.display()
    );
    let mut found = Vec::new();
    for path in &all {
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            for w in literal_comparisons(line) {
                found.push(format!("{}:{}: \"{w}\": {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "compare the typed value (ClinicStatus, GrantState, Role), not its text:\n{}",
        found.join("\n")
    );
}
