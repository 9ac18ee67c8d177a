//! Transfer gossip (seed 004's pool `merge`): what a node admits from its clients reaches
//! every peer's pool.
//!
//! Transfers admitted through the API are batched for a few milliseconds and sent to all peers;
//! transfers received from peers are admitted (signatures checked in a batch) but not sent on:
//! every node talks to every other, so one hop reaches them all and nothing echoes. Messages
//! can still be lost (a reconnect, a rate limit), so every second a node re-sends
//! the executable transfers that were already waiting at its previous look: they are the ones
//! the proposer may be missing. Peers recognise what they hold before checking signatures.
//!
//! An honest node gossips only transfers it admitted, so a batch with one bad signature
//! proves its sender dishonest: the batch is dropped after one batch check (no search for the
//! culprit, which would cost a single check per transfer) and the sender is blocked. The
//! checks run off the async workers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cairn_ledger::Chain;
use cairn_mempool::{ForgedGossip, Mempool};
use cairn_primitives::{B256, SignedTransaction};
use commonware_p2p::{Blocker, Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner};
use tokio::sync::mpsc;
use tracing::debug;

use crate::stats::{Offence, Penalties};
use crate::sync::since_epoch;
use crate::wire::{
    MAX_GOSSIP_BYTES, MAX_GOSSIP_TRANSACTIONS, decode_transactions, encode_transactions,
};
use crate::{NetworkStats, PeerKey, PeerTracker};

/// How long local transfers wait to be batched before they are sent.
const BATCH_DELAY: Duration = Duration::from_millis(5);
/// How often transfers still waiting in the pool are offered to peers again: a message lost
/// between nodes would otherwise leave a nonce gap on the proposer that nothing fills.
const REGOSSIP_INTERVAL: Duration = Duration::from_secs(1);
/// Batches of local transfers waiting for the actor, at most.
const OUTBOX_BATCHES: usize = 1_024;

/// Hands locally admitted transfers to the gossip actor.
#[derive(Clone, Debug)]
pub struct GossipHandle {
    outbox: mpsc::Sender<Vec<SignedTransaction>>,
    stats: Arc<NetworkStats>,
}

impl GossipHandle {
    /// Queues transfers for gossip; if the actor is far behind they are dropped (and counted):
    /// the pool still holds them, and the proposer's own pool is what matters.
    pub fn forward(&self, transactions: &[SignedTransaction]) {
        if self.outbox.try_send(transactions.to_vec()).is_err() {
            self.stats.dropped();
        }
    }
}

/// The gossip actor.
pub struct Gossip<S, R, B> {
    chain: Arc<Chain>,
    pool: Arc<Mempool>,
    sender: S,
    receiver: R,
    outbox: mpsc::Receiver<Vec<SignedTransaction>>,
    penalties: Penalties<B>,
    peers: Arc<PeerTracker>,
}

impl<S, R, B> Gossip<S, R, B>
where
    S: Sender<PublicKey = PeerKey>,
    R: Receiver<PublicKey = PeerKey>,
    B: Blocker<PublicKey = PeerKey>,
{
    /// A gossip actor over the transactions channel, and the handle that feeds it; `blocker`
    /// (the transport's oracle) blocks peers that gossip forged transfers.
    pub fn new(
        chain: Arc<Chain>,
        pool: Arc<Mempool>,
        (sender, receiver): (S, R),
        (stats, blocker): (Arc<NetworkStats>, B),
        peers: Arc<PeerTracker>,
    ) -> (Self, GossipHandle) {
        let (outbox_sender, outbox) = mpsc::channel(OUTBOX_BATCHES);
        let handle = GossipHandle {
            outbox: outbox_sender,
            stats: stats.clone(),
        };
        (
            Self {
                chain,
                pool,
                sender,
                receiver,
                outbox,
                penalties: Penalties::new(stats, blocker),
                peers,
            },
            handle,
        )
    }

    /// Runs the actor until the network closes.
    pub fn start<E: Clock + Spawner>(self, context: E) -> Handle<()> {
        context.spawn(move |context| self.run(context))
    }

    async fn run<E: Clock + Spawner>(mut self, context: E) {
        let mut buffer: Vec<SignedTransaction> = Vec::new();
        let mut flush_at = None;
        let mut regossip_at = context.current() + REGOSSIP_INTERVAL;
        let mut waiting: HashSet<B256> = HashSet::new();
        loop {
            if context.current() >= regossip_at {
                waiting = self.regossip(&waiting);
                regossip_at = context.current() + REGOSSIP_INTERVAL;
            }
            let wake = flush_at.unwrap_or(regossip_at).min(regossip_at);
            tokio::select! {
                biased;
                batch = self.outbox.recv() => {
                    let Some(batch) = batch else { return };
                    buffer.extend(batch);
                    while buffer.len() >= MAX_GOSSIP_TRANSACTIONS {
                        let rest = buffer.split_off(MAX_GOSSIP_TRANSACTIONS);
                        self.send(&buffer);
                        buffer = rest;
                    }
                    if !buffer.is_empty() && flush_at.is_none() {
                        flush_at = Some(context.current() + BATCH_DELAY);
                    }
                }
                message = self.receiver.recv() => {
                    let Ok((peer, bytes)) = message else { return };
                    self.peers.heard(&peer, since_epoch(context.current()));
                    if bytes.len() > MAX_GOSSIP_BYTES {
                        debug!(size = bytes.len(), ?peer, "dropping oversized gossip");
                        self.penalties.punish(&peer, Offence::Malformed);
                        continue;
                    }
                    match decode_transactions(bytes.as_ref()) {
                        Ok(transactions) => self.admit(&context, peer, transactions).await,
                        Err(error) => {
                            debug!(%error, ?peer, "dropping malformed gossip");
                            self.penalties.punish(&peer, Offence::Malformed);
                        }
                    }
                }
                _ = context.sleep_until(wake) => {
                    if !buffer.is_empty() {
                        self.send(&buffer);
                        buffer.clear();
                    }
                    flush_at = None;
                }
            }
        }
    }

    /// Admits a peer's batch, checking its signatures on a blocking thread; a forged batch
    /// gets its sender blocked.
    async fn admit<E: Spawner>(
        &mut self,
        context: &E,
        peer: PeerKey,
        transactions: Vec<SignedTransaction>,
    ) {
        let (pool, chain) = (self.pool.clone(), self.chain.clone());
        let job = context
            .child("job")
            .shared(true)
            .spawn(move |_| async move { pool.admit_gossip(transactions, chain.as_ref()) });
        match job.await {
            Ok(Ok(results)) => {
                let rejected = results.iter().filter(|r| r.is_err()).count();
                if rejected > 0 {
                    debug!(rejected, ?peer, "gossiped transfers not admitted");
                }
            }
            Ok(Err(ForgedGossip)) => self.penalties.punish(&peer, Offence::Forgery),
            Err(error) => tracing::warn!(%error, "a gossip admission task failed"),
        }
    }

    /// Re-sends the executable transfers that were already waiting at the previous look, and
    /// returns what is waiting now.
    fn regossip(&mut self, previous: &HashSet<B256>) -> HashSet<B256> {
        let ready = self.pool.ready(MAX_GOSSIP_TRANSACTIONS);
        let stuck: Vec<SignedTransaction> = ready
            .iter()
            .filter(|tx| previous.contains(&tx.hash()))
            .cloned()
            .collect();
        if !stuck.is_empty() {
            debug!(count = stuck.len(), "re-sending waiting transfers");
            self.send(&stuck);
        }
        ready.iter().map(SignedTransaction::hash).collect()
    }

    /// Sends `transactions` in as many messages as [`MAX_GOSSIP_BYTES`] needs (contract
    /// deployments are large; a batch of transfers always fits one).
    fn send(&mut self, transactions: &[SignedTransaction]) {
        // Room for the message's kind byte and list header.
        const BUDGET: usize = MAX_GOSSIP_BYTES - 16;
        let mut start = 0;
        let mut bytes = 0;
        for (index, tx) in transactions.iter().enumerate() {
            let length = tx.encoded_len() + 4;
            if index > start && bytes + length > BUDGET {
                self.sender.send(
                    Recipients::All,
                    encode_transactions(&transactions[start..index]),
                    false,
                );
                start = index;
                bytes = 0;
            }
            bytes += length;
        }
        if start < transactions.len() {
            self.sender.send(
                Recipients::All,
                encode_transactions(&transactions[start..]),
                false,
            );
        }
    }
}
