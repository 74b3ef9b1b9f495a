//! The secret JSON of a database credential, as AWS's rotation templates expect it:
//! `{"engine", "host", "port", "username", "password", "dbname", "masterarn", "ssl"}` (only
//! `host`, `username` and `password` are required; other fields are kept as they are).
//!
//! Where this sits: between [`crate::secrets`] (which reads and writes the values) and
//! [`crate::engine`] (which logs in with them). Problems are reported by field name only, never
//! with the offending value, and every string of the value is zeroized on drop.

use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use crate::engine::{Login, TlsMode};

/// One parsed secret value.
pub struct SecretValue {
    fields: Map<String, Value>,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("username", &self.username())
            .field("host", &self.host())
            .finish_non_exhaustive()
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        fn wipe(value: &mut Value) {
            match value {
                Value::String(s) => s.zeroize(),
                Value::Array(items) => items.iter_mut().for_each(wipe),
                Value::Object(map) => map.values_mut().for_each(wipe),
                _ => {}
            }
        }
        self.fields.values_mut().for_each(wipe);
    }
}

impl SecretValue {
    /// Parses a secret string. The error is a phrase completing "the <stage> value of secret
    /// <id> ...": it names the field at fault, never a value (serde_json's own messages can
    /// quote the input, so they are not passed on).
    pub fn parse(raw: &str) -> Result<SecretValue, String> {
        let fields = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err("is not a JSON object".into()),
            Err(e) => {
                return Err(format!(
                    "is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            }
        };
        let value = SecretValue { fields };
        for field in ["host", "username", "password"] {
            match value.fields.get(field) {
                Some(Value::String(s)) if !s.is_empty() => {}
                Some(_) => return Err(format!("has a {field} field that is not a string")),
                None => return Err(format!("has no {field} field ({field} key is missing)")),
            }
        }
        value.port()?;
        value.tls_mode()?;
        Ok(value)
    }

    fn str_field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    pub fn host(&self) -> &str {
        self.str_field("host").unwrap_or_default()
    }

    pub fn username(&self) -> &str {
        self.str_field("username").unwrap_or_default()
    }

    pub fn password(&self) -> &str {
        self.str_field("password").unwrap_or_default()
    }

    pub fn engine(&self) -> Option<&str> {
        self.str_field("engine")
    }

    /// `masterarn`: present for the alternating-users strategy.
    pub fn master_arn(&self) -> Option<&str> {
        self.str_field("masterarn").filter(|a| !a.is_empty())
    }

    pub fn dbname(&self) -> Option<&str> {
        self.str_field("dbname").filter(|d| !d.is_empty())
    }

    /// Sets `dbname` (the master secret logs into the database of the user it manages, as in
    /// AWS's templates).
    pub fn set_dbname(&mut self, dbname: Option<&str>) {
        match dbname {
            Some(d) => self.fields.insert("dbname".into(), Value::String(d.into())),
            None => self.fields.remove("dbname"),
        };
    }

    /// `port` as a number or a numeric string (AWS's templates accept both).
    pub fn port(&self) -> Result<Option<u16>, String> {
        let bad = || "has a port field that is not a port number".to_string();
        match self.fields.get("port") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(bad),
            Some(Value::String(s)) => s
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(bad),
            Some(_) => Err(bad()),
        }
    }

    /// The optional `ssl` field of AWS's templates: `true` requires TLS, `false` disables it,
    /// absent tries TLS and falls back to plain only if the server does not support TLS.
    pub fn tls_mode(&self) -> Result<TlsMode, String> {
        match self.fields.get("ssl") {
            None | Some(Value::Null) => Ok(TlsMode::Prefer),
            Some(Value::Bool(true)) => Ok(TlsMode::Require),
            Some(Value::Bool(false)) => Ok(TlsMode::Disable),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(TlsMode::Require),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(TlsMode::Disable),
            Some(_) => Err("has an ssl field that is neither true nor false".into()),
        }
    }

    /// What the engine needs to log in with these credentials.
    pub fn login(&self, default_port: u16) -> Login<'_> {
        Login {
            host: self.host(),
            port: self.port().ok().flatten().unwrap_or(default_port),
            user: self.username(),
            password: self.password(),
            dbname: self.dbname(),
            tls: self.tls_mode().unwrap_or(TlsMode::Prefer),
        }
    }

    /// A copy with another username and password, every other field kept (createSecret's new
    /// AWSPENDING value).
    pub fn with_credentials(&self, username: &str, password: &str) -> SecretValue {
        let mut fields = self.fields.clone();
        fields.insert("username".into(), Value::String(username.into()));
        fields.insert("password".into(), Value::String(password.into()));
        SecretValue { fields }
    }

    /// The JSON text to store.
    pub fn to_json(&self) -> Zeroizing<String> {
        Zeroizing::new(Value::Object(self.fields.clone()).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_without_password_names_the_field_only() {
        let err = SecretValue::parse(r#"{"host":"db","username":"app"}"#).unwrap_err();
        assert!(err.contains("password"), "{err}");
        let err = SecretValue::parse(r#"{"host":"db","username":"app","password":12345678}"#)
            .unwrap_err();
        assert!(!err.contains("12345678"), "{err}");
        let err = SecretValue::parse(r#"{"host":"db","password":"hunter2"#).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn parse_accepts_port_as_number_or_string() {
        let v = SecretValue::parse(r#"{"host":"h","username":"u","password":"p","port":"6543"}"#)
            .unwrap();
        assert_eq!(v.login(5432).port, 6543);
        let v = SecretValue::parse(r#"{"host":"h","username":"u","password":"p","port":3307}"#)
            .unwrap();
        assert_eq!(v.login(3306).port, 3307);
        let v = SecretValue::parse(r#"{"host":"h","username":"u","password":"p"}"#).unwrap();
        assert_eq!(v.login(3306).port, 3306);
        assert!(
            SecretValue::parse(r#"{"host":"h","username":"u","password":"p","port":70000}"#)
                .is_err()
        );
    }

    #[test]
    fn with_credentials_keeps_other_fields() {
        let v = SecretValue::parse(
            r#"{"engine":"postgres","host":"h","username":"u","password":"p","masterarn":"arn:m","extra":1}"#,
        )
        .unwrap();
        let next = v.with_credentials("u_clone", "new-Pw-9x");
        let json: Value = serde_json::from_str(&next.to_json()).unwrap();
        assert_eq!(json["username"], "u_clone");
        assert_eq!(json["password"], "new-Pw-9x");
        assert_eq!(json["masterarn"], "arn:m");
        assert_eq!(json["extra"], 1);
        assert!(!format!("{next:?}").contains("new-Pw-9x"));
    }
}
