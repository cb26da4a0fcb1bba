//! The migration trees and the shared dialect (see `migrations/shared/README.md`):
//! reads `migrations/{shared,sqlite,postgres}`, checks them, and turns each
//! shared migration into the SQL of each backend.
//!
//! Used twice: by `build.rs` (which embeds the result, so a bad tree fails
//! the build) and by this crate's tests. It depends on `std` alone for that
//! reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A backend a migration is written for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub const ALL: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

    /// Its directory under `migrations/`.
    #[must_use]
    pub fn dir(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// The type words of a shared migration: (word, SQLite type, PostgreSQL type).
/// Never change what a word becomes: the text of an applied migration is
/// checksummed, so a database migrated before would no longer open.
pub const TYPES: &[(&str, &str, &str)] = &[
    ("UUID", "BLOB", "UUID"),
    ("BYTES", "BLOB", "BYTEA"),
    ("INT", "INTEGER", "BIGINT"),
    ("TEXT", "TEXT", "TEXT"),
    ("BOOL", "INTEGER", "BOOLEAN"),
];

/// What starts a table constraint rather than a column in a column list.
const CONSTRAINTS: &[&str] = &["PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "CONSTRAINT"];

/// One migration of one backend, in the form `sqlx` records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub version: i64,
    /// The file name after the version, without `.sql`, `_` read as a space
    /// (as `sqlx::migrate!` makes it).
    pub description: String,
    /// `NNNN_name.sql`.
    pub file_name: String,
    /// The file it comes from (in `shared/` or the backend's directory).
    pub source: PathBuf,
    /// True when `source` is a shared migration and `sql` its translation.
    pub shared: bool,
    /// The SQL this backend runs.
    pub sql: String,
}

/// Every migration of each backend, in version order.
#[derive(Clone, Debug)]
pub struct Plan {
    pub sqlite: Vec<Planned>,
    pub postgres: Vec<Planned>,
}

impl Plan {
    #[must_use]
    pub fn of(&self, dialect: Dialect) -> &[Planned] {
        match dialect {
            Dialect::Sqlite => &self.sqlite,
            Dialect::Postgres => &self.postgres,
        }
    }
}

/// A migration file found in one directory.
struct Found {
    version: i64,
    description: String,
    file_name: String,
    path: PathBuf,
}

/// Read the migration trees under `root` (`root/shared` may be absent) and
/// make each backend's list. Every problem is reported, one per line: a
/// badly named file, a version used twice (also by a shared migration and a
/// backend's own), a backend migration without its counterpart of the same
/// name in the other backend, a type word the shared dialect does not know.
///
/// # Errors
/// The problems, as text naming each file.
pub fn plan(root: &Path) -> Result<Plan, String> {
    let mut errors = Vec::new();
    let shared = scan(&root.join("shared"), false, &mut errors);
    let sqlite = scan(&root.join("sqlite"), true, &mut errors);
    let postgres = scan(&root.join("postgres"), true, &mut errors);
    for (dir, own) in [("sqlite", &sqlite), ("postgres", &postgres)] {
        for (version, found) in own {
            if let Some(s) = shared.get(version) {
                errors.push(format!(
                    "migrations/{dir}/{} and migrations/shared/{}: version {version} is used twice",
                    found.file_name, s.file_name
                ));
            }
        }
    }
    for (version, s) in &sqlite {
        match postgres.get(version) {
            None => errors.push(format!(
                "migrations/sqlite/{} has no counterpart in migrations/postgres (write both, or one in migrations/shared)",
                s.file_name
            )),
            Some(p) if p.file_name != s.file_name => errors.push(format!(
                "migrations/sqlite/{} and migrations/postgres/{} have the same version but different names",
                s.file_name, p.file_name
            )),
            Some(_) => {}
        }
    }
    for (version, p) in &postgres {
        if !sqlite.contains_key(version) {
            errors.push(format!(
                "migrations/postgres/{} has no counterpart in migrations/sqlite (write both, or one in migrations/shared)",
                p.file_name
            ));
        }
    }
    let mut plan = Plan {
        sqlite: Vec::new(),
        postgres: Vec::new(),
    };
    for dialect in Dialect::ALL {
        let own = match dialect {
            Dialect::Sqlite => &sqlite,
            Dialect::Postgres => &postgres,
        };
        let mut list = Vec::new();
        for f in own.values() {
            match std::fs::read_to_string(&f.path) {
                Ok(sql) => list.push(planned(f, false, sql)),
                Err(e) => errors.push(format!("migrations/{}/{}: {e}", dialect.dir(), f.file_name)),
            }
        }
        for f in shared.values() {
            let translated = std::fs::read_to_string(&f.path)
                .map_err(|e| e.to_string())
                .and_then(|text| translate(&text, dialect));
            match translated {
                Ok(sql) => list.push(planned(f, true, sql)),
                // Reported once, for the first backend.
                Err(e) if dialect == Dialect::Sqlite => errors.push(format!("migrations/shared/{}: {e}", f.file_name)),
                Err(_) => {}
            }
        }
        list.sort_by_key(|m| m.version);
        match dialect {
            Dialect::Sqlite => plan.sqlite = list,
            Dialect::Postgres => plan.postgres = list,
        }
    }
    if errors.is_empty() {
        Ok(plan)
    } else {
        Err(errors.join("\n"))
    }
}

fn planned(f: &Found, shared: bool, sql: String) -> Planned {
    Planned {
        version: f.version,
        description: f.description.clone(),
        file_name: f.file_name.clone(),
        source: f.path.clone(),
        shared,
        sql,
    }
}

/// The `.sql` files of one directory by version (other files are ignored).
fn scan(dir: &Path, required: bool, errors: &mut Vec<String>) -> BTreeMap<i64, Found> {
    let mut out: BTreeMap<i64, Found> = BTreeMap::new();
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(_) if !required && !dir.exists() => return out,
        Err(e) => {
            errors.push(format!("migrations/{name}: {e}"));
            return out;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                errors.push(format!("migrations/{name}: {e}"));
                continue;
            }
        };
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !path.is_file() || !file_name.ends_with(".sql") {
            continue;
        }
        if file_name.ends_with(".up.sql") || file_name.ends_with(".down.sql") {
            errors.push(format!(
                "migrations/{name}/{file_name}: migrations are forward-only; name it NNNN_description.sql"
            ));
            continue;
        }
        let Some((version, rest)) = file_name.split_once('_') else {
            errors.push(format!("migrations/{name}/{file_name}: name it NNNN_description.sql"));
            continue;
        };
        let version: i64 = match version.parse() {
            Ok(v) if v > 0 => v,
            _ => {
                errors.push(format!(
                    "migrations/{name}/{file_name}: the name must start with a version number above 0 (NNNN_description.sql)"
                ));
                continue;
            }
        };
        let found = Found {
            version,
            description: rest.trim_end_matches(".sql").replace('_', " "),
            file_name: file_name.clone(),
            path,
        };
        if let Some(other) = out.insert(version, found) {
            errors.push(format!(
                "migrations/{name}/{file_name} and migrations/{name}/{}: version {version} is used twice",
                other.file_name
            ));
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Word,
    Quoted,
    Str,
    Open,
    Close,
    Comma,
    Semi,
    Other,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// The line (from 1) of a byte offset, for messages.
fn line_of(sql: &str, at: usize) -> usize {
    sql[..at].bytes().filter(|&b| b == b'\n').count() + 1
}

/// SQL split into tokens; comments and white space are skipped (and kept in
/// the text, which is edited in place).
fn tokens(sql: &str) -> Result<Vec<Token>, String> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            match sql[i + 2..].find("*/") {
                Some(n) => i += n + 4,
                None => return Err(format!("line {}: a comment is not closed", line_of(sql, start))),
            }
        } else if c == b'\'' || c == b'"' {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(format!("line {}: a quote is not closed", line_of(sql, start))),
                    Some(&q) if q == c && b.get(i + 1) == Some(&c) => i += 2,
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            let kind = if c == b'\'' { Kind::Str } else { Kind::Quoted };
            out.push(Token { kind, start, end: i });
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token {
                kind: Kind::Word,
                start,
                end: i,
            });
        } else {
            let kind = match c {
                b'(' => Kind::Open,
                b')' => Kind::Close,
                b',' => Kind::Comma,
                b';' => Kind::Semi,
                _ => Kind::Other,
            };
            // Step over a whole character (the text is UTF-8).
            i += sql[i..].chars().next().map_or(1, char::len_utf8);
            out.push(Token { kind, start, end: i });
        }
    }
    Ok(out)
}

/// A shared migration's text as `dialect` runs it: each column's type word
/// (see [`TYPES`]) becomes that backend's type, and on SQLite every created
/// table is `STRICT`. Everything else, comments and layout included, is
/// kept as written, so it must be SQL both backends accept.
///
/// # Errors
/// A column whose type is not a type word (with its line), table options
/// after a column list, an unclosed quote or comment.
pub fn translate(sql: &str, dialect: Dialect) -> Result<String, String> {
    let toks = tokens(sql)?;
    let word = |t: &Token| (t.kind == Kind::Word).then(|| sql[t.start..t.end].to_ascii_uppercase());
    // (offset, bytes replaced, text put there), in text order.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let type_of = |col: &[Token], edits: &mut Vec<(usize, usize, String)>| -> Result<(), String> {
        let Some(first) = col.first() else { return Ok(()) };
        if word(first).is_some_and(|w| CONSTRAINTS.contains(&w.as_str())) {
            return Ok(());
        }
        let name = &sql[first.start..first.end];
        let Some(ty) = col.get(1) else {
            return Err(format!("line {}: column {name} has no type", line_of(sql, first.start)));
        };
        let found = word(ty).unwrap_or_else(|| sql[ty.start..ty.end].to_owned());
        let Some(&(_, lite, pg)) = TYPES.iter().find(|(w, _, _)| *w == found) else {
            let words: Vec<&str> = TYPES.iter().map(|(w, _, _)| *w).collect();
            return Err(format!(
                "line {}: column {name} has type {found}, which is not a type word of a shared migration ({}); \
                 for another type write the migration in migrations/sqlite and migrations/postgres",
                line_of(sql, ty.start),
                words.join(", ")
            ));
        };
        let to = match dialect {
            Dialect::Sqlite => lite,
            Dialect::Postgres => pg,
        };
        edits.push((ty.start, ty.end - ty.start, to.to_owned()));
        Ok(())
    };
    for stmt in toks.split(|t| t.kind == Kind::Semi) {
        let words: Vec<String> = stmt.iter().take(6).map(|t| word(t).unwrap_or_default()).collect();
        let w = |i: usize| words.get(i).map_or("", String::as_str);
        if w(0) == "CREATE" && w(1) == "TABLE" {
            let Some(open) = stmt.iter().position(|t| t.kind == Kind::Open) else {
                let line = line_of(sql, stmt[0].start);
                return Err(format!("line {line}: CREATE TABLE without a column list"));
            };
            if stmt[..open].iter().any(|t| word(t).as_deref() == Some("AS")) {
                let line = line_of(sql, stmt[0].start);
                return Err(format!("line {line}: CREATE TABLE … AS is not in the shared dialect"));
            }
            let mut depth = 0;
            let mut item_start = open + 1;
            let mut close = None;
            for (i, t) in stmt.iter().enumerate().skip(open) {
                match t.kind {
                    Kind::Open => depth += 1,
                    Kind::Close => {
                        depth -= 1;
                        if depth == 0 {
                            type_of(&stmt[item_start..i], &mut edits)?;
                            close = Some(i);
                            break;
                        }
                    }
                    Kind::Comma if depth == 1 => {
                        type_of(&stmt[item_start..i], &mut edits)?;
                        item_start = i + 1;
                    }
                    _ => {}
                }
            }
            let Some(close) = close else {
                let line = line_of(sql, stmt[open].start);
                return Err(format!("line {line}: a column list is not closed"));
            };
            if let Some(extra) = stmt.get(close + 1) {
                return Err(format!(
                    "line {}: a shared migration writes no table options after the column list \
                     (SQLite's tables are made STRICT for it)",
                    line_of(sql, extra.start)
                ));
            }
            if dialect == Dialect::Sqlite {
                edits.push((stmt[close].end, 0, " STRICT".to_owned()));
            }
        } else if w(0) == "ALTER"
            && w(1) == "TABLE"
            && let Some(add) = stmt.iter().position(|t| word(t).as_deref() == Some("ADD"))
        {
            let mut col = &stmt[add + 1..];
            if col.first().and_then(word).as_deref() == Some("COLUMN") {
                col = &col[1..];
            }
            type_of(col, &mut edits)?;
        }
    }
    let mut out = String::with_capacity(sql.len() + 64);
    let mut at = 0;
    for (start, len, text) in edits {
        out.push_str(&sql[at..start]);
        out.push_str(&text);
        at = start + len;
    }
    out.push_str(&sql[at..]);
    Ok(out)
}
