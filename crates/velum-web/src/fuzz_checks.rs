//! The fuzz targets of `fuzz/` by name, and the replay of their committed
//! corpora (`fuzz/corpus/<target>/`) as an ordinary test. The checks of
//! the parsers below the web layer are in `velum_app::fuzz_checks`; the
//! JSON request bodies of the API are here, parsed exactly as a handler
//! parses them (`crate::extract::parse_json`) and then validated.

use serde::de::DeserializeOwned;
use velum_app::clients::ClientPatch;
use velum_app::fuzz_checks as app;
use velum_core::client::{ClientInput, MedicalInput};
use velum_core::settings::SettingsInput;

use crate::api::clients::{ClientPatchJson, MedicalInputJson, NewClientJson, SearchJson};
use crate::api::platform::{NewClinicJson, SupportRequestJson, SuspendJson};
use crate::api::settings::SettingsJson;

/// A target's check: any bytes in, a panic for a finding.
pub type Check = fn(&[u8]);

/// Every target: its name (a directory of `fuzz/corpus/` and a binary of
/// `fuzz/`) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("text", app::text),
    ("date_of_birth", app::date_of_birth),
    ("json_bodies", json_bodies),
    ("sealed_file", app::sealed_file),
    ("export_file", app::export_file),
    ("archive", app::archive),
    ("stream", app::stream),
];

/// The check of the target `name`.
#[must_use]
pub fn check(name: &str) -> Option<Check> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Parse as a handler does: a body that is not accepted gets an error
/// answer, which must be a client error, never a server one.
fn body<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    match crate::extract::parse_json::<T>(data) {
        Ok(v) => Some(v),
        Err(answer) => {
            let status = answer.status();
            assert!(status.is_client_error(), "a JSON body was answered {status}");
            None
        }
    }
}

/// A card every patch applies to.
fn card() -> ClientInput {
    ClientInput {
        given_name: "Amelia".into(),
        family_name: "Testcase".into(),
        date_of_birth: "1990-04-23".into(),
        email: "amelia@example.org".into(),
        mobile: "07911 123456".into(),
        line1: "1 High Street".into(),
        line2: String::new(),
        town: "Leeds".into(),
        postcode: "LS1 4AP".into(),
    }
}

/// Target `json_bodies`: the input as each request body of the API with
/// personal data or settings in it; each one that parses is validated and
/// must survive the round trip of `velum_app::fuzz_checks`.
pub fn json_bodies(data: &[u8]) {
    if let Some(b) = body::<NewClientJson>(data) {
        app::client_input(&ClientInput::from(b));
    }
    if let Some(b) = body::<ClientPatchJson>(data) {
        app::client_input(&ClientPatch::from(b).apply(card()));
    }
    if let Some(b) = body::<MedicalInputJson>(data) {
        app::medical_input(&MedicalInput {
            allergies: b.allergies,
            medications: b.medications,
            conditions: b.conditions,
            notes: b.notes,
        });
    }
    if let Some(b) = body::<SettingsJson>(data) {
        app::settings_input(&SettingsInput::from(b));
    }
    if let Some(b) = body::<SearchJson>(data) {
        app::text(b.q.as_bytes());
        app::date_of_birth(b.q.as_bytes());
    }
    if let Some(b) = body::<NewClinicJson>(data) {
        let _ = velum_core::clinic::ClinicName::parse(&b.name);
    }
    if let Some(b) = body::<SuspendJson>(data) {
        let _ = velum_core::support::SupportReason::parse(&b.reason);
    }
    if let Some(b) = body::<SupportRequestJson>(data) {
        let _ = velum_core::support::SupportReason::parse(&b.reason);
        if let Some(m) = b.minutes {
            let _ = velum_core::support::GrantMinutes::parse(&m.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    fn corpus() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
    }

    /// Every committed input of every target, through the target's check.
    #[test]
    fn fuzz_corpora_replay() {
        let mut replayed = 0;
        for (name, check) in super::TARGETS {
            let dir = corpus().join(name);
            let entries: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
                .map(|e| e.expect("a corpus entry").path())
                .collect();
            assert!(!entries.is_empty(), "fuzz/corpus/{name} has seed inputs");
            for path in entries {
                let data = std::fs::read(&path).expect("a corpus file");
                check(&data);
                replayed += 1;
            }
        }
        assert!(replayed >= super::TARGETS.len());
    }

    /// The targets of `fuzz/` and the corpora are the ones listed here.
    #[test]
    fn every_fuzz_target_is_listed() {
        let bins = std::fs::read_to_string(corpus().join("../Cargo.toml")).expect("fuzz/Cargo.toml");
        let listed: Vec<&str> = bins
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != "velum-fuzz")
            .collect();
        let ours: Vec<&str> = super::TARGETS.iter().map(|(n, _)| *n).collect();
        assert_eq!(listed, ours, "fuzz/Cargo.toml's [[bin]] entries");
        let mut dirs: Vec<String> = std::fs::read_dir(corpus())
            .expect("fuzz/corpus")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        let mut sorted = ours.clone();
        sorted.sort_unstable();
        assert_eq!(dirs, sorted, "fuzz/corpus has one directory per target");
    }
}
