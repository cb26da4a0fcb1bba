//! Hosted mode: platform operators run clinics (create, suspend, watch
//! usage and health) and never read clinic data. When support needs to look
//! inside a clinic, the operator asks with a reason; the clinic's owner
//! grants or refuses; a grant is time-boxed, and everything done under it
//! is recorded in the clinic's own audit chain, where the clinic sees it.

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;
use velum_core::actor::Purpose;
use velum_core::audit::{AuditAction, NewAuditEvent};
use velum_core::client::FieldErrors;
use velum_core::clinic::ClinicStatus;
use velum_core::policy;
use velum_core::support::{GrantMinutes, GrantState, GrantStatus, SupportReason};
use velum_core::text::{EmailAddress, ShortText};
use velum_core::{Actor, ClinicId, Role, StaffActor, StaffId, SystemJob};
use velum_crypto::ClinicKey;
use velum_store::platform::{self, GrantRow};
use velum_store::staff::{self, LinkPurpose};
use velum_store::{ClinicScope, sessions};

use crate::auth::{SETUP_LINK_LIFETIME, TokenRef};
use crate::staff::create_account;
use crate::{App, AppError, event};

pub use velum_core::support::Decision;
pub use velum_store::platform::platform_id;

/// One clinic's line on the operator's list: counts and dates, never
/// contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClinicUsage {
    pub id: ClinicId,
    pub name: String,
    pub status: ClinicStatus,
    /// `clinic` for every row listed (the platform's own row is not).
    pub kind: String,
    pub created_at: Timestamp,
    pub clients: i64,
    pub active_staff: i64,
    pub audit_events: i64,
    pub last_activity: Option<Timestamp>,
}

impl From<platform::ClinicUsage> for ClinicUsage {
    fn from(u: platform::ClinicUsage) -> Self {
        ClinicUsage {
            id: u.id,
            name: u.name,
            status: u.status,
            kind: u.kind,
            created_at: u.created_at,
            clients: u.clients,
            active_staff: u.active_staff,
            audit_events: u.audit_events,
            last_activity: u.last_activity,
        }
    }
}

/// Default and longest support visit, in minutes.
pub const DEFAULT_GRANT_MINUTES: i64 = GrantMinutes::DEFAULT;
pub const MAX_GRANT_MINUTES: i64 = GrantMinutes::MAX;

/// A new operator account and its one-time set-up link.
#[derive(Clone, Debug)]
pub struct NewOperator {
    pub id: StaffId,
    pub setup_link: String,
}

/// An operator's visit inside a clinic, while its grant lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportVisit {
    pub clinic_id: ClinicId,
    pub clinic_name: String,
    pub grant_id: Uuid,
    pub until: Timestamp,
}

/// A support grant as the clinic's owner or the operator sees it.
#[derive(Clone, Debug)]
pub struct SupportGrant {
    pub id: Uuid,
    pub clinic_id: ClinicId,
    pub clinic_name: String,
    pub operator_name: String,
    pub reason: String,
    pub minutes: i64,
    /// requested, granted (live), expired, denied or revoked.
    pub state: GrantState,
    pub requested_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// Audit events the operator wrote in the clinic during the grant.
    pub actions: Option<i64>,
}

fn state_of(g: &GrantRow, now: Timestamp) -> GrantState {
    GrantState::at(g.status, g.expires_at, now)
}

/// The job name `velum clinic suspend`/`resume` records as its actor.
const SUSPEND_JOB: &str = "clinic_status";

fn operator_event(actor: &StaffActor, clinic: ClinicId, action: AuditAction, detail: String) -> NewAuditEvent {
    NewAuditEvent {
        clinic_id: clinic,
        actor_kind: actor.kind(),
        actor_id: Some(actor.staff_id),
        client_id: None,
        sections: Vec::new(),
        action,
        purpose: Purpose::Support,
        source: actor.source.map(|s| s.to_string()),
        detail: Some(detail),
    }
}

/// What verifying one clinic's chain found (the app's own view of the
/// store's report: counts and hashes only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked (up to the first break).
    pub events: u64,
    /// The recorded head: the last event's sequence number (0 for an empty chain)...
    pub head_seq: i64,
    /// ...and its hash.
    pub head_hash: Option<[u8; 32]>,
    pub first_break: Option<ChainBreak>,
}

/// The first place a chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub clinic_id: ClinicId,
    /// The sequence number where the break was found.
    pub seq: i64,
    pub event_id: Option<Uuid>,
    pub reason: &'static str,
}

impl From<velum_store::audit::ChainReport> for ChainReport {
    fn from(r: velum_store::audit::ChainReport) -> Self {
        Self {
            events: r.events,
            head_seq: r.head_seq,
            head_hash: r.head_hash,
            first_break: r.first_break.map(|b| ChainBreak {
                clinic_id: b.clinic_id,
                seq: b.seq,
                event_id: b.event_id,
                reason: b.reason,
            }),
        }
    }
}

/// One clinic's health for the operator: its usage and whether its audit
/// chain holds. Counts and hashes, never an event's contents.
#[derive(Clone, Debug)]
pub struct ClinicHealth {
    pub usage: ClinicUsage,
    pub chain: ChainReport,
}

impl App {
    /// Operators only; anyone else is refused, and the refusal is audited
    /// in their own clinic's chain.
    pub(crate) async fn require_operator(&self, actor: &StaffActor) -> Result<(), AppError> {
        if actor.role == Role::Operator && actor.clinic_id == platform_id() {
            Ok(())
        } else {
            Err(self.deny(actor, None, &[], "platform").await)
        }
    }

    /// The platform's own row (and key), made on first use.
    pub(crate) async fn ensure_platform(&self, tx: &mut velum_store::Tx) -> Result<(), AppError> {
        let wrapped = self.master().wrap_clinic_key(&ClinicKey::generate(), platform_id());
        platform::ensure_platform(tx, &wrapped, self.now()).await?;
        Ok(())
    }

    /// Create a platform operator account (CLI) and return its set-up link.
    ///
    /// # Errors
    /// `Validation` on `email` or `display_name`; `Conflict` if the email
    /// has an account.
    pub async fn create_operator(&self, email: &str, name: &str) -> Result<NewOperator, AppError> {
        let mut errors = FieldErrors::new();
        let email = errors.take("email", EmailAddress::parse(email));
        let name = errors.take("display_name", ShortText::parse(name));
        let (Some(email), Some(name)) = (email, name) else {
            return Err(AppError::Validation(errors));
        };
        let mut tx = self.begin().await?;
        self.ensure_platform(&mut tx).await?;
        let (job, scope) = SystemJob::scope_of("create_operator", platform_id());
        let id = StaffId::new();
        create_account(
            &mut tx,
            &scope,
            id,
            email.as_str(),
            name.as_str(),
            Role::Operator,
            None,
            self.now(),
        )
        .await?;
        self.audit(
            &mut tx,
            NewAuditEvent {
                clinic_id: platform_id(),
                actor_kind: job.kind(),
                actor_id: None,
                client_id: None,
                sections: Vec::new(),
                action: AuditAction::StaffInvited,
                purpose: Purpose::Administration,
                source: None,
                detail: Some(format!("staff:{id} role:operator")),
            },
        )
        .await?;
        let row = staff::get(&mut tx, &scope, id).await?.ok_or(AppError::NotFound)?;
        let setup_link = self
            .new_link(&mut tx, &row, LinkPurpose::Setup, SETUP_LINK_LIFETIME)
            .await?;
        tx.commit().await?;
        Ok(NewOperator { id, setup_link })
    }

    /// An operator creates a clinic (the `/platform` page and the API). The
    /// owner's one-time set-up link goes to the owner's email through the
    /// outbox; the operator gets ids only, so an operator can never become
    /// a clinic's owner. (The first-run page and the embedded CLI call
    /// [`App::create_clinic`], where the person at the console is the owner.)
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator; otherwise as `create_clinic`.
    pub async fn operator_create_clinic(
        &self,
        actor: &Actor,
        name: &str,
        owner_email: &str,
    ) -> Result<crate::clinics::CreatedClinic, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let source = actor.source.map(|ip| ip.to_string());
        self.create_clinic_mailing_owner(name, owner_email, source.as_deref())
            .await
    }

    /// Every clinic with its usage and activity (operators only). Counts,
    /// never contents.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator.
    pub async fn clinic_usage(&self, actor: &Actor) -> Result<Vec<ClinicUsage>, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let mut tx = self.store().begin_read().await?;
        Ok(platform::usage(&mut tx)
            .await?
            .into_iter()
            .map(ClinicUsage::from)
            .collect())
    }

    /// One clinic's line of [`App::clinic_usage`] (operators only).
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator; `NotFound` for an unknown
    /// clinic (or the platform's own row).
    pub async fn one_clinic_usage(&self, actor: &Actor, clinic: ClinicId) -> Result<ClinicUsage, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let mut tx = self.store().begin_read().await?;
        platform::clinic_usage(&mut tx, &actor.operator_scope(clinic).ok_or(AppError::Forbidden)?)
            .await?
            .map(ClinicUsage::from)
            .ok_or(AppError::NotFound)
    }

    /// Verify one clinic's audit chain and report it with the clinic's
    /// usage (operators only). The check is recorded in the platform's own
    /// chain with its result: counts and sequence numbers, no contents.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator; `NotFound` for an unknown
    /// clinic (or the platform's own row).
    pub async fn clinic_health(&self, actor: &Actor, clinic: ClinicId) -> Result<ClinicHealth, AppError> {
        let usage = self.one_clinic_usage(actor, clinic).await?;
        let actor = &self.staff_of(actor).await?;
        let scope = actor.operator_scope(clinic).ok_or(AppError::Forbidden)?;
        let chain = self.store().verify_clinic_audit(&scope).await?;
        let result = match &chain.first_break {
            None => "intact".to_owned(),
            Some(b) => format!("broken first_break:{}", b.seq),
        };
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            NewAuditEvent {
                clinic_id: platform_id(),
                actor_kind: actor.kind(),
                actor_id: Some(actor.staff_id),
                client_id: None,
                sections: Vec::new(),
                action: AuditAction::ClinicChainVerified,
                purpose: Purpose::Audit,
                source: actor.source.map(|s| s.to_string()),
                detail: Some(format!(
                    "clinic:{clinic} events:{} head:{} result:{result}",
                    chain.events, chain.head_seq
                )),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ClinicHealth {
            usage,
            chain: chain.into(),
        })
    }

    /// Suspend a clinic (nobody can sign in; live sessions end at their next
    /// request) or make it active again. `actor` is `None` from the CLI.
    /// Suspending needs a reason (10 to 500 characters). The change is
    /// recorded in the clinic's chain and the platform's, and emailed to the
    /// clinic's owners (through the outbox) with the reason.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator; `Validation` on `reason`;
    /// `NotFound` for an unknown clinic.
    pub async fn set_clinic_suspended(
        &self,
        actor: Option<&Actor>,
        clinic: ClinicId,
        suspended: bool,
        reason: &str,
    ) -> Result<(), AppError> {
        let account = match actor {
            Some(a) => Some(self.staff_of(a).await?),
            None => None,
        };
        let actor = account.as_ref();
        if let Some(a) = actor {
            self.require_operator(a).await?;
        }
        let reason = reason.trim();
        if suspended && !crate::offboard::REASON_CHARS.contains(&reason.chars().count()) {
            return Err(AppError::field(
                "reason",
                "must say why the clinic is suspended, in 10 to 500 characters: it is emailed to the clinic's owner",
            ));
        }
        let scope = match actor {
            Some(a) => a.operator_scope(clinic).ok_or(AppError::Forbidden)?,
            None => crate::job_scope(SUSPEND_JOB, clinic),
        };
        let mut tx = self.begin().await?;
        let status = if suspended {
            ClinicStatus::Suspended
        } else {
            ClinicStatus::Active
        };
        if clinic == platform_id() || !platform::set_status(&mut tx, &scope, status).await? {
            return Err(Self::gone_or_unknown(&mut tx, &scope).await);
        }
        let action = if suspended {
            AuditAction::ClinicSuspended
        } else {
            AuditAction::ClinicResumed
        };
        let detail = actor.map_or_else(|| "by:cli".to_owned(), |a| format!("by:{}", a.staff_id));
        for chain in [clinic, platform_id()] {
            self.audit(
                &mut tx,
                NewAuditEvent {
                    clinic_id: chain,
                    actor_kind: actor.map_or_else(|| SystemJob::new(SUSPEND_JOB).kind(), StaffActor::kind),
                    actor_id: actor.map(|a| a.staff_id),
                    client_id: None,
                    sections: Vec::new(),
                    action,
                    purpose: Purpose::Administration,
                    source: actor.and_then(|a| a.source).map(|s| s.to_string()),
                    detail: Some(format!("{detail} clinic:{clinic}")),
                },
            )
            .await?;
        }
        let name = velum_store::clinics::get(&mut tx, &scope)
            .await?
            .map(|c| c.name)
            .unwrap_or_default();
        if suspended {
            let email = crate::email::Suspended {
                clinic_name: name,
                reason: reason.to_string(),
            };
            self.notify_owners(&mut tx, &scope, &email).await?;
        } else {
            let email = crate::email::Reactivated { clinic_name: name };
            self.notify_owners(&mut tx, &scope, &email).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `Conflict` naming the clinic as offboarded (its data and keys are
    /// gone, so there is nothing to suspend, reactivate or support), else
    /// `NotFound`.
    async fn gone_or_unknown(tx: &mut velum_store::Tx, scope: &ClinicScope) -> AppError {
        match velum_store::clinics::get(tx, scope).await {
            Ok(Some(c)) if c.status.is_offboarded() => AppError::Conflict(FieldErrors::single(
                "clinic",
                "has been offboarded: its data and keys are gone",
            )),
            Ok(_) => AppError::NotFound,
            Err(e) => e.into(),
        }
    }

    /// An operator asks a clinic for support access, giving a reason.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator; `NotFound` for an unknown
    /// clinic; `Validation` on `reason` or `minutes`.
    pub async fn request_support(
        &self,
        actor: &Actor,
        clinic: ClinicId,
        reason: &str,
        minutes: &str,
    ) -> Result<Uuid, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let mut errors = FieldErrors::new();
        let reason = errors.take("reason", SupportReason::parse(reason));
        let minutes = errors.take("minutes", GrantMinutes::parse(minutes));
        let (Some(reason), Some(minutes)) = (reason, minutes) else {
            return Err(AppError::Validation(errors));
        };
        let minutes = minutes.get();
        let scope = actor.operator_scope(clinic).ok_or(AppError::Forbidden)?;
        let mut tx = self.begin().await?;
        let known = velum_store::clinics::get(&mut tx, &scope).await?;
        if known.is_none() || clinic == platform_id() {
            return Err(AppError::NotFound);
        }
        if known.is_some_and(|c| c.status.is_offboarded()) {
            return Err(Self::gone_or_unknown(&mut tx, &scope).await);
        }
        let id = Uuid::now_v7();
        platform::insert_grant(
            &mut tx,
            &scope,
            id,
            actor.staff_id,
            reason.as_str(),
            minutes,
            self.now(),
        )
        .await?;
        self.audit(
            &mut tx,
            operator_event(
                actor,
                clinic,
                AuditAction::SupportRequested,
                format!("grant:{id} minutes:{minutes}"),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    fn grant_view(&self, g: GrantRow, actions: Option<i64>) -> SupportGrant {
        SupportGrant {
            id: g.id,
            clinic_id: g.clinic_id,
            state: state_of(&g, self.now()),
            clinic_name: g.clinic_name,
            operator_name: g.operator_name.unwrap_or_else(|| "Platform support".into()),
            reason: g.reason,
            minutes: g.minutes,
            requested_at: g.requested_at,
            decided_at: g.decided_at,
            expires_at: g.expires_at,
            actions,
        }
    }

    /// The clinic's support grants, with what was done under each (owners).
    ///
    /// # Errors
    /// `Forbidden` for anyone but the clinic's owner.
    pub async fn clinic_support_grants(&self, actor: &Actor) -> Result<Vec<SupportGrant>, AppError> {
        let actor = &self.staff_of(actor).await?;
        if !policy::may_decide_support(actor.role) {
            return Err(self.deny(actor, None, &[], "support_grants").await);
        }
        let scope = actor.scope();
        let mut tx = self.store().begin_read().await?;
        let rows = platform::clinic_grants(&mut tx, &scope).await?;
        let mut out = Vec::with_capacity(rows.len());
        for g in rows {
            let actions = match (g.decided_at, g.expires_at) {
                (Some(from), Some(until)) if g.status != GrantStatus::Denied => {
                    let until = until.min(self.now());
                    Some(platform::events_under_grant(&mut tx, &scope, g.operator_id, from, until).await?)
                }
                _ => None,
            };
            out.push(self.grant_view(g, actions));
        }
        Ok(out)
    }

    /// The operator's own requests, across clinics.
    ///
    /// # Errors
    /// `Forbidden` for anyone but an operator.
    pub async fn my_support_grants(&self, actor: &Actor) -> Result<Vec<SupportGrant>, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let mut tx = self.store().begin_read().await?;
        let rows = platform::operator_grants(&mut tx, actor.staff_id).await?;
        Ok(rows.into_iter().map(|g| self.grant_view(g, None)).collect())
    }

    /// The clinic's owner grants, refuses or ends a support grant.
    ///
    /// # Errors
    /// `Forbidden` for anyone but the owner; `NotFound` for a grant of
    /// another clinic; `Conflict` when the grant is not in a state the
    /// decision applies to.
    pub async fn decide_support(&self, actor: &Actor, grant: Uuid, decision: Decision) -> Result<(), AppError> {
        let actor = &self.staff_of(actor).await?;
        if !policy::may_decide_support(actor.role) {
            return Err(self.deny(actor, None, &[], "support_decision").await);
        }
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        let Some(g) = platform::grant(&mut tx, &scope, grant).await? else {
            drop(tx);
            let reason = format!("support_decision unknown_grant:{grant}");
            return Err(self.refuse(actor, &reason, AppError::NotFound).await);
        };
        let now = self.now();
        let (expires, action) = match decision {
            Decision::Grant => (
                now.checked_add(SignedDuration::from_mins(g.minutes)).ok(),
                AuditAction::SupportGranted,
            ),
            Decision::Deny => (None, AuditAction::SupportDenied),
            Decision::Revoke => (Some(now), AuditAction::SupportRevoked),
        };
        let state = state_of(&g, now);
        let moved = match state.after(decision) {
            Some(to) => {
                platform::decide(&mut tx, &scope, grant, state.stored(), to, actor.staff_id, now, expires).await?
            }
            None => false,
        };
        if !moved {
            return Err(AppError::Conflict(FieldErrors::single(
                "grant",
                "has already been decided or has ended",
            )));
        }
        let detail = format!("grant:{grant} operator:{}", g.operator_id);
        self.audit(&mut tx, event(actor, action, None, &[], Some(detail)))
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Begin a support visit: the operator's session acts inside the clinic
    /// (role `Support`) until the grant ends or the operator leaves.
    ///
    /// # Errors
    /// `Forbidden` for anyone but the operator the grant names, or when the
    /// grant is not live; `NotFound` for an unknown grant.
    pub async fn enter_support(
        &self,
        actor: &Actor,
        token: &str,
        clinic: ClinicId,
        grant: Uuid,
    ) -> Result<(), AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let scope = actor.operator_scope(clinic).ok_or(AppError::Forbidden)?;
        let mut tx = self.begin().await?;
        let g = platform::grant(&mut tx, &scope, grant).await?;
        // F38: every refused visit is recorded in the platform's chain.
        let refusal = match &g {
            None => Some(("no_grant", AppError::NotFound)),
            Some(g) if g.operator_id != actor.staff_id => Some(("not_their_grant", AppError::NotFound)),
            Some(g) if !state_of(g, self.now()).is_live() => Some(("grant_not_live", AppError::Forbidden)),
            Some(_) => None,
        };
        if let Some((why, answer)) = refusal {
            drop(tx);
            let reason = format!("support_visit {why} clinic:{clinic} grant:{grant}");
            return Err(self.refuse(actor, &reason, answer).await);
        }
        let tref = TokenRef::parse(token).ok_or(AppError::Unauthenticated)?;
        platform::set_session_support(&mut tx, &tref.scope(), &tref.hash, Some((clinic, grant))).await?;
        self.audit(
            &mut tx,
            operator_event(actor, clinic, AuditAction::SupportEntered, format!("grant:{grant}")),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// End a support visit: the session is the operator's own again.
    ///
    /// # Errors
    /// Database errors.
    pub async fn leave_support(&self, token: &str) -> Result<(), AppError> {
        let Some(tref) = TokenRef::parse(token) else {
            return Ok(());
        };
        let mut tx = self.begin().await?;
        platform::set_session_support(&mut tx, &tref.scope(), &tref.hash, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live visit a session rests on, if its grant still holds; a
    /// session whose grant has ended is taken out of the clinic.
    pub(crate) async fn live_visit(
        &self,
        row: &sessions::SessionRow,
        token: &TokenRef,
    ) -> Result<Option<SupportVisit>, AppError> {
        let Some((clinic, grant)) = row.support else {
            return Ok(None);
        };
        if row.role != Role::Operator {
            return Ok(None);
        }
        let mut tx = self.store().begin_read().await?;
        let scope = crate::visitor_scope(clinic);
        let g = platform::grant(&mut tx, &scope, grant).await?;
        let clinic_active = velum_store::clinics::get(&mut tx, &scope)
            .await?
            .is_some_and(|c| c.status.is_active());
        drop(tx);
        match g {
            Some(g) if g.operator_id == row.staff_id && state_of(&g, self.now()).is_live() && clinic_active => {
                Ok(Some(SupportVisit {
                    clinic_id: clinic,
                    clinic_name: g.clinic_name,
                    grant_id: grant,
                    until: g.expires_at.unwrap_or_else(|| self.now()),
                }))
            }
            _ => {
                let mut tx = self.begin().await?;
                platform::set_session_support(&mut tx, &token.scope(), &token.hash, None).await?;
                tx.commit().await?;
                Ok(None)
            }
        }
    }
}
