//! Benchmarks of the trie's hot paths, with alloy-trie's `HashBuilder` (sorted input, root
//! only) and the `eth_trie` crate as baselines.
//!
//! Run: `CARGO_TARGET_DIR=target-trie cargo bench -p cairn-trie --bench trie`.

use std::hint::black_box;
use std::sync::Arc;

use cairn_trie::{B256, MemoryNodeStore, Trie, decode_node, keccak256};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Deterministic pseudo-random 32-byte keys and values.
fn random_pairs(count: usize) -> Vec<(B256, B256)> {
    let mut seed = B256::ZERO;
    (0..count)
        .map(|_| {
            seed = keccak256(seed);
            (seed, keccak256(seed))
        })
        .collect()
}

fn committed_trie(pairs: &[(B256, B256)]) -> (Arc<MemoryNodeStore>, B256) {
    let store = Arc::new(MemoryNodeStore::new());
    let mut trie = Trie::new(store.clone());
    for (key, value) in pairs {
        trie.insert(key.as_slice(), value.as_slice())
            .expect("insert");
    }
    let (root, batch) = trie.commit().expect("commit");
    store.apply(&batch);
    (store, root)
}

fn node_codec(c: &mut Criterion) {
    let pairs = random_pairs(10_000);
    let (store, root) = committed_trie(&pairs);
    // The root of a 10k-key trie is a full branch: the largest node kind.
    let branch = cairn_trie::NodeStore::get_node(&*store, &root)
        .expect("read")
        .expect("root");
    let mut trie = Trie::open(store.clone(), root).expect("open");
    let proof = trie.proof(pairs[0].0.as_slice()).expect("proof");
    let leaf = proof.last().expect("leaf").clone();

    let mut group = c.benchmark_group("node");
    group.bench_function("decode_branch", |b| {
        b.iter(|| decode_node(black_box(&branch)).is_ok())
    });
    group.bench_function("decode_leaf", |b| {
        b.iter(|| decode_node(black_box(&leaf)).is_ok())
    });
    group.bench_function("keccak_branch_532b", |b| {
        b.iter(|| keccak256(black_box(&branch)))
    });
    group.bench_function("keccak_leaf", |b| b.iter(|| keccak256(black_box(&leaf))));
    // Encoding without hashing: a commit right after root_hash only re-encodes the nodes.
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("encode_10k_key_trie", |b| {
        b.iter_batched(
            || {
                let mut trie = Trie::new(MemoryNodeStore::new());
                for (key, value) in &pairs {
                    trie.insert(key.as_slice(), value.as_slice())
                        .expect("insert");
                }
                trie.root_hash().expect("root");
                trie
            },
            |mut trie| trie.commit().expect("commit"),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn insert_and_root(c: &mut Criterion) {
    let mut group = c.benchmark_group("insert_and_root");
    group.sample_size(10);
    for count in [100_000usize, 1_000_000] {
        let pairs = random_pairs(count);
        let mut sorted = pairs.clone();
        sorted.sort();
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::new("cairn", count), &pairs, |b, pairs| {
            b.iter(|| {
                let mut trie = Trie::new(MemoryNodeStore::new());
                for (key, value) in pairs {
                    trie.insert(key.as_slice(), value.as_slice())
                        .expect("insert");
                }
                trie.root_hash().expect("root")
            })
        });
        group.bench_with_input(
            BenchmarkId::new("alloy_hash_builder_sorted", count),
            &sorted,
            |b, sorted| {
                b.iter(|| {
                    let mut builder = alloy_trie::HashBuilder::default();
                    for (key, value) in sorted {
                        builder.add_leaf(alloy_trie::Nibbles::unpack(key), value.as_slice());
                    }
                    builder.root()
                })
            },
        );
        // eth_trie takes about ten seconds per million keys: measured on the smaller set only.
        if count > 100_000 {
            continue;
        }
        group.bench_with_input(BenchmarkId::new("eth_trie", count), &pairs, |b, pairs| {
            use eth_trie::Trie as _;
            b.iter(|| {
                let mut trie = eth_trie::EthTrie::new(Arc::new(eth_trie::MemoryDB::new(false)));
                for (key, value) in pairs {
                    trie.insert(key.as_slice(), value.as_slice())
                        .expect("insert");
                }
                trie.root_hash().expect("root")
            })
        });
    }
    group.finish();
}

fn update_committed(c: &mut Criterion) {
    // The shape of a block: a few thousand state changes against a large committed state.
    const KEYS: usize = 1_000_000;
    const UPDATES: usize = 10_000;
    let pairs = random_pairs(KEYS);
    let (store, root) = committed_trie(&pairs);
    let updated: Vec<&(B256, B256)> = random_pairs(UPDATES)
        .iter()
        .map(|(pick, _)| {
            let index =
                usize::from(pick[0]) << 16 | usize::from(pick[1]) << 8 | usize::from(pick[2]);
            &pairs[index % KEYS]
        })
        .collect();

    let mut group = c.benchmark_group("update_committed");
    group.sample_size(10);
    group.throughput(Throughput::Elements(UPDATES as u64));
    group.bench_function(
        BenchmarkId::new("cairn", format!("{UPDATES}_of_{KEYS}")),
        |b| {
            b.iter(|| {
                let mut trie = Trie::open(store.clone(), root).expect("open");
                for (key, _) in &updated {
                    trie.insert(key.as_slice(), b"updated value")
                        .expect("update");
                }
                trie.commit().expect("commit")
            })
        },
    );

    use eth_trie::Trie as _;
    let eth_db = Arc::new(eth_trie::MemoryDB::new(false));
    let eth_root = {
        let mut trie = eth_trie::EthTrie::new(eth_db.clone());
        for (key, value) in &pairs {
            trie.insert(key.as_slice(), value.as_slice())
                .expect("insert");
        }
        trie.root_hash().expect("root")
    };
    group.bench_function(
        BenchmarkId::new("eth_trie", format!("{UPDATES}_of_{KEYS}")),
        |b| {
            b.iter(|| {
                let mut trie = eth_trie::EthTrie::from(eth_db.clone(), eth_root).expect("open");
                for (key, _) in &updated {
                    trie.insert(key.as_slice(), b"updated value")
                        .expect("update");
                }
                trie.root_hash().expect("root")
            })
        },
    );
    group.finish();
}

// The macro generates an undocumented `pub fn`.
#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, node_codec, insert_and_root, update_committed);
}
use harness::benches;
criterion_main!(benches);
