//! Delivering the outbox over SMTP. Messages were queued in the same
//! transaction as the action that sent them; here they are claimed with a
//! lease (so two servers never send one twice at once), sent, and marked.

use jiff::SignedDuration;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use velum_store::outbox;

use crate::{App, AppError};

const LEASE: SignedDuration = SignedDuration::from_mins(2);

impl App {
    /// Send what is due. Returns how many were sent. Without SMTP settings,
    /// nothing is sent and messages wait.
    ///
    /// # Errors
    /// Database errors (a refused message is retried later, not an error).
    pub async fn deliver_outbox(&self) -> Result<usize, AppError> {
        let Some(smtp) = self.settings().smtp.clone() else {
            return Ok(0);
        };
        let mut tx = self.begin().await?;
        let due = outbox::claim_due(&mut tx, self.now(), LEASE.as_micros() as i64, 20).await?;
        tx.commit().await?;
        if due.is_empty() {
            return Ok(0);
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str())
            .port(smtp.port)
            .build();
        let mut sent = 0;
        for m in due {
            let result = async {
                let from: Mailbox = smtp.from.parse().map_err(|_| "bad from address".to_owned())?;
                let to: Mailbox = m.to_addr.parse().map_err(|_| "bad recipient address".to_owned())?;
                let email = Message::builder()
                    .from(from)
                    .to(to)
                    .subject(m.subject.clone())
                    .body(m.body.clone())
                    .map_err(|e| e.to_string())?;
                transport.send(email).await.map_err(|e| e.to_string())?;
                Ok::<(), String>(())
            }
            .await;
            let mut tx = self.begin().await?;
            match result {
                Ok(()) => {
                    outbox::mark_sent(&mut tx, &m, self.now()).await?;
                    sent += 1;
                }
                Err(e) => {
                    // Back off: 1, 2, 4 … minutes, at most an hour.
                    let mins = 1_i64 << m.attempts.clamp(0, 6);
                    let retry = self
                        .now()
                        .saturating_add(SignedDuration::from_mins(mins))
                        .unwrap_or(self.now());
                    tracing::warn!(message_id = %m.id, attempts = m.attempts, "email delivery failed; will retry");
                    outbox::mark_failed(&mut tx, &m, &e, retry).await?;
                }
            }
            tx.commit().await?;
        }
        Ok(sent)
    }

    /// Messages waiting to be sent.
    ///
    /// # Errors
    /// Database errors.
    pub async fn outbox_pending(&self) -> Result<i64, AppError> {
        let mut tx = self.store().begin_read().await?;
        Ok(outbox::pending_count(&mut tx).await?)
    }
}
