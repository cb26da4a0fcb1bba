//! Background work, run through the durable job queue
//! ([`velum_store::jobs`]): each kind of job is one [`JobKind`] variant and
//! one handler in `App::run_job`. One-shot jobs (sending a queued mail)
//! are queued by the action that needs them; recurring jobs (handling
//! password-reset requests, housekeeping, weekly signed heads …) are one
//! row each, queued by [`App::schedule_recurring`] and put back in the
//! queue for their next run each time they finish.
//!
//! A one-shot job whose handler fails is retried after its back-off until
//! its attempts run out; then it is failed, its payload cleared, and its
//! clinic's owner sees it ([`App::failed_jobs`]). Operators see counts only
//! ([`App::job_counts`]).

use std::time::Duration;

use jiff::SignedDuration;
use velum_core::Actor;
use velum_store::jobs::{self, Claimed, JobState, KindFilter, NewJob};
use velum_store::outbox;

use crate::platform::platform_id;
use crate::{App, AppError};

/// What the worker does. Adding one is a variant here, its name in
/// [`JobKind::as_str`], and its handler in `App::run_job`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// Send one queued message (the job has the message's id).
    Mail,
    /// Handle queued password-reset requests (recurring).
    PasswordResets,
    /// Write the summaries of failed sign-ins with unknown emails whose
    /// window has ended (recurring).
    AnonymousFailures,
    /// Delete offboarding archives that waited past their time (recurring).
    ExpiredArchives,
    /// Delete expired sessions, spent links, stale throttle rows and old
    /// finished jobs (recurring).
    Housekeeping,
    /// Mail the weekly signed audit heads to clinic owners (recurring).
    SignedHeads,
    /// Delete an offboarded clinic's blobs (one-shot, queued by the
    /// offboarding's transaction; the job's unique key names the clinic).
    OffboardedBlobs,
}

impl JobKind {
    pub const ALL: [JobKind; 7] = [
        JobKind::Mail,
        JobKind::PasswordResets,
        JobKind::AnonymousFailures,
        JobKind::ExpiredArchives,
        JobKind::Housekeeping,
        JobKind::SignedHeads,
        JobKind::OffboardedBlobs,
    ];

    /// The name stored in `jobs.kind`. **Never change one**: queued jobs
    /// carry it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::Mail => outbox::JOB_KIND,
            JobKind::PasswordResets => "password_resets",
            JobKind::AnonymousFailures => "anonymous_failures",
            JobKind::ExpiredArchives => "expired_archives",
            JobKind::Housekeeping => "housekeeping",
            JobKind::SignedHeads => "signed_heads",
            JobKind::OffboardedBlobs => "offboarded_blobs",
        }
    }

    /// The kind stored as `s`, if this Velum knows it.
    #[must_use]
    pub fn parse(s: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// What the job does, for people.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            JobKind::Mail => "Sending an email",
            JobKind::PasswordResets => "Handling password-reset requests",
            JobKind::AnonymousFailures => "Summarising failed sign-ins",
            JobKind::ExpiredArchives => "Deleting expired offboarding archives",
            JobKind::Housekeeping => "Deleting expired sign-in state",
            JobKind::SignedHeads => "Mailing signed audit heads",
            JobKind::OffboardedBlobs => "Deleting an offboarded clinic's blobs",
        }
    }

    /// For a recurring kind: how often it runs, and how long after the
    /// worker first starts its first run waits.
    #[must_use]
    pub const fn recurring(self) -> Option<(SignedDuration, SignedDuration)> {
        match self {
            JobKind::Mail | JobKind::OffboardedBlobs => None,
            JobKind::PasswordResets => Some((SignedDuration::from_secs(5), SignedDuration::ZERO)),
            JobKind::AnonymousFailures | JobKind::ExpiredArchives => {
                Some((SignedDuration::from_mins(1), SignedDuration::ZERO))
            }
            JobKind::Housekeeping => Some((SignedDuration::from_mins(1), SignedDuration::from_secs(30))),
            JobKind::SignedHeads => Some((SignedDuration::from_mins(5), SignedDuration::ZERO)),
        }
    }
}

/// What a handler reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It did its work.
    Done,
    /// There was nothing left to do (e.g. the mail was sent already).
    Nothing,
    /// Try again after the back-off, for this reason (no personal data).
    Retry(String),
    /// Fail for good, for this reason (no personal data).
    GiveUp(String),
}

/// How a claimed job ended, as [`App::run_due_jobs`] counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ran {
    /// Its handler did its work.
    Done,
    /// Nothing was left to do.
    Nothing,
    /// It will be tried again.
    Retrying,
    /// It failed for good.
    Failed,
}

/// How long a claim lasts: a worker that dies mid-job leaves it to be
/// claimed again after this.
const LEASE: SignedDuration = SignedDuration::from_mins(2);
/// Jobs claimed at once.
const BATCH: i64 = 20;
/// Batches run by one [`App::run_due_jobs`] (jobs queued by a job, such as
/// the mail of a password reset, run in a later batch of the same call).
const BATCHES: usize = 10;
/// Finished one-shot jobs are deleted this long after they finished.
const DONE_KEPT: SignedDuration = SignedDuration::from_hours(24);

/// A failed job, as its clinic's owner sees it: what it was doing and why it
/// failed, never its payload.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FailedJob {
    pub id: uuid::Uuid,
    /// The stored kind name.
    pub kind: String,
    /// What the job was doing.
    pub description: String,
    pub attempts: i64,
    /// Why it failed (never personal data).
    pub error: Option<String>,
    pub created_at: jiff::Timestamp,
    pub failed_at: Option<jiff::Timestamp>,
}

/// How many jobs there are of one kind in one state, across every clinic.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobCount {
    pub kind: String,
    /// queued, running, done or failed.
    pub state: &'static str,
    pub count: i64,
}

impl App {
    /// Queue each recurring job, if it is not queued already (its kind is
    /// its unique key, so two servers queue one between them).
    ///
    /// # Errors
    /// Database errors.
    pub async fn schedule_recurring(&self) -> Result<(), AppError> {
        let now = self.now();
        let mut tx = self.begin().await?;
        for kind in JobKind::ALL {
            let Some((_, first)) = kind.recurring() else {
                continue;
            };
            let job = NewJob {
                kind: kind.as_str(),
                clinic: platform_id(),
                unique_key: Some(kind.as_str()),
                payload: None,
                run_at: now.saturating_add(first).unwrap_or(now),
                max_attempts: 1,
                backoff: SignedDuration::from_secs(1),
            };
            jobs::enqueue(&mut tx, &job, None, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Run every due job (jobs queued meanwhile by other jobs included, up
    /// to a bound). Mail waits while no SMTP server is set. Returns what
    /// each job ran did.
    ///
    /// # Errors
    /// Database errors; a job's own failure is recorded on it, not returned.
    pub async fn run_due_jobs(&self) -> Result<Vec<(JobKind, Ran)>, AppError> {
        self.run_jobs(None).await
    }

    /// Run due jobs of `only` that kind (or of every kind).
    pub(crate) async fn run_jobs(&self, only: Option<JobKind>) -> Result<Vec<(JobKind, Ran)>, AppError> {
        let mail = JobKind::Mail.as_str();
        let filter = KindFilter {
            only: only.map(JobKind::as_str),
            except: self.settings().smtp.is_none().then_some(mail),
        };
        let mut ran = Vec::new();
        for _ in 0..BATCHES {
            let mut tx = self.begin().await?;
            let claimed = jobs::claim(&mut tx, self.now(), LEASE, BATCH, filter).await?;
            tx.commit().await?;
            if claimed.is_empty() {
                break;
            }
            for job in claimed {
                ran.extend(self.run_claimed(job).await?);
            }
        }
        Ok(ran)
    }

    /// Run one claimed job and record how it ended; `None` for a kind this
    /// server does not know (queued by a newer Velum), which is left to
    /// another server.
    async fn run_claimed(&self, job: Claimed) -> Result<Option<(JobKind, Ran)>, AppError> {
        let Some(kind) = JobKind::parse(&job.kind) else {
            let mut tx = self.begin().await?;
            let retry = self.now().saturating_add(LEASE).unwrap_or(self.now());
            jobs::reschedule(&mut tx, job.id, retry, Some("this server does not know the job's kind")).await?;
            tx.commit().await?;
            return Ok(None);
        };
        let outcome = if job.unreadable {
            Ok(Outcome::GiveUp(
                "the job's data cannot be opened (its key is gone)".to_owned(),
            ))
        } else {
            self.run_job(kind, &job).await
        };
        let now = self.now();
        let mut tx = self.begin().await?;
        let ran = if let Some((every, _)) = kind.recurring() {
            let error = match &outcome {
                Ok(Outcome::Done | Outcome::Nothing) => None,
                Ok(Outcome::Retry(e) | Outcome::GiveUp(e)) => Some(e.clone()),
                Err(e) => {
                    tracing::warn!(job = kind.as_str(), error = %e, "a background job failed; it runs again on schedule");
                    Some("the run failed (see the server log)".to_owned())
                }
            };
            let next = now.saturating_add(every).unwrap_or(now);
            jobs::reschedule(&mut tx, job.id, next, error.as_deref()).await?;
            if error.is_some() { Ran::Retrying } else { Ran::Done }
        } else {
            match outcome {
                Ok(Outcome::Done) => {
                    jobs::complete(&mut tx, job.id, now).await?;
                    Ran::Done
                }
                Ok(Outcome::Nothing) => {
                    jobs::complete(&mut tx, job.id, now).await?;
                    Ran::Nothing
                }
                Ok(Outcome::GiveUp(reason)) => {
                    jobs::fail(&mut tx, job.id, &reason, now).await?;
                    Ran::Failed
                }
                Ok(Outcome::Retry(reason)) => ran_after_retry(jobs::retry_or_fail(&mut tx, &job, &reason, now).await?),
                Err(e) => {
                    tracing::warn!(job = kind.as_str(), job_id = %job.id, error = %e, "a background job failed");
                    let reason = "the job failed (see the server log)";
                    ran_after_retry(jobs::retry_or_fail(&mut tx, &job, reason, now).await?)
                }
            }
        };
        tx.commit().await?;
        Ok(Some((kind, ran)))
    }

    /// The one place a job's kind meets its handler.
    async fn run_job(&self, kind: JobKind, job: &Claimed) -> Result<Outcome, AppError> {
        match kind {
            JobKind::Mail => self.send_queued_mail(job).await,
            JobKind::PasswordResets => self.process_password_resets().await.map(|_| Outcome::Done),
            JobKind::AnonymousFailures => self.summarise_anonymous_failures().await.map(|_| Outcome::Done),
            JobKind::ExpiredArchives => self.drop_expired_archives().await.map(|_| Outcome::Done),
            JobKind::Housekeeping => {
                self.housekeeping().await?;
                let before = self.now().saturating_sub(DONE_KEPT).unwrap_or(self.now());
                let mut tx = self.begin().await?;
                jobs::delete_done(&mut tx, before).await?;
                tx.commit().await?;
                Ok(Outcome::Done)
            }
            JobKind::SignedHeads => self.mail_signed_heads().await.map(|_| Outcome::Done),
            JobKind::OffboardedBlobs => Ok(self.delete_offboarded_blobs(job).await),
        }
    }

    /// The background worker of `velum serve`: queue the recurring jobs,
    /// then run due jobs every second, until the task is dropped.
    pub async fn work(self) {
        if let Err(e) = self.schedule_recurring().await {
            tracing::warn!(error = %e, "queueing the recurring jobs failed");
        }
        loop {
            if let Err(e) = self.run_due_jobs().await {
                tracing::warn!(error = %e, "running background jobs failed");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The failed jobs of the owner's clinic, newest first (at most 100):
    /// what each was doing and why it failed, never its payload.
    ///
    /// # Errors
    /// `Forbidden` (audited) unless `actor` is an owner.
    pub async fn failed_jobs(&self, actor: &Actor) -> Result<Vec<FailedJob>, AppError> {
        let actor = &self.staff_of(actor).await?;
        if !velum_core::policy::may_see_failed_jobs(actor.role) || actor.clinic_id == platform_id() {
            return Err(self.deny(actor, None, &[], "failed_jobs").await);
        }
        let mut tx = self.store().begin_read().await?;
        let rows = jobs::failed(&mut tx, &actor.scope(), 100).await?;
        Ok(rows
            .into_iter()
            .map(|j| FailedJob {
                description: JobKind::parse(&j.kind)
                    .map_or("Background work", JobKind::describe)
                    .to_owned(),
                id: j.id,
                kind: j.kind,
                attempts: j.attempts,
                error: j.last_error,
                created_at: j.created_at,
                failed_at: j.failed_at,
            })
            .collect())
    }

    /// How many jobs there are of each kind and state across the
    /// installation: counts only, for operators.
    ///
    /// # Errors
    /// `Forbidden` (audited) unless `actor` is an operator.
    pub async fn job_counts(&self, actor: &Actor) -> Result<Vec<JobCount>, AppError> {
        let actor = &self.staff_of(actor).await?;
        self.require_operator(actor).await?;
        let mut tx = self.store().begin_read().await?;
        Ok(jobs::counts(&mut tx)
            .await?
            .into_iter()
            .map(|(kind, state, count)| JobCount {
                kind,
                state: state.as_str(),
                count,
            })
            .collect())
    }
}

fn ran_after_retry(state: JobState) -> Ran {
    if state == JobState::Failed {
        Ran::Failed
    } else {
        Ran::Retrying
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_name_and_parses_back() {
        let names: std::collections::BTreeSet<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), JobKind::ALL.len());
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
            assert!(!kind.describe().is_empty());
        }
        assert_eq!(JobKind::parse("no_such_kind"), None);
        assert_eq!(JobKind::Mail.recurring(), None, "a mail is sent once");
    }
}
