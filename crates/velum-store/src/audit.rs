//! The audit trail: append in the action's transaction, read a client's
//! access history, and verify every clinic's hash chain.
//!
//! Every event is appended with a keyed link (version 2, HMAC-SHA-256 under
//! the chain's key from [`velum_crypto::chain::ChainKey`], which each [`Tx`]
//! carries). Events written before the keyed chain existed keep their plain
//! SHA-256 links (version 1); [`upgrade_chains`] appends one keyed event
//! after them, whose link covers the last v1 link. Verification accepts v1
//! links only before the first v2 link, and a chain must end in a v2 link.

use jiff::Timestamp;
use uuid::Uuid;
use velum_core::audit::{
    AuditAction, AuditEvent, CanonicalFields, NewAuditEvent, sections_from_text, sections_to_text,
};
use velum_core::id::AuditEventId;
use velum_core::{ActorKind, ClientId, ClinicId, StaffId};
use velum_crypto::chain;

use crate::bind::BindScope;
use crate::db::parse_enum;
use crate::transfer::{Kind, ONE_CLINIC, Table, added, col, opt};
use crate::{Backend, ClinicScope, Store, StoreError, Tx, from_micros, micros};

/// The clinic tables this module owns (`audit_heads`, `audit_events`), with every column and
/// its kind, in foreign-key order: their part of
/// [`crate::transfer::CLINIC_TABLES`].
pub const TABLES: &[Table] = &[
    Table {
        name: "audit_heads",
        clinic_column: "clinic_id",
        order_by: "clinic_id",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("seq", Kind::Int),
            col("hash", Kind::Bytes),
        ],
    },
    Table {
        name: "audit_events",
        clinic_column: "clinic_id",
        order_by: "seq",
        columns: &[
            col("clinic_id", Kind::Id).left_out(ONE_CLINIC),
            col("seq", Kind::Int),
            col("id", Kind::Id),
            col("at", Kind::Int).instant(),
            opt("actor_id", Kind::Id),
            opt("client_id", Kind::Id),
            col("sections", Kind::Text),
            col("action", Kind::Text),
            col("purpose", Kind::Text),
            opt("source", Kind::Text),
            opt("detail", Kind::Text),
            col("prev_hash", Kind::Bytes),
            col("hash", Kind::Bytes),
            col("link_version", Kind::Int),
            // Migration 0014; format-1 files written before it lack it.
            added("actor_kind", Kind::Text, 2),
        ],
    },
];

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
    let hash = tx
        .chain
        .for_chain(clinic)
        .link(&prev_hash, &event.canonical_bytes(id, seq, at));
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO audit_events (clinic_id, seq, id, at, actor_id, client_id, sections, action, purpose, source, detail, prev_hash, hash, link_version, actor_kind) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
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
    .bind(chain::V2)
    .bind(event.actor_kind.to_stored())
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

/// A stored actor kind (`None` for an event stored before migration 0014).
fn stored_kind(text: Option<&str>) -> Result<Option<ActorKind>, StoreError> {
    text.map(|t| ActorKind::from_stored(t).ok_or(StoreError::Corrupt("unknown actor kind")))
        .transpose()
}

fn to_hash(v: &[u8]) -> Result<[u8; 32], StoreError> {
    v.try_into().map_err(|_| StoreError::Corrupt("audit hash length"))
}

/// One line of a client's access history.
#[derive(Clone, Debug)]
pub struct AccessEntry {
    pub seq: i64,
    pub at: Timestamp,
    /// `None` for events stored before the kind was recorded.
    pub actor_kind: Option<ActorKind>,
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
    actor_kind: Option<String>,
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
        "SELECT e.seq, e.at, e.actor_kind, e.actor_id, \
                COALESCE(s.display_name, op.display_name || ' (platform support)') AS actor_name, \
                e.action, e.sections, e.purpose \
         FROM audit_events e LEFT JOIN staff s ON s.clinic_id = e.clinic_id AND s.id = e.actor_id \
         LEFT JOIN staff op ON op.clinic_id = $5 AND op.id = e.actor_id \
         WHERE e.clinic_id = $1 AND e.client_id = $2 AND e.seq < $3 \
         ORDER BY e.seq DESC LIMIT $4",
    )
    .bind_scope(scope)
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
                actor_kind: stored_kind(r.actor_kind.as_deref())?,
                actor_id: r.actor_id.map(StaffId::from_uuid),
                actor_name: r.actor_name,
                action: parse_enum(&r.action, "audit action")?,
                sections: sections_from_text(&r.sections),
                purpose: r.purpose,
            })
        })
        .collect()
}

/// The first clinic marked offboarded without a chain of its own whose
/// offboarding the platform's chain does not record (a
/// `clinic_offboarded` event naming it and its certificate).
async fn unrecorded_offboarding(tx: &mut Tx) -> Result<Option<ChainBreak>, StoreError> {
    let gone: Vec<Uuid> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM clinics c WHERE kind = 'clinic' AND status = 'offboarded' \
         AND NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.clinic_id = c.id) ORDER BY id"
    )
    .fetch_all(c)
    .await)?;
    if gone.is_empty() {
        return Ok(None);
    }
    let recorded: Vec<Option<String>> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT detail FROM audit_events WHERE clinic_id = $1 AND action = 'clinic_offboarded'"
    )
    .bind(crate::platform::platform_id().as_uuid())
    .fetch_all(c)
    .await)?;
    Ok(gone.into_iter().map(ClinicId::from_uuid).find_map(|clinic| {
        let names = format!("clinic:{clinic} certificate:");
        let found = recorded.iter().flatten().any(|d| d.contains(&names));
        (!found).then_some(ChainBreak {
            clinic_id: clinic,
            seq: 0,
            event_id: None,
            reason: "marked offboarded, but the platform's chain records no offboarding of it",
        })
    }))
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
    link_version: i64,
    actor_kind: Option<String>,
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
        // A clinic marked offboarded may have no chain only if the
        // platform's (verified, keyed) chain records its offboarding: else
        // marking a clinic offboarded would be a way to delete its chain.
        report.first_break = unrecorded_offboarding(&mut tx).await?;
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
        .bind_scope(scope)
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

/// Recompute one clinic's chain inside `tx`: each event's link (plain
/// SHA-256 for v1, HMAC-SHA-256 under the chain's key for v2), its link to
/// the previous one, gap-free numbering, v1 links only before v2 ones, a v2
/// link at the end, and the recorded head. Returns how many events were
/// checked and the first break, if any. `velum import` runs it on the rows
/// it has just inserted, before committing them.
///
/// # Errors
/// Database errors (a broken chain is a result, not an error).
pub async fn verify_chain(tx: &mut Tx, clinic_id: ClinicId) -> Result<(u64, Option<ChainBreak>), StoreError> {
    let checked = check_chain(tx, clinic_id).await?;
    let first_break = checked.first_break.or_else(|| {
        (checked.last_version == Some(chain::V1)).then_some(ChainBreak {
            clinic_id,
            seq: checked.events.cast_signed(),
            event_id: None,
            reason: "the chain ends in an unkeyed (v1) link; run velum audit upgrade",
        })
    });
    Ok((checked.events, first_break))
}

/// What [`check_chain`] found.
struct Checked {
    events: u64,
    first_break: Option<ChainBreak>,
    /// The link version of the last event (`None` for an empty chain).
    last_version: Option<i64>,
}

/// [`verify_chain`] without the rule that a chain ends in a v2 link (which
/// [`upgrade_chains`] is about to make true).
async fn check_chain(tx: &mut Tx, clinic_id: ClinicId) -> Result<Checked, StoreError> {
    let clinic = clinic_id.as_uuid();
    let key = tx.chain.for_chain(clinic);
    let fail = |seq, event_id, reason| ChainBreak {
        clinic_id,
        seq,
        event_id,
        reason,
    };
    let mut events = 0_u64;
    let mut expected_seq = 1_i64;
    let mut prev = chain::GENESIS;
    let mut last_version = None;
    let broken = |events, first_break| {
        Ok(Checked {
            events,
            first_break: Some(first_break),
            last_version: None,
        })
    };
    loop {
        let rows: Vec<EventRow> = on_tx!(tx, |c| {
            sqlx::query_as(
                "SELECT clinic_id, seq, id, at, actor_id, client_id, sections, action, purpose, source, detail, prev_hash, hash, link_version, actor_kind \
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
                return broken(events, fail(expected_seq, None, "event missing (gap in sequence)"));
            }
            if r.prev_hash.as_slice() != prev.as_slice() {
                return broken(events, fail(r.seq, Some(r.id), "does not link to the previous event"));
            }
            match (last_version, r.link_version) {
                (Some(chain::V2), chain::V1) => {
                    return broken(
                        events,
                        fail(r.seq, Some(r.id), "an unkeyed (v1) link after a keyed one"),
                    );
                }
                (_, chain::V1 | chain::V2) => {}
                _ => return broken(events, fail(r.seq, Some(r.id), "unknown link version")),
            }
            let Ok(hash) = to_hash(&r.hash) else {
                return broken(events, fail(r.seq, Some(r.id), "unreadable event fields"));
            };
            let bytes = canonical(&r);
            let intact = if r.link_version == chain::V1 {
                chain::link(&prev, &bytes) == hash
            } else {
                key.verify(&prev, &bytes, &hash)
            };
            if !intact {
                return broken(events, fail(r.seq, Some(r.id), "contents do not match its hash"));
            }
            prev = hash;
            last_version = Some(r.link_version);
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
    Ok(Checked {
        events,
        first_break,
        last_version,
    })
}

/// The bytes an event's link covers, from its stored columns.
fn canonical(r: &EventRow) -> Vec<u8> {
    CanonicalFields {
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
        actor_kind: r.actor_kind.as_deref(),
    }
    .encode()
}

/// What [`upgrade_chains`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpgradeReport {
    /// Chains re-linked under the key, with the number of v1 events each
    /// held (now covered by the chain's first keyed link).
    pub upgraded: Vec<(ClinicId, u64)>,
    /// Chains that were keyed already.
    pub already_keyed: usize,
    /// Chains left as they are because they do not verify: upgrading them
    /// would seal an altered history under the key.
    pub broken: Vec<ChainBreak>,
}

/// The job name [`upgrade_chains`] records as its actor.
pub const UPGRADE_JOB: &str = "audit_chain_upgrade";

/// Re-link every chain that still ends in a plain SHA-256 (v1) link under
/// the key: verify it as it stands, then append an
/// [`AuditAction::AuditChainUpgraded`] event whose keyed (v2) link covers
/// the last v1 link, so nobody without the key can rewrite any of the
/// earlier events and recompute the hashes. Chains that do not verify are
/// left alone and reported. Idempotent: a keyed chain is not touched. Clears
/// the marker migration 0009 left ([`chain_upgrade_pending`]).
///
/// # Errors
/// Database errors.
pub async fn upgrade_chains(tx: &mut Tx, at: Timestamp) -> Result<UpgradeReport, StoreError> {
    let chains: Vec<Uuid> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT clinic_id FROM audit_heads ORDER BY clinic_id"
    )
    .fetch_all(c)
    .await)?;
    let mut report = UpgradeReport::default();
    for clinic in chains {
        let clinic = ClinicId::from_uuid(clinic);
        let checked = check_chain(tx, clinic).await?;
        if let Some(b) = checked.first_break {
            report.broken.push(b);
            continue;
        }
        if checked.last_version != Some(chain::V1) {
            report.already_keyed += 1;
            continue;
        }
        let event = NewAuditEvent {
            clinic_id: clinic,
            actor_kind: ActorKind::System(UPGRADE_JOB.to_owned()),
            actor_id: None,
            client_id: None,
            sections: Vec::new(),
            action: AuditAction::AuditChainUpgraded,
            purpose: velum_core::actor::Purpose::Security,
            source: None,
            detail: Some(format!("link:v2 v1_events:{}", checked.events)),
        };
        append(tx, event, at).await?;
        report.upgraded.push((clinic, checked.events));
    }
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM meta WHERE key = 'audit_chain_upgrade'"
    )
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(report)
}

/// Is the upgrade migration 0009 asked for still to be done (see
/// [`upgrade_chains`])?
///
/// # Errors
/// Database errors.
pub async fn chain_upgrade_pending(tx: &mut Tx) -> Result<bool, StoreError> {
    // On PostgreSQL the marker row is locked, so of several servers starting
    // at once one upgrades and the others then find the marker gone (SQLite's
    // write transaction already runs alone).
    let sql = match tx.backend() {
        Backend::Sqlite => "SELECT key FROM meta WHERE key = 'audit_chain_upgrade'",
        Backend::Postgres => "SELECT key FROM meta WHERE key = 'audit_chain_upgrade' FOR UPDATE",
    };
    let marker: Option<String> = on_tx!(tx, |c| sqlx::query_scalar(sql).fetch_optional(c).await)?;
    Ok(marker.is_some())
}

/// One event of a clinic's trail, for the audit page.
#[derive(Clone, Debug)]
pub struct TrailEntry {
    pub seq: i64,
    pub at: Timestamp,
    /// `None` for events stored before the kind was recorded.
    pub actor_kind: Option<ActorKind>,
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
    actor_kind: Option<String>,
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
        "SELECT e.seq, e.at, e.actor_kind, e.actor_id, \
                COALESCE(s.display_name, op.display_name || ' (platform support)') AS actor_name, e.client_id, \
                cl.given_name, cl.family_name, e.action, e.sections, e.purpose, e.source, e.detail \
         FROM audit_events e \
         LEFT JOIN staff s ON s.clinic_id = e.clinic_id AND s.id = e.actor_id \
         LEFT JOIN staff op ON op.clinic_id = $4 AND op.id = e.actor_id \
         LEFT JOIN clients cl ON cl.clinic_id = e.clinic_id AND cl.id = e.client_id \
         WHERE e.clinic_id = $1 AND e.seq < $2 ORDER BY e.seq DESC LIMIT $3",
    )
    .bind_scope(scope)
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
                actor_kind: stored_kind(r.actor_kind.as_deref())?,
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

/// A chain's current head: its last event's number, link, link version
/// and time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub link: [u8; 32],
    pub link_version: i64,
    pub at: Timestamp,
}

/// The clinic chain's head as recorded (`None` for a chain with no events).
///
/// # Errors
/// Database errors; `Corrupt` when the head names no stored event.
pub async fn head(tx: &mut Tx, scope: &ClinicScope) -> Result<Option<Head>, StoreError> {
    /// seq, hash, and the head event's link version and time.
    type HeadRow = (i64, Vec<u8>, Option<i64>, Option<i64>);
    let row: Option<HeadRow> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT h.seq, h.hash, e.link_version, e.at FROM audit_heads h \
         LEFT JOIN audit_events e ON e.clinic_id = h.clinic_id AND e.seq = h.seq \
         WHERE h.clinic_id = $1"
    )
    .bind_scope(scope)
    .fetch_optional(c)
    .await)?;
    match row {
        None => Ok(None),
        Some((seq, hash, Some(link_version), Some(at))) => Ok(Some(Head {
            seq,
            link: to_hash(&hash)?,
            link_version,
            at: from_micros(at)?,
        })),
        Some(_) => Err(StoreError::Corrupt("audit head names no event")),
    }
}

/// The stored link of event `seq` of the clinic's chain, if there is one.
///
/// # Errors
/// Database errors.
pub async fn link_at(tx: &mut Tx, scope: &ClinicScope, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT hash FROM audit_events WHERE clinic_id = $1 AND seq = $2"
    )
    .bind_scope(scope)
    .bind(seq)
    .fetch_optional(c)
    .await)?)
}

/// Clinics (not offboarded) whose owners were last mailed the signed head
/// at or before `cutoff`, or never.
///
/// # Errors
/// Database errors.
pub async fn heads_due_for_mail(tx: &mut Tx, cutoff: Timestamp) -> Result<Vec<ClinicId>, StoreError> {
    let ids: Vec<Uuid> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT c.id FROM clinics c LEFT JOIN audit_head_mailings m ON m.clinic_id = c.id \
         WHERE c.kind = 'clinic' AND c.status <> 'offboarded' \
           AND (m.last_sent_at IS NULL OR m.last_sent_at <= $1) \
         ORDER BY c.id"
    )
    .bind(micros(cutoff))
    .fetch_all(c)
    .await)?;
    Ok(ids.into_iter().map(ClinicId::from_uuid).collect())
}

/// Record that the clinic's signed head is being mailed at `now`, unless
/// another server recorded it after `cutoff` meanwhile: `false` then, and
/// the caller sends nothing.
///
/// # Errors
/// Database errors.
pub async fn claim_head_mail(
    tx: &mut Tx,
    scope: &ClinicScope,
    cutoff: Timestamp,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let n = on_tx!(tx, |c| sqlx::query(
        "INSERT INTO audit_head_mailings (clinic_id, last_sent_at) VALUES ($1, $3) \
         ON CONFLICT (clinic_id) DO UPDATE SET last_sent_at = excluded.last_sent_at \
         WHERE audit_head_mailings.last_sent_at <= $2"
    )
    .bind_scope(scope)
    .bind(micros(cutoff))
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The email addresses of the clinic's enabled owners.
///
/// # Errors
/// Database errors.
pub async fn owner_emails(tx: &mut Tx, scope: &ClinicScope) -> Result<Vec<String>, StoreError> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT email FROM staff WHERE clinic_id = $1 AND role = 'owner' AND disabled = FALSE ORDER BY email"
    )
    .bind_scope(scope)
    .fetch_all(c)
    .await)?)
}
