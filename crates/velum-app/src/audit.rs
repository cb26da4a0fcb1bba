//! The clinic's audit trail, for owners, managers and auditors: who did
//! what to which record, when, from where and why. Never a clinical value.
//! Reading the trail is itself recorded.

use jiff::{SignedDuration, Timestamp};
use velum_core::audit::AuditAction;
use velum_core::{Actor, ClinicId};
use velum_crypto::chain::verify_head_signature;
use velum_store::audit::Head;

pub use velum_store::audit::UpgradeReport;

use crate::clients::{PAGE_SIZE, Page, parse_cursor};
use crate::{App, AppError, event};

/// One event of a clinic's trail, for the audit page and the API (the
/// app's own view: the web layer never sees a store type).
#[derive(Clone, Debug)]
pub struct TrailEntry {
    pub seq: i64,
    pub at: jiff::Timestamp,
    /// `None` for events recorded before the kind was.
    pub actor_kind: Option<velum_core::ActorKind>,
    pub actor_id: Option<velum_core::StaffId>,
    pub actor_name: Option<String>,
    pub client_id: Option<velum_core::ClientId>,
    pub client_name: Option<String>,
    pub action: AuditAction,
    pub sections: Vec<velum_core::Section>,
    pub purpose: String,
    pub source: Option<String>,
    pub detail: Option<String>,
}

impl From<velum_store::audit::TrailEntry> for TrailEntry {
    fn from(e: velum_store::audit::TrailEntry) -> Self {
        Self {
            seq: e.seq,
            at: e.at,
            actor_kind: e.actor_kind,
            actor_id: e.actor_id,
            actor_name: e.actor_name,
            client_id: e.client_id,
            client_name: e.client_name,
            action: e.action,
            sections: e.sections,
            purpose: e.purpose,
            source: e.source,
            detail: e.detail,
        }
    }
}

impl App {
    /// A page of the clinic's audit trail, newest first.
    ///
    /// # Errors
    /// `Forbidden` for roles other than owner, manager and auditor; a field
    /// error on a bad `cursor`.
    pub async fn audit_trail(&self, actor: &Actor, cursor: Option<&str>) -> Result<Page<TrailEntry>, AppError> {
        let actor = &self.staff_of(actor).await?;
        if !actor.role.may_read_audit() {
            return Err(self.deny(actor, None, &[], "read_audit").await);
        }
        let before = parse_cursor::<i64>(cursor)?;
        let scope = actor.scope();
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            event(actor, AuditAction::Read, None, &[], Some("audit_trail".into())),
        )
        .await?;
        let items = velum_store::audit::clinic_trail(&mut tx, &scope, before, PAGE_SIZE + 1).await?;
        tx.commit().await?;
        let items = items.into_iter().map(TrailEntry::from).collect();
        Ok(Page::cut(items, |e| e.seq.to_string()))
    }

    /// Re-link every audit chain that still ends in a plain SHA-256 (v1)
    /// link under the installation's key (`velum audit upgrade`), recording
    /// an "audit chain upgraded" event in each. Chains that do not verify
    /// are left as they are and reported.
    ///
    /// # Errors
    /// Database errors.
    pub async fn upgrade_audit_chains(&self) -> Result<UpgradeReport, AppError> {
        let mut tx = self.begin().await?;
        let report = velum_store::audit::upgrade_chains(&mut tx, self.now()).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// The upgrade migration 0009 asks for, done once on the first start
    /// after it (the marker it left is cleared in the same transaction).
    /// Later starts never upgrade on their own: a chain that ends in a v1
    /// link then fails verification until an operator runs
    /// `velum audit upgrade`.
    pub(crate) async fn upgrade_audit_chains_once(&self) -> Result<(), AppError> {
        let mut tx = self.begin().await?;
        if !velum_store::audit::chain_upgrade_pending(&mut tx).await? {
            return Ok(());
        }
        let report = velum_store::audit::upgrade_chains(&mut tx, self.now()).await?;
        tx.commit().await?;
        for b in &report.broken {
            tracing::warn!(
                clinic = %b.clinic_id,
                seq = b.seq,
                reason = b.reason,
                "audit chain does not verify; left unkeyed (velum audit verify names it)"
            );
        }
        if !report.upgraded.is_empty() {
            tracing::info!(
                chains = report.upgraded.len(),
                "audit chains re-linked under the key (v2)"
            );
        }
        Ok(())
    }
}

/// The format tag of a signed head document. Never change what a document
/// of this format holds or how it is laid out: heads kept elsewhere are
/// checked against it.
pub const HEAD_FORMAT: &str = "velum.audit-head/v1";

/// The first line of a signed head document.
const HEAD_TITLE: &str = "Velum signed audit chain head";

/// How often the background worker mails each clinic's owners its head.
pub const HEAD_MAIL_EVERY: SignedDuration = SignedDuration::from_hours(7 * 24);

/// A chain's head, signed with the installation's Ed25519 head key (derived
/// from the master key), to be kept where the database administrator cannot
/// write. As text ([`SignedHead::to_text`]):
///
/// ```text
/// Velum signed audit chain head
/// format: velum.audit-head/v1
/// clinic: <clinic id>
/// seq: <the head event's number>
/// link: <its link, 64 lower-case hex digits>
/// link-version: 2
/// event-at: <the head event's time, RFC 3339 UTC>
/// signed-at: <when this was signed, RFC 3339 UTC>
/// public-key: ed25519:<64 hex digits>
/// signature: ed25519:<128 hex digits>
/// ```
///
/// The signature covers every byte before the `signature:` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHead {
    pub clinic_id: ClinicId,
    pub seq: i64,
    pub link: [u8; 32],
    pub link_version: i64,
    pub event_at: Timestamp,
    pub signed_at: Timestamp,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

/// Why a signed head does not hold. One line each, no personal data.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("not a Velum signed audit head: {0}")]
    Malformed(&'static str),
    #[error("the head was signed by another installation's key (public key {theirs}), not by this one's ({ours})")]
    OtherInstallation { theirs: String, ours: String },
    #[error("the head's signature does not verify: the file was altered")]
    BadSignature,
    #[error(
        "clinic {clinic}'s audit chain no longer holds event #{seq} with the signed link: the chain was rewritten or cut back"
    )]
    NotInChain { clinic: ClinicId, seq: i64 },
}

/// Exactly `N` bytes from lower-case hex.
fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

impl SignedHead {
    /// The bytes the signature covers.
    fn signed_part(&self) -> String {
        format!(
            "{HEAD_TITLE}\nformat: {HEAD_FORMAT}\nclinic: {}\nseq: {}\nlink: {}\nlink-version: {}\nevent-at: {}\nsigned-at: {}\npublic-key: {}\n",
            self.clinic_id,
            self.seq,
            self.link_hex(),
            self.link_version,
            self.event_at,
            self.signed_at,
            self.public_key_text(),
        )
    }

    /// The link as the document writes it: 64 lower-case hex digits.
    #[must_use]
    pub fn link_hex(&self) -> String {
        hex::encode(self.link)
    }

    /// The public key as the document writes it: `ed25519:` and 64 hex digits.
    #[must_use]
    pub fn public_key_text(&self) -> String {
        format!("ed25519:{}", hex::encode(self.public_key))
    }

    /// The signature as the document writes it: `ed25519:` and 128 hex digits.
    #[must_use]
    pub fn signature_text(&self) -> String {
        format!("ed25519:{}", hex::encode(self.signature))
    }

    /// The document, as `velum audit head` prints it.
    #[must_use]
    pub fn to_text(&self) -> String {
        format!("{}signature: {}\n", self.signed_part(), self.signature_text())
    }

    /// Read a document written by [`SignedHead::to_text`]. Line endings may
    /// have become CRLF and white space may surround it (as after a trip
    /// through email); any other difference from what Velum writes is
    /// refused. The signature is not checked here.
    ///
    /// # Errors
    /// [`HeadError::Malformed`] naming the first line that does not read.
    pub fn parse(text: &str) -> Result<SignedHead, HeadError> {
        let text = text.replace("\r\n", "\n");
        let text = format!("{}\n", text.trim());
        let mut lines = text.lines();
        if lines.next() != Some(HEAD_TITLE) {
            return Err(HeadError::Malformed("the first line is not the title"));
        }
        let mut field = |name: &'static str| {
            lines
                .next()
                .and_then(|l| l.strip_prefix(name))
                .and_then(|l| l.strip_prefix(": "))
                .ok_or(HeadError::Malformed(name))
        };
        if field("format")? != HEAD_FORMAT {
            return Err(HeadError::Malformed("format"));
        }
        let clinic_id = field("clinic")?.parse().map_err(|_| HeadError::Malformed("clinic"))?;
        let seq = field("seq")?.parse().map_err(|_| HeadError::Malformed("seq"))?;
        let link = from_hex(field("link")?).ok_or(HeadError::Malformed("link"))?;
        let link_version = field("link-version")?
            .parse()
            .map_err(|_| HeadError::Malformed("link-version"))?;
        let event_at = field("event-at")?
            .parse()
            .map_err(|_| HeadError::Malformed("event-at"))?;
        let signed_at = field("signed-at")?
            .parse()
            .map_err(|_| HeadError::Malformed("signed-at"))?;
        let public_key = field("public-key")?
            .strip_prefix("ed25519:")
            .and_then(from_hex)
            .ok_or(HeadError::Malformed("public-key"))?;
        let signature = field("signature")?
            .strip_prefix("ed25519:")
            .and_then(from_hex)
            .ok_or(HeadError::Malformed("signature"))?;
        let head = SignedHead {
            clinic_id,
            seq,
            link,
            link_version,
            event_at,
            signed_at,
            public_key,
            signature,
        };
        if head.to_text() != text {
            return Err(HeadError::Malformed("it is not laid out as Velum writes it"));
        }
        Ok(head)
    }
}

impl App {
    fn sign_head(&self, clinic: ClinicId, head: &Head) -> SignedHead {
        let key = self.master().audit_head_signing_key();
        let mut signed = SignedHead {
            clinic_id: clinic,
            seq: head.seq,
            link: head.link,
            link_version: head.link_version,
            event_at: head.at,
            signed_at: self.now(),
            public_key: key.public_key(),
            signature: [0; 64],
        };
        signed.signature = key.sign(signed.signed_part().as_bytes());
        signed
    }

    /// The clinic chain's current head, signed (`velum audit head`, run by
    /// the operator at the console).
    ///
    /// # Errors
    /// `NotFound` when the clinic has no chain here.
    pub async fn signed_head(&self, clinic: ClinicId) -> Result<SignedHead, AppError> {
        let mut tx = self.store().begin_read().await?;
        let head = velum_store::audit::head(&mut tx, &crate::job_scope("audit_head", clinic))
            .await?
            .ok_or(AppError::NotFound)?;
        Ok(self.sign_head(clinic, &head))
    }

    /// The actor's clinic's chain head, signed, for its owners, managers
    /// and auditors to keep. Reading it is recorded first, so the head
    /// handed out is that event.
    ///
    /// # Errors
    /// `Forbidden` for roles that may not read the audit trail.
    pub async fn audit_head(&self, actor: &Actor) -> Result<SignedHead, AppError> {
        let actor = &self.staff_of(actor).await?;
        if !actor.role.may_read_audit() {
            return Err(self.deny(actor, None, &[], "read_audit_head").await);
        }
        let mut tx = self.begin().await?;
        self.audit(
            &mut tx,
            event(actor, AuditAction::Read, None, &[], Some("audit_head".into())),
        )
        .await?;
        let head = velum_store::audit::head(&mut tx, &actor.scope())
            .await?
            .ok_or(AppError::NotFound)?;
        tx.commit().await?;
        Ok(self.sign_head(actor.clinic_id, &head))
    }

    /// Check a signed head document against this installation (`velum
    /// audit verify --against FILE`): it reads, it was signed by this
    /// installation's head key (derived from this master key), the
    /// signature holds, and the clinic's chain still holds that event with
    /// that link. (Whether the chain itself verifies is
    /// [`App::verify_audit`]'s part.)
    ///
    /// # Errors
    /// Database errors; the inner `Err` says why the head does not hold.
    pub async fn check_signed_head(&self, text: &str) -> Result<Result<SignedHead, HeadError>, AppError> {
        let head = match SignedHead::parse(text) {
            Ok(h) => h,
            Err(e) => return Ok(Err(e)),
        };
        let ours = self.master().audit_head_signing_key().public_key();
        if head.public_key != ours {
            return Ok(Err(HeadError::OtherInstallation {
                theirs: hex::encode(head.public_key),
                ours: hex::encode(ours),
            }));
        }
        if !verify_head_signature(&ours, head.signed_part().as_bytes(), &head.signature) {
            return Ok(Err(HeadError::BadSignature));
        }
        let mut tx = self.store().begin_read().await?;
        let stored =
            velum_store::audit::link_at(&mut tx, &crate::job_scope("audit_head_check", head.clinic_id), head.seq)
                .await?;
        if stored.as_deref() != Some(head.link.as_slice()) {
            return Ok(Err(HeadError::NotInChain {
                clinic: head.clinic_id,
                seq: head.seq,
            }));
        }
        Ok(Ok(head))
    }

    /// Mail each clinic's owners its signed head when the last one went
    /// out [`HEAD_MAIL_EVERY`] ago or more (or never), through the outbox;
    /// only when SMTP is configured. When it was sent is recorded in the
    /// same transaction, so a restart does not send it again, and two
    /// servers do not both send it. Returns the messages queued.
    ///
    /// # Errors
    /// Database errors.
    pub async fn mail_signed_heads(&self) -> Result<usize, AppError> {
        if self.settings().smtp.is_none() {
            return Ok(0);
        }
        let now = self.now();
        let cutoff = now
            .checked_sub(HEAD_MAIL_EVERY)
            .map_err(|_| AppError::Internal("clock out of range".into()))?;
        let due = {
            let mut tx = self.store().begin_read().await?;
            velum_store::audit::heads_due_for_mail(&mut tx, cutoff).await?
        };
        let mut queued = 0;
        for clinic in due {
            let scope = crate::job_scope("audit_head_mail", clinic);
            let mut tx = self.begin().await?;
            let Some(head) = velum_store::audit::head(&mut tx, &scope).await? else {
                continue;
            };
            let owners = velum_store::audit::owner_emails(&mut tx, &scope).await?;
            if owners.is_empty() || !velum_store::audit::claim_head_mail(&mut tx, &scope, cutoff, now).await? {
                continue;
            }
            let signed = self.sign_head(clinic, &head);
            let email = crate::email::SignedHead {
                seq: signed.seq,
                signed_at: signed.signed_at.to_string(),
                head: signed.to_text(),
            };
            for to in &owners {
                self.queue_email(&mut tx, clinic, to, &email).await?;
            }
            tx.commit().await?;
            queued += owners.len();
        }
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> SignedHead {
        let key = velum_crypto::MasterKey::from_bytes(&[3; 32])
            .unwrap()
            .audit_head_signing_key();
        let mut h = SignedHead {
            clinic_id: ClinicId::from_uuid(uuid::Uuid::from_u128(0xabc)),
            seq: 42,
            link: [0xa5; 32],
            link_version: 2,
            event_at: Timestamp::from_microsecond(1_800_000_000_123_456).unwrap(),
            signed_at: Timestamp::from_second(1_800_000_100).unwrap(),
            public_key: key.public_key(),
            signature: [0; 64],
        };
        h.signature = key.sign(h.signed_part().as_bytes());
        h
    }

    #[test]
    fn a_head_document_reads_back_exactly_and_nothing_else_does() {
        let h = head();
        let text = h.to_text();
        assert_eq!(SignedHead::parse(&text), Ok(h.clone()));
        assert!(verify_head_signature(
            &h.public_key,
            h.signed_part().as_bytes(),
            &h.signature
        ));
        // As it may come back from an email: CRLF, surrounding white space.
        let mailed = format!("\r\n  {}  \r\n", text.replace('\n', "\r\n"));
        assert_eq!(SignedHead::parse(&mailed), Ok(h));
        for (bad, why) in [
            (text.replace("link: a5", "link: A5"), "link"),
            (
                text.replace("seq: 42", "seq: 042"),
                "it is not laid out as Velum writes it",
            ),
            (text.replace("seq: 42\n", "seq: 42\nextra: 1\n"), "link"),
            (text.replace("format: velum.audit-head/v1", "format: v2"), "format"),
            (text.replacen("Velum", "velum", 1), "the first line is not the title"),
            (text.replace("signature: ed25519:", "signature: "), "signature"),
        ] {
            assert_eq!(SignedHead::parse(&bad), Err(HeadError::Malformed(why)), "{bad}");
        }
    }
}
