//! In-order iteration over a trie's entries, through resident nodes and the store alike.

use alloy_primitives::{B256, Bytes};

use crate::error::TrieError;
use crate::node::{ChildRef, DecodedNode, decode_node};
use crate::store::NodeStore;
use crate::trie::{Kind, Link, NodeId, Target, Trie, fetch};

/// A key and its value.
type Entry = (Vec<u8>, Vec<u8>);

/// A pending subtree; `depth` is the number of key nibbles above it.
enum Frame {
    Resident {
        id: NodeId,
        depth: usize,
        next_slot: u8,
    },
    StoredByHash {
        hash: B256,
        depth: usize,
    },
    /// A node read from the store (or embedded in one); `hash` names the stored node that
    /// contains it, for error reports. Branch progress is kept in `next_slot`.
    Stored {
        encoding: Bytes,
        hash: B256,
        depth: usize,
        next_slot: u8,
    },
}

/// Iterator over `(key, value)` pairs in ascending key order; see [`Trie::iter`].
///
/// Yields an error (and then ends) if a node is missing from the store or malformed.
pub struct TrieIter<'a, S> {
    trie: &'a Trie<S>,
    stack: Vec<Frame>,
    nibbles: Vec<u8>,
    failed: bool,
}

impl<'a, S: NodeStore> TrieIter<'a, S> {
    pub(crate) fn new(trie: &'a Trie<S>) -> Self {
        let mut iter = Self {
            trie,
            stack: Vec::new(),
            nibbles: Vec::new(),
            failed: false,
        };
        iter.push_child(trie.root, 0);
        iter
    }

    /// Schedules the subtree behind `link`, whose path starts at nibble `depth`.
    fn push_child(&mut self, link: Link, depth: usize) {
        match link.target() {
            Target::Absent => {}
            Target::Resident(id) => self.stack.push(Frame::Resident {
                id,
                depth,
                next_slot: 0,
            }),
            Target::Stored(index) => self.stack.push(Frame::StoredByHash {
                hash: self.trie.stored_hashes[index as usize],
                depth,
            }),
        }
    }

    /// The current key, packed from its nibbles.
    fn key(&self) -> Result<Vec<u8>, TrieError> {
        if self.nibbles.len() % 2 == 1 {
            return Err(TrieError::OddLengthKey(self.nibbles.len()));
        }
        Ok(self
            .nibbles
            .chunks_exact(2)
            .map(|pair| pair[0] << 4 | pair[1])
            .collect())
    }

    fn advance(&mut self) -> Result<Option<Entry>, TrieError> {
        while let Some(top) = self.stack.pop() {
            match top {
                Frame::Resident {
                    id,
                    depth,
                    next_slot,
                } => {
                    self.nibbles.truncate(depth);
                    let node = &self.trie.nodes[id as usize];
                    match &node.kind {
                        Kind::Leaf { path, value } => {
                            self.nibbles.extend((0..path.len()).map(|i| path.nibble(i)));
                            return Ok(Some((self.key()?, value.to_vec())));
                        }
                        Kind::Extension { path, child } => {
                            self.nibbles.extend((0..path.len()).map(|i| path.nibble(i)));
                            self.push_child(*child, depth + path.len());
                        }
                        Kind::Branch { children, value } => {
                            if next_slot == 0 {
                                self.stack.push(Frame::Resident {
                                    id,
                                    depth,
                                    next_slot: 1,
                                });
                                if let Some(value) = value {
                                    return Ok(Some((self.key()?, value.to_vec())));
                                }
                                continue;
                            }
                            let start = usize::from(next_slot - 1);
                            if let Some(slot) =
                                (start..16).find(|&slot| !children[slot].is_absent())
                            {
                                let next_slot = slot as u8 + 2;
                                self.stack.push(Frame::Resident {
                                    id,
                                    depth,
                                    next_slot,
                                });
                                self.nibbles.push(slot as u8);
                                self.push_child(children[slot], depth + 1);
                            }
                        }
                        Kind::Vacant => {}
                    }
                }
                Frame::StoredByHash { hash, depth } => {
                    let encoding = fetch(self.trie.store(), hash)?;
                    self.stack.push(Frame::Stored {
                        encoding,
                        hash,
                        depth,
                        next_slot: 0,
                    });
                }
                Frame::Stored {
                    encoding,
                    hash,
                    depth,
                    next_slot,
                } => {
                    self.nibbles.truncate(depth);
                    let node = decode_node(&encoding)
                        .map_err(|source| TrieError::CorruptNode { hash, source })?;
                    match node {
                        DecodedNode::Empty => return Err(TrieError::UnexpectedEmptyNode(hash)),
                        DecodedNode::Leaf { path, value } => {
                            if value.is_empty() {
                                continue;
                            }
                            self.nibbles.extend(path.to_nibbles());
                            return Ok(Some((self.key()?, value.to_vec())));
                        }
                        DecodedNode::Extension { path, child } => {
                            self.nibbles.extend(path.to_nibbles());
                            let frame = child_frame(&encoding, hash, child, depth + path.len());
                            self.stack.extend(frame);
                        }
                        DecodedNode::Branch { children, value } => {
                            if next_slot == 0 {
                                let again = Frame::Stored {
                                    encoding: encoding.clone(),
                                    hash,
                                    depth,
                                    next_slot: 1,
                                };
                                self.stack.push(again);
                                if let Some(value) = value {
                                    return Ok(Some((self.key()?, value.to_vec())));
                                }
                                continue;
                            }
                            let start = usize::from(next_slot - 1);
                            let found = (start..16).find(|&slot| children[slot] != ChildRef::Empty);
                            if let Some(slot) = found {
                                let child = children[slot];
                                let frame = child_frame(&encoding, hash, child, depth + 1);
                                let next_slot = slot as u8 + 2;
                                self.stack.push(Frame::Stored {
                                    encoding,
                                    hash,
                                    depth,
                                    next_slot,
                                });
                                self.nibbles.push(slot as u8);
                                self.stack.extend(frame);
                            }
                        }
                    }
                }
            }
        }
        Ok(None)
    }
}

/// The frame for a stored node's child; embedded children share the parent's buffer.
fn child_frame(parent: &Bytes, hash: B256, child: ChildRef<'_>, depth: usize) -> Option<Frame> {
    match child {
        ChildRef::Empty => None,
        ChildRef::Hash(child_hash) => Some(Frame::StoredByHash {
            hash: child_hash,
            depth,
        }),
        ChildRef::Inline(encoding) => {
            let encoding = Bytes(parent.0.slice_ref(encoding));
            Some(Frame::Stored {
                encoding,
                hash,
                depth,
                next_slot: 0,
            })
        }
    }
}

impl<S: NodeStore> Iterator for TrieIter<'_, S> {
    type Item = Result<(Vec<u8>, Vec<u8>), TrieError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.advance() {
            Ok(entry) => entry.map(Ok),
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}
