//! The medical summary: a [`SealedSection`] read with the card and replaced
//! as a whole, the previous version kept in the history.

use velum_core::actor::Access;
use velum_core::audit::AuditAction;
use velum_core::client::{MedicalInput, MedicalSummary};
use velum_core::{Actor, ClientId, Section};
use velum_crypto::{Aad, ClientKey};
use velum_store::clients::{self, MEDICAL_AAD_SCHEME, MedicalRow};
use velum_store::{ClinicScope, Tx};

use crate::{App, AppError};

use super::*;

/// The medical section, opened.
#[derive(Clone, Debug)]
pub struct Medical {
    pub summary: MedicalSummary,
    /// 0 when nothing has been recorded yet.
    pub version: i64,
}

/// The medical record's associated data: clinic, client and version
/// (scheme 2), so an older ciphertext of the record copied over the current
/// row does not open.
pub(crate) fn medical_aad(scope: &ClinicScope, client: ClientId, version: i64) -> Aad {
    MEDICAL.aad(scope, client, version)
}

/// Scheme 1, before migration 0010: clinic and client only. Only the
/// start-up upgrade ([`App::upgrade_medical_aad`]) opens with it.
pub(crate) fn medical_aad_v1(scope: &ClinicScope, client: ClientId) -> Aad {
    Aad::record("client.medical", &[scope.clinic_id().as_uuid(), client.as_uuid()])
}

/// Open a stored medical row. A row that is not under the current scheme,
/// or does not open as this client's record at its stored version, is an
/// integrity failure (a rolled-back or swapped ciphertext), never shown.
pub(crate) fn open_medical(
    key: &ClientKey,
    scope: &ClinicScope,
    client: ClientId,
    row: &MedicalRow,
) -> Result<Vec<u8>, AppError> {
    if row.aad_scheme != MEDICAL_AAD_SCHEME {
        return Err(AppError::Integrity);
    }
    MEDICAL.open(key, scope, client, &row.sealed, row.version)
}

impl App {
    pub(super) async fn read_medical(
        &self,
        tx: &mut Tx,
        scope: &ClinicScope,
        id: ClientId,
    ) -> Result<Medical, AppError> {
        match clients::medical(tx, scope, id).await? {
            None => Ok(Medical {
                summary: MedicalSummary::default(),
                version: 0,
            }),
            Some(row) => {
                let key = self.client_key(tx, scope, id).await?;
                if row.aad_scheme != MEDICAL_AAD_SCHEME {
                    return Err(AppError::Integrity);
                }
                let summary = MEDICAL.read(&key, scope, id, &row.sealed, row.version)?;
                Ok(Medical {
                    summary,
                    version: row.version,
                })
            }
        }
    }

    /// Replace the medical summary (sealed under the client's key); the
    /// previous one is kept sealed in the history.
    ///
    /// # Errors
    /// `Validation` naming entries like `allergies[1]`; `Forbidden`; `NotFound`.
    pub async fn put_medical(&self, actor: &Actor, id: ClientId, input: &MedicalInput) -> Result<Medical, AppError> {
        let sections = [Section::Medical];
        let actor = &self.card_access(actor, id, Access::Write, &sections).await?;
        let summary = input.parse().map_err(AppError::Validation)?;
        self.in_card(actor, id, &sections, async |c| {
            let key = self.client_key(&mut c.tx, &c.scope, id).await?;
            let now = self.now();
            let previous = clients::medical(&mut c.tx, &c.scope, id).await?;
            if previous
                .as_ref()
                .is_some_and(|row| row.aad_scheme != MEDICAL_AAD_SCHEME)
            {
                return Err(AppError::Integrity);
            }
            let previous = previous.as_ref().map(|row| (row.sealed.as_slice(), row.version));
            let next = MEDICAL.next(&key, &c.scope, id, previous, &summary)?;
            let by = c.actor.staff_id;
            if !clients::put_medical(&mut c.tx, &c.scope, id, &next.sealed, next.version, by, now).await? {
                return Err(MEDICAL.conflict());
            }
            MEDICAL.keep_history(&mut c.tx, &c.scope, id, &next, by, now).await?;
            let version = next.version;
            Ok(Done::audited(AuditAction::Update, Medical { summary, version }))
        })
        .await
    }
}
