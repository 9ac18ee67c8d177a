//! The application simplex drives: proposals, verification, certification, block relay and
//! commits.
//!
//! Simplex calls in through a [`Mailbox`] (it implements simplex's `Automaton`,
//! `CertifiableAutomaton`, `Relay` and `Reporter`); one actor answers, so all of this runs in
//! one place, in order. Requests that cannot be answered yet (a block not received, a parent
//! not executed, a pacing delay) wait and are retried on every event and every tick; simplex
//! abandons them by dropping its end of the reply channel.
//!
//! * Propose: when the parent is executable and either `k` transfers are ready or the block
//!   interval has passed since the parent, build a block on the parent from the pool, with the
//!   view in the header's `extra`. Always propose, even an empty block: a leader that declines
//!   is treated as failed and replaced.
//! * Verify: the block must name the context's parent, leader and view, and execute validly on
//!   its parent (the head or an executed block).
//! * Certify: a notarized block is certified once this node has executed it, so nothing is
//!   finalized that this node has not checked (and fetched, if its proposal was missed).
//! * Relay: the leader's block goes to every validator; any validator answers requests for a
//!   block by hash.
//! * Report: notarizations are kept as seals for blocks finalized through a descendant; a
//!   finalization commits its block and any pending ancestors, in order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_ledger::{Chain, ChainError};
use cairn_mempool::Mempool;
use cairn_network::wire::ProposalMessage;
use cairn_network::{NetworkStats, PeerKey, PeerTracker, cairn_key};
use cairn_primitives::{Address, B256, Block};
use commonware_actor::Feedback;
use commonware_consensus::simplex::Plan;
use commonware_consensus::simplex::types::{Activity, Context, Finalization, Notarization};
use commonware_consensus::types::Round;
use commonware_consensus::{Automaton, CertifiableAutomaton, Relay, Reporter, Viewable};
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner};
use commonware_utils::channel::oneshot;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::seal::{finalization_seal, notarization_seal};
use super::{Digest, Scheme, block_hash, digest, extra_view, view_extra};

/// How often waiting requests are retried without an event.
const TICK: Duration = Duration::from_millis(20);
/// Received proposals kept, at most.
const MAX_RECEIVED_BLOCKS: usize = 256;
/// Notarizations kept for blocks that may be finalized through a descendant.
const MAX_NOTARIZATIONS: usize = 1_024;

/// When and how big blocks are.
#[derive(Debug, Clone)]
pub struct ApplicationConfig {
    /// Propose as soon as this many transfers are executable.
    pub min_block_transactions: usize,
    /// Otherwise propose once this long has passed since the parent's timestamp (keep it well
    /// under the leader timeout).
    pub block_interval: Duration,
    /// Most transfers per block.
    pub max_block_transactions: usize,
    /// How long before asking peers again for a missing block.
    pub fetch_retry: Duration,
}

impl Default for ApplicationConfig {
    fn default() -> Self {
        Self {
            min_block_transactions: 1_000,
            block_interval: Duration::from_millis(500),
            max_block_transactions: 10_000,
            fetch_retry: Duration::from_millis(250),
        }
    }
}

/// What simplex asks of the application.
pub enum Message {
    /// Build a block for this context.
    Propose {
        /// The round, leader and parent.
        context: Context<Digest, PeerKey>,
        /// Where to send the block hash.
        response: oneshot::Sender<Digest>,
    },
    /// Is this block valid in this context?
    Verify {
        /// The round, leader and parent.
        context: Context<Digest, PeerKey>,
        /// The block hash.
        payload: Digest,
        /// The verdict.
        response: oneshot::Sender<bool>,
    },
    /// May this notarized block be finalized?
    Certify {
        /// The block hash.
        payload: Digest,
        /// The verdict.
        response: oneshot::Sender<bool>,
    },
    /// Send a block to peers.
    Broadcast {
        /// The block hash.
        payload: Digest,
        /// To whom.
        plan: Plan<PeerKey>,
    },
    /// Something consensus did.
    Report(Activity<Scheme, Digest>),
}

/// Simplex's handle to the application.
#[derive(Clone)]
pub struct Mailbox {
    sender: mpsc::UnboundedSender<Message>,
}

impl Mailbox {
    fn send(&self, message: Message) -> Feedback {
        match self.sender.send(message) {
            Ok(()) => Feedback::Ok,
            Err(_) => Feedback::Closed,
        }
    }
}

impl Automaton for Mailbox {
    type Context = Context<Digest, PeerKey>;
    type Digest = Digest;

    async fn propose(&mut self, context: Self::Context) -> oneshot::Receiver<Digest> {
        let (response, receiver) = oneshot::channel();
        self.send(Message::Propose { context, response });
        receiver
    }

    async fn verify(&mut self, context: Self::Context, payload: Digest) -> oneshot::Receiver<bool> {
        let (response, receiver) = oneshot::channel();
        self.send(Message::Verify {
            context,
            payload,
            response,
        });
        receiver
    }
}

impl CertifiableAutomaton for Mailbox {
    async fn certify(&mut self, _round: Round, payload: Digest) -> oneshot::Receiver<bool> {
        let (response, receiver) = oneshot::channel();
        self.send(Message::Certify { payload, response });
        receiver
    }
}

impl Relay for Mailbox {
    type Digest = Digest;
    type PublicKey = PeerKey;
    type Plan = Plan<PeerKey>;

    fn broadcast(&mut self, payload: Digest, plan: Plan<PeerKey>) -> Feedback {
        self.send(Message::Broadcast { payload, plan })
    }
}

impl Reporter for Mailbox {
    type Activity = Activity<Scheme, Digest>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        self.send(Message::Report(activity))
    }
}

/// What the application knows about the current view, for `cairn status`.
#[derive(Debug, Default)]
pub struct ViewStatus {
    inner: Mutex<(u64, Option<usize>)>,
}

impl ViewStatus {
    /// The latest view seen and the rank of its leader.
    pub fn current(&self) -> (u64, Option<usize>) {
        *self.inner.lock()
    }
}

struct Waiting<T> {
    item: T,
    response: oneshot::Sender<bool>,
}

/// The application actor.
pub struct Application<S, R> {
    chain: Arc<Chain>,
    pool: Arc<Mempool>,
    address: Option<Address>,
    ranks: Vec<PeerKey>,
    me: Option<PeerKey>,
    config: ApplicationConfig,
    sender: S,
    receiver: R,
    mailbox: mpsc::UnboundedReceiver<Message>,
    stats: Arc<NetworkStats>,
    peers: Arc<PeerTracker>,
    status: Arc<ViewStatus>,
    received: HashMap<B256, Block>,
    requested: HashMap<B256, SystemTime>,
    proposes: Vec<(Context<Digest, PeerKey>, oneshot::Sender<Digest>)>,
    verifies: Vec<Waiting<(Context<Digest, PeerKey>, B256)>>,
    certifies: Vec<Waiting<B256>>,
    notarizations: BTreeMap<u64, (B256, Notarization<Scheme, Digest>)>,
    finalizations: Vec<Finalization<Scheme, Digest>>,
}

/// Outcome of trying to make a block executable here.
enum Availability {
    Ready,
    Invalid,
    Waiting,
}

impl<S, R> Application<S, R>
where
    S: Sender<PublicKey = PeerKey>,
    R: Receiver<PublicKey = PeerKey>,
{
    /// An application for `chain`, proposing as `me` (a validator's key; `None` only for
    /// tests that never lead), relaying over the proposals channel.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chain: Arc<Chain>,
        pool: Arc<Mempool>,
        me: Option<PeerKey>,
        ranks: Vec<PeerKey>,
        config: ApplicationConfig,
        (sender, receiver): (S, R),
        stats: Arc<NetworkStats>,
        peers: Arc<PeerTracker>,
    ) -> (Self, Mailbox, Arc<ViewStatus>) {
        let (mailbox_sender, mailbox) = mpsc::unbounded_channel();
        let status = Arc::new(ViewStatus::default());
        let address = me.as_ref().map(|key| cairn_key(key).address());
        let application = Self {
            chain,
            pool,
            address,
            ranks,
            me,
            config,
            sender,
            receiver,
            mailbox,
            stats,
            peers,
            status: status.clone(),
            received: HashMap::new(),
            requested: HashMap::new(),
            proposes: Vec::new(),
            verifies: Vec::new(),
            certifies: Vec::new(),
            notarizations: BTreeMap::new(),
            finalizations: Vec::new(),
        };
        (
            application,
            Mailbox {
                sender: mailbox_sender,
            },
            status,
        )
    }

    /// Runs the actor until simplex or the network goes away.
    pub fn start<E: Clock + Spawner>(self, context: E) -> Handle<()> {
        context.spawn(move |context| self.run(context))
    }

    async fn run<E: Clock>(mut self, context: E) {
        let pool = self.pool.clone();
        let mut events = self.chain.subscribe();
        loop {
            self.progress(&context);
            let notified = pool.ready_changed();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let idle = self.proposes.is_empty()
                && self.verifies.is_empty()
                && self.certifies.is_empty()
                && self.finalizations.is_empty();
            let wake = context.current() + if idle { Duration::from_secs(1) } else { TICK };
            tokio::select! {
                biased;
                message = self.mailbox.recv() => match message {
                    Some(message) => self.handle(message),
                    None => return,
                },
                message = self.receiver.recv() => match message {
                    Ok((peer, bytes)) => {
                        self.peers.heard(&peer, cairn_network::sync::since_epoch(context.current()));
                        self.on_network(peer, bytes.as_ref());
                    }
                    Err(_) => return,
                },
                _ = events.recv() => self.prune(),
                _ = notified => {}
                _ = context.sleep_until(wake) => {}
            }
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Propose { context, response } => {
                self.note_view(&context);
                self.proposes.push((context, response));
            }
            Message::Verify {
                context,
                payload,
                response,
            } => {
                self.note_view(&context);
                let hash = block_hash(&payload);
                self.verifies.push(Waiting {
                    item: (context, hash),
                    response,
                });
            }
            Message::Certify { payload, response } => {
                self.certifies.push(Waiting {
                    item: block_hash(&payload),
                    response,
                });
            }
            Message::Broadcast { payload, plan } => self.broadcast(block_hash(&payload), plan),
            Message::Report(activity) => self.report(activity),
        }
    }

    fn note_view(&self, context: &Context<Digest, PeerKey>) {
        let rank = self.ranks.iter().position(|key| *key == context.leader);
        *self.status.inner.lock() = (context.round.view().get(), rank);
    }

    fn report(&mut self, activity: Activity<Scheme, Digest>) {
        match activity {
            Activity::Notarization(notarization) => {
                let hash = block_hash(&notarization.proposal.payload);
                self.chain
                    .attach_seal(&hash, notarization_seal(&notarization));
                self.notarizations
                    .insert(notarization.view().get(), (hash, notarization));
                while self.notarizations.len() > MAX_NOTARIZATIONS {
                    self.notarizations.pop_first();
                }
            }
            Activity::Finalization(finalization) => self.finalizations.push(finalization),
            Activity::ConflictingNotarize(_)
            | Activity::ConflictingFinalize(_)
            | Activity::NullifyFinalize(_) => {
                warn!("a validator equivocated: consensus recorded evidence");
                self.stats.fault();
            }
            _ => {}
        }
    }

    fn broadcast(&mut self, hash: B256, plan: Plan<PeerKey>) {
        let Some(block) = self.find_block(&hash) else {
            debug!(%hash, "asked to broadcast a block this node does not have");
            return;
        };
        let recipients = match plan {
            Plan::Forward { recipients, .. } => recipients,
            Plan::Propose { .. } | Plan::Prepare { .. } => {
                Recipients::Some(self.other_validators())
            }
        };
        self.sender.send(
            recipients,
            ProposalMessage::Block(Box::new(block)).encode(),
            true,
        );
    }

    fn other_validators(&self) -> Vec<PeerKey> {
        self.ranks
            .iter()
            .filter(|key| Some(*key) != self.me.as_ref())
            .cloned()
            .collect()
    }

    fn on_network(&mut self, peer: PeerKey, bytes: &[u8]) {
        match ProposalMessage::decode(bytes) {
            Ok(ProposalMessage::Block(block)) => {
                let block = *block;
                let head = self.chain.head().height;
                let height = block.header.height;
                // Far from the head is useless or hostile; either way, not kept.
                if height <= head || height > head + MAX_RECEIVED_BLOCKS as u64 {
                    return;
                }
                if self.received.len() >= MAX_RECEIVED_BLOCKS {
                    self.stats.dropped();
                    return;
                }
                self.received.insert(block.hash(), block);
            }
            Ok(ProposalMessage::Request(hash)) => {
                let block = self.find_block(&hash).or_else(|| {
                    let height = self.chain.store().height_of(&hash).ok()??;
                    self.chain.block(height).ok()?
                });
                if let Some(block) = block {
                    let message = ProposalMessage::Block(Box::new(block)).encode();
                    if cairn_network::fits(&message) {
                        self.sender.send(Recipients::One(peer), message, false);
                    }
                }
            }
            Err(error) => {
                debug!(%error, ?peer, "dropping malformed proposal message");
                self.stats.dropped();
            }
        }
    }

    /// A proposed block by hash: executed here, or received and not executed yet.
    fn find_block(&self, hash: &B256) -> Option<Block> {
        if let Some(executed) = self.chain.pending_block(hash) {
            return Some(executed.block.clone());
        }
        self.received.get(hash).cloned()
    }

    fn request<E: Clock>(&mut self, hash: B256, context: &E) {
        let now = context.current();
        if let Some(last) = self.requested.get(&hash)
            && now.duration_since(*last).unwrap_or_default() < self.config.fetch_retry
        {
            return;
        }
        self.requested.insert(hash, now);
        let peers = self.other_validators();
        self.sender.send(
            Recipients::Some(peers),
            ProposalMessage::Request(hash).encode(),
            false,
        );
    }

    /// Makes `hash` executable here if possible: already executed or committed, executed now
    /// from a received block, or requested (with its missing ancestors) from peers.
    fn availability<E: Clock>(&mut self, hash: B256, context: &E) -> Availability {
        let mut cursor = hash;
        // Walk down to the first missing or unexecuted ancestor, bounded by what was received.
        for _ in 0..=MAX_RECEIVED_BLOCKS {
            if self.chain.pending_block(&cursor).is_some() || self.chain.head().hash() == cursor {
                return self.execute_upwards(hash, cursor);
            }
            if let Ok(Some(_)) = self.chain.store().height_of(&cursor) {
                // Committed below the head: it cannot be (re)built on, but it is valid.
                return if cursor == hash {
                    Availability::Ready
                } else {
                    Availability::Invalid
                };
            }
            match self.received.get(&cursor) {
                Some(block) => cursor = block.header.parent_hash,
                None => {
                    self.request(cursor, context);
                    return Availability::Waiting;
                }
            }
        }
        Availability::Waiting
    }

    /// Executes the received blocks from just above `base` up to `target`.
    fn execute_upwards(&mut self, target: B256, base: B256) -> Availability {
        let mut path = Vec::new();
        let mut cursor = target;
        while cursor != base {
            let Some(block) = self.received.get(&cursor) else {
                break;
            };
            path.push(block.clone());
            cursor = block.header.parent_hash;
        }
        for block in path.into_iter().rev() {
            let hash = block.hash();
            match self.chain.execute_block(block, false) {
                Ok(_) => {
                    self.received.remove(&hash);
                }
                Err(ChainError::InvalidBlock(error)) => {
                    warn!(%hash, %error, "invalid proposal");
                    self.stats.invalid_block();
                    self.received.remove(&hash);
                    return Availability::Invalid;
                }
                Err(error) => {
                    debug!(%hash, %error, "cannot execute yet");
                    return Availability::Waiting;
                }
            }
        }
        if self.chain.pending_block(&target).is_some() || self.chain.head().hash() == target {
            Availability::Ready
        } else {
            Availability::Waiting
        }
    }

    fn progress<E: Clock>(&mut self, context: &E) {
        self.progress_proposals(context);
        self.progress_verifications(context);
        self.progress_certifications(context);
        self.progress_finalizations(context);
    }

    fn progress_proposals<E: Clock>(&mut self, context: &E) {
        let proposes = std::mem::take(&mut self.proposes);
        for (ctx, response) in proposes {
            if response.is_closed() {
                continue;
            }
            let parent = block_hash(&ctx.parent.1);
            match self.availability(parent, context) {
                Availability::Waiting => {
                    self.proposes.push((ctx, response));
                    continue;
                }
                Availability::Invalid => continue,
                Availability::Ready => {}
            }
            let parent_header = match self.chain.pending_block(&parent) {
                Some(executed) => executed.block.header.clone(),
                None => self.chain.head(),
            };
            let now_ms = cairn_network::sync::since_epoch(context.current()).as_millis() as u64;
            let due = parent_header.timestamp_ms + self.config.block_interval.as_millis() as u64;
            let ready = self.pool.status().ready >= self.config.min_block_transactions;
            if !ready && now_ms < due {
                self.proposes.push((ctx, response));
                continue;
            }
            let Some(address) = self.address else {
                continue;
            };
            let candidates = self.pool.ready(self.config.max_block_transactions);
            let extra = view_extra(ctx.round.view());
            match self
                .chain
                .propose_on(&parent, candidates, now_ms, address, extra)
            {
                Ok(executed) => {
                    debug!(
                        height = executed.block.header.height,
                        txs = executed.block.transactions.len(),
                        view = ctx.round.view().get(),
                        "proposing"
                    );
                    let _ = response.send(digest(&executed.hash()));
                }
                Err(error) => warn!(%error, "could not build a proposal"),
            }
        }
    }

    fn progress_verifications<E: Clock>(&mut self, context: &E) {
        let verifies = std::mem::take(&mut self.verifies);
        for waiting in verifies {
            if waiting.response.is_closed() {
                continue;
            }
            let (ctx, hash) = &waiting.item;
            let Some(block) = self.find_block(hash) else {
                self.request(*hash, context);
                self.verifies.push(waiting);
                continue;
            };
            // The block must be the one this context asks about, before it is worth executing.
            let leader = cairn_key(&ctx.leader).address();
            let consistent = block.header.parent_hash == block_hash(&ctx.parent.1)
                && block.header.proposer == leader
                && extra_view(&block.header.extra) == Some(ctx.round.view().get());
            if !consistent {
                warn!(%hash, "proposal does not match its consensus context");
                self.stats.invalid_block();
                let _ = waiting.response.send(false);
                continue;
            }
            match self.availability(*hash, context) {
                Availability::Ready => {
                    let _ = waiting.response.send(true);
                }
                Availability::Invalid => {
                    let _ = waiting.response.send(false);
                }
                Availability::Waiting => self.verifies.push(waiting),
            }
        }
    }

    fn progress_certifications<E: Clock>(&mut self, context: &E) {
        let certifies = std::mem::take(&mut self.certifies);
        for waiting in certifies {
            if waiting.response.is_closed() {
                continue;
            }
            match self.availability(waiting.item, context) {
                Availability::Ready => {
                    let _ = waiting.response.send(true);
                }
                Availability::Invalid => {
                    let _ = waiting.response.send(false);
                }
                Availability::Waiting => self.certifies.push(waiting),
            }
        }
    }

    fn progress_finalizations<E: Clock>(&mut self, context: &E) {
        let finalizations = std::mem::take(&mut self.finalizations);
        for finalization in finalizations {
            let hash = block_hash(&finalization.proposal.payload);
            if let Ok(Some(_)) = self.chain.store().height_of(&hash) {
                continue;
            }
            match self.availability(hash, context) {
                Availability::Waiting => {
                    self.finalizations.push(finalization);
                    continue;
                }
                Availability::Invalid => {
                    // Finalized but invalid here would be a safety failure: say so loudly.
                    warn!(%hash, "consensus finalized a block this node finds invalid");
                    continue;
                }
                Availability::Ready => {}
            }
            match self
                .chain
                .commit_path(&hash, finalization_seal(&finalization))
            {
                Ok(committed) => {
                    for block in &committed {
                        let header = &block.block.header;
                        info!(
                            height = header.height,
                            hash = %header.hash(),
                            txs = block.block.transactions.len(),
                            "finalized"
                        );
                    }
                }
                // An ancestor without its notarization here: block sync will bring it, sealed.
                Err(ChainError::MissingSeal(ancestor)) => {
                    debug!(%ancestor, "waiting for an ancestor's seal");
                    self.finalizations.push(finalization);
                }
                Err(error) => {
                    debug!(%hash, %error, "cannot commit the finalized block yet");
                    self.finalizations.push(finalization);
                }
            }
        }
    }

    /// Forgets received blocks and requests that commits made irrelevant.
    fn prune(&mut self) {
        let head = self.chain.head().height;
        self.received.retain(|_, block| block.header.height > head);
        let received = &self.received;
        let chain = &self.chain;
        self.requested
            .retain(|hash, _| received.contains_key(hash) || chain.pending_block(hash).is_none());
        if self.requested.len() > 4 * MAX_RECEIVED_BLOCKS {
            self.requested.clear();
        }
    }
}
