//! Staff administration: owners and managers invite staff, change roles and
//! disable accounts. Changes take effect on the next request: a disabled
//! account's sessions are ended at once (ASVS 7.4.2), and a role is read
//! from the account on every request.

use velum_core::audit::AuditAction;
use velum_core::client::FieldErrors;
use velum_core::text::{EmailAddress, PersonName};
use velum_core::{Actor, Role, StaffActor, StaffId, policy};
use velum_crypto::{TotpSecret, password};
use velum_store::staff::{self, LinkPurpose, StaffRow};
use velum_store::{ClinicScope, StoreError, Tx, sessions};

use crate::auth::SETUP_LINK_LIFETIME;
use crate::{App, AppError, event};

/// A staff account as the admin pages show it.
#[derive(Clone, Debug)]
pub struct StaffView {
    pub id: StaffId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub disabled: bool,
    pub totp_enrolled: bool,
    pub activated: bool,
}

/// An invitation as typed.
#[derive(Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteInput {
    pub email: String,
    pub display_name: String,
    pub role: String,
}

// The role is typed too, so it may be anything: redacted as well.
velum_core::debug_redacted!(InviteInput {
    email,
    display_name,
    role
});

impl App {
    fn view(&self, s: &StaffRow) -> StaffView {
        StaffView {
            id: s.id,
            email: s.email.clone(),
            display_name: s.display_name.clone(),
            role: s.role,
            disabled: s.disabled,
            totp_enrolled: s.totp_confirmed,
            activated: s.password_hash.is_some(),
        }
    }

    async fn require_admin(&self, actor: &StaffActor) -> Result<(), AppError> {
        if actor.role.may_manage_staff() {
            Ok(())
        } else {
            Err(self.deny(actor, None, &[], "manage_staff").await)
        }
    }

    /// Every account of the actor's clinic.
    ///
    /// # Errors
    /// `Forbidden` unless owner or manager.
    pub async fn list_staff(&self, actor: &Actor) -> Result<Vec<StaffView>, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_admin(actor).await?;
        let mut tx = self.store().begin_read().await?;
        let rows = staff::list(&mut tx, &actor.scope()).await?;
        Ok(rows.iter().map(|s| self.view(s)).collect())
    }

    /// Invite a member of staff: creates the account and emails them a
    /// set-up link (valid 72 hours). Only an owner may invite an owner. An
    /// email that already signs in to another clinic's account gets the same
    /// answer, but no account (see `invite_for_account_elsewhere`).
    ///
    /// # Errors
    /// `Validation` naming bad fields; `Conflict` on `email` if this clinic
    /// already has it; `Forbidden`.
    pub async fn invite_staff(&self, actor: &Actor, input: &InviteInput) -> Result<StaffView, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_admin(actor).await?;
        let mut errors = FieldErrors::new();
        let email = errors.take("email", EmailAddress::parse(&input.email));
        let name = errors.take("display_name", PersonName::parse(&input.display_name));
        let role = errors.take("role", input.role.parse::<Role>());
        let (Some(email), Some(name), Some(role)) = (email, name, role) else {
            return Err(AppError::Validation(errors));
        };
        if !policy::may_assign_role(actor.role, role) {
            return Err(self.deny(actor, None, &[], "invite_owner").await);
        }
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        let id = StaffId::new();
        let elsewhere = staff::login_owner(&mut tx, email.as_str())
            .await?
            .filter(|(clinic, _)| *clinic != actor.clinic_id);
        if let Some((their_clinic, their_id)) = elsewhere {
            // The email signs in to an account of another clinic. Answer
            // exactly as for a new address (item 15: an invitation must not
            // reveal that an email has an account elsewhere), but make
            // nothing that could sign in, and tell the address instead.
            self.invite_for_account_elsewhere(&mut tx, actor, id, &email, &name, role, their_clinic, their_id)
                .await?;
        } else {
            create_account(
                &mut tx,
                &scope,
                id,
                email.as_str(),
                name.as_str(),
                role,
                None,
                self.now(),
            )
            .await?;
            let s = staff::get(&mut tx, &scope, id).await?.ok_or(AppError::NotFound)?;
            let link = self
                .new_link(&mut tx, &s, LinkPurpose::Setup, SETUP_LINK_LIFETIME)
                .await?;
            let email = crate::email::Invite {
                role: role.label().to_owned(),
                link,
            };
            self.queue_email(&mut tx, actor.clinic_id, &s.email, &email).await?;
        }
        let s = staff::get(&mut tx, &scope, id).await?.ok_or(AppError::NotFound)?;
        self.audit(
            &mut tx,
            event(
                actor,
                AuditAction::StaffInvited,
                None,
                &[],
                Some(format!("staff:{id} role:{role}")),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(self.view(&s))
    }

    /// An invitation to an email that already signs in to an account of
    /// another clinic. Sign-in emails are unique across the installation
    /// (`staff_logins`), so it cannot become an account here. The inviting
    /// clinic gets the same answer, list row ("Invited") and audit event as
    /// for a new address; the row has no sign-in and no set-up link. The
    /// address is emailed (under its own clinic) that someone tried to
    /// invite it, and the platform's chain records what really happened,
    /// with ids only.
    #[expect(clippy::too_many_arguments, reason = "the invitation and the account it ran into")]
    async fn invite_for_account_elsewhere(
        &self,
        tx: &mut Tx,
        actor: &StaffActor,
        id: StaffId,
        email: &EmailAddress,
        name: &PersonName,
        role: Role,
        their_clinic: velum_core::ClinicId,
        their_id: StaffId,
    ) -> Result<(), AppError> {
        let scope = actor.scope();
        match staff::insert_unlisted_invite(tx, &scope, id, email.as_str(), name.as_str(), role, self.now()).await {
            Err(StoreError::Conflict(_)) => {
                return Err(AppError::Conflict(FieldErrors::single(
                    "email",
                    "already has a Velum account",
                )));
            }
            other => other?,
        }
        self.queue_email(tx, their_clinic, email.as_str(), &crate::email::InviteElsewhere)
            .await?;
        self.audit(
            tx,
            crate::platform_event(
                "staff_invitation",
                AuditAction::StaffInvited,
                None,
                Some(format!(
                    "existing_account_elsewhere inviting_clinic:{} invite:{id} account_clinic:{their_clinic} account:{their_id}",
                    actor.clinic_id
                )),
            ),
        )
        .await?;
        Ok(())
    }

    async fn target(&self, tx: &mut Tx, actor: &StaffActor, id: StaffId) -> Result<Option<StaffRow>, AppError> {
        Ok(staff::get(tx, &actor.scope(), id).await?)
    }

    /// Owners may change anyone; managers may not touch owners or make
    /// owners; nobody changes their own role or disables themselves
    /// ([`policy::may_change_staff`]).
    fn may_change(actor: &StaffActor, target: &StaffRow, new_role: Option<Role>) -> bool {
        policy::may_change_staff(actor.role, actor.staff_id, target.id, target.role, new_role)
    }

    /// Change a member of staff's role. Takes effect on their next request.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn change_role(&self, actor: &Actor, id: StaffId, role: Role) -> Result<StaffView, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_admin(actor).await?;
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        let Some(target) = self.target(&mut tx, actor, id).await? else {
            drop(tx);
            let reason = format!("change_role unknown_staff:{id}");
            return Err(self.refuse(actor, &reason, AppError::NotFound).await);
        };
        if !Self::may_change(actor, &target, Some(role)) {
            drop(tx);
            return Err(self.deny(actor, None, &[], "change_role").await);
        }
        if target.role != role {
            staff::set_role(&mut tx, &scope, id, role, self.now()).await?;
            let detail = format!("staff:{id} role:{}->{role}", target.role);
            self.audit(
                &mut tx,
                event(actor, AuditAction::StaffRoleChanged, None, &[], Some(detail)),
            )
            .await?;
        }
        let s = staff::get(&mut tx, &scope, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(self.view(&s))
    }

    /// Disable (or re-enable) an account. Disabling ends all its sessions
    /// at once.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn set_staff_disabled(&self, actor: &Actor, id: StaffId, disabled: bool) -> Result<StaffView, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_admin(actor).await?;
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        let Some(target) = self.target(&mut tx, actor, id).await? else {
            drop(tx);
            let reason = format!("disable_staff unknown_staff:{id}");
            return Err(self.refuse(actor, &reason, AppError::NotFound).await);
        };
        if !Self::may_change(actor, &target, None) {
            drop(tx);
            return Err(self.deny(actor, None, &[], "disable_staff").await);
        }
        if target.disabled != disabled {
            staff::set_disabled(&mut tx, &scope, id, disabled, self.now()).await?;
            let ended = if disabled {
                sessions::delete_all_for(&mut tx, &scope, id).await?
            } else {
                0
            };
            let action = if disabled {
                AuditAction::StaffDisabled
            } else {
                AuditAction::StaffEnabled
            };
            self.audit(
                &mut tx,
                event(
                    actor,
                    action,
                    None,
                    &[],
                    Some(format!("staff:{id} sessions_ended:{ended}")),
                ),
            )
            .await?;
        }
        let s = staff::get(&mut tx, &scope, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(self.view(&s))
    }

    /// Reset another member of staff's two-step sign-in (a lost phone): its
    /// secret and recovery codes are gone, every session of the account ends,
    /// and the person sets it up again at their next sign-in (after their
    /// password). The person is told by email. Nobody resets their own this
    /// way (they would sign in with a recovery code, then make new codes);
    /// a manager cannot reset an owner's.
    ///
    /// # Errors
    /// `Forbidden` (audited); `NotFound` for an id of no account of the
    /// actor's clinic.
    pub async fn reset_staff_totp(&self, actor: &Actor, id: StaffId) -> Result<StaffView, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_admin(actor).await?;
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        let Some(target) = self.target(&mut tx, actor, id).await? else {
            drop(tx);
            let reason = format!("reset_totp unknown_staff:{id}");
            return Err(self.refuse(actor, &reason, AppError::NotFound).await);
        };
        if !Self::may_change(actor, &target, None) {
            drop(tx);
            return Err(self.deny(actor, None, &[], "reset_totp").await);
        }
        staff::reset_totp(&mut tx, &scope, id, self.now()).await?;
        let ended = sessions::delete_all_for(&mut tx, &scope, id).await?;
        self.audit(
            &mut tx,
            event(
                actor,
                AuditAction::TotpReset,
                None,
                &[],
                Some(format!("staff:{id} sessions_ended:{ended}")),
            ),
        )
        .await?;
        if !target.disabled {
            self.queue_email(&mut tx, actor.clinic_id, &target.email, &crate::email::TotpReset)
                .await?;
        }
        let s = staff::get(&mut tx, &scope, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(self.view(&s))
    }

    /// Create a ready-to-use account with a password and a confirmed TOTP
    /// secret (demo and test fixtures only; real staff set their own).
    pub(crate) async fn create_ready_account(
        &self,
        tx: &mut Tx,
        scope: &ClinicScope,
        email: &str,
        name: &str,
        role: Role,
        plain_password: &str,
    ) -> Result<(StaffId, TotpSecret), AppError> {
        let id = StaffId::new();
        let pw = plain_password.to_owned();
        let hash = self.argon2(move || password::hash_password(&pw)).await?;
        create_account(tx, scope, id, email, name, role, Some(&hash), self.now()).await?;
        let secret = TotpSecret::generate();
        let (_, clinic_key) = self.clinic_key(tx, scope).await?;
        let aad = crate::auth::totp_aad(scope.clinic_id(), id);
        staff::set_totp(
            tx,
            scope,
            id,
            &clinic_key.seal(secret.as_bytes(), &aad),
            true,
            self.now(),
        )
        .await?;
        Ok((id, secret))
    }
}

#[expect(clippy::too_many_arguments, reason = "one row's columns")]
pub(crate) async fn create_account(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    email: &str,
    name: &str,
    role: Role,
    hash: Option<&str>,
    now: jiff::Timestamp,
) -> Result<(), AppError> {
    match staff::insert(tx, scope, id, email, name, role, hash, now).await {
        Err(StoreError::Conflict(_)) => Err(AppError::Conflict(FieldErrors::single(
            "email",
            "already has a Velum account",
        ))),
        other => Ok(other?),
    }
}
