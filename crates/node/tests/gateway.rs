//! The transaction gateway between real processes: two devnets with different chain ids, a
//! gateway serving both (the first URL of one chain is down): transactions are routed by
//! chain id and followed to their results; idempotency keys replay or refuse; a transaction
//! accepted while its chain's node is down, with the gateway SIGKILLed before it could forward
//! it, commits after both come back; a transaction lost with a node that was SIGKILLed while
//! it sat in the pool is handed over again and commits. (Receivers, which the results are to
//! be pushed to, are not built yet.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use cairn_primitives::{Address, SignedTransaction};
use common::*;
use serde_json::Value;

fn devnet(dir: &Path, port: u16, chain_id: u64, extra: &[&str]) -> TestNode {
    let address = format!("127.0.0.1:{port}");
    let chain = chain_id.to_string();
    let mut args = vec![
        "devnet",
        "--data-dir",
        dir.to_str().unwrap(),
        "--http",
        &address,
        "--chain-id",
        &chain,
    ];
    args.extend_from_slice(extra);
    TestNode::spawn(dir, &args)
}

fn gateway(dir: &Path, chains: &[String]) -> TestNode {
    let mut args = vec![
        "gateway",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    for chain in chains {
        args.extend(["--chain", chain.as_str()]);
    }
    TestNode::spawn(dir, &args)
}

fn submission(tx: &SignedTransaction) -> Value {
    serde_json::json!({
        "chain_id": tx.chain_id(),
        "tx": format!("0x{}", hex::encode(tx.encoded())),
    })
}

fn signed(chain_id: u64, from: u32, nonce: u64) -> SignedTransaction {
    cairn_primitives::Transaction {
        chain_id,
        nonce,
        to: Address::repeat_byte(0x5e),
        amount: 7,
    }
    .sign(&dev(from))
}

/// Waits until the gateway reports `hash` with `status`.
fn wait_status(gateway: &TestNode, hash: &str, status: &str, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, body) = gateway.http().get(&format!("/v1/transactions/{hash}"));
        if body["status"] == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{hash} not {status} in time: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_gateway_routes_by_chain_follows_results_and_loses_nothing_to_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_base_port(3);
    let (port_a, port_b, dead) = (base, base + 1, base + 2);
    let node_a = devnet(&dir.path().join("a"), port_a, 4242, &[]);
    let mut node_b = devnet(&dir.path().join("b"), port_b, 4343, &[]);
    let chains = vec![
        format!("4242=http://127.0.0.1:{dead},{}", node_a.url),
        format!("4343={}", node_b.url),
    ];
    let gateway_dir = dir.path().join("gateway");
    let mut gw = gateway(&gateway_dir, &chains);

    // Routed by chain id, past the dead first URL; followed to the committed block.
    let to_a = signed(4242, 0, 0);
    let to_b = signed(4343, 0, 0);
    for tx in [&to_a, &to_b] {
        let (code, body) = gw.http().post_json("/v1/transactions", &submission(tx));
        assert_eq!(code, 202, "{body}");
        assert_eq!(body["hash"], tx.hash().to_string());
    }
    let a = wait_status(
        &gw,
        &to_a.hash().to_string(),
        "committed",
        Duration::from_secs(30),
    );
    assert!(a["block"].as_u64().is_some(), "{a}");
    assert_eq!(a["chain_id"], 4242);
    wait_status(
        &gw,
        &to_b.hash().to_string(),
        "committed",
        Duration::from_secs(30),
    );
    assert_eq!(
        node_a
            .http()
            .get(&format!("/v1/transactions/{}", to_a.hash()))
            .1["status"],
        "committed"
    );
    assert_eq!(
        node_b
            .http()
            .get(&format!("/v1/transactions/{}", to_b.hash()))
            .1["status"],
        "committed"
    );
    // A chain it does not serve, named in the error.
    let (code, body) = gw
        .http()
        .post_json("/v1/transactions", &submission(&signed(7, 0, 0)));
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["field"], "chain_id");

    // Idempotency keys: the first answer again; another body under the key is refused.
    let keyed = signed(4242, 0, 1);
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let post = |tx: &SignedTransaction, key: &str| {
        let mut response = agent
            .post(&format!("{}/v1/transactions", gw.url))
            .header("idempotency-key", key)
            .header("x-device-id", "teller-1")
            .send_json(submission(tx))
            .unwrap();
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let body: Value = response.body_mut().read_json().unwrap();
        (response.status().as_u16(), replayed, body)
    };
    let (code, replayed, first) = post(&keyed, "order-17");
    assert_eq!((code, replayed), (202, false), "{first}");
    let (code, replayed, again) = post(&keyed, "order-17");
    assert_eq!((code, replayed), (202, true), "{again}");
    assert_eq!(again, first);
    let (code, _, refused) = post(&signed(4242, 0, 2), "order-17");
    assert_eq!(code, 422, "{refused}");
    wait_status(
        &gw,
        &keyed.hash().to_string(),
        "committed",
        Duration::from_secs(30),
    );

    // Chain 4343's node goes down; a transfer for it is accepted all the same, and the
    // gateway is SIGKILLed before it could hand it over.
    node_b.terminate();
    let parked = signed(4343, 0, 1);
    let (code, body) = gw
        .http()
        .post_json("/v1/transactions", &submission(&parked));
    assert_eq!(code, 202, "{body}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        gw.http()
            .get(&format!("/v1/transactions/{}", parked.hash()))
            .1["status"],
        "accepted"
    );
    gw.kill9();
    let node_b = devnet(&dir.path().join("b"), port_b, 4343, &[]);
    let gw = gateway(&gateway_dir, &chains);
    let done = wait_status(
        &gw,
        &parked.hash().to_string(),
        "committed",
        Duration::from_secs(30),
    );
    assert!(done["attempts"].as_u64().unwrap() >= 1, "{done}");

    // Chain 4242's node seals no block for a while: a transfer waits in its pool, and the
    // node is SIGKILLed (its pool is gone). Back up, it does not know the transfer; the
    // gateway hands it over again and it commits.
    drop(node_a);
    let slow = ["--block-time-ms", "600000", "--min-block-txs", "40000"];
    let mut node_a = devnet(&dir.path().join("a"), port_a, 4242, &slow);
    let pooled = signed(4242, 1, 0);
    let (code, body) = gw
        .http()
        .post_json("/v1/transactions", &submission(&pooled));
    assert_eq!(code, 202, "{body}");
    wait_status(
        &gw,
        &pooled.hash().to_string(),
        "pending",
        Duration::from_secs(30),
    );
    node_a.kill9();
    let node_a = devnet(&dir.path().join("a"), port_a, 4242, &[]);
    assert_eq!(
        node_a
            .http()
            .get(&format!("/v1/transactions/{}", pooled.hash()))
            .1["status"],
        "unknown",
        "the restarted node lost its pool"
    );
    let done = wait_status(
        &gw,
        &pooled.hash().to_string(),
        "committed",
        Duration::from_secs(30),
    );
    assert!(done["attempts"].as_u64().unwrap() >= 2, "{done}");
    drop(node_b);
}
