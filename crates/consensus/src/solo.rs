//! Single-validator block production (seed 004's builder): seal a block when the pool holds at
//! least `k` executable transfers, or when `block_interval` has passed since the last block.

use std::sync::Arc;
use std::time::Duration;

use cairn_ledger::CommittedBlock;
use cairn_primitives::{Seal, SecretKey};
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tracing::{info, warn};

use crate::{Consensus, ConsensusError, ConsensusStatus, NodeServices, settle_pool};

/// When the solo engine seals blocks.
#[derive(Debug, Clone)]
pub struct SoloConfig {
    /// Seal as soon as this many transfers are executable (seed 004's `k`).
    pub min_block_transactions: usize,
    /// Seal at least this often (seed 004's cool-down).
    pub block_interval: Duration,
    /// Most transfers per block.
    pub max_block_transactions: usize,
    /// Seal a block at each interval even with nothing to include (a heartbeat that shows the
    /// chain is live).
    pub empty_blocks: bool,
}

impl Default for SoloConfig {
    fn default() -> Self {
        Self {
            min_block_transactions: 1_000,
            block_interval: Duration::from_secs(1),
            max_block_transactions: 10_000,
            empty_blocks: true,
        }
    }
}

/// The solo engine: this node is the only validator that seals.
pub struct Solo {
    services: NodeServices,
    key: SecretKey,
    rank: usize,
    config: SoloConfig,
}

impl Solo {
    /// A solo engine sealing with `key`, which must belong to a genesis validator.
    pub fn new(
        services: NodeServices,
        key: SecretKey,
        config: SoloConfig,
    ) -> Result<Self, ConsensusError> {
        let rank = services
            .chain
            .validators()
            .index_of_key(&key.public_key())
            .ok_or_else(|| {
                ConsensusError::Config(format!(
                    "the validator key {} is not a validator in this chain's genesis",
                    key.public_key()
                ))
            })?;
        if config.max_block_transactions == 0 {
            return Err(ConsensusError::Config(
                "max_block_transactions must be positive".into(),
            ));
        }
        let max = cairn_ledger::max_block_transactions(services.chain.suite());
        let config = SoloConfig {
            max_block_transactions: config.max_block_transactions.min(max),
            min_block_transactions: config.min_block_transactions.max(1),
            ..config
        };
        Ok(Self {
            services,
            key,
            rank,
            config,
        })
    }

    /// Builds, seals and commits one block from the pool's executable transfers. Returns
    /// `None` when there was nothing to include, no schedule had work, and empty blocks are
    /// off.
    pub fn seal_block(&self) -> Result<Option<Arc<CommittedBlock>>, ConsensusError> {
        let candidates = self.services.pool.ready(self.config.max_block_transactions);
        let chain = &self.services.chain;
        let now = cairn_ledger::now_ms();
        // Without empty blocks, a block still seals when a contract schedule has work: the
        // schedule runs at the start of blocks, and nobody has to send anything for it.
        if candidates.is_empty() && !self.config.empty_blocks && !chain.jobs_due(now)? {
            return Ok(None);
        }
        let executed = chain.propose(candidates, now, self.key.address())?;
        if !executed.excluded.is_empty() {
            let hashes: Vec<_> = executed.excluded.iter().map(|(tx, _)| tx.hash()).collect();
            warn!(
                count = hashes.len(),
                "dropping transfers that could not be included"
            );
            self.services.pool.remove(&hashes);
        }
        let seal = Seal::sign(&executed.hash(), &self.key);
        let committed = chain.commit(&executed.hash(), seal)?;
        settle_pool(&self.services, &committed.block.transactions);
        Ok(Some(committed))
    }

    async fn run_loop(
        self: Arc<Self>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), ConsensusError> {
        info!(
            rank = self.rank,
            k = self.config.min_block_transactions,
            interval_ms = self.config.block_interval.as_millis() as u64,
            "solo block production started"
        );
        let mut deadline = Instant::now() + self.config.block_interval;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let pool = self.services.pool.clone();
            let notified = pool.ready_changed();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let enough = pool.status().ready >= self.config.min_block_transactions;
            if !enough {
                tokio::select! {
                    _ = sleep_until(deadline) => {}
                    _ = notified => continue,
                    _ = shutdown.changed() => continue,
                }
            }
            let engine = self.clone();
            // Execution and the synced commit block: keep them off the async workers.
            let sealed = tokio::task::spawn_blocking(move || engine.seal_block())
                .await
                .map_err(|e| ConsensusError::Task(e.to_string()))??;
            if let Some(block) = sealed {
                tracing::debug!(
                    height = block.block.header.height,
                    txs = block.block.transactions.len(),
                    "sealed block"
                );
            }
            deadline = Instant::now() + self.config.block_interval;
        }
    }
}

impl Consensus for Solo {
    fn status(&self) -> ConsensusStatus {
        ConsensusStatus {
            engine: "solo",
            validator_index: Some(self.rank),
            leader_index: Some(self.rank),
            peers: 0,
        }
    }

    fn run(
        self: Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), ConsensusError>> + Send>> {
        Box::pin(self.run_loop(shutdown))
    }
}
