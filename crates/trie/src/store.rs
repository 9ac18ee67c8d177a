//! Node stores: where committed trie nodes live, keyed by the keccak256 of their encoding.
//!
//! Stores are append-only as far as the trie is concerned: it only ever reads from them, and
//! hands new nodes back in a [`NodeBatch`] for the caller to write. Because a key is the hash
//! of its value, a stored node never changes, which is what makes caching it always safe.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;
use std::sync::Arc;

use alloy_primitives::{B256, Bytes};
use parking_lot::RwLock;

/// Error from a node store backend (I/O, database, ...), boxed so any backend fits.
#[derive(Debug)]
pub struct NodeStoreError(Box<dyn StdError + Send + Sync + 'static>);

impl NodeStoreError {
    /// Wraps any error (or message) from a backend.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self(error.into())
    }

    /// The backend's error.
    pub fn inner(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Display for NodeStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl StdError for NodeStoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

/// Backend of committed trie nodes, keyed by keccak256 of their RLP encoding.
pub trait NodeStore: Send + Sync {
    /// Returns the RLP encoding of the node with this hash, or `None` if it is not stored.
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError>;
}

impl<T: NodeStore + ?Sized> NodeStore for &T {
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
        (**self).get_node(hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Arc<T> {
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
        (**self).get_node(hash)
    }
}

impl<T: NodeStore + ?Sized> NodeStore for Box<T> {
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
        (**self).get_node(hash)
    }
}

/// The nodes produced by one commit, as `(hash, RLP encoding)` pairs.
///
/// Encodings are packed into a few large buffers (one per hashing thread), so a
/// million-node commit is a handful of allocations, and each yielded [`Bytes`] is a cheap
/// reference-counted slice of one.
#[derive(Clone, Default)]
pub struct NodeBatch {
    segments: Vec<Segment>,
    len: usize,
}

#[derive(Clone)]
struct Segment {
    buffer: Bytes,
    entries: Vec<(B256, Range<usize>)>,
}

impl NodeBatch {
    /// Builds a batch from `(buffer, entries)` pairs whose ranges index into their buffer.
    pub(crate) fn from_segments(
        segments: impl IntoIterator<Item = (Vec<u8>, Vec<(B256, Range<usize>)>)>,
    ) -> Self {
        let segments: Vec<Segment> = segments
            .into_iter()
            .filter(|(_, entries)| !entries.is_empty())
            .map(|(buffer, entries)| Segment {
                buffer: Bytes::from(buffer),
                entries,
            })
            .collect();
        let len = segments.iter().map(|segment| segment.entries.len()).sum();
        Self { segments, len }
    }

    /// Adds another commit's nodes to this batch.
    pub fn append(&mut self, other: NodeBatch) {
        self.len += other.len;
        self.segments.extend(other.segments);
    }

    /// Number of nodes in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the commit produced no new nodes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Iterates over `(hash, encoding)` pairs.
    pub fn iter(&self) -> NodeBatchIter<'_> {
        NodeBatchIter {
            batch: self,
            segment: 0,
            next: 0,
            left: self.len,
        }
    }

    /// Total size of the encodings in bytes.
    pub fn encoded_len(&self) -> usize {
        self.segments
            .iter()
            .flat_map(|segment| &segment.entries)
            .map(|(_, range)| range.len())
            .sum()
    }
}

impl fmt::Debug for NodeBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeBatch")
            .field("nodes", &self.len())
            .finish()
    }
}

/// Iterator over a [`NodeBatch`].
#[derive(Debug)]
pub struct NodeBatchIter<'a> {
    batch: &'a NodeBatch,
    segment: usize,
    next: usize,
    left: usize,
}

impl Iterator for NodeBatchIter<'_> {
    type Item = (B256, Bytes);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let segment = self.batch.segments.get(self.segment)?;
            if let Some((hash, range)) = segment.entries.get(self.next) {
                self.next += 1;
                self.left -= 1;
                return Some((*hash, segment.buffer.slice(range.clone())));
            }
            self.segment += 1;
            self.next = 0;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for NodeBatchIter<'_> {}

impl<'a> IntoIterator for &'a NodeBatch {
    type Item = (B256, Bytes);
    type IntoIter = NodeBatchIter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Hashes a `B256` key by its first eight bytes: keys are keccak outputs, already uniform.
#[derive(Default)]
pub(crate) struct HashKeyHasher(u64);

impl Hasher for HashKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let take = bytes.len().min(8);
        word[..take].copy_from_slice(&bytes[..take]);
        self.0 ^= u64::from_le_bytes(word);
    }

    fn write_usize(&mut self, _length_prefix: usize) {}
}

type HashKeyMap<V> = HashMap<B256, V, BuildHasherDefault<HashKeyHasher>>;

/// In-memory node store backed by a hash map; for tests, tools and ephemeral tries.
#[derive(Default)]
pub struct MemoryNodeStore {
    nodes: RwLock<HashKeyMap<Bytes>>,
}

impl MemoryNodeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every node of a commit. Existing entries are kept: same hash, same bytes.
    pub fn apply(&self, batch: &NodeBatch) {
        let mut nodes = self.nodes.write();
        nodes.reserve(batch.len());
        for (hash, node) in batch {
            nodes.entry(hash).or_insert(node);
        }
    }

    /// Stores one node under `hash` as given, without checking that `hash` is its keccak256
    /// (lets tests plant corrupt or mismatched nodes).
    pub fn insert(&self, hash: B256, node: Bytes) {
        self.nodes.write().insert(hash, node);
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.read().len()
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.read().is_empty()
    }
}

impl fmt::Debug for MemoryNodeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryNodeStore")
            .field("nodes", &self.len())
            .finish()
    }
}

impl NodeStore for MemoryNodeStore {
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
        Ok(self.nodes.read().get(hash).cloned())
    }
}

/// How a [`CachedNodeStore`] measures its capacity.
#[derive(Clone, Copy, Debug)]
enum CacheWeight {
    Entries,
    Bytes,
}

/// Approximate bookkeeping cost of one cache entry beyond its encoding, in bytes.
const ENTRY_OVERHEAD_BYTES: u64 = 96;

impl quick_cache::Weighter<B256, Bytes> for CacheWeight {
    fn weight(&self, _hash: &B256, node: &Bytes) -> u64 {
        match self {
            Self::Entries => 1,
            Self::Bytes => node.len() as u64 + ENTRY_OVERHEAD_BYTES,
        }
    }
}

/// Wraps a [`NodeStore`] with a bounded, thread-safe read cache of nodes.
///
/// Only hits are cached: a missing node may be written to the backend later.
pub struct CachedNodeStore<S> {
    inner: S,
    cache: quick_cache::sync::Cache<B256, Bytes, CacheWeight>,
}

impl<S: NodeStore> CachedNodeStore<S> {
    /// Caches up to `max_nodes` nodes.
    pub fn with_entry_capacity(inner: S, max_nodes: usize) -> Self {
        let cache = quick_cache::sync::Cache::with_weighter(
            max_nodes.max(1),
            max_nodes.max(1) as u64,
            CacheWeight::Entries,
        );
        Self { inner, cache }
    }

    /// Caches nodes up to about `max_bytes` of memory (encodings plus per-entry overhead).
    pub fn with_byte_capacity(inner: S, max_bytes: usize) -> Self {
        let max_bytes = (max_bytes as u64).max(ENTRY_OVERHEAD_BYTES);
        // Trie nodes average a few hundred bytes; the estimate only sizes the index up front.
        let estimated_nodes = usize::try_from(max_bytes / 256)
            .unwrap_or(usize::MAX)
            .max(1);
        let cache =
            quick_cache::sync::Cache::with_weighter(estimated_nodes, max_bytes, CacheWeight::Bytes);
        Self { inner, cache }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Number of cached nodes.
    pub fn cached_len(&self) -> usize {
        self.cache.len()
    }

    /// Drops every cached node.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }
}

impl<S> fmt::Debug for CachedNodeStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedNodeStore")
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl<S: NodeStore> NodeStore for CachedNodeStore<S> {
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
        if let Some(node) = self.cache.get(hash) {
            return Ok(Some(node));
        }
        let node = self.inner.get_node(hash)?;
        if let Some(node) = &node {
            self.cache.insert(*hash, node.clone());
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct CountingStore {
        inner: MemoryNodeStore,
        reads: AtomicUsize,
    }

    impl NodeStore for CountingStore {
        fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            self.inner.get_node(hash)
        }
    }

    fn counting_store(nodes: usize) -> CountingStore {
        let inner = MemoryNodeStore::new();
        for i in 0..nodes {
            inner.insert(
                B256::with_last_byte(i as u8),
                Bytes::from(vec![i as u8; 40]),
            );
        }
        CountingStore {
            inner,
            reads: AtomicUsize::new(0),
        }
    }

    #[test]
    fn cache_serves_repeat_reads_and_skips_misses() {
        let cached = CachedNodeStore::with_entry_capacity(counting_store(4), 16);
        let hash = B256::with_last_byte(2);
        for _ in 0..5 {
            assert_eq!(
                cached.get_node(&hash).expect("read"),
                Some(Bytes::from(vec![2u8; 40]))
            );
        }
        assert_eq!(cached.inner().reads.load(Ordering::Relaxed), 1);
        let missing = B256::repeat_byte(0xee);
        assert_eq!(cached.get_node(&missing).expect("read"), None);
        assert_eq!(cached.get_node(&missing).expect("read"), None);
        assert_eq!(cached.inner().reads.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn cache_is_bounded() {
        let cached = CachedNodeStore::with_entry_capacity(counting_store(200), 20);
        for i in 0..200 {
            cached
                .get_node(&B256::with_last_byte(i as u8))
                .expect("read");
        }
        assert!(cached.cached_len() <= 20, "{} cached", cached.cached_len());
        let by_bytes = CachedNodeStore::with_byte_capacity(counting_store(200), 1_000);
        for i in 0..200 {
            by_bytes
                .get_node(&B256::with_last_byte(i as u8))
                .expect("read");
        }
        assert!(by_bytes.cached_len() <= 1_000 / (40 + ENTRY_OVERHEAD_BYTES as usize));
    }

    #[test]
    fn store_error_keeps_its_source() {
        let error = NodeStoreError::new(std::io::Error::other("disk on fire"));
        assert_eq!(error.to_string(), "disk on fire");
        assert!(error.source().is_some());
    }
}
