//! Behaviour of the public API that other Cairn crates rely on: commit batches, empty values,
//! the embedding boundary, read-only lookups and the cached store.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_trie::{
    B256, CachedNodeStore, ChildRef, DecodedNode, EMPTY_ROOT, MemoryNodeStore, NodeStore, Trie,
    decode_node, keccak256,
};

fn key(i: u32) -> B256 {
    keccak256(i.to_be_bytes())
}

#[test]
fn empty_value_is_deletion() {
    let mut trie = Trie::new(MemoryNodeStore::new());
    trie.insert(b"a", b"1").expect("insert");
    let one_key = trie.root_hash().expect("root");
    trie.insert(b"b", b"2").expect("insert");
    trie.insert(b"b", b"").expect("insert empty");
    assert_eq!(trie.get(b"b").expect("get"), None);
    assert_eq!(trie.root_hash().expect("root"), one_key);
    trie.insert(b"a", b"").expect("insert empty");
    assert_eq!(trie.root_hash().expect("root"), EMPTY_ROOT);
}

#[test]
fn empty_trie_commits_nothing() {
    let mut trie = Trie::new(MemoryNodeStore::new());
    let (root, batch) = trie.commit().expect("commit");
    assert_eq!(root, EMPTY_ROOT);
    assert!(batch.is_empty());
    let reopened = Trie::open(MemoryNodeStore::new(), EMPTY_ROOT).expect("open empty");
    assert_eq!(reopened.iter().count(), 0);
}

/// A one-leaf trie's root node is far under 32 bytes, yet it is hashed (not embedded) and
/// is in the batch, so it can be reopened.
#[test]
fn small_root_node_is_hashed_and_committed() {
    let store = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(store.clone());
    trie.insert(b"k", b"v").expect("insert");
    let (root, batch) = trie.commit().expect("commit");
    let nodes: Vec<(B256, cairn_trie::Bytes)> = batch.iter().collect();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].0, root);
    assert_eq!(keccak256(&nodes[0].1), root);
    assert!(nodes[0].1.len() < 32);
    store.apply(&batch);
    let reopened = Trie::open(store, root).expect("open");
    assert_eq!(reopened.get(b"k").expect("get"), Some(b"v".to_vec()));
}

/// Two one-byte keys under a branch: each child leaf encodes to `value.len() + 3` bytes, so
/// a 28-byte value gives a 31-byte leaf (embedded in the branch) and a 29-byte value a
/// 32-byte leaf (referenced by hash and stored on its own).
#[test]
fn embedding_boundary_is_32_bytes() {
    for (value_len, embedded) in [(28usize, true), (29, false)] {
        let mut trie = Trie::new(MemoryNodeStore::new());
        trie.insert(&[0x01], &vec![0x5a; value_len])
            .expect("insert");
        trie.insert(&[0x02], &vec![0x5a; value_len])
            .expect("insert");
        let (root, batch) = trie.commit().expect("commit");
        let stored: BTreeMap<B256, cairn_trie::Bytes> = batch.iter().collect();
        // Root: extension over nibble 0 to a branch with leaves at slots 1 and 2.
        let DecodedNode::Extension { child, .. } = decode_node(&stored[&root]).expect("root")
        else {
            panic!("root should be an extension");
        };
        let branch_bytes = match child {
            ChildRef::Inline(bytes) => bytes.to_vec(),
            ChildRef::Hash(hash) => stored[&hash].to_vec(),
            ChildRef::Empty => panic!("extension without child"),
        };
        let DecodedNode::Branch { children, .. } = decode_node(&branch_bytes).expect("branch")
        else {
            panic!("expected a branch");
        };
        match children[1] {
            ChildRef::Inline(leaf) => {
                assert!(
                    embedded,
                    "{value_len}-byte value: leaf unexpectedly embedded"
                );
                assert_eq!(leaf.len(), 31);
            }
            ChildRef::Hash(hash) => {
                assert!(
                    !embedded,
                    "{value_len}-byte value: leaf unexpectedly hashed"
                );
                assert_eq!(stored[&hash].len(), 32);
            }
            ChildRef::Empty => panic!("missing leaf"),
        }
        assert_eq!(
            root,
            common::reference_root(&BTreeMap::from([
                (vec![0x01], vec![0x5a; value_len]),
                (vec![0x02], vec![0x5a; value_len]),
            ]))
        );
    }
}

/// After a commit, changing one key produces only the nodes on that key's path.
#[test]
fn commit_batch_holds_only_new_nodes() {
    let store = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(store.clone());
    for i in 0..2_000 {
        trie.insert(key(i).as_slice(), &[7u8; 40]).expect("insert");
    }
    let (_, batch) = trie.commit().expect("commit");
    store.apply(&batch);
    let stored_before = store.len();

    trie.insert(key(1_234).as_slice(), &[9u8; 40])
        .expect("update");
    let path_len = trie.proof(key(1_234).as_slice()).expect("proof").len();
    let (root, batch) = trie.commit().expect("commit");
    assert!(
        !batch.is_empty() && batch.len() <= path_len,
        "{} nodes for a path of {path_len}",
        batch.len()
    );
    for (hash, node) in &batch {
        assert_eq!(keccak256(&node), hash);
        assert_eq!(
            store.get_node(&hash).expect("read"),
            None,
            "node {hash} was already stored"
        );
    }
    store.apply(&batch);
    assert_eq!(store.len(), stored_before + batch.len());
    let (again, empty) = trie.commit().expect("commit");
    assert_eq!((again, empty.len()), (root, 0));
}

/// `get` reads through the store without loading nodes into the trie; `insert` keeps them.
#[test]
fn get_does_not_load_nodes() {
    let store = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(store.clone());
    for i in 0..500 {
        trie.insert(key(i).as_slice(), &[1u8; 33]).expect("insert");
    }
    let (root, batch) = trie.commit().expect("commit");
    store.apply(&batch);
    let mut reopened = Trie::open(store, root).expect("open");
    let resident = reopened.resident_nodes();
    for i in 0..500 {
        assert_eq!(
            reopened.get(key(i).as_slice()).expect("get"),
            Some(vec![1u8; 33])
        );
    }
    assert_eq!(reopened.resident_nodes(), resident);
    reopened.insert(key(0).as_slice(), b"x").expect("insert");
    assert!(reopened.resident_nodes() > resident);
}

#[test]
fn cached_store_serves_a_trie() {
    let backend = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(backend.clone());
    for i in 0..300 {
        trie.insert(key(i).as_slice(), &i.to_be_bytes())
            .expect("insert");
    }
    let (root, batch) = trie.commit().expect("commit");
    backend.apply(&batch);
    let cached = Arc::new(CachedNodeStore::with_byte_capacity(backend, 64 * 1024));
    let reopened = Trie::open(cached.clone(), root).expect("open");
    for i in 0..300 {
        assert_eq!(
            reopened.get(key(i).as_slice()).expect("get"),
            Some(i.to_be_bytes().to_vec())
        );
    }
    assert!(cached.cached_len() > 0);
    let again = Trie::open(cached, root).expect("reopen");
    assert_eq!(again.iter().count(), 300);
}
