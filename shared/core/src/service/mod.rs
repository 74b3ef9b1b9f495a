//! The operations of Secrets Manager. `SecretsService::handle` is the single entry point the
//! wire layer calls with the parsed [`Operation`] and the JSON body. One call goes through one
//! typed pipeline: decode the body once into the operation's typed request and validate it
//! (`call`), authorize it (`authorize`: loads the secret and the caller's policies once and
//! returns the `Authorized` value every operation takes), run the operation against the ports,
//! and emit exactly one `AwsApiCall` audit event (built from the typed request's view) and the
//! call's metrics, whatever the outcome. Some operations emit further events through the same
//! port: BatchGetSecretValue one `GetSecretValue` event per secret (as AWS does), DeleteSecret,
//! RestoreSecret, the purge and RotateSecret their service events ([`ServiceEventName`]). Each
//! submodule holds one group of operations, except `assemble` ([`ServiceParts`]), which puts
//! a service together at process start.

mod assemble;
mod authorize;
mod batch;
mod call;
mod create;
mod delete;
mod describe;
mod encryption;
mod lanes;
mod list;
mod lookup;
mod mutate;
mod policies;
mod random_password;
mod read;
mod rotation;
mod rotation_jobs;

pub use assemble::{ServiceParts, TemporaryCredentials};
pub use lookup::storage_error;
pub use rotation::{rotation_token_digest, ROTATION_INCOMPLETE};
pub use rotation_jobs::{service_context, Completion, JobStatus};
mod tags;
mod write;

use crate::audit::{AuditEvent, AuditEventType, Caller, ServiceEventName, UNKNOWN_IDENTITY};
use crate::clock::{Clock, RandomSource};
use crate::error::{Error, Result};
use crate::identity::admin::AdminService;
use crate::ids::Scope;
use crate::metrics::ScopeGauges;
use crate::operation::{Api, Operation};
use crate::ports::PrincipalStore;
use crate::ports::{AuditSink, KeyProvider, MetricsSink, RotationInvoker, SecretRepository};
use crate::redact::redact_sensitive;
use authorize::Authorized;
use call::{decode_request, SecretsRequest};
use coffer_policy::{access_denied_message, evaluate_all, AuthorizationRequest, PrincipalInfo};
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;

/// Who is calling, from where, in which region: filled in by the wire layer after
/// authentication.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub scope: Scope,
    pub caller: Caller,
    pub request_id: String,
    /// The authenticated principal the policy engine decides for.
    pub principal: PrincipalInfo,
    /// `aws:SourceIp`, when known.
    pub source_ip: Option<IpAddr>,
    /// `aws:SecureTransport`: false on plain http.
    pub secure_transport: bool,
}

impl RequestContext {
    /// A call by the root principal of `scope`'s account (tests, tools, background work).
    pub fn root(scope: Scope, caller: Caller, request_id: impl Into<String>) -> Self {
        let principal = PrincipalInfo::root(&scope.account);
        RequestContext {
            scope,
            caller,
            request_id: request_id.into(),
            principal,
            source_ip: None,
            secure_transport: false,
        }
    }
}

/// The ports a service runs on.
#[derive(Clone)]
pub struct Ports {
    pub repository: Arc<dyn SecretRepository>,
    pub keys: Arc<dyn KeyProvider>,
    pub audit: Arc<dyn AuditSink>,
    pub metrics: Arc<dyn MetricsSink>,
    pub rotation: Arc<dyn RotationInvoker>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn RandomSource>,
}

#[derive(Clone)]
pub struct ServiceConfig {
    /// Key of the HMAC that makes `NextToken`s tamper-evident.
    pub paging_key: [u8; 32],
    /// When true, a call fails if its audit event cannot be recorded.
    pub audit_required: bool,
}

pub struct SecretsService {
    ports: Ports,
    config: ServiceConfig,
    lanes: lanes::WriteLanes,
    /// Coffer's own principals (users, roles, access keys, identity policies); `None` where no
    /// store is wired (then only root principals exist).
    principals: Option<Arc<dyn PrincipalStore>>,
    /// Temporary credentials (`crate::identity::sts`); `None`: AssumeRole is not offered.
    sts: Option<crate::identity::sts::StsSettings>,
    /// `coffer.LoginWithIam` (`crate::identity::iam_login`); `None`: not offered.
    iam_login: Option<crate::identity::iam_login::IamLoginSettings>,
}

/// The result of one call: the JSON body of the response or the AWS error.
pub type CallOutcome = Result<serde_json::Value>;

/// What the wire layer knows of a call refused at authentication, none of it verified.
#[derive(Debug, Clone, Copy)]
pub struct RefusedCall<'a> {
    /// The operation of the `X-Amz-Target` (`GetSecretValue`, or `CreateUser` of the admin API).
    pub operation: &'a str,
    pub request_id: &'a str,
    /// The region of the credential scope when it could be read, else the server's default.
    pub region: &'a str,
    /// The account the server serves (the event's `recipientAccountId`).
    pub account_id: &'a str,
    /// The access key id of the credential scope: recorded only when it has the form of one
    /// (upper-case letters and digits, 16 to 128 of them), so that a secret key pasted in its
    /// place never reaches the trail.
    pub claimed_access_key_id: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The code and message the client was answered with; the message must not echo the
    /// request (the signature, the canonical request).
    pub error_code: &'a str,
    pub error_message: &'a str,
    pub elapsed_ms: f64,
}

/// An access key id's form: AWS's are 16 to 128 upper-case letters and digits (`AKIA...`).
fn is_plausible_access_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_plausible_operation_name(operation: &str) -> bool {
    (1..=128).contains(&operation.len()) && operation.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_known_operation(operation: &str) -> bool {
    Operation::from_name(operation).is_some()
}

fn encode<T: Serialize>(response: T) -> Result<serde_json::Value> {
    serde_json::to_value(response)
        .map_err(|_| Error::internal("The response could not be encoded."))
}

impl SecretsService {
    /// A service with no principal store, STS or LoginWithIam. Processes build theirs with
    /// [`ServiceParts::assemble`], which adds what their configuration names.
    pub fn new(ports: Ports, config: ServiceConfig) -> Self {
        SecretsService {
            ports,
            config,
            lanes: lanes::WriteLanes::default(),
            principals: None,
            sts: None,
            iam_login: None,
        }
    }

    /// Wires the principal store: identity policies for authorization and the admin API.
    pub fn with_principals(mut self, store: Arc<dyn PrincipalStore>) -> Self {
        self.principals = Some(store);
        self
    }

    pub fn principals(&self) -> Option<&Arc<dyn PrincipalStore>> {
        self.principals.as_ref()
    }

    /// Offers STS AssumeRole (with a principal store) with these settings.
    pub fn with_sts(mut self, settings: crate::identity::sts::StsSettings) -> Self {
        self.sts = Some(settings);
        self
    }

    pub fn sts(&self) -> Option<&crate::identity::sts::StsSettings> {
        self.sts.as_ref()
    }

    /// Offers `coffer.LoginWithIam` (with STS settings, whose codec seals its sessions).
    pub fn with_iam_login(
        mut self,
        settings: crate::identity::iam_login::IamLoginSettings,
    ) -> Self {
        self.iam_login = Some(settings);
        self
    }

    pub fn iam_login(&self) -> Option<&crate::identity::iam_login::IamLoginSettings> {
        self.iam_login.as_ref()
    }

    /// Runs one admin operation (`coffer.<Op>`): decodes its request once, authorizes
    /// `coffer:<Op>`, runs it, records its audit event and metrics.
    pub async fn handle_admin(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        body: &[u8],
    ) -> CallOutcome {
        let started = self.ports.clock.now();
        let mut view = serde_json::Value::Null;
        let outcome = self.run_admin(ctx, operation, body, &mut view).await;
        self.finish(ctx, operation, &view, outcome, started).await
    }

    async fn run_admin(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        body: &[u8],
        view: &mut serde_json::Value,
    ) -> CallOutcome {
        if operation.api() != Api::Admin || operation == Operation::LoginWithIam {
            return Err(Error::UnknownOperation(format!(
                "The operation {operation} is not known to the Coffer admin API."
            )));
        }
        let request = crate::identity::admin::parse_body(body)?;
        *view = serde_json::to_value(&request).unwrap_or(serde_json::Value::Null);
        let Some(store) = &self.principals else {
            return Err(Error::invalid_request(
                "The admin API is not available here: this server has no principal store.",
            ));
        };
        let resource = crate::identity::admin::admin_resource(&ctx.principal, operation, &request);
        let authorization =
            AuthorizationRequest::new(ctx.principal.clone(), operation.action(), &resource)
                // Principals of another account are managed by this server's root (checked by the
                // admin service), not delegated across accounts: decide in the caller's account.
                .with_resource_account(&ctx.principal.account)
                .with_current_time(self.ports.clock.now().to_offset_datetime())
                .with_secure_transport(ctx.secure_transport);
        let identity = self.identity_policies(ctx).await?;
        let decision = evaluate_all(&authorization, &identity, &[]);
        if !decision.is_allowed() {
            return Err(Error::AccessDenied(access_denied_message(
                &authorization,
                &decision,
            )));
        }
        let admin = AdminService {
            store: store.clone(),
            keys: self.ports.keys.clone(),
            clock: self.ports.clock.clone(),
            random: self.ports.random.clone(),
        };
        admin.run(&ctx.principal, operation, request).await
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// Runs one Secrets Manager operation and records its audit event and metrics.
    pub async fn handle(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        body: &[u8],
    ) -> CallOutcome {
        let started = self.ports.clock.now();
        let mut view = serde_json::Value::Null;
        let outcome = self.run_call(ctx, operation, body, &mut view).await;
        self.finish(ctx, operation, &view, outcome, started).await
    }

    /// The audit event and the metrics of a finished call.
    async fn finish(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        view: &serde_json::Value,
        outcome: CallOutcome,
        started: crate::clock::Timestamp,
    ) -> CallOutcome {
        let outcome = self.audit(ctx, operation, view, outcome).await;
        let elapsed = (self.ports.clock.now().millis() - started.millis()) as f64;
        let code = outcome.as_ref().err().map(|e| e.code());
        self.ports
            .metrics
            .record_call(operation.name(), code, elapsed);
        outcome
    }

    /// The typed pipeline of one call: decode and validate (`prepare`), authorize, run.
    async fn run_call(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        body: &[u8],
        view: &mut serde_json::Value,
    ) -> CallOutcome {
        use Operation::*;
        macro_rules! run {
            ($method:ident) => {{
                let call = self.prepare(ctx, operation, body, view).await?;
                encode(self.$method(call).await?)
            }};
        }
        match operation {
            CreateSecret => run!(create_secret),
            DescribeSecret => run!(describe_secret),
            GetSecretValue => run!(get_secret_value),
            BatchGetSecretValue => run!(batch_get_secret_value),
            PutSecretValue => run!(put_secret_value),
            UpdateSecret => run!(update_secret),
            UpdateSecretVersionStage => run!(update_secret_version_stage),
            ListSecrets => run!(list_secrets),
            ListSecretVersionIds => run!(list_secret_version_ids),
            DeleteSecret => run!(delete_secret),
            RestoreSecret => run!(restore_secret),
            TagResource => run!(tag_resource),
            UntagResource => run!(untag_resource),
            GetRandomPassword => run!(get_random_password),
            GetResourcePolicy => run!(get_resource_policy),
            PutResourcePolicy => run!(put_resource_policy),
            DeleteResourcePolicy => run!(delete_resource_policy),
            ListResourcePolicies => run!(list_resource_policies),
            ValidateResourcePolicy => run!(validate_resource_policy),
            RotateSecret => run!(rotate_secret),
            CancelRotateSecret => run!(cancel_rotate_secret),
            ReplicateSecretToRegions
            | RemoveRegionsFromReplication
            | StopReplicationToReplica
            | AssociateCrossAccountReplica
            | DisassociateCrossAccountReplica => {
                // Refused after the body is read, before anything is looked up.
                let request: crate::api::SecretIdRequest = decode_request(body)?;
                *view = request.view()?;
                Err(Error::invalid_request(format!(
                    "{operation} is not supported by this Coffer server: replication is not implemented yet."
                )))
            }
            CreateUser
            | DeleteUser
            | ListUsers
            | CreateRole
            | DeleteRole
            | ListRoles
            | CreateAccessKey
            | DeleteAccessKey
            | ListAccessKeys
            | PutUserPolicy
            | PutRolePolicy
            | DeleteUserPolicy
            | DeleteRolePolicy
            | PutIamIdentityPolicy
            | GetIamIdentityPolicy
            | DeleteIamIdentityPolicy
            | ListIamIdentities
            | LoginWithIam
            | AssumeRole
            | GetCallerIdentity => Err(Error::UnknownOperation(format!(
                "The operation {operation} is not known to Secrets Manager."
            ))),
        }
    }

    /// Decodes the body once into the operation's typed request, validates it, and
    /// authorizes it; `view` gets the request's JSON view for the audit event.
    async fn prepare<R: SecretsRequest>(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        body: &[u8],
        view: &mut serde_json::Value,
    ) -> Result<Authorized<R>> {
        let request: R = decode_request(body)?;
        *view = request.view()?;
        request.validate()?;
        self.authorize(ctx, operation, request, view).await
    }

    async fn audit(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        view: &serde_json::Value,
        outcome: CallOutcome,
    ) -> CallOutcome {
        let request_parameters = redact_sensitive(view);
        let response_elements = match &outcome {
            Ok(v) => redact_sensitive(v),
            Err(_) => serde_json::Value::Null,
        };
        let resources = resources_of(&request_parameters, outcome.as_ref().ok());
        let event = self.api_event(
            ctx,
            operation.name(),
            request_parameters,
            response_elements,
            resources,
            outcome.as_ref().err(),
        );
        match self.record_event(&ctx.request_id, &event).await {
            Ok(()) => outcome,
            Err(e) => Err(e),
        }
    }

    /// An `AwsApiCall` event of `ctx`'s caller.
    pub(super) fn api_event(
        &self,
        ctx: &RequestContext,
        event_name: &str,
        request_parameters: serde_json::Value,
        response_elements: serde_json::Value,
        resources: Vec<String>,
        error: Option<&Error>,
    ) -> AuditEvent {
        let mut event = self.call_event(
            &ctx.scope.region,
            ctx.caller.clone(),
            &ctx.request_id,
            event_name,
        );
        event.request_parameters = request_parameters;
        event.response_elements = response_elements;
        event.resources = resources;
        event.error_code = error.map(|e| e.code().to_string());
        event.error_message = error.map(|e| e.message().to_string());
        event
    }

    /// The bare `AwsApiCall` event of one call: no parameters, elements, resources or error.
    pub(crate) fn call_event(
        &self,
        region: &str,
        caller: Caller,
        request_id: &str,
        event_name: &str,
    ) -> AuditEvent {
        AuditEvent {
            event_type: AuditEventType::AwsApiCall,
            event_time: self.ports.clock.now(),
            event_name: event_name.to_string(),
            region: region.to_string(),
            caller,
            request_id: request_id.to_string(),
            event_id: crate::service::lookup::new_uuid(self.ports.random.as_ref()),
            read_only: Operation::from_name(event_name).is_some_and(Operation::is_read_only),
            request_parameters: serde_json::Value::Null,
            response_elements: serde_json::Value::Null,
            resources: Vec::new(),
            error_code: None,
            error_message: None,
            additional_event_data: None,
        }
    }

    /// Records the `AwsApiCall` event of a call refused at authentication (bad or missing
    /// signature, unknown access key, expired request, ...) and counts it in the metrics, so
    /// that every call leaves one event, as [`Self::handle`] does for authenticated ones.
    ///
    /// Nothing of the request is trusted: `userIdentity` is of type [`UNKNOWN_IDENTITY`] with
    /// no principal ARN, carrying only the access key id the caller claimed (when it looks like
    /// one); `requestParameters` and `responseElements` are null (the body of an unauthenticated
    /// request may hold a secret value and is never read). Fails, like every other event, only
    /// when audit is required and the event could not be recorded; the caller answers with the
    /// authentication error either way.
    pub async fn record_refused_call(&self, call: &RefusedCall<'_>) -> Result<()> {
        let caller = Caller {
            identity_type: UNKNOWN_IDENTITY.to_string(),
            principal_arn: String::new(),
            account_id: call.account_id.to_string(),
            access_key_id: call
                .claimed_access_key_id
                .filter(|id| is_plausible_access_key_id(id))
                .map(str::to_string),
            source_ip: call.source_ip.map(str::to_string),
            user_agent: call.user_agent.map(str::to_string),
        };
        let event_name = if is_plausible_operation_name(call.operation) {
            call.operation
        } else {
            "UnknownOperation"
        };
        let mut event = self.call_event(call.region, caller, call.request_id, event_name);
        event.error_code = Some(call.error_code.to_string());
        event.error_message = Some(call.error_message.to_string());
        let recorded = self.record_event(call.request_id, &event).await;
        // Unauthenticated callers choose the target: only the operations Coffer knows get a
        // series of their own (the metrics' labels stay bounded).
        let metric_name = if is_known_operation(event_name) {
            event_name
        } else {
            "UnknownOperation"
        };
        self.ports
            .metrics
            .record_call(metric_name, Some(call.error_code), call.elapsed_ms);
        recorded
    }

    /// Hands one event to the audit sink. A failure fails the call only when audit is required
    /// (Vault's guarantee); otherwise it is logged and the call goes on.
    pub(crate) async fn record_event(&self, request_id: &str, event: &AuditEvent) -> Result<()> {
        let recorded = self.ports.audit.record(event).await;
        if recorded.is_err() {
            self.ports
                .metrics
                .increment(crate::metrics::AUDIT_EVENTS_NOT_RECORDED, 1);
        }
        match recorded {
            Ok(()) => Ok(()),
            Err(e) if self.config.audit_required => {
                tracing::error!(%request_id, event = %event.event_name, error = %e, "audit event not recorded; failing the call");
                Err(Error::internal("The request could not be audited."))
            }
            Err(e) => {
                tracing::warn!(%request_id, event = %event.event_name, error = %e, "audit event not recorded");
                Ok(())
            }
        }
    }

    /// Emits a service event (`AwsServiceEvent`) about one secret and counts it (rotation
    /// events feed the `Rotations*` counters). `request_id` links it to the call that caused
    /// it; background work passes `None` and the event gets an id of its own. Public so that
    /// the rotation runner reports `RotationSucceeded`, `RotationFailed`, ... through the same
    /// port. Fails only when audit is required and the event could not be recorded.
    pub async fn record_service_event(
        &self,
        name: ServiceEventName,
        scope: &Scope,
        secret_arn: &str,
        request_id: Option<&str>,
        additional: serde_json::Value,
    ) -> Result<()> {
        if let Some(metric) = name.metric() {
            self.ports.metrics.increment(metric, 1);
        }
        let random = self.ports.random.as_ref();
        let request_id = request_id.map_or_else(|| lookup::new_uuid(random), str::to_string);
        let event = AuditEvent::service_event(
            name,
            scope,
            secret_arn,
            request_id.clone(),
            lookup::new_uuid(random),
            self.ports.clock.now(),
            additional,
        );
        self.record_event(&request_id, &event).await
    }

    /// The `ResourceCount` and overdue-rotation gauges of every scope that holds secrets,
    /// computed from the repository (off the request path: a metrics scrape, the scheduler).
    pub async fn gauges(&self) -> Result<Vec<ScopeGauges>> {
        let now = self.ports.clock.now();
        let repository = &self.ports.repository;
        let mut out = Vec::new();
        for scope in repository
            .list_scopes()
            .await
            .map_err(lookup::storage_error)?
        {
            let secrets = repository
                .list(&scope)
                .await
                .map_err(lookup::storage_error)?;
            let overdue = secrets
                .iter()
                .filter(|s| s.deleted.is_none() && s.rotation.enabled)
                .filter(|s| s.rotation.next_rotation.is_some_and(|next| next < now))
                .count();
            out.push(ScopeGauges {
                scope,
                resource_count: secrets.len() as u64,
                overdue_rotations: overdue as u64,
            });
        }
        Ok(out)
    }
}

/// The secret ARNs a call touched, for the event's `resources`: the response's `ARN`, the ARNs
/// of a batch's `SecretValues`, or a `SecretId` given as an ARN.
fn resources_of(request: &serde_json::Value, response: Option<&serde_json::Value>) -> Vec<String> {
    if let Some(arn) = response.and_then(|r| r.get("ARN")).and_then(|v| v.as_str()) {
        return vec![arn.to_string()];
    }
    if let Some(values) = response
        .and_then(|r| r.get("SecretValues"))
        .and_then(|v| v.as_array())
    {
        return values
            .iter()
            .filter_map(|v| v.get("ARN").and_then(|a| a.as_str()))
            .map(str::to_string)
            .collect();
    }
    request
        .get("SecretId")
        .and_then(|v| v.as_str())
        .filter(|id| id.starts_with("arn:"))
        .map(|arn| vec![arn.to_string()])
        .unwrap_or_default()
}
