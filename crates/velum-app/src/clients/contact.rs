//! The contact section: creating a card, changing its details.

use jiff::Timestamp;
use serde::Deserialize;
use velum_core::actor::Access;
use velum_core::audit::AuditAction;
use velum_core::client::{ClientDetails, ClientInput};
use velum_core::{Actor, ClientId, Section};
use velum_crypto::ClientKey;
use velum_store::clients::{self, ClientRecord};

use crate::{App, AppError, DuplicateMatch, event};

use super::*;

/// The contact section.
#[derive(Clone, Debug)]
pub struct Contact {
    pub details: ClientDetails,
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A change to the contact section; absent fields stay as they are, an
/// empty string clears an optional field.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub town: Option<String>,
    pub postcode: Option<String>,
}

velum_core::debug_redacted!(ClientPatch {
    given_name,
    family_name,
    date_of_birth,
    email,
    mobile,
    line1,
    line2,
    town,
    postcode,
});

impl ClientPatch {
    /// The card as typed after this change: `to` with each field given
    /// replaced.
    #[must_use]
    pub fn apply(self, mut to: ClientInput) -> ClientInput {
        let set = |field: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut to.given_name, self.given_name);
        set(&mut to.family_name, self.family_name);
        set(&mut to.date_of_birth, self.date_of_birth);
        set(&mut to.email, self.email);
        set(&mut to.mobile, self.mobile);
        set(&mut to.line1, self.line1);
        set(&mut to.line2, self.line2);
        set(&mut to.town, self.town);
        set(&mut to.postcode, self.postcode);
        to
    }
}

impl App {
    /// Create a card. Unless `allow_duplicate`, refuses with `Duplicate`
    /// when a card with the same name and date of birth, email or mobile
    /// exists, so staff can open that one instead.
    ///
    /// # Errors
    /// `Validation` naming every bad field; `Duplicate`; `Forbidden`.
    pub async fn create_client(
        &self,
        actor: &Actor,
        input: &ClientInput,
        allow_duplicate: bool,
    ) -> Result<Card, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.allow(actor, Access::Write, None, &[Section::Contact]).await?;
        let today = self.today_in(&actor.scope()).await?;
        let details = input.parse(today).map_err(AppError::Validation)?;
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        if !allow_duplicate {
            let dups = clients::find_duplicates(&mut tx, &scope, &details).await?;
            if !dups.is_empty() {
                // The answer names existing clients: record it as a search.
                let detail = Some(format!("duplicate_check results:{}", dups.len()));
                self.audit(
                    &mut tx,
                    event(actor, AuditAction::Search, None, &[Section::Contact], detail),
                )
                .await?;
                tx.commit().await?;
                return Err(AppError::Duplicate(
                    dups.iter().map(|r| duplicate(r, &details)).collect(),
                ));
            }
        }
        let id = ClientId::new();
        let now = self.now();
        let (key_id, clinic_key) = self.clinic_key(&mut tx, &scope).await?;
        let client_key = ClientKey::generate();
        let wrapped = clinic_key.wrap_client_key(&client_key, scope.clinic_id(), id);
        clients::insert(&mut tx, &scope, id, &details, (key_id, &wrapped), now).await?;
        clients::insert_history(
            &mut tx,
            &scope,
            id,
            uuid::Uuid::now_v7(),
            Section::Contact.as_str(),
            actor.staff_id,
            None,
            now,
        )
        .await?;
        self.audit(
            &mut tx,
            event(actor, AuditAction::Create, Some(id), &[Section::Contact], None),
        )
        .await?;
        let r = clients::get(&mut tx, &scope, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(Card {
            header: header(&r),
            contact: Some(contact(&r)),
            medical: None,
            marketing: None,
            tabs: tabs_for(actor.role),
        })
    }
    /// Change contact details. The previous details are kept, sealed under
    /// the client's key.
    ///
    /// # Errors
    /// `Validation`; `Forbidden`; `NotFound`.
    pub async fn update_client(&self, actor: &Actor, id: ClientId, patch: ClientPatch) -> Result<Card, AppError> {
        let sections = [Section::Contact];
        let actor = &self.card_access(actor, id, Access::Write, &sections).await?;
        let today = self.today_in(&actor.scope()).await?;
        self.in_card(actor, id, &sections, async |c| {
            let before = &c.card;
            let input = patch.apply(ClientInput::from_details(&before.details));
            let details = input.parse(today).map_err(AppError::Validation)?;
            let now = self.now();
            let action = if details != before.details {
                let key = self.client_key(&mut c.tx, &c.scope, id).await?;
                let hid = uuid::Uuid::now_v7();
                let prev = serde_json::to_vec(&before.details)
                    .map_err(|_| AppError::Internal("contact json: cannot encode".into()))?;
                let sealed = key.seal(&prev, &history_aad(&c.scope, id, hid));
                clients::insert_history(
                    &mut c.tx,
                    &c.scope,
                    id,
                    hid,
                    Section::Contact.as_str(),
                    c.actor.staff_id,
                    Some(&sealed),
                    now,
                )
                .await?;
                clients::update_details(&mut c.tx, &c.scope, id, &details, now).await?;
                AuditAction::Update
            } else {
                // Nothing changed, but the answer shows the card: a read.
                AuditAction::Read
            };
            let r = clients::get(&mut c.tx, &c.scope, id).await?.ok_or(AppError::NotFound)?;
            Ok(Done::audited(
                action,
                Card {
                    header: header(&r),
                    contact: Some(contact(&r)),
                    medical: None,
                    marketing: None,
                    tabs: tabs_for(c.actor.role),
                },
            ))
        })
        .await
    }
}

fn duplicate(r: &ClientRecord, new: &ClientDetails) -> DuplicateMatch {
    let reason = if new.email.is_some() && r.details.email == new.email {
        "email"
    } else if new.mobile.is_some() && r.details.mobile == new.mobile {
        "mobile"
    } else {
        "name_and_date_of_birth"
    };
    DuplicateMatch {
        id: r.id,
        given_name: r.details.given_name.as_str().to_owned(),
        family_name: r.details.family_name.as_str().to_owned(),
        date_of_birth: r.details.date_of_birth.to_iso(),
        reason,
    }
}
