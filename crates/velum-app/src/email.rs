//! Every email the app sends, each an askama template pair under
//! `templates/email/`: a text part (`NAME.txt`) and an HTML part
//! (`NAME.html`, extending `base.html`), sent together as
//! `multipart/alternative`. A use case fills one of the structs below and
//! queues it with `App::queue_email`; no body is written by hand
//! elsewhere. Links in them come from one place, `App::new_link` (the base
//! URL, the link's kind and its token).

use askama::Template;
use lettre::message::{Mailbox, MultiPart};
use velum_core::ClinicId;
use velum_store::Tx;
use velum_store::outbox::{self, Mail};

use crate::{App, AppError};

/// One email: its subject, its text part (the struct's own template) and
/// its HTML part.
pub trait Email: Template {
    /// The subject line.
    fn subject(&self) -> String;

    /// The HTML part.
    ///
    /// # Errors
    /// The template failed to render.
    fn html(&self) -> askama::Result<String>;
}

/// Declare an email: its subject, and the HTML template (whose fields read
/// the email as `m`).
macro_rules! email {
    ($name:ident, $html:ident, $path:literal, $subject:literal) => {
        #[derive(Template)]
        #[template(path = $path)]
        struct $html<'a> {
            #[allow(dead_code, reason = "an email without fields does not read it")]
            m: &'a $name,
        }

        impl Email for $name {
            fn subject(&self) -> String {
                $subject.to_owned()
            }

            fn html(&self) -> askama::Result<String> {
                $html { m: self }.render()
            }
        }
    };
}

/// A new clinic's owner gets the set-up link.
#[derive(Template)]
#[template(path = "email/clinic_created.txt")]
pub struct ClinicCreated {
    pub clinic_name: String,
    pub link: String,
}
email!(
    ClinicCreated,
    ClinicCreatedHtml,
    "email/clinic_created.html",
    "Your Velum clinic"
);

/// An account's failures reached the lock-out count.
#[derive(Template)]
#[template(path = "email/guessing.txt")]
pub struct Guessing {
    pub attempts: i64,
    pub minutes: i64,
}
email!(
    Guessing,
    GuessingHtml,
    "email/guessing.html",
    "Wrong sign-in attempts on your Velum account"
);

/// A recovery code was used to sign in.
#[derive(Template)]
#[template(path = "email/recovery_code_used.txt")]
pub struct RecoveryCodeUsed {
    pub left: i64,
}
email!(
    RecoveryCodeUsed,
    RecoveryCodeUsedHtml,
    "email/recovery_code_used.html",
    "A recovery code was used on your Velum account"
);

/// A password-reset link.
#[derive(Template)]
#[template(path = "email/password_reset.txt")]
pub struct PasswordReset {
    pub link: String,
}
email!(
    PasswordReset,
    PasswordResetHtml,
    "email/password_reset.html",
    "Reset your Velum password"
);

/// The weekly signed head of a clinic's audit trail.
#[derive(Template)]
#[template(path = "email/signed_head.txt")]
pub struct SignedHead {
    pub seq: i64,
    pub signed_at: String,
    /// The signed head as text (ends with a newline).
    pub head: String,
}
email!(
    SignedHead,
    SignedHeadHtml,
    "email/signed_head.html",
    "Your clinic's signed audit trail head"
);

/// The owner asked to leave the provider.
#[derive(Template)]
#[template(path = "email/leave_requested.txt")]
pub struct LeaveRequested {
    pub clinic_name: String,
    pub reason: String,
}
email!(
    LeaveRequested,
    LeaveRequestedHtml,
    "email/leave_requested.html",
    "Your clinic has asked to leave Velum"
);

/// A first operator approved offboarding a clinic that did not ask to leave.
#[derive(Template)]
#[template(path = "email/offboarding_approved.txt")]
pub struct OffboardingApproved {
    pub clinic_name: String,
    pub reason: String,
}
email!(
    OffboardingApproved,
    OffboardingApprovedHtml,
    "email/offboarding_approved.html",
    "Your provider has approved offboarding your clinic"
);

/// The clinic was offboarded.
#[derive(Template)]
#[template(path = "email/offboarded.txt")]
pub struct Offboarded {
    pub clinic_name: String,
    pub reason: String,
    /// Whether an archive sealed to the owner's passphrase was made.
    pub archived: bool,
    pub certificate_sha256: String,
}
email!(
    Offboarded,
    OffboardedHtml,
    "email/offboarded.html",
    "Your clinic has been offboarded"
);

/// The clinic was suspended.
#[derive(Template)]
#[template(path = "email/suspended.txt")]
pub struct Suspended {
    pub clinic_name: String,
    pub reason: String,
}
email!(
    Suspended,
    SuspendedHtml,
    "email/suspended.html",
    "Your clinic has been suspended"
);

/// The clinic was reactivated.
#[derive(Template)]
#[template(path = "email/reactivated.txt")]
pub struct Reactivated {
    pub clinic_name: String,
}
email!(
    Reactivated,
    ReactivatedHtml,
    "email/reactivated.html",
    "Your clinic has been reactivated"
);

/// A new member of staff gets the set-up link.
#[derive(Template)]
#[template(path = "email/invite.txt")]
pub struct Invite {
    /// The role's label.
    pub role: String,
    pub link: String,
}
email!(Invite, InviteHtml, "email/invite.html", "Your Velum account");

/// An invitation ran into an account of another clinic.
#[derive(Template)]
#[template(path = "email/invite_elsewhere.txt")]
pub struct InviteElsewhere;
email!(
    InviteElsewhere,
    InviteElsewhereHtml,
    "email/invite_elsewhere.html",
    "Someone tried to invite you to Velum"
);

/// Another member of staff reset this account's two-step sign-in.
#[derive(Template)]
#[template(path = "email/totp_reset.txt")]
pub struct TotpReset;
email!(
    TotpReset,
    TotpResetHtml,
    "email/totp_reset.html",
    "Your Velum two-step sign-in was reset"
);

/// Render `email` to `to`, both parts.
///
/// # Errors
/// `Internal` if a template fails to render.
pub fn render(to: &str, email: &impl Email) -> Result<Mail, AppError> {
    let failed = |_| AppError::Internal("an email template failed to render".into());
    Ok(Mail {
        to_addr: to.to_owned(),
        subject: email.subject(),
        body: email.render().map_err(failed)?,
        html: Some(email.html().map_err(failed)?),
    })
}

impl App {
    /// Queue `email` to `to` under `clinic` (sealed under its key), in `tx`.
    pub(crate) async fn queue_email(
        &self,
        tx: &mut Tx,
        clinic: ClinicId,
        to: &str,
        email: &impl Email,
    ) -> Result<(), AppError> {
        outbox::enqueue_mail(tx, clinic, &render(to, email)?, self.now()).await?;
        Ok(())
    }
}

/// The message to send for an opened outbox `mail`: its text part alone,
/// or text and HTML as `multipart/alternative`.
pub(crate) fn build(from: Mailbox, to: Mailbox, mail: &Mail) -> Result<lettre::Message, ()> {
    let builder = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone());
    match &mail.html {
        None => builder.body(mail.body.clone()),
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(mail.body.clone(), html.clone())),
    }
    .map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://velum.example/setup/0123456789abcdef";

    fn check(email: &impl Email, expect: &[&str]) {
        let mail = render("someone@example.org", email).unwrap();
        let html = mail.html.as_deref().unwrap();
        assert!(!mail.subject.is_empty());
        assert!(html.starts_with("<!doctype html>") && html.contains(&format!("<title>{}</title>", mail.subject)));
        for text in expect {
            assert!(mail.body.contains(text), "text part lacks {text:?}: {}", mail.body);
            assert!(html.contains(text), "HTML part lacks {text:?}: {html}");
        }
        let message = build(
            "Velum <velum@test.example>".parse().unwrap(),
            "someone@example.org".parse().unwrap(),
            &mail,
        )
        .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(
            raw.contains("multipart/alternative") && raw.contains("text/html"),
            "{raw}"
        );
    }

    #[test]
    fn every_email_renders_both_parts() {
        check(
            &ClinicCreated {
                clinic_name: "Bramley Aesthetics".into(),
                link: LINK.into(),
            },
            &["Bramley Aesthetics", LINK, "within 72 hours"],
        );
        check(
            &Guessing {
                attempts: 10,
                minutes: 15,
            },
            &["10 times in the last 15 minutes"],
        );
        check(&RecoveryCodeUsed { left: 7 }, &["7 of your recovery codes are left"]);
        check(&PasswordReset { link: LINK.into() }, &[LINK, "within the hour"]);
        check(
            &SignedHead {
                seq: 42,
                signed_at: "2026-11-30T01:00:00Z".into(),
                head: "velum-audit-head v1\nseq 42\n".into(),
            },
            &[
                "event 42 as it stood on 2026-11-30T01:00:00Z",
                "-----BEGIN VELUM AUDIT HEAD-----",
            ],
        );
        check(
            &LeaveRequested {
                clinic_name: "Bramley".into(),
                reason: "moving to another provider".into(),
            },
            &["The owner of Bramley", "Reason given: moving to another provider"],
        );
        check(
            &OffboardingApproved {
                clinic_name: "Bramley".into(),
                reason: "contract ended".into(),
            },
            &["approved offboarding Bramley", "Reason given: contract ended"],
        );
        for archived in [true, false] {
            let sha = "ab".repeat(32);
            let line = if archived {
                "An archive of all"
            } else {
                "no archive was made"
            };
            check(
                &Offboarded {
                    clinic_name: "Bramley".into(),
                    reason: "contract ended".into(),
                    archived,
                    certificate_sha256: sha.clone(),
                },
                &["Bramley has been offboarded", line, &sha],
            );
        }
        check(
            &Suspended {
                clinic_name: "Bramley".into(),
                reason: "unpaid invoices".into(),
            },
            &["has suspended Bramley", "Reason given: unpaid invoices"],
        );
        check(
            &Reactivated {
                clinic_name: "Bramley".into(),
            },
            &["has reactivated Bramley"],
        );
        check(
            &Invite {
                role: "Practitioner".into(),
                link: LINK.into(),
            },
            &["invited to Velum as Practitioner", LINK],
        );
        check(&InviteElsewhere, &["tried to invite this email address"]);
        check(&TotpReset, &["reset two-step sign-in on your Velum account"]);
    }

    #[test]
    fn the_html_part_escapes_what_it_is_given() {
        let mail = render(
            "someone@example.org",
            &Suspended {
                clinic_name: "<b>Bramley</b>".into(),
                reason: "a & b".into(),
            },
        )
        .unwrap();
        let html = mail.html.unwrap();
        assert!(
            html.contains("&#60;b&#62;Bramley") || html.contains("&lt;b&gt;Bramley"),
            "{html}"
        );
        assert!(!html.contains("<b>Bramley"));
        assert!(mail.body.contains("<b>Bramley</b>"), "the text part is plain text");
    }
}
