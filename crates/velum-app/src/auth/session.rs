//! Sessions: checking one, signing out.

use velum_core::Actor;
use velum_core::audit::AuditAction;
use velum_store::sessions;

use crate::{App, AppError};

use super::*;

impl App {
    /// Find a live session from its token. Ends it if it has been idle too
    /// long, passed its absolute lifetime, or its account was disabled.
    ///
    /// # Errors
    /// `Unauthenticated` when there is no live session.
    pub async fn session(&self, token: &str) -> Result<SessionInfo, AppError> {
        let tref = TokenRef::parse(token).ok_or(AppError::Unauthenticated)?;
        let now = self.now();
        let mut tx = self.store().begin_read().await?;
        let row = sessions::find(&mut tx, &tref.scope(), &tref.hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        drop(tx);
        let stage = Stage::parse(&row.stage).ok_or(AppError::Unauthenticated)?;
        let idle_until = row.last_seen_at.saturating_add(IDLE_TIMEOUT).unwrap_or(now);
        let dead = row.expires_at <= now || idle_until <= now || row.staff_disabled || !row.clinic_active;
        if dead {
            let mut tx = self.begin().await?;
            sessions::delete(&mut tx, &tref.scope(), &tref.hash).await?;
            tx.commit().await?;
            return Err(AppError::Unauthenticated);
        }
        if row.last_seen_at.saturating_add(TOUCH_EVERY).unwrap_or(now) <= now {
            let mut tx = self.begin().await?;
            sessions::touch(&mut tx, &tref.scope(), &tref.hash, now).await?;
            tx.commit().await?;
        }
        let support = self.live_visit(&row, &tref).await?;
        Ok(SessionInfo {
            support,
            stage,
            clinic_id: row.clinic_id,
            staff_id: row.staff_id,
            role: row.role,
            display_name: row.display_name,
            csrf_token: row.csrf_token,
            expires_at: row.expires_at,
            time_zone: row.time_zone,
        })
    }

    /// End a session (sign out).
    ///
    /// # Errors
    /// Database errors.
    pub async fn sign_out(&self, token: &str, actor: Option<&Actor>) -> Result<(), AppError> {
        let mut tx = self.begin().await?;
        if let Some(tref) = TokenRef::parse(token) {
            sessions::delete(&mut tx, &tref.scope(), &tref.hash).await?;
        }
        if let Some(Ok(actor)) = actor.map(Actor::account) {
            self.audit(&mut tx, crate::event(&actor, AuditAction::SignOut, None, &[], None))
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
