//! A clinic's own settings: its time zone, public slug, display name and
//! address, who it is registered with, its notice periods and any longer
//! retention periods it keeps. Each value is a parsed type with its own
//! file and tests; [`SettingsInput::parse`] turns a form or a JSON body into
//! [`ClinicSettings`], naming every field that is wrong.

mod display_name;
mod notice;
mod regulator;
mod retention;
mod slug;
mod time_zone;

pub use display_name::DisplayName;
pub use notice::{NoticeError, NoticeHours};
pub use regulator::{RegistrationNumber, RegistrationNumberError, Regulator, RegulatorError};
pub use retention::{RetentionError, RetentionKind, RetentionYears};
pub use slug::{PublicSlug, SlugError};
pub use time_zone::{ClinicTimeZone, TimeZoneError};

use crate::client::{Address, FieldErrors};
use crate::text::{AddressLine, Postcode, ShortText, Town};

/// A clinic's settings, every value parsed. A clinic that never saved any
/// has [`ClinicSettings::default`].
#[derive(Clone, PartialEq, Eq)]
pub struct ClinicSettings {
    pub time_zone: ClinicTimeZone,
    /// The clinic's name in its public pages' address; unique across the
    /// installation (the database decides).
    pub public_slug: Option<PublicSlug>,
    pub display_name: Option<DisplayName>,
    pub address: Option<Address>,
    /// The regulator and the registration number it issued, together.
    pub registration: Option<(Regulator, RegistrationNumber)>,
    /// The council that licensed the premises or practitioners (DOMAIN C4),
    /// and the licence number.
    pub licensing_authority: Option<ShortText>,
    pub licence_number: Option<RegistrationNumber>,
    /// How long before an appointment a client may cancel without charge.
    pub cancellation_notice: NoticeHours,
    /// How long before an appointment the reminder goes out (0: none).
    pub reminder_lead: NoticeHours,
    /// Longer than the statutory minimum, or `None` for the minimum.
    pub clinical_retention: Option<RetentionYears>,
    pub financial_retention: Option<RetentionYears>,
}

impl ClinicSettings {
    pub const DEFAULT_CANCELLATION_HOURS: u16 = 24;
    pub const DEFAULT_REMINDER_HOURS: u16 = 24;

    /// The clinical retention period in force, in years.
    #[must_use]
    pub fn clinical_retention_years(&self) -> u8 {
        self.clinical_retention
            .map_or(RetentionKind::Clinical.minimum_years(), RetentionYears::years)
    }

    /// The financial retention period in force, in years.
    #[must_use]
    pub fn financial_retention_years(&self) -> u8 {
        self.financial_retention
            .map_or(RetentionKind::Financial.minimum_years(), RetentionYears::years)
    }

    /// The names of the fields that differ from `other`, for an audit
    /// detail (names only, never values).
    #[must_use]
    pub fn changed_fields(&self, other: &ClinicSettings) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut check = |name: &'static str, changed: bool| {
            if changed {
                out.push(name);
            }
        };
        check("time_zone", self.time_zone != other.time_zone);
        check("public_slug", self.public_slug != other.public_slug);
        check("display_name", self.display_name != other.display_name);
        check("address", self.address != other.address);
        check("registration", self.registration != other.registration);
        check(
            "licence",
            (&self.licensing_authority, &self.licence_number) != (&other.licensing_authority, &other.licence_number),
        );
        check(
            "cancellation_notice_hours",
            self.cancellation_notice != other.cancellation_notice,
        );
        check("reminder_lead_hours", self.reminder_lead != other.reminder_lead);
        check(
            "clinical_retention_years",
            self.clinical_retention != other.clinical_retention,
        );
        check(
            "financial_retention_years",
            self.financial_retention != other.financial_retention,
        );
        out
    }
}

impl Default for ClinicSettings {
    fn default() -> Self {
        Self {
            time_zone: ClinicTimeZone::london(),
            public_slug: None,
            display_name: None,
            address: None,
            registration: None,
            licensing_authority: None,
            licence_number: None,
            cancellation_notice: NoticeHours::from_stored(i64::from(Self::DEFAULT_CANCELLATION_HOURS)),
            reminder_lead: NoticeHours::from_stored(i64::from(Self::DEFAULT_REMINDER_HOURS)),
            clinical_retention: None,
            financial_retention: None,
        }
    }
}

/// The settings as typed into the form (or sent as JSON): every field a
/// string, so a form with errors can be shown again with what was typed.
/// Blank optional fields mean "none" (for retention: the minimum).
#[derive(Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct SettingsInput {
    pub time_zone: String,
    pub public_slug: String,
    pub display_name: String,
    pub line1: String,
    pub line2: String,
    pub town: String,
    pub postcode: String,
    pub regulator: String,
    pub registration_number: String,
    pub licensing_authority: String,
    pub licence_number: String,
    pub cancellation_notice_hours: String,
    pub reminder_lead_hours: String,
    pub clinical_retention_years: String,
    pub financial_retention_years: String,
}

// A sole practitioner's clinic address and registration numbers can name
// a person: never printed.
crate::debug_redacted!(SettingsInput {
    display_name, line1, line2, town, postcode, registration_number, licence_number;
    shown: time_zone, public_slug, regulator, licensing_authority, cancellation_notice_hours,
        reminder_lead_hours, clinical_retention_years, financial_retention_years
});
crate::debug_redacted!(ClinicSettings {
    display_name, address, registration, licence_number;
    shown: time_zone, public_slug, licensing_authority, cancellation_notice, reminder_lead,
        clinical_retention, financial_retention
});

/// `None` when the field was left blank.
fn optional(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// Parse an optional field: blank is `Some(None)`, an error is `None`.
fn opt<T, E: std::fmt::Display>(
    errors: &mut FieldErrors,
    field: &str,
    s: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Option<Option<T>> {
    match optional(s) {
        None => Some(None),
        Some(s) => errors.take(field, parse(s)).map(Some),
    }
}

impl SettingsInput {
    /// What a form shows for `s`.
    #[must_use]
    pub fn from_settings(s: &ClinicSettings) -> Self {
        let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
        let a = s.address.as_ref();
        Self {
            time_zone: s.time_zone.as_str().to_owned(),
            public_slug: text(s.public_slug.as_ref().map(PublicSlug::as_str)),
            display_name: text(s.display_name.as_ref().map(DisplayName::as_str)),
            line1: text(a.map(|a| a.line1.as_str())),
            line2: text(a.and_then(|a| a.line2.as_ref()).map(AddressLine::as_str)),
            town: text(a.map(|a| a.town.as_str())),
            postcode: text(a.map(|a| a.postcode.as_str())),
            regulator: text(s.registration.as_ref().map(|(r, _)| r.as_str())),
            registration_number: text(s.registration.as_ref().map(|(_, n)| n.as_str())),
            licensing_authority: text(s.licensing_authority.as_ref().map(ShortText::as_str)),
            licence_number: text(s.licence_number.as_ref().map(RegistrationNumber::as_str)),
            cancellation_notice_hours: s.cancellation_notice.hours().to_string(),
            reminder_lead_hours: s.reminder_lead.hours().to_string(),
            clinical_retention_years: s.clinical_retention.map(|y| y.years().to_string()).unwrap_or_default(),
            financial_retention_years: s.financial_retention.map(|y| y.years().to_string()).unwrap_or_default(),
        }
    }

    /// Parse every field; on failure, every field's error.
    ///
    /// # Errors
    /// The fields that failed, each with its message.
    pub fn parse(&self) -> Result<ClinicSettings, FieldErrors> {
        let mut e = FieldErrors::new();
        let time_zone = e.take("time_zone", ClinicTimeZone::parse(&self.time_zone));
        let public_slug = opt(&mut e, "public_slug", &self.public_slug, PublicSlug::parse);
        let display_name = opt(&mut e, "display_name", &self.display_name, DisplayName::parse);
        let address = self.parse_address(&mut e);
        let regulator = opt(&mut e, "regulator", &self.regulator, Regulator::parse);
        let number = opt(
            &mut e,
            "registration_number",
            &self.registration_number,
            RegistrationNumber::parse,
        );
        let registration = match (regulator, number) {
            (Some(None), Some(None)) => Some(None),
            (Some(Some(r)), Some(Some(n))) => Some(Some((r, n))),
            (Some(Some(_)), Some(None)) => {
                e.add("registration_number", "is required when a regulator is chosen");
                None
            }
            (Some(None), Some(Some(_))) => {
                e.add("regulator", "is required when a registration number is given");
                None
            }
            _ => None,
        };
        let licensing_authority = opt(
            &mut e,
            "licensing_authority",
            &self.licensing_authority,
            ShortText::parse,
        );
        let licence_number = opt(
            &mut e,
            "licence_number",
            &self.licence_number,
            RegistrationNumber::parse,
        );
        let cancellation_notice = e.take(
            "cancellation_notice_hours",
            NoticeHours::parse(&self.cancellation_notice_hours),
        );
        let reminder_lead = e.take("reminder_lead_hours", NoticeHours::parse(&self.reminder_lead_hours));
        let clinical_retention = opt(
            &mut e,
            "clinical_retention_years",
            &self.clinical_retention_years,
            |s| RetentionYears::parse(RetentionKind::Clinical, s),
        );
        let financial_retention = opt(
            &mut e,
            "financial_retention_years",
            &self.financial_retention_years,
            |s| RetentionYears::parse(RetentionKind::Financial, s),
        );
        match (
            time_zone,
            public_slug,
            display_name,
            address,
            registration,
            licensing_authority,
            licence_number,
            cancellation_notice,
            reminder_lead,
            clinical_retention,
            financial_retention,
        ) {
            (
                Some(time_zone),
                Some(public_slug),
                Some(display_name),
                Some(address),
                Some(registration),
                Some(licensing_authority),
                Some(licence_number),
                Some(cancellation_notice),
                Some(reminder_lead),
                Some(clinical_retention),
                Some(financial_retention),
            ) if e.is_empty() => Ok(ClinicSettings {
                time_zone,
                public_slug,
                display_name,
                address,
                registration,
                licensing_authority,
                licence_number,
                cancellation_notice,
                reminder_lead,
                clinical_retention,
                financial_retention,
            }),
            _ => Err(e),
        }
    }

    /// The address is optional as a whole; once any part is given, line 1,
    /// town and postcode are required.
    fn parse_address(&self, errors: &mut FieldErrors) -> Option<Option<Address>> {
        let parts = [&self.line1, &self.line2, &self.town, &self.postcode];
        if parts.iter().all(|p| p.trim().is_empty()) {
            return Some(None);
        }
        let line1 = errors.take("line1", AddressLine::parse(&self.line1));
        let line2 = opt(errors, "line2", &self.line2, AddressLine::parse);
        let town = errors.take("town", Town::parse(&self.town));
        let postcode = errors.take("postcode", Postcode::parse(&self.postcode));
        Some(Some(Address {
            line1: line1?,
            line2: line2?,
            town: town?,
            postcode: postcode?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> SettingsInput {
        SettingsInput {
            time_zone: "Europe/London".into(),
            public_slug: "Bright-Skin".into(),
            display_name: "Bright Skin".into(),
            line1: "1 High Street".into(),
            line2: String::new(),
            town: "Leeds".into(),
            postcode: "ls1 4ap".into(),
            regulator: "cqc".into(),
            registration_number: "1-123456789".into(),
            licensing_authority: "Leeds City Council".into(),
            licence_number: "LIC-1".into(),
            cancellation_notice_hours: "48".into(),
            reminder_lead_hours: "24".into(),
            clinical_retention_years: "10".into(),
            financial_retention_years: String::new(),
        }
    }

    #[test]
    fn a_full_form_parses_and_shows_again_as_stored() {
        let s = full().parse().unwrap();
        assert_eq!(s.public_slug.as_ref().unwrap().as_str(), "bright-skin");
        assert_eq!(s.address.as_ref().unwrap().postcode.as_str(), "LS1 4AP");
        assert_eq!(s.registration.as_ref().unwrap().0, Regulator::Cqc);
        assert_eq!(s.clinical_retention_years(), 10);
        assert_eq!(s.financial_retention_years(), 6);
        let again = SettingsInput::from_settings(&s);
        assert_eq!(again.parse().unwrap(), s);
        assert_eq!(again.public_slug, "bright-skin");
    }

    #[test]
    fn the_defaults_parse_back_to_themselves() {
        let d = ClinicSettings::default();
        assert_eq!(d.time_zone.as_str(), "Europe/London");
        assert_eq!(d.cancellation_notice.hours(), 24);
        assert_eq!(SettingsInput::from_settings(&d).parse().unwrap(), d);
        assert!(d.changed_fields(&ClinicSettings::default()).is_empty());
    }

    #[test]
    fn every_bad_field_is_named() {
        let input = SettingsInput {
            time_zone: "Mars/Olympus".into(),
            public_slug: "no spaces".into(),
            line1: "1 High Street".into(),
            town: String::new(),
            postcode: "nope".into(),
            regulator: String::new(),
            registration_number: "1-2".into(),
            cancellation_notice_hours: "a day".into(),
            reminder_lead_hours: String::new(),
            // DOMAIN F34: shorter than the 8-year minimum is refused.
            clinical_retention_years: "7".into(),
            financial_retention_years: "5".into(),
            ..SettingsInput::default()
        };
        let errors = input.parse().unwrap_err();
        let fields: Vec<&str> = errors.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "time_zone",
                "public_slug",
                "town",
                "postcode",
                "regulator",
                "cancellation_notice_hours",
                "reminder_lead_hours",
                "clinical_retention_years",
                "financial_retention_years",
            ]
        );
        assert!(
            errors
                .get("clinical_retention_years")
                .unwrap()
                .contains("minimum of 8 years")
        );
    }

    #[test]
    fn a_regulator_needs_its_number() {
        let input = SettingsInput {
            registration_number: String::new(),
            ..full()
        };
        let errors = input.parse().unwrap_err();
        assert_eq!(
            errors.get("registration_number"),
            Some("is required when a regulator is chosen")
        );
    }

    #[test]
    fn changed_fields_name_fields_not_values() {
        let a = full().parse().unwrap();
        let b = SettingsInput {
            time_zone: "Europe/Dublin".into(),
            clinical_retention_years: String::new(),
            ..full()
        }
        .parse()
        .unwrap();
        assert_eq!(a.changed_fields(&b), ["time_zone", "clinical_retention_years"]);
    }
}
