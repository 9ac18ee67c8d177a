//! Forwarding and following (seed 002's steps 302, 303 and 44–45): every unfinished
//! transaction in the store is handed to a node of its chain, failing over along the chain's
//! URLs, and followed until its result is final. A transaction that a node lost (it crashed,
//! or dropped it from its pool) is handed over again, up to the policy's attempts; one that
//! executed with a failed receipt is final.
//!
//! Results are followed through the nodes' WebSocket head subscriptions: each committed block
//! with transactions is read with its receipts (`GET /v1/blocks/{height}/raw`, one request
//! per block), which settles every transaction of it the gateway waits for; where the receipts
//! cannot be had, those transactions are looked up at once. Every transaction is also looked up on its own now and then
//! ([`RelayPolicy::follow_poll`]), which is the fallback when no subscription can be had, and
//! what finds results committed while the gateway was down. The relay works from the store
//! alone, so after a restart it takes up every transaction where it stood. Hand-overs go in
//! batches through `POST /v1/transactions/raw`; the changes of a pass are written in one
//! write, which also owes the notifications of every result it makes final (and is then
//! synced before they can be sent; see [`GatewayStore::update_all`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use alloy_rlp::Decodable;
use cairn_api_types::{ReceiptView, TxStatus as NodeStatus};
use cairn_client::{Client, ClientError};
use cairn_primitives::{B256, Outcome, Receipt};
use futures::StreamExt;
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::{debug, error, warn};

use crate::store::{GatewayStore, StoreError, TxRecord, TxStatus};

/// How the relay retries.
#[derive(Debug, Clone)]
pub struct RelayPolicy {
    /// How often unfinished transactions are looked at.
    pub poll: Duration,
    /// How often a transaction handed over is looked up on its own, whatever the heads say.
    pub follow_poll: Duration,
    /// Most times a transaction is handed to a node before it is dropped.
    pub max_attempts: u32,
    /// How long a transaction a node does not know may stay so before it is handed over
    /// again (a node may take a moment to admit it).
    pub lost_after: Duration,
    /// Most transactions handed over in one request.
    pub batch: usize,
}

impl Default for RelayPolicy {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            follow_poll: Duration::from_secs(5),
            max_attempts: 5,
            lost_after: Duration::from_secs(3),
            batch: 1_000,
        }
    }
}

/// Lookups under way at once.
const LOOKUPS: usize = 16;
/// Most bytes handed over in one request (a node takes bodies of up to 8 MiB).
const MAX_BATCH_BYTES: usize = 4 << 20;
/// Refusals that say the node cannot take the transaction now, not that the chain will never
/// take it: the transaction is handed over again later (until its attempts run out).
const TRANSIENT_REFUSALS: [&str; 7] = [
    "pool_full",
    "sender_pool_full",
    "state_unavailable",
    "pool_busy",
    "nonce_too_high",
    "nonce_in_use",
    "insufficient_funds",
];

/// How long a transaction waits before its next hand-over after `attempts` that did not
/// take: 1 s, doubling, at most 30 s.
fn hand_over_backoff_ms(attempts: u32) -> u64 {
    1_000u64
        .saturating_mul(1 << attempts.saturating_sub(1).min(5))
        .min(30_000)
}
/// Most transactions looked up on their own in one pass (those checked longest ago first),
/// so a backlog of transactions waiting for their blocks does not turn into a flood of
/// lookups.
const LOOKUPS_PER_PASS: usize = 256;

/// Whether a node was found to serve its chain.
const UNCHECKED: u8 = 0;
const SERVES_ITS_CHAIN: u8 = 1;
const SERVES_ANOTHER_CHAIN: u8 = 2;

/// A node of a chain.
struct Node {
    client: Client,
    /// The chain it is configured for.
    chain_id: u64,
    /// [`UNCHECKED`], [`SERVES_ITS_CHAIN`] or [`SERVES_ANOTHER_CHAIN`] (then it is never used).
    checked: AtomicU8,
}

impl Node {
    /// Whether the node may be used: it was found to serve its chain, or it says so now. One
    /// that serves another chain is marked and never used; one that does not answer is not
    /// used this time.
    async fn usable(&self) -> bool {
        match self.checked.load(Ordering::Relaxed) {
            SERVES_ITS_CHAIN => true,
            SERVES_ANOTHER_CHAIN => false,
            _ => match self.client.status().await {
                Ok(status) => self.check(status.chain_id),
                Err(_) => false,
            },
        }
    }

    /// Records the chain the node says it serves; whether it is its own.
    fn check(&self, served: u64) -> bool {
        if served == self.chain_id {
            self.checked.store(SERVES_ITS_CHAIN, Ordering::Relaxed);
            return true;
        }
        if self.checked.swap(SERVES_ANOTHER_CHAIN, Ordering::Relaxed) != SERVES_ANOTHER_CHAIN {
            error!(
                url = self.client.base_url(),
                serves = served,
                configured = self.chain_id,
                "this node serves another chain; it is not used"
            );
        }
        false
    }
}

/// A chain's nodes, in the order they are tried.
pub struct ChainNodes {
    nodes: Vec<Arc<Node>>,
}

impl ChainNodes {
    /// The nodes at `urls`, of the chain `chain_id`. Each is checked to serve that chain
    /// before it is first used.
    pub fn new(chain_id: u64, urls: &[String]) -> Result<Self, ClientError> {
        Ok(Self {
            nodes: urls
                .iter()
                .map(|url| {
                    Ok(Arc::new(Node {
                        client: Client::new(url)?,
                        chain_id,
                        checked: AtomicU8::new(UNCHECKED),
                    }))
                })
                .collect::<Result<_, ClientError>>()?,
        })
    }

    /// The nodes that may be used now, in order.
    async fn usable(&self) -> Vec<&Client> {
        let mut usable = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            if node.usable().await {
                usable.push(&node.client);
            }
        }
        usable
    }
}

/// Moves every unfinished transaction on.
pub struct Relay {
    store: Arc<GatewayStore>,
    chains: BTreeMap<u64, ChainNodes>,
    policy: RelayPolicy,
    now_ms: fn() -> u64,
    /// Notified when results become final (the deliverer waits on it).
    owed: Arc<tokio::sync::Notify>,
    /// When each transaction was last looked up.
    checked: Mutex<HashMap<B256, u64>>,
    /// The unfinished transactions: read from the store at the start, then added to as the
    /// API accepts them, and changed only once their change is stored.
    unfinished: HashMap<B256, TxRecord>,
}

/// What one node said of a transaction.
#[derive(Debug, Clone)]
enum Seen {
    Final {
        status: TxStatus,
        block: Option<u64>,
        block_hash: Option<B256>,
        index: Option<u32>,
        receipt: Option<ReceiptView>,
    },
    Pending,
    Unknown,
}

impl Seen {
    /// Writes a final result into `record`.
    fn settle(self, record: &mut TxRecord) -> bool {
        let Seen::Final {
            status,
            block,
            block_hash,
            index,
            receipt,
        } = self
        else {
            return false;
        };
        record.status = status;
        record.block = block;
        record.block_hash = block_hash;
        record.index = index;
        record.error = match status {
            TxStatus::Failed => receipt.as_ref().and_then(|receipt| receipt.reason.clone()),
            _ => None,
        };
        record.receipt = receipt;
        true
    }
}

impl Relay {
    /// A relay over `store` for `chains`; `owed` is notified when results become final.
    pub fn new(
        store: Arc<GatewayStore>,
        chains: BTreeMap<u64, ChainNodes>,
        policy: RelayPolicy,
        now_ms: fn() -> u64,
        owed: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            store,
            chains,
            policy,
            now_ms,
            owed,
            checked: Mutex::default(),
            unfinished: HashMap::new(),
        }
    }

    /// Runs until the process ends: takes up the unfinished transactions in the store,
    /// follows every node's heads, and makes a pass over the unfinished transactions after
    /// each acceptance (`accepted` brings them), each block that holds transactions, and
    /// every `poll`.
    pub async fn run(mut self, mut accepted: mpsc::UnboundedReceiver<TxRecord>) {
        loop {
            let store = self.store.clone();
            match tokio::task::spawn_blocking(move || store.unfinished()).await {
                Ok(Ok(records)) => {
                    self.unfinished = records
                        .into_iter()
                        .map(|record| (record.hash, record))
                        .collect();
                    break;
                }
                Ok(Err(error)) => warn!(%error, "cannot read the unfinished transactions"),
                Err(error) => warn!(%error, "cannot read the unfinished transactions"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let (heads, mut committed) = mpsc::channel::<Vec<(B256, Option<Seen>)>>(1_024);
        for nodes in self.chains.values() {
            for node in &nodes.nodes {
                tokio::spawn(follow_heads(node.clone(), heads.clone()));
            }
        }
        drop(heads);
        let mut in_blocks = HashMap::new();
        loop {
            if let Err(error) = self.pass(&in_blocks).await {
                warn!(%error, "relay pass failed");
            }
            in_blocks.clear();
            tokio::select! {
                Some(record) = accepted.recv() => {
                    self.unfinished.insert(record.hash, record);
                    while let Ok(more) = accepted.try_recv() {
                        self.unfinished.insert(more.hash, more);
                    }
                }
                Some(hashes) = committed.recv() => {
                    in_blocks.extend(hashes);
                    while let Ok(more) = committed.try_recv() {
                        in_blocks.extend(more);
                    }
                }
                _ = tokio::time::sleep(self.policy.poll) => {}
            }
        }
    }

    /// One pass over the unfinished transactions; `in_blocks` holds transactions of blocks
    /// committed since the last pass, with their results where the receipts were read.
    async fn pass(&mut self, in_blocks: &HashMap<B256, Option<Seen>>) -> Result<(), StoreError> {
        let now = (self.now_ms)();
        let follow_ms = self.policy.follow_poll.as_millis() as u64;
        let mut to_hand_over: BTreeMap<u64, Vec<TxRecord>> = BTreeMap::new();
        let mut to_look_up = Vec::new();
        let mut changed = Vec::new();
        {
            let mut checked = self.checked.lock();
            checked.retain(|hash, _| self.unfinished.contains_key(hash));
            for record in self.unfinished.values() {
                if !self.chains.contains_key(&record.chain_id) {
                    continue;
                }
                match record.status {
                    // Not handed over yet, or not taken the last time and now due again.
                    TxStatus::Accepted
                        if record.attempts == 0
                            || now
                                >= record
                                    .updated_ms
                                    .saturating_add(hand_over_backoff_ms(record.attempts)) =>
                    {
                        to_hand_over
                            .entry(record.chain_id)
                            .or_default()
                            .push(record.clone())
                    }
                    TxStatus::Accepted => {}
                    _ => {
                        if let Some(Some(seen @ Seen::Final { .. })) = in_blocks.get(&record.hash) {
                            let mut record = record.clone();
                            seen.clone().settle(&mut record);
                            record.updated_ms = now;
                            changed.push(record);
                            continue;
                        }
                        let last = checked.get(&record.hash).copied();
                        let due = in_blocks.contains_key(&record.hash)
                            || last.is_none_or(|last| now >= last.saturating_add(follow_ms));
                        if due {
                            to_look_up.push((last, record.clone()));
                        }
                    }
                }
            }
        }
        // Never looked up first, then those looked up longest ago.
        to_look_up.sort_by_key(|(last, record)| (*last, record.accepted_ms));
        to_look_up.truncate(LOOKUPS_PER_PASS);
        let to_look_up: Vec<TxRecord> = {
            let mut checked = self.checked.lock();
            to_look_up
                .into_iter()
                .map(|(_, record)| {
                    checked.insert(record.hash, now);
                    record
                })
                .collect()
        };
        // Oldest first, so a sender's transactions are handed over in the order they came.
        for records in to_hand_over.values_mut() {
            records.sort_by_key(|record| (record.accepted_ms, record.hash));
        }
        let relay: &Relay = self;
        let looked_up: Vec<(TxRecord, Option<Seen>)> = futures::stream::iter(to_look_up)
            .map(|record| async move {
                let seen = relay
                    .look_up(&relay.chains[&record.chain_id], &record)
                    .await;
                (record, seen)
            })
            .buffer_unordered(LOOKUPS)
            .collect()
            .await;
        let lost_after = self.policy.lost_after.as_millis() as u64;
        for (mut record, seen) in looked_up {
            match seen {
                Some(seen @ Seen::Final { .. }) => {
                    seen.settle(&mut record);
                    record.updated_ms = now;
                    changed.push(record);
                }
                Some(Seen::Pending) if record.status != TxStatus::Pending => {
                    record.status = TxStatus::Pending;
                    record.updated_ms = now;
                    changed.push(record);
                }
                Some(Seen::Unknown) if now >= record.updated_ms.saturating_add(lost_after) => {
                    // No node of the chain has it: lost with a node, or dropped from a pool.
                    debug!(hash = %record.hash, "no node knows it; handing it over again");
                    to_hand_over
                        .entry(record.chain_id)
                        .or_default()
                        .push(record);
                }
                // Pending still, unknown for a moment, or no node answered: later.
                _ => {}
            }
        }
        for (chain_id, records) in to_hand_over {
            let nodes = &self.chains[&chain_id];
            let mut chunk = Vec::new();
            let mut bytes = 0;
            for record in records {
                if !chunk.is_empty()
                    && (chunk.len() >= self.policy.batch.max(1)
                        || bytes + record.tx.len() > MAX_BATCH_BYTES)
                {
                    changed.extend(self.hand_over(nodes, std::mem::take(&mut chunk), now).await);
                    bytes = 0;
                }
                bytes += record.tx.len();
                chunk.push(record);
            }
            if !chunk.is_empty() {
                changed.extend(self.hand_over(nodes, chunk, now).await);
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        // Results in the order the chain made them, so each receiver is told them in that
        // order (its notifications are queued in the order of this write).
        changed.sort_by_key(|record| {
            (
                record.block.unwrap_or(u64::MAX),
                record.index.unwrap_or(u32::MAX),
                record.accepted_ms,
                record.hash,
            )
        });
        let settled = changed.iter().any(|record| record.status.is_final());
        let store = self.store.clone();
        let changed =
            tokio::task::spawn_blocking(move || store.update_all(&changed).map(|()| changed))
                .await
                .map_err(|e| StoreError::Database(e.to_string()))??;
        // Stored: now they are so.
        for record in changed {
            if record.status.is_final() {
                self.unfinished.remove(&record.hash);
            } else {
                self.unfinished.insert(record.hash, record);
            }
        }
        if settled {
            self.owed.notify_one();
        }
        Ok(())
    }

    /// Hands `records` to the first node of their chain that takes them; the records that
    /// changed.
    async fn hand_over(
        &self,
        nodes: &ChainNodes,
        records: Vec<TxRecord>,
        now: u64,
    ) -> Vec<TxRecord> {
        let (spent, mut records): (Vec<TxRecord>, Vec<TxRecord>) = records
            .into_iter()
            .partition(|record| record.attempts >= self.policy.max_attempts);
        let mut changed: Vec<TxRecord> = spent
            .into_iter()
            .map(|mut record| {
                record.status = TxStatus::Dropped;
                record.error = Some(format!(
                    "not committed after {} hand-overs; last: {}",
                    record.attempts,
                    record.error.as_deref().unwrap_or("no error")
                ));
                record.updated_ms = now;
                record
            })
            .collect();
        if records.is_empty() {
            return changed;
        }
        let mut body = Vec::new();
        for record in &records {
            body.extend_from_slice(&record.tx);
        }
        let body = bytes::Bytes::from(body);
        let mut last_error = None;
        for client in nodes.usable().await {
            let answer = match client.submit_encoded(body.clone()).await {
                Ok(answer) => answer,
                Err(ClientError::Api {
                    status, message, ..
                }) if (400..500).contains(&status) && status != 408 && status != 429 => {
                    // The node refused the request as a whole: counts as an attempt for
                    // each, so a batch it will never take cannot come back for ever.
                    for mut record in records {
                        record.attempts += 1;
                        record.updated_ms = now;
                        record.error = Some(format!(
                            "{} refused the hand-over ({status}): {message}",
                            client.base_url()
                        ));
                        changed.push(record);
                    }
                    return changed;
                }
                Err(error) => {
                    debug!(url = client.base_url(), %error, "node unavailable; trying the next");
                    last_error = Some(format!("{}: {error}", client.base_url()));
                    continue;
                }
            };
            let mut refused = Vec::new();
            for (index, mut record) in records.drain(..).enumerate() {
                record.attempts += 1;
                record.updated_ms = now;
                self.checked.lock().insert(record.hash, now);
                match answer.results.get(index).map(|item| &item.error) {
                    Some(None) => {
                        record.status = TxStatus::Submitted;
                        record.error = None;
                        changed.push(record);
                    }
                    // Refused: perhaps because the chain already has it.
                    Some(Some(error)) => refused.push((record, error.clone())),
                    // No result for it: tried again later.
                    None => {
                        record.error = Some(format!("{} gave no result", client.base_url()));
                        changed.push(record);
                    }
                }
            }
            let looked_up: Vec<_> = futures::stream::iter(refused)
                .map(|(record, error)| async move {
                    let seen = Self::seen_by(client, &record).await;
                    (record, error, seen)
                })
                .buffer_unordered(LOOKUPS)
                .collect()
                .await;
            for (mut record, error, seen) in looked_up {
                let refusal = format!(
                    "refused by {}: {} ({})",
                    client.base_url(),
                    error.message,
                    error.code
                );
                match seen {
                    Some(seen @ Seen::Final { .. }) => {
                        seen.settle(&mut record);
                    }
                    Some(Seen::Pending) => record.status = TxStatus::Pending,
                    // The chain does not have it, and will never take it.
                    Some(Seen::Unknown) if !TRANSIENT_REFUSALS.contains(&error.code.as_str()) => {
                        record.status = TxStatus::Dropped;
                        record.error = Some(refusal);
                    }
                    // Not now, or the lookup failed: handed over again later.
                    _ => record.error = Some(refusal),
                }
                changed.push(record);
            }
            return changed;
        }
        // No node of the chain answered: they stay accepted and are tried again.
        for mut record in records {
            if record.error != last_error {
                record.error = last_error.clone();
                changed.push(record);
            }
        }
        changed
    }

    /// What the chain's nodes say of `record`: the first final or pending answer, else
    /// unknown if some node answered, else `None`.
    async fn look_up(&self, nodes: &ChainNodes, record: &TxRecord) -> Option<Seen> {
        let mut answered = false;
        for client in nodes.usable().await {
            match Self::seen_by(client, record).await {
                Some(Seen::Unknown) => answered = true,
                Some(seen) => return Some(seen),
                None => {}
            }
        }
        answered.then_some(Seen::Unknown)
    }

    async fn seen_by(client: &Client, record: &TxRecord) -> Option<Seen> {
        let answer = client.transaction(&record.hash).await.ok()?;
        let settled = |status| Seen::Final {
            status,
            block: answer.block,
            block_hash: answer.block_hash,
            index: answer.index,
            receipt: answer.receipt.clone(),
        };
        Some(match answer.status {
            NodeStatus::Committed => settled(TxStatus::Committed),
            NodeStatus::Failed => settled(TxStatus::Failed),
            NodeStatus::Pending => Seen::Pending,
            NodeStatus::Unknown => Seen::Unknown,
        })
    }
}

/// The transactions of the committed block at `height`, each with its result when the
/// block's receipts can be read; else only their hashes (or nothing).
async fn settled_in(client: &Client, height: u64) -> Vec<(B256, Option<Seen>)> {
    if let Ok(raw) = client.raw_block(height).await
        && let Ok(receipts) = Vec::<Receipt>::decode(&mut raw.receipts.as_ref())
    {
        return receipts
            .iter()
            .enumerate()
            .map(|(index, receipt)| {
                let status = match receipt.outcome {
                    Outcome::Success => TxStatus::Committed,
                    Outcome::Failed(_) => TxStatus::Failed,
                };
                let seen = Seen::Final {
                    status,
                    block: Some(raw.height),
                    block_hash: Some(raw.hash),
                    index: u32::try_from(index).ok(),
                    receipt: Some(ReceiptView::of(receipt)),
                };
                (receipt.tx_hash, Some(seen))
            })
            .collect();
    }
    match client.block(&height.to_string(), false).await {
        Ok(block) => block
            .transactions
            .into_iter()
            .map(|hash| (hash, None))
            .collect(),
        // Whatever was in it is found by the lookups on their own.
        Err(_) => Vec::new(),
    }
}

/// Follows `node`'s committed heads for as long as the process runs, sending the
/// transactions of each block that has any. Checks first that the node serves its chain;
/// one that does not is marked and left alone.
async fn follow_heads(node: Arc<Node>, committed: mpsc::Sender<Vec<(B256, Option<Seen>)>>) {
    let client = &node.client;
    loop {
        let status = match client.status().await {
            Ok(status) => status,
            Err(_) => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if !node.check(status.chain_id) {
            return;
        }
        let mut heads = client.heads(status.height + 1);
        loop {
            let head = match heads.next().await {
                Ok(head) => head,
                Err(error) => {
                    warn!(url = client.base_url(), %error, "cannot follow heads");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            };
            if head.transaction_count == 0 {
                continue;
            }
            let settled = settled_in(client, head.header.height).await;
            if committed.send(settled).await.is_err() {
                return;
            }
        }
    }
}
