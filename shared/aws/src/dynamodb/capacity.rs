//! Counting what DynamoDB reports as consumed: every request asks for
//! `ReturnConsumedCapacity = TOTAL`, and the units it reports are added here, so the cost model
//! of `docs/dynamodb-design.md` can be measured per repository call (snapshot, call, snapshot).

use aws_sdk_dynamodb::types::ConsumedCapacity as Reported;
use std::sync::Mutex;

/// Read and write capacity units that DynamoDB reported, and the requests sent (SDK retries of
/// one request count once).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConsumedCapacity {
    pub read_units: f64,
    pub write_units: f64,
    pub requests: u64,
}

impl ConsumedCapacity {
    /// What was consumed between `earlier` and `self` (two snapshots of one counter).
    pub fn since(&self, earlier: &ConsumedCapacity) -> ConsumedCapacity {
        ConsumedCapacity {
            read_units: self.read_units - earlier.read_units,
            write_units: self.write_units - earlier.write_units,
            requests: self.requests - earlier.requests,
        }
    }
}

/// Whether a request reads or writes: DynamoDB's TOTAL figure is one number (`CapacityUnits`),
/// which we attribute by the kind of request when it does not split it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Read,
    Write,
}

#[derive(Debug, Default)]
pub(crate) struct CapacityCounter {
    total: Mutex<ConsumedCapacity>,
}

impl CapacityCounter {
    pub(crate) fn snapshot(&self) -> ConsumedCapacity {
        *self.total.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds what one request reported (`reported` may be empty: moto omits the figure for
    /// `UpdateItem` and `TransactWriteItems`).
    pub(crate) fn record<'a>(
        &self,
        table: &str,
        operation: &'static str,
        access: Access,
        reported: impl IntoIterator<Item = &'a Reported>,
    ) {
        let (mut read, mut write) = (0.0, 0.0);
        for c in reported {
            match (c.read_capacity_units(), c.write_capacity_units()) {
                (None, None) => {
                    let units = c.capacity_units().unwrap_or(0.0);
                    match access {
                        Access::Read => read += units,
                        Access::Write => write += units,
                    }
                }
                (r, w) => {
                    read += r.unwrap_or(0.0);
                    write += w.unwrap_or(0.0);
                }
            }
        }
        {
            let mut total = self.total.lock().unwrap_or_else(|p| p.into_inner());
            total.read_units += read;
            total.write_units += write;
            total.requests += 1;
        }
        tracing::debug!(
            table,
            operation,
            read_units = read,
            write_units = write,
            "dynamodb consumed capacity"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_attributes_total_units_by_access_and_keeps_split_figures() {
        let counter = CapacityCounter::default();
        let total = Reported::builder().capacity_units(0.5).build();
        counter.record("t", "GetItem", Access::Read, [&total]);
        let total = Reported::builder().capacity_units(2.0).build();
        counter.record("t", "PutItem", Access::Write, [&total]);
        let split = Reported::builder()
            .capacity_units(3.0)
            .read_capacity_units(1.0)
            .write_capacity_units(2.0)
            .build();
        counter.record("t", "TransactWriteItems", Access::Write, [&split]);
        counter.record("t", "UpdateItem", Access::Write, []);
        let got = counter.snapshot();
        assert_eq!(
            got,
            ConsumedCapacity {
                read_units: 1.5,
                write_units: 4.0,
                requests: 4
            }
        );
        assert_eq!(
            got.since(&ConsumedCapacity {
                read_units: 0.5,
                write_units: 1.0,
                requests: 1
            }),
            ConsumedCapacity {
                read_units: 1.0,
                write_units: 3.0,
                requests: 3
            }
        );
    }
}
