//! Counters and liveness of peers, and the penalties for misbehaving ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use commonware_p2p::Blocker;
use parking_lot::Mutex;
use serde::Serialize;

use crate::PeerKey;

/// Something a peer sent that an honest peer would not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// Bytes that do not decode as the channel's protocol, or exceed its bounds.
    Malformed,
    /// A block nobody asked the peer for, from someone who did not propose it, or beyond
    /// what the peer may send unasked.
    Unsolicited,
    /// A block that fails validation for a reason an honest peer can hit (a clock ahead of
    /// ours, a race with consensus).
    InvalidBlock,
    /// Sync: the peer announced blocks it then did not serve (no answer, an empty answer, or
    /// a head that contradicts the final chain).
    UnbackedClaim,
    /// Proof of dishonesty: a forged seal, a body that does not match its header, a
    /// transaction signature that does not verify. Nothing an honest node ever sends.
    Forgery,
}

impl Offence {
    /// Whether the offence proves the sender dishonest (so it is blocked, not only counted).
    pub fn is_proof_of_dishonesty(self) -> bool {
        matches!(self, Self::Forgery)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Unsolicited => "unsolicited",
            Self::InvalidBlock => "invalid_block",
            Self::UnbackedClaim => "unbacked_claim",
            Self::Forgery => "forgery",
        }
    }
}

/// Network counters, overall and per offending peer.
#[derive(Debug, Default)]
pub struct NetworkStats {
    dropped: AtomicU64,
    invalid_blocks: AtomicU64,
    faults: AtomicU64,
    unsolicited: AtomicU64,
    forgeries: AtomicU64,
    blocks_of_peers: AtomicU64,
    offenders: Mutex<BTreeMap<PeerKey, OffenderRecord>>,
}

/// What one peer has done wrong, as far as this node has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OffenderRecord {
    /// Offences counted.
    pub offences: u64,
    /// Times this node blocked the peer for a proven offence.
    pub blocked: u64,
    /// The most recent offence (`consensus` when consensus blocked the peer).
    pub last: &'static str,
}

/// A snapshot of [`NetworkStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Messages dropped as malformed or out of protocol.
    pub dropped_messages: u64,
    /// Blocks from peers that failed validation.
    pub invalid_blocks: u64,
    /// Consensus faults observed (equivocation evidence).
    pub consensus_faults: u64,
    /// Blocks dropped because nobody asked for them (and their proposer did not send them).
    pub unsolicited_blocks: u64,
    /// Proven forgeries (forged seals, bodies that do not match their header, bad
    /// signatures in gossip).
    pub forgeries: u64,
    /// Times a peer was blocked for a proven offence.
    pub peers_blocked: u64,
    /// Every peer that committed an offence, by key (0x-hex).
    pub offenders: Vec<(String, OffenderRecord)>,
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

    /// Records `offence` by `peer` (also counting the message as dropped).
    pub fn offence(&self, peer: &PeerKey, offence: Offence) {
        self.dropped();
        match offence {
            Offence::Unsolicited => {
                self.unsolicited.fetch_add(1, Ordering::Relaxed);
            }
            Offence::Forgery => {
                self.forgeries.fetch_add(1, Ordering::Relaxed);
            }
            Offence::InvalidBlock => self.invalid_block(),
            Offence::Malformed | Offence::UnbackedClaim => {}
        }
        let mut offenders = self.offenders.lock();
        let record = offenders.entry(peer.clone()).or_default();
        record.offences += 1;
        record.last = offence.name();
    }

    fn blocked(&self, peer: &PeerKey) {
        self.blocks_of_peers.fetch_add(1, Ordering::Relaxed);
        self.offenders
            .lock()
            .entry(peer.clone())
            .or_default()
            .blocked += 1;
    }

    /// Records that consensus blocked `peer` (invalid or conflicting votes).
    fn blocked_by_consensus(&self, peer: &PeerKey) {
        self.blocks_of_peers.fetch_add(1, Ordering::Relaxed);
        let mut offenders = self.offenders.lock();
        let record = offenders.entry(peer.clone()).or_default();
        record.offences += 1;
        record.blocked += 1;
        record.last = "consensus";
    }

    /// Current values.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            dropped_messages: self.dropped.load(Ordering::Relaxed),
            invalid_blocks: self.invalid_blocks.load(Ordering::Relaxed),
            consensus_faults: self.faults.load(Ordering::Relaxed),
            unsolicited_blocks: self.unsolicited.load(Ordering::Relaxed),
            forgeries: self.forgeries.load(Ordering::Relaxed),
            peers_blocked: self.blocks_of_peers.load(Ordering::Relaxed),
            offenders: self
                .offenders
                .lock()
                .iter()
                .map(|(peer, record)| (crate::cairn_key(peer).to_string(), record.clone()))
                .collect(),
        }
    }
}

/// Counts what peers do wrong and blocks (disconnects, and refuses for the transport's block
/// duration) a peer whose offence proves it dishonest.
#[derive(Clone)]
pub struct Penalties<B> {
    stats: std::sync::Arc<NetworkStats>,
    blocker: B,
}

impl<B: Blocker<PublicKey = PeerKey>> Penalties<B> {
    /// Penalties counted in `stats`, enforced through `blocker` (the transport's oracle).
    pub fn new(stats: std::sync::Arc<NetworkStats>, blocker: B) -> Self {
        Self { stats, blocker }
    }

    /// The counters.
    pub fn stats(&self) -> &NetworkStats {
        &self.stats
    }

    /// Records `offence` by `peer`, and blocks the peer if the offence proves dishonesty.
    pub fn punish(&mut self, peer: &PeerKey, offence: Offence) {
        self.stats.offence(peer, offence);
        if offence.is_proof_of_dishonesty() {
            tracing::warn!(?peer, offence = offence.name(), "blocking a dishonest peer");
            self.stats.blocked(peer);
            let _ = self.blocker.block(peer.clone());
        }
    }
}

/// The transport's blocker as consensus gets it: every peer consensus blocks (for invalid or
/// conflicting votes) is also counted, so `status` shows those peers too.
#[derive(Clone)]
pub struct RecordingBlocker<B> {
    inner: B,
    stats: std::sync::Arc<NetworkStats>,
}

impl<B> RecordingBlocker<B> {
    /// Blocks through `inner`, recording in `stats`.
    pub fn new(inner: B, stats: std::sync::Arc<NetworkStats>) -> Self {
        Self { inner, stats }
    }
}

impl<B: Blocker<PublicKey = PeerKey>> Blocker for RecordingBlocker<B> {
    type PublicKey = PeerKey;

    fn block(&mut self, peer: PeerKey) -> commonware_actor::Feedback {
        self.stats.blocked_by_consensus(&peer);
        self.inner.block(peer)
    }

    fn blocked(&mut self) -> commonware_p2p::BlockedSubscription<PeerKey> {
        self.inner.blocked()
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

    /// When `peer` was last heard from, if ever.
    pub fn last_heard(&self, peer: &PeerKey) -> Option<Duration> {
        self.last_heard.lock().get(peer).copied()
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

/// A token bucket: `per_second` units refill each second, at most `burst` saved. Bounds what
/// one peer can make this node do (decode, execute, read from disk) per unit of time.
#[derive(Debug, Clone)]
pub struct Budget {
    per_second: u64,
    burst: u64,
    tokens: u64,
    updated: Duration,
}

impl Budget {
    /// A full bucket at time `now`.
    pub fn new(per_second: u64, burst: u64, now: Duration) -> Self {
        Self {
            per_second,
            burst,
            tokens: burst,
            updated: now,
        }
    }

    /// Takes `amount` units at time `now` if that many are left.
    pub fn take(&mut self, amount: u64, now: Duration) -> bool {
        let elapsed = now.saturating_sub(self.updated);
        let refill = elapsed.as_micros() * u128::from(self.per_second) / 1_000_000;
        if refill > 0 {
            let refill = u64::try_from(refill).unwrap_or(u64::MAX);
            if self.tokens.saturating_add(refill) >= self.burst {
                self.tokens = self.burst;
                self.updated = now;
            } else {
                self.tokens += refill;
                // Credit exactly the time the units stand for, so no fraction is lost.
                let credited = u128::from(refill) * 1_000_000 / u128::from(self.per_second);
                self.updated += Duration::from_micros(u64::try_from(credited).unwrap_or(u64::MAX));
            }
        }
        if self.tokens >= amount {
            self.tokens -= amount;
            true
        } else {
            false
        }
    }
}

/// One [`Budget`] per peer.
#[derive(Debug, Clone)]
pub struct PeerBudgets {
    per_second: u64,
    burst: u64,
    budgets: BTreeMap<PeerKey, Budget>,
}

impl PeerBudgets {
    /// Budgets of `per_second` units per second and `burst` saved, for each peer.
    pub fn new(per_second: u64, burst: u64) -> Self {
        Self {
            per_second,
            burst,
            budgets: BTreeMap::new(),
        }
    }

    /// Takes `amount` units from `peer`'s budget at time `now` if that many are left.
    pub fn take(&mut self, peer: &PeerKey, amount: u64, now: Duration) -> bool {
        let (per_second, burst) = (self.per_second, self.burst);
        self.budgets
            .entry(peer.clone())
            .or_insert_with(|| Budget::new(per_second, burst, now))
            .take(amount, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refills_at_its_rate_up_to_its_burst() {
        let start = Duration::from_secs(100);
        let mut budget = Budget::new(10, 20, start);
        assert!(budget.take(20, start));
        assert!(!budget.take(1, start), "empty");
        assert!(
            !budget.take(2, start + Duration::from_millis(150)),
            "1.5 units"
        );
        assert!(budget.take(1, start + Duration::from_millis(150)));
        // The half unit left over is not lost: another 50 ms make it whole.
        assert!(budget.take(1, start + Duration::from_millis(200)));
        // A long pause saves no more than the burst.
        let later = start + Duration::from_secs(3_600);
        assert!(budget.take(20, later));
        assert!(!budget.take(1, later));
        // Time going backwards (a clock step) refills nothing and does not panic.
        assert!(!budget.take(1, start));
    }

    #[test]
    fn budgets_are_per_peer() {
        let a = crate::peer_key(&cairn_primitives::SecretKey::from_bytes([1; 32]).public_key())
            .expect("key");
        let b = crate::peer_key(&cairn_primitives::SecretKey::from_bytes([2; 32]).public_key())
            .expect("key");
        let now = Duration::from_secs(1);
        let mut budgets = PeerBudgets::new(1, 3);
        assert!(budgets.take(&a, 3, now));
        assert!(!budgets.take(&a, 1, now));
        assert!(budgets.take(&b, 3, now), "b has its own budget");
    }

    #[test]
    fn offences_are_counted_per_peer_and_only_forgeries_block() {
        #[derive(Clone, Default)]
        struct Recorder(std::sync::Arc<Mutex<Vec<PeerKey>>>);
        impl Blocker for Recorder {
            type PublicKey = PeerKey;
            fn block(&mut self, peer: PeerKey) -> commonware_actor::Feedback {
                self.0.lock().push(peer);
                commonware_actor::Feedback::Ok
            }
            fn blocked(&mut self) -> commonware_p2p::BlockedSubscription<PeerKey> {
                let (_, receiver) =
                    commonware_utils::channel::ring::channel(std::num::NonZeroUsize::MIN);
                receiver
            }
        }
        let peer = crate::peer_key(&cairn_primitives::SecretKey::from_bytes([3; 32]).public_key())
            .expect("key");
        let stats = std::sync::Arc::new(NetworkStats::default());
        let recorder = Recorder::default();
        let mut penalties = Penalties::new(stats.clone(), recorder.clone());
        penalties.punish(&peer, Offence::Unsolicited);
        penalties.punish(&peer, Offence::InvalidBlock);
        assert!(
            recorder.0.lock().is_empty(),
            "honest mistakes are not blocked"
        );
        penalties.punish(&peer, Offence::Forgery);
        assert_eq!(recorder.0.lock().as_slice(), std::slice::from_ref(&peer));
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.unsolicited_blocks, 1);
        assert_eq!(snapshot.invalid_blocks, 1);
        assert_eq!(snapshot.forgeries, 1);
        assert_eq!(snapshot.peers_blocked, 1);
        assert_eq!(snapshot.dropped_messages, 3);
        assert_eq!(snapshot.offenders.len(), 1);
        assert_eq!(snapshot.offenders[0].1.offences, 3);
        assert_eq!(snapshot.offenders[0].1.blocked, 1);
        assert_eq!(snapshot.offenders[0].1.last, "forgery");
        // Consensus blocks through a recording blocker: counted the same way.
        let mut consensus = RecordingBlocker::new(recorder.clone(), stats.clone());
        let _ = consensus.block(peer.clone());
        assert_eq!(recorder.0.lock().len(), 2);
        let snapshot = stats.snapshot();
        assert_eq!(snapshot.peers_blocked, 2);
        assert_eq!(snapshot.offenders[0].1.blocked, 2);
        assert_eq!(snapshot.offenders[0].1.last, "consensus");
    }
}
