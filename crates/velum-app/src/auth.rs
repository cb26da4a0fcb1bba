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
use velum_core::client::FieldErrors;
pub use velum_core::link::LinkPurpose;
use velum_core::text::PersonName;
use velum_core::{Actor, ClinicId, Role, StaffId};
use velum_crypto::{Aad, TotpSecret, password, recovery, token};
use velum_store::staff::StaffRow;
use velum_store::{ClinicScope, Tx, clinics, sessions, staff, throttle};

use crate::{App, AppError, platform_event};

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
/// would serialise every page view).
const TOUCH_EVERY: SignedDuration = SignedDuration::from_secs(15);

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

impl App {
    /// Let an attempt at `email` from `source` through, or refuse it. The
    /// attempt is counted before anything is checked, so guesses sent in
    /// parallel each see the ones before them: past [`LOCK_AFTER`] attempts
    /// at this account from this source, or [`SOURCE_LIMIT`] from this
    /// source, the answer is `TooManyAttempts` until the window ends. Past
    /// [`SLOW_AFTER`] failures at the account from anywhere, the attempt
    /// waits a little (never refused: that would let anyone lock the real
    /// user out).
    ///
    /// At most [`crate::SIGN_INS_IN_PROGRESS_PER_CORE`] per core attempts are
    /// in progress at once in this process; past that, the answer is
    /// `TooManyAttempts` (retry after a second) before anything else, so a
    /// flood of sign-ins cannot hold unbounded memory while it waits for
    /// Argon2.
    pub(crate) async fn admit(&self, email: &str, source: Option<&str>) -> Result<Attempt, AppError> {
        let slot = self
            .sign_in_slot()
            .ok_or(AppError::TooManyAttempts { retry_after_secs: 1 })?;
        let now = self.now();
        let account = account_key(email);
        let mut attempt = Attempt {
            _slot: slot,
            source: None,
            pair: None,
            account: format!("acct:{account}"),
            pair_count: 0,
        };
        let mut tx = self.begin().await?;
        let mut refuse = None;
        if let Some(src) = source.map(source_key) {
            let by_source = throttle::hit(&mut tx, &format!("src:{src}"), now, window_micros()).await?;
            let pair_key = format!("pair:{account}:{src}");
            let by_pair = throttle::hit(&mut tx, &pair_key, now, window_micros()).await?;
            attempt.source = Some(format!("src:{src}"));
            attempt.pair = Some(pair_key);
            attempt.pair_count = by_pair.count;
            if by_pair.count > LOCK_AFTER {
                refuse = Some(by_pair);
            } else if by_source.count > SOURCE_LIMIT {
                refuse = Some(by_source);
            }
        }
        let failures = throttle::peek(&mut tx, &attempt.account, now, window_micros())
            .await?
            .map_or(0, |c| c.count);
        tx.commit().await?;
        if let Some(c) = refuse {
            let ends = c.window_start.saturating_add(THROTTLE_WINDOW).unwrap_or(now);
            let secs = ends.duration_since(now).as_secs().max(1);
            return Err(AppError::TooManyAttempts {
                retry_after_secs: u64::try_from(secs).unwrap_or(1),
            });
        }
        if failures > SLOW_AFTER {
            let steps = u32::try_from(failures - SLOW_AFTER).unwrap_or(u32::MAX);
            tokio::time::sleep(SLOW_STEP.saturating_mul(steps).min(SLOW_MAX)).await;
        }
        Ok(attempt)
    }

    /// A correct password or a completed sign-in: take the attempt back
    /// off its source's count, and when `done`, forget this source's
    /// attempts at the account.
    pub(crate) async fn release(&self, tx: &mut Tx, attempt: &Attempt, done: bool) -> Result<(), AppError> {
        if let Some(src) = &attempt.source {
            throttle::forgive(tx, src).await?;
        }
        if done && let Some(pair) = &attempt.pair {
            throttle::clear(tx, pair).await?;
        }
        Ok(())
    }

    /// Record a failed attempt: count it against the account (which only
    /// slows further attempts), audit it (and the lock of this source out of
    /// the account when it is reached), email the account holder once per
    /// window when their account is being guessed at, commit, and answer
    /// `BadCredentials`.
    pub(crate) async fn fail(
        &self,
        mut tx: Tx,
        account: Option<&StaffRow>,
        attempt: Option<&Attempt>,
        source: Option<&str>,
        reason: &str,
    ) -> AppError {
        let result: Result<(), AppError> = async {
            let now = self.now();
            let failures = match attempt {
                Some(a) => throttle::hit(&mut tx, &a.account, now, window_micros()).await?.count,
                None => 0,
            };
            match account {
                Some(s) => {
                    self.audit(&mut tx, staff_event(s, AuditAction::SignInFailed, source, Some(reason)))
                        .await?;
                    if attempt.is_some_and(|a| a.pair_count == LOCK_AFTER) {
                        self.audit(
                            &mut tx,
                            staff_event(s, AuditAction::AccountLocked, source, Some("source_locked_out")),
                        )
                        .await?;
                    }
                    // A disabled account has no one to warn (and its
                    // holder may have left the clinic).
                    if failures == LOCK_AFTER && !s.disabled {
                        self.warn_holder(&mut tx, s).await?;
                    }
                }
                // No account: the platform's chain gets one summary event per
                // source and window, written when the window has ended (here,
                // at the source's next failure, or by the background worker).
                None => match source.map(source_key) {
                    Some(src) => {
                        if let Some(ended) =
                            throttle::record_anonymous_failure(&mut tx, &src, now, window_micros()).await?
                        {
                            self.audit(&mut tx, anonymous_summary(&src, ended)).await?;
                        }
                    }
                    None => {
                        self.audit(
                            &mut tx,
                            platform_event(SIGN_IN_JOB, AuditAction::SignInFailed, None, Some(reason.to_owned())),
                        )
                        .await?;
                    }
                },
            }
            tx.commit().await?;
            Ok(())
        }
        .await;
        match result {
            Ok(()) => AppError::BadCredentials,
            Err(e) => e,
        }
    }

    /// Tell the account holder that their account is being guessed at (once
    /// per window: called when the account's failures reach [`LOCK_AFTER`]).
    async fn warn_holder(&self, tx: &mut Tx, s: &StaffRow) -> Result<(), AppError> {
        let email = crate::email::Guessing {
            attempts: LOCK_AFTER,
            minutes: THROTTLE_WINDOW.as_mins(),
        };
        self.queue_email(tx, s.clinic_id, &s.email, &email).await?;
        Ok(())
    }

    /// Check email and password. On success returns the account; every
    /// failure is counted, audited and answered with `BadCredentials`. A
    /// correct password for a suspended clinic is audited and answered
    /// `ClinicSuspended`.
    async fn check_password(
        &self,
        email: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<(StaffRow, Attempt), AppError> {
        let attempt = self.admit(email, source).await?;
        let email = email.trim().to_lowercase();
        let mut tx = self.store().begin_read().await?;
        let account = staff::find_for_sign_in(&mut tx, &email).await?;
        drop(tx);
        // Argon2 runs off the async threads, and runs even for unknown
        // emails so the timing does not tell which emails have accounts.
        let hash = account
            .as_ref()
            .and_then(|s| s.password_hash.clone())
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let pw = password.to_owned();
        let matches = self.argon2(move || password::verify_password(&hash, &pw)).await?;
        let mut tx = self.begin().await?;
        let Some(s) = account else {
            return Err(self.fail(tx, None, Some(&attempt), source, "unknown_account").await);
        };
        // Decide on the account as it is now, inside the write transaction:
        // guesses sent all at once each see the failures recorded before them.
        let Some(s) = staff::get(&mut tx, &crate::visitor_scope(s.clinic_id), s.id).await? else {
            return Err(self.fail(tx, None, Some(&attempt), source, "unknown_account").await);
        };
        if s.disabled {
            return Err(self.fail(tx, Some(&s), Some(&attempt), source, "disabled").await);
        }
        if s.password_hash.is_none() || !matches {
            return Err(self.fail(tx, Some(&s), Some(&attempt), source, "wrong_password").await);
        }
        let clinic = clinics::get(&mut tx, &crate::visitor_scope(s.clinic_id)).await?;
        if clinic.is_none_or(|c| !c.status.is_active()) {
            // The password was right, so this is no guess: it is audited
            // but not counted towards a lock, and the answer says why.
            self.audit(
                &mut tx,
                staff_event(&s, AuditAction::SignInFailed, source, Some("clinic_suspended")),
            )
            .await?;
            self.release(&mut tx, &attempt, true).await?;
            tx.commit().await?;
            return Err(AppError::ClinicSuspended);
        }
        drop(tx);
        Ok((s, attempt))
    }

    /// Check a TOTP code against the account's confirmed secret and use it
    /// up. `Ok(false)` for a wrong or replayed code.
    pub(crate) async fn use_totp_code(&self, tx: &mut Tx, s: &StaffRow, code: &str) -> Result<bool, AppError> {
        let Some(sealed) = &s.totp_sealed else { return Ok(false) };
        let scope = crate::visitor_scope(s.clinic_id);
        let (_, clinic_key) = self.clinic_key(tx, &scope).await?;
        let secret = TotpSecret::from_bytes(clinic_key.open(sealed, &totp_aad(s.clinic_id, s.id))?)?;
        let Some(step) = secret.check(code.trim(), unix_seconds(self.now())) else {
            return Ok(false);
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        Ok(staff::accept_totp_step(tx, &scope, s.id, step).await?)
    }

    /// Check the second step of a sign-in: a TOTP code, or one of the
    /// account's recovery codes (told apart by their shape). A recovery code
    /// is used up, audited, and reported to the account holder by email
    /// through the outbox, all in `tx`.
    async fn use_second_factor(
        &self,
        tx: &mut Tx,
        s: &StaffRow,
        code: &str,
        source: Option<&str>,
    ) -> Result<SecondFactor, AppError> {
        let Some(code) = recovery::normalise(code) else {
            return Ok(if self.use_totp_code(tx, s, code).await? {
                SecondFactor::Totp
            } else {
                SecondFactor::Refused
            });
        };
        let scope = crate::visitor_scope(s.clinic_id);
        let hash = recovery::hash(s.clinic_id.as_uuid(), s.id.as_uuid(), &code);
        if !s.totp_confirmed || !staff::use_recovery_code(tx, &scope, s.id, &hash, self.now()).await? {
            return Ok(SecondFactor::Refused);
        }
        let left = staff::recovery_codes_left(tx, &scope, s.id).await?;
        self.audit(
            tx,
            staff_event(s, AuditAction::RecoveryCodeUsed, source, Some(&format!("left:{left}"))),
        )
        .await?;
        self.queue_email(tx, s.clinic_id, &s.email, &crate::email::RecoveryCodeUsed { left })
            .await?;
        Ok(SecondFactor::Recovery { left })
    }

    /// Make a new set of recovery codes for `s` (the old ones end) and
    /// return them, to show once.
    async fn new_recovery_codes(&self, tx: &mut Tx, s: &StaffRow) -> Result<Vec<String>, AppError> {
        let codes: Vec<String> = (0..recovery::COUNT).map(|_| recovery::generate()).collect();
        let hashes: Vec<[u8; 32]> = codes
            .iter()
            .filter_map(|c| recovery::normalise(c))
            .map(|c| recovery::hash(s.clinic_id.as_uuid(), s.id.as_uuid(), &c))
            .collect();
        staff::replace_recovery_codes(tx, &crate::visitor_scope(s.clinic_id), s.id, &hashes, self.now()).await?;
        Ok(codes)
    }

    async fn issue(&self, tx: &mut Tx, s: &StaffRow, kind: &str, stage: Stage) -> Result<IssuedSession, AppError> {
        let now = self.now();
        let (token, tref) = TokenRef::issue(s.clinic_id);
        let (csrf, _) = token::new_token();
        let lifetime = if stage == Stage::Full {
            ABSOLUTE_TIMEOUT
        } else {
            PENDING_TIMEOUT
        };
        let expires_at = now.saturating_add(lifetime).unwrap_or(now);
        sessions::insert(
            tx,
            &sessions::NewSession {
                token_hash: tref.hash,
                clinic_id: s.clinic_id,
                staff_id: s.id,
                kind,
                stage: stage.as_str(),
                csrf_token: &csrf,
                now,
                expires_at,
            },
        )
        .await?;
        Ok(IssuedSession {
            token,
            stage,
            expires_at,
            recovery_codes: Vec::new(),
            recovery_codes_left: None,
        })
    }

    /// Complete a sign-in: clear failures, audit, issue the full session.
    async fn signed_in(
        &self,
        mut tx: Tx,
        s: &StaffRow,
        kind: &str,
        source: Option<&str>,
        attempt: Option<&Attempt>,
    ) -> Result<IssuedSession, AppError> {
        let scope = crate::visitor_scope(s.clinic_id);
        staff::clear_failures(&mut tx, &scope, s.id, self.now()).await?;
        if let Some(a) = attempt {
            self.release(&mut tx, a, true).await?;
        }
        self.audit(&mut tx, staff_event(s, AuditAction::SignIn, source, Some(kind)))
            .await?;
        let issued = self.issue(&mut tx, s, kind, Stage::Full).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// API sign-in: email, password and TOTP code at once. Accounts must
    /// have set up TOTP (in the web app) first.
    ///
    /// # Errors
    /// `BadCredentials` for any failure; `ClinicSuspended` after a correct
    /// password when the clinic is suspended.
    pub async fn api_sign_in(
        &self,
        email: &str,
        password: &str,
        code: &str,
        source: Option<&str>,
    ) -> Result<IssuedSession, AppError> {
        let (s, attempt) = self.check_password(email, password, source).await?;
        let mut tx = self.begin().await?;
        let s = staff::get(&mut tx, &crate::visitor_scope(s.clinic_id), s.id)
            .await?
            .ok_or(AppError::BadCredentials)?;
        let factor = if s.totp_confirmed {
            self.use_second_factor(&mut tx, &s, code, source).await?
        } else {
            SecondFactor::Refused
        };
        if factor == SecondFactor::Refused {
            return Err(self.fail(tx, Some(&s), Some(&attempt), source, "wrong_code").await);
        }
        let mut issued = self.signed_in(tx, &s, "api", source, Some(&attempt)).await?;
        if let SecondFactor::Recovery { left } = factor {
            issued.recovery_codes_left = Some(left);
        }
        Ok(issued)
    }

    /// Web sign-in, first step: email and password. Returns a short-lived
    /// pending session whose next step is the code (or TOTP set-up).
    ///
    /// # Errors
    /// `BadCredentials` for any failure; `ClinicSuspended` after a correct
    /// password when the clinic is suspended.
    pub async fn web_sign_in(
        &self,
        email: &str,
        password: &str,
        source: Option<&str>,
    ) -> Result<IssuedSession, AppError> {
        let (s, attempt) = self.check_password(email, password, source).await?;
        let mut tx = self.begin().await?;
        // The password was right: this attempt no longer counts against the
        // source (the code step is counted on its own).
        self.release(&mut tx, &attempt, false).await?;
        let stage = if s.totp_confirmed { Stage::Totp } else { Stage::Enrol };
        let issued = self.issue(&mut tx, &s, "web", stage).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// Web sign-in, second step: the code. Ends the pending session and
    /// issues a new token (ASVS 7.2.4).
    ///
    /// # Errors
    /// `Unauthenticated` without a pending session; `BadCredentials` for a
    /// wrong or replayed code.
    pub async fn web_verify_totp(
        &self,
        pending: &str,
        code: &str,
        source: Option<&str>,
    ) -> Result<IssuedSession, AppError> {
        let (tref, s) = self.pending(pending, Stage::Totp).await?;
        let attempt = self.admit(&s.email, source).await?;
        let mut tx = self.begin().await?;
        let s = staff::get(&mut tx, &crate::visitor_scope(s.clinic_id), s.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let factor = self.use_second_factor(&mut tx, &s, code, source).await?;
        if factor == SecondFactor::Refused {
            return Err(self.fail(tx, Some(&s), Some(&attempt), source, "wrong_code").await);
        }
        sessions::delete(&mut tx, &tref.scope(), &tref.hash).await?;
        let mut issued = self.signed_in(tx, &s, "web", source, Some(&attempt)).await?;
        if let SecondFactor::Recovery { left } = factor {
            issued.recovery_codes_left = Some(left);
        }
        Ok(issued)
    }

    /// The TOTP set-up page for a pending session: makes (once per session)
    /// and shows the secret. The secret is the session's own: it is kept,
    /// sealed, on the session row with associated data naming that session,
    /// so another set-up session shows (and can confirm) only its own, and
    /// an account that has confirmed a secret shows none again.
    ///
    /// # Errors
    /// `Unauthenticated` without a pending set-up session, or once the
    /// account has two-step sign-in set up.
    pub async fn web_enrolment(&self, pending: &str) -> Result<Enrolment, AppError> {
        let (tref, s) = self.pending(pending, Stage::Enrol).await?;
        if s.totp_confirmed {
            return Err(AppError::Unauthenticated);
        }
        let scope = crate::visitor_scope(s.clinic_id);
        let mut tx = self.begin().await?;
        let (_, clinic_key) = self.clinic_key(&mut tx, &scope).await?;
        let aad = pending_totp_aad(&tref, s.id);
        let sealed = match sessions::totp_pending(&mut tx, &tref.scope(), &tref.hash).await? {
            Some(sealed) => sealed,
            None => {
                let secret = TotpSecret::generate();
                let sealed = clinic_key.seal(secret.as_bytes(), &aad);
                sessions::set_totp_pending(&mut tx, &tref.scope(), &tref.hash, &sealed).await?;
                // Two requests at once: show whichever was stored first.
                sessions::totp_pending(&mut tx, &tref.scope(), &tref.hash)
                    .await?
                    .ok_or(AppError::Unauthenticated)?
            }
        };
        let secret = TotpSecret::from_bytes(clinic_key.open(&sealed, &aad)?)?;
        tx.commit().await?;
        let uri = secret.otpauth_uri("Velum", &s.email);
        Ok(Enrolment {
            secret_base32: secret.to_base32(),
            qr_svg: velum_crypto::totp::qr_svg(&uri),
            otpauth_uri: uri,
        })
    }

    /// Confirm TOTP set-up with a first code from this session's own secret,
    /// and complete the sign-in. Every other set-up session of the account
    /// ends with it.
    ///
    /// # Errors
    /// `Unauthenticated` without a pending set-up session (or when the
    /// account has confirmed a secret meanwhile); a field error on `code`
    /// for a wrong code.
    pub async fn web_confirm_enrolment(
        &self,
        pending: &str,
        code: &str,
        source: Option<&str>,
    ) -> Result<IssuedSession, AppError> {
        let (tref, s) = self.pending(pending, Stage::Enrol).await?;
        if s.totp_confirmed {
            return Err(AppError::Unauthenticated);
        }
        let scope = crate::visitor_scope(s.clinic_id);
        let mut tx = self.begin().await?;
        let Some(pending_sealed) = sessions::totp_pending(&mut tx, &tref.scope(), &tref.hash).await? else {
            // This session never showed a secret, so there is nothing to confirm.
            return Err(wrong_enrolment_code());
        };
        let (_, clinic_key) = self.clinic_key(&mut tx, &scope).await?;
        let secret = TotpSecret::from_bytes(clinic_key.open(&pending_sealed, &pending_totp_aad(&tref, s.id))?)?;
        let Some(step) = secret.check(code.trim(), unix_seconds(self.now())) else {
            return Err(wrong_enrolment_code());
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        if !staff::accept_totp_step(&mut tx, &scope, s.id, step).await? {
            return Err(wrong_enrolment_code());
        }
        let sealed = clinic_key.seal(secret.as_bytes(), &totp_aad(s.clinic_id, s.id));
        if !staff::confirm_totp(&mut tx, &scope, s.id, &sealed, self.now()).await? {
            return Err(AppError::Unauthenticated);
        }
        self.audit(&mut tx, staff_event(&s, AuditAction::TotpEnrolled, source, None))
            .await?;
        let codes = self.new_recovery_codes(&mut tx, &s).await?;
        sessions::delete_stage_for(&mut tx, &scope, s.id, Stage::Enrol.as_str()).await?;
        let mut issued = self.signed_in(tx, &s, "web", source, None).await?;
        issued.recovery_codes = codes;
        Ok(issued)
    }

    async fn pending(&self, token: &str, stage: Stage) -> Result<(TokenRef, StaffRow), AppError> {
        let tref = TokenRef::parse(token).ok_or(AppError::Unauthenticated)?;
        let mut tx = self.store().begin_read().await?;
        let row = sessions::find(&mut tx, &tref.scope(), &tref.hash)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if Stage::parse(&row.stage) != Some(stage) || row.expires_at <= self.now() {
            return Err(AppError::Unauthenticated);
        }
        let s = staff::get(&mut tx, &crate::visitor_scope(row.clinic_id), row.staff_id)
            .await?
            .filter(|s| !s.disabled)
            .ok_or(AppError::Unauthenticated)?;
        Ok((tref, s))
    }

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

    /// "Forgot password": queue the request for the background worker and
    /// answer. The request does the same work whatever the email (two
    /// counter updates and one queued row), so neither its answer nor its
    /// time tells whether the email has an account; the worker looks the
    /// email up and mails a link ([`App::process_password_resets`]).
    ///
    /// Throttled per source: past [`RESET_SOURCE_LIMIT`] requests in a
    /// window the answer is `TooManyAttempts`. Per account (the email as
    /// typed): past [`RESET_ACCOUNT_LIMIT`] requests in a window, further
    /// ones are answered the same but not queued.
    ///
    /// # Errors
    /// `TooManyAttempts`; database errors.
    pub async fn request_password_reset(&self, email: &str, source: Option<&str>) -> Result<(), AppError> {
        let email = email.trim().to_lowercase();
        let now = self.now();
        let mut tx = self.begin().await?;
        if let Some(src) = source.map(source_key) {
            let c = throttle::hit(&mut tx, &format!("reset-src:{src}"), now, window_micros()).await?;
            if c.count > RESET_SOURCE_LIMIT {
                tx.commit().await?;
                let ends = c.window_start.saturating_add(THROTTLE_WINDOW).unwrap_or(now);
                let secs = ends.duration_since(now).as_secs().max(1);
                return Err(AppError::TooManyAttempts {
                    retry_after_secs: u64::try_from(secs).unwrap_or(1),
                });
            }
        }
        let key = format!("reset-acct:{}", account_key(&email));
        let c = throttle::hit(&mut tx, &key, now, window_micros()).await?;
        if c.count <= RESET_ACCOUNT_LIMIT {
            throttle::queue_reset(&mut tx, &email, source, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The background worker's part of "forgot password": take the queued
    /// requests; for each email with an active account, replace any earlier
    /// reset link with a new one and mail it (through the outbox). Emails
    /// without an account get nothing. Returns how many links were made.
    ///
    /// # Errors
    /// Database errors (the requests then stay queued).
    pub async fn process_password_resets(&self) -> Result<usize, AppError> {
        let mut made = 0;
        loop {
            let mut tx = self.begin().await?;
            let requests = throttle::take_resets(&mut tx, 50).await?;
            if requests.is_empty() {
                return Ok(made);
            }
            for r in &requests {
                let Some(s) = staff::find_for_sign_in(&mut tx, &r.email)
                    .await?
                    .filter(|s| !s.disabled)
                else {
                    continue;
                };
                let now = self.now();
                staff::revoke_links(
                    &mut tx,
                    &crate::visitor_scope(s.clinic_id),
                    s.id,
                    LinkPurpose::Reset,
                    now,
                )
                .await?;
                let link = self
                    .new_link(&mut tx, &s, LinkPurpose::Reset, RESET_LINK_LIFETIME)
                    .await?;
                self.queue_email(&mut tx, s.clinic_id, &s.email, &crate::email::PasswordReset { link })
                    .await?;
                self.audit(
                    &mut tx,
                    staff_event(&s, AuditAction::PasswordResetRequested, r.source.as_deref(), None),
                )
                .await?;
                made += 1;
            }
            tx.commit().await?;
        }
    }

    /// The background worker's part of counting failed sign-ins with
    /// unknown emails: every source whose window has ended gets its one
    /// summary event in the platform's chain. Returns how many.
    ///
    /// # Errors
    /// Database errors.
    pub async fn summarise_anonymous_failures(&self) -> Result<usize, AppError> {
        let mut tx = self.begin().await?;
        let ended = throttle::take_ended_anonymous(&mut tx, self.now(), window_micros()).await?;
        for (src, window) in &ended {
            self.audit(&mut tx, anonymous_summary(src, *window)).await?;
        }
        tx.commit().await?;
        Ok(ended.len())
    }

    /// Make a single-use link for `s` and return its URL.
    pub(crate) async fn new_link(
        &self,
        tx: &mut Tx,
        s: &StaffRow,
        purpose: LinkPurpose,
        lifetime: SignedDuration,
    ) -> Result<String, AppError> {
        let now = self.now();
        let (token, tref) = TokenRef::issue(s.clinic_id);
        let expires = now.saturating_add(lifetime).unwrap_or(now);
        staff::insert_link(tx, &tref.scope(), s.id, &tref.hash, purpose, now, expires).await?;
        let path = purpose.as_str();
        Ok(format!("{}/{path}/{token}", self.settings().base_url))
    }

    /// Who a set-up or reset link is for (to greet them), if it is live.
    ///
    /// # Errors
    /// `NotFound` for a used, expired or unknown link.
    pub async fn link_account(&self, link_token: &str, purpose: LinkPurpose) -> Result<(String, String), AppError> {
        let tref = TokenRef::parse(link_token).ok_or(AppError::NotFound)?;
        let mut tx = self.store().begin_read().await?;
        let (clinic, staff_id) = staff::peek_link(&mut tx, &tref.scope(), &tref.hash, purpose, self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        let s = staff::get(&mut tx, &crate::visitor_scope(clinic), staff_id)
            .await?
            .ok_or(AppError::NotFound)?;
        Ok((s.email, s.display_name))
    }

    /// Set a password through a set-up or reset link. Ends every session of
    /// the account (ASVS 7.4.3). TOTP is still required at the next
    /// sign-in: a reset never bypasses the second factor (ASVS 6.4.3).
    ///
    /// # Errors
    /// A field error on `password`; `NotFound` for a dead link.
    pub async fn set_password_with_link(
        &self,
        link_token: &str,
        purpose: LinkPurpose,
        display_name: Option<&str>,
        new_password: &str,
        source: Option<&str>,
    ) -> Result<(), AppError> {
        let (email, _) = self.link_account(link_token, purpose).await?;
        let mut errors = FieldErrors::new();
        let name = display_name.map(|n| errors.take("display_name", PersonName::parse(n)));
        let pw = errors.take(
            "password",
            password::check_new_password(new_password, &[email.as_str(), "velum"]),
        );
        let Some(pw) = pw.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let pw = pw.expose().to_owned();
        let hash = self.argon2(move || password::hash_password(&pw)).await?;
        let tref = TokenRef::parse(link_token).ok_or(AppError::NotFound)?;
        let mut tx = self.begin().await?;
        let (clinic, staff_id) = staff::use_link(&mut tx, &tref.scope(), &tref.hash, purpose, self.now())
            .await?
            .ok_or(AppError::NotFound)?;
        let scope = crate::visitor_scope(clinic);
        staff::set_password(&mut tx, &scope, staff_id, &hash, self.now()).await?;
        if let Some(Some(name)) = &name {
            staff::set_display_name(&mut tx, &scope, staff_id, name.as_str(), self.now()).await?;
        }
        sessions::delete_all_for(&mut tx, &scope, staff_id).await?;
        let s = staff::get(&mut tx, &scope, staff_id).await?.ok_or(AppError::NotFound)?;
        self.audit(
            &mut tx,
            staff_event(&s, AuditAction::PasswordChanged, source, Some(purpose.as_str())),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl App {
    /// Change one's own password: the current password is required (ASVS
    /// 6.2.3), the new one must pass the password rules, and every session
    /// of the account ends, this one included (ASVS 7.4.3).
    ///
    /// The current password is checked like a sign-in: through the same
    /// attempt counters (refused with `TooManyAttempts` while this source is
    /// locked out of the account), and each wrong one counts as a failed
    /// sign-in. After [`CHANGE_PASSWORD_LIMIT`] wrong current passwords in a
    /// window, every session of the account ends (a stolen session cannot
    /// be told apart from the real one) and the answer is `Unauthenticated`.
    ///
    /// # Errors
    /// A field error on `current_password` or `password`;
    /// `TooManyAttempts`; `Unauthenticated` once the sessions were ended.
    pub async fn change_own_password(&self, actor: &Actor, current: &str, new_password: &str) -> Result<(), AppError> {
        let actor = &self.staff_of(actor).await?;
        let scope = actor.scope();
        let mut tx = self.store().begin_read().await?;
        let s = staff::get(&mut tx, &scope, actor.staff_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        drop(tx);
        if current.is_empty() {
            // Nothing typed is not a wrong guess: say what is missing, with
            // the new password's problems too, and count nothing.
            let mut errors = FieldErrors::single("current_password", EMPTY_CURRENT_PASSWORD);
            let _ = errors.take(
                "password",
                password::check_new_password(new_password, &[s.email.as_str(), "velum"]),
            );
            return Err(AppError::Validation(errors));
        }
        let source = actor.source.map(|a| a.to_string());
        let attempt = self.admit(&s.email, source.as_deref()).await?;
        let hash = s
            .password_hash
            .clone()
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let cur = current.to_owned();
        let matches = self.argon2(move || password::verify_password(&hash, &cur)).await?;
        let wrong_key = format!("chpw:{}", s.id);
        let mut errors = FieldErrors::new();
        if matches {
            let mut tx = self.begin().await?;
            self.release(&mut tx, &attempt, true).await?;
            throttle::clear(&mut tx, &wrong_key).await?;
            tx.commit().await?;
        } else {
            // Counted like a failed sign-in, so a stolen session cannot guess
            // the password without limit.
            let mut tx = self.begin().await?;
            let wrong = throttle::hit(&mut tx, &wrong_key, self.now(), window_micros())
                .await?
                .count;
            match self
                .fail(
                    tx,
                    Some(&s),
                    Some(&attempt),
                    source.as_deref(),
                    "wrong_current_password",
                )
                .await
            {
                AppError::BadCredentials => {}
                e => return Err(e),
            }
            if wrong >= CHANGE_PASSWORD_LIMIT {
                let mut tx = self.begin().await?;
                let ended = sessions::delete_all_for(&mut tx, &scope, actor.staff_id).await?;
                throttle::clear(&mut tx, &wrong_key).await?;
                self.audit(
                    &mut tx,
                    crate::event(
                        actor,
                        AuditAction::SignOut,
                        None,
                        &[],
                        Some(format!("wrong_current_password_limit sessions_ended:{ended}")),
                    ),
                )
                .await?;
                tx.commit().await?;
                return Err(AppError::Unauthenticated);
            }
            errors.add("current_password", "is not your current password");
        }
        let pw = errors.take(
            "password",
            password::check_new_password(new_password, &[s.email.as_str(), "velum"]),
        );
        let Some(pw) = pw.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation(errors));
        };
        let pw = pw.expose().to_owned();
        let new_hash = self.argon2(move || password::hash_password(&pw)).await?;
        let mut tx = self.begin().await?;
        staff::set_password(&mut tx, &scope, actor.staff_id, &new_hash, self.now()).await?;
        let ended = sessions::delete_all_for(&mut tx, &scope, actor.staff_id).await?;
        self.audit(
            &mut tx,
            crate::event(
                actor,
                AuditAction::PasswordChanged,
                None,
                &[],
                Some(format!("self sessions_ended:{ended}")),
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

impl App {
    /// How many of the actor's recovery codes are unused (for their account
    /// page).
    ///
    /// # Errors
    /// Database errors.
    pub async fn recovery_codes_left(&self, actor: &Actor) -> Result<i64, AppError> {
        let actor = &self.staff_of(actor).await?;
        let mut tx = self.store().begin_read().await?;
        Ok(staff::recovery_codes_left(&mut tx, &actor.scope(), actor.staff_id).await?)
    }

    /// Make new recovery codes for oneself, after entering one's password
    /// and a current TOTP code again (DOMAIN F37: changing MFA needs full
    /// re-authentication). The old codes stop working. A wrong password or
    /// code counts as a failed sign-in.
    ///
    /// # Errors
    /// A field error on `current_password` or `code`.
    pub async fn regenerate_recovery_codes(
        &self,
        actor: &Actor,
        current_password: &str,
        code: &str,
    ) -> Result<Vec<String>, AppError> {
        let actor = &self.staff_of(actor).await?;
        let scope = actor.scope();
        let mut tx = self.store().begin_read().await?;
        let s = staff::get(&mut tx, &scope, actor.staff_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        drop(tx);
        let hash = s
            .password_hash
            .clone()
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let mut missing = FieldErrors::new();
        if current_password.is_empty() {
            missing.add("current_password", EMPTY_CURRENT_PASSWORD);
        }
        if code.trim().is_empty() {
            missing.add("code", "is empty. Enter the code your authenticator app shows now");
        }
        if !missing.is_empty() {
            return Err(AppError::Validation(missing));
        }
        let source = actor.source.map(|a| a.to_string());
        // Checked like a sign-in: through the same counters, and refused
        // while this source is locked out of the account.
        let attempt = self.admit(&s.email, source.as_deref()).await?;
        let pw = current_password.to_owned();
        let matches = self.argon2(move || password::verify_password(&hash, &pw)).await?;
        let mut tx = self.begin().await?;
        // A TOTP code only: a recovery code cannot make new recovery codes.
        let code_ok = matches && self.use_totp_code(&mut tx, &s, code).await?;
        if !code_ok {
            let reason = if matches {
                "wrong_code"
            } else {
                "wrong_current_password"
            };
            match self.fail(tx, Some(&s), Some(&attempt), source.as_deref(), reason).await {
                AppError::BadCredentials => {}
                e => return Err(e),
            }
            return Err(AppError::Validation(if matches {
                FieldErrors::single("code", "was not accepted: enter the newest code from your app")
            } else {
                FieldErrors::single("current_password", "is not your current password")
            }));
        }
        self.release(&mut tx, &attempt, true).await?;
        let codes = self.new_recovery_codes(&mut tx, &s).await?;
        self.audit(
            &mut tx,
            crate::event(actor, AuditAction::RecoveryCodesRegenerated, None, &[], None),
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }
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
