//! Durable chain storage on redb: blocks, headers, receipts, the transaction index, trie nodes
//! and the chain head, one file per node.
//!
//! The unit of durability is a block: [`Store::commit_block`] writes the block, its receipts,
//! its transaction index entries, the trie nodes it created and the new head pointer in one
//! redb write transaction, synced to disk before it returns. A crash (even `kill -9`) at any
//! moment leaves either all of a block or none of it. Trie nodes are never deleted, so the
//! state of every committed block stays readable.
//!
//! This crate stores and fetches; it does not validate or execute (see `cairn-ledger`).

mod store;
mod tables;

pub use store::{ChainHead, NodeSource, Store, StoreStats, TxLocation};

/// Errors from the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database engine failed (I/O, lock, corruption detected by redb).
    #[error("database: {0}")]
    Database(#[from] redb::Error),
    /// Another process (usually a running node) has the database open.
    #[error("the database at {0} is in use by another process (is a node running on it?)")]
    InUse(String),
    /// Stored bytes did not decode: the file was damaged or written by something else.
    #[error("corrupt record in {table}: {detail}")]
    Corrupt {
        /// Table holding the bad record.
        table: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// A write would break the chain's shape (a bug in the caller, refused before writing).
    #[error("refused write: {0}")]
    Refused(String),
}

macro_rules! from_redb {
    ($($source:ty),*) => {$(
        impl From<$source> for StorageError {
            fn from(error: $source) -> Self {
                Self::Database(error.into())
            }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// Result alias for storage operations.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;
