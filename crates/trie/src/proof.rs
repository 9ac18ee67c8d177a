//! Verification of Merkle proofs (EIP-1186 `eth_getProof` form).

use alloy_primitives::{B256, keccak256};

use crate::nibbles::NibbleKey;
use crate::node::{ChildRef, DecodeError, DecodedNode, EMBED_LIMIT, decode_node};
use crate::{EMPTY_ROOT, EMPTY_ROOT_NODE};

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// No nodes, for a root other than the empty root.
    #[error("empty proof for non-empty root {0}")]
    EmptyProof(B256),
    /// Node `index` does not hash to the reference that led to it (the root for index 0).
    #[error("proof node {index} hashes to {actual}, expected {expected}")]
    HashMismatch {
        /// Position in the proof.
        index: usize,
        /// The hash its parent (or the root) requires.
        expected: B256,
        /// keccak256 of the node given.
        actual: B256,
    },
    /// Node `index` is not a valid trie node.
    #[error("proof node {index} is malformed: {source}")]
    MalformedNode {
        /// Position in the proof.
        index: usize,
        /// What is wrong with it.
        source: DecodeError,
    },
    /// A node shorter than 32 bytes was given as a separate, hash-referenced proof node; a
    /// correct trie embeds such nodes in their parent.
    #[error("proof node {index} is {len} bytes, so it must be embedded in its parent")]
    UnembeddedSmallNode {
        /// Position in the proof.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The empty node appears below the root.
    #[error("proof node {0} is the empty node, which can only be a root")]
    UnexpectedEmptyNode(usize),
    /// The path continues to a hash-referenced child but the proof ends.
    #[error("proof ends after {0} nodes but the key's path continues to child {1}")]
    Truncated(usize, B256),
    /// The key's path ends at node `last`, but more nodes follow.
    #[error("the key's path ends at proof node {last} but the proof has {len} nodes")]
    TrailingNodes {
        /// Index of the node where the path ended.
        last: usize,
        /// Number of nodes given.
        len: usize,
    },
}

/// What a walk through one proof node found.
enum Step {
    Found(Vec<u8>),
    Absent,
    Descend(B256),
}

/// Verifies a proof for `key` against `root`.
///
/// Returns `Ok(Some(value))` if the proof shows `key` maps to `value`, `Ok(None)` if it shows
/// `key` is absent. Strict: the nodes must be exactly those on the key's path, root first,
/// each the one its parent references; anything else is an error, never a panic. For
/// [`EMPTY_ROOT`], both an empty proof and `[0x80]` prove absence.
pub fn verify_proof(
    root: B256,
    key: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<Option<Vec<u8>>, ProofError> {
    if proof.is_empty() {
        return if root == EMPTY_ROOT {
            Ok(None)
        } else {
            Err(ProofError::EmptyProof(root))
        };
    }
    let key = NibbleKey(key);
    let mut pos = 0;
    let mut expected = root;
    for (index, node) in proof.iter().enumerate() {
        let node = node.as_ref();
        let actual = keccak256(node);
        if actual != expected {
            return Err(ProofError::HashMismatch {
                index,
                expected,
                actual,
            });
        }
        if index > 0 && node.len() < EMBED_LIMIT {
            return Err(ProofError::UnembeddedSmallNode {
                index,
                len: node.len(),
            });
        }
        let step = if node == EMPTY_ROOT_NODE {
            // Only the empty root hashes to keccak(0x80), and only index 0 can match it.
            if index > 0 {
                return Err(ProofError::UnexpectedEmptyNode(index));
            }
            Step::Absent
        } else {
            walk_node(node, key, &mut pos)
                .map_err(|source| ProofError::MalformedNode { index, source })?
        };
        match step {
            Step::Descend(child) => expected = child,
            Step::Found(_) | Step::Absent if index + 1 != proof.len() => {
                return Err(ProofError::TrailingNodes {
                    last: index,
                    len: proof.len(),
                });
            }
            Step::Found(value) => return Ok(Some(value)),
            Step::Absent => return Ok(None),
        }
    }
    Err(ProofError::Truncated(proof.len(), expected))
}

/// Follows `key` from `pos` through one proof node and the nodes embedded in it.
fn walk_node(node: &[u8], key: NibbleKey<'_>, pos: &mut usize) -> Result<Step, DecodeError> {
    let mut encoding = node;
    loop {
        let child = match decode_node(encoding)? {
            DecodedNode::Empty => return Err(DecodeError::NotAList),
            DecodedNode::Leaf { path, value } => {
                let found = path.matches_rest(key, *pos) && !value.is_empty();
                return Ok(if found {
                    Step::Found(value.to_vec())
                } else {
                    Step::Absent
                });
            }
            DecodedNode::Extension { path, child } => {
                if !path.is_prefix_of(key, *pos) {
                    return Ok(Step::Absent);
                }
                *pos += path.len();
                child
            }
            DecodedNode::Branch { children, value } => {
                if *pos == key.len() {
                    return Ok(value.map_or(Step::Absent, |value| Step::Found(value.to_vec())));
                }
                *pos += 1;
                children[usize::from(key.at(*pos - 1))]
            }
        };
        match child {
            ChildRef::Empty => return Ok(Step::Absent),
            ChildRef::Hash(hash) => return Ok(Step::Descend(hash)),
            ChildRef::Inline(embedded) => encoding = embedded,
        }
    }
}
