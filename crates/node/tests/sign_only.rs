//! Offline signing and chains side by side: `cairn tx transfer --sign-only` prints a signed
//! transfer without sending it (asking no node when given `--nonce` and `--chain-id`), and
//! `cairn devnet --chain-id N` runs a chain whose transactions are signed for N, which accepts
//! those bytes as they are.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use cairn_primitives::{Address, SignedTransaction};
use common::*;
use serde_json::Value;

const TO: &str = "0x00000000000000000000000000000000000000b0";

fn hex_bytes(value: &Value) -> Vec<u8> {
    hex::decode(value.as_str().unwrap().trim_start_matches("0x")).unwrap()
}

#[test]
fn a_transfer_signed_offline_commits_on_the_chain_it_names() {
    // No node at all: port 1 answers nothing.
    let out = Command::new(cairn_bin())
        .args(["--json", "--node", "http://127.0.0.1:1", "tx", "transfer"])
        .args(["--dev", "0", "--to", TO, "--amount", "5"])
        .args(["--nonce", "0", "--chain-id", "4242", "--sign-only"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed["chain_id"], 4242, "{signed}");
    assert_eq!(signed["nonce"], 0, "{signed}");
    let tx = SignedTransaction::decode_exact(&hex_bytes(&signed["tx"])).unwrap();
    tx.verify().unwrap();
    assert_eq!(format!("{}", tx.hash()), signed["hash"].as_str().unwrap());
    assert_eq!(tx.chain_id(), 4242);
    assert_eq!(tx.sender(), dev(0).address());
    let transfer = tx.transfer().unwrap();
    assert_eq!(
        (transfer.to, transfer.amount, transfer.nonce),
        (TO.parse::<Address>().unwrap(), 5, 0)
    );

    // A devnet for chain 4242 takes those very bytes.
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let mut node = TestNode::devnet(&chain, &["--chain-id", "4242"]);
    assert_eq!(node.http().status()["chain_id"], 4242);
    let (code, body) = node.http().post_bytes(
        "/v1/transactions/raw",
        "application/octet-stream",
        hex_bytes(&signed["tx"]),
    );
    assert!((200..300).contains(&code), "{code} {body}");
    let receipt = node
        .http()
        .wait_for(signed["hash"].as_str().unwrap(), Duration::from_secs(30));
    assert_eq!(receipt["status"], "committed", "{receipt}");

    // Asking the node for the nonce: the next one, for the node's chain.
    let next = node.cli_json(&[
        "tx",
        "transfer",
        "--dev",
        "0",
        "--to",
        TO,
        "--amount",
        "6",
        "--sign-only",
    ]);
    assert_eq!(next["nonce"], 1, "{next}");
    assert_eq!(next["chain_id"], 4242, "{next}");
    let (_, seen) = node.http().get(&format!(
        "/v1/transactions/{}",
        next["hash"].as_str().unwrap()
    ));
    assert_eq!(seen["status"], "unknown", "signed only, never sent: {seen}");

    // Naming another chain than the node's is refused, and nothing is sent.
    let out = node.cli(&[
        "tx",
        "transfer",
        "--dev",
        "0",
        "--to",
        TO,
        "--amount",
        "6",
        "--chain-id",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("serves chain 4242"), "{error}");
    assert_eq!(error.trim_end().lines().count(), 1, "{error}");

    // The devnet's directory is chain 4242's: resuming it for another chain is refused.
    node.terminate();
    let out = Command::new(cairn_bin())
        .args(["devnet", "--data-dir"])
        .arg(&chain)
        .args(["--http", "127.0.0.1:0", "--chain-id", "7"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("has chain id 4242, not 7"), "{error}");
}

#[test]
fn a_generated_network_signs_for_the_chain_id_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(cairn_bin())
        .args(["testnet", "init", "--validators", "4", "--chain-id", "99"])
        .arg("--out")
        .arg(dir.path().join("net"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let genesis: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("net/genesis.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(genesis["chain_id"], 99, "{genesis}");
}
