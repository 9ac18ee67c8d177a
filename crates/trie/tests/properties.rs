//! Property tests against a `BTreeMap` model, with roots checked against two references that
//! share no code with the crate: the appendix-D definition in `common` and alloy-trie's
//! `HashBuilder`. Proofs are also checked with alloy-trie's verifier.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy_trie::Nibbles;
use cairn_trie::{
    B256, Bytes, EMPTY_ROOT, MemoryNodeStore, ProofError, SecureTrie, Trie, verify_proof,
};
use common::{hash_builder_root, reference_root};
use proptest::prelude::*;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Keys over a tiny alphabet and short lengths, so keys share prefixes, some keys are
/// prefixes of others (branch values), and many nodes are small enough to be embedded.
fn small_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![0x00u8, 0x01, 0x10, 0x11, 0xab, 0xff]),
        0..4,
    )
}

/// Values from 1 byte (embedded nodes) to past 32 bytes (hashed nodes).
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..4),
        prop::collection::vec(any::<u8>(), 1..48),
    ]
}

/// Inserts (`Some`) and deletes (`None`; also produced by empty values).
fn ops(
    key: impl Strategy<Value = Vec<u8>>,
) -> impl Strategy<Value = Vec<(Vec<u8>, Option<Vec<u8>>)>> {
    prop::collection::vec((key, prop::option::weighted(0.75, value())), 0..40)
}

/// 32-byte keys drawn around a few shared prefixes, for comparison with `HashBuilder`.
fn hashed_key() -> impl Strategy<Value = Vec<u8>> {
    (0..4usize, prop::collection::vec(any::<u8>(), 32)).prop_map(|(shared, mut key)| {
        let prefix = [0x5au8, 0x5a, 0x5b];
        let shared = shared.min(prefix.len());
        key[..shared].copy_from_slice(&prefix[..shared]);
        key
    })
}

fn apply(
    trie: &mut Trie<impl cairn_trie::NodeStore>,
    model: &mut Model,
    ops: &[(Vec<u8>, Option<Vec<u8>>)],
) {
    for (key, value) in ops {
        match value {
            Some(value) => {
                trie.insert(key, value).expect("insert");
                model.insert(key.clone(), value.clone());
            }
            None => {
                trie.remove(key).expect("remove");
                model.remove(key);
            }
        }
    }
}

fn check_reads(trie: &Trie<impl cairn_trie::NodeStore>, model: &Model, probes: &[Vec<u8>]) {
    for (key, value) in model {
        assert_eq!(
            trie.get(key).expect("get"),
            Some(value.clone()),
            "key {key:02x?}"
        );
    }
    for key in probes {
        assert_eq!(
            trie.get(key).expect("get"),
            model.get(key).cloned(),
            "probe {key:02x?}"
        );
    }
    let listed: Vec<(Vec<u8>, Vec<u8>)> = trie.iter().collect::<Result<_, _>>().expect("iterate");
    let expected: Vec<(Vec<u8>, Vec<u8>)> =
        model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(listed, expected, "iteration order and content");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn root_matches_appendix_d_reference(ops in ops(small_key()), probes in prop::collection::vec(small_key(), 0..8)) {
        let mut trie = Trie::new(MemoryNodeStore::new());
        let mut model = Model::new();
        apply(&mut trie, &mut model, &ops);
        prop_assert_eq!(trie.root_hash().expect("root"), reference_root(&model));
        check_reads(&trie, &model, &probes);
    }

    #[test]
    fn root_matches_hash_builder(ops in ops(hashed_key())) {
        let mut trie = Trie::new(MemoryNodeStore::new());
        let mut model = Model::new();
        apply(&mut trie, &mut model, &ops);
        prop_assert_eq!(trie.root_hash().expect("root"), hash_builder_root(&model));
    }

    #[test]
    fn root_is_independent_of_insertion_order(
        (pairs, shuffled) in prop::collection::btree_map(small_key(), value(), 0..24)
            .prop_flat_map(|map| {
                let pairs: Vec<(Vec<u8>, Vec<u8>)> = map.into_iter().collect();
                (Just(pairs.clone()), Just(pairs).prop_shuffle())
            })
    ) {
        let mut forward = Trie::new(MemoryNodeStore::new());
        for (key, value) in &pairs {
            forward.insert(key, value).expect("insert");
        }
        let mut reordered = Trie::new(MemoryNodeStore::new());
        for (key, value) in &shuffled {
            reordered.insert(key, value).expect("insert");
        }
        prop_assert_eq!(forward.root_hash().expect("root"), reordered.root_hash().expect("root"));
    }

    #[test]
    fn deleting_inserted_keys_restores_root(
        base in prop::collection::btree_map(small_key(), value(), 0..16),
        extra in prop::collection::btree_map(small_key(), value(), 1..16),
        commit_between in any::<bool>(),
    ) {
        let store = Arc::new(MemoryNodeStore::new());
        let mut trie = Trie::new(store.clone());
        for (key, value) in &base {
            trie.insert(key, value).expect("insert");
        }
        let before = trie.root_hash().expect("root");
        if commit_between {
            let (root, batch) = trie.commit().expect("commit");
            store.apply(&batch);
            trie = Trie::open(store.clone(), root).expect("open");
        }
        let added: Vec<&Vec<u8>> = extra.keys().filter(|key| !base.contains_key(*key)).collect();
        for key in &added {
            trie.insert(key, &extra[*key]).expect("insert");
        }
        for key in added.iter().rev() {
            trie.remove(key).expect("remove");
        }
        prop_assert_eq!(trie.root_hash().expect("root"), before);
    }

    #[test]
    fn commit_then_open_preserves_contents_and_history(
        first in ops(small_key()),
        second in ops(small_key()),
        probes in prop::collection::vec(small_key(), 0..8),
    ) {
        let store = Arc::new(MemoryNodeStore::new());
        let mut trie = Trie::new(store.clone());
        let mut model = Model::new();
        apply(&mut trie, &mut model, &first);
        let (first_root, batch) = trie.commit().expect("commit");
        prop_assert_eq!(first_root, reference_root(&model));
        store.apply(&batch);
        let (again, empty) = trie.commit().expect("second commit");
        prop_assert_eq!(again, first_root);
        prop_assert!(empty.is_empty(), "an unchanged trie commits no nodes");
        let first_model = model.clone();

        let mut reopened = Trie::open(store.clone(), first_root).expect("open");
        prop_assert_eq!(reopened.root_hash().expect("root"), first_root);
        check_reads(&reopened, &model, &probes);

        apply(&mut reopened, &mut model, &second);
        // Reads and proofs over a mix of changed, loaded and still-stored nodes.
        check_reads(&reopened, &model, &probes);
        let mixed_root = reopened.root_hash().expect("root");
        for key in model.keys().chain(&probes) {
            let proof = reopened.proof(key).expect("proof");
            prop_assert_eq!(verify_proof(mixed_root, key, &proof).expect("valid"), model.get(key).cloned());
        }
        let (second_root, batch) = reopened.commit().expect("commit");
        prop_assert_eq!(second_root, reference_root(&model));
        store.apply(&batch);
        for (hash, node) in &batch {
            prop_assert_eq!(alloy_primitives::keccak256(&node), hash);
        }

        let latest = Trie::open(store.clone(), second_root).expect("open latest");
        check_reads(&latest, &model, &probes);
        let historic = Trie::open(store.clone(), first_root).expect("open earlier root");
        check_reads(&historic, &first_model, &probes);
    }

    #[test]
    fn proofs_prove_presence_and_absence(
        model in prop::collection::btree_map(small_key(), value(), 0..24),
        absent in prop::collection::vec(small_key(), 0..8),
        reopen in any::<bool>(),
    ) {
        let store = Arc::new(MemoryNodeStore::new());
        let mut trie = Trie::new(store.clone());
        for (key, value) in &model {
            trie.insert(key, value).expect("insert");
        }
        let (root, batch) = trie.commit().expect("commit");
        store.apply(&batch);
        if reopen {
            // Proofs built from stored (not resident) nodes.
            trie = Trie::open(store.clone(), root).expect("open");
        }
        for key in model.keys().chain(&absent) {
            let proof = trie.proof(key).expect("proof");
            prop_assert_eq!(verify_proof(root, key, &proof).expect("valid proof"), model.get(key).cloned());
        }
    }

    #[test]
    fn proofs_agree_with_alloy_trie_verifier(
        model in prop::collection::btree_map(hashed_key(), value(), 0..24),
        absent in prop::collection::vec(hashed_key(), 1..4),
    ) {
        let mut trie = Trie::new(MemoryNodeStore::new());
        for (key, value) in &model {
            trie.insert(key, value).expect("insert");
        }
        let root = trie.root_hash().expect("root");
        for key in model.keys().chain(&absent) {
            let proof = trie.proof(key).expect("proof");
            let expected = model.get(key).cloned();
            prop_assert_eq!(verify_proof(root, key, &proof).expect("valid proof"), expected.clone());
            let result = alloy_trie::proof::verify_proof(root, Nibbles::unpack(key), expected, &proof);
            prop_assert!(result.is_ok(), "alloy-trie rejects our proof: {:?}", result);
        }
    }

    #[test]
    fn tampered_proofs_are_rejected(
        model in prop::collection::btree_map(small_key(), value(), 1..24),
        target in small_key(),
        node_pick in any::<prop::sample::Index>(),
        byte_pick in any::<prop::sample::Index>(),
        flip in 1..=255u8,
        extra in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut trie = Trie::new(MemoryNodeStore::new());
        for (key, value) in &model {
            trie.insert(key, value).expect("insert");
        }
        let root = trie.root_hash().expect("root");
        let proof = trie.proof(&target).expect("proof");

        let mut flipped = proof.clone();
        let node = node_pick.index(flipped.len());
        let mut bytes = flipped[node].to_vec();
        let byte = byte_pick.index(bytes.len());
        bytes[byte] ^= flip;
        flipped[node] = Bytes::from(bytes);
        prop_assert!(verify_proof(root, &target, &flipped).is_err(), "flipped byte accepted");

        let truth = verify_proof(root, &target, &proof).expect("own proof");
        if proof.len() > 1 {
            let mut dropped = proof.clone();
            dropped.remove(node_pick.index(proof.len()));
            prop_assert!(verify_proof(root, &target, &dropped).is_err(), "dropped node accepted");

            // A proof is a set of nodes found by hash (go-ethereum's rule): order is free.
            let mut swapped = proof.clone();
            let a = node_pick.index(proof.len());
            let b = (a + 1 + byte_pick.index(proof.len() - 1)) % proof.len();
            swapped.swap(a, b);
            prop_assert_eq!(verify_proof(root, &target, &swapped), Ok(truth.clone()));
        }

        // Nodes off the path, junk or repeated, change nothing.
        let mut extended = proof.clone();
        extended.push(Bytes::from(extra));
        prop_assert_eq!(verify_proof(root, &target, &extended), Ok(truth.clone()));
        let mut duplicated = proof.clone();
        duplicated.push(proof[proof.len() - 1].clone());
        prop_assert_eq!(verify_proof(root, &target, &duplicated), Ok(truth));

        let wrong_root = B256::from(alloy_primitives::U256::from_be_bytes(root.0) ^ alloy_primitives::U256::from(1));
        prop_assert!(verify_proof(wrong_root, &target, &proof).is_err(), "wrong root accepted");
    }

    /// A batch (duplicate keys, removals as empty values, keys that prefix others) gives the
    /// trie that the same writes one by one give, on an empty trie and on a stored one.
    #[test]
    fn insert_batch_matches_inserting_one_by_one(
        first in ops(small_key()),
        second in ops(small_key()),
        probes in prop::collection::vec(small_key(), 0..8),
    ) {
        let as_writes = |ops: &[(Vec<u8>, Option<Vec<u8>>)]| -> Vec<(Vec<u8>, Vec<u8>)> {
            ops.iter().map(|(key, value)| (key.clone(), value.clone().unwrap_or_default())).collect()
        };
        let store = Arc::new(MemoryNodeStore::new());
        let mut batched = Trie::new(store.clone());
        let mut model = Model::new();
        batched.insert_batch(as_writes(&first)).expect("batch");
        apply(&mut Trie::new(MemoryNodeStore::new()), &mut model, &first);
        prop_assert_eq!(batched.root_hash().expect("root"), reference_root(&model));
        check_reads(&batched, &model, &probes);

        // The second batch lands on a reopened trie whose nodes are loaded as it goes.
        let (root, nodes) = batched.commit().expect("commit");
        store.apply(&nodes);
        let mut reopened = Trie::open(store.clone(), root).expect("open");
        reopened.insert_batch(as_writes(&second)).expect("batch");
        apply(&mut Trie::new(MemoryNodeStore::new()), &mut model, &second);
        prop_assert_eq!(reopened.root_hash().expect("root"), reference_root(&model));
        check_reads(&reopened, &model, &probes);

        let mut secure = SecureTrie::new(MemoryNodeStore::new());
        secure.insert_batch(as_writes(&first)).expect("batch");
        let mut one_by_one = SecureTrie::new(MemoryNodeStore::new());
        for (key, value) in as_writes(&first) {
            one_by_one.insert(&key, &value).expect("insert");
        }
        prop_assert_eq!(secure.root_hash().expect("root"), one_by_one.root_hash().expect("root"));
    }

    #[test]
    fn secure_trie_is_the_trie_of_hashed_keys(ops in ops(small_key())) {
        let mut secure = SecureTrie::new(MemoryNodeStore::new());
        let mut plain = Trie::new(MemoryNodeStore::new());
        let mut model = Model::new();
        for (key, value) in &ops {
            let hashed = alloy_primitives::keccak256(key).to_vec();
            match value {
                Some(value) => {
                    secure.insert(key, value).expect("insert");
                    plain.insert(&hashed, value).expect("insert");
                    model.insert(hashed, value.clone());
                }
                None => {
                    secure.remove(key).expect("remove");
                    plain.remove(&hashed).expect("remove");
                    model.remove(&hashed);
                }
            }
        }
        let root = secure.root_hash().expect("root");
        prop_assert_eq!(root, plain.root_hash().expect("root"));
        prop_assert_eq!(root, hash_builder_root(&model));
        for (key, value) in &ops {
            let expected = model.get(alloy_primitives::keccak256(key).as_slice()).cloned();
            prop_assert_eq!(secure.get(key).expect("get"), expected.clone());
            let proof = secure.proof(key).expect("proof");
            prop_assert_eq!(cairn_trie::verify_secure_proof(root, key, &proof).expect("proof"), expected);
            let _ = value;
        }
        let listed: Vec<(Vec<u8>, Vec<u8>)> = secure.iter().collect::<Result<_, _>>().expect("iterate");
        prop_assert_eq!(listed, model.into_iter().collect::<Vec<_>>());
    }
}

#[test]
fn empty_trie_proofs() {
    let mut trie = Trie::new(MemoryNodeStore::new());
    let proof = trie.proof(b"anything").expect("proof");
    assert_eq!(proof, vec![Bytes::from_static(&[0x80])]);
    assert_eq!(verify_proof(EMPTY_ROOT, b"anything", &proof), Ok(None));
    assert_eq!(
        verify_proof(EMPTY_ROOT, b"anything", &[] as &[Bytes]),
        Ok(None)
    );
    assert!(matches!(
        verify_proof(B256::repeat_byte(1), b"anything", &[] as &[Bytes]),
        Err(ProofError::EmptyProof(_))
    ));
    assert_eq!(
        verify_proof(
            EMPTY_ROOT,
            b"k",
            &[Bytes::from_static(&[0x80]), Bytes::from_static(&[0x80])]
        ),
        Ok(None)
    );
    // The empty node proves nothing about a non-empty root.
    assert!(matches!(
        verify_proof(B256::repeat_byte(1), b"k", &[Bytes::from_static(&[0x80])]),
        Err(ProofError::MissingNode { depth: 0, .. })
    ));
}

#[test]
fn hash_builder_agrees_on_thousands_of_random_keys() {
    // Deterministic pseudo-random keys, large enough for multi-level branches and extensions.
    let mut model = Model::new();
    let mut trie = Trie::new(MemoryNodeStore::new());
    let mut seed = B256::ZERO;
    for i in 0..5_000u32 {
        seed = alloy_primitives::keccak256(seed);
        let value = [seed.as_slice(), seed.as_slice()].concat()[..1 + (i as usize % 40)].to_vec();
        trie.insert(seed.as_slice(), &value).expect("insert");
        model.insert(seed.to_vec(), value);
    }
    assert_eq!(trie.root_hash().expect("root"), hash_builder_root(&model));
    // Remove every third key and compare again, after a commit and reopen.
    let store = Arc::new(MemoryNodeStore::new());
    let mut persisted = Trie::new(store.clone());
    for (key, value) in &model {
        persisted.insert(key, value).expect("insert");
    }
    let (root, batch) = persisted.commit().expect("commit");
    store.apply(&batch);
    let mut reopened = Trie::open(store.clone(), root).expect("open");
    let removed: Vec<Vec<u8>> = model.keys().step_by(3).cloned().collect();
    for key in &removed {
        reopened.remove(key).expect("remove");
        model.remove(key);
    }
    assert_eq!(
        reopened.root_hash().expect("root"),
        hash_builder_root(&model)
    );
}

/// Keys of 1 to 6 bytes over the small alphabet: enough distinct keys for batches past the
/// parallel-hashing threshold (1,024), with the same shared prefixes, extensions and branch
/// values.
fn medium_key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop::sample::select(vec![0x00u8, 0x01, 0x10, 0x11, 0xab, 0xff]),
        1..7,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Batches large enough to be hashed on several threads, on a stored trie of which a part
    /// is already loaded, give the model's root and contents.
    #[test]
    fn large_batches_on_stored_tries_match_the_model(
        stored in prop::collection::vec((medium_key(), value()), 1..3_000),
        touched in ops(medium_key()),
        batch in prop::collection::vec(
            (medium_key(), prop::option::weighted(0.85, value())),
            1_100..2_500,
        ),
    ) {
        let store = Arc::new(MemoryNodeStore::new());
        let mut model = Model::new();
        let mut trie = Trie::new(store.clone());
        for (key, value) in &stored {
            trie.insert(key, value).expect("insert");
            model.insert(key.clone(), value.clone());
        }
        let (root, nodes) = trie.commit().expect("commit");
        store.apply(&nodes);
        let mut reopened = Trie::open(store.clone(), root).expect("open");
        // Some paths are loaded (and changed) before the batch, so the batch meets both nodes
        // still in the store and nodes already in memory.
        apply(&mut reopened, &mut model, &touched);
        let writes: Vec<(Vec<u8>, Vec<u8>)> = batch
            .iter()
            .map(|(key, value)| (key.clone(), value.clone().unwrap_or_default()))
            .collect();
        reopened.insert_batch(writes.iter().map(|(key, value)| (key, value))).expect("batch");
        for (key, value) in &writes {
            if value.is_empty() {
                model.remove(key);
            } else {
                model.insert(key.clone(), value.clone());
            }
        }
        prop_assert_eq!(reopened.root_hash().expect("root"), reference_root(&model));
        check_reads(&reopened, &model, &[]);
    }
}

/// A store that records which nodes were read.
#[derive(Default)]
struct RecordingStore {
    nodes: MemoryNodeStore,
    reads: std::sync::Mutex<Vec<B256>>,
}

impl RecordingStore {
    /// The hashes read since the last call, sorted.
    fn take_reads(&self) -> Vec<B256> {
        let mut reads = std::mem::take(&mut *self.reads.lock().expect("lock"));
        reads.sort_unstable();
        reads
    }
}

impl cairn_trie::NodeStore for RecordingStore {
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, cairn_trie::NodeStoreError> {
        self.reads.lock().expect("lock").push(*hash);
        self.nodes.get_node(hash)
    }
}

/// A batch on a stored trie reads each stored node on its keys' paths exactly once: the same
/// nodes that inserting the writes one by one, in their own order, reads.
#[test]
fn a_batch_reads_each_node_it_needs_once() {
    let key_of = |i: u32| alloy_primitives::keccak256(i.to_be_bytes());
    let store = Arc::new(RecordingStore::default());
    let mut trie = Trie::new(MemoryNodeStore::new());
    for i in 0..20_000u32 {
        trie.insert(key_of(i).as_slice(), &i.to_be_bytes())
            .expect("insert");
    }
    let (root, nodes) = trie.commit().expect("commit");
    store.nodes.apply(&nodes);
    // Half the writes change stored keys, half add new ones.
    let writes: Vec<(B256, [u8; 8])> = (0..4_000u32)
        .map(|i| (key_of(i * 5 + (i % 2) * 30_000), u64::from(i).to_be_bytes()))
        .collect();

    let mut one_by_one = Trie::open(store.clone(), root).expect("open");
    for (key, value) in &writes {
        one_by_one.insert(key.as_slice(), value).expect("insert");
    }
    let expected_root = one_by_one.root_hash().expect("root");
    let mut needed = store.take_reads();
    needed.dedup();

    let mut batched = Trie::open(store.clone(), root).expect("open");
    batched
        .insert_batch(writes.iter().map(|(key, value)| (key, value)))
        .expect("batch");
    assert_eq!(batched.root_hash().expect("root"), expected_root);
    let read = store.take_reads();
    assert_eq!(read, needed, "the batch read other nodes, or some twice");
    assert!(needed.len() > writes.len(), "{} nodes read", needed.len());
}

/// A batch large enough for the parallel hashing path, with repeated keys, equals
/// `HashBuilder` on the last value written to each key.
#[test]
fn large_batch_matches_hash_builder() {
    let mut model = Model::new();
    let mut writes: Vec<(B256, Vec<u8>)> = Vec::new();
    let mut seed = B256::repeat_byte(0x17);
    for i in 0..30_000u32 {
        seed = alloy_primitives::keccak256(seed);
        // Every fifth write reuses an earlier key, so the batch holds superseded writes.
        let key = if i % 5 == 4 {
            writes[(i as usize * 7) % writes.len()].0
        } else {
            seed
        };
        let value = seed[..1 + (i as usize % 32)].to_vec();
        model.insert(key.to_vec(), value.clone());
        writes.push((key, value));
    }
    let mut trie = Trie::new(MemoryNodeStore::new());
    trie.insert_batch(writes.iter().map(|(key, value)| (key, value)))
        .expect("batch");
    assert_eq!(trie.root_hash().expect("root"), hash_builder_root(&model));
}

/// Enough updates to take the multi-threaded hashing and commit paths.
#[test]
fn parallel_hashing_and_commit_match_hash_builder() {
    let mut model = Model::new();
    let store = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(store.clone());
    let mut seed = B256::repeat_byte(0x42);
    for i in 0..20_000u32 {
        seed = alloy_primitives::keccak256(seed);
        let value = seed[..1 + (i as usize % 32)].to_vec();
        trie.insert(seed.as_slice(), &value).expect("insert");
        model.insert(seed.to_vec(), value);
    }
    let expected = hash_builder_root(&model);
    assert_eq!(trie.root_hash().expect("root"), expected);
    let (root, batch) = trie.commit().expect("commit");
    assert_eq!(root, expected);
    for (hash, node) in &batch {
        assert_eq!(alloy_primitives::keccak256(&node), hash);
    }
    store.apply(&batch);

    // A second large round on the reopened trie: updates, removals, then a direct commit
    // (hash and collect in one parallel pass).
    let mut reopened = Trie::open(store.clone(), root).expect("open");
    let keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    for (i, key) in keys.iter().enumerate() {
        if i % 2 == 0 {
            reopened.remove(key).expect("remove");
            model.remove(key);
        } else {
            reopened.insert(key, b"updated").expect("insert");
            model.insert(key.clone(), b"updated".to_vec());
        }
    }
    let (root, batch) = reopened.commit().expect("commit");
    assert_eq!(root, hash_builder_root(&model));
    store.apply(&batch);
    let latest = Trie::open(store.clone(), root).expect("open");
    for (key, value) in model.iter().step_by(97) {
        assert_eq!(latest.get(key).expect("get").as_ref(), Some(value));
    }
}
