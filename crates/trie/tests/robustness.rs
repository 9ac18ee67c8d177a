//! Untrusted input never panics: arbitrary bytes as nodes, arbitrary and mutated proofs, and
//! stores that return garbage, miss nodes or fail.

use std::sync::Arc;

use alloy_primitives::keccak256;
use cairn_trie::{
    B256, Bytes, DecodeError, MemoryNodeStore, NodeStore, NodeStoreError, Trie, TrieError,
    decode_node, verify_proof,
};
use proptest::prelude::*;

/// Byte strings that look like RLP lists often enough to get past the first header check.
fn node_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..600),
        (0xc0u8..=0xff, prop::collection::vec(any::<u8>(), 0..600)).prop_map(|(head, mut rest)| {
            rest.insert(0, head);
            rest
        }),
        prop::collection::vec(
            prop::sample::select(vec![0x80u8, 0xa0, 0xc2, 0x20, 0x31, 0xe2, 0xf8]),
            0..80
        ),
    ]
}

fn sample_trie() -> (B256, Arc<MemoryNodeStore>, Vec<Vec<u8>>) {
    let store = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(store.clone());
    let mut keys = Vec::new();
    for i in 0..64u8 {
        let key = vec![i % 4, i / 4, i];
        trie.insert(&key, &[i; 40][..(i as usize % 40) + 1])
            .expect("insert");
        keys.push(key);
    }
    let (root, batch) = trie.commit().expect("commit");
    store.apply(&batch);
    (root, store, keys)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn decode_node_never_panics(bytes in node_like_bytes()) {
        if let Ok(node) = decode_node(&bytes) {
            // Whatever decodes is canonical: it is the exact bytes of a valid node.
            let _ = format!("{node:?}");
        }
    }

    #[test]
    fn verify_proof_never_panics_on_arbitrary_input(
        root in any::<[u8; 32]>(),
        key in prop::collection::vec(any::<u8>(), 0..40),
        proof in prop::collection::vec(node_like_bytes(), 0..6),
        anchor_root in any::<bool>(),
    ) {
        // Anchoring the root to the first node's hash gets past the first hash check.
        let root = match (anchor_root, proof.first()) {
            (true, Some(first)) => keccak256(first),
            _ => B256::from(root),
        };
        let _ = verify_proof(root, &key, &proof);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn verify_proof_never_panics_on_mutated_real_proofs(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 1..4),
        rehash in any::<bool>(),
    ) {
        let (root, store, keys) = sample_trie();
        let mut trie = Trie::open(store, root).expect("open");
        let key = &keys[pick.index(keys.len())];
        let mut proof: Vec<Vec<u8>> = trie.proof(key).expect("proof").iter().map(|n| n.to_vec()).collect();
        for (node, byte, value) in &edits {
            let count = proof.len();
            let node = &mut proof[node.index(count)];
            let at = byte.index(node.len());
            node[at] = *value;
        }
        // Re-anchoring the root makes the first (mutated) node pass its hash check, so the
        // decoder and walker see the garbage.
        let root = if rehash { keccak256(&proof[0]) } else { root };
        let _ = verify_proof(root, key, &proof);
    }

    #[test]
    fn corrupt_stored_nodes_yield_errors(
        garbage in node_like_bytes(),
        victim in any::<prop::sample::Index>(),
        pick in any::<prop::sample::Index>(),
    ) {
        let (root, store, keys) = sample_trie();
        // Replace one stored node's bytes (the store does not check hashes).
        let mut trie = Trie::open(store.clone(), root).expect("open");
        let hashes: Vec<B256> = keys
            .iter()
            .flat_map(|key| trie.proof(key).expect("proof"))
            .map(keccak256)
            .collect();
        let victim_hash = hashes[victim.index(hashes.len())];
        store.insert(victim_hash, Bytes::from(garbage));
        let key = &keys[pick.index(keys.len())];
        if let Ok(mut trie) = Trie::open(store.clone(), root) {
            let _ = trie.get(key);
            let _ = trie.iter().count();
            let _ = trie.proof(key);
            let _ = trie.insert(key, b"new value");
            let _ = trie.remove(&keys[0]);
            let _ = trie.root_hash();
            let _ = trie.commit();
        }
    }
}

#[test]
fn missing_nodes_are_reported() {
    let (root, store, keys) = sample_trie();
    let empty = MemoryNodeStore::new();
    assert!(matches!(Trie::open(&empty, root), Err(TrieError::MissingNode(hash)) if hash == root));

    // Keep only the root node: everything below is missing.
    let root_only = MemoryNodeStore::new();
    root_only.insert(
        root,
        store.get_node(&root).expect("read").expect("root stored"),
    );
    let mut trie = Trie::open(&root_only, root).expect("root is present");
    assert!(matches!(trie.get(&keys[5]), Err(TrieError::MissingNode(_))));
    assert!(matches!(
        trie.iter().find(|entry| entry.is_err()),
        Some(Err(TrieError::MissingNode(_)))
    ));
    assert!(matches!(
        trie.insert(&keys[5], b"v"),
        Err(TrieError::MissingNode(_))
    ));
    assert!(matches!(
        trie.remove(&keys[5]),
        Err(TrieError::MissingNode(_))
    ));
    // A failed update leaves the trie unchanged.
    assert_eq!(trie.root_hash().expect("root"), root);
}

#[test]
fn store_failures_are_reported() {
    #[derive(Debug)]
    struct Failing;
    impl NodeStore for Failing {
        fn get_node(&self, _hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
            Err(NodeStoreError::new("backend unavailable"))
        }
    }
    let error = Trie::open(Failing, B256::repeat_byte(7)).expect_err("store fails");
    assert!(matches!(error, TrieError::Store(_)), "{error}");
}

#[test]
fn malformed_root_node_is_reported() {
    let store = MemoryNodeStore::new();
    let hash = B256::repeat_byte(9);
    store.insert(hash, Bytes::from_static(&[0xc3, 0x20, 0x31, 0x32]));
    match Trie::open(&store, hash) {
        Err(TrieError::CorruptNode {
            hash: reported,
            source: DecodeError::WrongItemCount(3),
        }) => {
            assert_eq!(reported, hash);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn empty_node_under_a_real_hash_is_rejected() {
    let store = MemoryNodeStore::new();
    let hash = B256::repeat_byte(3);
    store.insert(hash, Bytes::from_static(&[0x80]));
    assert!(matches!(
        Trie::open(&store, hash),
        Err(TrieError::UnexpectedEmptyNode(_))
    ));
}
