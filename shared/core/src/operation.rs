//! Every operation a Coffer endpoint answers, as one enum: the 26 Secrets Manager operations of
//! the AWS model, the admin API (`coffer.<Op>`), and the STS actions.
//!
//! Data path: the wire parses the operation once, first, from `X-Amz-Target` (or the STS
//! `Action`) with [`Operation::from_target`] / [`Operation::from_sts_action`]; an unknown one is
//! refused there, before authentication reads anything. Every table keyed by operation (the IAM
//! action, the resource kind, read-only, the API it belongs to) is an exhaustive `match` below, so
//! an operation cannot be added without deciding each of them.

use crate::error::{Error, Result};
use std::fmt;

/// Which API an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// `X-Amz-Target: secretsmanager.<Op>`.
    SecretsManager,
    /// `X-Amz-Target: coffer.<Op>`: Coffer's principals (IAM's names and shapes).
    Admin,
    /// awsQuery `Action=<Op>` signed for `sts`.
    Sts,
}

/// Where an operation's own IAM action applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionResource {
    /// All resources (`*`): the action has no resource-level permissions.
    Any,
    /// The secret the call names (its ARN).
    Secret,
    /// A principal of the admin API (a user, role or IAM identity), else `*`.
    Principal,
}

macro_rules! operations {
    ($($api:ident { $($op:ident),+ $(,)? })+) => {
        /// One operation of a Coffer endpoint.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Operation { $($($op,)+)+ }

        impl Operation {
            /// Every operation, in declaration order.
            pub const ALL: &'static [Operation] = &[$($(Operation::$op,)+)+];

            /// The operation's name as it appears in targets, events and metrics.
            pub fn name(self) -> &'static str {
                match self { $($(Operation::$op => stringify!($op),)+)+ }
            }

            /// The API the operation belongs to.
            pub fn api(self) -> Api {
                match self { $($(Operation::$op => Api::$api,)+)+ }
            }
        }
    };
}

operations! {
    SecretsManager {
        BatchGetSecretValue,
        CancelRotateSecret,
        CreateSecret,
        DeleteResourcePolicy,
        DeleteSecret,
        DescribeSecret,
        GetRandomPassword,
        GetResourcePolicy,
        GetSecretValue,
        ListResourcePolicies,
        ListSecretVersionIds,
        ListSecrets,
        PutResourcePolicy,
        PutSecretValue,
        RestoreSecret,
        RotateSecret,
        TagResource,
        UntagResource,
        UpdateSecret,
        UpdateSecretVersionStage,
        ValidateResourcePolicy,
        ReplicateSecretToRegions,
        RemoveRegionsFromReplication,
        StopReplicationToReplica,
        AssociateCrossAccountReplica,
        DisassociateCrossAccountReplica,
    }
    Admin {
        CreateUser,
        DeleteUser,
        ListUsers,
        CreateRole,
        DeleteRole,
        ListRoles,
        CreateAccessKey,
        DeleteAccessKey,
        ListAccessKeys,
        PutUserPolicy,
        PutRolePolicy,
        DeleteUserPolicy,
        DeleteRolePolicy,
        PutIamIdentityPolicy,
        GetIamIdentityPolicy,
        DeleteIamIdentityPolicy,
        ListIamIdentities,
        LoginWithIam,
    }
    Sts {
        AssumeRole,
        GetCallerIdentity,
    }
}

/// The `X-Amz-Target` prefix of the Secrets Manager API.
pub const SECRETS_MANAGER_TARGET_PREFIX: &str = "secretsmanager.";
/// The `X-Amz-Target` prefix of the admin API (same endpoint, same SigV4 service name).
pub const ADMIN_TARGET_PREFIX: &str = "coffer.";

impl Operation {
    /// The operation an `X-Amz-Target` names (`secretsmanager.<Op>` or `coffer.<Op>`); anything
    /// else, including an STS action behind a JSON prefix, is `UnknownOperationException`.
    pub fn from_target(target: &str) -> Result<Operation> {
        let (api, name) = if let Some(name) = target.strip_prefix(SECRETS_MANAGER_TARGET_PREFIX) {
            (Api::SecretsManager, name)
        } else if let Some(name) = target.strip_prefix(ADMIN_TARGET_PREFIX) {
            (Api::Admin, name)
        } else {
            return Err(Error::UnknownOperation(
                "The X-Amz-Target header does not name a Secrets Manager operation.".to_string(),
            ));
        };
        Self::named(api, name).ok_or_else(|| {
            let what = match api {
                Api::Admin => "the Coffer admin API",
                _ => "Secrets Manager",
            };
            Error::UnknownOperation(format!(
                "The operation {} is not known to {what}.",
                printable(name)
            ))
        })
    }

    /// The STS operation an awsQuery `Action` names.
    pub fn from_sts_action(action: &str) -> Option<Operation> {
        Self::named(Api::Sts, action)
    }

    /// The operation of `api` called `name` (exact, case-sensitive).
    pub fn named(api: Api, name: &str) -> Option<Operation> {
        Self::ALL
            .iter()
            .copied()
            .find(|op| op.api() == api && op.name() == name)
    }

    /// The operation of any API called `name` (names are unique across the APIs).
    pub fn from_name(name: &str) -> Option<Operation> {
        Self::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// The IAM action that authorizes the operation itself. Coffer's ListResourcePolicies is
    /// authorized as `secretsmanager:GetResourcePolicy`; `LoginWithIam` is authorized by the
    /// signed STS request it carries and has no action of its own.
    pub fn action(self) -> &'static str {
        use Operation::*;
        match self {
            BatchGetSecretValue => "secretsmanager:BatchGetSecretValue",
            CancelRotateSecret => "secretsmanager:CancelRotateSecret",
            CreateSecret => "secretsmanager:CreateSecret",
            DeleteResourcePolicy => "secretsmanager:DeleteResourcePolicy",
            DeleteSecret => "secretsmanager:DeleteSecret",
            DescribeSecret => "secretsmanager:DescribeSecret",
            GetRandomPassword => "secretsmanager:GetRandomPassword",
            GetResourcePolicy | ListResourcePolicies => "secretsmanager:GetResourcePolicy",
            GetSecretValue => "secretsmanager:GetSecretValue",
            ListSecretVersionIds => "secretsmanager:ListSecretVersionIds",
            ListSecrets => "secretsmanager:ListSecrets",
            PutResourcePolicy => "secretsmanager:PutResourcePolicy",
            PutSecretValue => "secretsmanager:PutSecretValue",
            RestoreSecret => "secretsmanager:RestoreSecret",
            RotateSecret => "secretsmanager:RotateSecret",
            TagResource => "secretsmanager:TagResource",
            UntagResource => "secretsmanager:UntagResource",
            UpdateSecret => "secretsmanager:UpdateSecret",
            UpdateSecretVersionStage => "secretsmanager:UpdateSecretVersionStage",
            ValidateResourcePolicy => "secretsmanager:ValidateResourcePolicy",
            ReplicateSecretToRegions => "secretsmanager:ReplicateSecretToRegions",
            RemoveRegionsFromReplication => "secretsmanager:RemoveRegionsFromReplication",
            StopReplicationToReplica => "secretsmanager:StopReplicationToReplica",
            AssociateCrossAccountReplica => "secretsmanager:AssociateCrossAccountReplica",
            DisassociateCrossAccountReplica => "secretsmanager:DisassociateCrossAccountReplica",
            CreateUser => "coffer:CreateUser",
            DeleteUser => "coffer:DeleteUser",
            ListUsers => "coffer:ListUsers",
            CreateRole => "coffer:CreateRole",
            DeleteRole => "coffer:DeleteRole",
            ListRoles => "coffer:ListRoles",
            CreateAccessKey => "coffer:CreateAccessKey",
            DeleteAccessKey => "coffer:DeleteAccessKey",
            ListAccessKeys => "coffer:ListAccessKeys",
            PutUserPolicy => "coffer:PutUserPolicy",
            PutRolePolicy => "coffer:PutRolePolicy",
            DeleteUserPolicy => "coffer:DeleteUserPolicy",
            DeleteRolePolicy => "coffer:DeleteRolePolicy",
            PutIamIdentityPolicy => "coffer:PutIamIdentityPolicy",
            GetIamIdentityPolicy => "coffer:GetIamIdentityPolicy",
            DeleteIamIdentityPolicy => "coffer:DeleteIamIdentityPolicy",
            ListIamIdentities => "coffer:ListIamIdentities",
            LoginWithIam => "coffer:LoginWithIam",
            AssumeRole => "sts:AssumeRole",
            GetCallerIdentity => "sts:GetCallerIdentity",
        }
    }

    /// Where the operation's own action applies.
    pub fn resource(self) -> ActionResource {
        use Operation::*;
        match self {
            BatchGetSecretValue | GetRandomPassword | ListSecrets => ActionResource::Any,
            CancelRotateSecret
            | CreateSecret
            | DeleteResourcePolicy
            | DeleteSecret
            | DescribeSecret
            | GetResourcePolicy
            | GetSecretValue
            | ListResourcePolicies
            | ListSecretVersionIds
            | PutResourcePolicy
            | PutSecretValue
            | RestoreSecret
            | RotateSecret
            | TagResource
            | UntagResource
            | UpdateSecret
            | UpdateSecretVersionStage
            | ValidateResourcePolicy
            | ReplicateSecretToRegions
            | RemoveRegionsFromReplication
            | StopReplicationToReplica
            | AssociateCrossAccountReplica
            | DisassociateCrossAccountReplica => ActionResource::Secret,
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
            | ListIamIdentities => ActionResource::Principal,
            LoginWithIam | AssumeRole | GetCallerIdentity => ActionResource::Any,
        }
    }

    /// True for operations that change nothing (the audit event's `readOnly`).
    pub fn is_read_only(self) -> bool {
        use Operation::*;
        match self {
            BatchGetSecretValue
            | DescribeSecret
            | GetRandomPassword
            | GetResourcePolicy
            | GetSecretValue
            | ListResourcePolicies
            | ListSecretVersionIds
            | ListSecrets
            | ValidateResourcePolicy
            | ListUsers
            | ListRoles
            | ListAccessKeys
            | GetIamIdentityPolicy
            | ListIamIdentities
            | GetCallerIdentity => true,
            CancelRotateSecret
            | CreateSecret
            | DeleteResourcePolicy
            | DeleteSecret
            | PutResourcePolicy
            | PutSecretValue
            | RestoreSecret
            | RotateSecret
            | TagResource
            | UntagResource
            | UpdateSecret
            | UpdateSecretVersionStage
            | ReplicateSecretToRegions
            | RemoveRegionsFromReplication
            | StopReplicationToReplica
            | AssociateCrossAccountReplica
            | DisassociateCrossAccountReplica
            | CreateUser
            | DeleteUser
            | CreateRole
            | DeleteRole
            | CreateAccessKey
            | DeleteAccessKey
            | PutUserPolicy
            | PutRolePolicy
            | DeleteUserPolicy
            | DeleteRolePolicy
            | PutIamIdentityPolicy
            | DeleteIamIdentityPolicy
            | LoginWithIam
            | AssumeRole => false,
        }
    }

    /// True for the operations of the model that Coffer does not serve yet (replication): they
    /// are refused after their body is read and before anything is looked up.
    pub fn is_unsupported(self) -> bool {
        use Operation::*;
        matches!(
            self,
            ReplicateSecretToRegions
                | RemoveRegionsFromReplication
                | StopReplicationToReplica
                | AssociateCrossAccountReplica
                | DisassociateCrossAccountReplica
        )
    }

    /// The admin operations of `coffer.<Op>` that manage IAM identities' policies.
    pub fn is_iam_identity_admin(self) -> bool {
        use Operation::*;
        matches!(
            self,
            PutIamIdentityPolicy
                | GetIamIdentityPolicy
                | DeleteIamIdentityPolicy
                | ListIamIdentities
        )
    }

    /// The admin operations whose principal is a role (`RoleName`), not a user.
    pub fn names_a_role(self) -> bool {
        use Operation::*;
        matches!(
            self,
            CreateRole | DeleteRole | ListRoles | PutRolePolicy | DeleteRolePolicy
        )
    }

    /// The operations of one API.
    pub fn of(api: Api) -> impl Iterator<Item = Operation> {
        Self::ALL.iter().copied().filter(move |op| op.api() == api)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A caller-chosen name as it may appear in a message: letters and digits only, at most 128.
fn printable(name: &str) -> String {
    if (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric()) {
        name.to_string()
    } else {
        "in the request".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_target_every_operation_round_trips() {
        for op in Operation::ALL {
            let prefix = match op.api() {
                Api::SecretsManager => SECRETS_MANAGER_TARGET_PREFIX,
                Api::Admin => ADMIN_TARGET_PREFIX,
                Api::Sts => {
                    assert_eq!(Operation::from_sts_action(op.name()), Some(*op));
                    continue;
                }
            };
            let target = format!("{prefix}{}", op.name());
            assert_eq!(Operation::from_target(&target).unwrap(), *op);
        }
    }

    #[test]
    fn from_target_unknown_or_cross_api_is_refused() {
        for target in [
            "",
            "secretsmanager.",
            "secretsmanager.NoSuchOperation",
            "secretsmanager.CreateUser",
            "coffer.GetSecretValue",
            "secretsmanager.AssumeRole",
            "secretsmanager.getsecretvalue",
            "kms.Decrypt",
        ] {
            let e = Operation::from_target(target).unwrap_err();
            assert_eq!(e.code(), "UnknownOperationException", "{target}");
        }
    }

    #[test]
    fn names_are_unique_across_apis() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
        }
        assert_eq!(Operation::of(Api::SecretsManager).count(), 26);
    }

    #[test]
    fn from_target_message_does_not_echo_odd_text() {
        let e = Operation::from_target("secretsmanager.<script>").unwrap_err();
        assert!(!e.message().contains("<script>"));
    }
}
