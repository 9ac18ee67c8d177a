//! The `cairn-client` crate against a real node: heads followed across a `kill -9` and a
//! restart arrive each once and in order, and a transfer's result is waited for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use cairn_primitives::Address;
use common::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn heads_survive_a_node_restart_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let http = format!("127.0.0.1:{}", free_port());
    let args = [
        "devnet",
        "--data-dir",
        chain.to_str().unwrap(),
        "--http",
        &http,
        "--block-time-ms",
        "100",
    ];
    let mut node = TestNode::spawn(&chain, &args);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = cairn_client::Client::new(&node.url).unwrap();
    let mut heads = client.heads(1);
    let mut heights = Vec::new();
    let mut next = || {
        runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(30), heads.next()).await })
            .expect("a head within 30 s")
            .unwrap()
            .header
            .height
    };
    for _ in 0..5 {
        heights.push(next());
    }
    node.kill9();
    // Blocks are committed while the follower has no socket: it reads them from the list.
    let _node = TestNode::spawn(&chain, &args);
    for _ in 0..15 {
        heights.push(next());
    }
    let expected: Vec<u64> = (1..=20).collect();
    assert_eq!(heights, expected);
}

#[test]
fn a_transfer_is_submitted_and_followed_to_its_result() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("chain"), &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = cairn_client::Client::new(&node.url).unwrap();
    let tx = transfer(&dev(0), 0, Address::repeat_byte(3), 9);
    let result = runtime.block_on(async {
        let submitted = client.submit(&tx).await.unwrap();
        assert_eq!(submitted.hash, tx.hash());
        client
            .wait_for_result(&tx.hash(), Duration::from_secs(30))
            .await
            .unwrap()
            .expect("committed within 30 s")
    });
    assert_eq!(result.status, cairn_client::types::TxStatus::Committed);
    let account = runtime
        .block_on(client.account(&Address::repeat_byte(3), None, true))
        .unwrap();
    assert_eq!(account.balance, 9);
    assert!(account.proof.is_some());
    // A transfer the node never saw is an error, not an endless wait.
    let unknown = cairn_primitives::B256::repeat_byte(7);
    let error = runtime
        .block_on(client.wait_for_result(&unknown, Duration::from_secs(5)))
        .unwrap_err();
    assert_eq!(error.code(), "unknown_transaction", "{error}");
}
