//! The transaction pool: signed transfers waiting to be included in a block.
//!
//! Admission rejects what can never succeed (bad signature, wrong chain id, stale nonce,
//! nonce too far ahead, a second transfer for a nonce already pending, a transfer larger than
//! the sender's balance) and bounds what it keeps (per sender and in total). Admitted
//! transfers wait in per-sender nonce order; [`Mempool::ready`] hands a block builder the
//! executable ones (each sender's contiguous run from its account nonce) in arrival order, so
//! one busy sender cannot starve the rest. When a block commits, [`Mempool::on_committed`]
//! drops what it included and whatever it made stale.
//!
//! The pool holds no account state of its own: it asks an [`AccountView`] (the chain's head).

mod pool;

pub use pool::{
    AccountView, Admission, AdmissionError, ForgedGossip, Mempool, PoolConfig, PoolStatus, QueuedTx,
};

impl AccountView for cairn_ledger::Chain {
    fn account(
        &self,
        address: &cairn_primitives::Address,
    ) -> Result<cairn_primitives::Account, String> {
        cairn_ledger::Chain::account(self, address, None)
            .map(|account| account.unwrap_or(cairn_primitives::Account::empty(self.suite())))
            .map_err(|e| e.to_string())
    }
}

impl cairn_ledger::KnownSignatures for Mempool {
    fn verified(&self, hash: &cairn_primitives::B256) -> bool {
        // Admission checks every signature before a transfer enters the pool.
        self.contains(hash)
    }
}
