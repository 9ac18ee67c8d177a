//! The ledger: Cairn's state transition and the chain it produces.
//!
//! * [`acs`]: contract packages in state, ACS transactions, and the job executor that runs
//!   packages' schedules at the start of every block.
//! * [`execute`]: apply transfers to the account state (a secure Merkle Patricia Trie keyed by
//!   the suite's hash of the address), producing receipts. Overspending yields a failed receipt, never a
//!   negative balance.
//! * [`genesis`]: build block 0 and its state from a [`GenesisConfig`](cairn_primitives::GenesisConfig).
//! * [`Chain`]: the validated, durable chain: proposes blocks on top of the head, imports and
//!   fully validates blocks (hashes, roots, signatures, nonces), commits them atomically through
//!   `cairn-storage`, answers account queries and proofs at any committed height, and announces
//!   every committed block.
//! * [`verify`]: re-validate a stored chain from genesis, re-deriving every root.
//!
//! Not here: deciding *when* or *which* block is committed (that is `cairn-consensus`), and
//! which transactions wait to be included (`cairn-mempool`).

pub mod acs;
mod chain;
pub mod execute;
pub mod genesis;
mod pending;
mod roots;
mod state;
pub mod verify;

pub use cairn_primitives::clock::now_ms;
pub use cairn_storage::StorageError;
pub use chain::{
    AccountProof, BlockError, Chain, ChainError, CommittedBlock, ExecutedBlock, FieldView,
    KnownSignatures, MAX_BLOCK_TRANSACTION_BYTES, MAX_BLOCK_TRANSACTIONS, MAX_FUTURE_DRIFT_MS,
    MAX_PENDING_BLOCKS, MAX_SM2_BLOCK_TRANSACTIONS, PackageView, RecordView, SealStrength,
    SealVerifier, ValidatorSet, max_block_transactions,
};
pub use roots::{receipts_root, transactions_root};
pub use state::{StateDb, StateError};

use cairn_primitives::CryptoSuite;
use cairn_trie::NodeHash;

/// The node hash of a `suite` chain's tries: keccak-256, or SM3 on `sm2-sm3`.
pub fn node_hash(suite: CryptoSuite) -> NodeHash {
    match suite {
        CryptoSuite::Ed25519Keccak => NodeHash::Keccak256,
        CryptoSuite::Sm2Sm3 => NodeHash::Sm3,
    }
}
