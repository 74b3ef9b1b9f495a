//! Staging-label rules, as pure functions on a `SecretRecord`. The service applies them to a copy
//! of the record and writes the result with one conditional update, so a label move is atomic.
//!
//! - Each label sits on at most one version.
//! - Whenever AWSCURRENT moves from version A to another version, AWSPREVIOUS moves to A.
//! - A version with no label is deprecated; AWS keeps 100 deprecated versions plus every version
//!   younger than 24 hours, and removes the oldest beyond that.

use crate::clock::{Timestamp, MILLIS_PER_DAY};
use crate::error::{Error, Result};
use crate::ids::{StageLabel, VersionId, AWSCURRENT, AWSPENDING, AWSPREVIOUS};
use crate::model::SecretRecord;

/// Labels one version may carry (`SecretVersionStagesType` max).
pub const MAX_LABELS_PER_VERSION: usize = 20;
/// Deprecated versions kept beyond those younger than a day.
pub const KEPT_DEPRECATED_VERSIONS: usize = 100;

fn remove_everywhere(record: &mut SecretRecord, label: &str) -> Option<VersionId> {
    let mut holder = None;
    for v in record.versions.iter_mut() {
        if v.has_stage(label) {
            v.stages.retain(|s| s.as_str() != label);
            holder = Some(v.id.clone());
        }
    }
    holder
}

fn attach(record: &mut SecretRecord, target: &VersionId, label: &StageLabel) -> Result<()> {
    let version = record.version_mut(target).ok_or_else(|| {
        Error::not_found(format!(
            "Secrets Manager can't find the specified secret version: {target}"
        ))
    })?;
    if !version.has_stage(label.as_str()) {
        version.stages.push(label.clone());
    }
    Ok(())
}

/// Moves `label` onto `target`, taking it from whichever version holds it. Moving AWSCURRENT
/// away from a version hands AWSPREVIOUS to that version.
pub fn move_label(record: &mut SecretRecord, target: &VersionId, label: &StageLabel) -> Result<()> {
    let holder = record
        .version_with_stage(label.as_str())
        .map(|v| v.id.clone());
    if holder.as_ref() == Some(target) {
        return Ok(());
    }
    if record.version(target).is_none() {
        return Err(Error::not_found(format!(
            "Secrets Manager can't find the specified secret version: {target}"
        )));
    }
    remove_everywhere(record, label.as_str());
    attach(record, target, label)?;
    if label.as_str() == AWSCURRENT {
        if let Some(previous_current) = holder {
            remove_everywhere(record, AWSPREVIOUS);
            attach(record, &previous_current, &StageLabel::previous())?;
            // AWS: a version that carried AWSPENDING beside AWSCURRENT (a finished rotation
            // keeps it) loses it when AWSCURRENT moves off: it is AWSPREVIOUS only.
            if let Some(v) = record.version_mut(&previous_current) {
                v.stages.retain(|s| s.as_str() != AWSPENDING);
            }
        }
    }
    check_label_count(record, target)
}

/// Removes `label` from `from`; the label must be there.
pub fn remove_label(record: &mut SecretRecord, from: &VersionId, label: &StageLabel) -> Result<()> {
    let version = record.version_mut(from).ok_or_else(|| {
        Error::not_found(format!(
            "Secrets Manager can't find the specified secret version: {from}"
        ))
    })?;
    if !version.has_stage(label.as_str()) {
        return Err(Error::invalid_parameter(format!(
            "The staging label {label} is not attached to version {from}."
        )));
    }
    version.stages.retain(|s| s != label);
    Ok(())
}

fn check_label_count(record: &SecretRecord, target: &VersionId) -> Result<()> {
    match record.version(target) {
        Some(v) if v.stages.len() > MAX_LABELS_PER_VERSION => Err(Error::LimitExceeded(format!(
            "A version can have at most {MAX_LABELS_PER_VERSION} staging labels."
        ))),
        _ => Ok(()),
    }
}

/// Removes the oldest deprecated versions beyond the retention rule; returns their ids so the
/// caller can delete their values in the same write.
pub fn prune_deprecated(record: &mut SecretRecord, now: Timestamp) -> Vec<VersionId> {
    let day_ago = Timestamp(now.millis() - MILLIS_PER_DAY);
    let mut deprecated: Vec<(Timestamp, VersionId)> = record
        .versions
        .iter()
        .filter(|v| v.stages.is_empty())
        .map(|v| (v.created, v.id.clone()))
        .collect();
    deprecated.sort();
    let mut removable = deprecated.len().saturating_sub(KEPT_DEPRECATED_VERSIONS);
    let mut removed = Vec::new();
    for (created, id) in deprecated {
        if removable == 0 || created > day_ago {
            break;
        }
        removed.push(id);
        removable -= 1;
    }
    record.versions.retain(|v| !removed.contains(&v.id));
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Scope, SecretArn, SecretName};
    use crate::model::{RotationConfig, VersionMeta};

    fn vid(n: u32) -> VersionId {
        VersionId::from_stored(format!("{n:0>32}"))
    }

    fn record_with(n: u32, created_step: i64) -> SecretRecord {
        let scope = Scope::new("us-east-1", "000000000000");
        let name = SecretName::parse("s").unwrap();
        SecretRecord {
            arn: SecretArn::new(&scope, &name, "AbCdEf"),
            name,
            scope,
            description: None,
            kms_key_id: None,
            secret_type: None,
            tags: vec![],
            had_tags: false,
            rotation: RotationConfig::default(),
            policies: vec![],
            created: Timestamp(0),
            last_changed: Timestamp(0),
            last_accessed: None,
            deleted: None,
            purge_after: None,
            versions: (0..n)
                .map(|i| VersionMeta {
                    id: vid(i),
                    stages: vec![],
                    created: Timestamp(i as i64 * created_step),
                    last_accessed: None,
                    kms_key_arn: None,
                    has_value: true,
                })
                .collect(),
            revision: 0,
        }
    }

    fn stages(r: &SecretRecord, n: u32) -> Vec<String> {
        r.version(&vid(n))
            .unwrap()
            .stages
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn move_current_hands_previous_to_old_holder() {
        let mut r = record_with(3, 1);
        move_label(&mut r, &vid(0), &StageLabel::current()).unwrap();
        move_label(&mut r, &vid(1), &StageLabel::current()).unwrap();
        move_label(&mut r, &vid(2), &StageLabel::current()).unwrap();
        assert_eq!(stages(&r, 2), vec!["AWSCURRENT"]);
        assert_eq!(stages(&r, 1), vec!["AWSPREVIOUS"]);
        assert!(stages(&r, 0).is_empty());
    }

    #[test]
    fn move_current_back_to_previous_swaps_labels() {
        let mut r = record_with(2, 1);
        move_label(&mut r, &vid(0), &StageLabel::current()).unwrap();
        move_label(&mut r, &vid(1), &StageLabel::current()).unwrap();
        move_label(&mut r, &vid(0), &StageLabel::current()).unwrap();
        assert_eq!(stages(&r, 0), vec!["AWSCURRENT"]);
        assert_eq!(stages(&r, 1), vec!["AWSPREVIOUS"]);
    }

    #[test]
    fn move_label_to_missing_version_is_not_found() {
        let mut r = record_with(1, 1);
        let err = move_label(&mut r, &vid(9), &StageLabel::current()).unwrap_err();
        assert!(matches!(err, Error::ResourceNotFound(_)));
    }

    #[test]
    fn move_label_beyond_twenty_is_limit_exceeded() {
        let mut r = record_with(1, 1);
        for i in 0..20 {
            move_label(
                &mut r,
                &vid(0),
                &StageLabel::parse(&format!("L{i}")).unwrap(),
            )
            .unwrap();
        }
        let err = move_label(&mut r, &vid(0), &StageLabel::parse("L20").unwrap()).unwrap_err();
        assert!(matches!(err, Error::LimitExceeded(_)));
    }

    #[test]
    fn remove_label_not_attached_is_invalid_parameter() {
        let mut r = record_with(1, 1);
        let err = remove_label(&mut r, &vid(0), &StageLabel::pending()).unwrap_err();
        assert!(matches!(err, Error::InvalidParameter(_)));
    }

    #[test]
    fn prune_keeps_young_versions_and_hundred_old_ones() {
        // 150 deprecated versions, one hour apart: the oldest are older than a day.
        let mut r = record_with(150, 3_600_000);
        let now = Timestamp(150 * 3_600_000);
        let removed = prune_deprecated(&mut r, now);
        assert_eq!(removed.len(), 50);
        assert_eq!(removed[0], vid(0));
        assert_eq!(r.versions.len(), 100);
    }

    #[test]
    fn prune_never_removes_versions_younger_than_a_day() {
        let mut r = record_with(300, 1);
        let removed = prune_deprecated(&mut r, Timestamp(1000));
        assert!(removed.is_empty());
        assert_eq!(r.versions.len(), 300);
    }
}
