//! The client card: identity and contact details, and the medical summary.
//!
//! Raw input (what a receptionist typed, or a JSON body) arrives as strings in
//! [`ClientInput`] / [`MedicalInput`] and is parsed here into validated types.
//! Parsing collects every field error at once, named by field, so a form can
//! show them all and nothing is written (G2, G12).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::text::{AddressLine, DateOfBirth, EmailAddress, FreeText, PersonName, Postcode, ShortText, Town, UkMobile};

/// One field's error: the field's name as the form and the API spell it, and
/// a message that never repeats the value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every field error of one input, in field order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    #[must_use]
    pub fn new() -> Self {
        Self(Vec::new())
    }

    #[must_use]
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Keep the parsed value, or record the error under `field`.
    pub fn take<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[must_use]
    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    /// The message for one field, if it has one.
    #[must_use]
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }
}

/// A UK postal address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Address {
    pub line1: AddressLine,
    pub line2: Option<AddressLine>,
    pub town: Town,
    pub postcode: Postcode,
}

/// A client's identity and contact details, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClientDetails {
    pub given_name: PersonName,
    pub family_name: PersonName,
    pub date_of_birth: DateOfBirth,
    pub email: Option<EmailAddress>,
    pub mobile: Option<UkMobile>,
    pub address: Option<Address>,
}

/// A client card's details as typed: every field a string, empty when left
/// blank. Field names are the names used in forms, the API and errors.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClientInput {
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    pub email: String,
    pub mobile: String,
    pub line1: String,
    pub line2: String,
    pub town: String,
    pub postcode: String,
}

crate::debug_redacted!(ClientInput {
    given_name,
    family_name,
    date_of_birth,
    email,
    mobile,
    line1,
    line2,
    town,
    postcode,
});

impl ClientInput {
    /// The input a form shows when editing an existing card.
    #[must_use]
    pub fn from_details(d: &ClientDetails) -> Self {
        let (line1, line2, town, postcode) = d.address.as_ref().map_or_else(
            || (String::new(), String::new(), String::new(), String::new()),
            |a| {
                (
                    a.line1.as_str().to_owned(),
                    a.line2.as_ref().map(|l| l.as_str().to_owned()).unwrap_or_default(),
                    a.town.as_str().to_owned(),
                    a.postcode.as_str().to_owned(),
                )
            },
        );
        Self {
            given_name: d.given_name.as_str().to_owned(),
            family_name: d.family_name.as_str().to_owned(),
            // As people type it in the UK (and as the form's hint shows).
            date_of_birth: d.date_of_birth.as_date().strftime("%d/%m/%Y").to_string(),
            email: d.email.as_ref().map(|e| e.as_str().to_owned()).unwrap_or_default(),
            mobile: d.mobile.as_ref().map(UkMobile::national).unwrap_or_default(),
            line1,
            line2,
            town,
            postcode,
        }
    }

    /// Parse every field; on failure, every field's error.
    ///
    /// # Errors
    /// The fields that failed, each with its message.
    pub fn parse(&self, today: Date) -> Result<ClientDetails, FieldErrors> {
        let mut errors = FieldErrors::new();
        let given_name = errors.take("given_name", PersonName::parse(&self.given_name));
        let family_name = errors.take("family_name", PersonName::parse(&self.family_name));
        let date_of_birth = errors.take("date_of_birth", DateOfBirth::parse(&self.date_of_birth, today));
        let email = match optional(&self.email) {
            None => Some(None),
            Some(s) => errors.take("email", EmailAddress::parse(s)).map(Some),
        };
        let mobile = match optional(&self.mobile) {
            None => Some(None),
            Some(s) => errors.take("mobile", UkMobile::parse(s)).map(Some),
        };
        let address = self.parse_address(&mut errors);
        match (given_name, family_name, date_of_birth, email, mobile, address) {
            (Some(given_name), Some(family_name), Some(date_of_birth), Some(email), Some(mobile), Some(address))
                if errors.is_empty() =>
            {
                Ok(ClientDetails {
                    given_name,
                    family_name,
                    date_of_birth,
                    email,
                    mobile,
                    address,
                })
            }
            _ => Err(errors),
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
        let line2 = match optional(&self.line2) {
            None => Some(None),
            Some(s) => errors.take("line2", AddressLine::parse(s)).map(Some),
        };
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

/// `None` when the field was left blank.
fn optional(s: &str) -> Option<&str> {
    let t = s.trim();
    (!t.is_empty()).then_some(t)
}

/// The medical summary: allergies, current medications, conditions and free
/// text. Special-category data: stored sealed under the client's key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalSummary {
    pub allergies: Vec<ShortText>,
    pub medications: Vec<ShortText>,
    pub conditions: Vec<ShortText>,
    pub notes: FreeText,
}

impl MedicalSummary {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.allergies.is_empty()
            && self.medications.is_empty()
            && self.conditions.is_empty()
            && self.notes.as_str().is_empty()
    }
}

/// The medical summary as typed: a list per kind, plus notes.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MedicalInput {
    #[serde(default)]
    pub allergies: Vec<String>,
    #[serde(default)]
    pub medications: Vec<String>,
    #[serde(default)]
    pub conditions: Vec<String>,
    #[serde(default)]
    pub notes: String,
}

crate::debug_redacted!(MedicalInput {
    allergies,
    medications,
    conditions,
    notes
});

/// At most this many entries per list; a medical summary is a summary.
pub const MAX_MEDICAL_ENTRIES: usize = 50;

impl MedicalInput {
    /// Split a text area into one entry per non-blank line.
    #[must_use]
    pub fn lines(text: &str) -> Vec<String> {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// # Errors
    /// Every entry that failed, named like `allergies[2]`.
    pub fn parse(&self) -> Result<MedicalSummary, FieldErrors> {
        let mut errors = FieldErrors::new();
        let allergies = parse_list(&mut errors, "allergies", &self.allergies);
        let medications = parse_list(&mut errors, "medications", &self.medications);
        let conditions = parse_list(&mut errors, "conditions", &self.conditions);
        let notes = errors.take("notes", FreeText::parse(&self.notes));
        match notes {
            Some(notes) if errors.is_empty() => Ok(MedicalSummary {
                allergies,
                medications,
                conditions,
                notes,
            }),
            _ => Err(errors),
        }
    }
}

fn parse_list(errors: &mut FieldErrors, field: &str, items: &[String]) -> Vec<ShortText> {
    if items.len() > MAX_MEDICAL_ENTRIES {
        errors.add(field, format!("must have at most {MAX_MEDICAL_ENTRIES} entries"));
        return Vec::new();
    }
    items
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.trim().is_empty())
        .filter_map(|(i, s)| errors.take(&format!("{field}[{i}]"), ShortText::parse(s)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{ClientInput, MedicalInput};

    const CANARY: &str = "Quarrington";

    /// Raw input never prints a value (docs/LOGGING.md): `{:?}` shows the
    /// type and field names only.
    #[test]
    fn raw_input_debug_prints_no_value() {
        let c = ClientInput {
            given_name: CANARY.into(),
            family_name: CANARY.into(),
            date_of_birth: CANARY.into(),
            email: CANARY.into(),
            mobile: CANARY.into(),
            line1: CANARY.into(),
            line2: CANARY.into(),
            town: CANARY.into(),
            postcode: CANARY.into(),
        };
        let m = MedicalInput {
            allergies: vec![CANARY.into()],
            medications: vec![CANARY.into()],
            conditions: vec![CANARY.into()],
            notes: CANARY.into(),
        };
        for text in [format!("{c:?}"), format!("{c:#?}"), format!("{m:?}"), format!("{m:#?}")] {
            assert!(!text.contains(CANARY), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
        assert!(format!("{c:?}").starts_with("ClientInput { given_name: <redacted>, family_name: <redacted>"));
        assert!(format!("{m:?}").contains("notes: <redacted>"));
    }
}
