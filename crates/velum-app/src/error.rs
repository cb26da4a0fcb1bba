//! The app layer's one error type (G11). The web layer maps it to HTTP in
//! one place; `Internal` details are logged there and never shown.

use velum_core::ClientId;
use velum_core::client::FieldErrors;

/// A card that looks like the one being created.
#[derive(Clone, PartialEq, Eq)]
pub struct DuplicateMatch {
    pub id: ClientId,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    /// Which rule matched: "name_and_date_of_birth", "email" or "mobile".
    pub reason: &'static str,
}

// `AppError::Duplicate` carries these, and errors are logged.
velum_core::debug_redacted!(DuplicateMatch {
    given_name,
    family_name,
    date_of_birth;
    shown: id,
    reason
});

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input failed validation; nothing was written.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// Sign-in failed. Deliberately says nothing about which part was wrong.
    #[error("email, password or code not recognised")]
    BadCredentials,
    /// The password was right, but the account's clinic is suspended by
    /// its provider. Only ever answered after a correct password, so it
    /// does not tell which emails have accounts.
    #[error("the clinic is suspended")]
    ClinicSuspended,
    /// Too many attempts from this source (or at this account from this
    /// source): refused without checking anything, until the counting
    /// window ends in `retry_after_secs` seconds.
    #[error("too many attempts")]
    TooManyAttempts { retry_after_secs: u64 },
    /// No session, or it expired or was ended.
    #[error("not signed in")]
    Unauthenticated,
    /// Signed in but not allowed. The refusal has been audited.
    #[error("not allowed")]
    Forbidden,
    /// Not found, or not in the actor's clinic (the same answer on purpose).
    #[error("not found")]
    NotFound,
    /// The new card looks like existing ones.
    #[error("a client with these details already exists")]
    Duplicate(Vec<DuplicateMatch>),
    /// A uniqueness rule on one field.
    #[error("conflict")]
    Conflict(FieldErrors),
    /// A sealed record did not open as the record it is stored as (for
    /// example an older version of a medical record copied over the current
    /// one). Nothing of it is shown; the event has been audited.
    #[error("a stored record failed its integrity check")]
    Integrity,
    /// The store could not be opened: wrong key, newer schema.
    #[error("{0}")]
    Startup(String),
    /// Anything else. The message is for the log, never the response.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub(crate) fn field(field: &str, message: &str) -> Self {
        AppError::Validation(FieldErrors::single(field, message))
    }
}

impl From<velum_crypto::CryptoError> for AppError {
    fn from(e: velum_crypto::CryptoError) -> Self {
        AppError::Internal(format!("crypto: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use velum_core::ClientId;

    use super::{AppError, DuplicateMatch};
    use crate::clients::ClientPatch;
    use crate::staff::InviteInput;

    const CANARY: &str = "Quarrington";

    /// The inputs and errors that carry personal data print none of it
    /// (docs/LOGGING.md): only type and field names, ids and fixed codes.
    #[test]
    fn personal_data_inputs_and_errors_debug_without_values() {
        let some = || Some(CANARY.to_owned());
        let patch = ClientPatch {
            given_name: some(),
            family_name: some(),
            date_of_birth: some(),
            email: some(),
            mobile: some(),
            line1: some(),
            line2: some(),
            town: some(),
            postcode: some(),
        };
        let invite = InviteInput {
            email: CANARY.into(),
            display_name: CANARY.into(),
            role: CANARY.into(),
        };
        let id = ClientId::new();
        let duplicate = DuplicateMatch {
            id,
            given_name: CANARY.into(),
            family_name: CANARY.into(),
            date_of_birth: CANARY.into(),
            reason: "email",
        };
        let error = AppError::Duplicate(vec![duplicate.clone()]);
        let header = crate::clients::CardHeader {
            id,
            given_name: CANARY.into(),
            family_name: CANARY.into(),
            archived: false,
        };
        for text in [
            format!("{header:?}"),
            format!("{patch:?}"),
            format!("{patch:#?}"),
            format!("{invite:?}"),
            format!("{duplicate:?}"),
            format!("{error:?}"),
            format!("{error:#?}"),
        ] {
            assert!(!text.contains(CANARY), "{text}");
            assert!(text.contains("<redacted>"), "{text}");
        }
        let text = format!("{duplicate:?}");
        assert!(text.contains(&id.to_string()) && text.contains("\"email\""), "{text}");
        assert!(format!("{invite:?}").starts_with("InviteInput { email: <redacted>"));
    }
}
