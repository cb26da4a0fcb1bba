//! The card itself: the use-case skeleton every card use case runs in
//! ([`App::with_card`]), opening a card, archiving it, counting cards.

use velum_core::actor::Access;
use velum_core::audit::AuditAction;
use velum_core::policy::ChangeSection;
use velum_core::{Actor, ClientId, Role, Section, StaffActor};
use velum_store::clients::{self, ClientRecord};
use velum_store::{ClinicScope, Tx};

use crate::{App, AppError, event};

use super::*;

/// A card inside a use case: who acts, in which clinic, the open
/// transaction and the card as loaded.
pub(crate) struct CardTx<'a> {
    pub actor: &'a StaffActor,
    pub scope: ClinicScope,
    pub tx: Tx,
    pub card: ClientRecord,
}

/// What a card use case answers, and the audit event it leaves on the card
/// (for the sections it was given): `None` when nothing happened, or when
/// the use case recorded its own event.
pub(crate) struct Done<T> {
    value: T,
    audit: Option<(AuditAction, Option<String>)>,
}

impl<T> Done<T> {
    /// Answer `value`, recording `action`.
    pub(crate) fn audited(action: AuditAction, value: T) -> Self {
        Self {
            value,
            audit: Some((action, None)),
        }
    }

    /// Answer `value`, recording `action` with a detail (never personal data).
    pub(crate) fn audited_with(action: AuditAction, detail: String, value: T) -> Self {
        Self {
            value,
            audit: Some((action, Some(detail))),
        }
    }

    /// Answer `value` without an event of the skeleton's.
    pub(crate) fn unaudited(value: T) -> Self {
        Self { value, audit: None }
    }
}

impl App {
    /// The use-case skeleton for one card: check the actor may use
    /// `sections` (auditing a refusal), begin, load the card in the actor's
    /// clinic (or audit and answer `NotFound`), run `act`, write the audit
    /// event it asks for, commit. An integrity failure of a medical section
    /// is recorded in a transaction of its own.
    pub(crate) async fn with_card<T>(
        &self,
        actor: &Actor,
        id: ClientId,
        access: Access,
        sections: &[Section],
        act: impl AsyncFnOnce(&mut CardTx<'_>) -> Result<Done<T>, AppError>,
    ) -> Result<T, AppError> {
        let actor = &self.card_access(actor, id, access, sections).await?;
        self.in_card(actor, id, sections, act).await
    }

    /// The skeleton's first step alone, for a use case that checks its
    /// input between the access check and the transaction.
    pub(crate) async fn card_access(
        &self,
        actor: &Actor,
        id: ClientId,
        access: Access,
        sections: &[Section],
    ) -> Result<StaffActor, AppError> {
        let actor = self.staff_of(actor).await?;
        self.allow(&actor, access, Some(id), sections).await?;
        Ok(actor)
    }

    /// The rest of [`App::with_card`], once [`App::card_access`] passed.
    pub(crate) async fn in_card<T>(
        &self,
        actor: &StaffActor,
        id: ClientId,
        sections: &[Section],
        act: impl AsyncFnOnce(&mut CardTx<'_>) -> Result<Done<T>, AppError>,
    ) -> Result<T, AppError> {
        let mut tx = self.begin().await?;
        let Some(card) = self.load(&mut tx, actor, id).await? else {
            return Err(self.not_found(tx, actor, id, sections).await);
        };
        let mut c = CardTx {
            actor,
            scope: actor.scope(),
            tx,
            card,
        };
        match act(&mut c).await {
            Ok(done) => {
                if let Some((action, detail)) = done.audit {
                    self.audit(&mut c.tx, event(actor, action, Some(id), sections, detail))
                        .await?;
                }
                c.tx.commit().await?;
                Ok(done.value)
            }
            Err(AppError::Integrity) if sections.contains(&Section::Medical) => {
                Err(self.integrity_failure(c.tx, actor, id).await)
            }
            Err(e) => Err(e),
        }
    }

    /// Check the actor may use `sections` of a card; audit and refuse if not.
    pub(super) async fn allow(
        &self,
        actor: &StaffActor,
        access: Access,
        client: Option<ClientId>,
        sections: &[Section],
    ) -> Result<(), AppError> {
        if sections.iter().all(|s| actor.may(access, *s)) {
            Ok(())
        } else {
            let what = if access == Access::Read { "read" } else { "write" };
            Err(self.deny(actor, client, sections, what).await)
        }
    }
    /// Load a card in the actor's clinic. Marketing staff see only clients
    /// who agreed to marketing.
    pub(super) async fn load(
        &self,
        tx: &mut Tx,
        actor: &StaffActor,
        id: ClientId,
    ) -> Result<Option<ClientRecord>, AppError> {
        let scope = actor.scope();
        let found = clients::get(tx, &scope, id).await?;
        Ok(found.filter(|r| actor.role != Role::Marketing || r.marketing_email || r.marketing_sms))
    }

    /// Answer `NotFound`, auditing the refusal in the same transaction
    /// (DOMAIN F38: a request for another clinic's client is refused and
    /// logged, with the same answer as for an id that does not exist).
    pub(super) async fn not_found(
        &self,
        mut tx: Tx,
        actor: &StaffActor,
        id: ClientId,
        sections: &[Section],
    ) -> AppError {
        let detail = Some(format!("not_found:{id}"));
        let done = async {
            self.audit(&mut tx, event(actor, AuditAction::Denied, None, sections, detail))
                .await?;
            tx.commit().await?;
            Ok::<(), AppError>(())
        }
        .await;
        done.err().unwrap_or(AppError::NotFound)
    }

    /// Answer `Integrity` for a medical record that failed its integrity
    /// check, after recording the failure in the clinic's chain (in a
    /// transaction of its own: the read's is rolled back) and the log, with
    /// ids only, never a value.
    pub(super) async fn integrity_failure(&self, tx: Tx, actor: &StaffActor, id: ClientId) -> AppError {
        drop(tx);
        tracing::error!(
            clinic = %actor.clinic_id,
            client = %id,
            "a medical record failed its integrity check and was not shown"
        );
        let detail = Some("medical record does not open at its stored version".to_owned());
        let done = async {
            let mut tx = self.begin().await?;
            self.audit(
                &mut tx,
                event(
                    actor,
                    AuditAction::IntegrityFailure,
                    Some(id),
                    &[Section::Medical],
                    detail,
                ),
            )
            .await?;
            tx.commit().await?;
            Ok::<(), AppError>(())
        }
        .await;
        done.err().unwrap_or(AppError::Integrity)
    }

    /// Open the given sections of a card: one read, one audit event naming
    /// every section opened.
    ///
    /// # Errors
    /// `Forbidden` for a section the role may not read; `NotFound`.
    pub async fn open_card(&self, actor: &Actor, id: ClientId, sections: &[Section]) -> Result<Card, AppError> {
        self.with_card(actor, id, Access::Read, sections, async |c| {
            let medical = if sections.contains(&Section::Medical) {
                Some(self.read_medical(&mut c.tx, &c.scope, id).await?)
            } else {
                None
            };
            let r = &c.card;
            Ok(Done::audited(
                AuditAction::Read,
                Card {
                    header: header(r),
                    contact: sections.contains(&Section::Contact).then(|| contact(r)),
                    medical,
                    marketing: sections.contains(&Section::Marketing).then_some(Marketing {
                        email: r.marketing_email,
                        sms: r.marketing_sms,
                    }),
                    tabs: tabs_for(c.actor.role),
                },
            ))
        })
        .await
    }

    /// Archive (or restore) a card. Archived cards leave the default search.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn set_client_archived(&self, actor: &Actor, id: ClientId, archived: bool) -> Result<(), AppError> {
        self.with_card(actor, id, Access::Write, &[Section::Contact], async |c| {
            if c.card.archived == archived {
                return Ok(Done::unaudited(()));
            }
            clients::set_archived(&mut c.tx, &c.scope, id, archived, self.now()).await?;
            clients::insert_history(
                &mut c.tx,
                &c.scope,
                id,
                uuid::Uuid::now_v7(),
                ChangeSection::Status.as_str(),
                c.actor.staff_id,
                None,
                self.now(),
            )
            .await?;
            let action = if archived {
                AuditAction::Archive
            } else {
                AuditAction::Unarchive
            };
            Ok(Done::audited(action, ()))
        })
        .await
    }

    /// Cards in the actor's clinic (for dashboards and tests).
    ///
    /// # Errors
    /// `Forbidden` without the contact permission.
    pub async fn count_clients(&self, actor: &Actor) -> Result<i64, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.allow(actor, Access::Read, None, &[Section::Contact]).await?;
        let mut tx = self.store().begin_read().await?;
        Ok(clients::count(&mut tx, &actor.scope()).await?)
    }
}
