//! The gauges on CloudWatch: `ResourceCount` (every secret, those scheduled for deletion
//! included, as AWS defines it) and `SecretsOverdueForRotation`, published with `PutMetricData`.
//!
//! Place in the data path: none. The scheduler function (and `coffer serve --backend aws` every
//! `--gauge-interval-secs`) computes the gauges with `SecretsService::gauges()` and hands them
//! to [`publish_gauges`]. Per-request metrics go out as EMF lines instead ([`crate::emf`]).
//!
//! Each gauge is published twice: per region (dimension `Region`, summed over the region's
//! accounts; what an alarm usually watches) and per scope (dimensions `Region`, `AccountId`).
//!
//! The SDK is pinned to `aws-sdk-cloudwatch =1.99.0`, the last release speaking the awsQuery
//! protocol: later releases speak CBOR, which moto's server (our test double) does not.

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use coffer_core::metrics::ScopeGauges;
use std::collections::BTreeMap;

pub use aws_sdk_cloudwatch::Client;

/// Secrets in a region, those scheduled for deletion included.
pub const RESOURCE_COUNT: &str = "ResourceCount";
/// Secrets with rotation enabled whose next rotation is in the past.
pub const SECRETS_OVERDUE_FOR_ROTATION: &str = "SecretsOverdueForRotation";
pub const DIMENSION_REGION: &str = "Region";
pub const DIMENSION_ACCOUNT: &str = "AccountId";

/// `PutMetricData` takes at most 1000 data points per request.
const MAX_DATA_PER_REQUEST: usize = 1000;

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

fn datum(name: &str, value: u64, dimensions: Vec<Dimension>, at: DateTime) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(name)
        .set_dimensions(Some(dimensions))
        .value(value as f64)
        .unit(StandardUnit::Count)
        .timestamp(at)
        .build()
}

/// The data points of `gauges` at `at`: per region, then per scope.
pub fn gauge_data(gauges: &[ScopeGauges], at: DateTime) -> Vec<MetricDatum> {
    let mut per_region: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for g in gauges {
        let entry = per_region.entry(g.scope.region.as_str()).or_default();
        entry.0 += g.resource_count;
        entry.1 += g.overdue_rotations;
    }
    let mut data = Vec::new();
    for (region, (count, overdue)) in per_region {
        let dims = || vec![dimension(DIMENSION_REGION, region)];
        data.push(datum(RESOURCE_COUNT, count, dims(), at));
        data.push(datum(SECRETS_OVERDUE_FOR_ROTATION, overdue, dims(), at));
    }
    for g in gauges {
        let dims = || {
            vec![
                dimension(DIMENSION_REGION, &g.scope.region),
                dimension(DIMENSION_ACCOUNT, &g.scope.account),
            ]
        };
        data.push(datum(RESOURCE_COUNT, g.resource_count, dims(), at));
        data.push(datum(
            SECRETS_OVERDUE_FOR_ROTATION,
            g.overdue_rotations,
            dims(),
            at,
        ));
    }
    data
}

/// Publishes `gauges` (timestamped now) in `namespace` with `PutMetricData`. Returns the number
/// of data points sent.
pub async fn publish_gauges(
    client: &Client,
    namespace: &str,
    gauges: &[ScopeGauges],
) -> Result<usize, String> {
    let data = gauge_data(gauges, DateTime::from(std::time::SystemTime::now()));
    for chunk in data.chunks(MAX_DATA_PER_REQUEST) {
        client
            .put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| format!("PutMetricData: {}", DisplayErrorContext(&e)))?;
    }
    Ok(data.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_core::ids::Scope;

    #[test]
    fn gauge_data_sums_per_region_and_keeps_scopes() {
        let g = |region: &str, account: &str, count, overdue| ScopeGauges {
            scope: Scope::new(region, account),
            resource_count: count,
            overdue_rotations: overdue,
        };
        let data = gauge_data(
            &[
                g("us-east-1", "111", 3, 1),
                g("us-east-1", "222", 2, 0),
                g("eu-west-1", "111", 1, 1),
            ],
            DateTime::from_secs(0),
        );
        let find = |name: &str, dims: &[(&str, &str)]| {
            data.iter()
                .find(|d| {
                    d.metric_name() == Some(name)
                        && d.dimensions().len() == dims.len()
                        && d.dimensions()
                            .iter()
                            .zip(dims)
                            .all(|(d, (n, v))| d.name() == Some(*n) && d.value() == Some(*v))
                })
                .and_then(|d| d.value())
        };
        assert_eq!(data.len(), 10);
        assert_eq!(find(RESOURCE_COUNT, &[("Region", "us-east-1")]), Some(5.0));
        assert_eq!(
            find(SECRETS_OVERDUE_FOR_ROTATION, &[("Region", "us-east-1")]),
            Some(1.0)
        );
        assert_eq!(
            find(
                RESOURCE_COUNT,
                &[("Region", "us-east-1"), ("AccountId", "222")]
            ),
            Some(2.0)
        );
        assert_eq!(
            find(SECRETS_OVERDUE_FOR_ROTATION, &[("Region", "eu-west-1")]),
            Some(1.0)
        );
    }
}
