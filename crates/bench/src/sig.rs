//! The ed25519 verification ceiling of this machine, with the verifier Cairn uses (ZIP-215,
//! `ed25519-zebra`).

use std::time::{Duration, Instant};

use cairn_primitives::{Address, SecretKey, SignedTransaction, Transaction, verify_batch};
use serde::Serialize;

/// Signatures per second three ways.
#[derive(Debug, Serialize)]
pub struct SigReport {
    /// One signature at a time, one core.
    pub single_per_s: f64,
    /// Batches of 1,024, one core.
    pub batch_per_s: f64,
    /// Batches of 1,024 on every core.
    pub batch_all_cores_per_s: f64,
    /// Cores used for the last figure.
    pub cores: usize,
}

const BATCH: usize = 1_024;

/// A batch of distinct signed transfers (distinct keys, like real traffic).
fn sample(count: usize) -> Vec<SignedTransaction> {
    (0..count)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_be_bytes());
            Transaction {
                chain_id: 1,
                nonce: i as u64,
                to: Address::ZERO,
                amount: 1,
            }
            .sign(&SecretKey::from_bytes(seed))
        })
        .collect()
}

/// Runs `work` repeatedly for at least `duration`; returns items per second.
fn rate(duration: Duration, items_per_call: usize, mut work: impl FnMut()) -> f64 {
    work(); // warm up
    let started = Instant::now();
    let mut calls = 0usize;
    while started.elapsed() < duration {
        work();
        calls += 1;
    }
    (calls * items_per_call) as f64 / started.elapsed().as_secs_f64()
}

/// A batch with its signing messages computed in advance: what is timed is the cryptography.
struct Prepared {
    txs: Vec<SignedTransaction>,
    messages: Vec<Vec<u8>>,
}

impl Prepared {
    fn new(count: usize) -> Self {
        let txs = sample(count);
        let messages = txs.iter().map(|tx| tx.tx().signing_message()).collect();
        Self { txs, messages }
    }

    fn verify_batch(&self) {
        let items = self
            .txs
            .iter()
            .zip(&self.messages)
            .map(|(tx, message)| (tx.public_key(), message.as_slice(), tx.signature()));
        assert!(
            verify_batch(items).is_ok(),
            "a valid batch failed to verify"
        );
    }
}

/// Batched verification on every core, for `duration`.
pub fn batch_all_cores_per_s(duration: Duration) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(move || {
                    let batch = Prepared::new(BATCH);
                    rate(duration, BATCH, || batch.verify_batch())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0.0)).sum()
    })
}

/// `cairn-bench sig`.
pub fn run() -> anyhow::Result<SigReport> {
    let duration = Duration::from_secs(3);
    let batch = Prepared::new(BATCH);
    let mut index = 0;
    let single_per_s = rate(duration, 1, || {
        let i = index % BATCH;
        let tx = &batch.txs[i];
        assert!(
            tx.public_key()
                .verify(&batch.messages[i], tx.signature())
                .is_ok()
        );
        index += 1;
    });
    let batch_per_s = rate(duration, BATCH, || batch.verify_batch());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(SigReport {
        single_per_s,
        batch_per_s,
        batch_all_cores_per_s: batch_all_cores_per_s(duration),
        cores,
    })
}
