//! What the fuzz targets in `fuzz/` check, one function per target, so the
//! targets and the replay of their committed corpora (an ordinary test,
//! `velum_web::fuzz_checks`) run the same code. Each function takes any
//! bytes, must never panic on them, and panics (a finding) when a property
//! of the parser does not hold.
//!
//! The JSON request bodies of the API live in `velum-web`; their checks
//! are in `velum_web::fuzz_checks` and end in [`client_input`],
//! [`medical_input`] and [`settings_input`] here.

use std::io::Read as _;
use std::sync::OnceLock;

use jiff::civil::Date;
use velum_core::ClinicId;
use velum_core::client::{ClientInput, MedicalInput};
use velum_core::settings::SettingsInput;
use velum_core::text::{
    AddressLine, DateOfBirth, EmailAddress, FreeText, PersonName, Postcode, ShortText, Town, UkMobile,
};
use velum_crypto::{Aad, ClinicKey, MasterKey};

use crate::offboard::{ArchiveSecret, open_archive};
use crate::sealed_file::{CLINIC_ARCHIVE, CLINIC_EXPORT, FrameError};

/// "Today" for the date checks: fixed, so a finding replays.
pub const TODAY: Date = jiff::civil::date(2026, 6, 1);

/// The master key the file checks open exports with (the test suite's).
fn master() -> MasterKey {
    MasterKey::from_bytes(&[7; 32]).expect("32 bytes")
}

/// A parsed value, shown (`as_str`) and parsed again, is the same value:
/// normalising is idempotent and what Velum stores re-validates.
macro_rules! idempotent {
    ($t:ty, $s:expr) => {
        if let Ok(v) = <$t>::parse($s) {
            let again = <$t>::parse(v.as_str())
                .unwrap_or_else(|e| panic!(concat!(stringify!($t), ": its own value does not parse again: {}"), e));
            assert_eq!(
                again.as_str(),
                v.as_str(),
                concat!(stringify!($t), ": parsing its own value changed it")
            );
        }
    };
}

/// Target `text`: every validated text type (names, email, UK mobile,
/// postcode, address lines, town, short and free text) on the same input.
pub fn text(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    idempotent!(PersonName, s);
    idempotent!(EmailAddress, s);
    idempotent!(UkMobile, s);
    idempotent!(Postcode, s);
    idempotent!(AddressLine, s);
    idempotent!(Town, s);
    idempotent!(ShortText, s);
    idempotent!(FreeText, s);
    if let Ok(m) = UkMobile::parse(s) {
        // The national form the edit form shows parses to the same number.
        let national = UkMobile::parse(&m.national()).expect("UkMobile: the national form parses");
        assert_eq!(
            national.as_str(),
            m.as_str(),
            "UkMobile: the national form is the same number"
        );
    }
    if let Ok(n) = PersonName::parse(s) {
        assert_eq!(
            PersonName::search_key_of(n.as_str()),
            n.search_key(),
            "PersonName: one search key"
        );
    }
}

/// Target `date_of_birth`: a date that parses is not after today nor before
/// 1900, and its ISO form and the UK form the edit form shows parse back to
/// the same date.
pub fn date_of_birth(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(d) = DateOfBirth::parse(s, TODAY) else {
        return;
    };
    assert!(d.as_date() <= TODAY && d.as_date() >= jiff::civil::date(1900, 1, 1));
    let iso = DateOfBirth::parse(&d.to_iso(), TODAY).expect("DateOfBirth: the ISO form parses");
    assert_eq!(iso, d, "DateOfBirth: ISO round trip");
    let uk = d.as_date().strftime("%d/%m/%Y").to_string();
    let uk = DateOfBirth::parse(&uk, TODAY).expect("DateOfBirth: the UK form parses");
    assert_eq!(uk, d, "DateOfBirth: UK round trip");
    assert!(d.age_on(TODAY) >= 0, "DateOfBirth: no negative age");
}

/// A client's card as typed: when it parses, the form made from the parsed
/// card (what the edit page shows) parses to the same card.
pub fn client_input(input: &ClientInput) {
    if let Ok(details) = input.parse(TODAY) {
        let shown = ClientInput::from_details(&details);
        let again = shown
            .parse(TODAY)
            .unwrap_or_else(|e| panic!("ClientInput: the card's own form does not parse: {:?}", e.as_slice()));
        assert_eq!(again, details, "ClientInput: the edit form changes the card");
    }
}

/// A medical summary as typed: when it parses, the summary written back as
/// input parses to the same summary.
pub fn medical_input(input: &MedicalInput) {
    if let Ok(summary) = input.parse() {
        let list = |v: &[ShortText]| v.iter().map(|s| s.as_str().to_owned()).collect();
        let shown = MedicalInput {
            allergies: list(&summary.allergies),
            medications: list(&summary.medications),
            conditions: list(&summary.conditions),
            notes: summary.notes.as_str().to_owned(),
        };
        let again = shown.parse().expect("MedicalInput: its own summary parses");
        assert_eq!(again, summary, "MedicalInput: round trip");
    }
}

/// A clinic's settings as typed: when they parse, the form made from them
/// parses to the same settings.
pub fn settings_input(input: &SettingsInput) {
    if let Ok(settings) = input.parse() {
        let shown = SettingsInput::from_settings(&settings);
        let again = shown
            .parse()
            .unwrap_or_else(|e| panic!("SettingsInput: its own form does not parse: {:?}", e.as_slice()));
        assert!(
            again == settings,
            "SettingsInput: round trip changed {:?}",
            again.changed_fields(&settings)
        );
    }
}

/// Target `sealed_file`: the framing of exports and archives. A file that
/// splits is exactly its parts put back together, and its format is one
/// asked for.
pub fn sealed_file(data: &[u8]) {
    for (kind, formats) in [(CLINIC_EXPORT, &[1_u32, 2][..]), (CLINIC_ARCHIVE, &[1, 2, 3][..])] {
        match kind.split(data, formats) {
            Ok(frame) => {
                assert!(formats.contains(&frame.format));
                assert_eq!(
                    kind.assemble(frame.header_bytes, frame.sealed),
                    data,
                    "sealed file: split and assemble differ"
                );
                let _ = frame.header::<serde_json::Value>();
            }
            Err(FrameError::Unsupported { found }) => assert!(found.chars().count() <= 20),
            Err(FrameError::NoMarker | FrameError::Damaged(_)) => {}
        }
    }
}

/// Target `export_file`: `velum import`'s check of an export file, under
/// the test master key. Without the master key no input opens, so nothing
/// made up may pass.
pub fn export_file(data: &[u8]) {
    if let Ok(summary) = crate::transfer::check_export(data, &master()) {
        // Only a file sealed under this master key gets here; the corpus
        // holds none, and the fuzzer cannot forge one.
        panic!("export: a file nobody sealed was accepted ({} rows)", summary.total());
    }
}

/// Target `archive`: the offboarding archive opener, with a key (format 1)
/// and naming the wrong secret for the others. A passphrase is not tried:
/// Argon2id at 64 MiB per attempt would make the target crawl, and the
/// framing and header it would read are the ones read here.
pub fn archive(data: &[u8]) {
    let key = "00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000000";
    assert!(
        open_archive(data, ArchiveSecret::Key(key)).is_err(),
        "archive: a file nobody sealed opened"
    );
    if let Ok(text) = std::str::from_utf8(data) {
        // The key text itself, as typed.
        let _ = velum_crypto::ArchiveKey::from_text(text);
    }
}

/// The one clinic key of the stream checks (made once per process).
fn stream_key() -> &'static ClinicKey {
    static KEY: OnceLock<ClinicKey> = OnceLock::new();
    KEY.get_or_init(ClinicKey::generate)
}

/// Target `stream`: the STREAM decryptor. Any input as a sealed stream
/// does not open (it was not sealed under this key); the input sealed as
/// plaintext opens to itself; and the sealed form with one byte changed,
/// cut short or extended (where the input says) does not open.
pub fn stream(data: &[u8]) {
    let key = stream_key();
    let aad = Aad::record(
        "velum.fuzz/stream",
        &[ClinicId::from_uuid(uuid::Uuid::from_u128(1)).as_uuid()],
    );
    let open = |sealed: &[u8]| -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        key.open_stream(&aad, sealed)?.read_to_end(&mut out)?;
        Ok(out)
    };
    assert!(open(data).is_err(), "stream: bytes nobody sealed opened");

    let mut writer = key.seal_stream(&aad, Vec::new()).expect("a Vec takes any write");
    // Write in the pieces the input's first byte says, to cover chunking.
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1) * 997;
    for piece in data.chunks(step) {
        std::io::Write::write_all(&mut writer, piece).expect("a Vec takes any write");
    }
    let sealed = writer.finish().expect("a Vec takes any write");
    assert_eq!(open(&sealed).expect("stream: its own sealing opens"), data);

    let at = data
        .iter()
        .fold(0_usize, |a, &b| a.wrapping_mul(31).wrapping_add(usize::from(b)))
        % sealed.len();
    let mut flipped = sealed.clone();
    flipped[at] ^= 0x01;
    assert!(open(&flipped).is_err(), "stream: a changed byte at {at} went unnoticed");
    assert!(open(&sealed[..at]).is_err(), "stream: cut at {at} went unnoticed");
    let mut longer = sealed;
    longer.push(0);
    assert!(open(&longer).is_err(), "stream: a byte after the end went unnoticed");
}
