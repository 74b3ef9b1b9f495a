//! Root credentials: from `COFFER_ROOT_ACCESS_KEY_ID` / `COFFER_ROOT_SECRET_ACCESS_KEY`, or
//! generated on first start and written to `<data-dir>/credentials` (mode 0600, in the AWS
//! shared-credentials format, profile `default`) so the AWS CLI can use the file directly.

use coffer_wire::auth::RootCredentials;
use rand::rngs::OsRng;
use rand::Rng;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

pub const ACCESS_KEY_ENV: &str = "COFFER_ROOT_ACCESS_KEY_ID";
pub const SECRET_KEY_ENV: &str = "COFFER_ROOT_SECRET_ACCESS_KEY";

/// Where the root credentials came from, for the start-up message.
pub enum CredentialSource {
    Environment,
    File(PathBuf),
}

fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = OsRng;
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

fn parse_credentials_file(text: &str) -> Option<(String, Zeroizing<String>)> {
    let mut id = None;
    let mut secret = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim() {
            "aws_access_key_id" => id = Some(v.trim().to_string()),
            "aws_secret_access_key" => secret = Some(Zeroizing::new(v.trim().to_string())),
            _ => {}
        }
    }
    Some((id?, secret?))
}

/// Root credentials from `COFFER_ROOT_ACCESS_KEY_ID` / `COFFER_ROOT_SECRET_ACCESS_KEY`, if set.
pub fn from_environment(account_id: &str) -> Option<RootCredentials> {
    let id = std::env::var(ACCESS_KEY_ENV).ok()?;
    let secret = Zeroizing::new(std::env::var(SECRET_KEY_ENV).ok()?);
    Some(RootCredentials {
        access_key_id: id,
        secret_access_key: secret,
        account_id: account_id.to_string(),
    })
}

/// Loads or creates the root credentials.
pub fn load_or_create(
    data_dir: &Path,
    account_id: &str,
) -> std::io::Result<(RootCredentials, CredentialSource)> {
    let make = |id: String, secret: Zeroizing<String>| RootCredentials {
        access_key_id: id,
        secret_access_key: secret,
        account_id: account_id.to_string(),
    };
    if let Some(root) = from_environment(account_id) {
        return Ok((root, CredentialSource::Environment));
    }
    let path = data_dir.join("credentials");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let text = Zeroizing::new(text);
        if let Some((id, secret)) = parse_credentials_file(&text) {
            return Ok((make(id, secret), CredentialSource::File(path)));
        }
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} has no aws_access_key_id / aws_secret_access_key",
                path.display()
            ),
        ));
    }
    let id = format!(
        "AKIA{}",
        random_string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    );
    let secret = Zeroizing::new(random_string(
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        40,
    ));
    let contents = Zeroizing::new(format!(
        "[default]\naws_access_key_id = {id}\naws_secret_access_key = {}\n",
        secret.as_str()
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok((make(id, secret), CredentialSource::File(path)))
}
