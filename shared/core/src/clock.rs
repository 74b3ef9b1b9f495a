//! Time and randomness as ports. The core never reads the system clock or an OS RNG itself:
//! adapters inject them, so tests are deterministic and never sleep.

/// Milliseconds since the Unix epoch, UTC. Serialized as epoch seconds with a fractional part
/// (the JSON 1.1 protocol's timestamp form; see `api`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

pub const MILLIS_PER_DAY: i64 = 86_400_000;
pub const MILLIS_PER_HOUR: i64 = 3_600_000;

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch with a fractional part, as the JSON 1.1 protocol sends timestamps.
    pub fn epoch_seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    pub fn plus_days(self, days: i64) -> Self {
        Timestamp(self.0 + days * MILLIS_PER_DAY)
    }

    pub fn plus_hours(self, hours: i64) -> Self {
        Timestamp(self.0 + hours * MILLIS_PER_HOUR)
    }

    /// Midnight UTC of the same day (AWS reports `LastAccessedDate` at day granularity).
    pub fn start_of_day(self) -> Self {
        Timestamp(self.0.div_euclid(MILLIS_PER_DAY) * MILLIS_PER_DAY)
    }

    pub fn to_offset_datetime(self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    pub fn from_offset_datetime(dt: time::OffsetDateTime) -> Self {
        Timestamp((dt.unix_timestamp_nanos() / 1_000_000) as i64)
    }
}

/// The current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// A cryptographically secure source of random bytes (passwords, ids, data keys, ARN suffixes).
pub trait RandomSource: Send + Sync {
    fn fill(&self, buf: &mut [u8]);
}
