//! Head announcements and block sync.
//!
//! Every node announces its head after each commit (at most every `status_interval / 5`) and
//! once per `status_interval`. A node whose peers claim to be ahead asks one of them for the
//! blocks it misses, from its head upwards, at most [`MAX_SYNC_BLOCKS`] at a time, and imports
//! them: each block carries the certificate that made it final (or, for a block finalized
//! through a descendant, its notarization or the descendant's finalization with the headers
//! that link them), so a node trusts no peer, only the validators' signatures. Blocks that
//! arrive notarized wait for a final descendant; the next request starts above them.
//!
//! An announced height is a claim, not a fact. Each peer has a standing: a request that times
//! out, an empty answer while the peer claims more, a head that contradicts the final chain,
//! or blocks that do not import cost it a strike, and a peer with strikes is benched (not asked)
//! for a time that doubles with each strike. Peers ahead are asked in turn, those with fewer
//! strikes first, and a peer with strikes gives way as soon as one in good standing has blocks
//! to offer, so one lying or slow peer costs at most a request now and then and cannot stall
//! catch-up. A peer that serves a forged block (a bad seal, a body that does not match
//! its header) is blocked. Imports run off the async workers: they execute and fsync.
//!
//! A node that dropped the bodies of old blocks (its storage cluster holds them) still serves
//! them: a request that reaches a dropped body is answered, off the actor, with the blocks read
//! back through the cluster ([`BlockArchive`]), at most [`ARCHIVE_SERVE_BLOCKS`] at a time and
//! within [`ARCHIVE_SERVE_TIME`], so a new node syncs from genesis from members none of which
//! keeps the whole chain. Each peer has at most one such answer under way, and the node at most
//! [`MAX_ARCHIVE_SERVES`].
//!
//! The same actor settles the transaction pool after every commit, whoever committed it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_ledger::{BlockError, Chain, ChainError};
use cairn_mempool::Mempool;
pub use cairn_primitives::clock::since_epoch;
use cairn_primitives::{B256, Block};
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

use crate::stats::{Offence, PeerBudgets, Penalties};
use crate::wire::{MAX_SYNC_BLOCKS, MAX_SYNC_REQUEST_BYTES, MAX_SYNC_RESPONSE_BYTES, SyncMessage};
use crate::{NetworkStats, PeerKey, PeerTracker};

/// Longest a peer is benched for failed requests.
const MAX_BENCH: Duration = Duration::from_secs(60);
/// Bench after the first strike; each further strike doubles it.
const FIRST_BENCH: Duration = Duration::from_millis(500);
/// Bytes of blocks this node serves one peer per second (and at most in a burst): enough for
/// any honest catch-up, a bound on what a peer can make it read and send.
const SERVE_BYTES_PER_SECOND: u64 = 64 * 1024 * 1024;
/// Most blocks read back through the storage cluster for one answer.
pub const ARCHIVE_SERVE_BLOCKS: usize = 32;
/// How long an answer waits for blocks read through the storage cluster; it carries those
/// that came by then (the asker gives up after a second).
pub const ARCHIVE_SERVE_TIME: Duration = Duration::from_millis(600);
/// Most answers read through the storage cluster under way at once.
pub const MAX_ARCHIVE_SERVES: usize = 4;
/// What an answer read through the storage cluster is charged to the peer's budget before the
/// reads start (the answer's real size is charged beyond it when it is sent).
const ARCHIVE_SERVE_CHARGE: u64 = ARCHIVE_SERVE_BLOCKS as u64 * 16 * 1024;

/// A block read from wherever this node keeps old blocks, checked against its header.
pub type ArchiveRead = Pin<Box<dyn Future<Output = Result<Block, String>> + Send>>;

/// Old blocks this node no longer stores whole: it has their headers and seals, and reads
/// their bodies back from the members of its storage cluster.
pub trait BlockArchive: Send + Sync + 'static {
    /// Reads the block at `height`.
    fn block(self: Arc<Self>, height: u64) -> ArchiveRead;
}

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
    /// The highest head claimed by a peer in good standing (or the node's own, if higher).
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

/// What this node knows of a peer's head and how far its claims have held up.
#[derive(Debug, Clone, Default)]
struct Standing {
    /// The head height the peer last announced.
    claimed: u64,
    /// Consecutive failures (reset by a useful answer).
    strikes: u32,
    /// Not asked before this time (since the epoch).
    benched_until: Duration,
    /// When the peer was last asked (since the epoch), to take peers in turn.
    last_asked: Duration,
}

impl Standing {
    fn strike(&mut self, now: Duration) {
        self.strikes = self.strikes.saturating_add(1);
        let bench = FIRST_BENCH
            .checked_mul(1 << self.strikes.min(16).saturating_sub(1))
            .unwrap_or(MAX_BENCH)
            .min(MAX_BENCH);
        self.benched_until = now + bench;
    }

    fn benched(&self, now: Duration) -> bool {
        now < self.benched_until
    }
}

/// What an import of a peer's blocks came to.
#[derive(Debug)]
enum Verdict {
    /// Every block imported (or was already there); the last one's height and hash.
    Imported(Option<(u64, B256)>),
    /// A block was invalid in a way only a dishonest peer serves.
    Forged(BlockError),
    /// A block was invalid in a way an honest peer might serve (a clock ahead of ours).
    Dubious(BlockError),
    /// The blocks do not continue this node's chain (raced by consensus, or a fork claim).
    Detached(u64),
    /// Something local failed (storage); nobody's fault.
    Failed(ChainError),
}

/// The request in flight, or the import of its answer.
enum Phase {
    Idle,
    Requested {
        peer: PeerKey,
        from: u64,
        deadline: SystemTime,
        /// The peer has strikes: it is being given another chance, and gives way as soon as
        /// a peer in good standing has blocks to offer.
        probation: bool,
    },
    Importing {
        peer: PeerKey,
        head_before: u64,
        job: Handle<Verdict>,
    },
}

/// The sync actor.
pub struct Syncer<S, R, B> {
    chain: Arc<Chain>,
    pool: Arc<Mempool>,
    sender: S,
    receiver: R,
    config: SyncConfig,
    state: Arc<SyncState>,
    penalties: Penalties<B>,
    peers: Arc<PeerTracker>,
    standings: BTreeMap<PeerKey, Standing>,
    serve_budgets: Arc<Mutex<PeerBudgets>>,
    /// The highest block imported that waits (notarized) for a final descendant.
    pending_tip: Option<(u64, B256)>,
    /// Where dropped bodies are read back from.
    archive: Option<Arc<dyn BlockArchive>>,
    /// Peers with an answer read through the archive under way.
    archive_serving: Arc<Mutex<BTreeSet<PeerKey>>>,
}

impl<S, R, B> Syncer<S, R, B>
where
    S: Sender<PublicKey = PeerKey>,
    R: Receiver<PublicKey = PeerKey>,
    B: Blocker<PublicKey = PeerKey>,
{
    /// A sync actor over the sync channel's sender and receiver; `blocker` (the transport's
    /// oracle) blocks peers that serve forged blocks.
    pub fn new(
        chain: Arc<Chain>,
        pool: Arc<Mempool>,
        (sender, receiver): (S, R),
        config: SyncConfig,
        (stats, blocker): (Arc<NetworkStats>, B),
        peers: Arc<PeerTracker>,
    ) -> Self {
        Self {
            chain,
            pool,
            sender,
            receiver,
            config,
            state: Arc::new(SyncState::default()),
            penalties: Penalties::new(stats, blocker),
            peers,
            standings: BTreeMap::new(),
            serve_budgets: Arc::new(Mutex::new(PeerBudgets::new(
                SERVE_BYTES_PER_SECOND,
                SERVE_BYTES_PER_SECOND,
            ))),
            pending_tip: None,
            archive: None,
            archive_serving: Arc::default(),
        }
    }

    /// Serves blocks whose bodies this node dropped by reading them from `archive`.
    pub fn with_archive(mut self, archive: Arc<dyn BlockArchive>) -> Self {
        self.archive = Some(archive);
        self
    }

    /// The progress this actor reports.
    pub fn state(&self) -> Arc<SyncState> {
        self.state.clone()
    }

    /// Runs the actor until the network closes.
    pub fn start<E: Clock + Spawner>(self, context: E) -> Handle<()> {
        context.spawn(move |context| self.run(context))
    }

    async fn run<E: Clock + Spawner>(mut self, context: E) {
        let mut events = self.chain.subscribe();
        let mut phase = Phase::Idle;
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
            if let Phase::Requested { peer, deadline, .. } = &phase
                && now >= *deadline
            {
                debug!(?peer, "sync request timed out");
                let peer = peer.clone();
                self.strike(&peer, since_epoch(now));
                phase = Phase::Idle;
            }
            if let Phase::Requested {
                probation: true, ..
            } = &phase
                && self.good_peer_ahead(since_epoch(now))
            {
                phase = Phase::Idle;
            }
            if matches!(phase, Phase::Idle) {
                phase = self.request(now, last_progress);
            }
            self.update_state(&mut starting, since_epoch(now));

            let wake = match &phase {
                Phase::Requested { deadline, .. } => (*deadline).min(next_status),
                _ => next_status,
            };
            let importing = async {
                match &mut phase {
                    Phase::Importing { job, .. } => job.await,
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                verdict = importing => {
                    if let Phase::Importing { peer, head_before, .. } =
                        std::mem::replace(&mut phase, Phase::Idle)
                    {
                        let now = since_epoch(context.current());
                        match verdict {
                            Ok(verdict) => self.judge(&peer, head_before, verdict, now),
                            Err(error) => warn!(%error, "a block import task failed"),
                        }
                    }
                }
                message = self.receiver.recv() => {
                    let Ok((peer, bytes)) = message else { return };
                    let now = context.current();
                    self.peers.heard(&peer, since_epoch(now));
                    // Only an answer to this node's own request may be large.
                    let expecting = matches!(&phase, Phase::Requested { peer: asked, .. } if *asked == peer);
                    if bytes.len() > MAX_SYNC_REQUEST_BYTES && !expecting {
                        debug!(size = bytes.len(), ?peer, "dropping oversized sync message");
                        self.penalties.punish(&peer, Offence::Unsolicited);
                        continue;
                    }
                    match SyncMessage::decode(bytes.as_ref()) {
                        Ok(SyncMessage::Status { height, hash }) => {
                            self.on_status(&peer, height, hash, since_epoch(now));
                        }
                        Ok(SyncMessage::GetBlocks { from, count }) => {
                            self.serve(&context, peer, from, count, since_epoch(now));
                        }
                        Ok(SyncMessage::Blocks(blocks)) if expecting => {
                            let Phase::Requested { from, .. } = phase else { continue };
                            phase = self.on_blocks(&context, peer, from, blocks, since_epoch(now));
                        }
                        Ok(SyncMessage::Blocks(_)) => {
                            // Blocks nobody asked this peer for.
                            self.penalties.punish(&peer, Offence::Unsolicited);
                        }
                        Err(error) => {
                            debug!(%error, ?peer, "dropping malformed sync message");
                            self.penalties.punish(&peer, Offence::Malformed);
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

    fn strike(&mut self, peer: &PeerKey, now: Duration) {
        self.standings.entry(peer.clone()).or_default().strike(now);
    }

    /// Records a peer's head. A head at a height this node has committed must be the block
    /// this node committed there: final blocks cannot differ, so anything else is a lie.
    fn on_status(&mut self, peer: &PeerKey, height: u64, hash: B256, now: Duration) {
        let head = self.chain.head().height;
        if height <= head {
            let ours = self.chain.store().header(height).ok().flatten();
            if ours.is_some_and(|header| header.hash(self.chain.suite()) != hash) {
                debug!(
                    ?peer,
                    height, "peer announced a head that contradicts the final chain"
                );
                self.penalties.punish(peer, Offence::UnbackedClaim);
                self.strike(peer, now);
            }
        }
        self.standings.entry(peer.clone()).or_default().claimed = height;
    }

    /// The height to ask for next: above the head, and above blocks imported as notarized
    /// that still wait here for a final descendant.
    fn next_height(&self) -> u64 {
        let head = self.chain.head().height;
        match self.pending_tip {
            Some((tip, hash)) if tip > head && self.chain.pending_block(&hash).is_some() => tip + 1,
            _ => head + 1,
        }
    }

    /// Whether a peer without strikes claims blocks this node lacks.
    fn good_peer_ahead(&self, now: Duration) -> bool {
        let height = self.next_height() - 1;
        self.standings.values().any(|standing| {
            standing.strikes == 0 && !standing.benched(now) && standing.claimed > height
        })
    }

    /// The peer to ask next: ahead of this node, not benched; fewest strikes first, then the
    /// one asked longest ago, so every peer in good standing takes its turn and a peer with
    /// strikes is asked only when no better one claims more.
    fn pick(&self, height: u64, now: Duration) -> Option<(PeerKey, u64, u32)> {
        self.standings
            .iter()
            .filter(|(_, standing)| standing.claimed > height && !standing.benched(now))
            .min_by_key(|(_, standing)| (standing.strikes, standing.last_asked))
            .map(|(peer, standing)| (peer.clone(), standing.claimed, standing.strikes))
    }

    /// Asks a peer for the next blocks, if this node is behind.
    fn request(&mut self, now: SystemTime, last_progress: SystemTime) -> Phase {
        let height = self.chain.head().height;
        let since = since_epoch(now);
        // One block behind is normal while consensus finishes a view; wait a little first.
        let stalled = now.duration_since(last_progress).unwrap_or_default() >= self.config.patience;
        let best = self
            .standings
            .values()
            .filter(|standing| !standing.benched(since))
            .map(|standing| standing.claimed)
            .max()
            .unwrap_or(0);
        if best <= height || (best == height + 1 && !stalled) {
            return Phase::Idle;
        }
        // Blocks imported as notarized wait for a final descendant: ask for what follows them
        // (a run of them can be longer than one answer).
        let from = self.next_height();
        while let Some((peer, claimed, strikes)) = self.pick(from - 1, since) {
            let count = (claimed - (from - 1)).min(MAX_SYNC_BLOCKS as u64) as u32;
            let message = SyncMessage::GetBlocks { from, count };
            self.standings.entry(peer.clone()).or_default().last_asked = since;
            let sent = self
                .sender
                .send(Recipients::One(peer.clone()), message.encode(), false);
            if sent.is_empty() {
                // Not connected: it cannot back its claim now.
                self.strike(&peer, since);
                continue;
            }
            debug!(from, count, ?peer, "requesting blocks");
            return Phase::Requested {
                peer,
                from,
                deadline: now + self.config.request_timeout,
                probation: strikes > 0,
            };
        }
        Phase::Idle
    }

    /// Takes the answer to a request: an empty one does not back the peer's claim; blocks are
    /// imported off the async workers.
    fn on_blocks<E: Spawner>(
        &mut self,
        context: &E,
        peer: PeerKey,
        from: u64,
        blocks: Vec<Block>,
        now: Duration,
    ) -> Phase {
        let head_before = self.chain.head().height;
        if blocks.is_empty() || blocks[0].header.height != from {
            debug!(?peer, from, "peer did not serve the blocks it claims");
            self.penalties.punish(&peer, Offence::UnbackedClaim);
            self.strike(&peer, now);
            return Phase::Idle;
        }
        let chain = self.chain.clone();
        let job = context
            .child("job")
            .shared(true)
            .spawn(move |_| async move { import(&chain, blocks) });
        Phase::Importing {
            peer,
            head_before,
            job,
        }
    }

    /// Settles a peer's standing by what its blocks came to.
    fn judge(&mut self, peer: &PeerKey, head_before: u64, verdict: Verdict, now: Duration) {
        let progressed = self.chain.head().height > head_before;
        match verdict {
            Verdict::Imported(_) | Verdict::Failed(_) if progressed => {
                self.standings.entry(peer.clone()).or_default().strikes = 0;
            }
            // Only notarized blocks, waiting for a final descendant further up: no progress
            // yet, no fault. The next request starts above them.
            Verdict::Imported(last) => {
                self.pending_tip = last;
            }
            Verdict::Failed(error) => warn!(%error, "cannot import synced blocks"),
            Verdict::Forged(error) => {
                warn!(?peer, %error, "peer served a forged block");
                self.penalties.punish(peer, Offence::Forgery);
                self.strike(peer, now);
            }
            Verdict::Dubious(error) => {
                debug!(?peer, %error, "peer served a block this node cannot accept");
                self.penalties.punish(peer, Offence::InvalidBlock);
                self.strike(peer, now);
            }
            Verdict::Detached(height) => {
                if self.pending_tip.take().is_some() {
                    // It was asked to build on blocks this node holds as notarized: those may
                    // be the branch that lost. Start again from the head; nobody is at fault.
                } else if height > self.chain.head().height {
                    debug!(
                        ?peer,
                        height, "peer served blocks that do not extend this chain"
                    );
                    self.penalties.punish(peer, Offence::UnbackedClaim);
                    self.strike(peer, now);
                }
            }
        }
    }

    /// Answers a peer's request from the store, within the peer's budget; a request that
    /// reaches a dropped body is answered off the actor through the archive.
    fn serve<E: Clock + Spawner>(
        &mut self,
        context: &E,
        peer: PeerKey,
        from: u64,
        count: u32,
        now: Duration,
    ) {
        let count = (count as usize).min(MAX_SYNC_BLOCKS);
        let store = self.chain.store();
        let blocks = match store.blocks_from(from, count) {
            Ok(blocks) => blocks,
            Err(error) => {
                warn!(%error, "cannot read blocks to serve a peer");
                return;
            }
        };
        let next = from.saturating_add(blocks.len() as u64);
        let dropped = blocks.len() < count
            && next <= self.chain.head().height
            && store.is_pruned(next).unwrap_or(false);
        match &self.archive {
            Some(archive) if dropped => {
                let mut serving = self.archive_serving.lock();
                if serving.len() >= MAX_ARCHIVE_SERVES || serving.contains(&peer) {
                    debug!(?peer, "already reading old blocks for peers; not answering");
                    return;
                }
                if !self
                    .serve_budgets
                    .lock()
                    .take(&peer, ARCHIVE_SERVE_CHARGE, now)
                {
                    debug!(
                        ?peer,
                        "peer asks for more blocks than it may; not answering"
                    );
                    return;
                }
                serving.insert(peer.clone());
                drop(serving);
                let task = ArchiveServe {
                    chain: self.chain.clone(),
                    archive: archive.clone(),
                    sender: self.sender.clone(),
                    budgets: self.serve_budgets.clone(),
                    peer,
                    blocks,
                    next,
                    end: from.saturating_add(count as u64),
                };
                let slot = ServingSlot {
                    serving: self.archive_serving.clone(),
                    peer: task.peer.clone(),
                };
                context
                    .child("archive_serve")
                    .spawn(move |context| async move {
                        // The peer's slot is released however the task ends.
                        let _slot = slot;
                        task.run(context).await;
                    });
            }
            _ => send_blocks(&mut self.sender, &self.serve_budgets, peer, blocks, now, 0),
        }
    }

    fn update_state(&self, starting: &mut Option<u64>, now: Duration) {
        let current = self.chain.head().height;
        // A benched peer's claim does not count; one that failed once is believed again
        // when its bench ends (a liar's benches grow until it is hardly ever asked).
        let highest = self
            .standings
            .values()
            .filter(|standing| !standing.benched(now))
            .map(|standing| standing.claimed)
            .max()
            .unwrap_or(0)
            .max(current);
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

/// A peer's place among those with an answer read through the archive under way.
struct ServingSlot {
    serving: Arc<Mutex<BTreeSet<PeerKey>>>,
    peer: PeerKey,
}

impl Drop for ServingSlot {
    fn drop(&mut self) {
        self.serving.lock().remove(&self.peer);
    }
}

/// Sends `blocks` (cut to the answer's size) to `peer` if its budget allows, `prepaid` bytes
/// of it having been charged already.
fn send_blocks<S: Sender<PublicKey = PeerKey>>(
    sender: &mut S,
    budgets: &Mutex<PeerBudgets>,
    peer: PeerKey,
    blocks: Vec<Block>,
    now: Duration,
    prepaid: u64,
) {
    let mut size = 0;
    let blocks: Vec<_> = blocks
        .into_iter()
        .take_while(|block| {
            size += alloy_rlp::Encodable::length(block);
            size <= MAX_SYNC_RESPONSE_BYTES || size == alloy_rlp::Encodable::length(block)
        })
        .collect();
    let message = SyncMessage::Blocks(blocks).encode();
    let due = (message.len() as u64).saturating_sub(prepaid);
    if !budgets.lock().take(&peer, due, now) {
        debug!(
            ?peer,
            "peer asks for more blocks than it may; not answering"
        );
        return;
    }
    sender.send(Recipients::One(peer), message, false);
}

/// An answer that reaches blocks whose bodies this node dropped.
struct ArchiveServe<S> {
    chain: Arc<Chain>,
    archive: Arc<dyn BlockArchive>,
    sender: S,
    budgets: Arc<Mutex<PeerBudgets>>,
    peer: PeerKey,
    /// The blocks read from the store, from the requested height on.
    blocks: Vec<Block>,
    /// The first height to read through the archive.
    next: u64,
    /// One past the last height asked for.
    end: u64,
}

impl<S: Sender<PublicKey = PeerKey>> ArchiveServe<S> {
    /// Reads the dropped blocks that follow (and whole ones after them) until the answer is
    /// full, a read fails, or time is up; then sends what it has, in order and unbroken.
    async fn run<E: Clock>(mut self, context: E) {
        let deadline = context.current() + ARCHIVE_SERVE_TIME;
        let head = self.chain.head().height;
        let last = self
            .end
            .min(head.saturating_add(1))
            .min(self.next.saturating_add(ARCHIVE_SERVE_BLOCKS as u64));
        // Whole blocks among them come straight from the store.
        let mut reads: FuturesOrdered<_> = (self.next..last)
            .map(|height| self.archive.clone().block(height))
            .collect();
        let timeout = context.sleep_until(deadline);
        futures::pin_mut!(timeout);
        loop {
            tokio::select! {
                biased;
                block = reads.next() => match block {
                    Some(Ok(block)) => self.blocks.push(block),
                    Some(Err(error)) => {
                        debug!(%error, "cannot read an old block to serve a peer");
                        break;
                    }
                    None => break,
                },
                _ = &mut timeout => break,
            }
        }
        let now = since_epoch(context.current());
        send_blocks(
            &mut self.sender,
            &self.budgets,
            self.peer,
            self.blocks,
            now,
            ARCHIVE_SERVE_CHARGE,
        );
    }
}

/// Imports blocks in order (on a blocking thread: it executes and fsyncs).
fn import(chain: &Chain, blocks: Vec<Block>) -> Verdict {
    let mut last = None;
    for block in blocks {
        let height = block.header.height;
        let hash = block.hash(chain.suite());
        match chain.import(block) {
            Ok(committed) => {
                last = Some((height, hash));
                if let Some(block) = committed.last() {
                    debug!(height = block.block.header.height, "synced");
                }
            }
            Err(ChainError::InvalidBlock(BlockError::NotOnHead { .. }))
            | Err(ChainError::UnknownParent(_)) => return Verdict::Detached(height),
            Err(ChainError::InvalidBlock(error)) if error.proves_forgery() => {
                return Verdict::Forged(error);
            }
            Err(ChainError::InvalidBlock(error)) => return Verdict::Dubious(error),
            Err(error) => return Verdict::Failed(error),
        }
    }
    Verdict::Imported(last)
}
