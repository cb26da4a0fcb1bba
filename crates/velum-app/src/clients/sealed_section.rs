//! A card section sealed under the client's key with versioned associated
//! data, its previous versions kept in the client's history.

use jiff::Timestamp;
use serde::Serialize;
use velum_core::{ClientId, Section, StaffId};
use velum_crypto::{Aad, ClientKey};
use velum_store::clients;
use velum_store::{ClinicScope, Tx};

use crate::AppError;

use super::*;

/// A card section sealed under the client's key, one current version per
/// client: its associated data names clinic, client and version, so an
/// older ciphertext copied over the current row does not open (a removed
/// allergy must not come back unnoticed), and each change keeps the
/// previous value sealed in the client's history. The medical summary is
/// one ([`MEDICAL`]); a questionnaire, consultation, treatment or consent
/// is another constant and two store calls (read the row, put it with a
/// version check).
pub(crate) struct SealedSection {
    /// The associated data's label, with its scheme (`client.medical/v2`).
    pub label: &'static str,
    /// The section its history rows and audit events name.
    pub section: Section,
    /// The field named in errors.
    pub field: &'static str,
}

/// The medical summary (associated-data scheme 2).
pub(crate) const MEDICAL: SealedSection = SealedSection {
    label: "client.medical/v2",
    section: Section::Medical,
    field: "medical",
};

/// The next version of a sealed section, ready to store; once stored,
/// [`SealedSection::keep_history`] records the previous one.
pub(crate) struct NextVersion {
    pub sealed: Vec<u8>,
    pub version: i64,
    history_id: uuid::Uuid,
    previous: Option<Vec<u8>>,
}

impl SealedSection {
    /// The associated data of one version of this section of one client.
    pub(crate) fn aad(&self, scope: &ClinicScope, client: ClientId, version: i64) -> Aad {
        Aad::record_version(
            self.label,
            &[scope.clinic_id().as_uuid(), client.as_uuid()],
            u64::try_from(version).unwrap_or(0),
        )
    }

    /// Open a stored version. One that does not open as this client's
    /// section at its stored version is an integrity failure (a rolled-back
    /// or swapped ciphertext), never shown.
    pub(crate) fn open(
        &self,
        key: &ClientKey,
        scope: &ClinicScope,
        client: ClientId,
        sealed: &[u8],
        version: i64,
    ) -> Result<Vec<u8>, AppError> {
        key.open(sealed, &self.aad(scope, client, version))
            .map_err(|e| match e {
                velum_crypto::CryptoError::WrongKey => AppError::Integrity,
                other => other.into(),
            })
    }

    /// Open a stored version and read its JSON.
    pub(crate) fn read<T: serde::de::DeserializeOwned>(
        &self,
        key: &ClientKey,
        scope: &ClinicScope,
        client: ClientId,
        sealed: &[u8],
        version: i64,
    ) -> Result<T, AppError> {
        let plain = self.open(key, scope, client, sealed, version)?;
        serde_json::from_slice(&plain).map_err(|_| AppError::Internal(format!("{} json: not readable", self.field)))
    }

    /// Seal `value` as the version after `previous` (its sealed bytes and
    /// version; `None` for the first), and the previous value for the
    /// history.
    pub(crate) fn next<T: Serialize>(
        &self,
        key: &ClientKey,
        scope: &ClinicScope,
        client: ClientId,
        previous: Option<(&[u8], i64)>,
        value: &T,
    ) -> Result<NextVersion, AppError> {
        let history_id = uuid::Uuid::now_v7();
        let before = match previous {
            Some((sealed, version)) => {
                let plain = self.open(key, scope, client, sealed, version)?;
                Some(key.seal(&plain, &history_aad(scope, client, history_id)))
            }
            None => None,
        };
        let version = previous.map_or(1, |(_, v)| v + 1);
        let json =
            serde_json::to_vec(value).map_err(|_| AppError::Internal(format!("{} json: cannot encode", self.field)))?;
        Ok(NextVersion {
            sealed: key.seal(&json, &self.aad(scope, client, version)),
            version,
            history_id,
            previous: before,
        })
    }

    /// The answer when the stored version moved on meanwhile.
    pub(crate) fn conflict(&self) -> AppError {
        AppError::Conflict(velum_core::client::FieldErrors::single(
            self.field,
            "was changed by someone else meanwhile; reload it and try again",
        ))
    }

    /// Record the change in the client's history, the previous value sealed.
    pub(crate) async fn keep_history(
        &self,
        tx: &mut Tx,
        scope: &ClinicScope,
        client: ClientId,
        next: &NextVersion,
        by: StaffId,
        now: Timestamp,
    ) -> Result<(), AppError> {
        clients::insert_history(
            tx,
            scope,
            client,
            next.history_id,
            self.section.as_str(),
            by,
            next.previous.as_deref(),
            now,
        )
        .await?;
        Ok(())
    }
}
