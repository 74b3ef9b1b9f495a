//! The KMS key provider (work in progress).
