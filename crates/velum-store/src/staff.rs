//! Staff accounts, their sign-in state, and single-use set-up / reset links.

use jiff::Timestamp;
use sqlx::AssertSqlSafe;
use uuid::Uuid;
use velum_core::{ClinicId, Role, StaffId};

use crate::bind::BindScope;
use crate::transfer::{Kind, ONE_CLINIC, Table, col, opt};
use crate::{ClinicScope, StoreError, Tx, from_micros, micros};

/// The clinic tables this module owns (`staff`, `staff_logins`), with every column and
/// its kind, in foreign-key order: their part of
/// [`crate::transfer::CLINIC_TABLES`].
pub const TABLES: &[Table] = &[
    Table {
        name: "staff",
        clinic_column: "clinic_id",
        order_by: "id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("id", Kind::Id),
            col("email", Kind::Text),
            col("display_name", Kind::Text),
            col("role", Kind::Text),
            opt("password_hash", Kind::Text).left_out("sign-in secret"),
            opt("totp_sealed", Kind::Bytes).left_out("sign-in secret"),
            col("totp_confirmed", Kind::Bool),
            col("totp_last_step", Kind::Int).left_out("sign-in state"),
            col("failed_attempts", Kind::Int).left_out("lock-out state"),
            opt("locked_until", Kind::Int).left_out("lock-out state"),
            col("disabled", Kind::Bool),
            col("created_at", Kind::Int).instant(),
            col("updated_at", Kind::Int).instant(),
        ],
    },
    Table {
        name: "staff_logins",
        clinic_column: "clinic_id",
        order_by: "email",
        columns: &[
            col("email", Kind::Text).left_out("the sign-in directory repeats each staff email (in staff)"),
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("staff_id", Kind::Id).left_out("the sign-in directory repeats each staff id (in staff)"),
        ],
    },
];

#[derive(Clone, Debug)]
pub struct StaffRow {
    pub clinic_id: ClinicId,
    pub id: StaffId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: Option<String>,
    pub totp_sealed: Option<Vec<u8>>,
    pub totp_confirmed: bool,
    pub totp_last_step: i64,
    pub failed_attempts: i64,
    pub locked_until: Option<Timestamp>,
    pub disabled: bool,
    pub created_at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct Row {
    clinic_id: Uuid,
    id: Uuid,
    email: String,
    display_name: String,
    role: String,
    password_hash: Option<String>,
    totp_sealed: Option<Vec<u8>>,
    totp_confirmed: bool,
    totp_last_step: i64,
    failed_attempts: i64,
    locked_until: Option<i64>,
    disabled: bool,
    created_at: i64,
}

const COLUMNS: &str = "clinic_id, id, email, display_name, role, password_hash, totp_sealed, \
    totp_confirmed, totp_last_step, failed_attempts, locked_until, disabled, created_at";

impl TryFrom<Row> for StaffRow {
    type Error = StoreError;
    fn try_from(r: Row) -> Result<Self, StoreError> {
        Ok(StaffRow {
            clinic_id: ClinicId::from_uuid(r.clinic_id),
            id: StaffId::from_uuid(r.id),
            email: r.email,
            display_name: r.display_name,
            role: Role::from_stored(&r.role).map_err(|_| StoreError::Corrupt("staff role"))?,
            password_hash: r.password_hash,
            totp_sealed: r.totp_sealed,
            totp_confirmed: r.totp_confirmed,
            totp_last_step: r.totp_last_step,
            failed_attempts: r.failed_attempts,
            locked_until: r.locked_until.map(from_micros).transpose()?,
            disabled: r.disabled,
            created_at: from_micros(r.created_at)?,
        })
    }
}

/// A new account. `password_hash` is `None` until the person sets one
/// through their set-up link.
///
/// # Errors
/// `Conflict("staff_email")` when the email already has an account.
#[expect(clippy::too_many_arguments, reason = "one row's columns")]
pub async fn insert(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    email: &str,
    display_name: &str,
    role: Role,
    password_hash: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    // The directory first: it is what keeps an email to one account.
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO staff_logins (email, clinic_id, staff_id) VALUES ($1, $2, $3)"
    )
    .bind(email)
    .bind_scope(scope)
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(|e| match StoreError::from_sqlx(e) {
        StoreError::Conflict(_) => StoreError::Conflict("staff_email".into()),
        other => other,
    })?;
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO staff (clinic_id, id, email, display_name, role, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(email)
    .bind(display_name)
    .bind(role.as_str())
    .bind(password_hash)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(StoreError::from_sqlx)?;
    Ok(())
}

/// Find the account for a sign-in email, in whichever clinic it is.
///
/// Unscoped on purpose: at sign-in there is no clinic yet. The email names
/// the account in the `staff_logins` directory, and so the clinic; the
/// account itself is then read within that clinic.
///
/// # Errors
/// Database errors.
pub async fn find_for_sign_in(tx: &mut Tx, email: &str) -> Result<Option<StaffRow>, StoreError> {
    let login: Option<(Uuid, Uuid)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT clinic_id, staff_id FROM staff_logins WHERE email = $1"
    )
    .bind(email)
    .fetch_optional(c)
    .await)?;
    let Some((clinic, id)) = login else { return Ok(None) };
    get(
        tx,
        &velum_core::actor::PublicActor::of(ClinicId::from_uuid(clinic)).scope(),
        StaffId::from_uuid(id),
    )
    .await
}

/// # Errors
/// Database errors.
pub async fn get(tx: &mut Tx, scope: &ClinicScope, id: StaffId) -> Result<Option<StaffRow>, StoreError> {
    let row: Option<Row> = on_tx!(tx, |c| sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE clinic_id = $1 AND id = $2"
    )))
    .bind_scope(scope)
    .bind(id.as_uuid())
    .fetch_optional(c)
    .await)?;
    row.map(StaffRow::try_from).transpose()
}

/// # Errors
/// Database errors.
pub async fn list(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<StaffRow>, StoreError> {
    let rows: Vec<Row> = on_tx!(tx, |c| sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM staff WHERE clinic_id = $1 ORDER BY display_name, id"
    )))
    .bind_scope(scope)
    .fetch_all(c)
    .await)?;
    rows.into_iter().map(StaffRow::try_from).collect()
}

async fn update(
    tx: &mut Tx,
    sql: &'static str,
    scope: &ClinicScope,
    id: StaffId,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(sql)
        .bind_scope(scope)
        .bind(id.as_uuid())
        .bind(micros(now))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// # Errors
/// Database errors.
pub async fn set_role(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    role: Role,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff SET role = $3, updated_at = $4 WHERE clinic_id = $1 AND id = $2"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(role.as_str())
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// # Errors
/// Database errors.
pub async fn set_disabled(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    disabled: bool,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff SET disabled = $3, updated_at = $4 WHERE clinic_id = $1 AND id = $2"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(disabled)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Set a new password hash and clear any lock.
///
/// # Errors
/// Database errors.
pub async fn set_password(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    hash: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff SET password_hash = $3, failed_attempts = 0, locked_until = NULL, updated_at = $4 \
         WHERE clinic_id = $1 AND id = $2",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(hash)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Store a (sealed) TOTP secret; `confirmed` once the person has entered a
/// code from it.
///
/// # Errors
/// Database errors.
pub async fn set_totp(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    sealed: &[u8],
    confirmed: bool,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff SET totp_sealed = $3, totp_confirmed = $4, updated_at = $5 WHERE clinic_id = $1 AND id = $2",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(sealed)
    .bind(confirmed)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Confirm a TOTP secret for an account that has none confirmed yet, in one
/// conditional statement: of two set-up sessions confirming at once, one
/// wins. Returns whether this one did.
///
/// # Errors
/// Database errors.
pub async fn confirm_totp(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    sealed: &[u8],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff SET totp_sealed = $3, totp_confirmed = TRUE, updated_at = $4 \
         WHERE clinic_id = $1 AND id = $2 AND totp_confirmed = FALSE",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(sealed)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Accept a TOTP time step only if it is later than the last one used, in
/// one statement, so a code can never be used twice (RFC 6238 §5.2), even
/// by two app servers at once.
///
/// # Errors
/// Database errors.
pub async fn accept_totp_step(tx: &mut Tx, scope: &ClinicScope, id: StaffId, step: i64) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff SET totp_last_step = $3 WHERE clinic_id = $1 AND id = $2 AND totp_last_step < $3"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(step)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Count a failed sign-in; lock the account until `lock_until` once the
/// count reaches `lock_after`. Returns the new count.
///
/// # Errors
/// Database errors.
pub async fn record_failure(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    lock_after: i64,
    lock_until: Timestamp,
    now: Timestamp,
) -> Result<i64, StoreError> {
    let n: i64 = on_tx!(tx, |c| {
        sqlx::query_scalar(
        // A lock that has run out starts a fresh count.
        "UPDATE staff SET \
           failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= $5 THEN 1 ELSE failed_attempts + 1 END, \
           locked_until = CASE \
             WHEN locked_until IS NOT NULL AND locked_until > $5 THEN locked_until \
             WHEN locked_until IS NOT NULL AND locked_until <= $5 THEN NULL \
             WHEN failed_attempts + 1 >= $3 THEN $4 ELSE locked_until END \
         WHERE clinic_id = $1 AND id = $2 RETURNING failed_attempts",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(lock_after)
    .bind(micros(lock_until))
    .bind(micros(now))
    .fetch_one(c)
    .await
    })?;
    Ok(n)
}

/// Clear the failure count after a successful sign-in; an expired lock
/// starts a fresh count.
///
/// # Errors
/// Database errors.
pub async fn clear_failures(tx: &mut Tx, scope: &ClinicScope, id: StaffId, now: Timestamp) -> Result<bool, StoreError> {
    update(
        tx,
        "UPDATE staff SET failed_attempts = 0, locked_until = NULL, updated_at = $3 WHERE clinic_id = $1 AND id = $2",
        scope,
        id,
        now,
    )
    .await
}

/// What a single-use link is for (a domain type, kept at this path too).
pub use velum_core::link::LinkPurpose;

/// # Errors
/// Database errors.
pub async fn insert_link(
    tx: &mut Tx,
    scope: &ClinicScope,
    staff: StaffId,
    token_hash: &[u8; 32],
    purpose: LinkPurpose,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, clinic_id, staff_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash.as_slice())
    .bind_scope(scope)
    .bind(staff.as_uuid())
    .bind(purpose.as_str())
    .bind(micros(now))
    .bind(micros(expires_at))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The account a live, unused link belongs to, without using it up.
///
/// # Errors
/// Database errors.
pub async fn peek_link(
    tx: &mut Tx,
    scope: &ClinicScope,
    token_hash: &[u8; 32],
    purpose: LinkPurpose,
    now: Timestamp,
) -> Result<Option<(ClinicId, StaffId)>, StoreError> {
    let row: Option<(Uuid, Uuid)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT clinic_id, staff_id FROM one_time_tokens \
         WHERE clinic_id = $4 AND token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(token_hash.as_slice())
    .bind(purpose.as_str())
    .bind(micros(now))
    .bind_scope(scope)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(c, s)| (ClinicId::from_uuid(c), StaffId::from_uuid(s))))
}

/// Use up a link: succeeds once, and only while it is live.
///
/// # Errors
/// Database errors.
pub async fn use_link(
    tx: &mut Tx,
    scope: &ClinicScope,
    token_hash: &[u8; 32],
    purpose: LinkPurpose,
    now: Timestamp,
) -> Result<Option<(ClinicId, StaffId)>, StoreError> {
    let row: Option<(Uuid, Uuid)> = on_tx!(tx, |c| sqlx::query_as(
        "UPDATE one_time_tokens SET used_at = $3 \
         WHERE clinic_id = $4 AND token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING clinic_id, staff_id",
    )
    .bind(token_hash.as_slice())
    .bind(purpose.as_str())
    .bind(micros(now))
    .bind_scope(scope)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|(c, s)| (ClinicId::from_uuid(c), StaffId::from_uuid(s))))
}

/// Use up every live link of `purpose` for `staff` (a new one replaces them).
///
/// # Errors
/// Database errors.
pub async fn revoke_links(
    tx: &mut Tx,
    scope: &ClinicScope,
    staff: StaffId,
    purpose: LinkPurpose,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "UPDATE one_time_tokens SET used_at = $4 \
         WHERE clinic_id = $1 AND staff_id = $2 AND purpose = $3 AND used_at IS NULL"
    )
    .bind_scope(scope)
    .bind(staff.as_uuid())
    .bind(purpose.as_str())
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n)
}

/// # Errors
/// Database errors.
pub async fn set_display_name(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    name: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff SET display_name = $3, updated_at = $4 WHERE clinic_id = $1 AND id = $2"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(name)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Housekeeping: delete set-up and reset links that are used or past
/// their expiry (they can never be used again). Returns how many.
///
/// # Errors
/// Database errors.
pub async fn delete_spent_links(tx: &mut Tx, now: Timestamp) -> Result<u64, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "DELETE FROM one_time_tokens WHERE used_at IS NOT NULL OR expires_at <= $1"
    )
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done)
}

/// Every staff member's sealed TOTP secret (confirmed or not), to re-seal
/// under a new clinic key.
///
/// # Errors
/// Database errors.
pub async fn sealed_totp_secrets(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<(StaffId, Vec<u8>)>, StoreError> {
    let rows: Vec<(Uuid, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, totp_sealed FROM staff WHERE clinic_id = $1 AND totp_sealed IS NOT NULL ORDER BY id"
    )
    .bind_scope(scope)
    .fetch_all(c)
    .await)?;
    Ok(rows.into_iter().map(|(id, s)| (StaffId::from_uuid(id), s)).collect())
}

/// Replace a sealed TOTP secret with the same secret sealed under another
/// key (its confirmation state and last used step stay).
///
/// # Errors
/// Database errors.
pub async fn reseal_totp(tx: &mut Tx, scope: &ClinicScope, id: StaffId, sealed: &[u8]) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff SET totp_sealed = $3 WHERE clinic_id = $1 AND id = $2"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(sealed)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Take two-step sign-in away from an account (an owner or manager reset
/// it): no secret, not confirmed, and no recovery codes. The person sets it
/// up again at their next sign-in.
///
/// # Errors
/// Database errors.
pub async fn reset_totp(tx: &mut Tx, scope: &ClinicScope, id: StaffId, now: Timestamp) -> Result<bool, StoreError> {
    let done = update(
        tx,
        "UPDATE staff SET totp_sealed = NULL, totp_confirmed = FALSE, updated_at = $3 WHERE clinic_id = $1 AND id = $2",
        scope,
        id,
        now,
    )
    .await?;
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM staff_recovery_codes WHERE clinic_id = $1 AND staff_id = $2"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done)
}

/// Replace an account's recovery codes with new ones (their hashes).
///
/// # Errors
/// Database errors.
pub async fn replace_recovery_codes(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    hashes: &[[u8; 32]],
    now: Timestamp,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM staff_recovery_codes WHERE clinic_id = $1 AND staff_id = $2"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    for hash in hashes {
        on_tx!(tx, |c| sqlx::query(
            "INSERT INTO staff_recovery_codes (clinic_id, staff_id, code_hash, created_at) VALUES ($1, $2, $3, $4)"
        )
        .bind_scope(scope)
        .bind(id.as_uuid())
        .bind(hash.as_slice())
        .bind(micros(now))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Use up one recovery code: succeeds once per code, in one conditional
/// statement, so two sign-ins at once cannot both use it.
///
/// # Errors
/// Database errors.
pub async fn use_recovery_code(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    hash: &[u8; 32],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = on_tx!(tx, |c| sqlx::query(
        "UPDATE staff_recovery_codes SET used_at = $4 \
         WHERE clinic_id = $1 AND staff_id = $2 AND code_hash = $3 AND used_at IS NULL"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(hash.as_slice())
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// How many of an account's recovery codes are still unused.
///
/// # Errors
/// Database errors.
pub async fn recovery_codes_left(tx: &mut Tx, scope: &ClinicScope, id: StaffId) -> Result<i64, StoreError> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM staff_recovery_codes WHERE clinic_id = $1 AND staff_id = $2 AND used_at IS NULL"
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .fetch_one(c)
    .await)?;
    Ok(n)
}

/// The clinic and account a sign-in email belongs to, if any (installation
/// wide, like [`find_for_sign_in`], and for the same reason: it reads the
/// `staff_logins` directory, which has no clinic to scope by).
///
/// # Errors
/// Database errors.
pub async fn login_owner(tx: &mut Tx, email: &str) -> Result<Option<(ClinicId, StaffId)>, StoreError> {
    let login: Option<(Uuid, Uuid)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT clinic_id, staff_id FROM staff_logins WHERE email = $1"
    )
    .bind(email)
    .fetch_optional(c)
    .await)?;
    Ok(login.map(|(c, s)| (ClinicId::from_uuid(c), StaffId::from_uuid(s))))
}

/// An invitation that can never become an account: a staff row with no
/// entry in the `staff_logins` directory (the email signs in to its account
/// in another clinic), so no one signs in as it and no link is made for it.
/// The inviting clinic sees it as an invitation not taken up, exactly like
/// one to a new address that was never answered.
///
/// # Errors
/// `Conflict("staff_email")` when the clinic already has a row for the email.
pub async fn insert_unlisted_invite(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: StaffId,
    email: &str,
    display_name: &str,
    role: Role,
    now: Timestamp,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO staff (clinic_id, id, email, display_name, role, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, NULL, $6, $6)",
    )
    .bind_scope(scope)
    .bind(id.as_uuid())
    .bind(email)
    .bind(display_name)
    .bind(role.as_str())
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(|e| match StoreError::from_sqlx(e) {
        StoreError::Conflict(_) => StoreError::Conflict("staff_email".into()),
        other => other,
    })?;
    Ok(())
}
