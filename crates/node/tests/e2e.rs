//! End to end: a real `cairn devnet` process, transfers over HTTP and the CLI, receipts,
//! balances, proofs checked independently, blocks, paging and WebSocket subscriptions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use cairn_primitives::dev::{DEV_BALANCE, DEV_CHAIN_ID};
use cairn_primitives::{Account, Address, SecretKey, decode_exact};
use cairn_trie::{NodeHash, verify_secure_proof_with};
use common::*;
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

fn balance_of(node: &TestNode, address: &Address) -> u128 {
    let (code, body) = node.http().get(&format!("/v1/accounts/{address:#x}"));
    assert_eq!(code, 200, "{body}");
    body["balance"].as_str().unwrap().parse().unwrap()
}

#[test]
fn transfers_receipts_balances_and_proofs() {
    transfers_receipts_balances_and_proofs_on("ed25519-keccak");
}

/// The same on a devnet of the national algorithms: SM2 keys sign, and the proofs verify with
/// SM3 (through the CLI's `--hash sm3` and the trie crate alike).
#[test]
fn on_an_sm2_sm3_devnet_transfers_receipts_balances_and_proofs() {
    transfers_receipts_balances_and_proofs_on("sm2-sm3");
}

fn transfers_receipts_balances_and_proofs_on(crypto: &str) {
    let sm2 = crypto == "sm2-sm3";
    let (node_hash, hash_flag, key_suite) = if sm2 {
        (NodeHash::Sm3, "sm3", "sm2")
    } else {
        (NodeHash::Keccak256, "keccak256", "ed25519")
    };
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("devnet"), &["--crypto", crypto]);
    let http = node.http();

    let status = node.cli_json(&["status"]);
    assert_eq!(status["chain_id"], DEV_CHAIN_ID);
    assert_eq!(status["crypto"], crypto);
    assert_eq!(status["engine"], "solo");
    assert_eq!(status["validator_index"], 0);
    assert!(status["head"].as_str().unwrap().starts_with("0x"));

    // A batch of transfers from dev 0 over HTTP.
    let alice = dev_for(crypto, 0);
    let carol = SecretKey::from_bytes([0xca; 32]).address();
    let batch: Vec<Value> = (0..20)
        .map(|n| tx_json(&transfer(&alice, n, carol, 1_000 + u128::from(n))))
        .collect();
    let (code, body) = http.post_json("/v1/transactions/batch", &json!({ "transactions": batch }));
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["accepted"], 20);
    let hashes: Vec<String> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hash"].as_str().unwrap().to_string())
        .collect();
    for hash in &hashes {
        let receipt = http.wait_for(hash, Duration::from_secs(30));
        assert_eq!(receipt["status"], "committed", "{receipt}");
        assert_eq!(receipt["receipt"]["status"], "success");
        assert_eq!(
            receipt["transaction"]["from"],
            format!("{:#x}", alice.address())
        );
    }
    let expected: u128 = (0..20u128).map(|n| 1_000 + n).sum();
    assert_eq!(balance_of(&node, &carol), expected);
    assert_eq!(balance_of(&node, &alice.address()), DEV_BALANCE - expected);

    // Through the CLI, waiting for the receipt.
    let bob = SecretKey::from_bytes([0xb0; 32]);
    let sent = node.cli_json(&[
        "tx",
        "transfer",
        "--dev",
        "1",
        "--to",
        &format!("{:#x}", bob.address()),
        "--amount",
        "100",
        "--wait",
    ]);
    assert_eq!(sent["status"], "committed", "{sent}");
    assert!(sent["block"].as_u64().unwrap() >= 1);
    let shown = node.cli_json(&["tx", "get", sent["hash"].as_str().unwrap()]);
    assert_eq!(shown["status"], "committed");
    assert_eq!(shown["block"], sent["block"]);

    // A key file account that overspends: two pending transfers of 80 from a balance of 100.
    // Admission accepts both (each alone is affordable); execution fails the second.
    let key_path = dir.path().join("bob.key");
    let created = node.cli_json(&[
        "keys",
        "new",
        "--suite",
        key_suite,
        "--out",
        key_path.to_str().unwrap(),
    ]);
    assert_eq!(created["suite"], key_suite);
    let bob_address = created["address"].as_str().unwrap().to_string();
    node.cli_json(&[
        "tx",
        "transfer",
        "--dev",
        "2",
        "--to",
        &bob_address,
        "--amount",
        "100",
        "--wait",
    ]);
    let spend_80 = |nonce: &str| {
        let (key, to) = (key_path.to_str().unwrap(), format!("{carol:#x}"));
        node.cli_json(&[
            "tx", "transfer", "--key", key, "--to", &to, "--amount", "80", "--nonce", nonce,
        ])
    };
    // The later one (nonce 1) is admitted first, while the balance is 100, so no block sealed
    // in between can make admission refuse it; it executes after nonce 0 whatever the timing.
    let second = spend_80("1");
    let first = spend_80("0");
    assert_eq!(first["status"], "pending");
    let first = http.wait_for(first["hash"].as_str().unwrap(), Duration::from_secs(30));
    let second = http.wait_for(second["hash"].as_str().unwrap(), Duration::from_secs(30));
    assert_eq!(first["status"], "committed");
    assert_eq!(second["status"], "failed", "{second}");
    assert_eq!(second["receipt"]["reason"], "insufficient_funds");
    let account = node.cli_json(&["account", &bob_address]);
    assert_eq!(account["balance"], "20");
    assert_eq!(
        account["nonce"], 2,
        "the failed transfer still used its nonce"
    );

    // The account proof checks out independently of the node, against the block's root.
    let proof_file = dir.path().join("proof.json");
    let proven = node.cli_json(&[
        "account",
        &format!("{carol:#x}"),
        "--proof",
        "--proof-out",
        proof_file.to_str().unwrap(),
    ]);
    let state_root: [u8; 32] = hex::decode(&proven["state_root"].as_str().unwrap()[2..])
        .unwrap()
        .try_into()
        .unwrap();
    let (_, header) = http.get(&format!("/v1/blocks/{}", proven["block"]));
    assert_eq!(header["state_root"], proven["state_root"]);
    let nodes: Vec<Vec<u8>> = proven["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| hex::decode(&n.as_str().unwrap()[2..]).unwrap())
        .collect();
    let value = verify_secure_proof_with(node_hash, state_root.into(), carol.as_slice(), &nodes)
        .unwrap()
        .expect("present");
    let account: Account = decode_exact(&value).unwrap();
    assert_eq!(account.balance, expected + 80);
    let other = if sm2 {
        NodeHash::Keccak256
    } else {
        NodeHash::Sm3
    };
    assert!(
        verify_secure_proof_with(other, state_root.into(), carol.as_slice(), &nodes).is_err(),
        "a proof checks out under its chain's hash only"
    );
    let verified = node.cli(&[
        "trie",
        "verify",
        "--secure",
        "--hash",
        hash_flag,
        "--root",
        proven["state_root"].as_str().unwrap(),
        "--key",
        &format!("{carol:#x}"),
        proof_file.to_str().unwrap(),
    ]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(
        String::from_utf8(verified.stdout).unwrap().trim(),
        format!("0x{}", hex::encode(&value))
    );
    // An address that never received anything proves absent.
    let nobody = format!("{:#x}", Address::repeat_byte(0x77));
    let absent = node.cli_json(&["account", &nobody, "--proof"]);
    assert_eq!(absent["exists"], false);
    let nodes: Vec<Vec<u8>> = absent["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| hex::decode(&n.as_str().unwrap()[2..]).unwrap())
        .collect();
    let root: [u8; 32] = hex::decode(&absent["state_root"].as_str().unwrap()[2..])
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        verify_secure_proof_with(
            node_hash,
            root.into(),
            Address::repeat_byte(0x77).as_slice(),
            &nodes
        )
        .unwrap(),
        None
    );
    // Historical state: at genesis carol had nothing.
    let (_, at_genesis) = http.get(&format!("/v1/accounts/{carol:#x}?block=0"));
    assert_eq!(at_genesis["balance"], "0");
    assert_eq!(at_genesis["exists"], false);

    // Blocks by height, hash and latest; paging from a start height.
    let latest = node.cli_json(&["block", "latest"]);
    let by_height = node.cli_json(&["block", &latest["height"].to_string()]);
    let by_hash = node.cli_json(&["block", latest["hash"].as_str().unwrap()]);
    assert_eq!(latest["hash"], by_height["hash"]);
    assert_eq!(latest["hash"], by_hash["hash"]);
    let (_, page) = http.get("/v1/blocks?start=0&limit=3");
    let blocks = page["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 3);
    assert_eq!(blocks[0]["height"], 0);
    assert_eq!(blocks[0]["seal"]["kind"], "genesis");
    assert_eq!(blocks[1]["parent_hash"], blocks[0]["hash"]);
    assert_eq!(page["next"], 3);
    let (_, full) = http.get(&format!("/v1/blocks/{}?full=true", shown["block"]));
    assert!(
        full["full_transactions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["hash"] == shown["hash"])
    );

    // The OpenAPI document describes the API.
    let (code, doc) = http.get("/v1/openapi.json");
    assert_eq!(code, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/status",
        "/v1/transactions",
        "/v1/transactions/batch",
        "/v1/blocks/{id}",
        "/v1/accounts/{address}",
        "/v1/ws",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
}

fn ws_connect(node: &TestNode) -> WebSocket<MaybeTlsStream<TcpStream>> {
    let url = node.url.replace("http://", "ws://") + "/v1/ws";
    let (socket, _) = tungstenite::connect(url).unwrap();
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
    }
    socket
}

fn ws_next(socket: &mut WebSocket<MaybeTlsStream<TcpStream>>) -> Value {
    loop {
        match socket.read().unwrap() {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            _ => continue,
        }
    }
}

#[test]
fn websocket_pushes_heads_and_transaction_results() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("devnet"), &[]);
    let mut socket = ws_connect(&node);

    socket
        .send(Message::text(
            json!({"id": 1, "subscribe": "heads"}).to_string(),
        ))
        .unwrap();
    let reply = ws_next(&mut socket);
    assert_eq!(reply["id"], 1);
    let heads = reply["result"]["subscription"].as_u64().unwrap();
    let event = ws_next(&mut socket);
    assert_eq!(event["subscription"], heads);
    assert_eq!(event["event"], "head");
    let first_height = event["data"]["height"].as_u64().unwrap();
    socket
        .send(Message::text(
            json!({"id": 2, "unsubscribe": heads}).to_string(),
        ))
        .unwrap();

    // Subscribe to a transaction before it is committed, then get its result pushed.
    let tx = transfer(&dev(3), 0, Address::repeat_byte(0x33), 5);
    let hash = format!("{}", tx.hash());
    socket
        .send(Message::text(
            json!({"id": 3, "subscribe": "transaction", "hash": hash}).to_string(),
        ))
        .unwrap();
    let (code, _) = node.http().post_json("/v1/transactions", &tx_json(&tx));
    assert_eq!(code, 202);
    let mut saw_reply = false;
    let pushed = loop {
        let message = ws_next(&mut socket);
        if message["id"] == 3 {
            saw_reply = true;
            continue;
        }
        if message["event"] == "transaction" {
            break message;
        }
        // Late head events from before the unsubscribe are allowed; nothing else is.
        assert!(
            message["event"] == "head" || message["id"] == 2,
            "{message}"
        );
    };
    assert!(saw_reply);
    assert_eq!(pushed["data"]["hash"], hash);
    assert_eq!(pushed["data"]["status"], "committed");
    assert!(pushed["data"]["block"].as_u64().unwrap() > first_height);

    // Subscribing to an already-committed transaction answers at once.
    socket
        .send(Message::text(
            json!({"id": 4, "subscribe": "transaction", "hash": hash}).to_string(),
        ))
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let message = ws_next(&mut socket);
        if message["id"] == 4 || message["event"] == "transaction" {
            got.push(message);
        }
    }
    assert_eq!(got[1]["data"]["hash"], hash);

    // Bad requests get error replies and the connection stays usable.
    socket.send(Message::text("{not json")).unwrap();
    assert_eq!(ws_next(&mut socket)["error"]["code"], "malformed_json");
    socket
        .send(Message::text(
            json!({"id": 5, "subscribe": "weather"}).to_string(),
        ))
        .unwrap();
    let reply = ws_next(&mut socket);
    assert_eq!(reply["id"], 5);
    assert_eq!(reply["error"]["code"], "invalid_request");
    socket
        .send(Message::text(
            json!({"id": 6, "subscribe": "transaction", "hash": "0x12"}).to_string(),
        ))
        .unwrap();
    assert_eq!(ws_next(&mut socket)["error"]["code"], "invalid_hash");
    socket
        .send(Message::text(
            json!({"id": 7, "subscribe": "heads"}).to_string(),
        ))
        .unwrap();
    assert_eq!(ws_next(&mut socket)["id"], 7);
}

/// One client address may hold at most 32 WebSocket connections (the next is refused with a
/// JSON 503, and a place frees when one closes; the node's total of 256 is checked in
/// `cairn-rpc`), and a subscriber that stops reading is cut off rather than left to pin the
/// node's memory.
#[test]
fn websockets_are_bounded_and_a_stalled_subscriber_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("devnet"), &["--block-time-ms", "50"]);
    let mut sockets: Vec<_> = (0..32).map(|_| ws_connect(&node)).collect();
    let url = node.url.replace("http://", "ws://") + "/v1/ws";
    match tungstenite::connect(&url) {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(
                body["error"]["code"], "too_many_websockets_from_address",
                "{body}"
            );
        }
        other => panic!("the 33rd connection was not refused: {other:?}"),
    }
    sockets.pop().unwrap().close(None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tungstenite::connect(&url) {
            Ok((socket, _)) => {
                sockets.push(socket);
                break;
            }
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(error) => panic!("a closed connection's slot was not freed: {error}"),
        }
    }
    sockets.truncate(1);

    // A subscriber with many head subscriptions that never reads: the node's messages back up
    // (kernel buffers on both ends) until a send waits too long, and the node lets it go.
    let mut stalled = sockets.pop().unwrap();
    for id in 0..1_000 {
        stalled
            .send(Message::text(
                json!({"id": id, "subscribe": "heads"}).to_string(),
            ))
            .unwrap();
    }
    std::thread::sleep(Duration::from_secs(25));
    if let MaybeTlsStream::Plain(stream) = stalled.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
    }
    let mut received = 0usize;
    let ended = loop {
        match stalled.read() {
            Ok(Message::Close(frame)) => break format!("close frame {frame:?}"),
            Ok(message) => received += message.len(),
            Err(tungstenite::Error::Io(error))
                if error.kind() == std::io::ErrorKind::WouldBlock
                    || error.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("the node still holds the stalled subscriber after {received} bytes")
            }
            Err(error) => break format!("error {error}"),
        }
    };
    println!("stalled subscriber cut off after {received} bytes: {ended}");
    assert!(
        received > 100_000,
        "only {received} bytes were queued: nothing stalled"
    );
    // The node serves on.
    assert_eq!(node.http().get("/v1/health").0, 200);
    let mut fresh = ws_connect(&node);
    fresh
        .send(Message::text(
            json!({"id": 1, "subscribe": "heads"}).to_string(),
        ))
        .unwrap();
    assert_eq!(ws_next(&mut fresh)["id"], 1);
}

/// A transfer accepted (202) and still in the pool when the node stops with SIGTERM is in
/// the pool again after the restart, and commits; a damaged journal does not stop a start.
#[test]
fn accepted_transfers_survive_a_clean_stop() {
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    // No block for an hour, and none for a single transfer: it stays in the pool.
    let mut node = TestNode::devnet(
        &chain,
        &["--block-time-ms", "3600000", "--min-block-txs", "1000"],
    );
    let http = node.http();
    let sent = [
        transfer(&dev(0), 0, Address::repeat_byte(9), 5),
        transfer(&dev(1), 0, Address::repeat_byte(9), 6),
        // Waits behind a nonce gap: journaled as well, and still waiting after the restart.
        transfer(&dev(1), 2, Address::repeat_byte(9), 7),
    ];
    let hashes: Vec<String> = sent
        .iter()
        .map(|tx| {
            let (status, body) = http.post_json("/v1/transactions", &tx_json(tx));
            assert_eq!(status, 202, "{body}");
            body["hash"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(node.terminate().success());
    assert!(
        chain.join("pool.journal").exists(),
        "no journal after SIGTERM"
    );

    let node = TestNode::devnet(&chain, &[]);
    let http = node.http();
    for hash in &hashes[..2] {
        assert_eq!(
            http.wait_for(hash, Duration::from_secs(30))["status"],
            "committed"
        );
    }
    let (_, gapped) = http.get(&format!("/v1/transactions/{}", hashes[2]));
    assert_eq!(gapped["status"], "pending", "{gapped}");
    assert!(!chain.join("pool.journal").exists(), "journal left behind");
    drop(node);

    // A journal that is not one is reported and set aside; the node starts.
    std::fs::write(chain.join("pool.journal"), b"garbage").unwrap();
    let node = TestNode::devnet(&chain, &[]);
    assert_eq!(node.http().get("/v1/health").0, 200);
    let log = std::fs::read_to_string(&node.log).unwrap();
    assert!(log.contains("pool journal is damaged"), "{log}");
}

/// The devnet's banner tells the truth on a resumed chain (current balances, its height) and
/// its copy-paste command carries the `--node` the devnet actually listens on.
#[test]
fn a_resumed_devnet_banner_shows_current_balances_and_its_node() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let chain = dir.path().join("chain");
    let mut node = TestNode::devnet(&chain, &[]);
    let tx = transfer(&dev(0), 0, Address::repeat_byte(4), 1_000);
    let (_, body) = node.http().post_json("/v1/transactions", &tx_json(&tx));
    node.http()
        .wait_for(body["hash"].as_str().unwrap(), Duration::from_secs(30));
    assert!(node.terminate().success());

    let mut child = std::process::Command::new(cairn_bin())
        .args(["devnet", "--http", "127.0.0.1:0", "--data-dir"])
        .arg(&chain)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.starts_with("Listening on ");
        banner.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = banner.join("\n");
    assert!(text.contains("resumed from"), "{text}");
    let spent = DEV_BALANCE - 1_000;
    let dev0 = format!("(0) {:#x} ({spent} base units)", dev(0).address());
    assert!(
        text.contains(&dev0),
        "dev 0 not shown with {spent}:\n{text}"
    );
    let url = banner.last().unwrap().trim_start_matches("Listening on ");
    assert!(
        text.contains(&format!("cairn tx transfer --node {url} ")),
        "the example does not name {url}:\n{text}"
    );
}
