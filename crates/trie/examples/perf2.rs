use std::time::{Duration, Instant};
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
    let mut sorted = pairs.clone();
    sorted.sort();
    let mut best_c = Duration::MAX; let mut best_h = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let mut trie = Trie::new(MemoryNodeStore::new());
        for (k, v) in &pairs { trie.insert(k, v).unwrap(); }
        let ins = t.elapsed();
        let root = trie.root_hash().unwrap();
        let total = t.elapsed();
        println!("cairn: insert {:?} root {:?} total {:?} {root}", ins, total - ins, total);
        best_c = best_c.min(total);
        drop(trie);
        let t = Instant::now();
        let mut hb = alloy_trie::HashBuilder::default();
        for (k, v) in &sorted { hb.add_leaf(alloy_trie::Nibbles::unpack(k), v); }
        let r2 = hb.root();
        let e = t.elapsed();
        println!("hashbuilder (presorted): {:?} {r2}", e);
        best_h = best_h.min(e);
    }
    println!("best cairn {:?} best hb {:?} ratio {:.2}", best_c, best_h, best_c.as_secs_f64() / best_h.as_secs_f64());
}
