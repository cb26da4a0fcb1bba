//! The audit trail: append in the action's transaction, read a client's
//! access history, and verify every clinic's hash chain.

use jiff::Timestamp;
use uuid::Uuid;
use velum_core::audit::{
    AuditAction, AuditEvent, CanonicalFields, NewAuditEvent, sections_from_text, sections_to_text,
};
use velum_core::id::AuditEventId;
use velum_core::{ClientId, ClinicId, StaffId};
use velum_crypto::chain;

use crate::db::parse_enum;
use crate::{Backend, ClinicScope, Store, StoreError, Tx, from_micros, micros};

/// Append `event` to its clinic's chain, inside `tx`. If this fails the
/// caller's transaction fails with it: no action without its audit event.
///
/// # Errors
/// Database errors.
pub async fn append(tx: &mut Tx, event: NewAuditEvent, at: Timestamp) -> Result<AuditEvent, StoreError> {
    let clinic = event.clinic_id.as_uuid();
    // The head row is locked for the rest of the transaction, so appends
    // to one clinic's chain are strictly one after another: on SQLite by the
    // write lock (`BEGIN IMMEDIATE`), on PostgreSQL by `FOR UPDATE`. The
    // head is created first if this is the chain's first event.
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO audit_heads (clinic_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (clinic_id) DO NOTHING"
    )
    .bind(clinic)
    .bind(chain::GENESIS.as_slice())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    let lock = match tx.backend() {
        Backend::Sqlite => "SELECT seq, hash FROM audit_heads WHERE clinic_id = $1",
        Backend::Postgres => "SELECT seq, hash FROM audit_heads WHERE clinic_id = $1 FOR UPDATE",
    };
    let head: Option<(i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(lock).bind(clinic).fetch_optional(c).await)?;
    let (prev_seq, prev_hash) = match head {
        Some((seq, hash)) => (seq, to_hash(&hash)?),
        None => (0, chain::GENESIS),
    };
    let seq = prev_seq + 1;
    let id = AuditEventId::new();
    let hash = chain::link(&prev_hash, &event.canonical_bytes(id, seq, at));
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO audit_events (clinic_id, seq, id, at, actor_id, client_id, sections, action, purpose, source, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(clinic)
    .bind(seq)
    .bind(id.as_uuid())
    .bind(micros(at))
    .bind(event.actor_id.map(|a| a.as_uuid()))
    .bind(event.client_id.map(|c| c.as_uuid()))
    .bind(sections_to_text(&event.sections))
    .bind(event.action.as_str())
    .bind(event.purpose.as_str())
    .bind(event.source.as_deref())
    .bind(event.detail.as_deref())
    .bind(prev_hash.as_slice())
    .bind(hash.as_slice())
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    on_tx!(tx, |c| sqlx::query(
        "UPDATE audit_heads SET seq = $2, hash = $3 WHERE clinic_id = $1"
    )
    .bind(clinic)
    .bind(seq)
    .bind(hash.as_slice())
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(AuditEvent {
        id,
        seq,
        at,
        event,
        prev_hash,
        hash,
    })
}

fn to_hash(v: &[u8]) -> Result<[u8; 32], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt("audit hash length"))
}

/// One line of a client's access history.
#[derive(Clone, Debug)]
pub struct AccessEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor_id: Option<StaffId>,
    pub actor_name: Option<String>,
    pub action: AuditAction,
    pub sections: Vec<velum_core::Section>,
    pub purpose: String,
}

#[derive(sqlx::FromRow)]
struct AccessRow {
    seq: i64,
    at: i64,
    actor_id: Option<Uuid>,
    actor_name: Option<String>,
    action: String,
    sections: String,
    purpose: String,
}

/// A client's access history, newest first, `limit` at a time, before `before_seq`.
///
/// # Errors
/// Database errors.
pub async fn client_access_log(
    tx: &mut Tx,
    scope: &ClinicScope,
    client: ClientId,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<AccessEntry>, StoreError> {
    let rows: Vec<AccessRow> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT e.seq, e.at, e.actor_id, \
                COALESCE(s.display_name, op.display_name || ' (platform support)') AS actor_name, \
                e.action, e.sections, e.purpose \
         FROM audit_events e LEFT JOIN staff s ON s.clinic_id = e.clinic_id AND s.id = e.actor_id \
         LEFT JOIN staff op ON op.clinic_id = $5 AND op.id = e.actor_id \
         WHERE e.clinic_id = $1 AND e.client_id = $2 AND e.seq < $3 \
         ORDER BY e.seq DESC LIMIT $4",
    )
    .bind(scope.clinic_id().as_uuid())
    .bind(client.as_uuid())
    .bind(before_seq.unwrap_or(i64::MAX))
    .bind(limit)
    .bind(Uuid::nil())
    .fetch_all(c)
    .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(AccessEntry {
                seq: r.seq,
                at: from_micros(r.at)?,
                actor_id: r.actor_id.map(StaffId::from_uuid),
                actor_name: r.actor_name,
                action: parse_enum(&r.action, "audit action")?,
                sections: sections_from_text(&r.sections),
                purpose: r.purpose,
            })
        })
        .collect()
}

/// The first place a chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub clinic_id: ClinicId,
    /// The sequence number where the break was found.
    pub seq: i64,
    pub event_id: Option<Uuid>,
    pub reason: &'static str,
}

/// What `verify` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub chains: usize,
    pub events: u64,
    pub first_break: Option<ChainBreak>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    clinic_id: Uuid,
    seq: i64,
    id: Uuid,
    at: i64,
    actor_id: Option<Uuid>,
    client_id: Option<Uuid>,
    sections: String,
    action: String,
    purpose: String,
    source: Option<String>,
    detail: Option<String>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl Store {
    /// Recompute every clinic's chain from its first event and compare it
    /// with what is stored: each event's hash, its link to the previous one,
    /// gap-free numbering, and the recorded head; and every clinic that is
    /// not offboarded must have a chain. Stops at the first break.
    ///
    /// # Errors
    /// Database errors (a broken chain is a report, not an error).
    pub async fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        let mut tx = self.begin_read_snapshot().await?;
        // Every clinic that is not offboarded has a chain from its creation
        // on, so listing clinics as well as chains notices a chain deleted
        // whole. (An offboarded clinic's chain left with its archive; the
        // platform's chain records the offboarding.)
        let clinics: Vec<Uuid> = on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT id FROM clinics WHERE kind = 'clinic' AND status <> 'offboarded' \
             UNION SELECT clinic_id FROM audit_heads UNION SELECT DISTINCT clinic_id FROM audit_events"
        )
        .fetch_all(c)
        .await)?;
        let mut report = VerifyReport::default();
        for clinic in clinics {
            report.chains += 1;
            let (events, first_break) = verify_chain(&mut tx, ClinicId::from_uuid(clinic)).await?;
            report.events += events;
            if first_break.is_some() {
                report.first_break = first_break;
                return Ok(report);
            }
        }
        Ok(report)
    }

    /// Verify one clinic's chain, as [`Store::verify_audit`] does for all of
    /// them, and read its recorded head. Counts and hashes only: nothing of
    /// an event's contents leaves this function.
    ///
    /// # Errors
    /// Database errors (a broken chain is a report, not an error).
    pub async fn verify_clinic_audit(&self, scope: &ClinicScope) -> Result<ChainReport, StoreError> {
        let mut tx = self.begin_read_snapshot().await?;
        let (events, first_break) = verify_chain(&mut tx, scope.clinic_id()).await?;
        let head: Option<(i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
            "SELECT seq, hash FROM audit_heads WHERE clinic_id = $1"
        )
        .bind(scope.clinic_id().as_uuid())
        .fetch_optional(c)
        .await)?;
        let (head_seq, head_hash) = match head {
            Some((seq, hash)) => (seq, Some(to_hash(&hash)?)),
            None => (0, None),
        };
        Ok(ChainReport {
            events,
            head_seq,
            head_hash,
            first_break,
        })
    }

    /// A read transaction that sees one snapshot throughout, so events
    /// appended meanwhile by a live server do not look like a truncated
    /// chain (SQLite's read transaction is a snapshot already).
    async fn begin_read_snapshot(&self) -> Result<Tx, StoreError> {
        let mut tx = self.begin_read().await?;
        if tx.backend() == Backend::Postgres {
            on_tx!(tx, |c| sqlx::query(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
            )
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(tx)
    }
}

/// What verifying one clinic's chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked (up to the first break).
    pub events: u64,
    /// The recorded head: the last event's sequence number (0 for an empty chain)...
    pub head_seq: i64,
    /// ...and its hash.
    pub head_hash: Option<[u8; 32]>,
    pub first_break: Option<ChainBreak>,
}

/// Recompute one clinic's chain inside `tx`: each event's hash, its link to
/// the previous one, gap-free numbering, and the recorded head. Returns how
/// many events were checked and the first break, if any. `velum import`
/// runs it on the rows it has just inserted, before committing them.
///
/// # Errors
/// Database errors (a broken chain is a result, not an error).
pub async fn verify_chain(tx: &mut Tx, clinic_id: ClinicId) -> Result<(u64, Option<ChainBreak>), StoreError> {
    let clinic = clinic_id.as_uuid();
    let fail = |seq, event_id, reason| ChainBreak {
        clinic_id,
        seq,
        event_id,
        reason,
    };
    let mut events = 0_u64;
    let mut expected_seq = 1_i64;
    let mut prev = chain::GENESIS;
    loop {
        let rows: Vec<EventRow> = on_tx!(tx, |c| {
            sqlx::query_as(
                "SELECT clinic_id, seq, id, at, actor_id, client_id, sections, action, purpose, source, detail, prev_hash, hash \
                 FROM audit_events WHERE clinic_id = $1 AND seq >= $2 ORDER BY seq LIMIT 1000",
            )
            .bind(clinic)
            .bind(expected_seq)
            .fetch_all(c)
            .await
        })?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            events += 1;
            if r.seq != expected_seq {
                return Ok((
                    events,
                    Some(fail(expected_seq, None, "event missing (gap in sequence)")),
                ));
            }
            if r.prev_hash.as_slice() != prev.as_slice() {
                return Ok((
                    events,
                    Some(fail(r.seq, Some(r.id), "does not link to the previous event")),
                ));
            }
            let Some(recomputed) = recompute(&r) else {
                return Ok((events, Some(fail(r.seq, Some(r.id), "unreadable event fields"))));
            };
            if recomputed.as_slice() != r.hash.as_slice() {
                return Ok((events, Some(fail(r.seq, Some(r.id), "contents do not match its hash"))));
            }
            prev = recomputed;
            expected_seq += 1;
        }
    }
    let head: Option<(i64, Vec<u8>)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT seq, hash FROM audit_heads WHERE clinic_id = $1"
    )
    .bind(clinic)
    .fetch_optional(c)
    .await)?;
    let last = expected_seq - 1;
    let first_break = match head {
        Some((seq, hash)) if seq == last && hash.as_slice() == prev.as_slice() => None,
        Some((seq, _)) if seq > last => Some(fail(last + 1, None, "events missing at the end of the chain")),
        _ => Some(fail(last, None, "chain head does not match the last event")),
    };
    Ok((events, first_break))
}

fn recompute(r: &EventRow) -> Option<[u8; 32]> {
    let prev: [u8; 32] = r.prev_hash.as_slice().try_into().ok()?;
    let bytes = CanonicalFields {
        id: r.id,
        seq: r.seq,
        at_micros: r.at,
        clinic: r.clinic_id,
        actor: r.actor_id,
        client: r.client_id,
        sections: &r.sections,
        action: &r.action,
        purpose: &r.purpose,
        source: r.source.as_deref(),
        detail: r.detail.as_deref(),
    }
    .encode();
    Some(chain::link(&prev, &bytes))
}

/// One event of a clinic's trail, for the audit page.
#[derive(Clone, Debug)]
pub struct TrailEntry {
    pub seq: i64,
    pub at: Timestamp,
    pub actor_id: Option<StaffId>,
    pub actor_name: Option<String>,
    pub client_id: Option<ClientId>,
    pub client_name: Option<String>,
    pub action: AuditAction,
    pub sections: Vec<velum_core::Section>,
    pub purpose: String,
    pub source: Option<String>,
    pub detail: Option<String>,
}

#[derive(sqlx::FromRow)]
struct TrailRow {
    seq: i64,
    at: i64,
    actor_id: Option<Uuid>,
    actor_name: Option<String>,
    client_id: Option<Uuid>,
    given_name: Option<String>,
    family_name: Option<String>,
    action: String,
    sections: String,
    purpose: String,
    source: Option<String>,
    detail: Option<String>,
}

/// The clinic's whole trail, newest first, `limit` at a time, before `before_seq`.
///
/// # Errors
/// Database errors.
pub async fn clinic_trail(
    tx: &mut Tx,
    scope: &ClinicScope,
    before_seq: Option<i64>,
    limit: i64,
) -> Result<Vec<TrailEntry>, StoreError> {
    let rows: Vec<TrailRow> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT e.seq, e.at, e.actor_id, \
                COALESCE(s.display_name, op.display_name || ' (platform support)') AS actor_name, e.client_id, \
                cl.given_name, cl.family_name, e.action, e.sections, e.purpose, e.source, e.detail \
         FROM audit_events e \
         LEFT JOIN staff s ON s.clinic_id = e.clinic_id AND s.id = e.actor_id \
         LEFT JOIN staff op ON op.clinic_id = $4 AND op.id = e.actor_id \
         LEFT JOIN clients cl ON cl.clinic_id = e.clinic_id AND cl.id = e.client_id \
         WHERE e.clinic_id = $1 AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3",
    )
    .bind(scope.clinic_id().as_uuid())
    .bind(before_seq.unwrap_or(i64::MAX))
    .bind(limit)
    .bind(Uuid::nil())
    .fetch_all(c)
    .await)?;
    rows.into_iter()
        .map(|r| {
            Ok(TrailEntry {
                seq: r.seq,
                at: from_micros(r.at)?,
                actor_id: r.actor_id.map(StaffId::from_uuid),
                actor_name: r.actor_name,
                client_id: r.client_id.map(ClientId::from_uuid),
                client_name: match (r.given_name, r.family_name) {
                    (Some(g), Some(f)) => Some(format!("{g} {f}")),
                    _ => None,
                },
                action: parse_enum(&r.action, "audit action")?,
                sections: sections_from_text(&r.sections),
                purpose: r.purpose,
                source: r.source,
                detail: r.detail,
            })
        })
        .collect()
}
