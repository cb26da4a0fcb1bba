//! Delivering the outbox over SMTP. Messages were queued (sealed under
//! their clinic's key) in the same transaction as the action that sent them;
//! here they are claimed with a lease (so two servers never send one twice
//! at once), opened, sent, and marked. A message is given up, and its sealed
//! contents cleared, when it cannot be opened, its address is unusable, the
//! server refuses it permanently, or it is older than [`GIVE_UP_AFTER`].

use jiff::SignedDuration;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use velum_store::outbox;

use crate::{App, AppError};

const LEASE: SignedDuration = SignedDuration::from_mins(2);

/// How long a message is retried: as long as the longest-lived link it can
/// carry (a set-up link, 72 hours); after that it is useless anyway.
pub const GIVE_UP_AFTER: SignedDuration = SignedDuration::from_hours(72);

/// Why one attempt failed, in words that hold no personal data (no address,
/// no text of the server's reply, which may quote the address): what is
/// logged and stored in `last_error`.
struct Failure {
    reason: String,
    permanent: bool,
}

impl Failure {
    fn retry(reason: &str) -> Failure {
        Failure {
            reason: reason.to_owned(),
            permanent: false,
        }
    }

    fn give_up(reason: &str) -> Failure {
        Failure {
            reason: reason.to_owned(),
            permanent: true,
        }
    }

    fn smtp(e: &lettre::transport::smtp::Error) -> Failure {
        let code = e.status().map(|c| c.to_string());
        if e.is_permanent() {
            let reason = format!(
                "the SMTP server refused the message (code {})",
                code.as_deref().unwrap_or("?")
            );
            Failure::give_up(&reason)
        } else if e.is_transient() {
            Failure::retry(&format!(
                "the SMTP server deferred the message (code {})",
                code.as_deref().unwrap_or("?")
            ))
        } else if e.is_timeout() {
            Failure::retry("the SMTP server did not answer in time")
        } else if e.is_tls() {
            Failure::retry("TLS with the SMTP server failed")
        } else if e.is_client() {
            Failure::retry("the SMTP server does not offer what this setting requires")
        } else {
            Failure::retry("the SMTP server could not be reached")
        }
    }
}

impl App {
    /// Send what is due. Returns how many were sent. Without SMTP settings,
    /// nothing is sent and messages wait.
    ///
    /// # Errors
    /// Database errors (a refused message is retried later or given up, not
    /// an error).
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
            let result = match &m.mail {
                None => Err(Failure::give_up("the message cannot be opened (its key is gone)")),
                Some(mail) => {
                    async {
                        let from: Mailbox = smtp
                            .from
                            .parse()
                            .map_err(|_| Failure::retry("the sender address setting is not valid"))?;
                        let to: Mailbox = mail
                            .to_addr
                            .parse()
                            .map_err(|_| Failure::give_up("the recipient address is not valid"))?;
                        let email = lettre::Message::builder()
                            .from(from)
                            .to(to)
                            .subject(mail.subject.clone())
                            .body(mail.body.clone())
                            .map_err(|_| Failure::give_up("the message could not be built"))?;
                        transport.send(email).await.map_err(|e| Failure::smtp(&e))?;
                        Ok(())
                    }
                    .await
                }
            };
            let now = self.now();
            let mut tx = self.begin().await?;
            match result {
                Ok(()) => {
                    outbox::mark_sent(&mut tx, &m, now).await?;
                    sent += 1;
                }
                Err(f) if f.permanent || now.duration_since(m.created_at) >= GIVE_UP_AFTER => {
                    tracing::warn!(message_id = %m.id, attempts = m.attempts, reason = %f.reason,
                        "email delivery failed; giving it up");
                    outbox::mark_given_up(&mut tx, &m, &f.reason, now).await?;
                }
                Err(f) => {
                    // Back off: 1, 2, 4 … minutes, at most an hour.
                    let mins = 1_i64 << m.attempts.clamp(0, 6);
                    let retry = now.saturating_add(SignedDuration::from_mins(mins)).unwrap_or(now);
                    tracing::warn!(message_id = %m.id, attempts = m.attempts, reason = %f.reason,
                        "email delivery failed; will retry");
                    outbox::mark_failed(&mut tx, &m, &f.reason, retry).await?;
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

    /// Seal queued mail still held in plaintext (queued before the outbox
    /// was sealed); run by [`App::open`]. Returns how many were sealed.
    ///
    /// # Errors
    /// Database errors; a clinic key that does not unwrap.
    pub async fn seal_plaintext_outbox(&self) -> Result<u64, AppError> {
        let mut tx = self.begin().await?;
        let n = outbox::seal_plaintext(&mut tx, self.now()).await?;
        tx.commit().await?;
        Ok(n)
    }
}
