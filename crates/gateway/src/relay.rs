//! Forwarding and following (seed 002's steps 302, 303 and 44–45): every unfinished
//! transaction in the store is handed to a node of its chain, failing over along the chain's
//! URLs, and followed by hash until its result is final. A transaction that a node lost (it
//! crashed, or dropped it from its pool) is handed over again, up to the policy's attempts;
//! one that executed with a failed receipt is final.
//!
//! The relay works from the store alone, so after a restart it takes up every transaction
//! where it stood. Results are followed by polling each chain's nodes
//! (`GET /v1/transactions/{hash}`); the nodes' WebSocket subscriptions are not used yet.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn_api_types::TxStatus as NodeStatus;
use cairn_client::{Client, ClientError};
use tracing::{debug, warn};

use crate::store::{GatewayStore, TxRecord, TxStatus};

/// How the relay retries.
#[derive(Debug, Clone)]
pub struct RelayPolicy {
    /// How often unfinished transactions are looked at.
    pub poll: Duration,
    /// Most times a transaction is handed to a node before it is dropped.
    pub max_attempts: u32,
    /// How long a transaction a node does not know may stay so before it is handed over
    /// again (a node may take a moment to admit it).
    pub lost_after: Duration,
}

impl Default for RelayPolicy {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            max_attempts: 5,
            lost_after: Duration::from_secs(3),
        }
    }
}

/// A chain's nodes, in the order they are tried.
pub struct ChainNodes {
    clients: Vec<Client>,
}

impl ChainNodes {
    /// The nodes at `urls`.
    pub fn new(urls: &[String]) -> Result<Self, ClientError> {
        Ok(Self {
            clients: urls
                .iter()
                .map(|url| Client::new(url))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Moves every unfinished transaction on.
pub struct Relay {
    store: Arc<GatewayStore>,
    chains: BTreeMap<u64, ChainNodes>,
    policy: RelayPolicy,
    now_ms: fn() -> u64,
}

/// What one node said of a transaction.
enum Seen {
    Final(TxStatus, Option<u64>, Option<String>),
    Pending,
    Unknown,
}

impl Relay {
    /// A relay over `store` for `chains`.
    pub fn new(
        store: Arc<GatewayStore>,
        chains: BTreeMap<u64, ChainNodes>,
        policy: RelayPolicy,
        now_ms: fn() -> u64,
    ) -> Self {
        Self {
            store,
            chains,
            policy,
            now_ms,
        }
    }

    /// Runs until the process ends: a pass over the unfinished transactions after each
    /// acceptance, and every `poll`.
    pub async fn run(self, accepted: Arc<tokio::sync::Notify>) {
        loop {
            if let Err(error) = self.pass().await {
                warn!(%error, "relay pass failed");
            }
            tokio::select! {
                _ = accepted.notified() => {}
                _ = tokio::time::sleep(self.policy.poll) => {}
            }
        }
    }

    /// One pass over the unfinished transactions.
    pub async fn pass(&self) -> Result<(), crate::store::StoreError> {
        let store = self.store.clone();
        let unfinished = tokio::task::spawn_blocking(move || store.unfinished())
            .await
            .map_err(|e| crate::store::StoreError::Database(e.to_string()))??;
        for record in unfinished {
            let Some(nodes) = self.chains.get(&record.chain_id) else {
                continue;
            };
            let next = self.step(nodes, record.clone()).await;
            if next != record {
                let store = self.store.clone();
                tokio::task::spawn_blocking(move || store.update(&next))
                    .await
                    .map_err(|e| crate::store::StoreError::Database(e.to_string()))??;
            }
        }
        Ok(())
    }

    /// Where `record` goes next.
    async fn step(&self, nodes: &ChainNodes, mut record: TxRecord) -> TxRecord {
        let now = (self.now_ms)();
        match record.status {
            TxStatus::Accepted => self.hand_over(nodes, &mut record, now).await,
            TxStatus::Submitted | TxStatus::Pending => match self.look_up(nodes, &record).await {
                Some(Seen::Final(status, block, error)) => {
                    record.status = status;
                    record.block = block;
                    record.error = error;
                    record.updated_ms = now;
                }
                Some(Seen::Pending) if record.status != TxStatus::Pending => {
                    record.status = TxStatus::Pending;
                    record.updated_ms = now;
                }
                Some(Seen::Pending) => {}
                Some(Seen::Unknown) => {
                    let lost_after = self.policy.lost_after.as_millis() as u64;
                    if now >= record.updated_ms.saturating_add(lost_after) {
                        // No node of the chain has it: lost with a node, or dropped from
                        // a pool. Hand it over again.
                        debug!(hash = %record.hash, "no node knows it; handing it over again");
                        self.hand_over(nodes, &mut record, now).await;
                    }
                }
                // No node answered: ask again next pass.
                None => {}
            },
            TxStatus::Committed | TxStatus::Failed | TxStatus::Dropped => {}
        }
        record
    }

    /// Hands `record` to the first node of its chain that takes it.
    async fn hand_over(&self, nodes: &ChainNodes, record: &mut TxRecord, now: u64) {
        if record.attempts >= self.policy.max_attempts {
            record.status = TxStatus::Dropped;
            record.error = Some(format!(
                "not committed after {} hand-overs; last: {}",
                record.attempts,
                record.error.as_deref().unwrap_or("no error")
            ));
            record.updated_ms = now;
            return;
        }
        let mut last_error = None;
        for client in &nodes.clients {
            match client.submit_encoded(record.tx.to_vec()).await {
                Ok(answer) => {
                    record.attempts += 1;
                    record.updated_ms = now;
                    match answer.results.first().and_then(|item| item.error.clone()) {
                        None => {
                            record.status = TxStatus::Submitted;
                            record.error = None;
                        }
                        Some(error) => {
                            // Refused: perhaps because the chain already has it.
                            match Self::seen_by(client, record).await {
                                Some(Seen::Final(status, block, receipt_error)) => {
                                    record.status = status;
                                    record.block = block;
                                    record.error = receipt_error;
                                }
                                Some(Seen::Pending) => record.status = TxStatus::Pending,
                                _ => {
                                    record.status = TxStatus::Dropped;
                                    record.error = Some(format!(
                                        "refused by {}: {} ({})",
                                        client.base_url(),
                                        error.message,
                                        error.code
                                    ));
                                }
                            }
                        }
                    }
                    return;
                }
                Err(error) => {
                    debug!(url = client.base_url(), %error, "node unavailable; trying the next");
                    last_error = Some(format!("{}: {error}", client.base_url()));
                }
            }
        }
        // No node of the chain answered: it stays accepted and is tried again.
        record.error = last_error;
    }

    /// What the chain's nodes say of `record`: the first final or pending answer, else
    /// unknown if some node answered, else `None`.
    async fn look_up(&self, nodes: &ChainNodes, record: &TxRecord) -> Option<Seen> {
        let mut answered = false;
        for client in &nodes.clients {
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
        Some(match answer.status {
            NodeStatus::Committed => Seen::Final(TxStatus::Committed, answer.block, None),
            NodeStatus::Failed => Seen::Final(
                TxStatus::Failed,
                answer.block,
                answer.receipt.and_then(|receipt| receipt.reason),
            ),
            NodeStatus::Pending => Seen::Pending,
            NodeStatus::Unknown => Seen::Unknown,
        })
    }
}
