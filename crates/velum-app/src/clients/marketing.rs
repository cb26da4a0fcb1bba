//! Marketing preferences.

use serde::{Deserialize, Serialize};
use velum_core::actor::Access;
use velum_core::audit::AuditAction;
use velum_core::{Actor, ClientId, Section};
use velum_store::clients;

use crate::{App, AppError};

use super::*;

/// Marketing preferences.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marketing {
    pub email: bool,
    pub sms: bool,
}

impl App {
    /// Record the client's marketing choices.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    pub async fn set_marketing(&self, actor: &Actor, id: ClientId, choice: Marketing) -> Result<(), AppError> {
        self.with_card(actor, id, Access::Write, &[Section::Marketing], async |c| {
            let before = &c.card;
            clients::set_marketing(&mut c.tx, &c.scope, id, choice.email, choice.sms, self.now()).await?;
            let detail = format!(
                "email:{}->{} sms:{}->{}",
                before.marketing_email, choice.email, before.marketing_sms, choice.sms
            );
            clients::insert_history(
                &mut c.tx,
                &c.scope,
                id,
                uuid::Uuid::now_v7(),
                Section::Marketing.as_str(),
                c.actor.staff_id,
                None,
                self.now(),
            )
            .await?;
            Ok(Done::audited_with(AuditAction::Update, detail, ()))
        })
        .await
    }
}
