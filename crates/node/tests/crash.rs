//! Durability: SIGKILL the node at arbitrary moments under a stream of transfers. Every
//! transaction the API reported committed must still be committed after restart, in the same
//! block, and `cairn verify-chain` must pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cairn_primitives::Address;
use common::*;
use serde_json::{Value, json};

const SENDERS: u32 = 10;
const PER_SENDER_PER_BATCH: u64 = 20;

/// Submits batches of transfers until stopped or the node goes away. Returns how many were
/// accepted.
fn load(url: String, stop: Arc<AtomicBool>, mut nonces: Vec<u64>) -> u64 {
    let http = Http::new(&url);
    let sink = Address::repeat_byte(0x5e);
    let mut accepted = 0;
    while !stop.load(Ordering::Relaxed) {
        let mut batch = Vec::new();
        for (sender, nonce) in nonces.iter_mut().enumerate() {
            for _ in 0..PER_SENDER_PER_BATCH {
                batch.push(tx_json(&transfer(&dev(sender as u32), *nonce, sink, 1)));
                *nonce += 1;
            }
        }
        match http.try_post_json("/v1/transactions/batch", &json!({ "transactions": batch })) {
            Ok((202, body)) => accepted += body["accepted"].as_u64().unwrap_or(0),
            Ok((503, _)) => std::thread::sleep(Duration::from_millis(20)),
            _ => return accepted,
        }
    }
    accepted
}

/// A block as the API reported it: its hash and its transactions' hashes.
type Reported = HashMap<u64, (String, Vec<String>)>;

/// Records every block the API serves. Stops when told to or when the node disappears.
fn watch(url: String, stop: Arc<AtomicBool>, mut from: u64) -> Reported {
    let http = Http::new(&url);
    let mut blocks = HashMap::new();
    while !stop.load(Ordering::Relaxed) {
        let Ok((200, page)) = http.try_get(&format!("/v1/blocks?start={from}&limit=100")) else {
            break;
        };
        for block in page["blocks"].as_array().unwrap() {
            let (height, entry) = block_entry(block);
            blocks.insert(height, entry);
            from = height + 1;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    blocks
}

fn block_entry(block: &Value) -> (u64, (String, Vec<String>)) {
    let hashes = block["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    (
        block["height"].as_u64().unwrap(),
        (block["hash"].as_str().unwrap().to_string(), hashes),
    )
}

fn account_nonces(http: &Http) -> Vec<u64> {
    (0..SENDERS)
        .map(|i| {
            let (_, body) = http.get(&format!("/v1/accounts/{:#x}", dev(i).address()));
            body["pending_nonce"].as_u64().unwrap()
        })
        .collect()
}

fn jitter_ms(max: u64) -> u64 {
    u64::from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos(),
    ) % max
}

#[test]
fn every_reported_commit_survives_sigkill_and_the_chain_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("devnet");
    let devnet_args = ["--block-time-ms", "100", "--min-block-txs", "100"];
    let mut node = TestNode::devnet(&data_dir, &devnet_args);
    let mut reported: Reported = HashMap::new();
    let mut load_time = Duration::ZERO;
    let mut accepted_total = 0;

    for round in 0..3 {
        let http = node.http();
        let start_height = http.status()["height"].as_u64().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let loader = {
            let (url, stop, nonces) = (node.url.clone(), stop.clone(), account_nonces(&http));
            std::thread::spawn(move || load(url, stop, nonces))
        };
        let watcher = {
            let (url, stop) = (node.url.clone(), stop.clone());
            std::thread::spawn(move || watch(url, stop, start_height + 1))
        };
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(1_500 + jitter_ms(1_500)));
        // Kill while the load is running: mid-block, mid-commit, mid-request, wherever.
        node.kill9();
        load_time += started.elapsed();
        stop.store(true, Ordering::Relaxed);
        accepted_total += loader.join().unwrap();
        let blocks = watcher.join().unwrap();
        assert!(
            blocks.values().any(|(_, txs)| !txs.is_empty()),
            "round {round}: no transfer was reported committed"
        );
        reported.extend(blocks);

        node = TestNode::devnet(&data_dir, &devnet_args);
        let http = node.http();
        let height = http.status()["height"].as_u64().unwrap();
        let highest_reported = reported.keys().max().copied().unwrap_or(0);
        assert!(
            height >= highest_reported,
            "round {round}: restarted at {height}, below reported {highest_reported}"
        );
        // Every reported block is still there, with the same hash and the same transactions
        // (the hash commits to them through the transactions root).
        let mut start = 0;
        while start <= highest_reported {
            let (_, page) = http.get(&format!("/v1/blocks?start={start}&limit=100"));
            for block in page["blocks"].as_array().unwrap() {
                let (number, entry) = block_entry(block);
                if let Some(expected) = reported.get(&number) {
                    assert_eq!(&entry, expected, "block {number} changed after the crash");
                }
            }
            start += 100;
        }
        // And the transaction index still finds them: check a spread of them one by one.
        let mut all: Vec<(&String, u64)> = reported
            .iter()
            .flat_map(|(h, (_, txs))| txs.iter().map(move |t| (t, *h)))
            .collect();
        all.sort();
        for (hash, number) in all.iter().step_by((all.len() / 300).max(1)) {
            let (_, tx) = http.get(&format!("/v1/transactions/{hash}"));
            assert!(
                matches!(tx["status"].as_str(), Some("committed") | Some("failed")),
                "lost {hash}: {tx}"
            );
            assert_eq!(tx["block"].as_u64(), Some(*number), "{hash} moved: {tx}");
        }
    }

    let final_height = node.http().status()["height"].as_u64().unwrap();
    node.kill9();
    let reported_txs: usize = reported.values().map(|(_, txs)| txs.len()).sum();
    let blocks_per_s = reported.len() as f64 / load_time.as_secs_f64();
    let txs_per_s = reported_txs as f64 / load_time.as_secs_f64();
    println!(
        "crash test: {} blocks and {reported_txs} transfers reported committed in {:.1}s of load ({blocks_per_s:.1} blocks/s, {txs_per_s:.0} transfers/s; {accepted_total} accepted)",
        reported.len(),
        load_time.as_secs_f64()
    );

    let out = std::process::Command::new(cairn_bin())
        .args([
            "verify-chain",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify-chain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert!(report["height"].as_u64().unwrap() >= final_height);
    assert!(report["transactions"].as_u64().unwrap() >= reported_txs as u64);
}
