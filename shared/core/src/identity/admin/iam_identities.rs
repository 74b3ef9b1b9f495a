//! The admin operations on the identity policies of AWS IAM identities: `PutIamIdentityPolicy`,
//! `GetIamIdentityPolicy`, `DeleteIamIdentityPolicy` (`{IamArn, PolicyName[, PolicyDocument]}`)
//! and `ListIamIdentities` (`{IamIdentities: [{IamArn, PolicyNames}]}`).
//!
//! Data path: `AdminService::run` hands these here after the caller was authorized for
//! `coffer:<Op>` on the `IamArn`. Each `iam-identity` record (`crate::identity::iam_identity`) lives in the
//! account its ARN names: the caller's own, or (root only) another; it is created by its first
//! policy and removed with its last. `ListIamIdentities` lists the caller's account (or
//! `Account`, root only).

use super::{policy_not_found, target_account, valid_name, AdminRequest, AdminService};
use crate::error::{Error, Result};
use crate::identity::iam_identity::parse_iam_arn_pattern;
use crate::identity::principals::PrincipalType;
use crate::operation::Operation;
use coffer_policy::PrincipalInfo;
use serde_json::{json, Value};

const KIND: PrincipalType = PrincipalType::IamIdentity;

impl AdminService {
    pub(super) async fn run_iam_identity(
        &self,
        caller: &PrincipalInfo,
        operation: Operation,
        req: AdminRequest,
    ) -> Result<Value> {
        if operation == Operation::ListIamIdentities {
            let account = target_account(caller, req.account.as_deref())?;
            return self.list(&account, KIND).await;
        }
        let arn = req
            .iam_arn
            .as_deref()
            .ok_or_else(|| Error::invalid_parameter("You must specify IamArn."))?;
        let arn_account = parse_iam_arn_pattern(arn)?;
        if req.account.as_ref().is_some_and(|a| *a != arn_account) {
            return Err(Error::invalid_parameter(
                "Account, when given, must be the account of IamArn.",
            ));
        }
        let account = target_account(caller, Some(&arn_account))?;
        match operation {
            Operation::PutIamIdentityPolicy => self.put_policy(&account, KIND, req).await,
            Operation::DeleteIamIdentityPolicy => self.delete_policy(&account, KIND, req).await,
            Operation::GetIamIdentityPolicy => {
                let arn = arn.to_string();
                let policy_name = valid_name(req.policy_name.as_deref(), "PolicyName")?;
                let record = self.existing(&account, KIND, &arn).await?;
                let document = record
                    .policies
                    .get(&policy_name)
                    .ok_or_else(|| policy_not_found(KIND, &policy_name))?;
                Ok(json!({
                    "IamArn": arn,
                    "PolicyName": policy_name,
                    "PolicyDocument": document,
                }))
            }
            other => Err(Error::UnknownOperation(format!(
                "The operation {other} is not known to the Coffer admin API."
            ))),
        }
    }
}
