//! `trie`: build a trie of N random 32-byte keys and values in memory and compute its root,
//! with Cairn's trie, the `eth_trie` crate and alloy-trie's `HashBuilder`, on the same data in
//! the same process.
//!
//! Cairn takes the pairs in random order, first as one batch (`Trie::insert_batch`, which
//! sorts them itself, on the clock), then one `insert` at a time; eth_trie one at a time.
//! `HashBuilder` only computes a root from pairs sorted by key (it cannot update or read): the
//! pairs are sorted before its clock starts, and the report says so.

use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::B256;
use cairn_trie::{MemoryNodeStore, Trie};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Seed of the random keys and values: every run measures the same data.
pub const SEED: u64 = 0x00ca_19b3_2024;

/// Keys inserted between two progress-bar updates (a cheap atomic add, off the hot path).
const PROGRESS_STEP: usize = 1 << 14;

/// Build-and-root times of the three implementations.
#[derive(Debug, Serialize)]
pub struct TrieReport {
    /// Keys (and values), 32 random bytes each.
    pub keys: usize,
    /// Cairn: insert every pair into an empty in-memory trie in one batch
    /// (`Trie::insert_batch`, sorting included), then compute the root.
    pub cairn_s: f64,
    /// Cairn's time split: the batch insert (sort and arena building).
    pub cairn_insert_s: f64,
    /// Cairn's time split: hashing every node for the root.
    pub cairn_root_s: f64,
    /// Cairn, one `Trie::insert` per pair in random order, then the root.
    pub cairn_one_by_one_s: f64,
    /// eth_trie (in-memory DB): insert every pair, then compute the root.
    pub eth_trie_s: f64,
    /// alloy-trie `HashBuilder` on the pairs already sorted by key (root only).
    pub alloy_hashbuilder_s: f64,
    /// All three roots are the same.
    pub roots_equal: bool,
    /// eth_trie's time over Cairn's.
    pub speedup_vs_eth_trie: f64,
    /// Cairn's time over HashBuilder's.
    pub ratio_to_hashbuilder: f64,
    /// Time to sort the pairs for HashBuilder, not included in `alloy_hashbuilder_s`.
    pub alloy_sort_s: f64,
    /// What the HashBuilder figure measures.
    pub alloy_hashbuilder_note: &'static str,
    /// The root every implementation computed (Cairn's, if they differ).
    pub root: B256,
}

/// `keys` random pairs from a generator seeded with `seed`.
pub fn random_pairs(keys: usize, seed: u64) -> Vec<([u8; 32], [u8; 32])> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..keys)
        .map(|_| {
            let mut key = [0u8; 32];
            let mut value = [0u8; 32];
            rng.fill_bytes(&mut key);
            rng.fill_bytes(&mut value);
            (key, value)
        })
        .collect()
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: usize, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>28} [{bar:40}] {human_pos}/{human_len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    bar
}

/// Calls `apply` on every pair in order, advancing `bar` every [`PROGRESS_STEP`] pairs (a
/// cheap atomic add, off the hot path).
pub fn apply_each(
    pairs: &[([u8; 32], [u8; 32])],
    bar: &ProgressBar,
    mut apply: impl FnMut(&[u8; 32], &[u8; 32]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for chunk in pairs.chunks(PROGRESS_STEP) {
        for (key, value) in chunk {
            apply(key, value)?;
        }
        bar.inc(chunk.len() as u64);
    }
    Ok(())
}

/// Runs the comparison on `keys` pairs.
pub fn run(keys: usize) -> anyhow::Result<TrieReport> {
    let pairs = random_pairs(keys, SEED);

    // (a) Cairn, all pairs in one batch (`Trie::insert_batch`, what block execution uses to
    // write a block's accounts): sorted inside the call, so the sort is timed.
    let bar = progress(keys, "cairn: batch insert + root");
    let started = Instant::now();
    let mut trie = Trie::new(MemoryNodeStore::new());
    trie.insert_batch(pairs.iter().map(|(key, value)| (key, value)))?;
    let cairn_insert_s = started.elapsed().as_secs_f64();
    let cairn_root = trie.root_hash()?;
    let cairn_s = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    drop(trie);

    // (a') Cairn, one `insert` per pair in random order, as a state trie that is read between
    // writes receives them.
    let bar = progress(keys, "cairn: one-by-one + root");
    let started = Instant::now();
    let mut trie = Trie::new(MemoryNodeStore::new());
    apply_each(&pairs, &bar, |key, value| Ok(trie.insert(key, value)?))?;
    let one_by_one_root = trie.root_hash()?;
    let cairn_one_by_one_s = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    drop(trie);

    // (b) eth_trie over its in-memory DB.
    let (eth_root, eth_trie_s) = {
        use eth_trie::Trie as _;
        let bar = progress(keys, "eth_trie: insert + root");
        let started = Instant::now();
        let mut trie = eth_trie::EthTrie::new(Arc::new(eth_trie::MemoryDB::new(false)));
        apply_each(&pairs, &bar, |key, value| Ok(trie.insert(key, value)?))?;
        let root = trie.root_hash()?;
        let elapsed = started.elapsed().as_secs_f64();
        bar.finish_and_clear();
        drop(trie);
        (root, elapsed)
    };

    // (c) alloy-trie's HashBuilder on sorted pairs; sorting happens before the clock starts.
    let sort_started = Instant::now();
    let mut sorted = pairs;
    sorted.sort_unstable_by_key(|pair| pair.0);
    let alloy_sort_s = sort_started.elapsed().as_secs_f64();
    let bar = progress(keys, "alloy HashBuilder (sorted)");
    let started = Instant::now();
    let mut builder = alloy_trie::HashBuilder::default();
    apply_each(&sorted, &bar, |key, value| {
        builder.add_leaf(alloy_trie::Nibbles::unpack(key), value);
        Ok(())
    })?;
    let alloy_root = builder.root();
    let alloy_hashbuilder_s = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let roots_equal =
        cairn_root == one_by_one_root && cairn_root == eth_root && cairn_root == alloy_root;
    if !roots_equal {
        eprintln!(
            "roots differ: cairn {cairn_root} (one by one {one_by_one_root}), \
             eth_trie {eth_root}, alloy {alloy_root}"
        );
    }
    Ok(TrieReport {
        keys,
        cairn_s,
        cairn_insert_s,
        cairn_root_s: cairn_s - cairn_insert_s,
        cairn_one_by_one_s,
        eth_trie_s,
        alloy_hashbuilder_s,
        roots_equal,
        speedup_vs_eth_trie: eth_trie_s / cairn_s,
        ratio_to_hashbuilder: cairn_s / alloy_hashbuilder_s,
        alloy_sort_s,
        alloy_hashbuilder_note: "pairs sorted by key beforehand; sorting (alloy_sort_s) not timed",
        root: cairn_root,
    })
}
