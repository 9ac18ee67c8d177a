//! Byzantine peers: each speaks Cairn's wire protocol with its real, authorized key, and lies.

use cairn_primitives::CryptoSuite;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::bft::application::Mailbox;
use cairn_consensus::bft::{Digest, Scheme, block_hash, digest, namespace, participants};
use cairn_ledger::{Chain, receipts_root, transactions_root};
use cairn_network::wire::{ProposalMessage, SyncMessage, encode_transactions};
use cairn_network::{PeerKey, peer_signer};
use cairn_primitives::dev::{DEV_CHAIN_ID, dev_account_key};
use cairn_primitives::{Address, B256, Block, Bytes, Header, Seal, SecretKey, Transaction};
use commonware_actor::Feedback;
use commonware_codec::Encode;
use commonware_consensus::simplex::Plan;
use commonware_consensus::simplex::types::{Activity, Context, Notarize, Proposal, Vote};
use commonware_consensus::types::{Round, View};
use commonware_consensus::{Automaton, CertifiableAutomaton, Relay, Reporter};
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, deterministic};
use commonware_utils::channel::oneshot;
use parking_lot::Mutex;

/// A forged twin of a block: same transactions and roots (so it executes validly on the same
/// parent), but another proposer, time and parent, so another hash: sealed with the liar's own
/// key, as a solo chain's block would be.
fn forge(
    template: &Header,
    transactions: Vec<cairn_primitives::SignedTransaction>,
    parent: B256,
    key: &SecretKey,
) -> Block {
    let header = Header {
        parent_hash: parent,
        proposer: key.address(),
        timestamp_ms: template.timestamp_ms + 1,
        ..template.clone()
    };
    let seal = Seal::sign(&header.hash(CryptoSuite::Ed25519Keccak), key);
    Block {
        header,
        transactions,
        seal,
    }
}

/// A validator's sync actor that lies: it announces a head far above the real one and answers
/// every request with a forged chain built on the requester's head: the honest blocks' own
/// contents, re-sealed with its validator key, then empty blocks as high as it claims.
pub struct LyingSyncer<S, R> {
    pub chain: Arc<Chain>,
    pub key: SecretKey,
    pub sender: S,
    pub receiver: R,
    /// How far above its real head it claims to be.
    pub inflation: u64,
    /// Silent before this time.
    pub from: std::time::SystemTime,
}

impl<S: Sender<PublicKey = PeerKey>, R: Receiver<PublicKey = PeerKey>> LyingSyncer<S, R> {
    pub async fn run(mut self, context: deterministic::Context) {
        let mut next_status = self.from;
        loop {
            if context.current() >= next_status {
                let head = self.chain.head();
                let claim = SyncMessage::Status {
                    height: head.height + self.inflation,
                    hash: B256::repeat_byte(0xee),
                };
                self.sender.send(Recipients::All, claim.encode(), false);
                next_status = context.current() + Duration::from_millis(200);
            }
            tokio::select! {
                biased;
                message = self.receiver.recv() => {
                    let Ok((peer, bytes)) = message else { return };
                    if context.current() < self.from {
                        continue;
                    }
                    if let Ok(SyncMessage::GetBlocks { from, count }) = SyncMessage::decode(bytes.as_ref()) {
                        let blocks = self.forged_chain(from, count);
                        self.sender.send(Recipients::One(peer), SyncMessage::Blocks(blocks).encode(), false);
                    }
                }
                _ = context.sleep_until(next_status) => {}
            }
        }
    }

    fn forged_chain(&self, from: u64, count: u32) -> Vec<Block> {
        let store = self.chain.store();
        let Some(mut parent) = store.header(from.saturating_sub(1)).unwrap() else {
            return Vec::new();
        };
        let mut blocks = Vec::new();
        for height in from..from + u64::from(count.min(16)) {
            let block = match store.block(height).unwrap() {
                Some(honest) => forge(
                    &honest.header,
                    honest.transactions,
                    parent.hash(CryptoSuite::Ed25519Keccak),
                    &self.key,
                ),
                None => {
                    let empty = Header {
                        parent_hash: parent.hash(CryptoSuite::Ed25519Keccak),
                        height,
                        timestamp_ms: parent.timestamp_ms + 1,
                        proposer: self.key.address(),
                        state_root: parent.state_root,
                        transactions_root: transactions_root(CryptoSuite::Ed25519Keccak, &[]),
                        receipts_root: receipts_root(CryptoSuite::Ed25519Keccak, &[]),
                        extra: Bytes::new(),
                    };
                    forge(
                        &empty,
                        Vec::new(),
                        parent.hash(CryptoSuite::Ed25519Keccak),
                        &self.key,
                    )
                }
            };
            parent = block.header.clone();
            blocks.push(block);
        }
        blocks
    }
}

/// A peer that floods the proposal channel as fast as its rate limit lets it with blocks
/// nobody asked for: fabricated blocks above the head naming a validator as proposer (valid
/// transactions roots, so they pass every cheap check), and copies of real blocks with their
/// bodies swapped.
pub struct Flooder<S> {
    pub chain: Arc<Chain>,
    pub sender: S,
    pub validators: Vec<Address>,
    /// Messages per second.
    pub rate: u32,
    /// Silent before this time.
    pub from: std::time::SystemTime,
}

impl<S: Sender<PublicKey = PeerKey>> Flooder<S> {
    pub async fn run(mut self, context: deterministic::Context) {
        context.sleep_until(self.from).await;
        let key = dev_account_key(0);
        let mut counter = 0u64;
        let interval = Duration::from_secs(1) / self.rate;
        loop {
            context.sleep(interval).await;
            counter += 1;
            let head = self.chain.head();
            let junk = Transaction {
                chain_id: DEV_CHAIN_ID,
                nonce: counter,
                to: Address::repeat_byte(0x99),
                amount: 1,
            }
            .sign(&key);
            let height = head.height + 1 + counter % 200;
            let block = if counter.is_multiple_of(3) {
                // A real block's header with another body.
                let Some(real) = self.chain.store().block(head.height).unwrap() else {
                    continue;
                };
                Block {
                    transactions: vec![junk],
                    ..real
                }
            } else {
                let transactions = vec![junk];
                Block {
                    header: Header {
                        parent_hash: B256::left_padding_from(&counter.to_be_bytes()),
                        height,
                        timestamp_ms: head.timestamp_ms + counter,
                        proposer: self.validators[counter as usize % self.validators.len()],
                        state_root: head.state_root,
                        transactions_root: transactions_root(
                            CryptoSuite::Ed25519Keccak,
                            &transactions,
                        ),
                        receipts_root: B256::ZERO,
                        extra: Bytes::copy_from_slice(&counter.to_be_bytes()),
                    },
                    transactions,
                    seal: Seal::Genesis,
                }
            };
            self.sender.send(
                Recipients::All,
                ProposalMessage::Block(Box::new(block)).encode(),
                false,
            );
        }
    }
}

/// A peer that gossips full batches of ed25519 transfers, one of which in each is forged
/// (`forge`), or all validly signed (on an `sm2-sm3` chain: all of the wrong suite).
pub struct ForgedGossiper<S> {
    pub sender: S,
    pub rate: u32,
    /// Silent before this time.
    pub from: std::time::SystemTime,
    /// Whether the last transfer of each batch carries a forged signature.
    pub forge: bool,
}

impl<S: Sender<PublicKey = PeerKey>> ForgedGossiper<S> {
    pub async fn run(mut self, context: deterministic::Context) {
        context.sleep_until(self.from).await;
        // A few batches, signed once and sent over and over: the receivers cannot tell.
        let keys: Vec<SecretKey> = (0..64u8)
            .map(|i| SecretKey::from_bytes([i + 1; 32]))
            .collect();
        let batches: Vec<Vec<u8>> = (0..4u64)
            .map(|round| {
                let mut batch: Vec<_> = (0..512u64)
                    .map(|i| {
                        Transaction {
                            chain_id: DEV_CHAIN_ID,
                            nonce: round,
                            to: Address::repeat_byte(0x77),
                            amount: u128::from(i),
                        }
                        .sign(&keys[i as usize % keys.len()])
                    })
                    .collect();
                if self.forge {
                    let last = batch.len() - 1;
                    let tx = &batch[last];
                    let mut signature = *tx.signature();
                    signature.0[3] ^= 1;
                    batch[last] = cairn_primitives::SignedTransaction::new(
                        tx.tx().clone(),
                        *tx.public_key(),
                        signature,
                    );
                }
                encode_transactions(&batch)
            })
            .collect();
        let interval = Duration::from_secs(1) / self.rate;
        for round in 0usize.. {
            context.sleep(interval).await;
            self.sender.send(
                Recipients::All,
                batches[round % batches.len()].clone(),
                false,
            );
        }
    }
}

/// A validator that equivocates: as leader it proposes two different valid blocks for the
/// same view, sending one (with its notarize vote) to a victim and the other to everyone
/// else. Built from Cairn's own application and engine, with the relay swapped.
#[derive(Clone)]
pub struct Equivocator<S> {
    pub inner: Mailbox,
    pub chain: Arc<Chain>,
    pub scheme: Scheme,
    pub parents: Arc<Mutex<HashMap<View, View>>>,
    pub votes: S,
    pub proposals: S,
    pub victim: PeerKey,
    pub others: Vec<PeerKey>,
}

impl<S: Sender<PublicKey = PeerKey>> Equivocator<S> {
    pub fn new(
        inner: Mailbox,
        chain: Arc<Chain>,
        key: &SecretKey,
        (votes, proposals): (S, S),
        victim: PeerKey,
        others: Vec<PeerKey>,
    ) -> Self {
        let scheme = Scheme::signer(
            &namespace(&chain.genesis_hash()),
            participants(chain.validators()).unwrap(),
            peer_signer(key),
        )
        .unwrap();
        Self {
            inner,
            chain,
            scheme,
            parents: Arc::default(),
            votes,
            proposals,
            victim,
            others,
        }
    }
}

impl<S: Sender<PublicKey = PeerKey>> Automaton for Equivocator<S> {
    type Context = Context<Digest, PeerKey>;
    type Digest = Digest;
    async fn propose(&mut self, context: Self::Context) -> oneshot::Receiver<Digest> {
        self.parents
            .lock()
            .insert(context.round.view(), context.parent.0);
        self.inner.propose(context).await
    }
    async fn verify(&mut self, context: Self::Context, payload: Digest) -> oneshot::Receiver<bool> {
        self.inner.verify(context, payload).await
    }
}

impl<S: Sender<PublicKey = PeerKey>> CertifiableAutomaton for Equivocator<S> {
    async fn certify(&mut self, round: Round, payload: Digest) -> oneshot::Receiver<bool> {
        self.inner.certify(round, payload).await
    }
}

impl<S: Sender<PublicKey = PeerKey>> Reporter for Equivocator<S> {
    type Activity = Activity<Scheme, Digest>;
    fn report(&mut self, activity: Self::Activity) -> Feedback {
        self.inner.report(activity)
    }
}

impl<S: Sender<PublicKey = PeerKey>> Relay for Equivocator<S> {
    type Digest = Digest;
    type PublicKey = PeerKey;
    type Plan = Plan<PeerKey>;

    fn broadcast(&mut self, payload: Digest, plan: Plan<PeerKey>) -> Feedback {
        let Plan::Propose { round } = plan else {
            return self.inner.broadcast(payload, plan);
        };
        let Some(honest) = self.chain.pending_block(&block_hash(&payload)) else {
            return self.inner.broadcast(payload, plan);
        };
        let Some(parent_view) = self.parents.lock().get(&round.view()).copied() else {
            return self.inner.broadcast(payload, plan);
        };
        let header = &honest.block.header;
        // The twin: same parent, same transfers, one millisecond later: valid, different.
        let twin = self
            .chain
            .propose_on(
                &header.parent_hash,
                honest.block.transactions.clone(),
                header.timestamp_ms + 1,
                header.proposer,
                header.extra.clone(),
            )
            .unwrap();
        self.proposals.send(
            Recipients::Some(self.others.clone()),
            ProposalMessage::Block(Box::new(honest.block.clone())).encode(),
            true,
        );
        self.proposals.send(
            Recipients::One(self.victim.clone()),
            ProposalMessage::Block(Box::new(twin.block.clone())).encode(),
            true,
        );
        let proposal = Proposal::new(round, parent_view, digest(&twin.hash()));
        let vote = Notarize::<Scheme, Digest>::sign(&self.scheme, proposal).unwrap();
        self.votes.send(
            Recipients::One(self.victim.clone()),
            Vote::<Scheme, Digest>::Notarize(vote).encode(),
            true,
        );
        Feedback::Ok
    }
}

/// A validator's receiver that, on the proposal channel, passes every message on to its own
/// (honest) application but also sends every proposal it hears to all peers again with the
/// body swapped: same header, other transactions.
pub struct BodySwapper<R, S> {
    pub inner: R,
    pub sender: S,
    /// Only the proposal channel is tampered with; the other channels pass through.
    pub tamper: bool,
    /// Not before this time.
    pub from: std::time::SystemTime,
    pub clock: deterministic::Context,
}

impl<R: std::fmt::Debug, S> std::fmt::Debug for BodySwapper<R, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodySwapper")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<R, S> Receiver for BodySwapper<R, S>
where
    R: Receiver<PublicKey = PeerKey>,
    S: Sender<PublicKey = PeerKey> + Sync,
{
    type Error = R::Error;
    type PublicKey = PeerKey;

    async fn recv(&mut self) -> Result<commonware_p2p::Message<PeerKey>, Self::Error> {
        let message = self.inner.recv().await?;
        if self.tamper
            && self.clock.current() >= self.from
            && let Ok(ProposalMessage::Block(block)) = ProposalMessage::decode(message.1.as_ref())
        {
            let mut swapped = *block;
            swapped.transactions = if swapped.transactions.is_empty() {
                vec![
                    Transaction {
                        chain_id: DEV_CHAIN_ID,
                        nonce: 0,
                        to: Address::repeat_byte(0x66),
                        amount: 1,
                    }
                    .sign(&dev_account_key(9)),
                ]
            } else {
                swapped.transactions[1..].to_vec()
            };
            self.sender.send(
                Recipients::All,
                ProposalMessage::Block(Box::new(swapped)).encode(),
                true,
            );
        }
        Ok(message)
    }

    fn capacity(&self) -> std::num::NonZeroUsize {
        self.inner.capacity()
    }
}
