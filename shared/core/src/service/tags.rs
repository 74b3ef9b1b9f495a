//! TagResource and UntagResource, and the tag rules CreateSecret shares: at most 50 tags, keys 1
//! to 128 and values up to 256 characters, and the `aws:` prefix reserved.

use super::authorize::Authorized;
use super::mutate::{Change, DeletedSecrets};
use super::SecretsService;
use crate::api::{Empty, Tag, TagResourceRequest, UntagResourceRequest};
use crate::error::{Error, Result};
use crate::model;
use crate::ports::VersionWrites;

pub const MAX_TAGS: usize = 50;

fn check_key(key: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(Error::invalid_parameter(
            "Invalid tag key: it must be between 1 and 128 characters long.",
        ));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Error::invalid_parameter(
            "Invalid tag key: the aws: prefix is reserved for use by AWS.",
        ));
    }
    Ok(())
}

/// Validates tags from a request; a repeated key keeps its last value.
pub(super) fn validate_tags(tags: &[Tag]) -> Result<Vec<Tag>> {
    let mut out: Vec<Tag> = Vec::with_capacity(tags.len());
    for t in tags {
        check_key(&t.key)?;
        if t.value.chars().count() > 256 {
            return Err(Error::invalid_parameter(
                "Invalid tag value: it must be at most 256 characters long.",
            ));
        }
        match out.iter_mut().find(|o| o.key == t.key) {
            Some(existing) => existing.value = t.value.clone(),
            None => out.push(t.clone()),
        }
    }
    Ok(out)
}

impl SecretsService {
    pub(super) async fn tag_resource(&self, call: Authorized<TagResourceRequest>) -> Result<Empty> {
        let req = &call.request;
        let tags = validate_tags(
            req.tags
                .as_deref()
                .ok_or_else(|| Error::invalid_parameter("You must specify Tags."))?,
        )?;
        self.mutate_authorized(&call, DeletedSecrets::Refuse, |r| {
            r.had_tags |= !tags.is_empty();
            for t in &tags {
                match r.tags.iter_mut().find(|o| o.key == t.key) {
                    Some(existing) => existing.value = t.value.clone(),
                    None => r.tags.push(model::Tag {
                        key: t.key.clone(),
                        value: t.value.clone(),
                    }),
                }
            }
            if r.tags.len() > MAX_TAGS {
                return Err(Error::invalid_parameter(format!(
                    "A secret can have at most {MAX_TAGS} tags; this request would give it {}.",
                    r.tags.len()
                )));
            }
            Ok(Change::Write(Empty {}, VersionWrites::default()))
        })
        .await
    }

    pub(super) async fn untag_resource(
        &self,
        call: Authorized<UntagResourceRequest>,
    ) -> Result<Empty> {
        let req = &call.request;
        let keys = req
            .tag_keys
            .clone()
            .ok_or_else(|| Error::invalid_parameter("You must specify TagKeys."))?;
        for k in &keys {
            check_key(k)?;
        }
        self.mutate_authorized(&call, DeletedSecrets::Refuse, |r| {
            r.had_tags |= !r.tags.is_empty();
            r.tags.retain(|t| !keys.contains(&t.key));
            Ok(Change::Write(Empty {}, VersionWrites::default()))
        })
        .await
    }
}
