//! The trie: an arena of nodes addressed by `u32` index, over a [`NodeStore`] of committed
//! nodes.
//!
//! Nodes not yet needed stay in the store as `Stub`s (just their hash); touching one on an
//! insert or remove path loads it into the arena, where it stays. Each node caches the
//! reference its parent embeds (its hash, or its whole encoding when shorter than 32 bytes),
//! and whether it is already in the store, so hashing and committing visit only what changed.

use alloy_primitives::{B256, Bytes, keccak256};
use smallvec::SmallVec;

use crate::error::TrieError;
use crate::hasher::{
    BatchBuilder, HashOutput, HashScratch, Mode, Reference, encode_branch, encode_extension,
    encode_leaf, hash_subtree,
};
use crate::iter::TrieIter;
use crate::nibbles::{NibbleKey, Path};
use crate::node::{ChildRef, DecodedNode, decode_node};
use crate::store::{NodeBatch, NodeStore};
use crate::{EMPTY_ROOT, EMPTY_ROOT_NODE};

/// Index of a node in the arena.
pub(crate) type NodeId = u32;
/// The absent child / empty trie.
pub(crate) const NIL: NodeId = NodeId::MAX;
/// Slot number that designates an extension's child (branch slots are `0..16`).
const EXTENSION_SLOT: u8 = 16;

/// Leaf values inline up to 32 bytes: the common size of storage values and hashes.
pub(crate) type Value = SmallVec<[u8; 32]>;

pub(crate) enum Kind {
    Leaf {
        path: Path,
        value: Value,
    },
    Extension {
        path: Path,
        child: NodeId,
    },
    Branch {
        children: [NodeId; 16],
        value: Option<Box<[u8]>>,
    },
    /// Known only by its hash; its encoding is in the store. Also marks freed arena slots.
    Stub,
}

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

    fn stub(hash: B256) -> Self {
        Self {
            kind: Kind::Stub,
            reference: Reference::from_hash(hash),
            persisted: true,
        }
    }

    fn embedded(kind: Kind, encoding: &[u8]) -> Self {
        Self {
            kind,
            reference: Reference::of_encoding(encoding),
            persisted: true,
        }
    }

    #[inline]
    pub(crate) fn hash(&self) -> Option<B256> {
        self.reference.hash()
    }
}

/// Updates after which hashing or committing is split across threads: below this the work is
/// too small to repay starting them.
const PARALLEL_MIN_UPDATES: usize = 8_192;

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
    pub(crate) root: NodeId,
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
    /// An empty trie whose committed nodes will be read from `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            root_hash: Some(EMPTY_ROOT),
            updates_since_hash: 0,
            updates_since_commit: 0,
            scratch_ids: Vec::new(),
            scratch_trail: Vec::new(),
            scratch_hash: HashScratch::default(),
            scratch_references: Vec::new(),
            scratch_encoding: Vec::new(),
        }
    }

    /// Opens the committed trie with root `root`. Fails if the root node is not in the store
    /// (unless `root` is [`EMPTY_ROOT`]) or is malformed.
    pub fn open(store: S, root: B256) -> Result<Self, TrieError> {
        let mut trie = Self::new(store);
        if root != EMPTY_ROOT {
            let id = trie.alloc(Node::stub(root));
            trie.root = id;
            trie.resolve(id)?;
            trie.root_hash = Some(root);
        }
        Ok(trie)
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
        let mut id = self.root;
        let mut pos = 0;
        while id != NIL {
            let node = &self.nodes[id as usize];
            match &node.kind {
                Kind::Leaf { path, value } => {
                    let found = path.view().matches_rest(key, pos) && !value.is_empty();
                    return Ok(found.then(|| value.to_vec()));
                }
                Kind::Extension { path, child } => {
                    if !path.view().is_prefix_of(key, pos) {
                        return Ok(None);
                    }
                    pos += path.len();
                    id = *child;
                }
                Kind::Branch { children, value } => {
                    if pos == key.len() {
                        return Ok(value.as_deref().map(<[u8]>::to_vec));
                    }
                    id = children[usize::from(key.at(pos))];
                    pos += 1;
                }
                Kind::Stub => {
                    let hash = node.hash().unwrap_or_default();
                    return walk_stored(&self.store, hash, key, pos, |_| {});
                }
            }
        }
        Ok(None)
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
        Ok((hash, NodeBatch::from_parts(batch.buffer, batch.entries)))
    }

    /// EIP-1186 style proof for `key`: the RLP encodings of the nodes on its path, root first.
    /// Embedded nodes stay inside their parent. Works for absent keys (an exclusion proof);
    /// the empty trie's proof is `[0x80]`.
    pub fn proof(&mut self, key: &[u8]) -> Result<Vec<Bytes>, TrieError> {
        self.root_hash()?;
        if self.root == NIL {
            return Ok(vec![Bytes::from_static(EMPTY_ROOT_NODE)]);
        }
        let key = NibbleKey(key);
        let mut proof = Vec::new();
        let mut encoding = std::mem::take(&mut self.scratch_encoding);
        let mut id = self.root;
        let mut pos = 0;
        while id != NIL {
            let node = &self.nodes[id as usize];
            if let Kind::Stub = node.kind {
                let hash = node.hash().unwrap_or_default();
                walk_stored(&self.store, hash, key, pos, |bytes| {
                    proof.push(bytes.clone())
                })?;
                break;
            }
            if id == self.root || node.hash().is_some() {
                encoding.clear();
                self.encode(id, &mut encoding);
                proof.push(Bytes::copy_from_slice(&encoding));
            }
            id = match &node.kind {
                Kind::Leaf { .. } | Kind::Stub => NIL,
                Kind::Extension { path, child } => {
                    if path.view().is_prefix_of(key, pos) {
                        pos += path.len();
                        *child
                    } else {
                        NIL
                    }
                }
                Kind::Branch { children, .. } => {
                    if pos == key.len() {
                        NIL
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
        match self.nodes.get(self.root as usize) {
            None => EMPTY_ROOT,
            Some(root) => root
                .hash()
                .unwrap_or_else(|| keccak256(root.reference.bytes())),
        }
    }

    // ----- arena -----

    fn alloc(&mut self, node: Node) -> NodeId {
        if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = node;
            return id;
        }
        let id = NodeId::try_from(self.nodes.len())
            .ok()
            .filter(|id| *id != NIL)
            .unwrap_or_else(|| panic!("trie arena is limited to {NIL} nodes"));
        self.nodes.push(node);
        id
    }

    fn free(&mut self, id: NodeId) {
        self.nodes[id as usize] = Node::stub(B256::ZERO);
        self.free.push(id);
    }

    /// Marks a node changed: its reference must be recomputed and it must be committed.
    #[inline]
    fn touch(&mut self, id: NodeId) {
        let node = &mut self.nodes[id as usize];
        node.reference = Reference::UNKNOWN;
        node.persisted = false;
    }

    /// Loads a stub from the store in place; no-op for resident nodes.
    pub(crate) fn resolve(&mut self, id: NodeId) -> Result<(), TrieError> {
        let node = &self.nodes[id as usize];
        let Kind::Stub = node.kind else { return Ok(()) };
        let hash = node.hash().unwrap_or_default();
        let bytes = fetch(&self.store, hash)?;
        let decoded =
            decode_node(&bytes).map_err(|source| TrieError::CorruptNode { hash, source })?;
        let kind = self.load(decoded, hash)?;
        self.nodes[id as usize].kind = kind;
        Ok(())
    }

    /// Converts a decoded node into arena form; hash-referenced children become stubs and
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
                let mut ids = [NIL; 16];
                for (slot, child) in ids.iter_mut().zip(children) {
                    *slot = self.load_child(child, hash)?;
                }
                Kind::Branch {
                    children: ids,
                    value: value.map(Box::from),
                }
            }
        })
    }

    fn load_child(&mut self, child: ChildRef<'_>, parent: B256) -> Result<NodeId, TrieError> {
        Ok(match child {
            ChildRef::Empty => NIL,
            ChildRef::Hash(hash) => self.alloc(Node::stub(hash)),
            ChildRef::Inline(encoding) => {
                let decoded = decode_node(encoding).map_err(|source| TrieError::CorruptNode {
                    hash: parent,
                    source,
                })?;
                let kind = self.load(decoded, parent)?;
                self.alloc(Node::embedded(kind, encoding))
            }
        })
    }

    #[inline]
    fn child_in_slot(&self, holder: Option<(NodeId, u8)>) -> NodeId {
        match holder {
            None => self.root,
            Some((id, slot)) => match &self.nodes[id as usize].kind {
                Kind::Branch { children, .. } if slot < EXTENSION_SLOT => {
                    children[usize::from(slot)]
                }
                Kind::Extension { child, .. } => *child,
                _ => NIL,
            },
        }
    }

    #[inline]
    fn set_child_in_slot(&mut self, holder: Option<(NodeId, u8)>, new_child: NodeId) {
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
            let id = self.child_in_slot(holder);
            if id == NIL {
                let path = Path::from_key(key, pos, key.len(), true);
                let leaf = self.alloc(Node::new(Kind::Leaf {
                    path,
                    value: Value::from_slice(value),
                }));
                self.set_child_in_slot(holder, leaf);
                return Ok(true);
            }
            match &mut self.nodes[id as usize].kind {
                Kind::Stub => self.resolve(id)?,
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
        let mut children = [NIL; 16];
        let mut branch_value = None;
        if common == old_path.len() {
            branch_value = Some(Box::from(old_value.as_slice()));
        } else {
            let path = old_path.slice(common + 1, old_path.len(), true);
            let leaf = self.alloc(Node::new(Kind::Leaf {
                path,
                value: old_value,
            }));
            children[usize::from(old_path.nibble(common))] = leaf;
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
        old_child: NodeId,
        value: &[u8],
    ) -> Kind {
        let mut children = [NIL; 16];
        let mut branch_value = None;
        let slot = usize::from(old_path.nibble(common));
        children[slot] = if common + 1 == old_path.len() {
            old_child
        } else {
            let path = old_path.slice(common + 1, old_path.len(), false);
            self.alloc(Node::new(Kind::Extension {
                path,
                child: old_child,
            }))
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
        children: &mut [NodeId; 16],
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
            children[usize::from(key.at(at))] = leaf;
        }
    }

    fn branch_under_extension(
        &mut self,
        key: NibbleKey<'_>,
        pos: usize,
        common: usize,
        children: [NodeId; 16],
        value: Option<Box<[u8]>>,
    ) -> Kind {
        let branch = Kind::Branch { children, value };
        if common == 0 {
            return branch;
        }
        let child = self.alloc(Node::new(branch));
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
        let mut id = self.root;
        let mut pos = 0;
        let removes_branch_value = loop {
            if id == NIL {
                return Ok(());
            }
            match &self.nodes[id as usize].kind {
                Kind::Stub => self.resolve(id)?,
                Kind::Leaf { path, .. } => {
                    if !path.view().matches_rest(key, pos) {
                        return Ok(());
                    }
                    break false;
                }
                Kind::Extension { path, child } => {
                    if !path.view().is_prefix_of(key, pos) {
                        return Ok(());
                    }
                    trail.push((id, EXTENSION_SLOT));
                    pos += path.len();
                    id = *child;
                }
                Kind::Branch { children, value } => {
                    if pos == key.len() {
                        if value.is_none() {
                            return Ok(());
                        }
                        break true;
                    }
                    let slot = key.at(pos);
                    trail.push((id, slot));
                    pos += 1;
                    id = children[usize::from(slot)];
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
            && let Some(sibling) = self.sole_remaining_child(branch, removed_slot)
        {
            self.resolve(sibling)?;
        }

        // Phase 3: remove and restore canonical shape bottom-up.
        let mut replacement = if removes_branch_value {
            if let Kind::Branch { value, .. } = &mut self.nodes[id as usize].kind {
                *value = None;
            }
            self.normalize(id)?
        } else {
            self.free(id);
            NIL
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
    /// for `None`) is gone, that child.
    fn sole_remaining_child(&self, branch: NodeId, removed_slot: Option<u8>) -> Option<NodeId> {
        let Kind::Branch { children, value } = &self.nodes[branch as usize].kind else {
            return None;
        };
        if removed_slot.is_some() && value.is_some() {
            return None;
        }
        let mut remaining = children
            .iter()
            .enumerate()
            .filter(|&(slot, &child)| child != NIL && Some(slot as u8) != removed_slot);
        match (remaining.next(), remaining.next()) {
            (Some((_, &child)), None) => Some(child),
            _ => None,
        }
    }

    /// Restores the canonical shape of a node whose subtree lost an entry (a branch with one
    /// entry collapses, an extension absorbs a leaf or extension child), marks it changed and
    /// returns what its parent should now point at.
    fn normalize(&mut self, id: NodeId) -> Result<NodeId, TrieError> {
        match &mut self.nodes[id as usize].kind {
            Kind::Branch { children, value } => {
                let mut count = 0;
                let mut last = 0;
                for (slot, &child) in children.iter().enumerate() {
                    if child != NIL {
                        count += 1;
                        last = slot;
                    }
                }
                match (count, value.is_some()) {
                    (0, false) => {
                        self.free(id);
                        return Ok(NIL);
                    }
                    (0, true) => {
                        let value = value.take().unwrap_or_default();
                        self.nodes[id as usize].kind = Kind::Leaf {
                            path: Path::from_nibbles(&[], true),
                            value: Value::from(&value[..]),
                        };
                    }
                    (1, false) => {
                        let child = children[last];
                        self.collapse_into_child(id, last as u8, child)?;
                    }
                    _ => {}
                }
            }
            Kind::Extension { path, child } => {
                let child = *child;
                let prefix = path.clone();
                if child == NIL {
                    self.free(id);
                    return Ok(NIL);
                }
                self.resolve(child)?;
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
                    Kind::Branch { .. } | Kind::Stub => None,
                };
                if let Some(merged) = merged {
                    self.nodes[id as usize].kind = merged;
                    self.free(child);
                }
            }
            Kind::Leaf { .. } | Kind::Stub => {}
        }
        self.touch(id);
        Ok(id)
    }

    /// Turns a branch whose only entry is `child` at `slot` into that child, one nibble longer.
    fn collapse_into_child(
        &mut self,
        id: NodeId,
        slot: u8,
        child: NodeId,
    ) -> Result<(), TrieError> {
        self.resolve(child)?;
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
            Kind::Branch { .. } | Kind::Stub => (
                Kind::Extension {
                    path: Path::from_nibbles(&[slot], false),
                    child,
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
        if self.root == NIL || !mode.pending(&self.nodes[self.root as usize]) {
            return output.batch;
        }
        if updates >= PARALLEL_MIN_UPDATES {
            self.hash_top_subtrees_in_parallel(mode, &mut output.batch);
        }
        hash_subtree(
            &self.nodes,
            self.root,
            mode,
            true,
            &mut output,
            &mut self.scratch_hash,
        );
        self.write_back(&output.references, mode);
        // Keep the buffer for the next small update, not the tens of megabytes a bulk load
        // needed.
        if output.references.capacity() <= SCRATCH_KEEP_LIMIT {
            self.scratch_references = output.references;
        }
        output.batch
    }

    /// Hashes the pending subtrees under the topmost branch on several threads, writing their
    /// references back, so that only the top remains for the caller.
    fn hash_top_subtrees_in_parallel(&mut self, mode: Mode, batch: &mut BatchBuilder) {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(16);
        if threads < 2 {
            return;
        }
        let mut top = self.root;
        if let Kind::Extension { child, .. } = &self.nodes[top as usize].kind {
            top = *child;
        }
        let Kind::Branch { children, .. } = &self.nodes[top as usize].kind else {
            return;
        };
        let pending: Vec<NodeId> = children
            .iter()
            .copied()
            .filter(|&child| child != NIL && mode.pending(&self.nodes[child as usize]))
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
        let nodes = &self.nodes;
        let hash_group = |group: &[NodeId]| {
            let mut output = HashOutput::default();
            let mut scratch = HashScratch::default();
            for &subtree in group {
                hash_subtree(nodes, subtree, mode, false, &mut output, &mut scratch);
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
        let reference_of = |child: NodeId| {
            if child == NIL {
                Reference::ABSENT
            } else {
                self.nodes[child as usize].reference
            }
        };
        match &self.nodes[id as usize].kind {
            Kind::Leaf { path, value } => encode_leaf(path, value, out),
            Kind::Extension { path, child } => encode_extension(path, &reference_of(*child), out),
            Kind::Branch { children, value } => {
                encode_branch(&children.map(reference_of), value.as_deref(), out);
            }
            // Stubs are never re-encoded: their encoding is in the store.
            Kind::Stub => {}
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
