//! The ed25519 verification ceiling of this machine, with the verifier Cairn uses (ZIP-215,
//! `ed25519-zebra`); with `--suite sm2`, SM2's next to it in the same run (one signature at a
//! time, as SM2 has no batch check), and SM3's hashing next to keccak's.

use std::time::{Duration, Instant};

use cairn_primitives::{
    AccountPublicKey, Address, SecretKey, SignedTransaction, Transaction, verify_batch,
};
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
    /// With `--suite sm2`: the national algorithms, measured in the same run.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub sm2: Option<Sm2Report>,
}

/// SM2 and SM3 next to ed25519 and keccak.
#[derive(Debug, Serialize)]
pub struct Sm2Report {
    /// SM2 signatures checked per second, one at a time, one core.
    pub sm2_single_per_s: f64,
    /// The same on every core.
    pub sm2_all_cores_per_s: f64,
    /// `sm2_single_per_s` over ed25519's single figure.
    pub sm2_single_vs_ed25519_single: f64,
    /// `sm2_all_cores_per_s` over ed25519's batched figure on every core (what a node
    /// checking a block's transfers gets from each suite).
    pub sm2_all_cores_vs_ed25519_all_cores: f64,
    /// SM3 over 32-byte inputs (a trie's hashes), MB/s on one core.
    pub sm3_32b_mb_per_s: f64,
    /// keccak-256 over the same inputs.
    pub keccak_32b_mb_per_s: f64,
    /// SM3 over 532-byte inputs (a full branch node).
    pub sm3_532b_mb_per_s: f64,
    /// keccak-256 over the same.
    pub keccak_532b_mb_per_s: f64,
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
        let items =
            self.txs
                .iter()
                .zip(&self.messages)
                .map(|(tx, message)| match tx.public_key() {
                    AccountPublicKey::Ed25519(key) => (key, message.as_slice(), tx.signature()),
                    AccountPublicKey::Sm2(_) => unreachable!("the sample is signed with ed25519"),
                });
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

/// SM2 signatures over the signing messages of distinct transfers, with distinct keys.
struct Sm2Prepared {
    items: Vec<(
        cairn_primitives::sm::Sm2PublicKey,
        Vec<u8>,
        cairn_primitives::sm::Sm2Signature,
    )>,
}

impl Sm2Prepared {
    fn new(count: usize) -> Self {
        let items = Prepared::new(count)
            .messages
            .into_iter()
            .enumerate()
            .map(|(i, message)| {
                let mut seed = [7u8; 32];
                seed[..8].copy_from_slice(&(i as u64 + 1).to_be_bytes());
                let key = cairn_primitives::sm::Sm2SecretKey::from_bytes(seed)
                    .unwrap_or_else(cairn_primitives::sm::Sm2SecretKey::generate);
                let signature = key.sign(&message);
                (key.public_key(), message, signature)
            })
            .collect();
        Self { items }
    }

    fn verify(&self, i: usize) {
        let (key, message, signature) = &self.items[i % self.items.len()];
        assert!(
            key.verify(message, signature).is_ok(),
            "a valid SM2 signature failed to verify"
        );
    }
}

/// Megabytes per second of `hash` over `size`-byte inputs, one core.
fn hash_rate(duration: Duration, size: usize, hash: impl Fn(&[u8]) -> [u8; 32]) -> f64 {
    let input: Vec<u8> = (0..size).map(|i| i as u8).collect();
    let mut sink = 0u8;
    let per_s = rate(duration, 1, || sink ^= hash(&input)[0]);
    std::hint::black_box(sink);
    per_s * size as f64 / 1e6
}

/// Distinct SM2 signatures the measurements cycle through.
const SM2_SAMPLE: usize = 256;

/// SM2 verifications per second, one by one on every core, for `duration`.
pub fn sm2_all_cores_per_s(duration: Duration) -> f64 {
    sm2_all_cores(&Sm2Prepared::new(SM2_SAMPLE), duration)
}

fn sm2_all_cores(prepared: &Sm2Prepared, duration: Duration) -> f64 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|core| {
                scope.spawn(move || {
                    let mut index = core;
                    rate(duration, 1, || {
                        prepared.verify(index);
                        index += 1;
                    })
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0.0)).sum()
    })
}

fn sm2_report(duration: Duration, ed25519_single: f64, ed25519_all_cores: f64) -> Sm2Report {
    let prepared = Sm2Prepared::new(SM2_SAMPLE);
    let mut index = 0;
    let sm2_single_per_s = rate(duration, 1, || {
        prepared.verify(index);
        index += 1;
    });
    let sm2_all_cores_per_s = sm2_all_cores(&prepared, duration);
    let keccak = |data: &[u8]| -> [u8; 32] { cairn_primitives::keccak256(data).0 };
    Sm2Report {
        sm2_single_per_s,
        sm2_all_cores_per_s,
        sm2_single_vs_ed25519_single: sm2_single_per_s / ed25519_single,
        sm2_all_cores_vs_ed25519_all_cores: sm2_all_cores_per_s / ed25519_all_cores,
        sm3_32b_mb_per_s: hash_rate(duration, 32, cairn_primitives::sm::sm3),
        keccak_32b_mb_per_s: hash_rate(duration, 32, keccak),
        sm3_532b_mb_per_s: hash_rate(duration, 532, cairn_primitives::sm::sm3),
        keccak_532b_mb_per_s: hash_rate(duration, 532, keccak),
    }
}

/// `cairn-bench sig [--suite sm2]`.
pub fn run(sm2: bool) -> anyhow::Result<SigReport> {
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
    let batch_all_cores_per_s = batch_all_cores_per_s(duration);
    Ok(SigReport {
        single_per_s,
        batch_per_s,
        batch_all_cores_per_s,
        cores,
        sm2: sm2.then(|| sm2_report(duration, single_per_s, batch_all_cores_per_s)),
    })
}
