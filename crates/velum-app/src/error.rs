//! The app layer's one error type (G11). The web layer maps it to HTTP in
//! one place; `Internal` details are logged there and never shown.

use velum_core::ClientId;
use velum_core::client::FieldErrors;

/// A card that looks like the one being created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateMatch {
    pub id: ClientId,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: String,
    /// Which rule matched: "name_and_date_of_birth", "email" or "mobile".
    pub reason: &'static str,
}

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
