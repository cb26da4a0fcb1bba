//! The demo clinics, and the fixture operations the demo and the test kit
//! share. Accounts made here have a known password and a confirmed TOTP
//! secret, which a real clinic never has: real staff set their own through
//! their set-up link. Nothing here is reachable from the web app.

use serde::Serialize;
use velum_core::client::{ClientInput, MedicalInput};
use velum_core::{Actor, ClinicId, Role, StaffActor, StaffId};

use crate::clients::Marketing;
use crate::{App, AppError};
use velum_synthetic::Synthetic;

/// One demo account, as printed and written to `demo-credentials.json`.
#[derive(Clone, Debug, Serialize)]
pub struct DemoAccount {
    pub clinic: String,
    pub email: String,
    pub password: String,
    pub role: Role,
    /// Base32 TOTP secret (what an authenticator app takes).
    pub totp_secret: String,
    /// The same secret as an `otpauth://` URI.
    pub otpauth_uri: String,
}

/// The job name the demo data runs as where no member of staff acts.
const DEMO_JOB: &str = "demo";

/// The demo clinics: name and the domain of their staff emails.
pub const DEMO_CLINICS: [(&str, &str); 2] = [
    ("Harley Skin & Aesthetics", "harley-skin.example"),
    ("Northern Glow Clinic", "northern-glow.example"),
];

impl App {
    /// Seed the demo clinics, each with one account per role and
    /// `clients_per_clinic` synthetic clients. Does nothing (returns `None`)
    /// if any clinic exists, so a restart never seeds twice.
    ///
    /// # Errors
    /// Database errors.
    pub async fn seed_demo(&self, clients_per_clinic: usize, seed: u64) -> Result<Option<Vec<DemoAccount>>, AppError> {
        if !self.clinics().await?.is_empty() {
            return Ok(None);
        }
        let mut rng = Synthetic::new(seed);
        // Passwords come from the operating system's randomness, never from
        // the (deterministic, public) seed of the synthetic data.
        let mut secrets = Synthetic::new(u64::from_le_bytes(velum_crypto::token::random_bytes::<8>()));
        let mut accounts = Vec::new();
        for (name, domain) in DEMO_CLINICS {
            let clinic = self.fixture_clinic(name).await?;
            let mut owner = None;
            for role in Role::ALL {
                let email = format!("{}@{domain}", role.as_str());
                let password = secrets.password();
                let display = format!(
                    "{} {}",
                    demo_first_name(role),
                    name.split_whitespace().next().unwrap_or("Demo")
                );
                let (id, secret) = self.fixture_staff(clinic, &email, &display, role, &password).await?;
                if role == Role::Owner {
                    owner = Some(id);
                }
                accounts.push(DemoAccount {
                    clinic: name.to_owned(),
                    otpauth_uri: velum_crypto::TotpSecret::from_base32(&secret)?.otpauth_uri("Velum", &email),
                    email,
                    password,
                    role,
                    totp_secret: secret,
                });
            }
            let owner = Actor::Staff(StaffActor {
                staff_id: owner.ok_or_else(|| AppError::Internal("no owner".into()))?,
                clinic_id: clinic,
                role: Role::Owner,
                source: None,
            });
            self.fixture_clients(&owner, clients_per_clinic, &mut rng).await?;
        }
        // A platform operator, for trying hosted mode: runs the clinics,
        // reads nothing in them without an owner's grant.
        let email = "operator@platform.example";
        let password = secrets.password();
        let (_, secret) = self.fixture_operator(email, "Oskar Operator", &password).await?;
        accounts.push(DemoAccount {
            clinic: "Platform".to_owned(),
            otpauth_uri: velum_crypto::TotpSecret::from_base32(&secret)?.otpauth_uri("Velum", email),
            email: email.to_owned(),
            password,
            role: Role::Operator,
            totp_secret: secret,
        });
        Ok(Some(accounts))
    }

    /// A clinic with no staff yet.
    ///
    /// # Errors
    /// Database errors.
    pub async fn fixture_clinic(&self, name: &str) -> Result<ClinicId, AppError> {
        let mut tx = self.begin().await?;
        let name = velum_core::clinic::ClinicName::parse(name).map_err(|e| AppError::field("name", &e.to_string()))?;
        let (id, _) = self.insert_clinic(&mut tx, &name, None).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// A ready account with a known password and a confirmed TOTP secret;
    /// returns its id and the base32 secret.
    ///
    /// # Errors
    /// `Conflict` if the email is taken.
    pub async fn fixture_staff(
        &self,
        clinic: ClinicId,
        email: &str,
        name: &str,
        role: Role,
        password: &str,
    ) -> Result<(StaffId, String), AppError> {
        let scope = crate::job_scope(DEMO_JOB, clinic);
        let mut tx = self.begin().await?;
        let (id, secret) = self
            .create_ready_account(&mut tx, &scope, email, name, role, password)
            .await?;
        tx.commit().await?;
        Ok((id, secret.to_base32()))
    }

    /// A bare staff row with a chosen id and no password (nobody can sign
    /// in with it): what a bug or a database administrator could leave, for
    /// tests that check a join cannot be fooled by another clinic's row.
    ///
    /// # Errors
    /// `Conflict` if the email or the id is taken in that clinic.
    pub async fn fixture_bare_staff(
        &self,
        clinic: ClinicId,
        id: StaffId,
        email: &str,
        name: &str,
        role: Role,
    ) -> Result<(), AppError> {
        let mut tx = self.begin().await?;
        crate::staff::create_account(
            &mut tx,
            &crate::job_scope(DEMO_JOB, clinic),
            id,
            email,
            name,
            role,
            None,
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Store `bytes` as a blob of `client` (sealed with the client's key) in
    /// the configured blob store, as the photo and document use cases will;
    /// returns the blob's id. Until those exist, tests and the demo use this.
    ///
    /// # Errors
    /// `NotFound` for a client not in `clinic`; `Internal` when no blob
    /// store is configured or it fails.
    pub async fn fixture_blob(
        &self,
        clinic: ClinicId,
        client: crate::ClientId,
        bytes: &[u8],
    ) -> Result<velum_blobs::BlobId, AppError> {
        let store = self
            .settings()
            .blobs
            .clone()
            .ok_or_else(|| AppError::Internal("no blob store configured".into()))?;
        let scope = crate::job_scope(DEMO_JOB, clinic);
        let mut tx = self.store().begin_read().await?;
        if velum_store::clients::get(&mut tx, &scope, client).await?.is_none() {
            return Err(AppError::NotFound);
        }
        let key = self.client_key(&mut tx, &scope, client).await?;
        drop(tx);
        let id = velum_blobs::BlobId::new();
        store
            .put(clinic, client, id, bytes, &key)
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(id)
    }

    /// A ready platform operator account (the platform row is made if
    /// missing); returns its id and the base32 TOTP secret.
    ///
    /// # Errors
    /// `Conflict` if the email is taken.
    pub async fn fixture_operator(
        &self,
        email: &str,
        name: &str,
        password: &str,
    ) -> Result<(StaffId, String), AppError> {
        let mut tx = self.begin().await?;
        self.ensure_platform(&mut tx).await?;
        let scope = crate::job_scope(DEMO_JOB, crate::platform::platform_id());
        let (id, secret) = self
            .create_ready_account(&mut tx, &scope, email, name, Role::Operator, password)
            .await?;
        tx.commit().await?;
        Ok((id, secret.to_base32()))
    }

    /// `n` synthetic clients created through the same use cases as a
    /// receptionist's (so each is validated, audited and sealed), some with
    /// a medical summary and some with marketing consent.
    ///
    /// # Errors
    /// Database errors; `Validation` if the generator made a bad client.
    pub async fn fixture_clients(
        &self,
        actor: &Actor,
        n: usize,
        rng: &mut Synthetic,
    ) -> Result<Vec<velum_core::ClientId>, AppError> {
        let mut ids = Vec::with_capacity(n);
        let today = self.clinic_today(actor).await?;
        for _ in 0..n {
            let c = rng.client(today);
            let input = ClientInput {
                given_name: c.given_name,
                family_name: c.family_name,
                date_of_birth: c.date_of_birth,
                email: c.email,
                mobile: c.mobile,
                line1: c.address_line1,
                line2: c.address_line2,
                town: c.town,
                postcode: c.postcode,
            };
            let card = self.create_client(actor, &input, true).await?;
            let id = card.header.id;
            let medical = MedicalInput {
                allergies: c.allergies,
                medications: c.medications,
                conditions: c.conditions,
                notes: c.notes,
            };
            if !(medical.allergies.is_empty()
                && medical.medications.is_empty()
                && medical.conditions.is_empty()
                && medical.notes.is_empty())
            {
                self.put_medical(actor, id, &medical).await?;
            }
            if rng.below(10) < 4 {
                self.set_marketing(
                    actor,
                    id,
                    Marketing {
                        email: true,
                        sms: rng.below(2) == 0,
                    },
                )
                .await?;
            }
            ids.push(id);
        }
        Ok(ids)
    }
}

const fn demo_first_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "Olivia",
        Role::Manager => "Marcus",
        Role::Practitioner => "Priya",
        Role::Receptionist => "Rhys",
        Role::Marketing => "Megan",
        Role::Auditor => "Adaeze",
        Role::Operator | Role::Support => "Oskar",
    }
}
