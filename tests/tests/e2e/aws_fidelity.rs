//! Where Coffer's answers must be AWS's exact ones (issue #13): validation before lookup, names,
//! `ClientRequestToken`, staging labels and response shapes. Raw signed HTTP (no SDK: the SDKs
//! fill tokens in and validate names themselves) so each case pins the code and the message.
//! Runs on every backend run-all starts (embedded, `--backend aws` on moto, the api Lambda).

use coffer_e2e::*;
use serde_json::{json, Value};

const TOKEN_REQUIRED: &str =
    "You must provide a ClientRequestToken value. We recommend a UUID-type value.";
const INVALID_NAME: &str = "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!";

/// The call's error `(code, message)`, or the success body.
fn outcome(server: &CofferServer, op: &str, body: Value) -> Result<Value, (String, String)> {
    let response = server.raw_call(op, &body);
    let json = response.json();
    if response.status == 200 {
        return Ok(json);
    }
    let message = json["Message"]
        .as_str()
        .or(json["message"].as_str())
        .unwrap_or_default()
        .to_string();
    Err((response.error_code().unwrap_or_default(), message))
}

fn refused(server: &CofferServer, op: &str, body: Value) -> (String, String) {
    match outcome(server, op, body.clone()) {
        Ok(v) => panic!("{op} {body} succeeded: {v}"),
        Err(e) => e,
    }
}

fn create(server: &CofferServer, name: &str, value: &str, token: &str) -> Value {
    outcome(
        server,
        "CreateSecret",
        json!({"Name": name, "SecretString": value, "ClientRequestToken": token}),
    )
    .expect("CreateSecret")
}

#[tokio::test]
async fn validation_comes_before_lookup_raw_http() {
    let server = CofferServer::start();
    let missing = unique_name("fidelity-missing");
    // Neither SecretString nor SecretBinary: the shape is wrong whatever the secret.
    let (code, _) = refused(
        &server,
        "PutSecretValue",
        json!({"SecretId": missing, "ClientRequestToken": token()}),
    );
    assert_eq!(code, "InvalidRequestException");
    // No ClientRequestToken on a call that creates a version.
    for (op, body, want) in [
        (
            "PutSecretValue",
            json!({"SecretId": missing, "SecretString": "v"}),
            "InvalidRequestException",
        ),
        (
            "CreateSecret",
            json!({"Name": missing, "SecretString": "v"}),
            "InvalidRequestException",
        ),
        (
            "UpdateSecret",
            json!({"SecretId": missing, "SecretString": "v"}),
            "InvalidRequestException",
        ),
        (
            "RotateSecret",
            json!({"SecretId": missing}),
            "InvalidParameterException",
        ),
    ] {
        let (code, message) = refused(&server, op, body);
        assert_eq!(
            (code.as_str(), message.as_str()),
            (want, TOKEN_REQUIRED),
            "{op}"
        );
    }
    // A name with a character AWS does not allow, as a Name or as a SecretId.
    let (code, message) = refused(
        &server,
        "CreateSecret",
        json!({"Name": "has space", "SecretString": "v", "ClientRequestToken": token()}),
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("ValidationException", INVALID_NAME)
    );
    for op in ["GetSecretValue", "DescribeSecret", "DeleteSecret"] {
        for bad in ["star*name", "what?", "br]acket", "back\\slash"] {
            let (code, message) = refused(&server, op, json!({"SecretId": bad}));
            assert_eq!(
                (code.as_str(), message.as_str()),
                ("ValidationException", INVALID_NAME)
            );
        }
    }
    // Nothing was created by any of these.
    let (code, _) = refused(&server, "DescribeSecret", json!({"SecretId": missing}));
    assert_eq!(code, "ResourceNotFoundException");
}

#[tokio::test]
async fn client_request_token_reuse_and_retries() {
    let server = CofferServer::start();
    let name = unique_name("fidelity-token");
    let first = token();
    let created = create(&server, &name, "a", &first);
    let arn = created["ARN"].as_str().unwrap().to_string();
    let in_use = format!(
        "You can't use ClientRequestToken {first} because that value is already in use for a version of secret {arn}."
    );
    // The same token for another value: CreateSecret, PutSecretValue, UpdateSecret alike.
    for (op, body) in [
        (
            "CreateSecret",
            json!({"Name": name, "SecretString": "b", "ClientRequestToken": first}),
        ),
        (
            "PutSecretValue",
            json!({"SecretId": name, "SecretString": "b", "ClientRequestToken": first}),
        ),
        (
            "UpdateSecret",
            json!({"SecretId": name, "SecretString": "b", "ClientRequestToken": first}),
        ),
    ] {
        let (code, message) = refused(&server, op, body);
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("ResourceExistsException", in_use.as_str()),
            "{op}"
        );
    }
    // UpdateSecret with the same token and value: success, no new version.
    let updated = outcome(
        &server,
        "UpdateSecret",
        json!({"SecretId": name, "SecretString": "a", "ClientRequestToken": first}),
    )
    .expect("an idempotent UpdateSecret retry");
    assert_eq!(updated["VersionId"], json!(first));
    let versions = outcome(&server, "ListSecretVersionIds", json!({"SecretId": name})).unwrap();
    assert_eq!(
        versions["Versions"].as_array().unwrap().len(),
        1,
        "{versions}"
    );
}

#[tokio::test]
async fn staging_labels_follow_aws() {
    let server = CofferServer::start();
    let name = unique_name("fidelity-labels");
    let v1 = token();
    create(&server, &name, "one", &v1);
    let v2 = token();
    outcome(
        &server,
        "PutSecretValue",
        json!({"SecretId": name, "SecretString": "two", "ClientRequestToken": v2,
               "VersionStages": ["AWSPENDING"]}),
    )
    .unwrap();
    // Moving AWSCURRENT needs RemoveFromVersionId naming its holder.
    let (code, message) = refused(
        &server,
        "UpdateSecretVersionStage",
        json!({"SecretId": name, "VersionStage": "AWSCURRENT", "MoveToVersionId": v2}),
    );
    assert_eq!(code, "InvalidParameterException");
    assert_eq!(
        message,
        format!("The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version {v1}, so you must explicitly reference that version in RemoveFromVersionId.")
    );
    outcome(
        &server,
        "UpdateSecretVersionStage",
        json!({"SecretId": name, "VersionStage": "AWSCURRENT", "MoveToVersionId": v2,
               "RemoveFromVersionId": v1}),
    )
    .unwrap();
    let stages = |server: &CofferServer| {
        outcome(server, "DescribeSecret", json!({"SecretId": name})).unwrap()["VersionIdsToStages"]
            .clone()
    };
    // The version AWSCURRENT moved onto keeps AWSPENDING ...
    let mut on_v2: Vec<String> = serde_json::from_value(stages(&server)[&v2].clone()).unwrap();
    on_v2.sort();
    assert_eq!(on_v2, ["AWSCURRENT", "AWSPENDING"]);
    // ... until AWSCURRENT moves off it: then it is AWSPREVIOUS only.
    let v3 = token();
    outcome(
        &server,
        "PutSecretValue",
        json!({"SecretId": name, "SecretString": "three", "ClientRequestToken": v3}),
    )
    .unwrap();
    let after = stages(&server);
    assert_eq!(after[&v2], json!(["AWSPREVIOUS"]), "{after}");
    assert_eq!(after[&v3], json!(["AWSCURRENT"]), "{after}");
}

#[tokio::test]
async fn response_shapes_follow_aws() {
    let server = CofferServer::start();
    // An empty description is not shown.
    let name = unique_name("fidelity-shapes");
    outcome(
        &server,
        "CreateSecret",
        json!({"Name": name, "Description": "", "ClientRequestToken": token(),
               "SecretString": "v", "Tags": [{"Key": "team", "Value": "pay"}]}),
    )
    .unwrap();
    let described = outcome(&server, "DescribeSecret", json!({"SecretId": name})).unwrap();
    assert!(described.get("Description").is_none(), "{described}");
    let listed = outcome(
        &server,
        "ListSecrets",
        json!({"Filters": [{"Key": "name", "Values": [name]}]}),
    )
    .unwrap();
    let entry = &listed["SecretList"][0];
    assert_eq!(entry["Name"], json!(name), "{listed}");
    assert!(entry.get("Description").is_none(), "{entry}");
    // Once it has had tags, removing the last one leaves "Tags": [].
    outcome(
        &server,
        "UntagResource",
        json!({"SecretId": name, "TagKeys": ["team"]}),
    )
    .unwrap();
    let described = outcome(&server, "DescribeSecret", json!({"SecretId": name})).unwrap();
    assert_eq!(described["Tags"], json!([]), "{described}");

    // A name scheduled for deletion cannot be created again.
    outcome(
        &server,
        "DeleteSecret",
        json!({"SecretId": name, "RecoveryWindowInDays": 7}),
    )
    .unwrap();
    let (code, message) = refused(
        &server,
        "CreateSecret",
        json!({"Name": name, "SecretString": "v", "ClientRequestToken": token()}),
    );
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "InvalidRequestException",
            "You can't create this secret because a secret with this name is already scheduled for deletion."
        )
    );

    // A rotation function that cannot be invoked: AccessDenied, rotation left as it was.
    let rotated = unique_name("fidelity-rotation");
    create(&server, &rotated, "v", &token());
    for function in [
        "arn:aws:lambda:nowhere",
        "not a function name",
        "arn:aws:s3:::bucket",
    ] {
        let (code, message) = refused(
            &server,
            "RotateSecret",
            json!({"SecretId": rotated, "RotationLambdaARN": function,
                   "RotationRules": {"AutomaticallyAfterDays": 7}, "ClientRequestToken": token()}),
        );
        assert_eq!(code, "AccessDeniedException", "{function}");
        assert_eq!(message, "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com.");
    }
    let described = outcome(&server, "DescribeSecret", json!({"SecretId": rotated})).unwrap();
    assert!(described.get("RotationEnabled").is_none(), "{described}");
    assert!(described.get("RotationRules").is_none(), "{described}");
    assert!(described.get("RotationLambdaARN").is_none(), "{described}");

    // IncludeSpace puts the space in the character set.
    let password = outcome(
        &server,
        "GetRandomPassword",
        json!({"PasswordLength": 4096, "IncludeSpace": true}),
    )
    .unwrap();
    assert!(password["RandomPassword"].as_str().unwrap().contains(' '));
}
