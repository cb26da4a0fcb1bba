//! Unwrapping the key ring inside a transaction: master key → clinic key →
//! client key.

use velum_core::ClientId;
use velum_crypto::{ClientKey, ClinicKey};
use velum_store::{ClinicScope, StoreError, Tx, clients, clinics};

use crate::{App, AppError};

impl App {
    pub(crate) async fn clinic_key(&self, tx: &mut Tx, scope: &ClinicScope) -> Result<(i64, ClinicKey), AppError> {
        let (key_id, wrapped) = clinics::current_key(tx, scope).await?;
        let key = self.master().unwrap_clinic_key(&wrapped, scope.clinic_id())?;
        Ok((key_id, key))
    }

    pub(crate) async fn client_key(
        &self,
        tx: &mut Tx,
        scope: &ClinicScope,
        client: ClientId,
    ) -> Result<ClientKey, AppError> {
        let (_key_id, wrapped) = clients::key(tx, scope, client)
            .await?
            .ok_or(StoreError::Corrupt("client has no key"))?;
        // Only one clinic key generation exists until rotation lands; the
        // client key records which one wraps it.
        let (_, clinic_key) = self.clinic_key(tx, scope).await?;
        Ok(clinic_key.unwrap_client_key(&wrapped, scope.clinic_id(), client)?)
    }
}
