//! Staff sign-in, two-step verification (TOTP), sessions, sign-out, set-up
//! and password reset (DOMAIN F37; ASVS 5.0 6.x and 7.x).
//!
//! Every answer to a failed sign-in is the same `BadCredentials`, whatever
//! was wrong (unknown email, wrong password, wrong code, locked, disabled);
//! the audit trail records the real reason. The one exception comes only
//! after a correct password: a suspended clinic is answered
//! `ClinicSuspended`, so its staff know to call their provider.

use jiff::{SignedDuration, Timestamp};
use velum_core::actor::Purpose;
use velum_core::audit::{AuditAction, NewAuditEvent};
pub use velum_core::link::LinkPurpose;
use velum_core::{Actor, ClinicId, Role, StaffId};
use velum_crypto::{Aad, token};
use velum_store::staff::StaffRow;
use velum_store::{ClinicScope, throttle};

use crate::{AppError, platform_event};

mod attempts;
mod passwords;
mod recovery_codes;
mod session;
mod sign_in;
mod totp;

/// A session or link token as presented: the clinic it names and the hash
/// that is stored. Tokens name their clinic so that their tables are keyed
/// by clinic first, like every other table of clinic data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenRef {
    pub(crate) clinic: ClinicId,
    pub(crate) hash: [u8; 32],
}

impl TokenRef {
    /// A new token for `clinic`: the text to hand out, and its reference.
    fn issue(clinic: ClinicId) -> (String, TokenRef) {
        let (text, hash) = token::new_owned_token(*clinic.as_uuid().as_bytes());
        (text, TokenRef { clinic, hash })
    }

    /// `None` for text that is not a Velum token (so, no session or link).
    pub(crate) fn parse(text: &str) -> Option<TokenRef> {
        let (clinic, hash) = token::parse_owned_token(text)?;
        Some(TokenRef {
            clinic: ClinicId::from_uuid(uuid::Uuid::from_bytes(clinic)),
            hash,
        })
    }

    pub(crate) fn scope(&self) -> ClinicScope {
        crate::visitor_scope(self.clinic)
    }
}

/// Sessions end after 30 minutes without use (ASVS 7.3.1)...
pub const IDLE_TIMEOUT: SignedDuration = SignedDuration::from_mins(30);
/// ...and 12 hours after sign-in whatever happens (ASVS 7.3.2).
pub const ABSOLUTE_TIMEOUT: SignedDuration = SignedDuration::from_hours(12);
/// Between the password and the code, or during TOTP set-up.
pub const PENDING_TIMEOUT: SignedDuration = SignedDuration::from_mins(10);
/// Every attempt counter (per source, per account, per account from one
/// source) counts in a fixed window of this length, from its first count.
pub const THROTTLE_WINDOW: SignedDuration = SignedDuration::from_mins(15);
/// Attempts at one account from one source in a window; past this, that
/// source is locked out of that account (429) until the window ends. Other
/// sources are not affected, so guessing cannot lock the real user out.
pub const LOCK_AFTER: i64 = 10;
/// Attempts from one source, at any accounts, in a window; past this, every
/// sign-in from it is refused (429) until the window ends. Successful
/// sign-ins are taken back off this count.
pub const SOURCE_LIMIT: i64 = 30;
/// Failures at one account, from anywhere, in a window before its attempts
/// are slowed down (by `SLOW_STEP` per further failure, up to `SLOW_MAX`).
/// The account-wide count only ever delays; it never refuses.
pub const SLOW_AFTER: i64 = 5;
pub const SLOW_STEP: std::time::Duration = std::time::Duration::from_millis(250);
pub const SLOW_MAX: std::time::Duration = std::time::Duration::from_secs(3);
/// Password-reset requests from one source in a window before they are
/// refused (429).
pub const RESET_SOURCE_LIMIT: i64 = 5;
/// Password-reset requests for one email in a window that are acted on;
/// later ones get the same answer but send nothing.
pub const RESET_ACCOUNT_LIMIT: i64 = 3;
/// Wrong current passwords (in a window) on the change-password form before
/// every session of the account is ended.
pub const CHANGE_PASSWORD_LIMIT: i64 = 5;

/// An empty current-password field, told apart from a wrong password.
const EMPTY_CURRENT_PASSWORD: &str = "is empty. Enter your current password";
pub const SETUP_LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(72);
pub const RESET_LINK_LIFETIME: SignedDuration = SignedDuration::from_hours(1);
/// A session is marked as used at most this often (a write per request
/// would serialise every page view), so the idle timeout counts from a use
/// at most this much before the last one: it holds to within a minute.
const TOUCH_EVERY: SignedDuration = SignedDuration::from_mins(1);

/// Which step a session is at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Password accepted; the TOTP code is next.
    Totp,
    /// Password accepted; TOTP must be set up first.
    Enrol,
    /// Fully signed in.
    Full,
}

impl Stage {
    const fn as_str(self) -> &'static str {
        match self {
            Stage::Totp => "totp",
            Stage::Enrol => "enrol",
            Stage::Full => "full",
        }
    }

    fn parse(s: &str) -> Option<Stage> {
        match s {
            "totp" => Some(Stage::Totp),
            "enrol" => Some(Stage::Enrol),
            "full" => Some(Stage::Full),
            _ => None,
        }
    }
}

/// A new session token. Give it to the browser (cookie) or API client.
#[derive(Clone)]
pub struct IssuedSession {
    pub token: String,
    pub stage: Stage,
    pub expires_at: Timestamp,
    /// New recovery codes, to show once: only when TOTP set-up was just
    /// confirmed.
    pub recovery_codes: Vec<String>,
    /// When this sign-in used a recovery code: how many are left.
    pub recovery_codes_left: Option<i64>,
}

/// Redacted: the token and any recovery codes are secrets (G4).
impl std::fmt::Debug for IssuedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedSession")
            .field("token", &"<redacted>")
            .field("stage", &self.stage)
            .field("expires_at", &self.expires_at)
            .field(
                "recovery_codes",
                &format_args!("<{} redacted>", self.recovery_codes.len()),
            )
            .field("recovery_codes_left", &self.recovery_codes_left)
            .finish()
    }
}

/// What the second step of a sign-in was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SecondFactor {
    /// A wrong, replayed or used code.
    Refused,
    Totp,
    /// A recovery code, now used up; this many remain.
    Recovery {
        left: i64,
    },
}

/// A live session, as found from its token.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub stage: Stage,
    pub clinic_id: ClinicId,
    pub staff_id: StaffId,
    pub role: Role,
    pub display_name: String,
    pub csrf_token: String,
    pub expires_at: Timestamp,
    /// The clinic's time zone, in which pages show times.
    pub time_zone: velum_core::settings::ClinicTimeZone,
    /// An operator's live support visit inside a clinic.
    pub support: Option<crate::platform::SupportVisit>,
}

impl SessionInfo {
    /// The actor for a fully signed-in session: staff in their clinic; an
    /// operator as an operator, or on a support visit as staff of the
    /// visited clinic with the `Support` role.
    #[must_use]
    pub fn actor(&self, source: Option<std::net::IpAddr>) -> Option<Actor> {
        let (clinic_id, role) = match &self.support {
            Some(v) => (v.clinic_id, Role::Support),
            None => (self.clinic_id, self.role),
        };
        let actor = if role == Role::Operator {
            Actor::Operator(velum_core::actor::OperatorActor {
                staff_id: self.staff_id,
                home: clinic_id,
                source,
            })
        } else {
            Actor::Staff(velum_core::StaffActor {
                staff_id: self.staff_id,
                clinic_id,
                role,
                source,
            })
        };
        (self.stage == Stage::Full).then_some(actor)
    }
}

/// What the TOTP set-up page shows.
#[derive(Clone, Debug)]
pub struct Enrolment {
    pub secret_base32: String,
    pub otpauth_uri: String,
    pub qr_svg: String,
}

pub(crate) fn totp_aad(clinic: ClinicId, staff: StaffId) -> Aad {
    Aad::record("staff.totp", &[clinic.as_uuid(), staff.as_uuid()])
}

/// A set-up secret belongs to one session: its associated data names the
/// session (the first half of its token's hash) as well as the account.
fn pending_totp_aad(tref: &TokenRef, staff: StaffId) -> Aad {
    let mut session = [0u8; 16];
    session.copy_from_slice(&tref.hash[..16]);
    Aad::record(
        "session.totp_pending",
        &[tref.clinic.as_uuid(), staff.as_uuid(), uuid::Uuid::from_bytes(session)],
    )
}

fn wrong_enrolment_code() -> AppError {
    AppError::field(
        "code",
        "does not match; check the time on your phone and try the newest code",
    )
}

fn unix_seconds(t: Timestamp) -> u64 {
    u64::try_from(t.as_second()).unwrap_or(0)
}

fn staff_event(s: &StaffRow, action: AuditAction, source: Option<&str>, detail: Option<&str>) -> NewAuditEvent {
    NewAuditEvent {
        clinic_id: s.clinic_id,
        actor_kind: if s.role == Role::Operator {
            velum_core::ActorKind::Operator
        } else {
            velum_core::ActorKind::Staff
        },
        actor_id: Some(s.id),
        client_id: None,
        sections: Vec::new(),
        action,
        purpose: Purpose::Security,
        source: source.map(str::to_owned),
        detail: detail.map(str::to_owned),
    }
}

/// The throttle key of a source address: the address itself, or for IPv6
/// its /64 (one host usually holds a whole /64).
fn source_key(source: &str) -> String {
    match source.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
        Ok(ip) => ip.to_string(),
        Err(_) => source.to_owned(),
    }
}

/// The throttle key of an account: a hash of the email as typed
/// (normalised), so unknown emails are counted exactly like known ones and
/// no email is stored in the counters.
fn account_key(email: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("velum-throttle:{}", email.trim().to_lowercase()));
    hex::encode(&digest[..16])
}

fn window_micros() -> i64 {
    i64::try_from(THROTTLE_WINDOW.as_micros()).unwrap_or(i64::MAX)
}

/// The job name recorded for a failed sign-in that names no account (no
/// account, so nobody to record as the actor).
const SIGN_IN_JOB: &str = "sign_in";
/// The job name recorded for the throttle's summary of failed sign-ins
/// with unknown emails.
const SIGN_IN_THROTTLE_JOB: &str = "sign_in_throttle";

/// The platform-chain event that sums up one source's failed sign-ins
/// with unknown emails in one window.
fn anonymous_summary(source: &str, window: throttle::Counter) -> NewAuditEvent {
    platform_event(
        SIGN_IN_THROTTLE_JOB,
        AuditAction::SignInFailed,
        Some(source.to_owned()),
        Some(format!(
            "unknown_account count:{} window_start:{} window_minutes:{}",
            window.count,
            window.window_start,
            THROTTLE_WINDOW.as_mins()
        )),
    )
}

/// One attempt let through [`App::admit`], counted in advance against its
/// source and its account from that source.
#[derive(Debug)]
pub(crate) struct Attempt {
    /// `src:<source>`, when the source is known.
    source: Option<String>,
    /// `pair:<account>:<source>`, when the source is known.
    pair: Option<String>,
    /// `acct:<account>`.
    account: String,
    /// The account-from-source count including this attempt.
    pair_count: i64,
    /// This attempt's place among the sign-ins in progress, held until
    /// the attempt is dropped.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

#[cfg(test)]
mod issued_session_tests {
    use super::*;

    /// G4: formatting a new session shows neither its token nor its
    /// recovery codes.
    #[test]
    fn debug_hides_the_token_and_the_recovery_codes() {
        let s = IssuedSession {
            token: "canary-token-secret".into(),
            stage: Stage::Full,
            expires_at: Timestamp::UNIX_EPOCH,
            recovery_codes: vec!["canary-code-aaaa".into()],
            recovery_codes_left: Some(3),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("<1 redacted>"), "{shown}");
    }
}
