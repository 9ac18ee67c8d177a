//! `verify_proof` on arbitrary roots, keys and proofs returns `Ok` or `Err`, never panics.
//!
//! Input layout: byte 0 chooses whether the root is taken from the input or anchored to the
//! first proof node's hash (so mutated proofs get past the first hash check); then a
//! length-prefixed key; then length-prefixed proof nodes.
#![no_main]

use cairn_trie::{B256, keccak256, verify_proof};
use libfuzzer_sys::fuzz_target;

fn take<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&len, rest) = data.split_first()?;
    let len = usize::from(len) * 4;
    let len = len.min(rest.len());
    let (item, rest) = rest.split_at(len);
    *data = rest;
    Some(item)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let explicit_root = take(&mut rest).unwrap_or_default();
    let key = take(&mut rest).unwrap_or_default();
    let mut proof = Vec::new();
    while let Some(node) = take(&mut rest) {
        proof.push(node);
    }
    let root = match (mode % 2, proof.first()) {
        (0, Some(first)) => keccak256(first),
        _ => {
            let mut root = [0u8; 32];
            let n = explicit_root.len().min(32);
            root[..n].copy_from_slice(&explicit_root[..n]);
            B256::from(root)
        }
    };
    let _ = verify_proof(root, key, &proof);
});
