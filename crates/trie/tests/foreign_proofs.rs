//! Proofs made by other Ethereum implementations verify here, and still only when they prove
//! what they claim.
//!
//! `vectors/pytrie_proofs.json` was generated once by py-trie 4.0.0 (the Ethereum
//! Foundation's Python trie) with `vectors/make_pytrie_proofs.py`, which checked every proof
//! with py-trie's own verifier. py-trie lists a node embedded in its parent (under 32 bytes)
//! as an entry of its own as well; go-ethereum's `VerifyProof` reads a proof as a set of
//! nodes looked up by hash, so order and extra nodes do not matter. Both kinds must verify.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alloy_primitives::{B256, Bytes};
use cairn_trie::{MemoryNodeStore, ProofError, Trie, keccak256, verify_proof};
use serde_json::Value;

fn hex_bytes(value: &Value) -> Vec<u8> {
    let text = value.as_str().expect("a hex string");
    hex::decode(text.trim_start_matches("0x")).expect("hex")
}

struct Vector {
    trie: String,
    root: B256,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
    proof: Vec<Vec<u8>>,
}

fn pytrie_vectors() -> Vec<Vector> {
    let text = include_str!("vectors/pytrie_proofs.json");
    let document: Value = serde_json::from_str(text).expect("vector JSON");
    assert!(
        document["generator"]
            .as_str()
            .unwrap()
            .starts_with("py-trie")
    );
    let mut vectors = Vec::new();
    for trie in document["tries"].as_array().unwrap() {
        let root = B256::from_slice(&hex_bytes(&trie["root"]));
        for proof in trie["proofs"].as_array().unwrap() {
            vectors.push(Vector {
                trie: trie["name"].as_str().unwrap().to_string(),
                root,
                key: hex_bytes(&proof["key"]),
                value: (!proof["value"].is_null()).then(|| hex_bytes(&proof["value"])),
                proof: proof["proof"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(hex_bytes)
                    .collect(),
            });
        }
    }
    vectors
}

#[test]
fn every_pytrie_proof_verifies_to_its_value() {
    let vectors = pytrie_vectors();
    assert!(vectors.len() >= 100, "{} vectors", vectors.len());
    let mut with_embedded_entries = 0;
    for vector in &vectors {
        if vector.proof.iter().skip(1).any(|node| node.len() < 32) {
            with_embedded_entries += 1;
        }
        assert_eq!(
            verify_proof(vector.root, &vector.key, &vector.proof),
            Ok(vector.value.clone()),
            "{}: key 0x{}",
            vector.trie,
            hex::encode(&vector.key)
        );
    }
    // The vectors exercise what used to be refused: embedded nodes listed again.
    assert!(with_embedded_entries >= 10, "{with_embedded_entries}");
}

#[test]
fn pytrie_proofs_prove_nothing_else() {
    for vector in pytrie_vectors() {
        let label = format!("{}: key 0x{}", vector.trie, hex::encode(&vector.key));
        // Another root.
        let mut other_root = vector.root;
        other_root.0[31] ^= 1;
        assert!(
            verify_proof(other_root, &vector.key, &vector.proof).is_err(),
            "{label}: wrong root"
        );
        // Without any one hash-referenced node the path cannot be walked.
        for (index, node) in vector.proof.iter().enumerate() {
            if index > 0 && node.len() < 32 {
                continue;
            }
            let mut truncated = vector.proof.clone();
            truncated.remove(index);
            assert!(
                verify_proof(vector.root, &vector.key, &truncated).is_err(),
                "{label}: node {index} removed"
            );
            // A changed byte changes the node's hash, so the path no longer finds it.
            let mut tampered = vector.proof.clone();
            let at = tampered[index].len() / 2;
            tampered[index][at] ^= 0x40;
            assert!(
                verify_proof(vector.root, &vector.key, &tampered).is_err(),
                "{label}: node {index} tampered"
            );
        }
        // A present value is never proven for a key that differs in its last nibble.
        if let (Some(value), Some(last)) = (&vector.value, vector.key.last()) {
            let mut other_key = vector.key.clone();
            *other_key.last_mut().unwrap() = last ^ 0x01;
            assert_ne!(
                verify_proof(vector.root, &other_key, &vector.proof),
                Ok(Some(value.clone())),
                "{label}: wrong key"
            );
        }
    }
}

#[test]
fn cairn_builds_the_roots_pytrie_built() {
    // Rebuild each trie from the (key, value) pairs its present-key proofs reveal, where the
    // vectors prove every key of the trie.
    let document: Value = serde_json::from_str(include_str!("vectors/pytrie_proofs.json")).unwrap();
    let mut checked = 0;
    for trie in document["tries"].as_array().unwrap() {
        let name = trie["name"].as_str().unwrap();
        let complete = ["small_embedded", "single_key", "prefix_keys", "empty"];
        if !complete.iter().any(|prefix| name.starts_with(prefix)) {
            continue;
        }
        let mut ours = Trie::new(MemoryNodeStore::new());
        for proof in trie["proofs"].as_array().unwrap() {
            if !proof["value"].is_null() {
                ours.insert(&hex_bytes(&proof["key"]), &hex_bytes(&proof["value"]))
                    .unwrap();
            }
        }
        assert_eq!(
            ours.root_hash().unwrap(),
            B256::from_slice(&hex_bytes(&trie["root"])),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!(checked, 6);
}

/// go-ethereum's form: any order, nodes from other proofs of the same trie mixed in.
#[test]
fn proofs_are_sets_of_nodes_found_by_hash() {
    let mut trie = Trie::new(MemoryNodeStore::new());
    let keys: Vec<Vec<u8>> = (0u32..300)
        .map(|i| keccak256(i.to_be_bytes())[..(i as usize % 7) + 1].to_vec())
        .collect();
    for (i, key) in keys.iter().enumerate() {
        trie.insert(key, &vec![i as u8; i % 50 + 1]).unwrap();
    }
    let root = trie.root_hash().unwrap();
    let mut pool: Vec<Bytes> = Vec::new();
    for key in &keys[..40] {
        pool.extend(trie.proof(key).unwrap());
    }
    for (i, key) in keys.iter().enumerate().take(60) {
        let proof = trie.proof(key).unwrap();
        let expected = trie.get(key).unwrap();
        let mut shuffled = proof.clone();
        shuffled.reverse();
        shuffled.extend(pool.iter().skip(i).step_by(3).cloned());
        let turn = i % shuffled.len();
        shuffled.rotate_left(turn);
        assert_eq!(verify_proof(root, key, &shuffled), Ok(expected.clone()));
        // The union of many proofs proves every key it covers.
        if i < 40 {
            assert_eq!(verify_proof(root, key, &pool), Ok(expected));
        }
    }
    // A node referenced by hash that the set lacks is named.
    let proof = trie.proof(&keys[0]).unwrap();
    let missing = keccak256(&proof[1]);
    assert_eq!(
        verify_proof(root, &keys[0], &[proof[0].clone()]),
        Err(ProofError::MissingNode {
            depth: 1,
            hash: missing
        })
    );
}
