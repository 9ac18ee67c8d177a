use std::sync::Arc;
use std::time::Instant;
use cairn_trie::{MemoryNodeStore, Trie};
use alloy_primitives::keccak256;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut pairs: Vec<([u8; 32], [u8; 32])> = Vec::with_capacity(n);
    let mut seed = [0u8; 32];
    for _ in 0..n {
        seed = keccak256(seed).0;
        let v = keccak256(seed).0;
        pairs.push((seed, v));
    }
    let t = Instant::now();
    let mut trie = Trie::new(MemoryNodeStore::new());
    for (k, v) in &pairs { trie.insert(k, v).unwrap(); }
    let ins = t.elapsed();
    let root = trie.root_hash().unwrap();
    println!("cairn: insert {:?} root {:?} total {:?} {root}", ins, t.elapsed() - ins, t.elapsed());

    let mut sorted = pairs.clone();
    sorted.sort();
    let t = Instant::now();
    let mut hb = alloy_trie::HashBuilder::default();
    for (k, v) in &sorted { hb.add_leaf(alloy_trie::Nibbles::unpack(k), v); }
    let r2 = hb.root();
    println!("hashbuilder (presorted): {:?} {r2}", t.elapsed());

    if std::env::args().nth(2).is_some() {
        let t = Instant::now();
        let mut et = eth_trie::EthTrie::new(Arc::new(eth_trie::MemoryDB::new(true)));
        use eth_trie::Trie as _;
        for (k, v) in &pairs { et.insert(k, v).unwrap(); }
        let r3 = et.root_hash().unwrap();
        println!("eth_trie: {:?} {:?}", t.elapsed(), r3);
    }

    // update benchmark: persisted trie, update 10k keys, commit
    let store = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(store.clone());
    for (k, v) in &pairs { trie.insert(k, v).unwrap(); }
    let t = Instant::now();
    let (root, batch) = trie.commit().unwrap();
    println!("commit all: {:?} nodes {} bytes {}", t.elapsed(), batch.len(), batch.encoded_len());
    let t = Instant::now();
    store.apply(&batch);
    println!("apply: {:?}", t.elapsed());
    drop(trie);
    let t = Instant::now();
    let mut trie = Trie::open(store.clone(), root).unwrap();
    for (k, _) in pairs.iter().step_by(n / 10_000) { trie.insert(k, &[7u8; 32]).unwrap(); }
    let (r, b) = trie.commit().unwrap();
    println!("update 10k + commit: {:?} nodes {} root {r}", t.elapsed(), b.len());
}
