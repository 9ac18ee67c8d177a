//! The trie: an arena of nodes addressed by `u32` index, over a [`NodeStore`] of committed
//! nodes.
//!
//! Nodes not yet needed stay in the store, linked by hash only; touching one on an insert or
//! remove path loads it into the arena, where it stays. Each node caches the
//! reference its parent embeds (its hash, or its whole encoding when shorter than 32 bytes),
//! and whether it is already in the store, so hashing and committing visit only what changed.

use alloy_primitives::{B256, Bytes};
use smallvec::SmallVec;

use crate::error::TrieError;
use crate::hasher::{
    Arena, BatchBuilder, HashOutput, HashScratch, Mode, Reference, encode_branch, encode_extension,
    encode_leaf, hash_subtree,
};
use crate::iter::TrieIter;
use crate::nibbles::{NibbleKey, Path};
use crate::node::{ChildRef, DecodedNode, decode_node};
use crate::store::{NodeBatch, NodeStore};
use crate::{EMPTY_ROOT_NODE, NodeHash};

/// Index of a node in the arena.
pub(crate) type NodeId = u32;
/// Slot number that designates an extension's child (branch slots are `0..16`).
const EXTENSION_SLOT: u8 = 16;

/// A parent's pointer to a child: absent, a node in the arena, or a committed node known only
/// by its hash (kept in `Trie::stored_hashes`) and loaded when an update first needs it.
///
/// Children of a node loaded from the store start as stored links: 32 bytes each in one
/// contiguous run, instead of an arena node apiece, and hashing never has to look at them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Link(u32);

/// What a [`Link`] points at.
pub(crate) enum Target {
    Absent,
    Resident(NodeId),
    /// Index into `Trie::stored_hashes`.
    Stored(u32),
}

impl Link {
    pub(crate) const ABSENT: Self = Self(u32::MAX);
    const STORED_BIT: u32 = 1 << 31;

    #[inline]
    fn resident(id: NodeId) -> Self {
        Self(id)
    }

    #[inline]
    fn stored(index: u32) -> Self {
        Self(index | Self::STORED_BIT)
    }

    #[inline]
    pub(crate) fn is_absent(self) -> bool {
        self == Self::ABSENT
    }

    #[inline]
    pub(crate) fn target(self) -> Target {
        if self.is_absent() {
            Target::Absent
        } else if self.0 & Self::STORED_BIT != 0 {
            Target::Stored(self.0 & !Self::STORED_BIT)
        } else {
            Target::Resident(self.0)
        }
    }
}

/// Largest arena index (and stored-hash index) a [`Link`] can carry.
const MAX_INDEX: usize = (Link::STORED_BIT - 1) as usize;

/// Leaf values inline up to 32 bytes: the common size of storage values and hashes.
pub(crate) type Value = SmallVec<[u8; 32]>;

pub(crate) enum Kind {
    Leaf {
        path: Path,
        value: Value,
    },
    Extension {
        path: Path,
        child: Link,
    },
    Branch {
        children: [Link; 16],
        value: Option<Box<[u8]>>,
    },
    /// A freed arena slot awaiting reuse; no link points at it.
    Vacant,
}

// Two cache lines exactly, so no node straddles a third.
#[repr(align(64))]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    /// How the parent refers to this node; unknown after a change until the next hashing.
    pub(crate) reference: Reference,
    /// True if the store already holds this node (or its parent embeds it and is stored).
    pub(crate) persisted: bool,
}

impl Node {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            reference: Reference::UNKNOWN,
            persisted: false,
        }
    }

    /// A node read from the store: its reference is known and it needs no commit.
    fn loaded(kind: Kind, reference: Reference) -> Self {
        Self {
            kind,
            reference,
            persisted: true,
        }
    }

    #[inline]
    pub(crate) fn hash(&self) -> Option<B256> {
        self.reference.hash()
    }
}

/// Updates after which hashing or committing is split across threads: below this the work
/// (about three changed nodes per update) is too small to repay starting them.
const PARALLEL_MIN_UPDATES: usize = 1_024;

/// Largest scratch buffer (in entries) kept between operations.
const SCRATCH_KEEP_LIMIT: usize = 1 << 16;

/// A hexary Merkle Patricia Trie over a [`NodeStore`], byte-compatible with Ethereum's.
///
/// Inserting an empty value removes the key. Changes live in memory until
/// [`commit`](Self::commit) returns them as a [`NodeBatch`] for the caller to store.
pub struct Trie<S> {
    store: S,
    pub(crate) nodes: Vec<Node>,
    free: Vec<NodeId>,
    /// Hashes of children not yet loaded, indexed by stored [`Link`]s.
    pub(crate) stored_hashes: Vec<B256>,
    pub(crate) root: Link,
    root_hash: Option<B256>,
    /// Insertions and removals since the last hashing / commit, to decide on threads.
    updates_since_hash: usize,
    updates_since_commit: usize,
    /// Reused across operations so that steady-state updates do not allocate.
    scratch_ids: Vec<NodeId>,
    scratch_trail: Vec<(NodeId, u8)>,
    scratch_hash: HashScratch,
    scratch_references: Vec<(NodeId, Reference)>,
    scratch_encoding: Vec<u8>,
    /// How its nodes are hashed.
    hash: NodeHash,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Trie<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trie")
            .field("store", &self.store)
            .field("resident_nodes", &(self.nodes.len() - self.free.len()))
            .field("root_hash", &self.root_hash)
            .finish()
    }
}

impl<S: NodeStore> Trie<S> {
    /// An empty trie whose committed nodes will be read from `store`, hashed with keccak-256.
    pub fn new(store: S) -> Self {
        Self::new_with(store, NodeHash::Keccak256)
    }

    /// An empty trie whose nodes are hashed with `hash`.
    pub fn new_with(store: S, hash: NodeHash) -> Self {
        Self {
            store,
            nodes: Vec::new(),
            free: Vec::new(),
            stored_hashes: Vec::new(),
            root: Link::ABSENT,
            root_hash: Some(hash.empty_root()),
            updates_since_hash: 0,
            updates_since_commit: 0,
            scratch_ids: Vec::new(),
            scratch_trail: Vec::new(),
            scratch_hash: HashScratch::default(),
            scratch_references: Vec::new(),
            scratch_encoding: Vec::new(),
            hash,
        }
    }

    /// Opens the committed trie with root `root`. Fails if the root node is not in the store
    /// (unless `root` is [`EMPTY_ROOT`]) or is malformed.
    pub fn open(store: S, root: B256) -> Result<Self, TrieError> {
        Self::open_with(store, root, NodeHash::Keccak256)
    }

    /// Opens the committed trie with root `root` whose nodes are hashed with `hash`.
    pub fn open_with(store: S, root: B256, hash: NodeHash) -> Result<Self, TrieError> {
        let mut trie = Self::new_with(store, hash);
        if root != hash.empty_root() {
            // The root is checked against its node with the trie's hash: a trie opened with
            // the wrong hash would otherwise read fine and then mix both in its next root.
            let bytes = fetch(&trie.store, root)?;
            trie.root = Link::resident(trie.load_fetched(root, &bytes)?);
            if hash.hash(&bytes) != root {
                return Err(TrieError::RootHashMismatch {
                    root,
                    hash: hash.name(),
                });
            }
            trie.root_hash = Some(root);
        }
        Ok(trie)
    }

    /// How its nodes are hashed.
    pub fn node_hash(&self) -> NodeHash {
        self.hash
    }

    /// The backing store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Consumes the trie, returning its store.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Number of nodes currently held in memory (changed or loaded from the store).
    pub fn resident_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    /// Looks up `key`. Nodes not in memory are read from the store but not kept.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieError> {
        let key = NibbleKey(key);
        let mut link = self.root;
        let mut pos = 0;
        loop {
            let id = match link.target() {
                Target::Absent => return Ok(None),
                Target::Stored(index) => {
                    let hash = self.stored_hashes[index as usize];
                    return walk_stored(&self.store, hash, key, pos, |_| {});
                }
                Target::Resident(id) => id,
            };
            match &self.nodes[id as usize].kind {
                Kind::Leaf { path, value } => {
                    let found = path.view().matches_rest(key, pos) && !value.is_empty();
                    return Ok(found.then(|| value.to_vec()));
                }
                Kind::Extension { path, child } => {
                    if !path.view().is_prefix_of(key, pos) {
                        return Ok(None);
                    }
                    pos += path.len();
                    link = *child;
                }
                Kind::Branch { children, value } => {
                    if pos == key.len() {
                        return Ok(value.as_deref().map(<[u8]>::to_vec));
                    }
                    link = children[usize::from(key.at(pos))];
                    pos += 1;
                }
                Kind::Vacant => return Ok(None),
            }
        }
    }

    /// Sets `key` to `value`; an empty `value` removes the key, as in Ethereum.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<(), TrieError> {
        if value.is_empty() {
            return self.remove(key);
        }
        let mut visited = std::mem::take(&mut self.scratch_ids);
        visited.clear();
        let result = self.insert_at(NibbleKey(key), value, &mut visited);
        if let Ok(true) = result {
            for &id in &visited {
                self.touch(id);
            }
            self.note_update();
        }
        self.scratch_ids = visited;
        result.map(drop)
    }

    /// Applies many writes at once, with the same result as inserting them one by one in the
    /// order given (an empty value removes its key; of several writes to one key the last
    /// wins), but faster for large batches: the writes are sorted by key first, so each one
    /// walks a path its predecessor just brought into cache, and new nodes are laid out in key
    /// order, which the hashing traversal then reads nearly sequentially.
    ///
    /// On an error (a node missing from the store) the writes ordered before the failing key
    /// are applied and the rest are not, as with a loop of [`insert`](Self::insert).
    ///
    /// # Panics
    ///
    /// If the batch holds 2^32 - 1 writes or more (tens of gigabytes of keys).
    pub fn insert_batch<K, V>(
        &mut self,
        writes: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), TrieError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let writes: Vec<(K, V)> = writes.into_iter().collect();
        let index_limit = u32::try_from(writes.len()).unwrap_or(u32::MAX);
        assert!(
            index_limit < u32::MAX,
            "a batch is limited to 2^32 - 1 writes"
        );
        // Sort (key prefix, position) pairs rather than the writes themselves: most
        // comparisons then stay inside one contiguous array instead of chasing each key.
        let mut order: Vec<(u64, u32)> = writes
            .iter()
            .enumerate()
            .map(|(position, (key, _))| (key_prefix(key.as_ref()), position as u32))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| {
                    writes[a.1 as usize]
                        .0
                        .as_ref()
                        .cmp(writes[b.1 as usize].0.as_ref())
                })
                .then(a.1.cmp(&b.1))
        });
        // A new key mostly adds a leaf and a branch: reserving two arena slots per write up
        // front spares the arena repeated regrowth and the copying it costs.
        if self.free.len() < writes.len() {
            self.nodes.reserve(2 * writes.len() - self.free.len());
        }
        // Copy the writes into one buffer in key order, dropping all but the last write to each
        // key. The copy's loads are independent of one another, so the processor overlaps
        // their cache misses; the inserts that follow then read memory sequentially.
        let mut staged = Vec::with_capacity(order.len() * 64);
        let mut spans: Vec<(usize, usize)> = Vec::with_capacity(order.len());
        for (rank, &(prefix, position)) in order.iter().enumerate() {
            let (key, value) = &writes[position as usize];
            let (key, value) = (key.as_ref(), value.as_ref());
            let superseded = order.get(rank + 1).is_some_and(|&(next_prefix, next)| {
                next_prefix == prefix && writes[next as usize].0.as_ref() == key
            });
            if superseded {
                continue;
            }
            staged.extend_from_slice(key);
            let key_end = staged.len();
            staged.extend_from_slice(value);
            spans.push((key_end, staged.len()));
        }
        drop(order);
        drop(writes);
        let mut start = 0;
        for (key_end, value_end) in spans {
            let (key, value) = (&staged[start..key_end], &staged[key_end..value_end]);
            start = value_end;
            self.insert(key, value)?;
        }
        Ok(())
    }

    /// Removes `key` if present.
    pub fn remove(&mut self, key: &[u8]) -> Result<(), TrieError> {
        let mut trail = std::mem::take(&mut self.scratch_trail);
        trail.clear();
        let result = self.remove_at(NibbleKey(key), &mut trail);
        self.scratch_trail = trail;
        result
    }

    /// The root hash; hashes each changed node once and caches the results.
    pub fn root_hash(&mut self) -> Result<B256, TrieError> {
        if let Some(hash) = self.root_hash {
            return Ok(hash);
        }
        self.hash_changed(Mode::Hash);
        let hash = self.computed_root_hash();
        self.root_hash = Some(hash);
        Ok(hash)
    }

    /// Returns the root hash and every node created since the last commit (nodes of 32 bytes
    /// or more, plus the root node whatever its size). Afterwards nothing is pending, so an
    /// immediate second commit returns an empty batch. Nodes are never removed from the store:
    /// earlier roots stay readable.
    pub fn commit(&mut self) -> Result<(B256, NodeBatch), TrieError> {
        let batch = self.hash_changed(Mode::Commit);
        let hash = self.computed_root_hash();
        self.root_hash = Some(hash);
        Ok((hash, batch.finish()))
    }

    /// EIP-1186 style proof for `key`: the RLP encodings of the nodes on its path, root first.
    /// Embedded nodes stay inside their parent. Works for absent keys (an exclusion proof);
    /// the empty trie's proof is `[0x80]`.
    pub fn proof(&mut self, key: &[u8]) -> Result<Vec<Bytes>, TrieError> {
        self.root_hash()?;
        let key = NibbleKey(key);
        let mut proof = Vec::new();
        let mut encoding = std::mem::take(&mut self.scratch_encoding);
        let mut link = self.root;
        let mut pos = 0;
        if link.is_absent() {
            proof.push(Bytes::from_static(EMPTY_ROOT_NODE));
        }
        loop {
            let id = match link.target() {
                Target::Absent => break,
                Target::Stored(index) => {
                    let hash = self.stored_hashes[index as usize];
                    walk_stored(&self.store, hash, key, pos, |bytes| {
                        proof.push(bytes.clone())
                    })?;
                    break;
                }
                Target::Resident(id) => id,
            };
            let node = &self.nodes[id as usize];
            if link == self.root || node.hash().is_some() {
                encoding.clear();
                self.encode(id, &mut encoding);
                proof.push(Bytes::copy_from_slice(&encoding));
            }
            link = match &node.kind {
                Kind::Leaf { .. } | Kind::Vacant => Link::ABSENT,
                Kind::Extension { path, child } => {
                    if path.view().is_prefix_of(key, pos) {
                        pos += path.len();
                        *child
                    } else {
                        Link::ABSENT
                    }
                }
                Kind::Branch { children, .. } => {
                    if pos == key.len() {
                        Link::ABSENT
                    } else {
                        pos += 1;
                        children[usize::from(key.at(pos - 1))]
                    }
                }
            };
        }
        self.scratch_encoding = encoding;
        Ok(proof)
    }

    /// Iterates over all `(key, value)` pairs in ascending key order, reading from the store
    /// as needed.
    pub fn iter(&self) -> TrieIter<'_, S> {
        TrieIter::new(self)
    }

    fn computed_root_hash(&self) -> B256 {
        match self.root.target() {
            Target::Resident(id) => {
                let root = &self.nodes[id as usize];
                root.hash()
                    .unwrap_or_else(|| self.hash.hash(root.reference.bytes()))
            }
            Target::Stored(index) => self.stored_hashes[index as usize],
            Target::Absent => self.hash.empty_root(),
        }
    }

    // ----- arena -----

    fn alloc(&mut self, node: Node) -> NodeId {
        if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = node;
            return id;
        }
        // 2^31 nodes take hundreds of gigabytes: memory runs out long before this.
        assert!(
            self.nodes.len() <= MAX_INDEX,
            "trie arena is limited to 2^31 nodes"
        );
        self.nodes.push(node);
        (self.nodes.len() - 1) as NodeId
    }

    fn free(&mut self, id: NodeId) {
        self.nodes[id as usize] = Node::loaded(Kind::Vacant, Reference::UNKNOWN);
        self.free.push(id);
    }

    /// Marks a node changed: its reference must be recomputed and it must be committed.
    #[inline]
    fn touch(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize];
        node.reference = Reference::UNKNOWN;
        node.persisted = false;
    }

    /// Reads the node `hash` from the store into the arena.
    fn load_stored(&mut self, hash: B256) -> Result<NodeId, TrieError> {
        let bytes = fetch(&self.store, hash)?;
        self.load_fetched(hash, &bytes)
    }

    /// Loads the node `bytes` read under `hash`.
    fn load_fetched(&mut self, hash: B256, bytes: &[u8]) -> Result<NodeId, TrieError> {
        let decoded =
            decode_node(bytes).map_err(|source| TrieError::CorruptNode { hash, source })?;
        let kind = self.load(decoded, hash)?;
        Ok(self.alloc(Node::loaded(kind, Reference::from_hash(hash))))
    }

    /// Converts a decoded node into arena form: hash-referenced children become stored links,
    /// embedded children are loaded right away (their bytes are already here).
    fn load(&mut self, decoded: DecodedNode<'_>, hash: B256) -> Result<Kind, TrieError> {
        Ok(match decoded {
            DecodedNode::Empty => return Err(TrieError::UnexpectedEmptyNode(hash)),
            DecodedNode::Leaf { path, value } => Kind::Leaf {
                path: Path::from_view(path),
                value: Value::from_slice(value),
            },
            DecodedNode::Extension { path, child } => Kind::Extension {
                path: Path::from_view(path),
                child: self.load_child(child, hash)?,
            },
            DecodedNode::Branch { children, value } => {
                let mut links = [Link::ABSENT; 16];
                for (link, child) in links.iter_mut().zip(children) {
                    *link = self.load_child(child, hash)?;
                }
                Kind::Branch {
                    children: links,
                    value: value.map(Box::from),
                }
            }
        })
    }

    fn load_child(&mut self, child: ChildRef<'_>, parent: B256) -> Result<Link, TrieError> {
        Ok(match child {
            ChildRef::Empty => Link::ABSENT,
            ChildRef::Hash(hash) => {
                assert!(
                    self.stored_hashes.len() <= MAX_INDEX,
                    "too many unloaded children"
                );
                self.stored_hashes.push(hash);
                Link::stored((self.stored_hashes.len() - 1) as u32)
            }
            ChildRef::Inline(encoding) => {
                let decoded = decode_node(encoding).map_err(|source| TrieError::CorruptNode {
                    hash: parent,
                    source,
                })?;
                let kind = self.load(decoded, parent)?;
                let reference = Reference::of_encoding(encoding, self.hash);
                Link::resident(self.alloc(Node::loaded(kind, reference)))
            }
        })
    }

    #[inline]
    fn child_in_slot(&self, holder: Option<(NodeId, u8)>) -> Link {
        match holder {
            None => self.root,
            Some((id, slot)) => match &self.nodes[id as usize].kind {
                Kind::Branch { children, .. } if slot < EXTENSION_SLOT => {
                    children[usize::from(slot)]
                }
                Kind::Extension { child, .. } => *child,
                _ => Link::ABSENT,
            },
        }
    }

    #[inline]
    fn set_child_in_slot(&mut self, holder: Option<(NodeId, u8)>, new_child: Link) {
        match holder {
            None => self.root = new_child,
            Some((id, slot)) => match &mut self.nodes[id as usize].kind {
                Kind::Branch { children, .. } if slot < EXTENSION_SLOT => {
                    children[usize::from(slot)] = new_child;
                }
                Kind::Extension { child, .. } => *child = new_child,
                _ => {}
            },
        }
    }

    /// The arena node in a slot, loading it from the store if needed (which changes the link,
    /// not the content, so it is not a change to the trie).
    fn resident_in_slot(
        &mut self,
        holder: Option<(NodeId, u8)>,
    ) -> Result<Option<NodeId>, TrieError> {
        match self.child_in_slot(holder).target() {
            Target::Absent => Ok(None),
            Target::Resident(id) => Ok(Some(id)),
            Target::Stored(index) => {
                let id = self.load_stored(self.stored_hashes[index as usize])?;
                self.set_child_in_slot(holder, Link::resident(id));
                Ok(Some(id))
            }
        }
    }

    // ----- insert -----

    /// Inserts and reports whether anything changed; `visited` collects the nodes on the
    /// path, which the caller marks changed.
    fn insert_at(
        &mut self,
        key: NibbleKey<'_>,
        value: &[u8],
        visited: &mut Vec<NodeId>,
    ) -> Result<bool, TrieError> {
        let mut holder = None;
        let mut pos = 0;
        loop {
            let Some(id) = self.resident_in_slot(holder)? else {
                let path = Path::from_key(key, pos, key.len(), true);
                let leaf = self.alloc(Node::new(Kind::Leaf {
                    path,
                    value: Value::from_slice(value),
                }));
                self.set_child_in_slot(holder, Link::resident(leaf));
                return Ok(true);
            };
            match &mut self.nodes[id as usize].kind {
                // Freed slots are never linked.
                Kind::Vacant => return Ok(false),
                Kind::Leaf {
                    path,
                    value: existing,
                } => {
                    visited.push(id);
                    let common = path.common_prefix(key, pos);
                    if common == path.len() && pos + common == key.len() {
                        if existing.as_slice() == value {
                            return Ok(false);
                        }
                        *existing = Value::from_slice(value);
                        return Ok(true);
                    }
                    let old_path = path.clone();
                    let old_value = std::mem::take(existing);
                    let replacement =
                        self.split_leaf(key, pos, common, &old_path, old_value, value);
                    self.nodes[id as usize].kind = replacement;
                    return Ok(true);
                }
                Kind::Extension { path, child } => {
                    visited.push(id);
                    let common = path.common_prefix(key, pos);
                    if common == path.len() {
                        pos += common;
                        holder = Some((id, EXTENSION_SLOT));
                        continue;
                    }
                    let old_path = path.clone();
                    let old_child = *child;
                    let replacement =
                        self.split_extension(key, pos, common, &old_path, old_child, value);
                    self.nodes[id as usize].kind = replacement;
                    return Ok(true);
                }
                Kind::Branch {
                    value: existing, ..
                } => {
                    visited.push(id);
                    if pos == key.len() {
                        if existing.as_deref() == Some(value) {
                            return Ok(false);
                        }
                        *existing = Some(value.into());
                        return Ok(true);
                    }
                    holder = Some((id, key.at(pos)));
                    pos += 1;
                }
            }
        }
    }

    /// The node replacing a leaf at `key[pos..]` whose path shares `common` nibbles with the
    /// key: a branch holding both, under an extension if `common > 0`.
    fn split_leaf(
        &mut self,
        key: NibbleKey<'_>,
        pos: usize,
        common: usize,
        old_path: &Path,
        old_value: Value,
        value: &[u8],
    ) -> Kind {
        let mut children = [Link::ABSENT; 16];
        let mut branch_value = None;
        if common == old_path.len() {
            branch_value = Some(Box::from(old_value.as_slice()));
        } else {
            let path = old_path.slice(common + 1, old_path.len(), true);
            let leaf = self.alloc(Node::new(Kind::Leaf {
                path,
                value: old_value,
            }));
            children[usize::from(old_path.nibble(common))] = Link::resident(leaf);
        }
        self.add_new_value(key, pos + common, value, &mut children, &mut branch_value);
        self.branch_under_extension(key, pos, common, children, branch_value)
    }

    /// The node replacing an extension whose path diverges from `key[pos..]` after `common`
    /// nibbles.
    fn split_extension(
        &mut self,
        key: NibbleKey<'_>,
        pos: usize,
        common: usize,
        old_path: &Path,
        old_child: Link,
        value: &[u8],
    ) -> Kind {
        let mut children = [Link::ABSENT; 16];
        let mut branch_value = None;
        let slot = usize::from(old_path.nibble(common));
        children[slot] = if common + 1 == old_path.len() {
            old_child
        } else {
            let path = old_path.slice(common + 1, old_path.len(), false);
            Link::resident(self.alloc(Node::new(Kind::Extension {
                path,
                child: old_child,
            })))
        };
        self.add_new_value(key, pos + common, value, &mut children, &mut branch_value);
        self.branch_under_extension(key, pos, common, children, branch_value)
    }

    /// Places the inserted value of `key` in a new branch whose own path ends at `at`.
    fn add_new_value(
        &mut self,
        key: NibbleKey<'_>,
        at: usize,
        value: &[u8],
        children: &mut [Link; 16],
        branch_value: &mut Option<Box<[u8]>>,
    ) {
        if at == key.len() {
            *branch_value = Some(value.into());
        } else {
            let path = Path::from_key(key, at + 1, key.len(), true);
            let leaf = self.alloc(Node::new(Kind::Leaf {
                path,
                value: Value::from_slice(value),
            }));
            children[usize::from(key.at(at))] = Link::resident(leaf);
        }
    }

    fn branch_under_extension(
        &mut self,
        key: NibbleKey<'_>,
        pos: usize,
        common: usize,
        children: [Link; 16],
        value: Option<Box<[u8]>>,
    ) -> Kind {
        let branch = Kind::Branch { children, value };
        if common == 0 {
            return branch;
        }
        let child = Link::resident(self.alloc(Node::new(branch)));
        Kind::Extension {
            path: Path::from_key(key, pos, pos + common, false),
            child,
        }
    }

    // ----- remove -----

    fn remove_at(
        &mut self,
        key: NibbleKey<'_>,
        trail: &mut Vec<(NodeId, u8)>,
    ) -> Result<(), TrieError> {
        // Phase 1: find the key, loading nodes as needed. Loading changes no content, so an
        // error here leaves the trie as it was.
        let mut pos = 0;
        let (id, removes_branch_value) = loop {
            let Some(id) = self.resident_in_slot(trail.last().copied())? else {
                return Ok(());
            };
            match &self.nodes[id as usize].kind {
                Kind::Vacant => return Ok(()),
                Kind::Leaf { path, .. } => {
                    if !path.view().matches_rest(key, pos) {
                        return Ok(());
                    }
                    break (id, false);
                }
                Kind::Extension { path, .. } => {
                    if !path.view().is_prefix_of(key, pos) {
                        return Ok(());
                    }
                    trail.push((id, EXTENSION_SLOT));
                    pos += path.len();
                }
                Kind::Branch { value, .. } => {
                    if pos == key.len() {
                        if value.is_none() {
                            return Ok(());
                        }
                        break (id, true);
                    }
                    trail.push((id, key.at(pos)));
                    pos += 1;
                }
            }
        };

        // Phase 2: a branch left with a single child merges with it, so load that child now,
        // while failing is still harmless.
        let shrinking_branch = if removes_branch_value {
            Some((id, None))
        } else {
            trail.last().map(|&(parent, slot)| (parent, Some(slot)))
        };
        if let Some((branch, removed_slot)) = shrinking_branch
            && let Some(sibling_slot) = self.sole_remaining_child(branch, removed_slot)
        {
            self.resident_in_slot(Some((branch, sibling_slot)))?;
        }

        // Phase 3: remove and restore canonical shape bottom-up.
        let mut replacement = if removes_branch_value {
            if let Kind::Branch { value, .. } = &mut self.nodes[id as usize].kind {
                *value = None;
            }
            self.normalize(id)?
        } else {
            self.free(id);
            Link::ABSENT
        };
        for &(parent, slot) in trail.iter().rev() {
            self.set_child_in_slot(Some((parent, slot)), replacement);
            replacement = self.normalize(parent)?;
        }
        self.root = replacement;
        self.note_update();
        Ok(())
    }

    /// If `branch` will hold exactly one child and no value once `removed_slot` (or its value,
    /// for `None`) is gone, that child's slot.
    fn sole_remaining_child(&self, branch: NodeId, removed_slot: Option<u8>) -> Option<u8> {
        let Kind::Branch { children, value } = &self.nodes[branch as usize].kind else {
            return None;
        };
        if removed_slot.is_some() && value.is_some() {
            return None;
        }
        let mut remaining = (0..16u8)
            .filter(|&slot| !children[usize::from(slot)].is_absent() && Some(slot) != removed_slot);
        match (remaining.next(), remaining.next()) {
            (Some(slot), None) => Some(slot),
            _ => None,
        }
    }

    /// Restores the canonical shape of a node whose subtree lost an entry (a branch with one
    /// entry collapses, an extension absorbs a leaf or extension child), marks it changed and
    /// returns what its parent should now point at.
    fn normalize(&mut self, id: NodeId) -> Result<Link, TrieError> {
        match &mut self.nodes[id as usize].kind {
            Kind::Branch { children, value } => {
                let mut count = 0;
                let mut last = 0;
                for (slot, child) in children.iter().enumerate() {
                    if !child.is_absent() {
                        count += 1;
                        last = slot as u8;
                    }
                }
                match (count, value.is_some()) {
                    (0, false) => {
                        self.free(id);
                        return Ok(Link::ABSENT);
                    }
                    (0, true) => {
                        let value = value.take().unwrap_or_default();
                        self.nodes[id as usize].kind = Kind::Leaf {
                            path: Path::from_nibbles(&[], true),
                            value: Value::from_slice(&value),
                        };
                    }
                    (1, false) => self.collapse_into_child(id, last)?,
                    _ => {}
                }
            }
            Kind::Extension { path, .. } => {
                let prefix = path.clone();
                let Some(child) = self.resident_in_slot(Some((id, EXTENSION_SLOT)))? else {
                    self.free(id);
                    return Ok(Link::ABSENT);
                };
                let merged = match &mut self.nodes[child as usize].kind {
                    Kind::Leaf { path, value } => Some(Kind::Leaf {
                        path: concat(&prefix, path, true),
                        value: std::mem::take(value),
                    }),
                    Kind::Extension {
                        path,
                        child: grandchild,
                    } => Some(Kind::Extension {
                        path: concat(&prefix, path, false),
                        child: *grandchild,
                    }),
                    Kind::Branch { .. } | Kind::Vacant => None,
                };
                if let Some(merged) = merged {
                    self.nodes[id as usize].kind = merged;
                    self.free(child);
                }
            }
            Kind::Leaf { .. } | Kind::Vacant => {}
        }
        self.touch(id);
        Ok(Link::resident(id))
    }

    /// Turns a branch whose only entry is the child at `slot` into that child, one nibble
    /// longer.
    fn collapse_into_child(&mut self, id: NodeId, slot: u8) -> Result<(), TrieError> {
        let Some(child) = self.resident_in_slot(Some((id, slot)))? else {
            return Ok(());
        };
        let (replacement, absorbed) = match &mut self.nodes[child as usize].kind {
            Kind::Leaf { path, value } => (
                Kind::Leaf {
                    path: path.prepend(&[slot], true),
                    value: std::mem::take(value),
                },
                true,
            ),
            Kind::Extension {
                path,
                child: grandchild,
            } => (
                Kind::Extension {
                    path: path.prepend(&[slot], false),
                    child: *grandchild,
                },
                true,
            ),
            Kind::Branch { .. } | Kind::Vacant => (
                Kind::Extension {
                    path: Path::from_nibbles(&[slot], false),
                    child: Link::resident(child),
                },
                false,
            ),
        };
        self.nodes[id as usize].kind = replacement;
        if absorbed {
            self.free(child);
        }
        Ok(())
    }

    // ----- hashing and commit -----

    fn note_update(&mut self) {
        self.root_hash = None;
        self.updates_since_hash += 1;
        self.updates_since_commit += 1;
    }

    /// Computes the reference of every pending node (changed ones; in commit mode also the
    /// uncommitted ones), each exactly once, and returns the encodings collected for a commit.
    fn hash_changed(&mut self, mode: Mode) -> BatchBuilder {
        let updates = match mode {
            Mode::Hash => self.updates_since_hash,
            Mode::Commit => self.updates_since_commit,
        };
        self.updates_since_hash = 0;
        if mode == Mode::Commit {
            self.updates_since_commit = 0;
        }
        let mut output = HashOutput {
            references: std::mem::take(&mut self.scratch_references),
            batch: BatchBuilder::default(),
        };
        output.references.clear();
        let Some(root) = self.arena().pending(self.root, mode) else {
            return output.batch;
        };
        if updates >= PARALLEL_MIN_UPDATES {
            self.hash_top_subtrees_in_parallel(root, mode, &mut output.batch);
        }
        let arena = Arena {
            nodes: &self.nodes,
            stored_hashes: &self.stored_hashes,
            hash: self.hash,
        };
        hash_subtree(arena, root, mode, true, &mut output, &mut self.scratch_hash);
        self.write_back(&output.references, mode);
        // Keep the buffer for the next small update, not the tens of megabytes a bulk load
        // needed.
        if output.references.capacity() <= SCRATCH_KEEP_LIMIT {
            self.scratch_references = output.references;
        }
        output.batch
    }

    pub(crate) fn arena(&self) -> Arena<'_> {
        Arena {
            nodes: &self.nodes,
            stored_hashes: &self.stored_hashes,
            hash: self.hash,
        }
    }

    /// Hashes the pending subtrees under the topmost branch on several threads, writing their
    /// references back, so that only the top remains for the caller.
    fn hash_top_subtrees_in_parallel(
        &mut self,
        root: NodeId,
        mode: Mode,
        batch: &mut BatchBuilder,
    ) {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(16);
        if threads < 2 {
            return;
        }
        let arena = self.arena();
        let mut top = root;
        if let Kind::Extension { child, .. } = &self.nodes[top as usize].kind
            && let Some(child) = arena.pending(*child, mode)
        {
            top = child;
        }
        let Kind::Branch { children, .. } = &self.nodes[top as usize].kind else {
            return;
        };
        let pending: Vec<NodeId> = children
            .iter()
            .filter_map(|&child| arena.pending(child, mode))
            .collect();
        if pending.len() < 2 {
            return;
        }
        let groups: Vec<Vec<NodeId>> = (0..threads.min(pending.len()))
            .map(|group| {
                pending
                    .iter()
                    .copied()
                    .skip(group)
                    .step_by(threads)
                    .collect()
            })
            .collect();
        let hash_group = |group: &[NodeId]| {
            let mut output = HashOutput::default();
            let mut scratch = HashScratch::default();
            for &subtree in group {
                hash_subtree(arena, subtree, mode, false, &mut output, &mut scratch);
            }
            output
        };
        let outputs: Vec<HashOutput> = std::thread::scope(|scope| {
            let (own, others) = groups.split_first().unzip();
            let handles: Vec<_> = others
                .unwrap_or_default()
                .iter()
                .map(|group| scope.spawn(|| hash_group(group)))
                .collect();
            let mut outputs = vec![hash_group(own.map_or(&[][..], Vec::as_slice))];
            for handle in handles {
                match handle.join() {
                    Ok(output) => outputs.push(output),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            outputs
        });
        for output in outputs {
            self.write_back(&output.references, mode);
            batch.append(output.batch);
        }
    }

    fn write_back(&mut self, references: &[(NodeId, Reference)], mode: Mode) {
        for &(id, reference) in references {
            let node = &mut self.nodes[id as usize];
            node.reference = reference;
            if mode == Mode::Commit {
                node.persisted = true;
            }
        }
    }

    /// Appends the RLP encoding of a resident node; children's references must be known.
    pub(crate) fn encode(&self, id: NodeId, out: &mut Vec<u8>) {
        let arena = self.arena();
        match &self.nodes[id as usize].kind {
            Kind::Leaf { path, value } => encode_leaf(path, value, out),
            Kind::Extension { path, child } => {
                encode_extension(path, &arena.known_reference(*child), out);
            }
            Kind::Branch { children, value } => {
                let references = children.map(|child| arena.known_reference(child));
                encode_branch(&references, value.as_deref(), out);
            }
            Kind::Vacant => {}
        }
    }
}

/// `a ++ b` as one path.
fn concat(a: &Path, b: &Path, is_leaf: bool) -> Path {
    let mut nibbles: SmallVec<[u8; 64]> = SmallVec::new();
    a.push_nibbles(0, &mut nibbles);
    b.push_nibbles(0, &mut nibbles);
    Path::from_nibbles(&nibbles, is_leaf)
}

/// Reads a node that must exist.
pub(crate) fn fetch<S: NodeStore>(store: &S, hash: B256) -> Result<Bytes, TrieError> {
    store.get_node(&hash)?.ok_or(TrieError::MissingNode(hash))
}

/// Looks up `key[pos..]` below the stored node `hash` without loading anything into an arena,
/// calling `on_stored_node` with each node read from the store (for proofs).
pub(crate) fn walk_stored<S: NodeStore>(
    store: &S,
    hash: B256,
    key: NibbleKey<'_>,
    mut pos: usize,
    mut on_stored_node: impl FnMut(&Bytes),
) -> Result<Option<Vec<u8>>, TrieError> {
    let mut next = hash;
    loop {
        let bytes = fetch(store, next)?;
        on_stored_node(&bytes);
        let mut encoding: &[u8] = &bytes;
        next = loop {
            let corrupt = |source| TrieError::CorruptNode { hash: next, source };
            let child = match decode_node(encoding).map_err(corrupt)? {
                DecodedNode::Empty => return Err(TrieError::UnexpectedEmptyNode(next)),
                DecodedNode::Leaf { path, value } => {
                    let found = path.matches_rest(key, pos) && !value.is_empty();
                    return Ok(found.then(|| value.to_vec()));
                }
                DecodedNode::Extension { path, child } => {
                    if !path.is_prefix_of(key, pos) {
                        return Ok(None);
                    }
                    pos += path.len();
                    child
                }
                DecodedNode::Branch { children, value } => {
                    if pos == key.len() {
                        return Ok(value.map(<[u8]>::to_vec));
                    }
                    pos += 1;
                    children[usize::from(key.at(pos - 1))]
                }
            };
            match child {
                ChildRef::Empty => return Ok(None),
                ChildRef::Inline(child_encoding) => encoding = child_encoding,
                ChildRef::Hash(child_hash) => break child_hash,
            }
        };
    }
}

/// The first eight bytes of `key` as a big-endian number (zero-padded), ordered as the keys
/// themselves are, up to ties.
fn key_prefix(key: &[u8]) -> u64 {
    let mut prefix = [0u8; 8];
    let len = key.len().min(8);
    prefix[..len].copy_from_slice(&key[..len]);
    u64::from_be_bytes(prefix)
}
