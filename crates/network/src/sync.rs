//! Head announcements and block sync.
//!
//! Every node announces its head after each commit (at most every `status_interval / 5`) and
//! once per `status_interval`. A node whose peers are ahead asks the highest of them for the
//! blocks it misses, from its head upwards, at most [`MAX_SYNC_BLOCKS`] at a time, and imports
//! them: each block carries the certificate that made it final (or, for a block finalized
//! through a descendant, its notarization), so a node trusts no peer, only the validators'
//! signatures. A peer that sends an invalid block is ignored until it announces again.
//!
//! The same actor settles the transaction pool after every commit, whoever committed it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_ledger::{Chain, ChainError};
use cairn_mempool::Mempool;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

use crate::wire::{MAX_SYNC_BLOCKS, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES, SyncMessage};
use crate::{NetworkStats, PeerKey, PeerTracker};

/// Sync tuning.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// How often a node announces its head even without commits.
    pub status_interval: Duration,
    /// How long to wait for a peer's blocks before asking another peer.
    pub request_timeout: Duration,
    /// How long a node may trail a peer's announced head by a single block before fetching it
    /// (consensus usually commits it first).
    pub patience: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            status_interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(1),
            patience: Duration::from_secs(2),
        }
    }
}

/// Sync progress, in the shape of Ethereum's `eth_syncing`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    /// Whether the node is catching up.
    pub syncing: bool,
    /// Height the current catch-up started from.
    pub starting: u64,
    /// The node's head height.
    pub current: u64,
    /// The highest head announced by a peer (or the node's own, if higher).
    pub highest: u64,
}

/// Shared view of sync progress.
#[derive(Debug, Default)]
pub struct SyncState {
    status: Mutex<SyncStatus>,
}

impl SyncState {
    /// Current progress.
    pub fn status(&self) -> SyncStatus {
        *self.status.lock()
    }
}

/// Time since the Unix epoch by the runtime's clock (simulated in tests).
pub fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// The sync actor.
pub struct Syncer<S, R> {
    chain: Arc<Chain>,
    pool: Arc<Mempool>,
    sender: S,
    receiver: R,
    config: SyncConfig,
    state: Arc<SyncState>,
    stats: Arc<NetworkStats>,
    peers: Arc<PeerTracker>,
}

struct Inflight {
    peer: PeerKey,
    deadline: SystemTime,
}

impl<S, R> Syncer<S, R>
where
    S: Sender<PublicKey = PeerKey>,
    R: Receiver<PublicKey = PeerKey>,
{
    /// A sync actor over the sync channel's sender and receiver.
    pub fn new(
        chain: Arc<Chain>,
        pool: Arc<Mempool>,
        (sender, receiver): (S, R),
        config: SyncConfig,
        stats: Arc<NetworkStats>,
        peers: Arc<PeerTracker>,
    ) -> Self {
        Self {
            chain,
            pool,
            sender,
            receiver,
            config,
            state: Arc::new(SyncState::default()),
            stats,
            peers,
        }
    }

    /// The progress this actor reports.
    pub fn state(&self) -> Arc<SyncState> {
        self.state.clone()
    }

    /// Runs the actor until the network closes.
    pub fn start<E: Clock + Spawner>(self, context: E) -> Handle<()> {
        context.spawn(move |context| self.run(context))
    }

    async fn run<E: Clock>(mut self, context: E) {
        let mut events = self.chain.subscribe();
        let mut heads: HashMap<PeerKey, u64> = HashMap::new();
        let mut inflight: Option<Inflight> = None;
        let mut next_status = context.current();
        let mut last_status = SystemTime::UNIX_EPOCH;
        let mut last_progress = context.current();
        let mut starting: Option<u64> = None;
        loop {
            let now = context.current();
            if now >= next_status {
                self.announce();
                last_status = now;
                next_status = now + self.config.status_interval;
            }
            if inflight
                .as_ref()
                .is_some_and(|request| now >= request.deadline)
            {
                debug!("sync request timed out");
                inflight = None;
            }
            if inflight.is_none() {
                inflight = self.request(&heads, now, last_progress);
            }
            self.update_state(&heads, &mut starting);

            let wake = inflight
                .as_ref()
                .map_or(next_status, |r| r.deadline.min(next_status));
            tokio::select! {
                biased;
                message = self.receiver.recv() => {
                    let Ok((peer, bytes)) = message else { return };
                    self.peers.heard(&peer, since_epoch(context.current()));
                    // Only a response to our own request may be large.
                    let expecting = inflight.as_ref().is_some_and(|r| r.peer == peer);
                    if bytes.len() > MAX_SYNC_REQUEST_BYTES && !expecting {
                        debug!(size = bytes.len(), ?peer, "dropping oversized sync message");
                        self.stats.dropped();
                        continue;
                    }
                    match SyncMessage::decode(bytes.as_ref()) {
                        Ok(SyncMessage::Status { height, .. }) => {
                            heads.insert(peer, height);
                        }
                        Ok(SyncMessage::GetBlocks { from, count }) => self.serve(peer, from, count),
                        Ok(SyncMessage::Blocks(blocks)) => {
                            if inflight.as_ref().is_some_and(|r| r.peer == peer) {
                                inflight = None;
                                if !self.import(blocks) {
                                    heads.remove(&peer);
                                }
                            } else {
                                // Blocks nobody asked this peer for.
                                self.stats.dropped();
                            }
                        }
                        Err(error) => {
                            debug!(%error, ?peer, "dropping malformed sync message");
                            self.stats.dropped();
                        }
                    }
                }
                event = events.recv() => match event {
                    Ok(block) => {
                        last_progress = context.current();
                        self.pool.on_committed(&block.block.transactions, self.chain.as_ref());
                        // Announce promptly, but not more than five times per interval.
                        if context.current() >= last_status + self.config.status_interval / 5 {
                            next_status = context.current();
                        }
                    }
                    Err(RecvError::Lagged(skipped)) => {
                        warn!(skipped, "missed commit notifications; resettling the pool");
                        self.pool.resync(self.chain.as_ref());
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = context.sleep_until(wake) => {}
            }
        }
    }

    fn announce(&mut self) {
        let head = self.chain.head_pointer();
        let message = SyncMessage::Status {
            height: head.height,
            hash: head.hash,
        };
        self.sender.send(Recipients::All, message.encode(), false);
    }

    /// Asks the best peer for the next blocks, if this node is behind.
    fn request(
        &mut self,
        heads: &HashMap<PeerKey, u64>,
        now: SystemTime,
        last_progress: SystemTime,
    ) -> Option<Inflight> {
        let height = self.chain.head().height;
        let (peer, best) = heads.iter().max_by_key(|(_, height)| **height)?;
        let behind = best.saturating_sub(height);
        // One block behind is normal while consensus finishes a view; wait a little first.
        let stalled = now.duration_since(last_progress).unwrap_or_default() >= self.config.patience;
        if behind == 0 || (behind == 1 && !stalled) {
            return None;
        }
        let count = behind.min(MAX_SYNC_BLOCKS as u64) as u32;
        let message = SyncMessage::GetBlocks {
            from: height + 1,
            count,
        };
        let sent = self
            .sender
            .send(Recipients::One(peer.clone()), message.encode(), false);
        if sent.is_empty() {
            return None;
        }
        debug!(from = height + 1, count, ?peer, "requesting blocks");
        Some(Inflight {
            peer: peer.clone(),
            deadline: now + self.config.request_timeout,
        })
    }

    /// Answers a peer's request from the store.
    fn serve(&mut self, peer: PeerKey, from: u64, count: u32) {
        let count = (count as usize).min(MAX_SYNC_BLOCKS);
        let blocks = match self.chain.store().blocks_from(from, count) {
            Ok(blocks) => blocks,
            Err(error) => {
                warn!(%error, "cannot read blocks to serve a peer");
                return;
            }
        };
        let mut size = 0;
        let blocks: Vec<_> = blocks
            .into_iter()
            .take_while(|block| {
                size += alloy_rlp::Encodable::length(block);
                size <= MAX_SYNC_RESPONSE_BYTES || size == alloy_rlp::Encodable::length(block)
            })
            .collect();
        self.sender.send(
            Recipients::One(peer),
            SyncMessage::Blocks(blocks).encode(),
            false,
        );
    }

    /// Imports blocks in order; returns false if the peer sent an invalid one.
    fn import(&mut self, blocks: Vec<cairn_primitives::Block>) -> bool {
        for block in blocks {
            let height = block.header.height;
            match self.chain.import(block) {
                Ok(committed) => {
                    if let Some(last) = committed.last() {
                        debug!(height = last.block.header.height, "synced");
                    }
                }
                Err(ChainError::InvalidBlock(error)) => {
                    warn!(height, %error, "peer sent an invalid block");
                    self.stats.invalid_block();
                    return false;
                }
                // Out of order or raced by consensus: ask again from the new head.
                Err(error) => {
                    debug!(height, %error, "stopping this sync batch");
                    return true;
                }
            }
        }
        true
    }

    fn update_state(&self, heads: &HashMap<PeerKey, u64>, starting: &mut Option<u64>) {
        let current = self.chain.head().height;
        let highest = heads.values().copied().max().unwrap_or(0).max(current);
        // A block or two behind is consensus at work, not a node catching up.
        let syncing = highest > current + 2;
        match (syncing, *starting) {
            (true, None) => {
                info!(from = current, to = highest, "catching up with peers");
                *starting = Some(current);
            }
            (false, Some(_)) => {
                info!(height = current, "caught up");
                *starting = None;
            }
            _ => {}
        }
        *self.state.status.lock() = SyncStatus {
            syncing,
            starting: starting.unwrap_or(current),
            current,
            highest,
        };
    }
}
