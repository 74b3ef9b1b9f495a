//! GetRandomPassword: AWS's defaults and rules, drawn from the injected CSPRNG.

use super::authorize::Authorized;
use super::SecretsService;
use crate::api::{GetRandomPasswordRequest, GetRandomPasswordResponse, SensitiveString};
use crate::error::Result;
use crate::password::{generate_password, PasswordSpec};
use zeroize::Zeroizing;

impl SecretsService {
    pub(super) async fn get_random_password(
        &self,
        call: Authorized<GetRandomPasswordRequest>,
    ) -> Result<GetRandomPasswordResponse> {
        let req = call.request;
        let defaults = PasswordSpec::default();
        let spec = PasswordSpec {
            length: req.password_length.unwrap_or(defaults.length),
            exclude_characters: req.exclude_characters.unwrap_or_default(),
            exclude_numbers: req.exclude_numbers.unwrap_or(false),
            exclude_punctuation: req.exclude_punctuation.unwrap_or(false),
            exclude_uppercase: req.exclude_uppercase.unwrap_or(false),
            exclude_lowercase: req.exclude_lowercase.unwrap_or(false),
            include_space: req.include_space.unwrap_or(false),
            require_each_included_type: req
                .require_each_included_type
                .unwrap_or(defaults.require_each_included_type),
        };
        let password = generate_password(&spec, self.ports.random.as_ref())?;
        Ok(GetRandomPasswordResponse {
            random_password: SensitiveString(Zeroizing::new(password)),
        })
    }
}
