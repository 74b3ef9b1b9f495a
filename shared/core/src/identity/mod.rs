//! Who is calling: Coffer's own principals (users, roles, access keys: [`principals`], whose
//! store is the `PrincipalStore` port), STS sessions ([`sts`]: AssumeRole, GetCallerIdentity),
//! IAM callers' identity policies ([`iam_identity`]), `coffer.LoginWithIam` ([`iam_login`]) and
//! the admin API that manages them ([`admin`]).
//!
//! Data path: `coffer-wire` authenticates a request against [`principals`] (access keys) or
//! [`sts`] (session tokens); the service then reads the caller's identity policies from the
//! same store while authorizing (`service/authorize.rs`).

pub mod admin;
pub mod iam_identity;
pub mod iam_login;
pub mod principals;
pub mod sts;
