//! `verify_proof` on arbitrary and on mutated real proofs returns `Ok` or `Err`, never panics,
//! and never "proves" a value the trie does not hold for the key.
//!
//! Byte 0 picks the mode:
//! - 0: arbitrary root, key and nodes (length-prefixed chunks);
//! - 1: the same, with the root anchored to the first node's hash, so node 0 is decoded;
//! - 2: a real trie built from the input, a real proof for one of its keys, then byte edits
//!   with every parent's reference re-pointed at its edited child, so each edited node passes
//!   its hash check and reaches the decoder and the path walk.
#![no_main]

use cairn_trie::{B256, MemoryNodeStore, Trie, keccak256, verify_proof};
use libfuzzer_sys::fuzz_target;

fn take<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&len, rest) = data.split_first()?;
    let len = (usize::from(len) * 4).min(rest.len());
    let (item, rest) = rest.split_at(len);
    *data = rest;
    Some(item)
}

fn arbitrary_proof(mut data: &[u8], anchored: bool) {
    let explicit_root = take(&mut data).unwrap_or_default();
    let key = take(&mut data).unwrap_or_default();
    let mut proof = Vec::new();
    while let Some(node) = take(&mut data) {
        proof.push(node);
    }
    let root = match (anchored, proof.first()) {
        (true, Some(first)) => keccak256(first),
        _ => {
            let mut root = [0u8; 32];
            let n = explicit_root.len().min(32);
            root[..n].copy_from_slice(&explicit_root[..n]);
            B256::from(root)
        }
    };
    let _ = verify_proof(root, key, &proof);
}

/// Replaces the first occurrence of `old` in `haystack` with `new` (same length).
fn replace(haystack: &mut [u8], old: &[u8], new: &[u8]) {
    if let Some(at) = haystack.windows(old.len()).position(|window| window == old) {
        haystack[at..at + new.len()].copy_from_slice(new);
    }
}

fn mutated_real_proof(mut data: &[u8]) {
    // Small keys and values so that keys share prefixes and nodes get embedded.
    let mut trie = Trie::new(MemoryNodeStore::new());
    let mut keys = Vec::new();
    for _ in 0..16 {
        let (Some(key), Some(value)) = (take(&mut data), take(&mut data)) else {
            break;
        };
        let key = &key[..key.len().min(6)];
        if trie.insert(key, value).is_err() {
            return;
        }
        keys.push(key.to_vec());
    }
    let Some((&pick, edits)) = data.split_first() else {
        return;
    };
    let target = keys
        .get(usize::from(pick) % keys.len().max(1))
        .cloned()
        .unwrap_or_default();
    let Ok(expected) = trie.get(&target) else {
        return;
    };
    let Ok(original) = trie.proof(&target) else {
        return;
    };
    let mut proof: Vec<Vec<u8>> = original.iter().map(|node| node.to_vec()).collect();

    for edit in edits.chunks(3) {
        let [node, at, byte] = *edit else { break };
        let node = usize::from(node) % proof.len();
        let len = proof[node].len();
        if len == 0 {
            continue;
        }
        proof[node][usize::from(at) % len] = byte;
    }
    // Re-point each parent at its (possibly edited) child, bottom-up.
    for index in (1..proof.len()).rev() {
        let old = keccak256(&original[index]);
        let new = keccak256(&proof[index]);
        replace(&mut proof[index - 1], old.as_slice(), new.as_slice());
    }
    let root = keccak256(&proof[0]);
    let result = verify_proof(root, &target, &proof);
    if proof.iter().zip(&original).all(|(a, b)| a[..] == b[..]) {
        assert_eq!(
            result.ok(),
            Some(expected),
            "an untouched proof must verify"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => arbitrary_proof(rest, false),
        1 => arbitrary_proof(rest, true),
        _ => mutated_real_proof(rest),
    }
});
