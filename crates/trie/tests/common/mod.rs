//! Test-only reference: the trie root computed straight from the definition in Yellow Paper
//! appendix D, recursively over the sorted key set. It shares no code with the crate under
//! test and handles keys that are prefixes of other keys (branch values), which alloy-trie's
//! `HashBuilder` does not.

#![allow(dead_code)]

use std::collections::BTreeMap;

use alloy_primitives::{B256, keccak256};
use alloy_rlp::{Encodable, Header};

fn nibbles(key: &[u8]) -> Vec<u8> {
    key.iter().flat_map(|b| [b >> 4, b & 0x0f]).collect()
}

/// HP(x, t) from appendix C.
fn hex_prefix(path: &[u8], leaf: bool) -> Vec<u8> {
    let flag = if leaf { 2 } else { 0 };
    let mut out = Vec::new();
    let rest = if path.len() % 2 == 1 {
        out.push((flag + 1) << 4 | path[0]);
        &path[1..]
    } else {
        out.push(flag << 4);
        path
    };
    out.extend(rest.chunks(2).map(|pair| pair[0] << 4 | pair[1]));
    out
}

fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload: Vec<u8> = items.concat();
    let mut out = Vec::new();
    Header {
        list: true,
        payload_length: payload.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&payload);
    out
}

fn rlp_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    bytes.encode(&mut out);
    out
}

/// n(I, i): how a parent refers to the node for `items` below nibble depth `depth`.
fn reference(items: &[(Vec<u8>, &[u8])], depth: usize) -> Vec<u8> {
    if items.is_empty() {
        return rlp_bytes(&[]);
    }
    let encoded = structure(items, depth);
    if encoded.len() < 32 {
        encoded
    } else {
        rlp_bytes(keccak256(&encoded).as_slice())
    }
}

/// c(I, i): the RLP of the node for `items` (sorted, distinct) below depth `depth`.
fn structure(items: &[(Vec<u8>, &[u8])], depth: usize) -> Vec<u8> {
    if let [(key, value)] = items {
        return rlp_list(&[
            rlp_bytes(&hex_prefix(&key[depth..], true)),
            rlp_bytes(value),
        ]);
    }
    let first = &items[0].0;
    let shared = (depth..)
        .take_while(|&i| {
            items
                .iter()
                .all(|(key, _)| key.len() > i && key[i] == first[i])
        })
        .count();
    if shared > 0 {
        let path = hex_prefix(&first[depth..depth + shared], false);
        return rlp_list(&[rlp_bytes(&path), reference(items, depth + shared)]);
    }
    let mut slots = Vec::new();
    for nibble in 0..16u8 {
        let subset: Vec<(Vec<u8>, &[u8])> = items
            .iter()
            .filter(|(key, _)| key.len() > depth && key[depth] == nibble)
            .cloned()
            .collect();
        slots.push(reference(&subset, depth + 1));
    }
    let value = items
        .iter()
        .find(|(key, _)| key.len() == depth)
        .map_or(&[][..], |(_, v)| *v);
    slots.push(rlp_bytes(value));
    rlp_list(&slots)
}

/// The root hash of `model` by the appendix D definition.
pub fn reference_root(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> B256 {
    let items: Vec<(Vec<u8>, &[u8])> = model
        .iter()
        .map(|(key, value)| (nibbles(key), value.as_slice()))
        .collect();
    if items.is_empty() {
        return keccak256([0x80u8]);
    }
    keccak256(structure(&items, 0))
}

/// The root of `model` by alloy-trie's `HashBuilder` (keys of at most 32 bytes, none a prefix
/// of another).
pub fn hash_builder_root(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> B256 {
    let mut builder = alloy_trie::HashBuilder::default();
    for (key, value) in model {
        builder.add_leaf(alloy_trie::Nibbles::unpack(key), value);
    }
    builder.root()
}
