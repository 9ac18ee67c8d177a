//! Verification of Merkle proofs (EIP-1186 `eth_getProof` form).

use std::collections::HashMap;

use alloy_primitives::B256;

use crate::nibbles::NibbleKey;
use crate::node::{ChildRef, DecodeError, DecodedNode, EMBED_LIMIT, decode_node};
use crate::{EMPTY_ROOT_NODE, NodeHash};

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// No nodes, for a root other than the empty root.
    #[error("empty proof for non-empty root {0}")]
    EmptyProof(B256),
    /// The key's path leads to a node (the root, at depth 0) that the proof does not hold.
    #[error(
        "the proof has no node with hash {hash}, which the key's path reaches at depth {depth}"
    )]
    MissingNode {
        /// Hash-referenced nodes walked before this one.
        depth: usize,
        /// The hash the path requires.
        hash: B256,
    },
    /// The node the path reached is not a valid trie node.
    #[error("proof node {hash} is malformed: {source}")]
    MalformedNode {
        /// The node's hash.
        hash: B256,
        /// What is wrong with it.
        source: DecodeError,
    },
    /// A parent references by hash a node shorter than 32 bytes; a correct trie embeds such
    /// nodes in their parent, so no trie with this root was built by Ethereum's rules.
    #[error("node {hash} is {len} bytes but referenced by hash; such nodes are embedded")]
    UnembeddedSmallNode {
        /// The node's hash.
        hash: B256,
        /// Its length.
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
/// `key` is absent. As go-ethereum's `trie.VerifyProof` does, the proof is a set of nodes
/// looked up by their keccak256 hash while walking the key's path from the root: their order
/// does not matter, and nodes off the path are ignored. So proofs from any mainstream
/// implementation verify: root-first lists (`eth_getProof`), py-trie's lists that also repeat
/// embedded nodes as entries of their own, and unordered sets. Soundness rests on the hashes
/// alone: every node walked is the preimage of the reference that led to it. Errors, never
/// panics, on anything else. For [`EMPTY_ROOT`], both an empty proof and `[0x80]` prove
/// absence.
pub fn verify_proof(
    root: B256,
    key: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<Option<Vec<u8>>, ProofError> {
    verify_proof_with(NodeHash::Keccak256, root, key, proof)
}

/// [`verify_proof`] for a trie whose nodes are hashed with `hash`.
pub fn verify_proof_with(
    hash: NodeHash,
    root: B256,
    key: &[u8],
    proof: &[impl AsRef<[u8]>],
) -> Result<Option<Vec<u8>>, ProofError> {
    if proof.is_empty() {
        return if root == hash.empty_root() {
            Ok(None)
        } else {
            Err(ProofError::EmptyProof(root))
        };
    }
    let nodes: HashMap<B256, &[u8]> = proof
        .iter()
        .map(|node| (hash.hash(node.as_ref()), node.as_ref()))
        .collect();
    let key = NibbleKey(key);
    let mut pos = 0;
    let mut expected = root;
    // Hashes admit no cycles, so a path walks each node at most once.
    for depth in 0..=nodes.len() {
        let node = *nodes.get(&expected).ok_or(ProofError::MissingNode {
            depth,
            hash: expected,
        })?;
        if depth > 0 && node.len() < EMBED_LIMIT {
            return Err(ProofError::UnembeddedSmallNode {
                hash: expected,
                len: node.len(),
            });
        }
        // Only the root can be the empty node: below it, a 1-byte node is refused above.
        let step = if node == EMPTY_ROOT_NODE {
            Step::Absent
        } else {
            walk_node(node, key, &mut pos).map_err(|source| ProofError::MalformedNode {
                hash: expected,
                source,
            })?
        };
        match step {
            Step::Descend(child) => expected = child,
            Step::Found(value) => return Ok(Some(value)),
            Step::Absent => return Ok(None),
        }
    }
    Err(ProofError::MissingNode {
        depth: nodes.len() + 1,
        hash: expected,
    })
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
