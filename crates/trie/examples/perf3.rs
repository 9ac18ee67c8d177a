use std::sync::Arc;
use std::time::Instant;
use cairn_trie::{MemoryNodeStore, Trie};
use alloy_primitives::keccak256;
use eth_trie::Trie as _;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut pairs: Vec<([u8; 32], [u8; 32])> = Vec::with_capacity(n);
    let mut seed = [0u8; 32];
    for _ in 0..n {
        seed = keccak256(seed).0;
        let v = keccak256(seed).0;
        pairs.push((seed, v));
    }
    let mut updates: Vec<[u8; 32]> = Vec::new();
    let mut s2 = [1u8; 32];
    for i in 0..10_000 { s2 = keccak256(s2).0; updates.push(pairs[(u64::from_le_bytes(s2[..8].try_into().unwrap()) as usize) % n].0); let _ = i; }

    let store = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(store.clone());
    for (k, v) in &pairs { trie.insert(k, v).unwrap(); }
    let (root, batch) = trie.commit().unwrap();
    store.apply(&batch);
    drop(trie); drop(batch);
    for _ in 0..40 {
        let t = Instant::now();
        let mut trie = Trie::open(store.clone(), root).unwrap();
        for k in &updates { trie.insert(k, &[7u8; 32]).unwrap(); }
        let ti = t.elapsed();
        let r = trie.root_hash().unwrap();
        let th = t.elapsed();
        let (_, b) = trie.commit().unwrap();
        println!("cairn update 10k: inserts {:?} hash {:?} commit {:?} total {:?} nodes {} root {r}", ti, th - ti, t.elapsed() - th, t.elapsed(), b.len());
    }

    if std::env::args().nth(2).is_none() { return; }
    let db = Arc::new(eth_trie::MemoryDB::new(false));
    let mut et = eth_trie::EthTrie::new(db.clone());
    for (k, v) in &pairs { et.insert(k, v).unwrap(); }
    let eroot = et.root_hash().unwrap();
    drop(et);
    for _ in 0..3 {
        let t = Instant::now();
        let mut et = eth_trie::EthTrie::from(db.clone(), eroot).unwrap();
        for k in &updates { et.insert(k, &[7u8; 32]).unwrap(); }
        let r = et.root_hash().unwrap();
        println!("eth_trie update 10k + root: {:?} root {r}", t.elapsed());
    }
}
