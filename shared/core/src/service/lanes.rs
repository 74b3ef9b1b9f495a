//! Per-secret write lanes: writers of the same secret in this process queue on an async mutex
//! instead of racing through optimistic-concurrency retries. Correctness does not depend on the
//! lanes (the revision check in the repository still guards every write, across processes and
//! replicas); they only stop 32 concurrent writers of one secret from re-reading and
//! re-deciding the same record dozens of times each.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

#[derive(Default)]
pub(super) struct WriteLanes {
    lanes: Mutex<HashMap<String, Weak<AsyncMutex<()>>>>,
}

impl WriteLanes {
    /// Waits for the lane of `key` (a secret ARN) and holds it until the guard drops.
    pub async fn enter(&self, key: &str) -> OwnedMutexGuard<()> {
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            if lanes.len() > 1024 {
                lanes.retain(|_, lane| lane.strong_count() > 0);
            }
            match lanes.get(key).and_then(Weak::upgrade) {
                Some(lane) => lane,
                None => {
                    let lane = Arc::new(AsyncMutex::new(()));
                    lanes.insert(key.to_string(), Arc::downgrade(&lane));
                    lane
                }
            }
        };
        lane.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn enter_same_key_waits_for_the_first_guard() {
        let lanes = WriteLanes::default();
        let first = lanes.enter("a").await;
        let other_key = lanes.enter("b").await;
        drop(other_key);
        let waiting = lanes.enter("a");
        tokio::pin!(waiting);
        assert!(futures_poll_once(waiting.as_mut()).await.is_none());
        drop(first);
        waiting.await;
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            out = f => Some(out),
            _ = tokio::task::yield_now() => None,
        }
    }
}
