//! Opaque, tamper-evident `NextToken`s. A token carries the offset of the next page and a digest
//! of the query it belongs to, and is signed with HMAC-SHA256 under a server key: a token that
//! was altered, forged, or reused with other filters is `InvalidNextTokenException`.

use crate::error::{Error, Result};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

const TAG_LEN: usize = 16;

pub struct Paginator<'k> {
    key: &'k [u8; 32],
    query_digest: [u8; 8],
}

fn invalid() -> Error {
    Error::InvalidNextToken("The NextToken value is invalid.".to_string())
}

impl<'k> Paginator<'k> {
    /// `query` identifies the listing (operation, scope, filters, sort): a token is only valid for
    /// the query that produced it.
    pub fn new(key: &'k [u8; 32], query: &str) -> Self {
        let digest = Sha256::digest(query.as_bytes());
        let mut query_digest = [0u8; 8];
        query_digest.copy_from_slice(&digest[..8]);
        Paginator { key, query_digest }
    }

    fn tag(&self, payload: &[u8]) -> [u8; TAG_LEN] {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(self.key).expect("HMAC takes any key length");
        mac.update(payload);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    pub fn token_for(&self, offset: usize) -> String {
        let mut payload = Vec::with_capacity(16 + TAG_LEN);
        payload.extend_from_slice(&self.query_digest);
        payload.extend_from_slice(&(offset as u64).to_be_bytes());
        let tag = self.tag(&payload);
        payload.extend_from_slice(&tag);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload)
    }

    /// The offset a token points at; `0` without a token.
    pub fn offset_of(&self, token: Option<&str>) -> Result<usize> {
        let Some(token) = token else { return Ok(0) };
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .map_err(|_| invalid())?;
        if raw.len() != 16 + TAG_LEN {
            return Err(invalid());
        }
        let (payload, tag) = raw.split_at(16);
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(self.key).expect("HMAC takes any key length");
        mac.update(payload);
        mac.verify_truncated_left(tag).map_err(|_| invalid())?;
        if payload[..8] != self.query_digest {
            return Err(invalid());
        }
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&payload[8..16]);
        usize::try_from(u64::from_be_bytes(offset)).map_err(|_| invalid())
    }

    /// One page of `items` starting at the token's offset, and the token of the next page.
    pub fn page<T: Clone>(
        &self,
        items: &[T],
        token: Option<&str>,
        max: usize,
    ) -> Result<(Vec<T>, Option<String>)> {
        let start = self.offset_of(token)?;
        if start > items.len() {
            return Err(invalid());
        }
        let end = (start + max).min(items.len());
        let next = (end < items.len()).then(|| self.token_for(end));
        Ok((items[start..end].to_vec(), next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [9u8; 32];

    #[test]
    fn page_walks_all_items_once() {
        let p = Paginator::new(&KEY, "q");
        let items: Vec<u32> = (0..7).collect();
        let (first, t1) = p.page(&items, None, 3).unwrap();
        let (second, t2) = p.page(&items, t1.as_deref(), 3).unwrap();
        let (third, t3) = p.page(&items, t2.as_deref(), 3).unwrap();
        assert_eq!([first, second, third].concat(), items);
        assert!(t3.is_none());
    }

    #[test]
    fn tampered_token_is_invalid_next_token() {
        let p = Paginator::new(&KEY, "q");
        let token = p.token_for(3);
        let mut chars: Vec<char> = token.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        let forged: String = chars.into_iter().collect();
        assert!(matches!(
            p.offset_of(Some(&forged)),
            Err(Error::InvalidNextToken(_))
        ));
        assert!(matches!(
            p.offset_of(Some("garbage")),
            Err(Error::InvalidNextToken(_))
        ));
    }

    #[test]
    fn token_from_other_query_is_invalid_next_token() {
        let token = Paginator::new(&KEY, "q1").token_for(3);
        assert!(Paginator::new(&KEY, "q2").offset_of(Some(&token)).is_err());
    }
}
