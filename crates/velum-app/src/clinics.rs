//! Creating a clinic: its key, its owner's account and the owner's one-time
//! set-up link. Run by the operator (CLI) or the first-run page, before any
//! staff account exists, so there is no actor: the event goes in the new
//! clinic's own chain with no actor.

use velum_core::actor::Purpose;
use velum_core::audit::{AuditAction, NewAuditEvent};
use velum_core::client::FieldErrors;
use velum_core::clinic::{ClinicName, ClinicStatus};
use velum_core::text::EmailAddress;
use velum_core::{ClinicId, Role, StaffId};
use velum_crypto::ClinicKey;
use velum_store::staff::{self, LinkPurpose};
use velum_store::{StoreError, Tx, clinics};

use crate::auth::SETUP_LINK_LIFETIME;
use crate::staff::create_account;
use crate::{App, AppError};

/// The job name clinic set-up records as its actor (the first-run page,
/// `velum clinic create`, and an operator's new clinic before its owner
/// signs in).
const SETUP_JOB: &str = "clinic_setup";

/// A clinic just created.
#[derive(Clone, Debug)]
pub struct NewClinic {
    pub clinic_id: ClinicId,
    pub owner_id: StaffId,
    /// The owner's one-time set-up link (valid 72 hours). Shown once.
    pub setup_link: String,
}

/// A clinic just created in hosted mode: ids only. The owner's set-up link
/// went to the owner's email through the outbox; nobody else sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedClinic {
    pub clinic_id: ClinicId,
    pub owner_id: StaffId,
}

/// A clinic in the operator's list.
#[derive(Clone, Debug)]
pub struct ClinicSummary {
    pub id: ClinicId,
    pub name: String,
    pub status: ClinicStatus,
}

/// The answer when another clinic has the name (compared without case;
/// offboarded clinics do not count).
fn name_taken() -> AppError {
    AppError::Conflict(FieldErrors::single(
        "name",
        "is already the name of another clinic; add the town or another detail to tell them apart",
    ))
}

/// How a clinic is being created.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Creation {
    /// The console or an operator: the link is returned.
    Console,
    /// Hosted mode: the link is mailed to the owner.
    MailingOwner,
    /// The first-run page: only while no clinic exists.
    FirstRun,
}

impl App {
    /// Create a clinic and its owner's account, and return the owner's
    /// set-up link.
    ///
    /// # Errors
    /// `Validation` on `name` or `owner_email`; `Conflict` if the email has
    /// an account, or on `name` if another clinic has that name.
    pub async fn create_clinic(
        &self,
        name: &str,
        owner_email: &str,
        source: Option<&str>,
    ) -> Result<NewClinic, AppError> {
        let (created, link) = self
            .insert_clinic_and_owner(name, owner_email, source, Creation::Console)
            .await?;
        Ok(NewClinic {
            clinic_id: created.clinic_id,
            owner_id: created.owner_id,
            setup_link: link.unwrap_or_default(),
        })
    }

    /// Create a clinic and its owner's account in hosted mode: the owner's
    /// set-up link is queued in the outbox to the owner's email, in the same
    /// transaction, and never returned, so whoever creates the clinic (an
    /// operator, or the command line) cannot become its owner.
    ///
    /// # Errors
    /// As [`App::create_clinic`].
    pub async fn create_clinic_mailing_owner(
        &self,
        name: &str,
        owner_email: &str,
        source: Option<&str>,
    ) -> Result<CreatedClinic, AppError> {
        Ok(self
            .insert_clinic_and_owner(name, owner_email, source, Creation::MailingOwner)
            .await?
            .0)
    }

    /// The first-run page: create the installation's first clinic and its
    /// owner, as [`App::create_clinic`] does, only while no clinic exists.
    /// Decided inside the transaction: the clinic list is read there, and
    /// the first-run mark in `meta` can be written once, so of two first
    /// runs at once exactly one creates a clinic.
    ///
    /// # Errors
    /// `Forbidden` once a clinic exists (nothing is audited: there is no
    /// actor and no clinic to audit it in); otherwise as `create_clinic`.
    pub async fn create_first_clinic(
        &self,
        name: &str,
        owner_email: &str,
        source: Option<&str>,
    ) -> Result<NewClinic, AppError> {
        let (created, link) = self
            .insert_clinic_and_owner(name, owner_email, source, Creation::FirstRun)
            .await?;
        Ok(NewClinic {
            clinic_id: created.clinic_id,
            owner_id: created.owner_id,
            setup_link: link.unwrap_or_default(),
        })
    }

    /// Hosted mode, for `velum clinic create`: the database is PostgreSQL,
    /// or the platform's row exists (made with the first operator account).
    /// Only otherwise (embedded SQLite, no operator ever) is the person at
    /// the console the clinic's owner.
    ///
    /// # Errors
    /// Database errors.
    pub async fn is_hosted(&self) -> Result<bool, AppError> {
        if self.store().backend() == velum_store::Backend::Postgres {
            return Ok(true);
        }
        let mut tx = self.store().begin_read().await?;
        let platform = clinics::get(&mut tx, &crate::job_scope(SETUP_JOB, crate::platform::platform_id())).await?;
        Ok(platform.is_some())
    }

    async fn insert_clinic_and_owner(
        &self,
        name: &str,
        owner_email: &str,
        source: Option<&str>,
        how: Creation,
    ) -> Result<(CreatedClinic, Option<String>), AppError> {
        if how == Creation::FirstRun && !self.clinics().await?.is_empty() {
            return Err(AppError::Forbidden);
        }
        let mut errors = FieldErrors::new();
        let name = errors.take("name", ClinicName::parse(name));
        let email = errors.take("owner_email", EmailAddress::parse(owner_email));
        let (Some(name), Some(email)) = (name, email) else {
            return Err(AppError::Validation(errors));
        };
        let mut tx = self.begin().await?;
        if how == Creation::FirstRun {
            let first = match clinics::mark_first_run(&mut tx).await {
                Ok(()) => clinics::count(&mut tx).await? == 0,
                Err(StoreError::Conflict(_)) => false,
                Err(e) => return Err(e.into()),
            };
            if !first {
                return Err(AppError::Forbidden);
            }
        }
        let (clinic_id, owner_id) = self.insert_clinic(&mut tx, &name, source).await?;
        let scope = crate::job_scope(SETUP_JOB, clinic_id);
        create_account(
            &mut tx,
            &scope,
            owner_id,
            email.as_str(),
            "Owner",
            Role::Owner,
            None,
            self.now(),
        )
        .await
        .map_err(|e| match e {
            AppError::Conflict(_) => {
                AppError::Conflict(FieldErrors::single("owner_email", "already has a Velum account"))
            }
            other => other,
        })?;
        let owner = staff::get(&mut tx, &scope, owner_id).await?.ok_or(AppError::NotFound)?;
        let setup_link = self
            .new_link(&mut tx, &owner, LinkPurpose::Setup, SETUP_LINK_LIFETIME)
            .await?;
        let setup_link = if how == Creation::MailingOwner {
            let email = crate::email::ClinicCreated {
                clinic_name: name.as_str().to_owned(),
                link: setup_link,
            };
            self.queue_email(&mut tx, clinic_id, &owner.email, &email).await?;
            None
        } else {
            Some(setup_link)
        };
        tx.commit().await?;
        Ok((CreatedClinic { clinic_id, owner_id }, setup_link))
    }

    /// The clinic row, its wrapped key, and the first event of its chain.
    /// Two clinics of one name could not be told apart in lists, or when an
    /// operator types the name to confirm an offboarding: `Conflict` on
    /// `name` when a clinic that has not been offboarded has it, compared
    /// without case. Checked here, and decided by the database's unique
    /// index on the lower-cased name, so two at once cannot both have it.
    pub(crate) async fn insert_clinic(
        &self,
        tx: &mut Tx,
        name: &ClinicName,
        source: Option<&str>,
    ) -> Result<(ClinicId, StaffId), AppError> {
        let key = name.key();
        let taken = clinics::live_names(tx)
            .await?
            .iter()
            .any(|n| n.trim().to_lowercase() == key);
        if taken {
            return Err(name_taken());
        }
        let clinic_id = ClinicId::new();
        let owner_id = StaffId::new();
        let wrapped = self.master().wrap_clinic_key(&ClinicKey::generate(), clinic_id);
        match clinics::insert(tx, clinic_id, name.as_str(), &wrapped, self.now()).await {
            Err(StoreError::Conflict(_)) => return Err(name_taken()),
            other => other?,
        }
        self.audit(
            tx,
            NewAuditEvent {
                clinic_id,
                actor_kind: velum_core::SystemJob::for_clinic(SETUP_JOB, clinic_id).kind(),
                actor_id: None,
                client_id: None,
                sections: Vec::new(),
                action: AuditAction::ClinicCreated,
                purpose: Purpose::Administration,
                source: source.map(str::to_owned),
                detail: Some(format!("owner:{owner_id}")),
            },
        )
        .await?;
        Ok((clinic_id, owner_id))
    }

    /// Every clinic (names only): the first-run page and the CLI.
    ///
    /// # Errors
    /// Database errors.
    pub async fn clinics(&self) -> Result<Vec<ClinicSummary>, AppError> {
        Ok(self
            .store()
            .list_clinics()
            .await?
            .into_iter()
            .map(|c| ClinicSummary {
                id: c.id,
                name: c.name,
                status: c.status,
            })
            .collect())
    }
}
