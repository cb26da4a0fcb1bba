//! Velum's use cases. Each takes the acting staff member ([`Actor`]) first,
//! checks the access policy itself (`velum_core::Role::may`), runs in one
//! transaction, and writes its audit event in that transaction: if the audit
//! write fails, the action fails. The web layer and the CLI call these and
//! nothing else, so no path reaches personal data around policy or audit.
//!
//! Depends on core, crypto and store; never on the web layer.

pub mod audit;
pub mod auth;
pub mod backup;
pub mod clients;
pub mod clinics;
pub mod clock;
pub mod demo;
pub mod email;
mod error;
pub mod fuzz_checks;
pub mod housekeeping;
pub mod jobs;
pub mod keys;
pub mod mail;
pub mod offboard;
pub mod platform;
mod sealed_file;
pub mod settings;
pub mod staff;
pub mod transfer;

use std::sync::Arc;

pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{AppError, DuplicateMatch};
pub use velum_blobs::{BlobError, BlobStore};
pub use velum_core::{
    Actor, ActorKind, ClientId, ClinicId, ClinicScope, Role, Section, StaffActor, StaffId, SystemJob,
};
pub use velum_crypto::MasterKey;

use velum_core::actor::Purpose;
use velum_core::audit::{AuditAction, NewAuditEvent};
use velum_store::{Store, StoreError, Tx};

/// Outgoing mail settings. Without them, mail waits in the outbox. Its
/// `Debug` shows neither the username nor the password.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub from: String,
    /// How the connection to the server is protected.
    pub tls: mail::SmtpTls,
    /// Root certificates (PEM) to trust besides the system's, e.g. a
    /// private CA (`VELUM_SMTP_CA_FILE`).
    pub ca_pem: Option<String>,
    /// SMTP AUTH, when both are set (`VELUM_SMTP_USERNAME`,
    /// `VELUM_SMTP_PASSWORD`).
    pub username: Option<String>,
    pub password: Option<secrecy::SecretString>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: bool| if v { "<redacted>" } else { "<none>" };
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("from", &self.from)
            .field("tls", &self.tls)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<pem>"))
            .field("username", &set(self.username.is_some()))
            .field("password", &set(self.password.is_some()))
            .finish()
    }
}

/// Settings the use cases need.
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// Public base URL, used in emailed links (no trailing slash).
    pub base_url: String,
    pub smtp: Option<SmtpSettings>,
    /// Where photos, signed PDFs and attachments are kept
    /// (`VELUM_BLOB_URL`), opened at start-up. `None`: no blob store is
    /// configured (offboarding then has no blobs to archive or delete).
    pub blobs: Option<velum_blobs::BlobStore>,
}

/// The application: the store, the master key and the clock. Cheap to
/// clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    master: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    settings: AppSettings,
    /// Argon2 runs at most this many at once (one per core), so a flood of
    /// sign-ins waits its turn instead of allocating Argon2's memory for
    /// every request at the same time.
    hashing: Arc<tokio::sync::Semaphore>,
    /// Sign-in attempts in progress (waiting for Argon2 included); an
    /// attempt that finds none free is refused at once.
    sign_ins: Arc<tokio::sync::Semaphore>,
}

/// Sign-in attempts that may be in progress at once, per core.
pub const SIGN_INS_IN_PROGRESS_PER_CORE: usize = 16;

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

/// Where an app's data lives.
#[derive(Clone, Debug)]
pub enum DataLocation {
    /// The embedded, encrypted SQLite file.
    SqliteFile(std::path::PathBuf),
    /// A PostgreSQL database (`postgres://…`), for hosting many clinics.
    Postgres(String),
}

impl App {
    /// Open the data store with the master key and migrate it.
    ///
    /// # Errors
    /// The store cannot be opened (wrong key, newer schema, IO).
    pub async fn open(
        location: &DataLocation,
        master: MasterKey,
        clock: Arc<dyn Clock>,
        settings: AppSettings,
    ) -> Result<App, AppError> {
        let store = match location {
            DataLocation::SqliteFile(path) => {
                Store::open_sqlite(
                    path,
                    &master.sqlcipher_key(),
                    &master.fingerprint(),
                    master.audit_chain_key(),
                )
                .await?
            }
            DataLocation::Postgres(url) => {
                Store::open_postgres(url, &master.fingerprint(), master.audit_chain_key()).await?
            }
        };
        let master = Arc::new(master);
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let app = App {
            inner: Arc::new(Inner {
                store: store.with_master_key(master.clone()),
                master,
                clock,
                settings,
                hashing: Arc::new(tokio::sync::Semaphore::new(cores)),
                sign_ins: Arc::new(tokio::sync::Semaphore::new(cores * SIGN_INS_IN_PROGRESS_PER_CORE)),
            }),
        };
        // Data migrations that need the master key run after the schema's.
        // Mail queued before the outbox was sealed (migration 0013) is
        // sealed now, before anything is sent.
        app.seal_plaintext_outbox().await?;
        app.upgrade_medical_aad().await?;
        app.upgrade_audit_chains_once().await?;
        Ok(app)
    }

    /// A place among the sign-ins in progress, if one is free.
    pub(crate) fn sign_in_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.inner.sign_ins).try_acquire_owned().ok()
    }

    /// Run Argon2 work (`f`) on the blocking pool, behind the semaphore
    /// sized to the cores. The permit moves into the blocking task, so a
    /// request dropped while Argon2 runs (timed out, client gone) keeps its
    /// place until Argon2 ends.
    pub(crate) async fn argon2<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let permit = Arc::clone(&self.inner.hashing)
            .acquire_owned()
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn master(&self) -> &MasterKey {
        &self.inner.master
    }

    pub(crate) fn settings(&self) -> &AppSettings {
        &self.inner.settings
    }

    /// Now, from the app's clock (the only place time is read).
    #[must_use]
    pub fn now(&self) -> jiff::Timestamp {
        self.inner.clock.now()
    }

    pub(crate) async fn begin(&self) -> Result<Tx, AppError> {
        Ok(self.store().begin().await?)
    }

    /// Close the store cleanly.
    pub async fn close(&self) {
        self.store().close().await;
    }

    /// Verify every clinic's audit hash chain.
    ///
    /// # Errors
    /// Database errors.
    pub async fn verify_audit(&self) -> Result<velum_store::audit::VerifyReport, AppError> {
        Ok(self.store().verify_audit().await?)
    }

    /// Every table and column of the schema (operators and the parity test).
    ///
    /// # Errors
    /// Database errors.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String)>, AppError> {
        Ok(self.store().schema_columns().await?)
    }

    /// Every primary key, foreign key and unique index of the schema (the
    /// parity test, and the check that clinic_id leads every key).
    ///
    /// # Errors
    /// Database errors.
    pub async fn schema_keys(&self) -> Result<Vec<velum_store::SchemaKey>, AppError> {
        Ok(self.store().schema_keys().await?)
    }

    /// Append an audit event in `tx`.
    pub(crate) async fn audit(&self, tx: &mut Tx, event: NewAuditEvent) -> Result<(), AppError> {
        velum_store::audit::append(tx, event, self.now()).await?;
        Ok(())
    }

    /// The member of staff (or operator's own account) a staff use case
    /// acts for. Any other kind of actor is refused, and the refusal is
    /// audited in the chain of the clinic it names (the platform's for
    /// none): DOMAIN F38.
    pub(crate) async fn staff_of(&self, actor: &Actor) -> Result<StaffActor, AppError> {
        match actor.account() {
            Ok(staff) => Ok(staff),
            Err(velum_core::actor::NotStaff) => {
                let mut tx = self.begin().await?;
                let event = NewAuditEvent {
                    clinic_id: actor.clinic().unwrap_or(ClinicId::from_uuid(uuid::Uuid::nil())),
                    actor_kind: actor.kind(),
                    actor_id: None,
                    client_id: None,
                    sections: Vec::new(),
                    action: AuditAction::Denied,
                    purpose: Purpose::Security,
                    source: actor.source().map(|s| s.to_string()),
                    detail: Some("not_staff".to_owned()),
                };
                self.audit(&mut tx, event).await?;
                tx.commit().await?;
                Err(AppError::Forbidden)
            }
        }
    }

    /// Record a refused authorisation in its own transaction, then return
    /// `Forbidden` (DOMAIN F38: every failed authorisation is audited).
    pub(crate) async fn deny(
        &self,
        actor: &StaffActor,
        client: Option<ClientId>,
        sections: &[Section],
        reason: &str,
    ) -> AppError {
        match self.record_denial(actor, client, sections, reason).await {
            Ok(()) => AppError::Forbidden,
            Err(e) => e,
        }
    }

    /// Record a refusal (F38) as [`App::deny`] does, but answer `answer`
    /// (for example `NotFound` for an id outside the actor's clinic, so the
    /// answer does not tell whether it exists elsewhere).
    pub(crate) async fn refuse(&self, actor: &StaffActor, reason: &str, answer: AppError) -> AppError {
        match self.record_denial(actor, None, &[], reason).await {
            Ok(()) => answer,
            Err(e) => e,
        }
    }

    async fn record_denial(
        &self,
        actor: &StaffActor,
        client: Option<ClientId>,
        sections: &[Section],
        reason: &str,
    ) -> Result<(), AppError> {
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            event(actor, AuditAction::Denied, client, sections, Some(reason.to_owned())),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The scope of a clinic reached before an actor exists: a visitor acting
/// on the account (and so the clinic) their request names, to sign in,
/// reset its password or accept an invitation, and a request's session
/// token being resolved (its own clinic, or the clinic of the support
/// visit it rests on).
pub(crate) const fn visitor_scope(clinic: ClinicId) -> ClinicScope {
    velum_core::actor::PublicActor::of(clinic).scope()
}

/// The scope a system job (named `job`) runs in when it acts on `clinic`
/// with nobody signed in: set-up, demo data, export, import, key rotation,
/// offboarding, the signed-head mail.
pub(crate) const fn job_scope(job: &'static str, clinic: ClinicId) -> ClinicScope {
    SystemJob::scope_of(job, clinic).1
}

/// An audit event by `actor`.
pub(crate) fn event(
    actor: &StaffActor,
    action: AuditAction,
    client: Option<ClientId>,
    sections: &[Section],
    detail: Option<String>,
) -> NewAuditEvent {
    NewAuditEvent {
        clinic_id: actor.clinic_id,
        actor_kind: actor.kind(),
        actor_id: Some(actor.staff_id),
        client_id: client,
        sections: sections.to_vec(),
        action,
        purpose: actor.role.default_purpose(),
        source: actor.source.map(|s| s.to_string()),
        detail,
    }
}

/// Events that belong to no clinic go in the chain of the all-zero id. They
/// are recorded as the system job `job` (kind `system:<job>`).
pub(crate) fn platform_event(
    job: &'static str,
    action: AuditAction,
    source: Option<String>,
    detail: Option<String>,
) -> NewAuditEvent {
    NewAuditEvent {
        clinic_id: ClinicId::from_uuid(uuid::Uuid::nil()),
        actor_kind: SystemJob::new(job).kind(),
        actor_id: None,
        client_id: None,
        sections: Vec::new(),
        action,
        purpose: Purpose::Security,
        source,
        detail,
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::WrongKey
            | StoreError::SchemaTooNew { .. }
            | StoreError::BadUrl(_)
            | StoreError::Unreachable(_) => AppError::Startup(e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}
