//! Rotation outside a single call: rotation schedules ([`schedule`]: `rate(...)`, `cron(...)`,
//! `AutomaticallyAfterDays`), the scheduler tick that finds due rotations and expired deletions
//! ([`scheduler`]), and the driver that runs one rotation job through the rotation function's
//! four steps with retries ([`driver`]).
//!
//! Data path: RotateSecret (`service/rotation.rs`) starts a job through the `RotationInvoker`
//! port; the job runs [`driver`] (in `coffer serve`, or the `rotation` Lambda function), which
//! calls the rotation function (`RotationFunction` port) and records each step's outcome on
//! the secret (`service/rotation_jobs.rs`). [`scheduler`] runs on a timer (`coffer serve`, the
//! `scheduler` Lambda function on an EventBridge schedule).

pub mod driver;
pub mod schedule;
pub mod scheduler;
