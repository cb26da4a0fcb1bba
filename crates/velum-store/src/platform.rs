//! Hosted mode: the platform's own row, clinic status and usage, and
//! break-glass support grants. None of this reads client data.

use jiff::Timestamp;
use uuid::Uuid;
use velum_core::clinic::ClinicStatus;
use velum_core::support::GrantStatus;
use velum_core::{ClinicId, StaffId};
use velum_crypto::WrappedKey;

use crate::bind::BindScope;
use crate::transfer::{Kind, ONE_CLINIC, Table, col, opt};
use crate::{ClinicScope, StoreError, Tx, from_micros, micros};

/// The clinic tables this module owns (`support_grants`), with every column and
/// its kind, in foreign-key order: their part of
/// [`crate::transfer::CLINIC_TABLES`].
pub const TABLES: &[Table] = &[
    // The clinic's record of support access; the operators it names belong
    // to the source installation's platform, like the ids in the chain.
    Table {
        name: "support_grants",
        clinic_column: "clinic_id",
        order_by: "id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("id", Kind::Id),
            col("operator_id", Kind::Id),
            col("reason", Kind::Text),
            col("minutes", Kind::Int),
            col("status", Kind::Text),
            col("requested_at", Kind::Int).instant(),
            opt("decided_by", Kind::Id),
            opt("decided_at", Kind::Int).instant(),
            opt("expires_at", Kind::Int).instant(),
        ],
    },
];

/// The platform's row in `clinics`: the all-zero id.
#[must_use]
pub fn platform_id() -> ClinicId {
    ClinicId::from_uuid(Uuid::nil())
}

/// Create the platform's row (and its key) unless it exists.
///
/// # Errors
/// Database errors.
pub async fn ensure_platform(tx: &mut Tx, wrapped_key: &WrappedKey, now: Timestamp) -> Result<bool, StoreError> {
    // BIGINT on both backends (a bare 1 is INT4 on PostgreSQL).
    let exists: Option<i64> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM clinics WHERE id = $1"
    )
    .bind(Uuid::nil())
    .fetch_optional(c)
    .await)?;
    if exists.is_some() {
        return Ok(false);
    }
    crate::clinics::insert(tx, platform_id(), "Platform", wrapped_key, now).await?;
    on_tx!(tx, |c| sqlx::query(
        "UPDATE clinics SET kind = 'platform' WHERE id = $1"
    )
    .bind(Uuid::nil())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(true)
}

/// Set a clinic's status (active or suspended). Returns false when no
/// clinic (the platform's row excepted) has that id, or it was offboarded
/// (an offboarded clinic has no data or keys left to come back to).
///
/// # Errors
/// Database errors.
pub async fn set_status(tx: &mut Tx, scope: &ClinicScope, status: ClinicStatus) -> Result<bool, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "UPDATE clinics SET status = $2 WHERE id = $1 AND kind = 'clinic' AND status <> 'offboarded'"
    )
    .bind_scope(scope)
    .bind(status.as_str())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// What the operator sees of one clinic: counts and activity, no contents.
#[derive(Clone, Debug)]
pub struct ClinicUsage {
    pub id: ClinicId,
    pub name: String,
    pub status: ClinicStatus,
    /// `clinic` for every row listed here (the platform's own row is not).
    pub kind: String,
    pub created_at: Timestamp,
    pub clients: i64,
    pub active_staff: i64,
    pub audit_events: i64,
    pub last_activity: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct UsageRow {
    id: Uuid,
    name: String,
    status: String,
    kind: String,
    created_at: i64,
    clients: i64,
    active_staff: i64,
    head_seq: Option<i64>,
    last_at: Option<i64>,
}

impl TryFrom<UsageRow> for ClinicUsage {
    type Error = StoreError;
    fn try_from(r: UsageRow) -> Result<Self, StoreError> {
        Ok(ClinicUsage {
            id: ClinicId::from_uuid(r.id),
            name: r.name,
            status: crate::clinics::parse_status(&r.status)?,
            kind: r.kind,
            created_at: from_micros(r.created_at)?,
            clients: r.clients,
            active_staff: r.active_staff,
            audit_events: r.head_seq.unwrap_or(0),
            last_activity: r.last_at.map(from_micros).transpose()?,
        })
    }
}

/// Counts per clinic: never a column of a client or an event's contents.
const USAGE: &str = "SELECT k.id, k.name, k.status, k.kind, k.created_at, \
       (SELECT COUNT(*) FROM clients WHERE clinic_id = k.id) AS clients, \
       (SELECT COUNT(*) FROM staff WHERE clinic_id = k.id AND disabled = FALSE) AS active_staff, \
       (SELECT h.seq FROM audit_heads h WHERE h.clinic_id = k.id) AS head_seq, \
       (SELECT e.at FROM audit_events e WHERE e.clinic_id = k.id ORDER BY e.seq DESC LIMIT 1) AS last_at \
     FROM clinics k WHERE k.kind = 'clinic'";

/// Usage of every clinic, by name.
///
/// # Errors
/// Database errors.
pub async fn usage(tx: &mut Tx) -> Result<Vec<ClinicUsage>, StoreError> {
    let sql = format!("{USAGE} ORDER BY k.name");
    let rows: Vec<UsageRow> = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(ClinicUsage::try_from).collect()
}

/// Usage of one clinic; `None` for an unknown id or the platform's row.
///
/// # Errors
/// Database errors.
pub async fn clinic_usage(tx: &mut Tx, scope: &ClinicScope) -> Result<Option<ClinicUsage>, StoreError> {
    let sql = format!("{USAGE} AND k.id = $1");
    let row: Option<UsageRow> = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind_scope(scope)
        .fetch_optional(c)
        .await)?;
    row.map(ClinicUsage::try_from).transpose()
}

/// A break-glass support grant.
#[derive(Clone, Debug)]
pub struct GrantRow {
    pub clinic_id: ClinicId,
    pub id: Uuid,
    pub operator_id: StaffId,
    pub operator_name: Option<String>,
    pub clinic_name: String,
    pub reason: String,
    pub minutes: i64,
    pub status: GrantStatus,
    pub requested_at: Timestamp,
    pub decided_by: Option<StaffId>,
    pub decided_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
}

#[derive(sqlx::FromRow)]
struct Grant {
    clinic_id: Uuid,
    id: Uuid,
    operator_id: Uuid,
    operator_name: Option<String>,
    clinic_name: String,
    reason: String,
    minutes: i64,
    status: String,
    requested_at: i64,
    decided_by: Option<Uuid>,
    decided_at: Option<i64>,
    expires_at: Option<i64>,
}

impl TryFrom<Grant> for GrantRow {
    type Error = StoreError;
    fn try_from(g: Grant) -> Result<Self, StoreError> {
        Ok(GrantRow {
            clinic_id: ClinicId::from_uuid(g.clinic_id),
            id: g.id,
            operator_id: StaffId::from_uuid(g.operator_id),
            operator_name: g.operator_name,
            clinic_name: g.clinic_name,
            reason: g.reason,
            minutes: g.minutes,
            status: g
                .status
                .parse()
                .map_err(|_| StoreError::Corrupt("support grant status"))?,
            requested_at: from_micros(g.requested_at)?,
            decided_by: g.decided_by.map(StaffId::from_uuid),
            decided_at: g.decided_at.map(from_micros).transpose()?,
            expires_at: g.expires_at.map(from_micros).transpose()?,
        })
    }
}

/// Grants with their clinic's name and the operator's name. Operators are
/// accounts of the platform's row, and the join requires it: a staff row of
/// any other clinic that claims the operator's id (and role) can neither
/// lend its name to a grant nor duplicate it.
const GRANT: &str = "SELECT g.clinic_id, g.id, g.operator_id, s.display_name AS operator_name, k.name AS clinic_name, \
    g.reason, g.minutes, g.status, g.requested_at, g.decided_by, g.decided_at, g.expires_at \
    FROM support_grants g JOIN clinics k ON k.id = g.clinic_id \
    LEFT JOIN staff s ON s.clinic_id = (SELECT p.id FROM clinics p WHERE p.kind = 'platform') \
        AND s.role = 'operator' AND s.id = g.operator_id";

fn grant_sql(tail: &str) -> String {
    format!("{GRANT} {tail}")
}

/// # Errors
/// Database errors.
pub async fn insert_grant(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: Uuid,
    operator: StaffId,
    reason: &str,
    minutes: i64,
    now: Timestamp,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO support_grants (clinic_id, id, operator_id, reason, minutes, status, requested_at) \
         VALUES ($1, $2, $3, $4, $5, 'requested', $6)"
    )
    .bind_scope(scope)
    .bind(id)
    .bind(operator.as_uuid())
    .bind(reason)
    .bind(minutes)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// One grant of the clinic.
///
/// # Errors
/// Database errors.
pub async fn grant(tx: &mut Tx, scope: &ClinicScope, id: Uuid) -> Result<Option<GrantRow>, StoreError> {
    let sql = grant_sql("WHERE g.clinic_id = $1 AND g.id = $2");
    let row: Option<Grant> = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind_scope(scope)
        .bind(id)
        .fetch_optional(c)
        .await)?;
    row.map(GrantRow::try_from).transpose()
}

/// The clinic's grants, newest first (the last 100).
///
/// # Errors
/// Database errors.
pub async fn clinic_grants(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<GrantRow>, StoreError> {
    let sql = grant_sql("WHERE g.clinic_id = $1 ORDER BY g.requested_at DESC LIMIT 100");
    let rows: Vec<Grant> = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind_scope(scope)
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(GrantRow::try_from).collect()
}

/// An operator's grants across clinics, newest first (the last 100).
///
/// # Errors
/// Database errors.
pub async fn operator_grants(tx: &mut Tx, operator: StaffId) -> Result<Vec<GrantRow>, StoreError> {
    let sql = grant_sql("WHERE g.operator_id = $1 ORDER BY g.requested_at DESC LIMIT 100");
    let rows: Vec<Grant> = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
        .bind(operator.as_uuid())
        .fetch_all(c)
        .await)?;
    rows.into_iter().map(GrantRow::try_from).collect()
}

/// Move a grant from `from` to `to` (a decision). Returns false when the
/// grant was not in state `from` (someone else decided first).
/// `decided_at`/`decided_by` keep the first decision (the grant or the
/// refusal), so an ended grant still shows the window it was open; ending
/// it early sets `expires_at`, and the audit trail names who ended it.
///
/// # Errors
/// Database errors.
#[expect(clippy::too_many_arguments, reason = "one decision's columns")]
pub async fn decide(
    tx: &mut Tx,
    scope: &ClinicScope,
    id: Uuid,
    from: GrantStatus,
    to: GrantStatus,
    by: StaffId,
    now: Timestamp,
    expires_at: Option<Timestamp>,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "UPDATE support_grants SET status = $4, decided_by = COALESCE(decided_by, $5), \
                decided_at = COALESCE(decided_at, $6), expires_at = $7 \
         WHERE clinic_id = $1 AND id = $2 AND status = $3"
    )
    .bind_scope(scope)
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(by.as_uuid())
    .bind(micros(now))
    .bind(expires_at.map(micros))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Put a session inside a clinic under a grant, or (with `None`) take it out.
///
/// # Errors
/// Database errors.
pub async fn set_session_support(
    tx: &mut Tx,
    session_scope: &ClinicScope,
    token_hash: &[u8; 32],
    visit: Option<(ClinicId, Uuid)>,
) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE sessions SET support_clinic_id = $2, support_grant_id = $3 WHERE clinic_id = $4 AND token_hash = $1"
    )
    .bind(token_hash.as_slice())
    .bind(visit.map(|v| v.0.as_uuid()))
    .bind(visit.map(|v| v.1))
    .bind_scope(session_scope)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Events an operator wrote in a clinic's chain between two instants: what
/// was done under a grant.
///
/// # Errors
/// Database errors.
pub async fn events_under_grant(
    tx: &mut Tx,
    scope: &ClinicScope,
    operator: StaffId,
    from: Timestamp,
    until: Timestamp,
) -> Result<i64, StoreError> {
    let n: i64 = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_events WHERE clinic_id = $1 AND actor_id = $2 AND at >= $3 AND at <= $4"
    )
    .bind_scope(scope)
    .bind(operator.as_uuid())
    .bind(micros(from))
    .bind(micros(until))
    .fetch_one(c)
    .await)?;
    Ok(n)
}
