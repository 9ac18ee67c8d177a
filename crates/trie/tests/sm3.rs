//! Tries hashed with SM3 (for chains on the national algorithms): the same nodes as
//! Ethereum's, linked by SM3 hashes. Expected hashes below were computed with `gmssl` (a
//! separate SM3 implementation), not by this crate.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use cairn_trie::{
    B256, MemoryNodeStore, NodeHash, SecureTrie, Trie, verify_proof_with, verify_secure_proof_with,
};

fn b256(text: &str) -> B256 {
    text.parse().unwrap()
}

#[test]
fn the_empty_and_one_leaf_roots_are_the_sm3_of_their_nodes() {
    // SM3(0x80), the RLP empty string.
    let empty = b256("0x995b949869f80fa1465a9d8b6fa759ec65c3020d59c2624662bdff059bdf19b3");
    assert_eq!(NodeHash::Sm3.empty_root(), empty);
    let mut trie = Trie::new_with(MemoryNodeStore::default(), NodeHash::Sm3);
    assert_eq!(trie.root_hash().unwrap(), empty);
    // One leaf: rlp([hex-prefix("dog"), "puppy"]) = cb8420646f67857075707079.
    trie.insert(b"dog", b"puppy").unwrap();
    assert_eq!(
        trie.root_hash().unwrap(),
        b256("0x2e3064c65510ed456d17e179f80c272dd93943cc74c01eba27282b63a9e39aa3")
    );
    // An SM3 trie of nothing reopens as empty; a keccak one would not take its root.
    assert!(Trie::open_with(MemoryNodeStore::default(), empty, NodeHash::Sm3).is_ok());
    assert!(Trie::open(MemoryNodeStore::default(), empty).is_err());
}

/// Keys that give branches, extensions, embedded and hashed nodes.
fn keys() -> Vec<(Vec<u8>, Vec<u8>)> {
    // Past 1,024 insertions, the root is hashed on several threads.
    (0u32..1_500)
        .map(|i| {
            let key = format!("account-{}", i * 7919 % 2000).into_bytes();
            let value = if i % 3 == 0 {
                vec![i as u8]
            } else {
                vec![i as u8; 40]
            };
            (key, value)
        })
        .collect()
}

#[test]
fn sm3_proofs_verify_with_sm3_only_and_walk_the_same_nodes_as_keccak() {
    let store = Arc::new(MemoryNodeStore::default());
    let mut sm3 = Trie::new_with(store.clone(), NodeHash::Sm3);
    let mut keccak = Trie::new(MemoryNodeStore::default());
    for (key, value) in keys() {
        sm3.insert(&key, &value).unwrap();
        keccak.insert(&key, &value).unwrap();
    }
    let (root, batch) = sm3.commit().unwrap();
    store.apply(&batch);
    assert_ne!(root, keccak.root_hash().unwrap());
    let reopened = Trie::open_with(store.clone(), root, NodeHash::Sm3).unwrap();
    // Opened with the wrong hash, it is refused at once (it would mix both in its next root).
    assert!(matches!(
        Trie::open(store.clone(), root),
        Err(cairn_trie::TrieError::RootHashMismatch { .. })
    ));
    // A reopened trie changed in place has the root of the same contents built afresh.
    let mut changed = Trie::open_with(store.clone(), root, NodeHash::Sm3).unwrap();
    let mut fresh = Trie::new_with(MemoryNodeStore::default(), NodeHash::Sm3);
    for (key, value) in keys() {
        fresh.insert(&key, &value).unwrap();
    }
    for i in 0u32..50 {
        let key = format!("account-{}", i * 13);
        changed.insert(key.as_bytes(), b"changed").unwrap();
        fresh.insert(key.as_bytes(), b"changed").unwrap();
    }
    assert_eq!(changed.root_hash().unwrap(), fresh.root_hash().unwrap());
    for (key, value) in keys().into_iter().step_by(7) {
        assert_eq!(reopened.get(&key).unwrap(), Some(value.clone()));
        let proof = sm3.proof(&key).unwrap();
        assert_eq!(
            verify_proof_with(NodeHash::Sm3, root, &key, &proof).unwrap(),
            Some(value)
        );
        assert!(verify_proof_with(NodeHash::Keccak256, root, &key, &proof).is_err());
        // The same nodes: only the 32-byte hashes inside differ, so each node has the
        // length of its keccak twin.
        let twin = keccak.proof(&key).unwrap();
        let lengths =
            |proof: &[cairn_trie::Bytes]| proof.iter().map(|n| n.len()).collect::<Vec<_>>();
        assert_eq!(lengths(&proof), lengths(&twin));
    }
    // Absence is proven too, and a bent proof refused.
    let proof = sm3.proof(b"account-nobody").unwrap();
    assert_eq!(
        verify_proof_with(NodeHash::Sm3, root, b"account-nobody", &proof).unwrap(),
        None
    );
    let mut bent: Vec<Vec<u8>> = proof.iter().map(|n| n.to_vec()).collect();
    let last = bent.len() - 1;
    let end = bent[last].len() - 1;
    bent[last][end] ^= 1;
    assert!(verify_proof_with(NodeHash::Sm3, root, b"account-nobody", &bent).is_err());
}

#[test]
fn a_secure_sm3_trie_hashes_its_keys_with_sm3() {
    let mut trie = SecureTrie::new_with(MemoryNodeStore::default(), NodeHash::Sm3);
    trie.insert(b"dog", b"puppy").unwrap();
    let root = trie.root_hash().unwrap();
    let proof = trie.proof(b"dog").unwrap();
    assert_eq!(
        verify_secure_proof_with(NodeHash::Sm3, root, b"dog", &proof).unwrap(),
        Some(b"puppy".to_vec())
    );
    // Its only leaf sits at SM3("dog"): the plain trie keyed by that hash has the same root.
    let mut plain = Trie::new_with(MemoryNodeStore::default(), NodeHash::Sm3);
    plain
        .insert(NodeHash::Sm3.hash(b"dog").as_slice(), b"puppy")
        .unwrap();
    assert_eq!(plain.root_hash().unwrap(), root);
    assert_ne!(NodeHash::Sm3.hash(b"dog"), NodeHash::Keccak256.hash(b"dog"));
}
