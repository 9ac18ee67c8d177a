//! Cairn's Merkle Patricia Trie: the authenticated key-value structure behind state roots.
//!
//! This crate owns the trie itself, byte-compatible with Ethereum's (go-ethereum's `trie`
//! package, Yellow Paper appendix D): nibble paths, hex-prefix encoding, leaf / extension /
//! branch nodes in RLP, nodes under 32 bytes embedded in their parent, keccak256 node hashes,
//! Merkle proofs and their verification, and the plain and secure (hashed-key) variants. The
//! same trie can be hashed with SM3 instead ([`NodeHash`]), for chains on the national
//! algorithms.
//!
//! It does not own a storage engine: committed nodes are read through the [`NodeStore`]
//! trait and each [`Trie::commit`] hands back a [`NodeBatch`] for the caller to persist
//! (stores are append-only, so every committed root stays readable). It knows nothing of
//! accounts or their encoding either; values are opaque bytes.
//!
//! ```
//! use cairn_trie::{MemoryNodeStore, Trie, verify_proof};
//! use std::sync::Arc;
//!
//! let store = Arc::new(MemoryNodeStore::new());
//! let mut trie = Trie::new(store.clone());
//! trie.insert(b"doe", b"reindeer")?;
//! trie.insert(b"dog", b"puppy")?;
//! trie.insert(b"dogglesworth", b"cat")?;
//! let (root, batch) = trie.commit()?;
//! store.apply(&batch);
//!
//! let reopened = Trie::open(store.clone(), root)?;
//! assert_eq!(reopened.get(b"dog")?, Some(b"puppy".to_vec()));
//! let proof = trie.proof(b"dog")?;
//! assert_eq!(verify_proof(root, b"dog", &proof)?, Some(b"puppy".to_vec()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod hasher;
mod iter;
pub mod nibbles;
mod node;
mod proof;
mod secure;
mod store;
mod trie;

pub use alloy_primitives::{B256, Bytes, keccak256};

pub use error::TrieError;
pub use iter::TrieIter;
pub use nibbles::{HexPrefixError, NibblePath};
pub use node::{ChildRef, DecodeError, DecodedNode, decode_node};
pub use proof::{ProofError, verify_proof, verify_proof_with};
pub use secure::{SecureTrie, verify_secure_proof, verify_secure_proof_with};
pub use store::{
    CachedNodeStore, MemoryNodeStore, NodeBatch, NodeBatchIter, NodeStore, NodeStoreError,
};
pub use trie::Trie;

/// The hash of a trie's nodes, and of a secure trie's keys: keccak-256 (Ethereum's, the
/// default) or SM3 (GB/T 32905, for chains on the national algorithms). The nodes and their
/// encodings are the same either way; only the hashes that link them differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NodeHash {
    /// keccak-256, as Ethereum.
    #[default]
    Keccak256,
    /// SM3.
    Sm3,
}

impl NodeHash {
    /// The hash of `data`.
    #[inline]
    pub fn hash(self, data: &[u8]) -> B256 {
        match self {
            Self::Keccak256 => keccak256(data),
            Self::Sm3 => {
                use sm3::Digest;
                B256::new(sm3::Sm3::digest(data).into())
            }
        }
    }

    /// The root of the empty trie: the hash of the RLP empty string.
    pub fn empty_root(self) -> B256 {
        match self {
            Self::Keccak256 => EMPTY_ROOT,
            Self::Sm3 => self.hash(EMPTY_ROOT_NODE),
        }
    }

    /// `keccak256` or `sm3`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Keccak256 => "keccak256",
            Self::Sm3 => "sm3",
        }
    }
}

impl std::str::FromStr for NodeHash {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "keccak256" | "keccak" => Ok(Self::Keccak256),
            "sm3" => Ok(Self::Sm3),
            other => Err(format!("a trie hash is keccak256 or sm3, not {other:?}")),
        }
    }
}

/// Root hash of the empty trie: keccak256 of the RLP empty string, `keccak256([0x80])`.
pub const EMPTY_ROOT: B256 =
    alloy_primitives::b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// Encoding of the empty trie's root node (the RLP empty string).
const EMPTY_ROOT_NODE: &[u8] = &[alloy_rlp::EMPTY_STRING_CODE];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_hash_of_empty_string() {
        assert_eq!(alloy_primitives::keccak256([0x80u8]), EMPTY_ROOT);
    }

    #[test]
    fn trie_is_send_when_store_is() {
        fn assert_send<T: Send>() {}
        assert_send::<Trie<MemoryNodeStore>>();
        assert_send::<Trie<std::sync::Arc<CachedNodeStore<MemoryNodeStore>>>>();
        assert_send::<SecureTrie<MemoryNodeStore>>();
    }
}
