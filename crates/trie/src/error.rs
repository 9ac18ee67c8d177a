//! Errors of trie operations.

use alloy_primitives::B256;

use crate::node::DecodeError;
use crate::store::NodeStoreError;

/// Why a trie operation failed. Every failure caused by a store's contents is reported here;
/// none panics.
#[derive(Debug, thiserror::Error)]
pub enum TrieError {
    /// A node referenced by hash is not in the store.
    #[error("trie node {0} is missing from the store")]
    MissingNode(B256),
    /// The store itself failed.
    #[error("node store error: {0}")]
    Store(#[from] NodeStoreError),
    /// The store returned bytes under `hash` that are not a valid trie node.
    #[error("stored trie node {hash} is malformed: {source}")]
    CorruptNode {
        /// Hash the node was read under.
        hash: B256,
        /// What is wrong with it.
        source: DecodeError,
    },
    /// The root's node does not hash to the root with the trie's hash: the trie was opened
    /// with the wrong [`NodeHash`](crate::NodeHash), or the store is corrupt.
    #[error("trie root {root} is not the {hash} of its node (a trie hashed otherwise?)")]
    RootHashMismatch {
        /// The root asked for.
        root: B256,
        /// The hash the trie was opened with.
        hash: &'static str,
    },
    /// The store returned the empty-trie node where a real node was referenced.
    #[error("stored trie node {0} is the empty node, but it is referenced as a child or root")]
    UnexpectedEmptyNode(B256),
    /// A value sits at a path with an odd number of nibbles, so it has no byte key; only a
    /// corrupt store can contain one.
    #[error("value found at a path of {0} nibbles, which is not a whole number of bytes")]
    OddLengthKey(usize),
}
