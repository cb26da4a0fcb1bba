//! Delivering the outbox over SMTP. Messages were queued (sealed under
//! their clinic's key) in the same transaction as the action that sent them,
//! each with a job that sends it ([`JobKind::Mail`]); the job is claimed
//! with a lease (so two servers never send one twice at once), and its
//! handler here opens the message, sends it, and marks it. A message is given up, and its sealed
//! contents cleared, when it cannot be opened, its address is unusable, the
//! server refuses it permanently, or it is older than [`GIVE_UP_AFTER`].

use jiff::SignedDuration;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use velum_store::{jobs, outbox};

use crate::jobs::{JobKind, Outcome, Ran};
use crate::{App, AppError, SmtpSettings};

/// How the connection to the SMTP server is protected
/// (`--smtp-tls` / `VELUM_SMTP_TLS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS (RFC 3207) on a plain connection, required: a server that
    /// does not offer it, or whose certificate does not verify for the
    /// host, is sent nothing and the mail waits.
    #[default]
    Required,
    /// TLS from the first byte ("implicit TLS", usually port 465).
    Wrapper,
    /// No TLS: allowed only for a relay on this machine (loopback).
    None,
}

impl std::str::FromStr for SmtpTls {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<SmtpTls, &'static str> {
        match s {
            "required" => Ok(SmtpTls::Required),
            "wrapper" => Ok(SmtpTls::Wrapper),
            "none" => Ok(SmtpTls::None),
            _ => Err("must be required, wrapper or none"),
        }
    }
}

/// What is wrong with SMTP settings, found before anything is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SmtpSettingsError {
    #[error("none is allowed only for a relay on loopback (127.0.0.1, ::1 or localhost)")]
    PlainToRemoteHost,
    #[error("the CA file is not a PEM certificate")]
    BadCaFile,
    #[error("username and password must be set together")]
    HalfCredentials,
    #[error("TLS cannot be set up for this host")]
    Tls,
}

impl SmtpSettings {
    /// Whether the server is on this machine: `localhost` or a loopback
    /// address.
    #[must_use]
    pub fn host_is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The transport these settings describe. Start-up calls it too, so a
    /// bad setting stops `serve` instead of failing each delivery.
    ///
    /// # Errors
    /// See [`SmtpSettingsError`].
    pub fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SmtpSettingsError> {
        if self.tls == SmtpTls::None && !self.host_is_loopback() {
            return Err(SmtpSettingsError::PlainToRemoteHost);
        }
        let mut params = TlsParameters::builder(self.host.clone());
        if let Some(pem) = &self.ca_pem {
            // A file with no certificate in it parses as none at all.
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(SmtpSettingsError::BadCaFile);
            }
            let cert = Certificate::from_pem(pem.as_bytes()).map_err(|_| SmtpSettingsError::BadCaFile)?;
            params = params.add_root_certificate(cert);
        }
        let tls = match self.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Required => Tls::Required(params.build_rustls().map_err(|_| SmtpSettingsError::Tls)?),
            SmtpTls::Wrapper => Tls::Wrapper(params.build_rustls().map_err(|_| SmtpSettingsError::Tls)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
            .port(self.port)
            .tls(tls);
        match (&self.username, &self.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_owned()));
            }
            (None, None) => {}
            _ => return Err(SmtpSettingsError::HalfCredentials),
        }
        Ok(builder.build())
    }
}

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
            Failure::retry("the SMTP server does not offer STARTTLS, or refused the session")
        } else {
            Failure::retry("the SMTP server could not be reached")
        }
    }
}

impl App {
    /// Send what is due now: run the due jobs of kind [`JobKind::Mail`].
    /// Returns how many messages were sent. Without SMTP settings, nothing
    /// is sent and messages wait.
    ///
    /// # Errors
    /// Database errors (a refused message is retried later or given up, not
    /// an error).
    pub async fn deliver_outbox(&self) -> Result<usize, AppError> {
        if self.settings().smtp.is_none() {
            return Ok(0);
        }
        let ran = self.run_jobs(Some(JobKind::Mail)).await?;
        Ok(ran
            .iter()
            .filter(|(k, o)| *k == JobKind::Mail && *o == Ran::Done)
            .count())
    }

    /// The handler of a [`JobKind::Mail`] job: send queued message `job.id`
    /// once, and mark it in the outbox (sent and cleared; failed, to retry
    /// after the job's back-off; or given up and cleared).
    pub(crate) async fn send_queued_mail(&self, job: &jobs::Claimed) -> Result<Outcome, AppError> {
        let Some(smtp) = self.settings().smtp.clone() else {
            return Ok(Outcome::Retry("no SMTP server is set".to_owned()));
        };
        let mut tx = self.begin().await?;
        let taken = outbox::take(&mut tx, job.clinic_id, job.id).await?;
        tx.commit().await?;
        let Some(m) = taken else {
            // Sent or given up already, or deleted with its clinic.
            return Ok(Outcome::Nothing);
        };
        let result = match &m.mail {
            None => Err(Failure::give_up("the message cannot be opened (its key is gone)")),
            Some(mail) => {
                async {
                    let transport = smtp
                        .transport()
                        .map_err(|_| Failure::retry("the SMTP settings are not valid"))?;
                    let from: Mailbox = smtp
                        .from
                        .parse()
                        .map_err(|_| Failure::retry("the sender address setting is not valid"))?;
                    let to: Mailbox = mail
                        .to_addr
                        .parse()
                        .map_err(|_| Failure::give_up("the recipient address is not valid"))?;
                    let email = crate::email::build(from, to, mail)
                        .map_err(|()| Failure::give_up("the message could not be built"))?;
                    transport.send(email).await.map_err(|e| Failure::smtp(&e))?;
                    Ok(())
                }
                .await
            }
        };
        let now = self.now();
        let mut tx = self.begin().await?;
        let outcome = match result {
            Ok(()) => {
                outbox::mark_sent(&mut tx, &m, now).await?;
                Outcome::Done
            }
            Err(f) if f.permanent || now.duration_since(m.created_at) >= GIVE_UP_AFTER => {
                tracing::warn!(message_id = %m.id, attempts = job.attempts, reason = %f.reason,
                    "email delivery failed; giving it up");
                outbox::mark_given_up(&mut tx, &m, &f.reason, now).await?;
                Outcome::GiveUp(f.reason)
            }
            Err(f) => {
                // Back off: 1, 2, 4 … minutes, at most 64 (the job's
                // back-off; the outbox row says when too).
                let retry = jobs::retry_at(now, job.attempts, job.backoff);
                tracing::warn!(message_id = %m.id, attempts = job.attempts, reason = %f.reason,
                    "email delivery failed; will retry");
                outbox::mark_failed(&mut tx, &m, &f.reason, retry).await?;
                Outcome::Retry(f.reason)
            }
        };
        tx.commit().await?;
        Ok(outcome)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: &str, tls: SmtpTls) -> SmtpSettings {
        SmtpSettings {
            host: host.to_owned(),
            port: 25,
            from: "Velum <velum@test.example>".to_owned(),
            tls,
            ca_pem: None,
            username: Some("relay-user@clinic.example".to_owned()),
            password: Some(secrecy::SecretString::from("hunter2-smtp-secret")),
        }
    }

    #[test]
    fn debug_never_shows_the_credentials() {
        let shown = format!("{:?}", settings("smtp.example.com", SmtpTls::Required));
        assert!(!shown.contains("hunter2") && !shown.contains("relay-user"), "{shown}");
        assert!(
            shown.contains("smtp.example.com") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    // Building a pooled transport needs a runtime, as in `serve`.
    #[tokio::test]
    async fn plain_smtp_only_to_loopback() {
        for host in ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"] {
            assert!(settings(host, SmtpTls::None).transport().is_ok(), "{host}");
        }
        for host in ["smtp.example.com", "10.0.0.1", "0.0.0.0", "localhost.example.com"] {
            assert_eq!(
                settings(host, SmtpTls::None).transport().err(),
                Some(SmtpSettingsError::PlainToRemoteHost),
                "{host}"
            );
            assert!(settings(host, SmtpTls::Required).transport().is_ok(), "{host}");
        }
        let mut half = settings("127.0.0.1", SmtpTls::Required);
        half.password = None;
        assert_eq!(half.transport().err(), Some(SmtpSettingsError::HalfCredentials));
        let mut bad_ca = settings("127.0.0.1", SmtpTls::Required);
        bad_ca.ca_pem = Some("not a certificate".to_owned());
        assert_eq!(bad_ca.transport().err(), Some(SmtpSettingsError::BadCaFile));
        assert_eq!("required".parse(), Ok(SmtpTls::Required));
        assert_eq!("wrapper".parse(), Ok(SmtpTls::Wrapper));
        assert_eq!("none".parse(), Ok(SmtpTls::None));
        assert!("starttls".parse::<SmtpTls>().is_err());
    }
}
