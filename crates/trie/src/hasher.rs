//! Bottom-up hashing of changed nodes.
//!
//! Hashing reads the arena without modifying it and returns each computed reference in a
//! list that the trie writes back afterwards. That keeps it safe to hash disjoint subtrees on
//! several threads at once: keccak dominates the cost of a large root computation, and the
//! subtrees under the top branch are independent.

use std::ops::Range;

use alloy_primitives::B256;

use crate::NodeHash;

use crate::nibbles::Path;
use crate::node::{EMBED_LIMIT, put_header, put_string, string_len};
use crate::store::NodeBatch;
use crate::trie::{Kind, Link, Node, NodeId, Target};

/// How a parent refers to a child: its hash, or its whole encoding when shorter than 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Reference {
    /// 0 = not known yet, `1..32` = embedded encoding, 32 = hash.
    len: u8,
    bytes: [u8; 32],
}

impl Reference {
    /// Placeholder for a node changed since it was last hashed.
    pub(crate) const UNKNOWN: Self = Self {
        len: 0,
        bytes: [0; 32],
    };

    /// An absent child, which encodes as the empty string: an "embedded" `0x80`.
    pub(crate) const ABSENT: Self = {
        let mut bytes = [0; 32];
        bytes[0] = alloy_rlp::EMPTY_STRING_CODE;
        Self { len: 1, bytes }
    };

    pub(crate) fn from_hash(hash: B256) -> Self {
        Self {
            len: 32,
            bytes: hash.0,
        }
    }

    /// The reference to a node with this encoding.
    pub(crate) fn of_encoding(encoding: &[u8], hash: NodeHash) -> Self {
        if encoding.len() < EMBED_LIMIT {
            let mut bytes = [0; 32];
            bytes[..encoding.len()].copy_from_slice(encoding);
            Self {
                len: encoding.len() as u8,
                bytes,
            }
        } else {
            Self::from_hash(hash.hash(encoding))
        }
    }

    #[inline]
    pub(crate) fn is_known(&self) -> bool {
        self.len != 0
    }

    #[inline]
    pub(crate) fn hash(&self) -> Option<B256> {
        (self.len == 32).then_some(B256::new(self.bytes))
    }

    /// The embedded encoding, or the hash bytes.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Length of this reference inside the parent's RLP.
    #[inline]
    fn encoded_len(&self) -> usize {
        if self.len == 32 {
            33
        } else {
            usize::from(self.len)
        }
    }

    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        if self.len == 32 {
            out.push(alloy_rlp::EMPTY_STRING_CODE + 32);
        }
        out.extend_from_slice(self.bytes());
    }
}

/// Whether a traversal computes references, or also collects every uncommitted node.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Hash,
    Commit,
}

impl Mode {
    /// True if the traversal must visit this node.
    #[inline]
    pub(crate) fn pending(self, node: &Node) -> bool {
        match self {
            Self::Hash => !node.reference.is_known(),
            Self::Commit => !node.persisted,
        }
    }
}

/// A buffer of node encodings and the `(hash, range)` of each node in it.
type Segment = (Vec<u8>, Vec<(B256, Range<usize>)>);

/// Encodings collected for a commit: the buffer being filled, plus finished buffers taken
/// over from other threads without copying.
#[derive(Default)]
pub(crate) struct BatchBuilder {
    buffer: Vec<u8>,
    entries: Vec<(B256, Range<usize>)>,
    finished: Vec<Segment>,
}

impl BatchBuilder {
    fn push(&mut self, hash: B256, encoding: &[u8]) {
        let start = self.buffer.len();
        self.buffer.extend_from_slice(encoding);
        self.entries.push((hash, start..self.buffer.len()));
    }

    /// Takes over `other`'s nodes.
    pub(crate) fn append(&mut self, other: Self) {
        self.finished.extend(other.finished);
        self.finished.push((other.buffer, other.entries));
    }

    pub(crate) fn finish(mut self) -> NodeBatch {
        self.finished.push((self.buffer, self.entries));
        NodeBatch::from_segments(self.finished)
    }
}

/// What one traversal produced: references to write back (and mark persisted, in commit
/// mode), and the collected encodings.
#[derive(Default)]
pub(crate) struct HashOutput {
    pub(crate) references: Vec<(NodeId, Reference)>,
    pub(crate) batch: BatchBuilder,
}

/// Read-only view of a trie's nodes, shareable across hashing threads.
#[derive(Clone, Copy)]
pub(crate) struct Arena<'a> {
    pub(crate) nodes: &'a [Node],
    pub(crate) stored_hashes: &'a [B256],
    pub(crate) hash: NodeHash,
}

impl Arena<'_> {
    /// The child's arena id, if a traversal in `mode` must visit it.
    #[inline]
    pub(crate) fn pending(&self, link: Link, mode: Mode) -> Option<NodeId> {
        match link.target() {
            Target::Resident(id) if mode.pending(&self.nodes[id as usize]) => Some(id),
            _ => None,
        }
    }

    /// The reference to a child that is not pending.
    #[inline]
    pub(crate) fn known_reference(&self, link: Link) -> Reference {
        match link.target() {
            Target::Absent => Reference::ABSENT,
            Target::Stored(index) => Reference::from_hash(self.stored_hashes[index as usize]),
            Target::Resident(id) => self.nodes[id as usize].reference,
        }
    }
}

/// Buffers reused between traversals.
#[derive(Default)]
pub(crate) struct HashScratch {
    work: Vec<(NodeId, bool)>,
    values: Vec<Reference>,
    encoding: Vec<u8>,
}

/// Computes the reference of `top` and of every pending node below it, bottom-up, each once.
/// `top_is_root` makes `top` go into a commit batch whatever its size.
pub(crate) fn hash_subtree(
    arena: Arena<'_>,
    top: NodeId,
    mode: Mode,
    top_is_root: bool,
    out: &mut HashOutput,
    scratch: &mut HashScratch,
) -> Reference {
    let nodes = arena.nodes;
    let top_node = &nodes[top as usize];
    if !mode.pending(top_node) {
        return top_node.reference;
    }
    let HashScratch {
        work,
        values,
        encoding,
    } = scratch;
    work.clear();
    values.clear();
    work.push((top, false));
    while let Some((id, children_done)) = work.pop() {
        let node = &nodes[id as usize];
        if !children_done {
            work.push((id, true));
            // Pushed in slot order, children complete in reverse slot order, which leaves
            // the first slot's reference on top of `values`: the parent pops in slot order.
            match &node.kind {
                Kind::Extension { child, .. } => {
                    work.extend(arena.pending(*child, mode).map(|child| (child, false)));
                }
                Kind::Branch { children, .. } => {
                    for &child in children {
                        work.extend(arena.pending(child, mode).map(|child| (child, false)));
                    }
                }
                Kind::Leaf { .. } | Kind::Vacant => {}
            }
            continue;
        }
        let child_reference =
            |child: Link, values: &mut Vec<Reference>| match arena.pending(child, mode) {
                Some(_) => values.pop().unwrap_or(Reference::ABSENT),
                None => arena.known_reference(child),
            };
        encoding.clear();
        match &node.kind {
            Kind::Leaf { path, value } => encode_leaf(path, value, encoding),
            Kind::Extension { path, child } => {
                let child = child_reference(*child, values);
                encode_extension(path, &child, encoding);
            }
            Kind::Branch { children, value } => {
                let mut references = [Reference::ABSENT; 16];
                for (reference, &child) in references.iter_mut().zip(children) {
                    *reference = child_reference(child, values);
                }
                encode_branch(&references, value.as_deref(), encoding);
            }
            // Freed slots are never linked.
            Kind::Vacant => {}
        }
        let reference = if node.reference.is_known() {
            node.reference
        } else {
            Reference::of_encoding(encoding, arena.hash)
        };
        if mode == Mode::Commit && (encoding.len() >= EMBED_LIMIT || (top_is_root && id == top)) {
            let hash = reference
                .hash()
                .unwrap_or_else(|| arena.hash.hash(encoding));
            out.batch.push(hash, encoding);
        }
        out.references.push((id, reference));
        values.push(reference);
    }
    values.pop().unwrap_or(Reference::ABSENT)
}

pub(crate) fn encode_leaf(path: &Path, value: &[u8], out: &mut Vec<u8>) {
    let payload = string_len(path.hex_prefix()) + string_len(value);
    put_header(out, true, payload);
    put_string(out, path.hex_prefix());
    put_string(out, value);
}

pub(crate) fn encode_extension(path: &Path, child: &Reference, out: &mut Vec<u8>) {
    let payload = string_len(path.hex_prefix()) + child.encoded_len();
    put_header(out, true, payload);
    put_string(out, path.hex_prefix());
    child.put(out);
}

pub(crate) fn encode_branch(children: &[Reference; 16], value: Option<&[u8]>, out: &mut Vec<u8>) {
    let payload =
        children.iter().map(Reference::encoded_len).sum::<usize>() + value.map_or(1, string_len);
    put_header(out, true, payload);
    for child in children {
        child.put(out);
    }
    match value {
        Some(value) => put_string(out, value),
        None => out.push(alloy_rlp::EMPTY_STRING_CODE),
    }
}
