//! Unwrapping the key ring inside a transaction: master key → clinic key →
//! client key; and rotating a clinic's key.
//!
//! A clinic may hold several key rows (`clinic_keys.key_id`) while a
//! rotation is under way. New things are sealed under the newest; a client
//! key is always opened with the clinic key its row names (`key_id`), so
//! clients not yet re-wrapped stay readable.

use std::collections::HashMap;

use velum_core::ClientId;
use velum_core::ClinicId;
use velum_core::actor::Purpose;
use velum_core::audit::{AuditAction, NewAuditEvent};
use velum_crypto::{ClientKey, ClinicKey, WrappedKey};
use velum_store::{ClinicScope, StoreError, Tx, clients, clinics, sessions, staff};

use crate::{App, AppError};

/// Client keys re-wrapped per transaction during a rotation: small enough
/// that a transaction holds SQLite's write lock only briefly.
const REWRAP_BATCH: usize = 100;

/// What one run of [`App::rotate_clinic_key`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The clinic key everything is now (or will be) wrapped under.
    pub key_id: i64,
    /// Whether this run made that key (`false`: it finished an interrupted
    /// rotation).
    pub started: bool,
    /// Client keys re-wrapped by this run.
    pub rewrapped: u64,
    /// Client keys still wrapped under an older clinic key (0 when done).
    pub remaining: u64,
    /// Old clinic key rows deleted (they were named by no client key).
    pub retired: u64,
}

impl Rotation {
    /// Every client key is under the new clinic key and the old rows are gone.
    #[must_use]
    pub fn finished(&self) -> bool {
        self.remaining == 0
    }
}

/// An event of the clinic's own chain with no member of staff acting (the
/// command line).
/// The job name key rotation records as its actor.
const KEY_ROTATION_JOB: &str = "key_rotation";

fn system_event(clinic_id: ClinicId, action: AuditAction, detail: String) -> NewAuditEvent {
    NewAuditEvent {
        clinic_id,
        actor_kind: velum_core::SystemJob::for_clinic(KEY_ROTATION_JOB, clinic_id).kind(),
        actor_id: None,
        client_id: None,
        sections: Vec::new(),
        action,
        purpose: Purpose::Administration,
        source: None,
        detail: Some(detail),
    }
}

/// Clinic keys opened so far, by `key_id`, for unwrapping many client keys.
pub(crate) struct ClinicKeys<'a> {
    app: &'a App,
    scope: ClinicScope,
    open: HashMap<i64, ClinicKey>,
}

impl<'a> ClinicKeys<'a> {
    pub(crate) fn new(app: &'a App, scope: ClinicScope) -> Self {
        ClinicKeys {
            app,
            scope,
            open: HashMap::new(),
        }
    }

    /// Open a client key with the clinic key its row names.
    pub(crate) async fn client_key(
        &mut self,
        tx: &mut Tx,
        client: ClientId,
        key_id: i64,
        wrapped: &WrappedKey,
    ) -> Result<ClientKey, AppError> {
        if !self.open.contains_key(&key_id) {
            let key = self.app.clinic_key_by_id(tx, &self.scope, key_id).await?;
            self.open.insert(key_id, key);
        }
        let clinic_key = &self.open[&key_id];
        Ok(clinic_key.unwrap_client_key(wrapped, self.scope.clinic_id(), client)?)
    }
}

impl App {
    /// The clinic's newest key: what new client keys and clinic secrets are
    /// sealed under.
    pub(crate) async fn clinic_key(&self, tx: &mut Tx, scope: &ClinicScope) -> Result<(i64, ClinicKey), AppError> {
        let (key_id, wrapped) = clinics::current_key(tx, scope).await?;
        let key = self.master().unwrap_clinic_key(&wrapped, scope.clinic_id())?;
        Ok((key_id, key))
    }

    /// The clinic key row `key_id`, whether or not it is the newest.
    pub(crate) async fn clinic_key_by_id(
        &self,
        tx: &mut Tx,
        scope: &ClinicScope,
        key_id: i64,
    ) -> Result<ClinicKey, AppError> {
        let wrapped = clinics::key(tx, scope, key_id).await?;
        Ok(self.master().unwrap_clinic_key(&wrapped, scope.clinic_id())?)
    }

    /// The client's data key, opened with the clinic key its row names
    /// (never simply the newest: after a rotation starts, clients not yet
    /// re-wrapped are still under an older one).
    pub(crate) async fn client_key(
        &self,
        tx: &mut Tx,
        scope: &ClinicScope,
        client: ClientId,
    ) -> Result<ClientKey, AppError> {
        let (key_id, wrapped) = clients::key(tx, scope, client)
            .await?
            .ok_or(StoreError::Corrupt("client has no key"))?;
        let clinic_key = self.clinic_key_by_id(tx, scope, key_id).await?;
        Ok(clinic_key.unwrap_client_key(&wrapped, scope.clinic_id(), client)?)
    }

    /// Rotate a clinic's key (`velum keys rotate-clinic`): make a new clinic
    /// key, re-seal the staff TOTP secrets under it (in the same
    /// transaction, so sign-in never sees a secret under a key that is not
    /// the newest), then re-wrap every client key under it in batches, each
    /// its own transaction, and finally delete the old clinic key rows once
    /// no client key names them. Each step is in the clinic's audit chain.
    ///
    /// Resumable: while the clinic holds more than one key row a rotation is
    /// unfinished, and this finishes it instead of starting another.
    /// Meanwhile every client stays readable, because client keys are
    /// opened with the clinic key they name. `max_clients` stops after
    /// re-wrapping that many client keys (to rotate a large clinic in
    /// slices); run again to go on.
    ///
    /// Sealed search links (12-hour URLs made under the old key) stop
    /// opening; staff search again.
    ///
    /// # Errors
    /// `NotFound` for an unknown or offboarded clinic; store and crypto
    /// errors (nothing is lost: each committed batch is complete).
    pub async fn rotate_clinic_key(&self, clinic: ClinicId, max_clients: Option<u64>) -> Result<Rotation, AppError> {
        let scope = crate::job_scope(KEY_ROTATION_JOB, clinic);
        let mut tx = self.begin().await?;
        match clinics::get(&mut tx, &scope).await? {
            Some(c) if !c.status.is_offboarded() => {}
            _ => return Err(AppError::NotFound),
        }
        let ids = clinics::key_ids(&mut tx, &scope).await?;
        let started = ids.len() <= 1;
        let key_id = if started {
            let (old_id, old_key) = self.clinic_key(&mut tx, &scope).await?;
            let new_key = ClinicKey::generate();
            let wrapped = self.master().wrap_clinic_key(&new_key, clinic);
            let new_id = clinics::add_key(&mut tx, &scope, &wrapped, self.now()).await?;
            let secrets = staff::sealed_totp_secrets(&mut tx, &scope).await?;
            for (id, sealed) in &secrets {
                let aad = crate::auth::totp_aad(clinic, *id);
                let secret = velum_crypto::totp::TotpSecret::from_bytes(old_key.open(sealed, &aad)?)?;
                staff::reseal_totp(&mut tx, &scope, *id, &new_key.seal(secret.as_bytes(), &aad)).await?;
            }
            let detail = format!(
                "started from_key:{old_id} to_key:{new_id} totp_resealed:{}",
                secrets.len()
            );
            self.audit(&mut tx, system_event(clinic, AuditAction::ClinicKeyRotated, detail))
                .await?;
            new_id
        } else {
            *ids.last().ok_or(StoreError::Corrupt("clinic has no key"))?
        };
        tx.commit().await?;

        let new_key = {
            let mut tx = self.store().begin_read().await?;
            self.clinic_key_by_id(&mut tx, &scope, key_id).await?
        };
        let mut rewrapped: u64 = 0;
        loop {
            let budget = max_clients.map_or(REWRAP_BATCH, |m| {
                usize::try_from(m.saturating_sub(rewrapped))
                    .unwrap_or(REWRAP_BATCH)
                    .min(REWRAP_BATCH)
            });
            if budget == 0 {
                break;
            }
            let mut tx = self.begin().await?;
            let batch =
                clients::keys_not_under(&mut tx, &scope, key_id, i64::try_from(budget).unwrap_or(i64::MAX)).await?;
            if batch.is_empty() {
                break;
            }
            let mut keys = ClinicKeys::new(self, scope);
            for (client, from, wrapped) in &batch {
                let client_key = keys.client_key(&mut tx, *client, *from, wrapped).await?;
                let rewrap = new_key.wrap_client_key(&client_key, clinic, *client);
                if clients::rewrap_key(&mut tx, &scope, *client, *from, (key_id, &rewrap)).await? {
                    rewrapped += 1;
                }
            }
            tx.commit().await?;
        }

        let mut tx = self.begin().await?;
        let remaining = u64::try_from(clients::count_keys_not_under(&mut tx, &scope, key_id).await?).unwrap_or(0);
        let retired = if remaining == 0 {
            self.reseal_stragglers(&mut tx, &scope, key_id, &new_key).await?;
            clinics::retire_unused_keys(&mut tx, &scope, key_id).await?
        } else {
            0
        };
        let detail = if remaining == 0 {
            format!("finished key:{key_id} rewrapped:{rewrapped} retired_keys:{retired}")
        } else {
            format!("paused key:{key_id} rewrapped:{rewrapped} remaining:{remaining}")
        };
        self.audit(&mut tx, system_event(clinic, AuditAction::ClinicKeyRotated, detail))
            .await?;
        tx.commit().await?;
        Ok(Rotation {
            key_id,
            started,
            rewrapped,
            remaining,
            retired,
        })
    }
}

impl App {
    /// Before older clinic keys are deleted: a TOTP secret confirmed while
    /// the rotation ran may have been sealed under an older key (the set-up
    /// read it before the new key existed); re-seal any such secret under
    /// the new key, trying each older key. Set-up secrets waiting on
    /// sign-in sessions are dropped: those sessions show a new secret at
    /// their next page, instead of one that no key opens. Returns how many
    /// confirmed secrets were re-sealed.
    async fn reseal_stragglers(
        &self,
        tx: &mut Tx,
        scope: &ClinicScope,
        key_id: i64,
        new_key: &ClinicKey,
    ) -> Result<u64, AppError> {
        let clinic = scope.clinic_id();
        let mut older = Vec::new();
        for id in clinics::key_ids(tx, scope).await? {
            if id < key_id {
                older.push(self.clinic_key_by_id(tx, scope, id).await?);
            }
        }
        let mut resealed = 0;
        for (id, sealed) in staff::sealed_totp_secrets(tx, scope).await? {
            let aad = crate::auth::totp_aad(clinic, id);
            if new_key.open(&sealed, &aad).is_ok() {
                continue;
            }
            if let Some(plain) = older.iter().find_map(|k| k.open(&sealed, &aad).ok()) {
                staff::reseal_totp(tx, scope, id, &new_key.seal(&plain, &aad)).await?;
                resealed += 1;
            }
        }
        sessions::clear_totp_pending(tx, scope).await?;
        Ok(resealed)
    }
}

/// Medical rows re-sealed per transaction by the start-up upgrade.
const UPGRADE_BATCH: i64 = 100;

impl App {
    /// The data migration that goes with schema migration 0010: re-seal
    /// every medical summary sealed under scheme 1 (clinic and client as
    /// associated data) under scheme 2 (clinic, client and version). Run on
    /// every start (`App::open`, so `velum migrate` and `serve` too), it is
    /// idempotent and resumable: each batch commits, and a re-sealed row is
    /// marked in `client_medical.aad_scheme`. When none are left it records
    /// so in `meta`, and from then on does nothing: a scheme-1 row that
    /// appears later (an old ciphertext put back with its scheme) is refused
    /// as an integrity failure, never re-sealed. A row that does not open
    /// is left as it is (and will be refused), logged by id only.
    ///
    /// Returns how many rows it re-sealed.
    ///
    /// # Errors
    /// Store errors.
    pub async fn upgrade_medical_aad(&self) -> Result<u64, AppError> {
        let clinics = {
            let mut tx = self.begin().await?;
            if clients::medical_aad_upgraded(&mut tx).await? {
                return Ok(0);
            }
            clients::clinics_with_old_medical(&mut tx).await?
        };
        let mut total = 0;
        for clinic in clinics {
            let scope = crate::job_scope(KEY_ROTATION_JOB, clinic);
            let mut after = None;
            let (mut resealed, mut refused) = (0u64, 0u64);
            loop {
                let mut tx = self.begin().await?;
                let rows = clients::medical_old_scheme(&mut tx, &scope, after, UPGRADE_BATCH).await?;
                let Some((last, _)) = rows.last() else { break };
                after = Some(*last);
                for (client, row) in &rows {
                    let opened = match self.client_key(&mut tx, &scope, *client).await {
                        Ok(key) => key
                            .open(&row.sealed, &crate::clients::medical_aad_v1(&scope, *client))
                            .map(|plain| (key, plain))
                            .map_err(AppError::from),
                        Err(e) => Err(e),
                    };
                    match opened {
                        Ok((key, plain)) => {
                            let sealed = key.seal(&plain, &crate::clients::medical_aad(&scope, *client, row.version));
                            if clients::reseal_medical(&mut tx, &scope, *client, row.version, &sealed).await? {
                                resealed += 1;
                            }
                        }
                        Err(AppError::Internal(_)) => {
                            tracing::warn!(
                                clinic = %clinic,
                                client = %client,
                                "a medical record sealed before the version binding does not open; left as it is"
                            );
                            refused += 1;
                        }
                        Err(e) => return Err(e),
                    }
                }
                tx.commit().await?;
            }
            tracing::info!(clinic = %clinic, resealed, refused, "medical records bound to their version");
            total += resealed;
        }
        let mut tx = self.begin().await?;
        clients::mark_medical_aad_upgraded(&mut tx, self.now()).await?;
        tx.commit().await?;
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use velum_core::client::{ClientInput, MedicalInput};
    use velum_core::{Actor, Role, Section};
    use velum_crypto::MasterKey;

    use super::*;
    use crate::{AppSettings, DataLocation, FixedClock};

    async fn app(dir: &std::path::Path) -> App {
        #[expect(clippy::disallowed_methods, reason = "the test clock starts at the real time")]
        let now = jiff::Timestamp::now();
        App::open(
            &DataLocation::SqliteFile(dir.join("velum.db")),
            MasterKey::from_bytes(&[9; 32]).unwrap(),
            Arc::new(FixedClock::new(now)),
            AppSettings {
                base_url: "https://velum.test".into(),
                smtp: None,
                blobs: None,
            },
        )
        .await
        .unwrap()
    }

    fn client_input() -> ClientInput {
        ClientInput {
            given_name: "Wren".into(),
            family_name: "Alderley".into(),
            date_of_birth: "1984-03-09".into(),
            email: "wren@keys.example".into(),
            ..Default::default()
        }
    }

    /// A client key is opened with the clinic key row it names. Before this
    /// was so, adding a second clinic key (the first step of any rotation)
    /// made every existing client unreadable.
    #[tokio::test]
    async fn a_client_key_opens_with_the_clinic_key_its_row_names_not_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path()).await;
        let clinic = app.fixture_clinic("Key Clinic").await.unwrap();
        let (staff_id, _) = app
            .fixture_staff(
                clinic,
                "o@keys.example",
                "Owner",
                Role::Owner,
                "harbour-thistle-copper-meadow",
            )
            .await
            .unwrap();
        let owner = Actor::Staff(velum_core::StaffActor {
            staff_id,
            clinic_id: clinic,
            role: Role::Owner,
            source: None,
        });
        let id = app
            .create_client(&owner, &client_input(), false)
            .await
            .unwrap()
            .header
            .id;
        let medical = MedicalInput {
            allergies: vec!["Penicillin".into()],
            ..Default::default()
        };
        app.put_medical(&owner, id, &medical).await.unwrap();

        // A second clinic key row, newer than the one the client key names.
        let scope = crate::job_scope(KEY_ROTATION_JOB, clinic);
        let mut tx = app.begin().await.unwrap();
        let wrapped = app.master().wrap_clinic_key(&ClinicKey::generate(), clinic);
        assert_eq!(clinics::add_key(&mut tx, &scope, &wrapped, app.now()).await.unwrap(), 2);
        tx.commit().await.unwrap();

        let mut tx = app.begin().await.unwrap();
        let (named, _) = clients::key(&mut tx, &scope, id).await.unwrap().unwrap();
        assert_eq!(named, 1);
        assert!(app.client_key(&mut tx, &scope, id).await.is_ok());
        drop(tx);
        let card = app.open_card(&owner, id, &[Section::Medical]).await.unwrap();
        assert_eq!(card.medical.unwrap().summary.allergies.len(), 1);
        app.close().await;
    }
}
