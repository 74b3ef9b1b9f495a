//! RotateSecret and CancelRotateSecret on a recording rotation invoker: the value-less
//! AWSPENDING version, the stored configuration and its schedule on the clock, the job handed
//! over, a rotation that is still running (or stale, or refused), the rotation function's
//! PutSecretValue with its RotationToken, and a manual write abandoning a rotation.

use crate::harness::*;
use coffer_core::operation::Operation::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

cases! {
    RotateSecret Behaviour rotate_secret_stages_a_valueless_awspending_version_and_starts_the_job,
    RotateSecret Behaviour rotate_secret_stores_the_configuration_and_schedules_the_next_window,
    RotateSecret Behaviour rotate_secret_not_immediately_only_tests_the_configuration,
    RotateSecret Behaviour rotate_secret_refused_by_the_invoker_is_recorded_and_reattempted,
    RotateSecret Behaviour rotate_secret_again_once_awspending_is_gone_uses_the_stored_configuration,
    RotateSecret Behaviour rotation_completes_with_the_rotation_token_and_a_label_move,
    PutSecretValue Behaviour rotation_completes_with_the_rotation_token_and_a_label_move,
    UpdateSecretVersionStage Behaviour rotation_completes_with_the_rotation_token_and_a_label_move,
    PutSecretValue Behaviour put_secret_value_without_the_token_abandons_the_rotation,
    PutSecretValue Error put_secret_value_with_a_foreign_rotation_token_is_access_denied,
    RotateSecret Error rotate_secret_while_a_rotation_runs_is_invalid_request,
    RotateSecret Error rotate_secret_invalid_requests_configure_nothing,
    CancelRotateSecret Behaviour cancel_rotate_secret_disables_rotation_and_keeps_awspending,
    CancelRotateSecret Behaviour cancel_rotate_secret_without_rotation_changes_nothing,
    CancelRotateSecret Error cancel_rotate_secret_errors,
}

const ROTATION_INCOMPLETE: &str =
    "A previous rotation isn't complete. That rotation will be reattempted.";

fn rotate(id: &str, version: &str, extra: Value) -> Value {
    let mut body = json!({"SecretId": id, "ClientRequestToken": version});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

fn labels(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(id, l)| (id.to_string(), l.iter().map(|s| s.to_string()).collect()))
        .collect()
}

/// Midnight (UTC) of the day `days` after T0.
fn midnight_after(days: i64) -> f64 {
    secs(T0 - 12 * HOUR + days * DAY)
}

#[tokio::test]
pub async fn rotate_secret_stages_a_valueless_awspending_version_and_starts_the_job() {
    let h = Harness::new();
    let (arn, v1) = h.create("rot", "current").await;
    let pending = token(10);
    let out = h
        .ok(
            RotateSecret,
            rotate(
                "rot",
                &pending,
                json!({"RotationLambdaARN": lambda("rotator"),
                       "RotationRules": {"AutomaticallyAfterDays": 30}}),
            ),
        )
        .await;
    assert_eq!(
        out,
        json!({"ARN": arn, "Name": "rot", "VersionId": pending})
    );
    assert_eq!(
        h.stages("rot").await,
        labels(&[(&v1, &["AWSCURRENT"]), (&pending, &["AWSPENDING"])])
    );
    // The job handed to the rotation function.
    let jobs = h.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].secret_arn.as_str(), arn);
    assert_eq!(jobs[0].lambda_arn, lambda("rotator"));
    assert_eq!(
        jobs[0].pending_version.as_ref().map(|v| v.to_string()),
        Some(pending.clone())
    );
    assert!(!jobs[0].rotation_token.is_empty());
    assert_eq!(h.service_events(), ["RotationStarted"]);
    // The new version has no value: not readable, not listed; the current value is untouched.
    let missing = "Secrets Manager can't find the specified secret value for";
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "rot", "VersionStage": "AWSPENDING"}),
        )
        .await,
        "ResourceNotFoundException",
        &format!("{missing} staging label: AWSPENDING"),
    );
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "rot", "VersionId": pending}),
        )
        .await,
        "ResourceNotFoundException",
        &format!("{missing} VersionId: {pending}"),
    );
    assert_eq!(h.current("rot").await, "current");
    assert_eq!(h.version_count("rot").await, 1);
}

#[tokio::test]
pub async fn rotate_secret_stores_the_configuration_and_schedules_the_next_window() {
    let h = Harness::new();
    h.create("days", "v").await;
    h.ok(
        RotateSecret,
        rotate(
            "days",
            &token(1),
            json!({"RotationLambdaARN": lambda("rotator"),
                   "RotationRules": {"AutomaticallyAfterDays": 7}}),
        ),
    )
    .await;
    let d = h.describe("days").await;
    assert_eq!(d["RotationEnabled"], json!(true));
    assert_eq!(d["RotationLambdaARN"], json!(lambda("rotator")));
    assert_eq!(d["RotationRules"], json!({"AutomaticallyAfterDays": 7}));
    // The window is the UTC day seven days on, from midnight.
    assert_eq!(d["NextRotationDate"], json!(midnight_after(7)));
    assert!(d.get("LastRotatedDate").is_none(), "not rotated yet: {d}");

    h.create("sched", "v").await;
    h.advance(2 * DAY);
    h.ok(
        RotateSecret,
        rotate(
            "sched",
            &token(2),
            json!({"RotationLambdaARN": "rotator-fn",
                   "RotationRules": {"ScheduleExpression": "rate(10 days)", "Duration": "2h"}}),
        ),
    )
    .await;
    let d = h.describe("sched").await;
    assert_eq!(d["RotationLambdaARN"], json!("rotator-fn"));
    assert_eq!(
        d["RotationRules"],
        json!({"ScheduleExpression": "rate(10 days)", "Duration": "2h"})
    );
    assert_eq!(d["NextRotationDate"], json!(midnight_after(12)));
}

#[tokio::test]
pub async fn rotate_secret_not_immediately_only_tests_the_configuration() {
    let h = Harness::new();
    let (arn, v1) = h.create("test-only", "v").await;
    let out = h
        .ok(
            RotateSecret,
            rotate(
                "test-only",
                &token(3),
                json!({"RotationLambdaARN": lambda("rotator"), "RotateImmediately": false,
                       "RotationRules": {"AutomaticallyAfterDays": 1}}),
            ),
        )
        .await;
    assert_eq!(
        out,
        json!({"ARN": arn, "Name": "test-only"}),
        "no new version"
    );
    // testSecret runs against AWSPENDING staged on the current version.
    assert_eq!(
        h.stages("test-only").await,
        labels(&[(&v1, &["AWSCURRENT", "AWSPENDING"])])
    );
    let jobs = h.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].pending_version, None);
    assert_eq!(h.service_events(), ["TestRotationStarted"]);
    let d = h.describe("test-only").await;
    assert_eq!(d["RotationEnabled"], json!(true));
    assert_eq!(d["NextRotationDate"], json!(midnight_after(1)));
}

#[tokio::test]
pub async fn rotate_secret_refused_by_the_invoker_is_recorded_and_reattempted() {
    let h = Harness::new();
    h.create("refused", "v").await;
    h.invoker.refuse.store(true, Ordering::SeqCst);
    let pending = token(4);
    let out = h
        .ok(
            RotateSecret,
            rotate(
                "refused",
                &pending,
                json!({"RotationLambdaARN": lambda("rotator")}),
            ),
        )
        .await;
    assert_eq!(out["VersionId"], json!(pending));
    assert!(h.jobs().is_empty());
    assert_eq!(h.service_events(), ["RotationStarted", "RotationFailed"]);
    // The configuration and AWSPENDING stay; the next RotateSecret reattempts that rotation,
    // as AWS's message promises.
    h.invoker.refuse.store(false, Ordering::SeqCst);
    expect_error(
        &h.err(RotateSecret, rotate("refused", &token(5), json!({})))
            .await,
        "InvalidRequestException",
        ROTATION_INCOMPLETE,
    );
    let jobs = h.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].pending_version.as_ref().map(|v| v.to_string()),
        Some(pending)
    );
    assert_eq!(h.version_count("refused").await, 1);
}

#[tokio::test]
pub async fn rotate_secret_again_once_awspending_is_gone_uses_the_stored_configuration() {
    let h = Harness::new();
    let (_, v1) = h.create("again", "v").await;
    let first = token(6);
    h.ok(
        RotateSecret,
        rotate(
            "again",
            &first,
            json!({"RotationLambdaARN": lambda("rotator"),
                   "RotationRules": {"AutomaticallyAfterDays": 30}}),
        ),
    )
    .await;
    h.ok(
        UpdateSecretVersionStage,
        json!({"SecretId": "again", "VersionStage": "AWSPENDING", "RemoveFromVersionId": first}),
    )
    .await;
    let second = token(7);
    let out = h
        .ok(RotateSecret, rotate("again", &second, json!({})))
        .await;
    assert_eq!(out["VersionId"], json!(second));
    let jobs = h.jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].lambda_arn, lambda("rotator"), "the stored function");
    assert_eq!(
        h.stages("again").await,
        labels(&[(&v1, &["AWSCURRENT"]), (&second, &["AWSPENDING"])])
    );
    // AWSPENDING beside AWSCURRENT (a finished rotation) does not block a rotation.
    let h = Harness::new();
    let (_, v1b) = h.create("same", "v").await;
    h.ok(
        UpdateSecretVersionStage,
        json!({"SecretId": "same", "VersionStage": "AWSPENDING", "MoveToVersionId": v1b}),
    )
    .await;
    h.ok(
        RotateSecret,
        rotate(
            "same",
            &token(8),
            json!({"RotationLambdaARN": lambda("rotator")}),
        ),
    )
    .await;
    assert_eq!(
        h.stages("same").await,
        labels(&[(&v1b, &["AWSCURRENT"]), (&token(8), &["AWSPENDING"])])
    );
}

#[tokio::test]
pub async fn rotation_completes_with_the_rotation_token_and_a_label_move() {
    let h = Harness::new();
    let (arn, v1) = h.create("full", "old").await;
    let pending = token(9);
    h.ok(
        RotateSecret,
        rotate(
            "full",
            &pending,
            json!({"RotationLambdaARN": lambda("rotator")}),
        ),
    )
    .await;
    let job = h.jobs().pop().unwrap();
    // createSecret: the function puts the new value on the pending version with its token.
    let put = h
        .ok(
            PutSecretValue,
            json!({"SecretId": arn, "ClientRequestToken": pending, "SecretString": "new",
                   "VersionStages": ["AWSPENDING"], "RotationToken": job.rotation_token}),
        )
        .await;
    assert_eq!(
        put,
        json!({"ARN": arn, "Name": "full", "VersionId": pending, "VersionStages": ["AWSPENDING"]})
    );
    let staged = h
        .ok(
            GetSecretValue,
            json!({"SecretId": "full", "VersionStage": "AWSPENDING"}),
        )
        .await;
    assert_eq!(staged["SecretString"], json!("new"));
    assert_eq!(h.current("full").await, "old");
    // finishSecret: AWSCURRENT moves, AWSPREVIOUS follows, AWSPENDING stays with it.
    h.ok(
        UpdateSecretVersionStage,
        json!({"SecretId": arn, "VersionStage": "AWSCURRENT", "MoveToVersionId": pending,
               "RemoveFromVersionId": v1}),
    )
    .await;
    assert_eq!(h.current("full").await, "new");
    assert_eq!(
        h.stages("full").await,
        labels(&[
            (&v1, &["AWSPREVIOUS"]),
            (&pending, &["AWSCURRENT", "AWSPENDING"])
        ])
    );
    assert!(!h
        .service_events()
        .contains(&"RotationAbandoned".to_string()));
}

#[tokio::test]
pub async fn put_secret_value_without_the_token_abandons_the_rotation() {
    let h = Harness::new();
    let (_, v1) = h.create("manual", "old").await;
    let pending = token(11);
    h.ok(
        RotateSecret,
        rotate(
            "manual",
            &pending,
            json!({"RotationLambdaARN": lambda("rotator")}),
        ),
    )
    .await;
    let v2 = h.put("manual", "by hand").await;
    assert_eq!(
        h.stages("manual").await,
        labels(&[(&v1, &["AWSPREVIOUS"]), (&v2, &["AWSCURRENT"])]),
        "AWSPENDING left the abandoned rotation's version"
    );
    assert_eq!(h.service_events(), ["RotationStarted", "RotationAbandoned"]);
    // The job's token no longer counts, and a new rotation may start.
    let job = h.jobs().pop().unwrap();
    let e = h
        .err(
            PutSecretValue,
            json!({"SecretId": "manual", "ClientRequestToken": pending, "SecretString": "late",
                   "VersionStages": ["AWSPENDING"], "RotationToken": job.rotation_token}),
        )
        .await;
    assert_eq!(e.code(), "AccessDeniedException");
    h.ok(RotateSecret, rotate("manual", &token(12), json!({})))
        .await;
    assert_eq!(h.jobs().len(), 2);
}

#[tokio::test]
pub async fn put_secret_value_with_a_foreign_rotation_token_is_access_denied() {
    let h = Harness::new();
    h.create("guarded", "old").await;
    let pending = token(13);
    h.ok(
        RotateSecret,
        rotate(
            "guarded",
            &pending,
            json!({"RotationLambdaARN": lambda("rotator")}),
        ),
    )
    .await;
    expect_error(
        &h.err(
            PutSecretValue,
            json!({"SecretId": "guarded", "ClientRequestToken": pending, "SecretString": "x",
                   "VersionStages": ["AWSPENDING"], "RotationToken": token(999)}),
        )
        .await,
        "AccessDeniedException",
        "The RotationToken isn't the token of a rotation in progress for this secret.",
    );
    expect_error(
        &h.err(
            GetSecretValue,
            json!({"SecretId": "guarded", "VersionStage": "AWSPENDING"}),
        )
        .await,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    );
}

#[tokio::test]
pub async fn rotate_secret_while_a_rotation_runs_is_invalid_request() {
    let h = Harness::new();
    let (_, v1) = h.create("busy", "v").await;
    let pending = token(14);
    h.ok(
        RotateSecret,
        rotate(
            "busy",
            &pending,
            json!({"RotationLambdaARN": lambda("rotator"),
                   "RotationRules": {"AutomaticallyAfterDays": 30}}),
        ),
    )
    .await;
    // Within the hour the job is running: refused, nothing started.
    h.advance(HOUR - 1);
    expect_error(
        &h.err(RotateSecret, rotate("busy", &token(15), json!({})))
            .await,
        "InvalidRequestException",
        ROTATION_INCOMPLETE,
    );
    assert_eq!(h.jobs().len(), 1);
    // An hour without a report: the job is stale and is reattempted with the same version.
    h.advance(1);
    expect_error(
        &h.err(RotateSecret, rotate("busy", &token(16), json!({})))
            .await,
        "InvalidRequestException",
        ROTATION_INCOMPLETE,
    );
    let jobs = h.jobs();
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[0].pending_version, jobs[1].pending_version);
    assert_ne!(jobs[0].rotation_token, jobs[1].rotation_token);
    assert_eq!(
        h.stages("busy").await,
        labels(&[(&v1, &["AWSCURRENT"]), (&pending, &["AWSPENDING"])]),
        "no third version"
    );
}

#[tokio::test]
pub async fn rotate_secret_invalid_requests_configure_nothing() {
    let h = Harness::new();
    let (_, v1) = h.create("strict", "v").await;
    let good = lambda("rotator");
    let t = token(20);
    let not_invocable = "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.";
    let cases: Vec<(Value, &str, String)> = vec![
        (
            rotate("strict", &t, json!({"RotationRules": {"AutomaticallyAfterDays": 30}})),
            "InvalidRequestException",
            "No Lambda rotation function ARN is associated with this secret.".into(),
        ),
        (
            json!({"SecretId": "strict", "RotationLambdaARN": good}),
            "InvalidParameterException",
            TOKEN_REQUIRED.into(),
        ),
        (
            rotate("strict", &t, json!({"RotationLambdaARN": "arn:aws:lambda:nowhere"})),
            "AccessDeniedException",
            not_invocable.into(),
        ),
        (
            rotate("strict", &t, json!({"RotationLambdaARN": "not a function name"})),
            "AccessDeniedException",
            not_invocable.into(),
        ),
        (
            rotate("strict", &t, json!({"RotationLambdaARN": "arn:aws:s3:::bucket"})),
            "AccessDeniedException",
            not_invocable.into(),
        ),
        (
            rotate("strict", &t, json!({"RotationLambdaARN": good,
                                        "RotationRules": {"AutomaticallyAfterDays": 0}})),
            "InvalidParameterException",
            "1 validation error detected: Value '0' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value greater than or equal to 1".into(),
        ),
        (
            rotate("strict", &t, json!({"RotationLambdaARN": good,
                                        "RotationRules": {"AutomaticallyAfterDays": 1001}})),
            "InvalidParameterException",
            "1 validation error detected: Value '1001' at 'rotationRules.automaticallyAfterDays' failed to satisfy constraint: Member must have value less than or equal to 1000".into(),
        ),
        (
            rotate("strict", &t, json!({"RotationLambdaARN": good,
                "RotationRules": {"AutomaticallyAfterDays": 10, "ScheduleExpression": "rate(10 days)"}})),
            "InvalidParameterException",
            "You cannot specify both rotation frequency and schedule expression together. Set either AutomaticallyAfterDays or ScheduleExpression.".into(),
        ),
        (
            rotate("strict", &t, json!({"RotationLambdaARN": good,
                                        "RotationRules": {"Duration": "2h"}})),
            "InvalidParameterException",
            "RotationRules.Duration needs a schedule: set ScheduleExpression or AutomaticallyAfterDays.".into(),
        ),
        (
            rotate("strict", &v1, json!({"RotationLambdaARN": good})),
            "InvalidRequestException",
            format!("A version with the ClientRequestToken {v1} already exists."),
        ),
        (
            rotate("nope", &t, json!({"RotationLambdaARN": good})),
            "ResourceNotFoundException",
            SECRET_NOT_FOUND.into(),
        ),
    ];
    // Testing the configuration needs a current value.
    h.ok(CreateSecret, json!({"Name": "valueless"})).await;
    expect_error(
        &h.err(
            RotateSecret,
            rotate(
                "valueless",
                &t,
                json!({"RotationLambdaARN": good, "RotateImmediately": false}),
            ),
        )
        .await,
        "InvalidRequestException",
        "The secret has no AWSCURRENT version to test.",
    );
    for (body, code, message) in cases {
        let e = h.err(RotateSecret, body.clone()).await;
        assert_eq!((e.code(), e.message()), (code, message.as_str()), "{body}");
    }
    for (expr, duration) in [
        ("rate(3 hours)", None),
        ("rate(banana)", None),
        ("cron(not a cron)", None),
        ("rate(4 hours)", Some("5h")),
        ("cron(0 22 * * ? *)", Some("4h")),
    ] {
        let e = h
            .err(
                RotateSecret,
                rotate(
                    "strict",
                    &t,
                    json!({"RotationLambdaARN": good,
                           "RotationRules": {"ScheduleExpression": expr, "Duration": duration}}),
                ),
            )
            .await;
        assert_eq!(e.code(), "InvalidParameterException", "{expr} {duration:?}");
    }
    let d = h.describe("strict").await;
    for member in [
        "RotationEnabled",
        "RotationLambdaARN",
        "RotationRules",
        "NextRotationDate",
    ] {
        assert!(d.get(member).is_none(), "{member} set: {d}");
    }
    assert_eq!(h.stages("strict").await, labels(&[(&v1, &["AWSCURRENT"])]));
    assert!(h.jobs().is_empty());
}

#[tokio::test]
pub async fn cancel_rotate_secret_disables_rotation_and_keeps_awspending() {
    let h = Harness::new();
    let (arn, v1) = h.create("cancel", "v").await;
    let pending = token(30);
    h.ok(
        RotateSecret,
        rotate(
            "cancel",
            &pending,
            json!({"RotationLambdaARN": lambda("rotator"),
                   "RotationRules": {"AutomaticallyAfterDays": 30}}),
        ),
    )
    .await;
    let out = h
        .ok(CancelRotateSecret, json!({"SecretId": "cancel"}))
        .await;
    // The version created by the rotation, to be evaluated for deletion.
    assert_eq!(
        out,
        json!({"ARN": arn, "Name": "cancel", "VersionId": pending})
    );
    let d = h.describe("cancel").await;
    assert_eq!(d["RotationEnabled"], json!(false));
    assert!(d.get("NextRotationDate").is_none(), "{d}");
    // The configuration stays visible, as AWS shows the previous schedule.
    assert_eq!(d["RotationLambdaARN"], json!(lambda("rotator")));
    assert_eq!(d["RotationRules"], json!({"AutomaticallyAfterDays": 30}));
    // Cancelling does not clean up the partially created version.
    assert_eq!(
        h.stages("cancel").await,
        labels(&[(&v1, &["AWSCURRENT"]), (&pending, &["AWSPENDING"])])
    );
}

#[tokio::test]
pub async fn cancel_rotate_secret_without_rotation_changes_nothing() {
    let h = Harness::new();
    let (arn, _) = h.create("never", "v").await;
    h.advance(HOUR);
    let out = h.ok(CancelRotateSecret, json!({"SecretId": arn})).await;
    assert_eq!(out, json!({"ARN": arn, "Name": "never"}));
    let d = h.describe("never").await;
    assert!(d.get("RotationEnabled").is_none(), "{d}");
    assert_eq!(d["LastChangedDate"], json!(secs(T0)));
}

#[tokio::test]
pub async fn cancel_rotate_secret_errors() {
    let h = Harness::new();
    expect_error(
        &h.err(CancelRotateSecret, json!({"SecretId": "nope"})).await,
        "ResourceNotFoundException",
        SECRET_NOT_FOUND,
    );
    expect_error(
        &h.err(CancelRotateSecret, json!({})).await,
        "InvalidParameterException",
        "You must specify SecretId.",
    );
    expect_error(
        &h.err(CancelRotateSecret, json!({"SecretId": "bad*name"}))
            .await,
        "ValidationException",
        INVALID_NAME,
    );
}
