//! RLP decoding of trie nodes into borrowed views, and the low-level RLP writers used to
//! encode arena nodes.
//!
//! Decoding is strict: a node is accepted only in the one canonical form a correct trie
//! produces, so that a stored or proven node re-encodes to exactly its input bytes.

use alloy_primitives::B256;
use alloy_rlp::{EMPTY_STRING_CODE, Header};

use crate::nibbles::{HexPrefixError, NibblePath};

/// Nodes whose RLP encoding is shorter than this are embedded in their parent.
pub(crate) const EMBED_LIMIT: usize = 32;

/// Why a byte string is not a well-formed trie node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not valid canonical RLP.
    #[error("invalid RLP: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    /// A node must be an RLP list (or the empty string for the empty trie).
    #[error("node is an RLP string, expected a list")]
    NotAList,
    /// Bytes follow the node's RLP item.
    #[error("{0} bytes trail the node's RLP item")]
    TrailingBytes(usize),
    /// A node list must have 2 (leaf / extension) or 17 (branch) items.
    #[error("node list has {0} items, expected 2 or 17")]
    WrongItemCount(usize),
    /// The path of a leaf or extension is not valid hex-prefix.
    #[error("invalid path: {0}")]
    InvalidPath(#[from] HexPrefixError),
    /// The path item of a leaf or extension is a list.
    #[error("leaf or extension path is a list")]
    PathIsList,
    /// A leaf's value is a list.
    #[error("leaf value is a list")]
    LeafValueIsList,
    /// A branch's value slot holds a list.
    #[error("branch value slot is a list")]
    BranchValueIsList,
    /// An extension with no nibbles would be a no-op node, which no trie produces.
    #[error("extension node with an empty path")]
    EmptyExtensionPath,
    /// An extension must point at a child.
    #[error("extension node without a child")]
    MissingExtensionChild,
    /// A child slot holds a string that is neither empty nor a 32-byte hash.
    #[error("child reference is a {0}-byte string, expected empty or a 32-byte hash")]
    InvalidChildReference(usize),
    /// An embedded child of 32 bytes or more should have been referenced by hash.
    #[error("embedded child node of {0} bytes, nodes of 32 bytes or more are referenced by hash")]
    OversizedEmbeddedNode(usize),
    /// An embedded child must itself be a leaf, extension or branch.
    #[error("embedded child is not a valid node: {0}")]
    InvalidEmbeddedNode(Box<DecodeError>),
    /// A branch with fewer than two entries would have been collapsed by a correct trie.
    #[error("branch node with {0} entries, a branch has at least two")]
    DegenerateBranch(usize),
}

/// How a node refers to one of its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildRef<'a> {
    /// No child.
    Empty,
    /// The child is stored separately under this keccak256 hash.
    Hash(B256),
    /// The child's RLP encoding (shorter than 32 bytes) is embedded here.
    Inline(&'a [u8]),
}

/// A decoded trie node that borrows from its RLP encoding.
// Decoded views are short-lived stack values; boxing the branch would allocate per decode.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedNode<'a> {
    /// The empty trie, encoded as the empty RLP string `0x80`.
    Empty,
    /// A leaf: the rest of the key's path and the value.
    Leaf {
        /// Remaining key nibbles.
        path: NibblePath<'a>,
        /// The stored value.
        value: &'a [u8],
    },
    /// An extension: a shared path segment leading to one child (a branch in a canonical trie).
    Extension {
        /// Shared nibbles.
        path: NibblePath<'a>,
        /// The node the path leads to.
        child: ChildRef<'a>,
    },
    /// A branch: one child slot per nibble plus the value of the key ending here.
    Branch {
        /// Child slots indexed by the next nibble.
        children: [ChildRef<'a>; 16],
        /// Value of the key that ends at this branch, if any.
        value: Option<&'a [u8]>,
    },
}

/// One RLP item: whether it is a list, its payload, and its full encoding.
struct Item<'a> {
    is_list: bool,
    payload: &'a [u8],
    raw: &'a [u8],
}

/// Reads the next RLP item from `buf`, advancing it.
fn next_item<'a>(buf: &mut &'a [u8]) -> Result<Item<'a>, alloy_rlp::Error> {
    let start: &'a [u8] = buf;
    let header = Header::decode(buf)?;
    let header_len = start.len() - buf.len();
    // A single byte below 0x80 is its own payload and `Header::decode` does not consume it.
    let payload = buf
        .get(..header.payload_length)
        .ok_or(alloy_rlp::Error::InputTooShort)?;
    *buf = &buf[header.payload_length..];
    Ok(Item {
        is_list: header.list,
        payload,
        raw: &start[..header_len + header.payload_length],
    })
}

fn decode_child(item: &Item<'_>) -> Result<(), DecodeError> {
    if item.raw.len() >= EMBED_LIMIT {
        return Err(DecodeError::OversizedEmbeddedNode(item.raw.len()));
    }
    match decode_node(item.raw) {
        Ok(DecodedNode::Empty) => Err(DecodeError::InvalidEmbeddedNode(Box::new(
            DecodeError::NotAList,
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(DecodeError::InvalidEmbeddedNode(Box::new(e))),
    }
}

fn child_ref<'a>(item: Item<'a>) -> Result<ChildRef<'a>, DecodeError> {
    if item.is_list {
        decode_child(&item)?;
        return Ok(ChildRef::Inline(item.raw));
    }
    match item.payload.len() {
        0 => Ok(ChildRef::Empty),
        32 => Ok(ChildRef::Hash(B256::from_slice(item.payload))),
        n => Err(DecodeError::InvalidChildReference(n)),
    }
}

/// Decodes one trie node from its RLP encoding.
///
/// Accepts `0x80` (the empty trie), a 2-item list (leaf or extension, told apart by the
/// hex-prefix flag) or a 17-item list (branch). Embedded children are validated too. Never
/// panics, whatever the input.
pub fn decode_node(bytes: &[u8]) -> Result<DecodedNode<'_>, DecodeError> {
    let mut buf = bytes;
    let outer = next_item(&mut buf)?;
    if !buf.is_empty() {
        return Err(DecodeError::TrailingBytes(buf.len()));
    }
    if !outer.is_list {
        return if outer.payload.is_empty() {
            Ok(DecodedNode::Empty)
        } else {
            Err(DecodeError::NotAList)
        };
    }

    let mut rest = outer.payload;
    if rest.is_empty() {
        return Err(DecodeError::WrongItemCount(0));
    }
    let first = next_item(&mut rest)?;
    if rest.is_empty() {
        return Err(DecodeError::WrongItemCount(1));
    }
    let second = next_item(&mut rest)?;
    if rest.is_empty() {
        return decode_short_node(first, second);
    }
    decode_branch(first, second, rest)
}

fn decode_short_node<'a>(
    first: Item<'a>,
    second: Item<'a>,
) -> Result<DecodedNode<'a>, DecodeError> {
    if first.is_list {
        return Err(DecodeError::PathIsList);
    }
    let path = NibblePath::new(first.payload)?;
    if path.is_leaf() {
        if second.is_list {
            return Err(DecodeError::LeafValueIsList);
        }
        return Ok(DecodedNode::Leaf {
            path,
            value: second.payload,
        });
    }
    if path.is_empty() {
        return Err(DecodeError::EmptyExtensionPath);
    }
    let child = child_ref(second)?;
    if child == ChildRef::Empty {
        return Err(DecodeError::MissingExtensionChild);
    }
    Ok(DecodedNode::Extension { path, child })
}

/// Decodes a branch from its first two items and the rest of its payload. Item errors are
/// held back until the whole list is split, so a list of the wrong length is reported as
/// such whatever its items hold.
fn decode_branch<'a>(
    first: Item<'a>,
    second: Item<'a>,
    mut rest: &'a [u8],
) -> Result<DecodedNode<'a>, DecodeError> {
    let mut children = [ChildRef::Empty; 16];
    let mut value = None;
    let mut item_error = None;
    let keep =
        |slot: &mut ChildRef<'a>, item: Item<'a>, error: &mut Option<DecodeError>| match child_ref(
            item,
        ) {
            Ok(child) => *slot = child,
            Err(first_error) => {
                error.get_or_insert(first_error);
            }
        };
    keep(&mut children[0], first, &mut item_error);
    keep(&mut children[1], second, &mut item_error);
    let mut count = 2;
    while !rest.is_empty() {
        // Fast paths for the two child forms that fill almost every branch.
        if let Some(child) = children.get_mut(count) {
            if rest[0] == EMPTY_STRING_CODE {
                rest = &rest[1..];
                count += 1;
                continue;
            }
            if rest[0] == EMPTY_STRING_CODE + 32 && rest.len() > 32 {
                *child = ChildRef::Hash(B256::from_slice(&rest[1..33]));
                rest = &rest[33..];
                count += 1;
                continue;
            }
        }
        let item = next_item(&mut rest)?;
        match children.get_mut(count) {
            Some(child) => keep(child, item, &mut item_error),
            None if count == 16 => {
                if item.is_list {
                    item_error.get_or_insert(DecodeError::BranchValueIsList);
                } else if !item.payload.is_empty() {
                    value = Some(item.payload);
                }
            }
            None => {}
        }
        count += 1;
    }
    if count != 17 {
        return Err(DecodeError::WrongItemCount(count));
    }
    if let Some(error) = item_error {
        return Err(error);
    }
    let entries =
        children.iter().filter(|c| **c != ChildRef::Empty).count() + usize::from(value.is_some());
    if entries < 2 {
        return Err(DecodeError::DegenerateBranch(entries));
    }
    Ok(DecodedNode::Branch { children, value })
}

/// Length of the RLP encoding of byte string `bytes`.
#[inline]
pub(crate) fn string_len(bytes: &[u8]) -> usize {
    match bytes.len() {
        1 if bytes[0] < EMPTY_STRING_CODE => 1,
        n => alloy_rlp::length_of_length(n) + n,
    }
}

/// Appends the RLP encoding of byte string `bytes`.
#[inline]
pub(crate) fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes.len() {
        1 if bytes[0] < EMPTY_STRING_CODE => out.push(bytes[0]),
        n => {
            put_header(out, false, n);
            out.extend_from_slice(bytes);
        }
    }
}

/// Appends an RLP header for a payload of `len` bytes.
#[inline]
pub(crate) fn put_header(out: &mut Vec<u8>, is_list: bool, len: usize) {
    let (short, long) = if is_list {
        (0xc0u8, 0xf7u8)
    } else {
        (0x80u8, 0xb7u8)
    };
    if len < 56 {
        out.push(short + len as u8);
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        out.push(long + (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hx(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    #[test]
    fn empty_string_is_the_empty_trie() {
        assert_eq!(decode_node(&[0x80]), Ok(DecodedNode::Empty));
        assert_eq!(decode_node(&[0x81, 0x80]), Err(DecodeError::NotAList));
        assert!(decode_node(&[]).is_err());
    }

    #[test]
    fn leaf_with_even_path() {
        // rlp([0x20 0x62 0x6f 0x62, "x"]) by hand: a list of 5 + 1 payload bytes.
        let bytes = hx("c68420626f6278");
        match decode_node(&bytes) {
            Ok(DecodedNode::Leaf { path, value }) => {
                assert_eq!(path.to_nibbles(), [6, 2, 6, 15, 6, 2]);
                assert_eq!(value, b"x");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_trailing_bytes_and_bad_counts() {
        assert_eq!(
            decode_node(&hx("c2203100")),
            Err(DecodeError::TrailingBytes(1))
        );
        assert_eq!(
            decode_node(&hx("c3203131")),
            Err(DecodeError::WrongItemCount(3))
        );
        assert_eq!(
            decode_node(&hx("c120")),
            Err(DecodeError::WrongItemCount(1))
        );
        assert_eq!(decode_node(&hx("c0")), Err(DecodeError::WrongItemCount(0)));
        assert_eq!(
            decode_node(&hx("c220")),
            Err(DecodeError::Rlp(alloy_rlp::Error::InputTooShort))
        );
    }

    #[test]
    fn rejects_non_canonical_single_byte() {
        // The value 0x31 written as a one-byte string 0x81 0x31 is not canonical RLP.
        assert_eq!(
            decode_node(&hx("c3208131")),
            Err(DecodeError::Rlp(alloy_rlp::Error::NonCanonicalSingleByte))
        );
    }

    #[test]
    fn extension_rules() {
        // Extension with empty path [0x00] and a 32-byte hash child.
        let mut node = vec![0xe2, 0x00, 0xa0];
        node.extend_from_slice(&[7u8; 32]);
        assert_eq!(decode_node(&node), Err(DecodeError::EmptyExtensionPath));
        node[1] = 0x11;
        assert!(matches!(
            decode_node(&node),
            Ok(DecodedNode::Extension {
                child: ChildRef::Hash(_),
                ..
            })
        ));
        // A 31-byte child string is neither a hash nor an embedded node.
        let mut short = vec![0xe1, 0x11, 0x9f];
        short.extend_from_slice(&[7u8; 31]);
        assert_eq!(
            decode_node(&short),
            Err(DecodeError::InvalidChildReference(31))
        );
        assert_eq!(
            decode_node(&hx("c21180")),
            Err(DecodeError::MissingExtensionChild)
        );
    }

    #[test]
    fn branch_rules() {
        // Two embedded leaves [0x20, "a"] at slots 0 and 1, no value.
        let mut payload = hx("c22061c22062");
        payload.extend(std::iter::repeat_n(0x80, 15));
        let mut node = vec![0xc0 + payload.len() as u8];
        node.extend_from_slice(&payload);
        match decode_node(&node) {
            Ok(DecodedNode::Branch { children, value }) => {
                assert_eq!(children[0], ChildRef::Inline(&[0xc2, 0x20, 0x61]));
                assert_eq!(children[2], ChildRef::Empty);
                assert_eq!(value, None);
            }
            other => panic!("unexpected {other:?}"),
        }
        // Only one entry: degenerate.
        let mut payload = hx("c22061");
        payload.extend(std::iter::repeat_n(0x80, 16));
        let mut node = vec![0xc0 + payload.len() as u8];
        node.extend_from_slice(&payload);
        assert_eq!(decode_node(&node), Err(DecodeError::DegenerateBranch(1)));
    }

    #[test]
    fn string_writer_matches_alloy_rlp() {
        for len in [0usize, 1, 2, 55, 56, 255, 256, 70_000] {
            for fill in [0u8, 0x7f, 0x80] {
                let bytes = vec![fill; len];
                let mut ours = Vec::new();
                put_string(&mut ours, &bytes);
                assert_eq!(ours, alloy_rlp::encode(&bytes[..]), "len {len} fill {fill}");
                assert_eq!(string_len(&bytes), ours.len());
            }
        }
        let mut list = Vec::new();
        put_header(&mut list, true, 300);
        let mut expected = Vec::new();
        Header {
            list: true,
            payload_length: 300,
        }
        .encode(&mut expected);
        assert_eq!(list, expected);
    }
}
