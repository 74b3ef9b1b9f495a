//! Certificate roots for TLS between a rotator and its database.
//!
//! Where this sits: under [`crate::engine`], when a rotator opens a database connection. Like
//! AWS's templates, a rotator asks for TLS first and talks in plain only when the server says it
//! does not support TLS (PostgreSQL answers the SSLRequest with `N`; MySQL/MariaDB does not set
//! the SSL capability flag). A server that offers TLS must present a certificate for the host
//! name of the secret that verifies against the Mozilla roots (`webpki-roots`) plus, optionally,
//! the PEM bundle named by `COFFER_DB_CA_BUNDLE` (for example AWS's RDS `global-bundle.pem`, or a
//! private CA): a bad certificate is an error, never a reason to fall back to plain text. The
//! secret's optional `ssl` field (as in AWS's templates) forces TLS (`true`) or plain (`false`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::config::ConfigError;

/// The environment variable naming an extra PEM bundle of trusted CA certificates.
pub const CA_BUNDLE_ENV: &str = "COFFER_DB_CA_BUNDLE";

/// Which roots a database's certificate must chain to: `webpki-roots` plus an optional bundle.
#[derive(Clone)]
pub struct TlsSettings {
    ca_bundle: Option<PathBuf>,
    extra_roots: Vec<CertificateDer<'static>>,
    /// Built (and so checked) in every build; only the PostgreSQL engine connects with it.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    config: Arc<ClientConfig>,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("ca_bundle", &self.ca_bundle)
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

impl Default for TlsSettings {
    /// `webpki-roots` only.
    fn default() -> Self {
        let config = client_config(&[])
            .expect("aws-lc-rs supports rustls's default protocol versions and the webpki roots");
        TlsSettings {
            ca_bundle: None,
            extra_roots: vec![],
            config: Arc::new(config),
        }
    }
}

impl TlsSettings {
    /// `webpki-roots` plus the bundle named by `COFFER_DB_CA_BUNDLE` when set.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(CA_BUNDLE_ENV) {
            Ok(path) if !path.trim().is_empty() => Self::with_ca_bundle(Path::new(&path)),
            _ => Ok(TlsSettings::default()),
        }
    }

    /// `webpki-roots` plus every certificate of the PEM file at `path` (at least one).
    pub fn with_ca_bundle(path: &Path) -> Result<Self, ConfigError> {
        let bad = |reason: String| ConfigError::CaBundle {
            name: CA_BUNDLE_ENV,
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let extra_roots = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("not a PEM certificate bundle ({e})")))?;
        if extra_roots.is_empty() {
            return Err(bad("it holds no PEM certificate".into()));
        }
        let config = client_config(&extra_roots).map_err(|e| bad(e.to_string()))?;
        Ok(TlsSettings {
            ca_bundle: Some(path.to_path_buf()),
            extra_roots,
            config: Arc::new(config),
        })
    }

    /// The extra CA certificates (DER), for drivers that build their own TLS configuration.
    #[cfg(any(test, feature = "mysql"))]
    pub(crate) fn extra_roots(&self) -> &[CertificateDer<'static>] {
        &self.extra_roots
    }

    /// The rustls client configuration verifying against these roots.
    #[cfg(any(test, feature = "postgres"))]
    pub(crate) fn client_config(&self) -> &ClientConfig {
        &self.config
    }
}

fn client_config(extra_roots: &[CertificateDer<'static>]) -> Result<ClientConfig, rustls::Error> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots {
        roots.add(cert.clone())?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Makes aws-lc-rs the process's rustls provider, for drivers (mysql_async) that build their
/// configuration with `ClientConfig::builder()`, which panics when the build enables several
/// providers and none is installed. Installing twice is harmless.
#[cfg(feature = "mysql")]
pub(crate) fn install_default_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_ca_bundle_without_certificates_is_rejected() {
        let dir = std::env::temp_dir().join(format!("coffer-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("empty.pem");
        std::fs::write(&file, b"not a certificate\n").unwrap();
        let err = TlsSettings::with_ca_bundle(&file).unwrap_err();
        assert!(err.to_string().contains(CA_BUNDLE_ENV), "{err}");
        let err = TlsSettings::with_ca_bundle(&dir.join("missing.pem")).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn default_settings_trust_the_webpki_roots() {
        let settings = TlsSettings::default();
        assert!(settings.extra_roots().is_empty());
        let _ = settings.client_config();
    }
}
