//! The durable job queue: background work as rows of `jobs`, queued in the
//! transaction of the action that asks for it, and claimed by one worker at
//! a time with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
//! servers claiming at once skip each other's rows; on SQLite the claim runs
//! inside the single writer, `BEGIN IMMEDIATE`).
//!
//! A job has a kind (the app names its kinds; the store does not know
//! them), the clinic it belongs to (the platform's id for work of no
//! clinic), an optional payload sealed under that clinic's key (the
//! platform's when the clinic has none, as for the outbox) and cleared once
//! the job is done or failed, when to run it, how many attempts it may take,
//! a back-off that doubles with each attempt, and an optional unique key:
//! queueing a second job with a key already taken queues nothing, which
//! makes queueing idempotent. `last_error` must never hold personal data.

use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;
use velum_core::ClinicId;
use velum_crypto::{Aad, ClinicKey};
use zeroize::Zeroizing;

use crate::bind::BindScope;
use crate::outbox::{opening_key, sealing_key};
use crate::{ClinicScope, StoreError, Tx, from_micros, micros};

/// Associated data of a sealed payload: the job's own clinic and id.
///
/// **NEVER CHANGE THIS.** Queued payloads were sealed with it.
fn aad(clinic: ClinicId, id: Uuid) -> Aad {
    Aad::record("jobs.payload", &[clinic.as_uuid(), id])
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// Waiting for its `run_at`.
    Queued,
    /// Claimed by a worker (until its lease ends).
    Running,
    /// Finished; its payload is cleared.
    Done,
    /// Attempts exhausted or refused for good; its payload is cleared.
    Failed,
}

impl JobState {
    /// The value stored in `jobs.state`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<JobState, StoreError> {
        match s {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "done" => Ok(JobState::Done),
            "failed" => Ok(JobState::Failed),
            _ => Err(StoreError::Corrupt("unknown job state")),
        }
    }
}

/// A job to queue.
#[derive(Debug)]
pub struct NewJob<'a> {
    pub kind: &'a str,
    pub clinic: ClinicId,
    /// Queue nothing if a job of the same clinic with this key exists
    /// already (in any state).
    pub unique_key: Option<&'a str>,
    /// Sealed under the clinic's key before it is stored.
    pub payload: Option<&'a [u8]>,
    pub run_at: Timestamp,
    /// Attempts allowed before the job fails for good (at least 1).
    pub max_attempts: i64,
    /// The wait after the first failed attempt; it doubles with each further
    /// one (at most 64 times this).
    pub backoff: SignedDuration,
}

/// Queue `job`; `id` names it (a new v7 id when `None`). Returns the id, or
/// `None` when its unique key was taken and nothing was queued.
///
/// # Errors
/// Database errors; `Corrupt` if a payload is given and the store was
/// opened without the master key.
pub async fn enqueue(
    tx: &mut Tx,
    job: &NewJob<'_>,
    id: Option<Uuid>,
    now: Timestamp,
) -> Result<Option<Uuid>, StoreError> {
    let id = id.unwrap_or_else(Uuid::now_v7);
    let (sealed, key_clinic, key_id) = match job.payload {
        Some(plain) => {
            let (owner, key_id, key) = sealing_key(tx, job.clinic, now).await?;
            (
                Some(key.seal(plain, &aad(job.clinic, id))),
                Some(owner.as_uuid()),
                Some(key_id),
            )
        }
        None => (None, None, None),
    };
    let inserted = on_tx!(tx, |c| sqlx::query(
        "INSERT INTO jobs (id, kind, clinic_id, unique_key, payload, key_clinic_id, key_id, state, attempts, \
                           max_attempts, backoff_micros, run_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $9, $10, $11) \
         ON CONFLICT (clinic_id, unique_key) DO NOTHING"
    )
    .bind(id)
    .bind(job.kind)
    .bind(job.clinic.as_uuid())
    .bind(job.unique_key)
    .bind(sealed)
    .bind(key_clinic)
    .bind(key_id)
    .bind(job.max_attempts.max(1))
    .bind(job.backoff.as_micros() as i64)
    .bind(micros(job.run_at))
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok((inserted == 1).then_some(id))
}

/// A job claimed by a worker.
#[derive(Debug)]
pub struct Claimed {
    pub id: Uuid,
    pub kind: String,
    pub clinic_id: ClinicId,
    pub unique_key: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub max_attempts: i64,
    pub backoff: SignedDuration,
    pub created_at: Timestamp,
    /// The opened payload, if the job has one.
    pub payload: Option<Zeroizing<Vec<u8>>>,
    /// The job had a payload that no longer opens (its key is gone, or the
    /// bytes were altered).
    pub unreadable: bool,
}

/// Which kinds a claim takes.
#[derive(Clone, Copy, Debug, Default)]
pub struct KindFilter<'a> {
    /// Only this kind.
    pub only: Option<&'a str>,
    /// Every kind but this one.
    pub except: Option<&'a str>,
}

type ClaimRow = (
    Uuid,
    String,
    Uuid,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    Option<Vec<u8>>,
    Option<Uuid>,
    Option<i64>,
);

/// Claim up to `limit` due jobs (queued ones whose `run_at` has come, and
/// running ones whose lease ended, as when a worker died) for `lease`, in
/// `run_at` order, counting an attempt for each; and open their payloads.
/// Two claimers never get the same job while its lease lasts.
///
/// # Errors
/// Database errors; `Corrupt` if a sealed payload is due and the store was
/// opened without the master key.
pub async fn claim(
    tx: &mut Tx,
    now: Timestamp,
    lease: SignedDuration,
    limit: i64,
    kinds: KindFilter<'_>,
) -> Result<Vec<Claimed>, StoreError> {
    let lock = match tx.backend() {
        crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        // The write transaction already holds SQLite's only write lock.
        crate::Backend::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', claimed_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs \
                      WHERE ((state = 'queued' AND run_at <= $1) OR (state = 'running' AND claimed_until <= $1)) \
                        AND (CAST($4 AS TEXT) IS NULL OR kind = $4) AND (CAST($5 AS TEXT) IS NULL OR kind <> $5) \
                      ORDER BY run_at, id LIMIT $3{lock}) \
         RETURNING id, kind, clinic_id, unique_key, attempts, max_attempts, backoff_micros, created_at, payload, \
                   key_clinic_id, key_id"
    );
    let now_us = micros(now);
    let lease_end = micros(now.saturating_add(lease).unwrap_or(now));
    let mut rows: Vec<ClaimRow> = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(now_us)
        .bind(lease_end)
        .bind(limit)
        .bind(kinds.only)
        .bind(kinds.except)
        .fetch_all(c)
        .await)?;
    // RETURNING gives no order; run the oldest first.
    rows.sort_by_key(|r| r.0);
    let mut out = Vec::with_capacity(rows.len());
    for (id, kind, clinic, unique_key, attempts, max_attempts, backoff, created_at, sealed, key_clinic, key_id) in rows
    {
        let clinic_id = ClinicId::from_uuid(clinic);
        let (payload, unreadable) = match (sealed, key_clinic, key_id) {
            (None, _, _) => (None, false),
            (Some(sealed), Some(key_clinic), Some(key_id)) => {
                let key: Option<ClinicKey> = opening_key(tx, ClinicId::from_uuid(key_clinic), key_id).await?;
                let opened = key.and_then(|k| k.open(&sealed, &aad(clinic_id, id)).ok());
                let unreadable = opened.is_none();
                (opened.map(Zeroizing::new), unreadable)
            }
            (Some(_), _, _) => (None, true),
        };
        out.push(Claimed {
            id,
            kind,
            clinic_id,
            unique_key,
            attempts,
            max_attempts,
            backoff: SignedDuration::from_micros(backoff),
            created_at: from_micros(created_at)?,
            payload,
            unreadable,
        });
    }
    Ok(out)
}

/// The job finished: it is done, its payload cleared.
///
/// # Errors
/// Database errors.
pub async fn complete(tx: &mut Tx, id: Uuid, now: Timestamp) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE jobs SET state = 'done', claimed_until = NULL, payload = NULL, last_error = NULL, finished_at = $2 \
         WHERE id = $1"
    )
    .bind(id)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Put a recurring job back in the queue for `run_at`, its attempts reset;
/// `error` (no personal data) records why its last run failed, if it did.
///
/// # Errors
/// Database errors.
pub async fn reschedule(tx: &mut Tx, id: Uuid, run_at: Timestamp, error: Option<&str>) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE jobs SET state = 'queued', claimed_until = NULL, attempts = 0, run_at = $2, last_error = $3 \
         WHERE id = $1"
    )
    .bind(id)
    .bind(micros(run_at))
    .bind(error)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// When a job that failed its `attempts`-th attempt at `now` runs again:
/// `backoff`, doubled for each attempt after the first (at most 64 times).
#[must_use]
pub fn retry_at(now: Timestamp, attempts: i64, backoff: SignedDuration) -> Timestamp {
    let factor = 1_i32 << (attempts - 1).clamp(0, 6);
    now.saturating_add(backoff.saturating_mul(factor)).unwrap_or(now)
}

/// An attempt failed with `error` (no personal data): the job runs again
/// after its back-off, or fails for good if it has no attempts left.
/// Returns the state it is left in.
///
/// # Errors
/// Database errors.
pub async fn retry_or_fail(tx: &mut Tx, job: &Claimed, error: &str, now: Timestamp) -> Result<JobState, StoreError> {
    if job.attempts >= job.max_attempts {
        fail(tx, job.id, error, now).await?;
        return Ok(JobState::Failed);
    }
    on_tx!(tx, |c| sqlx::query(
        "UPDATE jobs SET state = 'queued', claimed_until = NULL, run_at = $2, last_error = $3 WHERE id = $1"
    )
    .bind(job.id)
    .bind(micros(retry_at(now, job.attempts, job.backoff)))
    .bind(error)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(JobState::Queued)
}

/// Fail a job for good with `error` (no personal data); its payload is
/// cleared.
///
/// # Errors
/// Database errors.
pub async fn fail(tx: &mut Tx, id: Uuid, error: &str, now: Timestamp) -> Result<(), StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE jobs SET state = 'failed', claimed_until = NULL, payload = NULL, last_error = $2, finished_at = $3 \
         WHERE id = $1"
    )
    .bind(id)
    .bind(error)
    .bind(micros(now))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A failed job as its clinic's owner sees it: no payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedJob {
    pub id: Uuid,
    pub kind: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub failed_at: Option<Timestamp>,
}

type FailedRow = (Uuid, String, i64, Option<String>, i64, Option<i64>);

/// The clinic's failed jobs, newest first, at most `limit`.
///
/// # Errors
/// Database errors.
pub async fn failed(tx: &mut Tx, scope: &ClinicScope, limit: i64) -> Result<Vec<FailedJob>, StoreError> {
    let rows: Vec<FailedRow> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, kind, attempts, last_error, created_at, finished_at FROM jobs \
         WHERE clinic_id = $1 AND state = 'failed' ORDER BY finished_at DESC, id DESC LIMIT $2"
    )
    .bind_scope(scope)
    .bind(limit)
    .fetch_all(c)
    .await)?;
    rows.into_iter()
        .map(|(id, kind, attempts, last_error, created_at, finished_at)| {
            Ok(FailedJob {
                id,
                kind,
                attempts,
                last_error,
                created_at: from_micros(created_at)?,
                failed_at: finished_at.map(from_micros).transpose()?,
            })
        })
        .collect()
}

/// How many jobs there are of each kind and state, across every clinic:
/// counts only.
///
/// # Errors
/// Database errors.
pub async fn counts(tx: &mut Tx) -> Result<Vec<(String, JobState, i64)>, StoreError> {
    let rows: Vec<(String, String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state"
    )
    .fetch_all(c)
    .await)?;
    rows.into_iter()
        .map(|(kind, state, n)| Ok((kind, JobState::parse(&state)?, n)))
        .collect()
}

/// Delete done jobs that finished before `before` (recurring jobs are never
/// done: they are put back in the queue). Returns how many.
///
/// # Errors
/// Database errors.
pub async fn delete_done(tx: &mut Tx, before: Timestamp) -> Result<u64, StoreError> {
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM jobs WHERE state = 'done' AND finished_at < $1"
    )
    .bind(micros(before))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .map_err(StoreError::from)
}

/// The queue's contract, on SQLite always and on PostgreSQL when
/// `VELUM_TEST_PG_URL` is set (each test in a database of its own, dropped
/// afterwards).
#[cfg(test)]
mod contract {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use sqlx::Connection;
    use velum_crypto::MasterKey;

    use super::*;
    use crate::Store;

    #[expect(
        clippy::disallowed_methods,
        reason = "the test server is named by the environment, as in the testkit"
    )]
    fn env(name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    enum Place {
        Sqlite(tempfile::TempDir),
        Pg { admin: String, name: String },
    }

    struct Db {
        place: Place,
        master: Arc<MasterKey>,
    }

    impl Db {
        /// A fresh database, or `None` (with a loud line) for PostgreSQL
        /// without a server. With `CI` set, a missing server is a failure.
        async fn new(pg: bool) -> Option<Db> {
            let master = Arc::new(MasterKey::generate());
            let place = if pg {
                let Some(admin) = env("VELUM_TEST_PG_URL") else {
                    assert!(env("CI").is_none(), "CI is set but VELUM_TEST_PG_URL is not");
                    eprintln!("SKIPPED: PostgreSQL job-queue contract: VELUM_TEST_PG_URL is not set");
                    return None;
                };
                let name = format!("velum_jobs_{}", Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                Place::Pg { admin, name }
            } else {
                Place::Sqlite(tempfile::tempdir().unwrap())
            };
            Some(Db { place, master })
        }

        /// One server's connection pool to the database.
        async fn open(&self) -> Store {
            let m = &self.master;
            let store = match &self.place {
                Place::Sqlite(dir) => Store::open_sqlite(
                    &dir.path().join("t.db"),
                    &m.sqlcipher_key(),
                    &m.fingerprint(),
                    m.audit_chain_key(),
                )
                .await
                .unwrap(),
                Place::Pg { admin, name } => {
                    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                    Store::open_postgres(&format!("{base}/{name}"), &m.fingerprint(), m.audit_chain_key())
                        .await
                        .unwrap()
                }
            };
            store.with_master_key(m.clone())
        }

        async fn drop_database(self) {
            if let Place::Pg { admin, name } = self.place {
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    fn t0() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn clinic(n: u128) -> ClinicId {
        ClinicId::from_uuid(Uuid::from_u128(n))
    }

    fn job<'a>(kind: &'a str, key: Option<&'a str>, payload: Option<&'a [u8]>, run_at: Timestamp) -> NewJob<'a> {
        NewJob {
            kind,
            clinic: clinic(7),
            unique_key: key,
            payload,
            run_at,
            max_attempts: 3,
            backoff: SignedDuration::from_secs(10),
        }
    }

    async fn claim_at(store: &Store, now: Timestamp, limit: i64) -> Vec<Claimed> {
        let mut tx = store.begin().await.unwrap();
        let claimed = claim(&mut tx, now, SignedDuration::from_mins(2), limit, KindFilter::default())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        claimed
    }

    macro_rules! both {
        ($($name:ident),* $(,)?) => {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        if let Some(db) = super::Db::new(false).await {
                            super::$name(&db).await;
                            db.drop_database().await;
                        }
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        if let Some(db) = super::Db::new(true).await {
                            super::$name(&db).await;
                            db.drop_database().await;
                        }
                    }
                )*
            }
        };
    }

    both!(
        a_unique_key_queues_one_job,
        due_jobs_are_claimed_once_until_their_lease_ends,
        failures_back_off_then_fail_and_clear_the_payload,
        payloads_are_sealed_and_cleared_when_done,
        two_claimers_never_get_the_same_job,
        a_key_sealing_a_waiting_payload_outlives_a_rotation,
    );

    /// A rotation retires old clinic keys; one a queued job's payload is
    /// sealed under stays until the job has finished (its payload is
    /// cleared then), or the payload could never be opened.
    async fn a_key_sealing_a_waiting_payload_outlives_a_rotation(db: &Db) {
        let store = db.open().await;
        let here = clinic(7);
        let scope = velum_core::actor::PublicActor::of(here).scope();
        let mut tx = store.begin().await.unwrap();
        let first = db.master.wrap_clinic_key(&ClinicKey::generate(), here);
        crate::clinics::insert(&mut tx, here, "Jobs Clinic", &first, t0())
            .await
            .unwrap();
        let id = enqueue(&mut tx, &job("k", None, Some(b"sealed under key 1"), t0()), None, t0())
            .await
            .unwrap()
            .unwrap();
        let second = db.master.wrap_clinic_key(&ClinicKey::generate(), here);
        let current = crate::clinics::add_key(&mut tx, &scope, &second, t0()).await.unwrap();
        assert_eq!(
            crate::clinics::retire_unused_keys(&mut tx, &scope, current)
                .await
                .unwrap(),
            0,
            "key 1 still seals a waiting payload"
        );
        tx.commit().await.unwrap();
        let claimed = claim_at(&store, t0(), 10).await;
        assert_eq!(
            claimed[0].payload.as_deref().map(Vec::as_slice),
            Some(&b"sealed under key 1"[..])
        );
        let mut tx = store.begin().await.unwrap();
        complete(&mut tx, id, t0()).await.unwrap();
        assert_eq!(
            crate::clinics::retire_unused_keys(&mut tx, &scope, current)
                .await
                .unwrap(),
            1,
            "done, the job keeps no payload and key 1 goes"
        );
        assert_eq!(crate::clinics::key_ids(&mut tx, &scope).await.unwrap(), [current]);
        tx.commit().await.unwrap();
        store.close().await;
    }

    async fn a_unique_key_queues_one_job(db: &Db) {
        let store = db.open().await;
        let mut tx = store.begin().await.unwrap();
        let first = enqueue(&mut tx, &job("k", Some("once"), None, t0()), None, t0())
            .await
            .unwrap();
        assert!(first.is_some());
        let again = enqueue(&mut tx, &job("k", Some("once"), None, t0()), None, t0())
            .await
            .unwrap();
        assert_eq!(again, None, "the key is taken: nothing queued");
        // Jobs without a key are never refused as duplicates.
        for _ in 0..2 {
            assert!(
                enqueue(&mut tx, &job("k", None, None, t0()), None, t0())
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        tx.commit().await.unwrap();
        assert_eq!(claim_at(&store, t0(), 10).await.len(), 3);
        // Done, the key stays taken (idempotent for good, not only while queued).
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            enqueue(&mut tx, &job("k", Some("once"), None, t0()), None, t0())
                .await
                .unwrap(),
            None
        );
        let counts = counts(&mut tx).await.unwrap();
        assert_eq!(counts, [("k".to_owned(), JobState::Running, 3)]);
        tx.commit().await.unwrap();
        store.close().await;
    }

    async fn due_jobs_are_claimed_once_until_their_lease_ends(db: &Db) {
        let store = db.open().await;
        let later = t0().saturating_add(SignedDuration::from_mins(10)).unwrap();
        let mut tx = store.begin().await.unwrap();
        let due = enqueue(&mut tx, &job("k", None, None, t0()), None, t0())
            .await
            .unwrap()
            .unwrap();
        enqueue(&mut tx, &job("k", None, None, later), None, t0())
            .await
            .unwrap()
            .unwrap();
        enqueue(&mut tx, &job("other", None, None, t0()), None, t0())
            .await
            .unwrap()
            .unwrap();
        let only_other = claim(
            &mut tx,
            t0(),
            SignedDuration::from_mins(2),
            10,
            KindFilter {
                only: None,
                except: Some("k"),
            },
        )
        .await
        .unwrap();
        assert_eq!(
            only_other.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>(),
            ["other"]
        );
        complete(&mut tx, only_other[0].id, t0()).await.unwrap();
        tx.commit().await.unwrap();

        let claimed = claim_at(&store, t0(), 10).await;
        assert_eq!(
            claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
            [due],
            "only the due one"
        );
        assert_eq!(claimed[0].attempts, 1);
        assert!(claim_at(&store, t0(), 10).await.is_empty(), "claimed: not again");
        // The worker died: once the lease ends, the job is claimed again,
        // as a second attempt.
        let after_lease = t0().saturating_add(SignedDuration::from_mins(3)).unwrap();
        let again = claim_at(&store, after_lease, 10).await;
        assert_eq!(again.iter().map(|j| (j.id, j.attempts)).collect::<Vec<_>>(), [(due, 2)]);
        let mut tx = store.begin().await.unwrap();
        complete(&mut tx, due, after_lease).await.unwrap();
        tx.commit().await.unwrap();
        // Done jobs are never claimed; the later one is, when its time comes.
        let much_later = later.saturating_add(SignedDuration::from_mins(10)).unwrap();
        let last = claim_at(&store, much_later, 10).await;
        assert_eq!(last.len(), 1);
        assert_ne!(last[0].id, due);
        store.close().await;
    }

    async fn failures_back_off_then_fail_and_clear_the_payload(db: &Db) {
        let store = db.open().await;
        let mut tx = store.begin().await.unwrap();
        let id = enqueue(&mut tx, &job("k", None, Some(b"private words"), t0()), None, t0())
            .await
            .unwrap()
            .unwrap();
        // Another clinic's failed job, which this clinic's owner never sees.
        let theirs = NewJob {
            clinic: clinic(8),
            max_attempts: 1,
            ..job("k", None, None, t0())
        };
        let other = enqueue(&mut tx, &theirs, None, t0()).await.unwrap().unwrap();
        fail(&mut tx, other, "refused", t0()).await.unwrap();
        tx.commit().await.unwrap();

        let mut now = t0();
        // Back-off 10 s, doubled per attempt: 20 s after the first, 40 s
        // after the second; the third attempt is the last.
        for (attempt, wait_secs) in [(1, 10), (2, 20)] {
            let claimed = claim_at(&store, now, 10).await;
            assert_eq!(claimed.len(), 1);
            assert_eq!(claimed[0].attempts, attempt);
            assert_eq!(
                claimed[0].payload.as_deref().map(Vec::as_slice),
                Some(&b"private words"[..])
            );
            let mut tx = store.begin().await.unwrap();
            let state = retry_or_fail(&mut tx, &claimed[0], "the server did not answer", now)
                .await
                .unwrap();
            assert_eq!(state, JobState::Queued);
            tx.commit().await.unwrap();
            let just_before = now.saturating_add(SignedDuration::from_secs(wait_secs - 1)).unwrap();
            assert!(claim_at(&store, just_before, 10).await.is_empty(), "backing off");
            now = now.saturating_add(SignedDuration::from_secs(wait_secs)).unwrap();
        }
        let last = claim_at(&store, now, 10).await;
        assert_eq!(last[0].attempts, 3);
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            retry_or_fail(&mut tx, &last[0], "the server did not answer", now)
                .await
                .unwrap(),
            JobState::Failed
        );
        let failed_here = failed(&mut tx, &velum_core::actor::PublicActor::of(clinic(7)).scope(), 10)
            .await
            .unwrap();
        assert_eq!(failed_here.len(), 1);
        assert_eq!(failed_here[0].id, id);
        assert_eq!(failed_here[0].attempts, 3);
        assert_eq!(failed_here[0].last_error.as_deref(), Some("the server did not answer"));
        assert_eq!(failed_here[0].failed_at, Some(now));
        let payload: Option<Vec<u8>> = on_tx!(tx, |c| sqlx::query_scalar("SELECT payload FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(c)
            .await)
        .unwrap();
        assert_eq!(payload, None, "a failed job keeps no payload");
        assert_eq!(
            counts(&mut tx).await.unwrap(),
            [("k".to_owned(), JobState::Failed, 2)],
            "operators count every clinic's"
        );
        tx.commit().await.unwrap();
        let far = now.saturating_add(SignedDuration::from_hours(24)).unwrap();
        assert!(
            claim_at(&store, far, 10).await.is_empty(),
            "failed jobs never run again"
        );
        store.close().await;
    }

    async fn payloads_are_sealed_and_cleared_when_done(db: &Db) {
        let store = db.open().await;
        let mut tx = store.begin().await.unwrap();
        let id = enqueue(&mut tx, &job("k", None, Some(b"jane@example.org"), t0()), None, t0())
            .await
            .unwrap()
            .unwrap();
        let stored: Option<Vec<u8>> = on_tx!(tx, |c| sqlx::query_scalar("SELECT payload FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(c)
            .await)
        .unwrap();
        let stored = stored.expect("stored sealed");
        assert!(!String::from_utf8_lossy(&stored).contains("jane@example.org"));
        // Bound to its own job: moved onto another job's row, it does not open.
        let twin = enqueue(&mut tx, &job("k", None, Some(b"x"), t0()), None, t0())
            .await
            .unwrap()
            .unwrap();
        on_tx!(tx, |c| sqlx::query("UPDATE jobs SET payload = $1 WHERE id = $2")
            .bind(&stored)
            .bind(twin)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))
        .unwrap();
        tx.commit().await.unwrap();
        let claimed = claim_at(&store, t0(), 10).await;
        let mine = claimed.iter().find(|j| j.id == id).unwrap();
        assert_eq!(
            mine.payload.as_deref().map(Vec::as_slice),
            Some(&b"jane@example.org"[..])
        );
        assert!(!mine.unreadable);
        let moved = claimed.iter().find(|j| j.id == twin).unwrap();
        assert!(moved.unreadable && moved.payload.is_none());
        let mut tx = store.begin().await.unwrap();
        complete(&mut tx, id, t0()).await.unwrap();
        let left: Option<Vec<u8>> = on_tx!(tx, |c| sqlx::query_scalar("SELECT payload FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(c)
            .await)
        .unwrap();
        assert_eq!(left, None, "a done job keeps no payload");
        let later = t0().saturating_add(SignedDuration::from_hours(1)).unwrap();
        assert_eq!(delete_done(&mut tx, later).await.unwrap(), 1);
        tx.commit().await.unwrap();
        store.close().await;
    }

    async fn two_claimers_never_get_the_same_job(db: &Db) {
        let one = db.open().await;
        let two = db.open().await;
        let mut tx = one.begin().await.unwrap();
        for _ in 0..60 {
            enqueue(&mut tx, &job("k", None, None, t0()), None, t0()).await.unwrap();
        }
        tx.commit().await.unwrap();
        let drain = |store: Store| async move {
            let mut got = Vec::new();
            loop {
                let batch = claim_at(&store, t0(), 3).await;
                if batch.is_empty() {
                    return got;
                }
                got.extend(batch.into_iter().map(|j| j.id));
                tokio::task::yield_now().await;
            }
        };
        let (a, b) = tokio::join!(tokio::spawn(drain(one.clone())), tokio::spawn(drain(two.clone())));
        let (a, b) = (a.unwrap(), b.unwrap());
        let all: BTreeSet<Uuid> = a.iter().chain(&b).copied().collect();
        assert_eq!(a.len() + b.len(), 60, "every job claimed once");
        assert_eq!(all.len(), 60, "no job claimed twice");
        one.close().await;
        two.close().await;
    }
}
