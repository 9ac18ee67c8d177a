//! The application simplex drives: proposals, verification, certification, block relay and
//! commits.
//!
//! Simplex calls in through a [`Mailbox`] (it implements simplex's `Automaton`,
//! `CertifiableAutomaton`, `Relay` and `Reporter`); one actor answers, so all of this runs in
//! one place, in order. Requests that cannot be answered yet (a block not received, a parent
//! not executed, a pacing delay) wait and are retried on every event and every tick; simplex
//! abandons them by dropping its end of the reply channel. Work that takes CPU or disk time
//! (building, executing and committing blocks) runs one job at a time off the async workers,
//! and the actor keeps answering meanwhile.
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
//!   block by hash, within a per-peer budget.
//! * Report: notarizations are kept as seals for blocks finalized through a descendant; a
//!   finalization commits its block and any pending ancestors, in order.
//!
//! Which received blocks are kept: a block this node asked for (by hash, from anyone), or a
//! block its own proposer sent unasked, within that proposer's budget and at most
//! [`MAX_UNSOLICITED_PER_SENDER`] at a time (its oldest make room). Anything else is dropped
//! after its header is read, and counted against the sender. A kept body must match the
//! transactions root of its header, or the sender is blocked; a kept block is never replaced.
//! So no peer, validator or not, can displace an honest proposal or swap its body.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cairn_ledger::{
    Chain, ChainError, CommittedBlock, ExecutedBlock, MAX_BLOCK_TRANSACTIONS, transactions_root,
};
use cairn_mempool::Mempool;
use cairn_network::wire::ProposalMessage;
use cairn_network::{
    NetworkStats, Offence, PeerBudgets, PeerKey, PeerTracker, Penalties, cairn_key,
};
use cairn_primitives::clock::{millis_since_epoch, since_epoch};
use cairn_primitives::{Address, B256, Block};
use commonware_actor::Feedback;
use commonware_consensus::simplex::Plan;
use commonware_consensus::simplex::types::{Activity, Context, Finalization, Notarization};
use commonware_consensus::types::Round;
use commonware_consensus::{Automaton, CertifiableAutomaton, Relay, Reporter, Viewable};
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner};
use commonware_utils::channel::oneshot;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::seal::{finalization_seal, notarization_seal};
use super::{Digest, Scheme, block_hash, digest, extra_view, view_extra};

/// How often waiting requests are retried without an event.
const TICK: Duration = Duration::from_millis(20);
/// Heights above the head a received block may be at; anything further is left to sync.
const MAX_AHEAD: u64 = 256;
/// Blocks one sender may have kept here without being asked (its own proposals).
pub const MAX_UNSOLICITED_PER_SENDER: usize = 16;
/// Bytes of unasked proposals one validator may send per second (twice that in a burst):
/// far above what an honest leader proposes, a bound on the decoding a flood can cause.
const UNSOLICITED_BYTES_PER_SECOND: u64 = 32 * 1024 * 1024;
/// Bytes of blocks this node serves one peer per second on request.
const SERVE_BYTES_PER_SECOND: u64 = 64 * 1024 * 1024;
/// Block hashes asked for and not received, at most.
const MAX_REQUESTED: usize = 1_024;
/// Hashes of blocks found invalid, remembered so they are neither kept nor asked for again.
const MAX_REJECTED: usize = 1_024;
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

/// A received block whose body matches its header, not executed yet.
struct Held {
    block: Block,
    sender: PeerKey,
    /// Whether this node asked for it (else its proposer sent it unasked).
    solicited: bool,
}

/// Work that runs off the async workers, and what it came to.
enum Outcome {
    Executed {
        hash: B256,
        result: Result<(), ChainError>,
    },
    Proposed {
        response: oneshot::Sender<Digest>,
        view: u64,
        result: Result<Arc<ExecutedBlock>, ChainError>,
    },
    Committed {
        finalization: Box<Finalization<Scheme, Digest>>,
        result: Result<Vec<Arc<CommittedBlock>>, ChainError>,
    },
}

/// The application actor.
pub struct Application<S, R, B> {
    chain: Arc<Chain>,
    pool: Arc<Mempool>,
    address: Option<Address>,
    ranks: Vec<PeerKey>,
    rank_addresses: Vec<Address>,
    me: Option<PeerKey>,
    config: ApplicationConfig,
    sender: S,
    receiver: R,
    mailbox: mpsc::UnboundedReceiver<Message>,
    penalties: Penalties<B>,
    peers: Arc<PeerTracker>,
    status: Arc<ViewStatus>,
    received: HashMap<B256, Held>,
    requested: HashMap<B256, SystemTime>,
    rejected: HashSet<B256>,
    rejected_order: VecDeque<B256>,
    unsolicited_budgets: PeerBudgets,
    serve_budgets: PeerBudgets,
    job: Option<Handle<Outcome>>,
    /// The finalization a running commit job is committing (retried if the job dies).
    committing: Option<Finalization<Scheme, Digest>>,
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

impl<S, R, B> Application<S, R, B>
where
    S: Sender<PublicKey = PeerKey>,
    R: Receiver<PublicKey = PeerKey>,
    B: Blocker<PublicKey = PeerKey>,
{
    /// An application for `chain`, proposing as `me` (a validator's key; `None` only for
    /// tests that never lead), relaying over the proposals channel; `blocker` (the transport's
    /// oracle) blocks peers proven dishonest.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        chain: Arc<Chain>,
        pool: Arc<Mempool>,
        me: Option<PeerKey>,
        ranks: Vec<PeerKey>,
        config: ApplicationConfig,
        (sender, receiver): (S, R),
        (stats, blocker): (Arc<NetworkStats>, B),
        peers: Arc<PeerTracker>,
    ) -> (Self, Mailbox, Arc<ViewStatus>) {
        let (mailbox_sender, mailbox) = mpsc::unbounded_channel();
        let status = Arc::new(ViewStatus::default());
        let address = me.as_ref().map(|key| cairn_key(key).address());
        let rank_addresses = ranks.iter().map(|key| cairn_key(key).address()).collect();
        let application = Self {
            chain,
            pool,
            address,
            ranks,
            rank_addresses,
            me,
            config,
            sender,
            receiver,
            mailbox,
            penalties: Penalties::new(stats, blocker),
            peers,
            status: status.clone(),
            received: HashMap::new(),
            requested: HashMap::new(),
            rejected: HashSet::new(),
            rejected_order: VecDeque::new(),
            unsolicited_budgets: PeerBudgets::new(
                UNSOLICITED_BYTES_PER_SECOND,
                2 * UNSOLICITED_BYTES_PER_SECOND,
            ),
            serve_budgets: PeerBudgets::new(SERVE_BYTES_PER_SECOND, SERVE_BYTES_PER_SECOND),
            job: None,
            committing: None,
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

    async fn run<E: Clock + Spawner>(mut self, context: E) {
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
            let mut job = self.job.take();
            let running = async {
                match job.as_mut() {
                    Some(handle) => handle.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                outcome = running => {
                    job = None;
                    match outcome {
                        Ok(outcome) => self.finish(outcome),
                        Err(error) => {
                            warn!(%error, "a block job failed");
                            // A finalization must not be lost with its job.
                            if let Some(finalization) = self.committing.take() {
                                self.finalizations.push(finalization);
                            }
                        }
                    }
                }
                message = self.mailbox.recv() => match message {
                    Some(message) => self.handle(message),
                    None => return,
                },
                message = self.receiver.recv() => match message {
                    Ok((peer, bytes)) => {
                        let now = since_epoch(context.current());
                        self.peers.heard(&peer, now);
                        self.on_network(peer, bytes.as_ref(), now);
                    }
                    Err(_) => return,
                },
                _ = events.recv() => self.prune(),
                _ = notified => {}
                _ = context.sleep_until(wake) => {}
            }
            if job.is_some() {
                self.job = job;
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
            // A certification carries the notarization it certified; simplex may report a
            // view's notarization only that way.
            Activity::Notarization(notarization) | Activity::Certification(notarization) => {
                let hash = block_hash(&notarization.proposal.payload);
                self.chain
                    .attach_seal(&hash, notarization_seal(&notarization));
                self.notarizations
                    .insert(notarization.view().get(), (hash, notarization));
                while self.notarizations.len() > MAX_NOTARIZATIONS {
                    self.notarizations.pop_first();
                }
            }
            Activity::Finalization(finalization) => {
                self.finalizations.push(finalization);
                // A later finalization commits every pending ancestor, so old ones may go.
                if self.finalizations.len() > MAX_NOTARIZATIONS {
                    self.finalizations.sort_by_key(|f| f.view());
                    self.finalizations.remove(0);
                }
            }
            Activity::ConflictingNotarize(_)
            | Activity::ConflictingFinalize(_)
            | Activity::NullifyFinalize(_) => {
                warn!("a validator equivocated: consensus recorded evidence");
                self.penalties.stats().fault();
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

    /// The validator whose address is `address`.
    fn validator_with(&self, address: &Address) -> Option<&PeerKey> {
        let rank = self.rank_addresses.iter().position(|a| a == address)?;
        self.ranks.get(rank)
    }

    fn on_network(&mut self, peer: PeerKey, bytes: &[u8], now: Duration) {
        let header = match ProposalMessage::peek_header(bytes) {
            Ok(Some(header)) => header,
            Ok(None) => {
                match ProposalMessage::decode(bytes) {
                    Ok(ProposalMessage::Request(hash)) => self.serve(peer, hash, now),
                    _ => self.penalties.punish(&peer, Offence::Malformed),
                }
                return;
            }
            Err(error) => {
                debug!(%error, ?peer, "dropping malformed proposal message");
                self.penalties.punish(&peer, Offence::Malformed);
                return;
            }
        };
        let hash = header.hash(self.chain.suite());
        // What this node holds already is never replaced, whoever sends it again.
        if self.received.contains_key(&hash)
            || self.chain.pending_block(&hash).is_some()
            || self.rejected.contains(&hash)
        {
            return;
        }
        let head = self.chain.head().height;
        // Far from the head is useless or hostile; either way, not kept.
        if header.height <= head || header.height > head + MAX_AHEAD {
            self.penalties.stats().dropped();
            return;
        }
        let solicited = self.requested.contains_key(&hash);
        if !solicited {
            // Unasked, only a validator's own proposal, within its budget.
            let own = self
                .validator_with(&header.proposer)
                .is_some_and(|proposer| *proposer == peer);
            if !own
                || !self
                    .unsolicited_budgets
                    .take(&peer, bytes.len() as u64, now)
            {
                self.penalties.punish(&peer, Offence::Unsolicited);
                return;
            }
        }
        let block = match ProposalMessage::decode(bytes) {
            Ok(ProposalMessage::Block(block)) => *block,
            _ => {
                self.penalties.punish(&peer, Offence::Malformed);
                return;
            }
        };
        if block.transactions.len() > MAX_BLOCK_TRANSACTIONS
            || transactions_root(self.chain.suite(), &block.transactions)
                != header.transactions_root
        {
            // A body that is not its header's: no honest node holds or relays one.
            warn!(%hash, ?peer, "peer sent a block whose body does not match its header");
            self.penalties.punish(&peer, Offence::Forgery);
            return;
        }
        if !solicited {
            self.make_room_for(&peer);
        }
        self.requested.remove(&hash);
        self.received.insert(
            hash,
            Held {
                block,
                sender: peer,
                solicited,
            },
        );
    }

    /// Keeps at most [`MAX_UNSOLICITED_PER_SENDER`] unasked blocks per sender: its oldest
    /// (lowest height, then lowest view) leave to make room.
    fn make_room_for(&mut self, peer: &PeerKey) {
        let theirs: Vec<(u64, u64, B256)> = self
            .received
            .iter()
            .filter(|(_, held)| !held.solicited && held.sender == *peer)
            .map(|(hash, held)| {
                let header = &held.block.header;
                (header.height, extra_view(&header.extra).unwrap_or(0), *hash)
            })
            .collect();
        if theirs.len() >= MAX_UNSOLICITED_PER_SENDER
            && let Some((_, _, oldest)) = theirs.into_iter().min()
        {
            self.received.remove(&oldest);
        }
    }

    /// Answers a request for a block by hash, within the peer's budget.
    fn serve(&mut self, peer: PeerKey, hash: B256, now: Duration) {
        let block = self.find_block(&hash).or_else(|| {
            let height = self.chain.store().height_of(&hash).ok()??;
            self.chain.block(height).ok()?
        });
        let Some(block) = block else { return };
        let message = ProposalMessage::Block(Box::new(block)).encode();
        if !cairn_network::fits(&message) {
            return;
        }
        if !self.serve_budgets.take(&peer, message.len() as u64, now) {
            debug!(
                ?peer,
                "peer asks for more blocks than it may; not answering"
            );
            return;
        }
        self.sender.send(Recipients::One(peer), message, false);
    }

    /// A proposed block by hash: executed here, or received and not executed yet.
    fn find_block(&self, hash: &B256) -> Option<Block> {
        if let Some(executed) = self.chain.pending_block(hash) {
            return Some(executed.block.clone());
        }
        self.received.get(hash).map(|held| held.block.clone())
    }

    fn request<E: Clock>(&mut self, hash: B256, context: &E) {
        let now = context.current();
        if let Some(last) = self.requested.get(&hash)
            && now.duration_since(*last).unwrap_or_default() < self.config.fetch_retry
        {
            return;
        }
        if self.requested.len() >= MAX_REQUESTED && !self.requested.contains_key(&hash) {
            // Forget the oldest request: a node this far behind catches up by sync.
            if let Some(oldest) = self
                .requested
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(hash, _)| *hash)
            {
                self.requested.remove(&oldest);
            }
        }
        self.requested.insert(hash, now);
        let peers = self.other_validators();
        self.sender.send(
            Recipients::Some(peers),
            ProposalMessage::Request(hash).encode(),
            false,
        );
    }

    /// Remembers a block proven invalid (deterministically, whoever checks it).
    fn reject(&mut self, hash: B256) {
        if self.rejected.insert(hash) {
            self.rejected_order.push_back(hash);
        }
        while self.rejected_order.len() > MAX_REJECTED {
            if let Some(oldest) = self.rejected_order.pop_front() {
                self.rejected.remove(&oldest);
            }
        }
    }

    /// Makes `hash` executable here if possible: already executed or committed, executed
    /// (a job started) from received blocks, or requested (with its missing ancestors).
    fn availability<E: Clock + Spawner>(&mut self, hash: B256, context: &E) -> Availability {
        let mut cursor = hash;
        // Walk down to the first missing or unexecuted ancestor, bounded by what may be held.
        for _ in 0..=MAX_AHEAD {
            if self.chain.pending_block(&cursor).is_some()
                || self.chain.head().hash(self.chain.suite()) == cursor
            {
                return self.execute_towards(hash, cursor, context);
            }
            if let Ok(Some(_)) = self.chain.store().height_of(&cursor) {
                // Committed below the head: it cannot be (re)built on, but it is valid.
                return if cursor == hash {
                    Availability::Ready
                } else {
                    Availability::Invalid
                };
            }
            if self.rejected.contains(&cursor) {
                return Availability::Invalid;
            }
            match self.received.get(&cursor) {
                Some(held) => cursor = held.block.header.parent_hash,
                None => {
                    self.request(cursor, context);
                    return Availability::Waiting;
                }
            }
        }
        Availability::Waiting
    }

    /// With `base` executed (or the head), starts executing the next received block on the
    /// way up to `target`, unless a job is running.
    fn execute_towards<E: Spawner>(
        &mut self,
        target: B256,
        base: B256,
        context: &E,
    ) -> Availability {
        if target == base {
            return Availability::Ready;
        }
        let mut next = None;
        let mut cursor = target;
        while cursor != base {
            let Some(held) = self.received.get(&cursor) else {
                return Availability::Waiting;
            };
            next = Some(cursor);
            cursor = held.block.header.parent_hash;
        }
        let (Some(next), None) = (next, &self.job) else {
            return Availability::Waiting;
        };
        let Some(held) = self.received.get(&next) else {
            return Availability::Waiting;
        };
        let (chain, block) = (self.chain.clone(), held.block.clone());
        self.job = Some(
            context
                .child("job")
                .shared(true)
                .spawn(move |_| async move {
                    let result = chain.execute_block(block, false).map(|_| ());
                    Outcome::Executed { hash: next, result }
                }),
        );
        Availability::Waiting
    }

    /// Takes the result of a job.
    fn finish(&mut self, outcome: Outcome) {
        self.committing = None;
        match outcome {
            Outcome::Executed { hash, result } => match result {
                Ok(()) => {
                    self.received.remove(&hash);
                    self.attach_known_seal(&hash);
                }
                Err(ChainError::InvalidBlock(error)) => {
                    warn!(%hash, %error, "invalid proposal");
                    self.penalties.stats().invalid_block();
                    let held = self.received.remove(&hash);
                    // Invalid wherever it is checked: its proposer vouched for an invalid
                    // block. (A timestamp ahead of this clock, or a head that moved past the
                    // parent, proves nothing: the block may be asked for again.)
                    if error.proves_forgery() {
                        self.reject(hash);
                        if let Some(proposer) = held.and_then(|held| {
                            self.validator_with(&held.block.header.proposer).cloned()
                        }) {
                            self.penalties.punish(&proposer, Offence::Forgery);
                        }
                    }
                }
                Err(error) => debug!(%hash, %error, "cannot execute yet"),
            },
            Outcome::Proposed {
                response,
                view,
                result,
            } => match result {
                Ok(executed) => {
                    debug!(
                        height = executed.block.header.height,
                        txs = executed.block.transactions.len(),
                        view,
                        "proposing"
                    );
                    self.attach_known_seal(&executed.hash());
                    let _ = response.send(digest(&executed.hash()));
                }
                Err(error) => warn!(%error, "could not build a proposal"),
            },
            Outcome::Committed {
                finalization,
                result,
            } => match result {
                Ok(committed) => {
                    for block in &committed {
                        let header = &block.block.header;
                        info!(
                            height = header.height,
                            hash = %header.hash(self.chain.suite()),
                            txs = block.block.transactions.len(),
                            "finalized"
                        );
                    }
                }
                // A block on the path not executed here yet (it will be), or storage.
                Err(error) => {
                    debug!(%error, "cannot commit the finalized block yet");
                    self.finalizations.push(*finalization);
                }
            },
        }
    }

    fn progress<E: Clock + Spawner>(&mut self, context: &E) {
        self.progress_proposals(context);
        self.progress_verifications(context);
        self.progress_certifications(context);
        self.progress_finalizations(context);
    }

    fn progress_proposals<E: Clock + Spawner>(&mut self, context: &E) {
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
            let now_ms = millis_since_epoch(context.current());
            let due = parent_header
                .timestamp_ms
                .saturating_add(self.config.block_interval.as_millis() as u64);
            let ready = self.pool.status().ready >= self.config.min_block_transactions;
            if (!ready && now_ms < due) || self.job.is_some() {
                self.proposes.push((ctx, response));
                continue;
            }
            let Some(address) = self.address else {
                continue;
            };
            let most = cairn_ledger::max_block_transactions(self.chain.suite());
            let candidates = self
                .pool
                .ready(self.config.max_block_transactions.min(most));
            let extra = view_extra(ctx.round.view());
            let view = ctx.round.view().get();
            let chain = self.chain.clone();
            self.job = Some(
                context
                    .child("job")
                    .shared(true)
                    .spawn(move |_| async move {
                        let result = chain.propose_on(&parent, candidates, now_ms, address, extra);
                        Outcome::Proposed {
                            response,
                            view,
                            result,
                        }
                    }),
            );
        }
    }

    fn progress_verifications<E: Clock + Spawner>(&mut self, context: &E) {
        let verifies = std::mem::take(&mut self.verifies);
        for waiting in verifies {
            if waiting.response.is_closed() {
                continue;
            }
            let (ctx, hash) = &waiting.item;
            let Some(block) = self.find_block(hash) else {
                if self.rejected.contains(hash) {
                    let _ = waiting.response.send(false);
                    continue;
                }
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
                self.penalties.stats().invalid_block();
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

    fn progress_certifications<E: Clock + Spawner>(&mut self, context: &E) {
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

    fn progress_finalizations<E: Clock + Spawner>(&mut self, context: &E) {
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
            if self.job.is_some() {
                self.finalizations.push(finalization);
                continue;
            }
            let chain = self.chain.clone();
            let seal = finalization_seal(&finalization);
            self.committing = Some(finalization.clone());
            self.job = Some(
                context
                    .child("job")
                    .shared(true)
                    .spawn(move |_| async move {
                        let result = chain.commit_path(&hash, seal);
                        Outcome::Committed {
                            finalization: Box::new(finalization),
                            result,
                        }
                    }),
            );
        }
    }

    /// Attaches the notarization consensus reported for `hash` before this node had executed
    /// the block (a validator catching up hears of notarizations first): without it, a final
    /// descendant could never commit the block.
    fn attach_known_seal(&self, hash: &B256) {
        if let Some((_, notarization)) = self
            .notarizations
            .values()
            .rev()
            .find(|(notarized, _)| notarized == hash)
        {
            self.chain
                .attach_seal(hash, notarization_seal(notarization));
        }
    }

    /// Forgets received blocks and requests that commits made irrelevant.
    fn prune(&mut self) {
        let head = self.chain.head().height;
        self.received
            .retain(|_, held| held.block.header.height > head);
        let received = &self.received;
        let chain = &self.chain;
        self.requested
            .retain(|hash, _| !received.contains_key(hash) && chain.pending_block(hash).is_none());
    }
}
