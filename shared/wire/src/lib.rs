//! `coffer-wire`: the HTTP face of Coffer.
pub mod sigv4;
