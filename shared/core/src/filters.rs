//! ListSecrets / BatchGetSecretValue filters, as AWS documents them:
//! `name`, `tag-key`, `tag-value`, `primary-region`, `owning-service` are case-sensitive prefix
//! matches; `description` is a case-insensitive prefix match on the description or any of its
//! words; `all` splits the value into words (at case changes, letter/digit changes and
//! punctuation) and matches any of them, case-insensitively, against the words of the name,
//! description, tag keys and tag values. A value starting with `!` negates. Values of one filter
//! are alternatives (negated values must all hold); separate filters must all match.

use crate::api::Filter;
use crate::error::{Error, Result};
use crate::model::SecretRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FilterKey {
    Description,
    Name,
    TagKey,
    TagValue,
    PrimaryRegion,
    OwningService,
    All,
}

#[derive(Debug, Clone)]
struct Term {
    negated: bool,
    text: String,
}

#[derive(Debug, Clone)]
pub struct SecretFilter {
    key: FilterKey,
    terms: Vec<Term>,
}

fn valid_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " :_@/+=.-!".contains(c)
}

/// Parses and validates the `Filters` member.
pub fn parse_filters(filters: &[Filter]) -> Result<Vec<SecretFilter>> {
    if filters.len() > 10 {
        return Err(Error::invalid_parameter(
            "You can specify at most 10 filters.",
        ));
    }
    filters
        .iter()
        .map(|f| {
            let key = match f.key.as_deref() {
                Some("description") => FilterKey::Description,
                Some("name") => FilterKey::Name,
                Some("tag-key") => FilterKey::TagKey,
                Some("tag-value") => FilterKey::TagValue,
                Some("primary-region") => FilterKey::PrimaryRegion,
                Some("owning-service") => FilterKey::OwningService,
                Some("all") => FilterKey::All,
                other => {
                    return Err(Error::invalid_parameter(format!(
                        "Invalid filter key: {}. Valid keys are description, name, tag-key, tag-value, primary-region, owning-service and all.",
                        other.unwrap_or("(missing)")
                    )))
                }
            };
            let values = f.values.as_deref().unwrap_or_default();
            if values.is_empty() || values.len() > 10 {
                return Err(Error::invalid_parameter(
                    "Each filter must have between 1 and 10 values.",
                ));
            }
            let terms = values
                .iter()
                .map(|v| {
                    if v.len() > 512 || !v.chars().all(valid_value_char) {
                        return Err(Error::invalid_parameter(format!(
                            "Invalid filter value: {v}. Values may contain letters, digits, spaces and :_@/+=.-! and be at most 512 characters long."
                        )));
                    }
                    Ok(match v.strip_prefix('!') {
                        Some(rest) => Term { negated: true, text: rest.to_string() },
                        None => Term { negated: false, text: v.clone() },
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(SecretFilter { key, terms })
        })
        .collect()
}

/// Splits text into words at case changes (lower to upper), letter/digit changes and
/// non-alphanumerics, lowercased.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            prev = None;
            continue;
        }
        if let Some(p) = prev {
            let boundary = (p.is_lowercase() && c.is_uppercase())
                || (p.is_alphabetic() && c.is_numeric())
                || (p.is_numeric() && c.is_alphabetic());
            if boundary && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
        prev = Some(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn attribute_matches(key: FilterKey, record: &SecretRecord, text: &str) -> bool {
    match key {
        FilterKey::Name => record.name.as_str().starts_with(text),
        FilterKey::TagKey => record.tags.iter().any(|t| t.key.starts_with(text)),
        FilterKey::TagValue => record.tags.iter().any(|t| t.value.starts_with(text)),
        // Coffer secrets have no primary region (no replication) and no owning service.
        FilterKey::PrimaryRegion | FilterKey::OwningService => false,
        FilterKey::Description => {
            let needle = text.to_lowercase();
            record.description.as_deref().is_some_and(|d| {
                let d = d.to_lowercase();
                d.starts_with(&needle) || d.split_whitespace().any(|w| w.starts_with(&needle))
            })
        }
        FilterKey::All => {
            let mut haystack = words(record.name.as_str());
            if let Some(d) = &record.description {
                haystack.extend(words(d));
            }
            for t in &record.tags {
                haystack.extend(words(&t.key));
                haystack.extend(words(&t.value));
            }
            words(text)
                .iter()
                .any(|needle| haystack.iter().any(|w| w.starts_with(needle.as_str())))
        }
    }
}

impl SecretFilter {
    pub fn matches(&self, record: &SecretRecord) -> bool {
        let positives: Vec<&Term> = self.terms.iter().filter(|t| !t.negated).collect();
        let any_positive = positives.is_empty()
            || positives
                .iter()
                .any(|t| attribute_matches(self.key, record, &t.text));
        let negatives_hold = self
            .terms
            .iter()
            .filter(|t| t.negated)
            .all(|t| !attribute_matches(self.key, record, &t.text));
        any_positive && negatives_hold
    }
}

pub fn matches_all(filters: &[SecretFilter], record: &SecretRecord) -> bool {
    filters.iter().all(|f| f.matches(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_at_case_digit_and_punctuation() {
        assert_eq!(words("credsDatabase#892"), vec!["creds", "database", "892"]);
        assert_eq!(words("My_Secret"), vec!["my", "secret"]);
    }

    #[test]
    fn parse_filters_unknown_key_is_invalid_parameter() {
        let f = Filter {
            key: Some("color".into()),
            values: Some(vec!["x".into()]),
        };
        assert!(matches!(
            parse_filters(&[f]),
            Err(Error::InvalidParameter(_))
        ));
    }

    #[test]
    fn parse_filters_bad_value_character_is_invalid_parameter() {
        let f = Filter {
            key: Some("name".into()),
            values: Some(vec!["a*b".into()]),
        };
        assert!(parse_filters(&[f]).is_err());
    }
}
