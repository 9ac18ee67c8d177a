//! Signature checking and transaction encoding, the per-transfer work of admission and block
//! import.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use cairn_primitives::{
    SecretKey, SignedTransaction, Transaction, find_invalid_signature, verify_signatures,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn transfers(count: usize) -> Vec<SignedTransaction> {
    (0..count)
        .map(|i| {
            let mut seed = [3u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let key = SecretKey::from_bytes(seed);
            Transaction {
                chain_id: 1,
                nonce: i as u64,
                to: key.address(),
                amount: 1_000 + i as u128,
            }
            .sign(&key)
        })
        .collect()
}

fn signatures(c: &mut Criterion) {
    let txs = transfers(1_024);
    let mut group = c.benchmark_group("signatures");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_one", |b| {
        b.iter(|| black_box(&txs[0]).verify().unwrap())
    });
    for size in [64usize, 1_024] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(
            BenchmarkId::new("verify_signatures_batch", size),
            &txs[..size],
            |b, txs| b.iter(|| assert!(verify_signatures(black_box(txs)).iter().all(|ok| *ok))),
        );
    }
    // One forged signature among 1,024: what a hostile client (per-transfer verdicts, by
    // halving) or a hostile proposer (the first bad one, by halving) can make a node spend.
    let mut forged = txs.clone();
    let victim = &forged[700];
    let mut signature = *victim.signature();
    signature.0[9] ^= 1;
    forged[700] = SignedTransaction::new(victim.tx().clone(), *victim.public_key(), signature);
    group.throughput(Throughput::Elements(1_024));
    group.bench_function("verify_signatures_one_forged/1024", |b| {
        b.iter(|| assert!(!verify_signatures(black_box(&forged))[700]))
    });
    group.bench_function("find_invalid_signature_one_forged/1024", |b| {
        b.iter(|| assert_eq!(find_invalid_signature(black_box(&forged)), Some(700)))
    });
    group.bench_function("single_checks/1024", |b| {
        b.iter(|| {
            black_box(&forged)
                .iter()
                .filter(|tx| tx.verify().is_err())
                .count()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("transaction");
    group.throughput(Throughput::Elements(1));
    let tx = txs[7].clone();
    let encoded = tx.encoded();
    group.bench_function("encode", |b| b.iter(|| black_box(&tx).encoded()));
    // Decoding includes computing the transaction hash, which is cached from then on.
    group.bench_function("decode", |b| {
        b.iter(|| SignedTransaction::decode_exact(black_box(&encoded)).unwrap())
    });
    group.bench_function("sign", |b| {
        let key = SecretKey::from_bytes([5; 32]);
        b.iter(|| black_box(tx.tx().clone()).sign(&key))
    });
    group.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
