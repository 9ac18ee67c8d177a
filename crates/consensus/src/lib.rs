//! How validators agree on the next block: the [`Consensus`] boundary and its engines.
//!
//! An engine decides *when* a block is proposed and *which* block is committed; the ledger
//! (`cairn-ledger`) decides whether a block is valid and makes it durable, and the pool
//! (`cairn-mempool`) supplies transfers. Engines are chosen by configuration:
//!
//! * [`solo`]: a single validator seals blocks alone, when the pool holds at least `k`
//!   executable transfers or when the block interval elapses (seed 004's builder). This is what
//!   `cairn devnet` runs.
//! * [`bft`]: validators agree by Commonware's simplex BFT (3f+1 tolerate f Byzantine), with
//!   succession by rank (seed 003) and blocks sealed by quorum certificates. This is what
//!   `cairn devnet --validators N` and `cairn testnet init` run.
//!
//! Which one a chain runs is part of its genesis (`consensus.engine`), and so is what seals
//! its blocks: a solo chain's validator signature, or a BFT chain's certificate, never the
//! other.
//!
//! This crate never implements a consensus protocol of its own; multi-validator agreement is
//! delegated to an existing BFT engine.

pub mod bft;
pub mod solo;

use std::sync::Arc;

use cairn_ledger::{Chain, ChainError};
use cairn_mempool::Mempool;
use serde::Serialize;
use tokio::sync::watch;

/// What an engine reports about itself for `cairn status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConsensusStatus {
    /// The engine's name (`solo`, `bft`).
    pub engine: &'static str,
    /// This node's validator rank, or `None` for a non-validator.
    pub validator_index: Option<usize>,
    /// Rank of the validator currently proposing.
    pub leader_index: Option<usize>,
    /// Connected peers.
    pub peers: usize,
}

/// Errors that stop an engine.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The chain refused an operation (storage failure, invalid own block).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The engine's configuration cannot work.
    #[error("consensus misconfigured: {0}")]
    Config(String),
    /// A blocking task panicked or was cancelled.
    #[error("consensus task failed: {0}")]
    Task(String),
}

/// Everything an engine drives.
#[derive(Clone)]
pub struct NodeServices {
    /// The chain.
    pub chain: Arc<Chain>,
    /// The transaction pool.
    pub pool: Arc<Mempool>,
}

/// A consensus engine. `run` returns when `shutdown` turns true (or on a fatal error).
pub trait Consensus: Send + Sync + 'static {
    /// The engine's current status.
    fn status(&self) -> ConsensusStatus;

    /// Runs the engine until shutdown.
    fn run(
        self: Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ConsensusError>> + Send>>;
}

/// After a block commits, updates the pool: included and now-stale transfers leave it.
pub fn settle_pool(services: &NodeServices, included: &[cairn_primitives::SignedTransaction]) {
    services
        .pool
        .on_committed(included, services.chain.as_ref());
}
