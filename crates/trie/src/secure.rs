//! Ethereum's "secure" trie: every key is replaced by its hash (keccak256, or SM3 for a trie
//! hashed with SM3) before use, which bounds path length and keeps adversarial keys from
//! building deep paths. Used for account state.

use alloy_primitives::{B256, Bytes};

use crate::NodeHash;
use crate::error::TrieError;
use crate::iter::TrieIter;
use crate::proof::{ProofError, verify_proof_with};
use crate::store::{NodeBatch, NodeStore};
use crate::trie::Trie;

/// A [`Trie`] keyed by the hash of each key (`keccak256(key)` unless made with another
/// [`NodeHash`]).
#[derive(Debug)]
pub struct SecureTrie<S> {
    inner: Trie<S>,
}

impl<S: NodeStore> SecureTrie<S> {
    /// An empty secure trie over `store`.
    pub fn new(store: S) -> Self {
        Self {
            inner: Trie::new(store),
        }
    }

    /// The key's path: its hash.
    fn key(&self, key: &[u8]) -> B256 {
        self.inner.node_hash().hash(key)
    }

    /// An empty secure trie whose nodes and keys are hashed with `hash`.
    pub fn new_with(store: S, hash: NodeHash) -> Self {
        Self {
            inner: Trie::new_with(store, hash),
        }
    }

    /// Opens the committed secure trie with root `root`.
    pub fn open(store: S, root: B256) -> Result<Self, TrieError> {
        Ok(Self {
            inner: Trie::open(store, root)?,
        })
    }

    /// Opens the committed secure trie with root `root`, hashed with `hash`.
    pub fn open_with(store: S, root: B256, hash: NodeHash) -> Result<Self, TrieError> {
        Ok(Self {
            inner: Trie::open_with(store, root, hash)?,
        })
    }

    /// Looks up `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        self.inner.get(self.key(key).as_slice())
    }

    /// Sets `key` to `value`; an empty value removes the key.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), TrieError> {
        self.inner.insert(self.key(key).as_slice(), value)
    }

    /// Applies many writes at once; see [`Trie::insert_batch`].
    pub fn insert_batch<K, V>(
        &mut self,
        writes: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), TrieError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let hash = self.inner.node_hash();
        self.inner.insert_batch(
            writes
                .into_iter()
                .map(|(key, value)| (hash.hash(key.as_ref()), value)),
        )
    }

    /// Removes `key` if present.
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        self.inner.remove(self.key(key).as_slice())
    }

    /// The root hash; see [`Trie::root_hash`].
    pub fn root_hash(&mut self) -> Result<B256, TrieError> {
        self.inner.root_hash()
    }

    /// Root hash and new nodes; see [`Trie::commit`].
    pub fn commit(&mut self) -> Result<(B256, NodeBatch), TrieError> {
        self.inner.commit()
    }

    /// Proof for `key` (walking the path of its hash); check it with
    /// [`verify_secure_proof`].
    pub fn proof(&mut self, key: &[u8]) -> Result<Vec<Bytes>, TrieError> {
        self.inner.proof(self.key(key).as_slice())
    }

    /// Iterates over `(hash(key), value)` pairs in ascending hashed-key order.
    pub fn iter(&self) -> TrieIter<'_, S> {
        self.inner.iter()
    }

    /// The backing store.
    pub fn store(&self) -> &S {
        self.inner.store()
    }

    /// The underlying trie keyed by hashed keys.
    pub fn as_trie(&self) -> &Trie<S> {
        &self.inner
    }

    /// Consumes the wrapper, returning the underlying trie.
    pub fn into_trie(self) -> Trie<S> {
        self.inner
    }
}

/// Verifies a [`SecureTrie`] proof for the unhashed `key`; see [`verify_proof`].
pub fn verify_secure_proof(
    root: B256,
    key: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<Option<Vec<u8>>, ProofError> {
    verify_secure_proof_with(NodeHash::Keccak256, root, key, proof)
}

/// [`verify_secure_proof`] for a trie whose nodes and keys are hashed with `hash`.
pub fn verify_secure_proof_with(
    hash: NodeHash,
    root: B256,
    key: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<Option<Vec<u8>>, ProofError> {
    verify_proof_with(hash, root, hash.hash(key).as_slice(), proof)
}
