//! `SystemClock`: the wall clock as the core's [`Clock`] port (creation dates, rotation
//! schedules, recovery windows, SigV4 time checks), and `TokioSleeper`: real waits for the
//! rotation driver's backoff. Tests inject a fixed clock and instant waits instead.

use coffer_core::clock::{Clock, Timestamp};
use coffer_core::rotation::driver::Sleeper;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The system's real-time clock, in UTC milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
            // A clock set before 1970: negative, rather than a panic.
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Timestamp::from_millis(millis)
    }
}

/// Waits on tokio's timer (the rotation driver's backoff between attempts).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[async_trait::async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_after_2024_and_monotone_enough() {
        let a = SystemClock.now();
        let b = SystemClock.now();
        assert!(a.millis() > 1_704_067_200_000, "{a:?}");
        assert!(b >= a);
    }
}
