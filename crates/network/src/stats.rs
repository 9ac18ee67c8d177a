//! Counters and liveness of peers, for status pages and tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;

use crate::PeerKey;

/// Messages dropped because they were malformed, oversized or inappropriate.
#[derive(Debug, Default)]
pub struct NetworkStats {
    dropped: AtomicU64,
    invalid_blocks: AtomicU64,
    faults: AtomicU64,
}

/// A snapshot of [`NetworkStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Messages dropped as malformed or out of protocol.
    pub dropped_messages: u64,
    /// Blocks from peers that failed validation.
    pub invalid_blocks: u64,
    /// Consensus faults observed (equivocation evidence).
    pub consensus_faults: u64,
}

impl NetworkStats {
    /// Counts a dropped message.
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts a block that failed validation.
    pub fn invalid_block(&self) {
        self.invalid_blocks.fetch_add(1, Ordering::Relaxed);
    }
    /// Counts consensus fault evidence.
    pub fn fault(&self) {
        self.faults.fetch_add(1, Ordering::Relaxed);
    }
    /// Current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            dropped_messages: self.dropped.load(Ordering::Relaxed),
            invalid_blocks: self.invalid_blocks.load(Ordering::Relaxed),
            consensus_faults: self.faults.load(Ordering::Relaxed),
        }
    }
}

/// Which peers have been heard from, and when (in the runtime's clock).
#[derive(Debug, Default)]
pub struct PeerTracker {
    last_heard: Mutex<HashMap<PeerKey, Duration>>,
}

impl PeerTracker {
    /// Records a message from `peer` at time `now`.
    pub fn heard(&self, peer: &PeerKey, now: Duration) {
        self.last_heard.lock().insert(peer.clone(), now);
    }

    /// Peers heard from within `window` before `now`.
    pub fn live(&self, now: Duration, window: Duration) -> usize {
        self.last_heard
            .lock()
            .values()
            .filter(|heard| now.saturating_sub(**heard) <= window)
            .count()
    }
}
