//! The life of a rotation job as the store records it, for the runner that drives the
//! rotation function (`crate::rotation::driver`): is the job still the secret's current one,
//! did `finishSecret` move AWSCURRENT, and the bookkeeping at the end — `LastRotatedDate` and
//! the next window on success, the failed mark (AWSPENDING stays, the next window or
//! RotateSecret reattempts) on failure, the removal of the test's AWSPENDING label.
//!
//! A job is "current" while the secret's `in_progress` carries the SHA-256 of its token: a
//! newer RotateSecret replaces it, and a value written by hand (PutSecretValue / UpdateSecret
//! without the token) abandons it. Either way the runner stops without touching the secret.

use super::mutate::{Change, DeletedSecrets};
use super::rotation::{rotation_token_digest, schedule_next_window};
use super::{RequestContext, SecretsService};
use crate::audit::{Caller, SERVICE_PRINCIPAL};
use crate::error::Result;
use crate::ids::{StageLabel, VersionId, AWSCURRENT, AWSPENDING};
use crate::labels::remove_label;
use crate::model::SecretRecord;
use crate::ports::{RotationJob, VersionWrites};

/// Where a job stands, read from the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobStatus {
    /// The job is the secret's current rotation. `version` carries AWSPENDING (and, once
    /// `finishSecret` ran, AWSCURRENT).
    Current { version: VersionId, finished: bool },
    /// Another rotation replaced it, a manual write abandoned it, or the secret is gone or
    /// scheduled for deletion: the runner stops.
    NotCurrent,
}

/// The outcome of [`SecretsService::complete_rotation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// AWSCURRENT is on the job's version; `LastRotatedDate` and the next window are set.
    Rotated,
    /// The steps ran but AWSCURRENT is not on the job's version.
    NotFinished,
    /// The job is no longer the secret's current rotation.
    NotCurrent,
}

/// The request context of work Secrets Manager does by itself (rotation runner, scheduler).
pub fn service_context(scope: crate::ids::Scope, request_id: impl Into<String>) -> RequestContext {
    let account = scope.account.clone();
    RequestContext::root(
        scope,
        Caller {
            identity_type: "AWSService".to_string(),
            principal_arn: String::new(),
            account_id: account,
            access_key_id: None,
            source_ip: Some(SERVICE_PRINCIPAL.to_string()),
            user_agent: Some(SERVICE_PRINCIPAL.to_string()),
        },
        request_id,
    )
}

fn is_current_job(record: &SecretRecord, job: &RotationJob) -> bool {
    let digest = rotation_token_digest(&job.rotation_token);
    record.deleted.is_none()
        && record
            .rotation
            .in_progress
            .as_ref()
            .is_some_and(|p| p.token_sha256 == digest)
}

impl SecretsService {
    fn job_context(&self, job: &RotationJob) -> RequestContext {
        service_context(job.scope.clone(), job_request_id(job))
    }

    /// Reads where `job` stands.
    pub async fn rotation_job_status(&self, job: &RotationJob) -> Result<JobStatus> {
        let ctx = self.job_context(job);
        let record = match self.find_secret(&ctx, Some(job.secret_arn.as_str())).await {
            Ok(r) => r,
            Err(crate::error::Error::ResourceNotFound(_)) => return Ok(JobStatus::NotCurrent),
            Err(e) => return Err(e),
        };
        if !is_current_job(&record, job) {
            return Ok(JobStatus::NotCurrent);
        }
        let Some(progress) = record.rotation.in_progress.as_ref() else {
            return Ok(JobStatus::NotCurrent);
        };
        let Some(version) = record.version(&progress.version) else {
            return Ok(JobStatus::NotCurrent);
        };
        if !version.has_stage(AWSPENDING) && !version.has_stage(AWSCURRENT) {
            return Ok(JobStatus::NotCurrent);
        }
        Ok(JobStatus::Current {
            version: version.id.clone(),
            finished: version.has_stage(AWSCURRENT) && !progress.test_only,
        })
    }

    /// After the four steps: if AWSCURRENT moved to the job's version, records the rotation
    /// (`LastRotatedDate`, the next window) and ends the job.
    pub async fn complete_rotation(&self, job: &RotationJob) -> Result<Completion> {
        let now = self.ports.clock.now();
        self.mutate_current_job(job, DeletedSecrets::Refuse, Completion::NotCurrent, |r| {
            let Some(pending) = &job.pending_version else {
                return Ok(Change::Unchanged(Completion::NotCurrent));
            };
            if !r.version(pending).is_some_and(|v| v.has_stage(AWSCURRENT)) {
                return Ok(Change::Unchanged(Completion::NotFinished));
            }
            r.rotation.in_progress = None;
            r.rotation.last_rotated = Some(now);
            schedule_next_window(r, now);
            Ok(Change::Write(Completion::Rotated, VersionWrites::default()))
        })
        .await
    }

    /// The job gave up: AWSPENDING stays, the job is marked failed (so RotateSecret
    /// reattempts it), and the next window is scheduled from now.
    pub async fn mark_rotation_failed(&self, job: &RotationJob) -> Result<()> {
        let now = self.ports.clock.now();
        self.mutate_current_job(job, DeletedSecrets::Allow, (), |r| {
            if let Some(progress) = r.rotation.in_progress.as_mut() {
                progress.failed = true;
            }
            if job.pending_version.is_some() && r.rotation.enabled {
                schedule_next_window(r, now);
            }
            Ok(Change::Write((), VersionWrites::default()))
        })
        .await
    }

    /// Ends a test-only job: removes the AWSPENDING label the test put on AWSCURRENT's version.
    pub async fn finish_test_rotation(&self, job: &RotationJob) -> Result<()> {
        self.mutate_current_job(job, DeletedSecrets::Allow, (), |r| {
            let tested = r.rotation.in_progress.take().map(|p| p.version);
            if let Some(version) = tested.filter(|v| {
                r.version(v)
                    .is_some_and(|m| m.has_stage(AWSPENDING) && m.has_stage(AWSCURRENT))
            }) {
                remove_label(r, &version, &StageLabel::pending())?;
            }
            Ok(Change::Write((), VersionWrites::default()))
        })
        .await
    }

    /// Applies `change` to the job's secret while the job is still its current rotation;
    /// otherwise changes nothing and answers `not_current`.
    async fn mutate_current_job<T: Clone>(
        &self,
        job: &RotationJob,
        deleted: DeletedSecrets,
        not_current: T,
        mut change: impl FnMut(&mut SecretRecord) -> Result<Change<T>>,
    ) -> Result<T> {
        let ctx = self.job_context(job);
        self.mutate(&ctx, Some(job.secret_arn.as_str()), deleted, |r| {
            if !is_current_job(r, job) {
                return Ok(Change::Unchanged(not_current.clone()));
            }
            change(r)
        })
        .await
    }
}

/// A request id for a job's background work, derived from nothing secret.
fn job_request_id(job: &RotationJob) -> String {
    let version = job.pending_version.as_ref().map_or("test", |v| v.as_str());
    format!("rotation-{version}")
}
