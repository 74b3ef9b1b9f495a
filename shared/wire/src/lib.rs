//! `coffer-wire`: the HTTP face of Coffer. One axum [`router`] used everywhere (the local binary
//! serves it; the Lambda API function runs it under lambda_http): `POST /` with
//! `X-Amz-Target: secretsmanager.<Operation>` is authenticated ([`auth`], [`sigv4`]) and handed to
//! the core's `SecretsService`; errors become AWS JSON error bodies ([`errors`]).
//!
//! Data path: HTTP request -> [`router`] -> [`auth`] -> `coffer_core::service` -> [`errors`] or
//! the JSON response.

pub mod auth;
pub mod errors;
pub mod router;
pub mod sigv4;
pub mod sts;

pub use router::{router, SignedPath, WireState};
