//! SDK errors -> `RepositoryError`, where the SDK is called. Throttling (after the SDK's own
//! retries) is `Throttled`; everything else the table or the network does is `Unavailable`,
//! with the cause logged once. Messages carry DynamoDB's error code and message, which name
//! attributes and limits, never the values of an item (no record, no envelope).

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use coffer_core::ports::RepositoryError;

/// Error codes (top-level and cancellation reasons) that mean "too many requests".
const THROTTLING_CODES: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ProvisionedThroughputExceeded",
    "ThrottlingException",
    "ThrottlingError",
    "RequestLimitExceeded",
    "Throttling",
];

pub(crate) fn is_throttling(code: Option<&str>) -> bool {
    code.is_some_and(|c| THROTTLING_CODES.contains(&c))
}

/// Maps any SDK failure of `operation` that the caller did not handle itself.
pub(crate) fn sdk_error<E, R>(operation: &'static str, err: &SdkError<E, R>) -> RepositoryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code();
    let summary = match (code, err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(err).to_string(),
    };
    if is_throttling(code) {
        tracing::warn!(operation, error = %summary, "dynamodb throttled the request");
        return RepositoryError::Throttled(format!("DynamoDB {operation}: {summary}"));
    }
    tracing::error!(operation, error = %DisplayErrorContext(err), "dynamodb request failed");
    if code == Some("ValidationException")
        && err
            .message()
            .is_some_and(|m| m.to_ascii_lowercase().contains("size"))
    {
        return RepositoryError::Unavailable(format!(
            "DynamoDB {operation} refused an item over its 400 KB limit ({summary})"
        ));
    }
    RepositoryError::Unavailable(format!("DynamoDB {operation} failed: {summary}"))
}

/// True when a single-item write failed its `ConditionExpression`.
pub(crate) fn is_condition_failed<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.code() == Some("ConditionalCheckFailedException")
}

/// True when a single-item write collided with a transaction in flight on the same item.
pub(crate) fn is_transaction_conflict<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.code() == Some("TransactionConflictException")
}

/// Why a `TransactWriteItems` was cancelled, per item, as far as the adapter cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cancelled {
    /// The condition of the item at this index (in request order) was not met.
    ConditionFailed(usize),
    /// Another transaction or write on one of the items was in flight.
    Conflict,
    /// Throttled.
    Throttled(String),
    /// Anything else (validation, item too large, ...).
    Other(String),
}

/// Classifies a cancelled transaction; `None` for any other failure.
pub(crate) fn cancellation<R>(err: &SdkError<TransactWriteItemsError, R>) -> Option<Cancelled> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            Some(classify(e.cancellation_reasons()))
        }
        _ => None,
    }
}

fn classify(reasons: &[CancellationReason]) -> Cancelled {
    // A failed condition is the answer the caller needs (Conflict / NameTaken), so it wins over
    // reasons of other items.
    if let Some(i) = reasons
        .iter()
        .position(|r| r.code() == Some("ConditionalCheckFailed"))
    {
        return Cancelled::ConditionFailed(i);
    }
    if reasons
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
    {
        return Cancelled::Conflict;
    }
    let described: Vec<String> = reasons
        .iter()
        .enumerate()
        .filter(|(_, r)| r.code().is_some_and(|c| c != "None"))
        .map(|(i, r)| {
            format!(
                "item {i}: {} {}",
                r.code().unwrap_or_default(),
                r.message().unwrap_or_default()
            )
        })
        .collect();
    let text = described.join("; ");
    if reasons.iter().any(|r| is_throttling(r.code())) {
        Cancelled::Throttled(text)
    } else {
        Cancelled::Other(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder()
            .code(code)
            .message("m")
            .build()
    }

    #[test]
    fn classify_prefers_the_failed_condition_and_its_index() {
        let reasons = [
            reason("None"),
            reason("TransactionConflict"),
            reason("ConditionalCheckFailed"),
        ];
        assert_eq!(classify(&reasons), Cancelled::ConditionFailed(2));
        assert_eq!(
            classify(&[reason("None"), reason("TransactionConflict")]),
            Cancelled::Conflict
        );
        assert!(matches!(
            classify(&[reason("ThrottlingError"), reason("None")]),
            Cancelled::Throttled(_)
        ));
        match classify(&[reason("None"), reason("ValidationError")]) {
            Cancelled::Other(text) => assert_eq!(text, "item 1: ValidationError m"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
