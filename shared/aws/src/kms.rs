//! `KmsKeyProvider`: the core's `KeyProvider` port on AWS KMS.
//!
//! Place in the data path: in AWS mode it sits where the keyring file sits on one machine. The
//! core service resolves and checks a secret's `KmsKeyId` on Create/Update ([`KeyProvider::resolve`]),
//! asks for a fresh data key per secret version (`GenerateDataKey`, AES_256, encryption context
//! `{SecretARN, SecretVersionId}`), and unwraps stored data keys (`Decrypt` with the same context).
//! Envelope crypto with the plaintext data key happens in the core; this adapter never sees a
//! secret value. Caching of plaintext data keys is not done here: the core's
//! `keycache::CachingKeyProvider` decorates any provider, this one included.
//!
//! - **Regions.** KMS keys are regional, and so is a Coffer scope. The client given to
//!   [`KmsKeyProvider::new`] serves its own region; a client for any other scope region is derived
//!   from its configuration (same credentials, endpoint settings, retry and timeout settings, only
//!   the region changed) on first use and kept. A key ARN or alias ARN naming a region other than
//!   the scope's is `NotFound` without a request: a secret's key must live in the secret's region.
//!   A default key given as an alias name (`alias/...`) therefore works in every region; a default
//!   key given as a key id or ARN exists in one region only.
//! - **Key access** is validated the way Secrets Manager validates it: `resolve` calls
//!   `DescribeKey` (the key's ARN and state) and then `GenerateDataKey` with the context
//!   `{"SecretVersionId": "RequestToValidateKeyAccess"}`, discarding the result, so that missing
//!   `kms:GenerateDataKey` permission is found at Create/Update rather than at the first write.
//! - **Errors** are mapped by KMS error code where the SDK is called (see [`KmsKeyProvider`] for
//!   the table). Errors after the SDK's own retries are final. Causes are logged once: the
//!   `Unavailable` cause travels in the error (the core logs it); the others are logged here,
//!   since the core keeps only their kind.
//! - **Secrets in memory.** Plaintext data keys are copied out of the SDK's buffers into
//!   `Zeroizing` arrays, and the SDK's `Blob` copy is zeroized right away. The raw HTTP response
//!   body (base64 in JSON) is owned and freed by the SDK and is not ours to wipe. No plaintext,
//!   wrapped key or encryption context value is ever logged or put into an error.
//! - **Counting.** Every KMS request (one per SDK operation sent; the SDK's internal retries of
//!   one operation are not counted again) increments the `KmsCalls` counter of the metrics sink
//!   and [`KmsKeyProvider::calls`]; each failed one also increments `KmsErrors`.

use async_trait::async_trait;
use aws_sdk_kms::config::Region;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, KeySpec, KeyState, KeyUsageType};
use coffer_core::ids::Scope;
use coffer_core::metrics::{KMS_CALLS, KMS_ERRORS};
use coffer_core::ports::{DataKey, EncryptionContext, KeyError, KeyProvider, MetricsSink};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use zeroize::{Zeroize, Zeroizing};

/// The KMS client the provider is built on (re-exported so that callers need no `aws-sdk-kms`
/// dependency: `Client::new(&sdk_config)`).
pub use aws_sdk_kms::Client;

/// The encryption context of the key-access check that Secrets Manager makes on Create/Update.
pub const KEY_ACCESS_CHECK_CONTEXT: (&str, &str) =
    ("SecretVersionId", "RequestToValidateKeyAccess");

/// Length of a data key (AES-256).
const DATA_KEY_LEN: usize = 32;
/// KMS's limit on `CiphertextBlob` (the model's length constraint is 1..=6144).
const MAX_CIPHERTEXT_LEN: usize = 6144;
/// Regions whose derived clients are kept. Scope regions come from the caller's SigV4 credential
/// scope, so an authenticated caller could name many made-up ones; past this many, a client is
/// derived per request instead of being kept (derivation is cheap: no I/O).
const MAX_CACHED_REGIONS: usize = 64;

/// The KMS operations this adapter calls (for messages and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    DescribeKey,
    GenerateDataKey,
    Decrypt,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::DescribeKey => "DescribeKey",
            Operation::GenerateDataKey => "GenerateDataKey",
            Operation::Decrypt => "Decrypt",
        }
    }
}

/// The `KeyProvider` on AWS KMS.
///
/// Error mapping (by the KMS error code of the response; all after the SDK's retries):
///
/// | KMS error code                                                        | `KeyError`          |
/// |-----------------------------------------------------------------------|---------------------|
/// | `NotFoundException`, `InvalidArnException`                            | `NotFound`          |
/// | `DisabledException`, `KMSInvalidStateException`                       | `Disabled`          |
/// | `AccessDeniedException`                                               | `AccessDenied`      |
/// | `InvalidCiphertextException`, `IncorrectKeyException`, `InvalidKeyUsageException` | `InvalidCiphertext` |
/// | `ThrottlingException`, `LimitExceededException` (and generic throttling codes) | `Throttled` |
/// | `KMSInternalException`, `KeyUnavailableException`, `DependencyTimeoutException`, any other code, credential errors of Coffer's own identity (`UnrecognizedClientException`, ...), timeouts, connection and response failures | `Unavailable` |
///
/// Checks made without a request: a key ARN or alias ARN of another region or partition, or an
/// empty key id, is `NotFound`; an empty wrapped key or one longer than KMS accepts is
/// `InvalidCiphertext`. In `resolve`, a key whose `KeyState` is not `Enabled` is `Disabled`, and
/// a key that is not a symmetric encryption key (`KeyUsage` `ENCRYPT_DECRYPT`, `KeySpec`
/// `SYMMETRIC_DEFAULT`, the only kind Secrets Manager accepts) is `InvalidCiphertext` (the port
/// has no narrower variant; the service reports it as `EncryptionFailure`).
pub struct KmsKeyProvider {
    client: Client,
    /// The region of `client` (`None`: it has none, and every scope gets a derived client).
    home_region: Option<String>,
    /// Clients derived from `client` for other regions.
    regional: RwLock<HashMap<String, Client>>,
    default_key_id: String,
    metrics: Arc<dyn MetricsSink>,
    calls: AtomicU64,
}

impl fmt::Debug for KmsKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsKeyProvider")
            .field("home_region", &self.home_region)
            .field("default_key_id", &self.default_key_id)
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl KmsKeyProvider {
    /// A provider on `client` (whose configuration, region included, is the template for every
    /// region served). `default_key_id` is the key used when a secret names none (`--kms-key`):
    /// a key id, key ARN, alias name or alias ARN. `metrics` receives `KmsCalls` and `KmsErrors`.
    pub fn new(client: Client, default_key_id: String, metrics: Arc<dyn MetricsSink>) -> Self {
        let home_region = client.config().region().map(|r| r.as_ref().to_string());
        KmsKeyProvider {
            client,
            home_region,
            regional: RwLock::new(HashMap::new()),
            default_key_id,
            metrics,
            calls: AtomicU64::new(0),
        }
    }

    /// The number of requests sent to KMS since the provider was made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The configured default key, as given.
    pub fn default_key_id(&self) -> &str {
        &self.default_key_id
    }

    /// The client for `region`: the given one for its own region, else a derived one.
    fn client_for(&self, region: &str) -> Client {
        if self.home_region.as_deref() == Some(region) {
            return self.client.clone();
        }
        if let Some(client) = self
            .regional
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(region)
        {
            return client.clone();
        }
        let derived = Client::from_conf(
            self.client
                .config()
                .to_builder()
                .region(Region::new(region.to_string()))
                .build(),
        );
        let mut regional = self
            .regional
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if regional.len() >= MAX_CACHED_REGIONS && !regional.contains_key(region) {
            return derived;
        }
        regional
            .entry(region.to_string())
            .or_insert(derived)
            .clone()
    }

    /// The key to use in `scope` (`None`: the default), refused without a request when it
    /// cannot name a key of the scope's region.
    fn key_in_scope<'a>(
        &'a self,
        scope: &Scope,
        key_id: Option<&'a str>,
    ) -> Result<&'a str, KeyError> {
        let key = key_id.unwrap_or(&self.default_key_id);
        if key.is_empty() {
            return Err(KeyError::NotFound("an empty key id names no key".into()));
        }
        if let Some((partition, region)) = arn_location(key) {
            if partition != scope.partition || region != scope.region {
                return Err(KeyError::NotFound(format!(
                    "{key} is a key of region {region} (partition {partition}); this request is in \
                     region {} (partition {}), and a secret's KMS key must be in the secret's region",
                    scope.region, scope.partition
                )));
            }
        }
        Ok(key)
    }

    fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.metrics.increment(KMS_CALLS, 1);
    }

    /// Converts an SDK error where it happened: counts it, maps it by code, and logs the cause
    /// unless it travels in the error (`Unavailable`).
    fn failed<E, R>(&self, op: Operation, key: &str, err: SdkError<E, R>) -> KeyError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        self.metrics.increment(KMS_ERRORS, 1);
        let code = err.code().map(str::to_string);
        let message = err.message().unwrap_or_default().to_string();
        let failure = match &err {
            SdkError::ServiceError(_) => classify(code.as_deref()),
            // Timeouts, connection failures, unreadable responses, requests that could not be
            // built: nothing the caller can fix.
            _ => Failure::Unavailable,
        };
        let code_text = code.as_deref().unwrap_or("none");
        let op_name = op.name();
        match failure {
            Failure::Unavailable => {
                // Logged by the core with the error; the whole chain (dispatch and timeout
                // errors carry their cause in the source chain) goes into it.
                return KeyError::Unavailable(format!(
                    "KMS {op_name} for {key} failed (code {code_text}): {}",
                    DisplayErrorContext(&err)
                ));
            }
            Failure::NotFound => {
                tracing::info!(operation = op_name, key, code = code_text, %message, "KMS key not found")
            }
            _ => {
                tracing::warn!(operation = op_name, key, code = code_text, %message, "KMS request refused")
            }
        }
        let detail = format!("KMS {op_name} for {key}: {code_text}: {message}");
        match failure {
            Failure::NotFound => KeyError::NotFound(detail),
            Failure::Disabled => KeyError::Disabled(detail),
            Failure::AccessDenied => KeyError::AccessDenied(detail),
            Failure::InvalidCiphertext => KeyError::InvalidCiphertext,
            Failure::Throttled => KeyError::Throttled,
            Failure::Unavailable => KeyError::Unavailable(detail),
        }
    }

    /// One `GenerateDataKey` (AES_256) under `key` with `context`.
    async fn generate(
        &self,
        client: &Client,
        key: &str,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        self.count_call();
        let mut out = client
            .generate_data_key()
            .key_id(key)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(sdk_context(context))
            .send()
            .await
            .map_err(|e| self.failed(Operation::GenerateDataKey, key, e))?;
        let plaintext = take_data_key(out.plaintext.take(), Operation::GenerateDataKey)?;
        let wrapped = out
            .ciphertext_blob
            .take()
            .map(Blob::into_inner)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| malformed(Operation::GenerateDataKey, "no CiphertextBlob"))?;
        let key_arn = out
            .key_id
            .take()
            .ok_or_else(|| malformed(Operation::GenerateDataKey, "no KeyId"))?;
        Ok(DataKey {
            plaintext,
            wrapped,
            key_arn,
        })
    }
}

#[async_trait]
impl KeyProvider for KmsKeyProvider {
    async fn resolve(&self, scope: &Scope, key_id: Option<&str>) -> Result<String, KeyError> {
        let key = self.key_in_scope(scope, key_id)?;
        let client = self.client_for(&scope.region);
        self.count_call();
        let described = client
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|e| self.failed(Operation::DescribeKey, key, e))?;
        let meta = described
            .key_metadata
            .ok_or_else(|| malformed(Operation::DescribeKey, "no KeyMetadata"))?;
        let arn = meta
            .arn()
            .ok_or_else(|| malformed(Operation::DescribeKey, "no Arn"))?
            .to_string();
        match meta.key_state() {
            Some(KeyState::Enabled) => {}
            Some(state) => {
                return Err(KeyError::Disabled(format!(
                    "{arn} (named {key}) is in state {}",
                    state.as_str()
                )))
            }
            None if !meta.enabled() => {
                return Err(KeyError::Disabled(format!(
                    "{arn} (named {key}) is not enabled"
                )))
            }
            None => {}
        }
        let usage_ok = meta
            .key_usage()
            .is_none_or(|u| *u == KeyUsageType::EncryptDecrypt);
        let spec_ok = meta
            .key_spec()
            .is_none_or(|s| *s == KeySpec::SymmetricDefault);
        if !usage_ok || !spec_ok {
            tracing::warn!(key_arn = %arn, "KMS key is not a symmetric encryption key");
            return Err(KeyError::InvalidCiphertext);
        }
        let check: EncryptionContext = [(
            KEY_ACCESS_CHECK_CONTEXT.0.to_string(),
            KEY_ACCESS_CHECK_CONTEXT.1.to_string(),
        )]
        .into_iter()
        .collect();
        // The data key is discarded (its plaintext is zeroized on drop).
        drop(self.generate(&client, &arn, &check).await?);
        Ok(arn)
    }

    async fn generate_data_key(
        &self,
        scope: &Scope,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KeyError> {
        let key = self.key_in_scope(scope, key_id)?;
        let client = self.client_for(&scope.region);
        self.generate(&client, key, context).await
    }

    async fn decrypt_data_key(
        &self,
        scope: &Scope,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        // KMS's model bounds CiphertextBlob to 1..=6144 bytes; outside that nothing decrypts.
        if wrapped.is_empty() || wrapped.len() > MAX_CIPHERTEXT_LEN {
            return Err(KeyError::InvalidCiphertext);
        }
        let client = self.client_for(&scope.region);
        self.count_call();
        // No KeyId: KMS finds the key from the ciphertext's own header.
        let mut out = client
            .decrypt()
            .ciphertext_blob(Blob::new(wrapped.to_vec()))
            .set_encryption_context(sdk_context(context))
            .send()
            .await
            .map_err(|e| self.failed(Operation::Decrypt, "the wrapped data key", e))?;
        take_data_key(out.plaintext.take(), Operation::Decrypt)
    }
}

/// The partition and region of a KMS key ARN or alias ARN (`arn:<partition>:kms:<region>:...`);
/// `None` for anything else (key ids, alias names, and ARNs of other services, which KMS itself
/// refuses).
fn arn_location(key: &str) -> Option<(&str, &str)> {
    let mut parts = key.splitn(6, ':');
    match (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) {
        (
            Some("arn"),
            Some(partition),
            Some("kms"),
            Some(region),
            Some(_account),
            Some(_resource),
        ) => Some((partition, region)),
        _ => None,
    }
}

/// The port's context as the SDK wants it (`None` when empty: KMS treats no context and an empty
/// one alike).
fn sdk_context(context: &EncryptionContext) -> Option<HashMap<String, String>> {
    if context.is_empty() {
        None
    } else {
        Some(
            context
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }
}

/// Copies a plaintext data key out of the SDK's `Blob` into a zeroizing array and wipes the
/// `Blob`'s buffer.
fn take_data_key(blob: Option<Blob>, op: Operation) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let mut bytes = blob.map(Blob::into_inner).unwrap_or_default();
    let len = bytes.len();
    let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
    if len == DATA_KEY_LEN {
        key.copy_from_slice(&bytes);
    }
    bytes.zeroize();
    if len != DATA_KEY_LEN {
        return Err(malformed(
            op,
            &format!("a plaintext data key of {len} bytes instead of {DATA_KEY_LEN}"),
        ));
    }
    Ok(key)
}

fn malformed(op: Operation, what: &str) -> KeyError {
    KeyError::Unavailable(format!("KMS {} answered with {what}", op.name()))
}

/// What a KMS error code means for the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    NotFound,
    Disabled,
    AccessDenied,
    InvalidCiphertext,
    Throttled,
    Unavailable,
}

/// Maps KMS's modelled exceptions and the generic codes every AWS service may answer with.
/// Anything unknown is `Unavailable`: the caller gets `InternalServiceError` and the operator the
/// logged code.
fn classify(code: Option<&str>) -> Failure {
    match code {
        Some("NotFoundException" | "InvalidArnException") => Failure::NotFound,
        Some("DisabledException" | "KMSInvalidStateException") => Failure::Disabled,
        Some("AccessDeniedException") => Failure::AccessDenied,
        Some(
            "InvalidCiphertextException" | "IncorrectKeyException" | "InvalidKeyUsageException",
        ) => Failure::InvalidCiphertext,
        Some(
            "ThrottlingException"
            | "Throttling"
            | "ThrottledException"
            | "LimitExceededException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException",
        ) => Failure::Throttled,
        // KMSInternalException, KeyUnavailableException, DependencyTimeoutException, credential
        // failures of Coffer's own identity (UnrecognizedClientException, InvalidSignatureException,
        // ExpiredTokenException: an operator problem, not the caller's), anything else.
        _ => Failure::Unavailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_kms_codes_map_to_port_errors() {
        let cases = [
            ("NotFoundException", Failure::NotFound),
            ("InvalidArnException", Failure::NotFound),
            ("DisabledException", Failure::Disabled),
            ("KMSInvalidStateException", Failure::Disabled),
            ("AccessDeniedException", Failure::AccessDenied),
            ("InvalidCiphertextException", Failure::InvalidCiphertext),
            ("IncorrectKeyException", Failure::InvalidCiphertext),
            ("InvalidKeyUsageException", Failure::InvalidCiphertext),
            ("ThrottlingException", Failure::Throttled),
            ("LimitExceededException", Failure::Throttled),
            ("KMSInternalException", Failure::Unavailable),
            ("KeyUnavailableException", Failure::Unavailable),
            ("DependencyTimeoutException", Failure::Unavailable),
            ("UnrecognizedClientException", Failure::Unavailable),
            ("SomethingNew", Failure::Unavailable),
        ];
        for (code, want) in cases {
            assert_eq!(classify(Some(code)), want, "{code}");
        }
        assert_eq!(classify(None), Failure::Unavailable);
    }

    #[test]
    fn arn_location_reads_kms_arns_only() {
        assert_eq!(
            arn_location(
                "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            ),
            Some(("aws", "eu-west-1"))
        );
        assert_eq!(
            arn_location("arn:aws-cn:kms:cn-north-1:123456789012:alias/a:b"),
            Some(("aws-cn", "cn-north-1"))
        );
        assert_eq!(arn_location("alias/aws/secretsmanager"), None);
        assert_eq!(arn_location("1234abcd-12ab-34cd-56ef-1234567890ab"), None);
        assert_eq!(arn_location("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_location("arn:aws:kms:us-east-1"), None);
    }

    #[test]
    fn take_data_key_copies_32_bytes_and_refuses_other_lengths() {
        let key = take_data_key(Some(Blob::new(vec![7u8; 32])), Operation::Decrypt).unwrap();
        assert_eq!(*key, [7u8; 32]);
        for len in [0, 16, 31, 33] {
            let got = take_data_key(Some(Blob::new(vec![7u8; len])), Operation::Decrypt);
            assert!(matches!(got, Err(KeyError::Unavailable(_))), "{len}");
        }
        assert!(matches!(
            take_data_key(None, Operation::GenerateDataKey),
            Err(KeyError::Unavailable(_))
        ));
    }

    #[test]
    fn sdk_context_is_none_when_empty() {
        assert_eq!(sdk_context(&EncryptionContext::new()), None);
        let ctx = coffer_core::ports::encryption_context("arn", "v1");
        let map = sdk_context(&ctx).unwrap();
        assert_eq!(map.len(), 2);
        assert_eq!(map["SecretVersionId"], "v1");
    }
}
