//! The transaction gateway between real processes: two devnets with different chain ids, a
//! gateway serving both (the first URL of one chain is down, the first of the other is a
//! node of the wrong chain), and an HTTP server of receivers. Transactions are routed by chain id and followed to their results; idempotency
//! keys replay, refuse (422) and hold (409); a transaction sent twice without a key is sent
//! once. Receivers per device, per recipient and per transaction are told each result with
//! valid Standard Webhooks signatures; one that fails its first deliveries gets them later
//! with the same webhook-id; one that answers 410 is disabled; a dead letter's retry and a
//! redelivery go through the API. The gateway is SIGKILLed with a result not yet delivered,
//! and with a transaction accepted but not yet forwarded: after a restart every notification
//! still arrives. A node SIGKILLed with a transaction in its pool loses it, and the gateway
//! hands it over again until it commits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_gateway::webhook;
use cairn_primitives::{Address, SignedTransaction};
use common::*;
use serde_json::Value;

/// A request that reached a receiver.
#[derive(Debug, Clone)]
struct Hook {
    path: String,
    id: String,
    timestamp: u64,
    signature: String,
    body: String,
    /// What the server answered.
    answered: u16,
}

/// An HTTP server of receivers: each path answers the statuses planned for it, in turn, then
/// 200; every request is recorded.
#[derive(Clone, Default)]
struct Hooks {
    seen: Arc<Mutex<Vec<Hook>>>,
    plans: Arc<Mutex<HashMap<String, VecDeque<u16>>>>,
    /// Paths that answer 503 for as long as they are listed.
    held: Arc<Mutex<Vec<String>>>,
}

impl Hooks {
    fn start() -> (Self, String) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hooks = Self::default();
        let server = hooks.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = server.clone();
                std::thread::spawn(move || server.answer(stream));
            }
        });
        (hooks, url)
    }

    fn answer(&self, mut stream: TcpStream) {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let path = head.split(' ').nth(1).unwrap_or("").to_string();
        let header = |name: &str| {
            head.lines()
                .find_map(|line| {
                    let (key, value) = line.split_once(':')?;
                    key.eq_ignore_ascii_case(name)
                        .then(|| value.trim().to_string())
                })
                .unwrap_or_default()
        };
        let mut body = vec![0u8; header("content-length").parse().unwrap_or(0)];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        let answered = if self.held.lock().unwrap().contains(&path) {
            503
        } else {
            self.plans
                .lock()
                .unwrap()
                .get_mut(&path)
                .and_then(VecDeque::pop_front)
                .unwrap_or(200)
        };
        self.seen.lock().unwrap().push(Hook {
            path,
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp").parse().unwrap_or(0),
            signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&body).to_string(),
            answered,
        });
        let _ = write!(
            stream,
            "HTTP/1.1 {answered} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
    }

    fn at(&self, path: &str) -> Vec<Hook> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|hook| hook.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` got a 2xx-answered notification of `hash`; returns it.
    fn wait_delivered(&self, path: &str, hash: &str) -> Hook {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(hook) = self.at(path).into_iter().find(|hook| {
                hook.answered == 200
                    && serde_json::from_str::<Value>(&hook.body).unwrap()["data"]["hash"] == hash
            }) {
                return hook;
            }
            assert!(
                Instant::now() < deadline,
                "{path} was not told of {hash}: {:?}",
                self.at(path)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A registered receiver: its id and secret.
struct Receiver {
    id: String,
    secret: String,
}

fn register(gateway: &TestNode, url: String, matches: Value) -> Receiver {
    let (code, body) = gateway.http().post_json(
        "/v1/receivers",
        &serde_json::json!({"url": url, "match": matches}),
    );
    assert_eq!(code, 201, "{body}");
    Receiver {
        id: body["id"].as_str().unwrap().to_string(),
        secret: body["secret"].as_str().unwrap().to_string(),
    }
}

/// Checks `hook` is signed with `receiver`'s secret and tells `event` of `tx`; its body.
fn check_hook(hook: &Hook, receiver: &Receiver, tx: &SignedTransaction, event: &str) -> Value {
    assert!(
        webhook::verify(
            &receiver.secret,
            &hook.id,
            hook.timestamp,
            hook.body.as_bytes(),
            &hook.signature
        ),
        "bad signature on {hook:?}"
    );
    assert!(
        !webhook::verify(
            &receiver.secret,
            &hook.id,
            hook.timestamp + 1,
            hook.body.as_bytes(),
            &hook.signature
        ),
        "the timestamp is signed"
    );
    let age = cairn_primitives::clock::now_ms() / 1_000 - hook.timestamp;
    assert!(age < 120, "webhook-timestamp is now, in seconds: {hook:?}");
    let body: Value = serde_json::from_str(&hook.body).unwrap();
    assert_eq!(body["type"], event, "{body}");
    assert_eq!(body["data"]["hash"], tx.hash().to_string(), "{body}");
    assert_eq!(body["data"]["chain_id"], tx.chain_id(), "{body}");
    body
}

/// POSTs a submission with headers; the status, whether it was a replay, and the body.
fn submit(
    gateway: &TestNode,
    tx: &SignedTransaction,
    headers: &[(&str, &str)],
) -> (u16, bool, Value) {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut request = agent.post(&format!("{}/v1/transactions", gateway.url));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.send_json(submission(tx)).unwrap();
    let replayed = response.headers().get("idempotent-replayed").is_some();
    let body: Value = response.body_mut().read_json().unwrap();
    (response.status().as_u16(), replayed, body)
}

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
        "--retry-schedule",
        "300ms,600ms,1s,1s,1s,1s,1s,1s",
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

/// Chain 4343's devnet flags: an `sm2-sm3` chain.
const SM2_SM3: &[&str] = &["--crypto", "sm2-sm3"];

/// A transfer for `chain_id` from dev account `from` of that chain's suite (4343's is
/// `sm2-sm3`).
fn signed(chain_id: u64, from: u32, nonce: u64) -> SignedTransaction {
    let suite = if chain_id == 4343 {
        "sm2-sm3"
    } else {
        "ed25519-keccak"
    };
    cairn_primitives::Transaction {
        chain_id,
        nonce,
        to: Address::repeat_byte(0x5e),
        amount: 7,
    }
    .sign(&dev_for(suite, from))
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

/// The notifications the gateway lists for `hash`, once every one is `status`.
fn wait_notifications(gateway: &TestNode, hash: &str, count: usize, status: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = gateway.http().get(&format!("/v1/transactions/{hash}"));
        let notifications = body["notifications"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if notifications.len() == count && notifications.iter().all(|n| n["status"] == status) {
            return notifications;
        }
        assert!(
            Instant::now() < deadline,
            "{hash}: not {count} notifications {status} in time: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_gateway_routes_by_chain_pushes_results_and_loses_nothing_to_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let base = free_base_port(3);
    let (port_a, port_b, dead) = (base, base + 1, base + 2);
    let node_a = devnet(&dir.path().join("a"), port_a, 4242, &[]);
    // Chain 4343 runs on the national algorithms: the gateway serves both suites alike.
    let mut node_b = devnet(&dir.path().join("b"), port_b, 4343, SM2_SM3);
    // Chain 4343's first URL is chain 4242's node, misconfigured: the gateway must find it
    // serves another chain and never hand it a transaction.
    let chains = vec![
        format!("4242=http://127.0.0.1:{dead},{}", node_a.url),
        format!("4343={},{}", node_a.url, node_b.url),
    ];
    let gateway_dir = dir.path().join("gateway");
    let mut gw = gateway(&gateway_dir, &chains);
    let (hooks, hooks_url) = Hooks::start();

    // Receivers, registered in advance: of a device, of a recipient (every transfer here goes
    // to 0x5e…), of one transaction; one that fails twice first; one that is gone; one that
    // is held down for a while.
    let to_a = signed(4242, 0, 0);
    let to_b = signed(4343, 0, 0);
    let by_device = register(
        &gw,
        format!("{hooks_url}/device"),
        serde_json::json!({"device": "teller-1"}),
    );
    let by_recipient = register(
        &gw,
        format!("{hooks_url}/recipient"),
        serde_json::json!({"recipient": Address::repeat_byte(0x5e)}),
    );
    let by_hash = register(
        &gw,
        format!("{hooks_url}/one"),
        serde_json::json!({"transaction": to_a.hash()}),
    );
    let flaky = register(
        &gw,
        format!("{hooks_url}/flaky"),
        serde_json::json!({"device": "flaky"}),
    );
    hooks
        .plans
        .lock()
        .unwrap()
        .insert("/flaky".into(), VecDeque::from([500, 500]));
    let gone = register(
        &gw,
        format!("{hooks_url}/gone"),
        serde_json::json!({"device": "gone"}),
    );
    hooks
        .plans
        .lock()
        .unwrap()
        .insert("/gone".into(), VecDeque::from([410; 10]));
    let held = register(
        &gw,
        format!("{hooks_url}/held"),
        serde_json::json!({"device": "held"}),
    );
    hooks.held.lock().unwrap().push("/held".into());
    let (_, shown) = gw.http().get(&format!("/v1/receivers/{}", by_hash.id));
    assert_eq!(
        shown["match"]["transaction"],
        to_a.hash().to_string(),
        "{shown}"
    );
    assert_eq!(shown["disabled"], false);

    // Routed by chain id, past the dead first URL; followed to the committed block.
    let (code, _, body) = submit(&gw, &to_a, &[("x-device-id", "teller-1")]);
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["hash"], to_a.hash().to_string());
    let (code, _, body) = submit(&gw, &to_b, &[]);
    assert_eq!(code, 202, "{body}");
    // The gateway names an SM2 transaction by its SM3 hash, as chain 4343 does.
    assert_eq!(to_b.suite(), cairn_primitives::CryptoSuite::Sm2Sm3);
    assert_eq!(body["hash"], to_b.hash().to_string());
    let a = wait_status(
        &gw,
        &to_a.hash().to_string(),
        "committed",
        Duration::from_secs(30),
    );
    assert!(a["block"].as_u64().is_some(), "{a}");
    assert_eq!(a["chain_id"], 4242);
    assert_eq!(a["receipt"]["status"], "success", "{a}");
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

    // Each matching receiver is told, signed with its own secret; the others are not.
    let a_hash = to_a.hash().to_string();
    let told_device = hooks.wait_delivered("/device", &a_hash);
    let body = check_hook(&told_device, &by_device, &to_a, "transaction.committed");
    assert_eq!(body["data"]["status"], "committed");
    assert_eq!(body["data"]["block"], a["block"]);
    assert_eq!(body["data"]["receipt"]["status"], "success");
    assert!(!webhook::verify(
        &by_recipient.secret,
        &told_device.id,
        told_device.timestamp,
        told_device.body.as_bytes(),
        &told_device.signature
    ));
    let told_one = hooks.wait_delivered("/one", &a_hash);
    check_hook(&told_one, &by_hash, &to_a, "transaction.committed");
    check_hook(
        &hooks.wait_delivered("/recipient", &a_hash),
        &by_recipient,
        &to_a,
        "transaction.committed",
    );
    check_hook(
        &hooks.wait_delivered("/recipient", &to_b.hash().to_string()),
        &by_recipient,
        &to_b,
        "transaction.committed",
    );
    assert_eq!(
        hooks.at("/device").len(),
        1,
        "to_b was not sent by teller-1"
    );
    assert_eq!(hooks.at("/one").len(), 1);
    // The transaction shows each notification delivered, under the webhook-id sent.
    let notifications = wait_notifications(&gw, &a_hash, 3, "delivered");
    assert!(
        notifications
            .iter()
            .any(|n| n["id"] == told_one.id.as_str() && n["receiver"] == by_hash.id.as_str())
    );
    // A chain it does not serve, named in the error.
    let (code, body) = gw
        .http()
        .post_json("/v1/transactions", &submission(&signed(7, 0, 0)));
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["field"], "chain_id");

    // Idempotency keys: the first answer again; another body under the key is refused.
    let keyed = signed(4242, 0, 1);
    let device = [("x-device-id", "teller-1")];
    let (code, replayed, first) =
        submit(&gw, &keyed, &[device[0], ("idempotency-key", "order-17")]);
    assert_eq!((code, replayed), (202, false), "{first}");
    let (code, replayed, again) =
        submit(&gw, &keyed, &[device[0], ("idempotency-key", "order-17")]);
    assert_eq!((code, replayed), (202, true), "{again}");
    assert_eq!(again, first);
    let (code, _, refused) = submit(
        &gw,
        &signed(4242, 0, 2),
        &[device[0], ("idempotency-key", "order-17")],
    );
    assert_eq!(code, 422, "{refused}");
    // A key whose first request is still arriving: 409; once it arrives, it is accepted.
    let slow_tx = signed(4242, 0, 2);
    let slow_body = submission(&slow_tx).to_string();
    let mut slow = TcpStream::connect(gw.url.trim_start_matches("http://")).unwrap();
    write!(
        slow,
        "POST /v1/transactions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n\
         idempotency-key: order-18\r\ncontent-length: {}\r\n\r\n{}",
        slow_body.len(),
        &slow_body[..10]
    )
    .unwrap();
    slow.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (code, _, busy) = submit(&gw, &slow_tx, &[("idempotency-key", "order-18")]);
    assert_eq!(code, 409, "{busy}");
    assert_eq!(busy["error"]["code"], "request_in_progress");
    slow.write_all(&slow_body.as_bytes()[10..]).unwrap();
    let mut answer = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    let read = slow.read(&mut buffer).unwrap();
    answer.push_str(&String::from_utf8_lossy(&buffer[..read]));
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    // Without a key, a transaction seen before is not sent again: the first one's hash.
    let (code, _, duplicate) = submit(&gw, &to_b, &[]);
    assert_eq!(code, 200, "{duplicate}");
    assert_eq!(
        (duplicate["hash"].as_str(), &duplicate["duplicate"]),
        (Some(to_b.hash().to_string().as_str()), &Value::Bool(true))
    );
    for tx in [&keyed, &slow_tx] {
        wait_status(
            &gw,
            &tx.hash().to_string(),
            "committed",
            Duration::from_secs(30),
        );
    }
    let (_, node_view) = node_a
        .http()
        .get(&format!("/v1/transactions/{}", to_b.hash()));
    assert_eq!(
        node_view["status"], "unknown",
        "chain 4242 never saw chain 4343's transfer"
    );

    // A receiver that fails its first two deliveries gets the notification on the third
    // attempt, under one webhook-id; one that answers 410 is disabled.
    let flaky_tx = signed(4242, 2, 0);
    let gone_tx = signed(4242, 3, 0);
    assert_eq!(submit(&gw, &flaky_tx, &[("x-device-id", "flaky")]).0, 202);
    assert_eq!(submit(&gw, &gone_tx, &[("x-device-id", "gone")]).0, 202);
    let told = hooks.wait_delivered("/flaky", &flaky_tx.hash().to_string());
    let attempts = hooks.at("/flaky");
    assert_eq!(
        attempts
            .iter()
            .map(|hook| hook.answered)
            .collect::<Vec<_>>(),
        [500, 500, 200]
    );
    assert!(
        attempts
            .iter()
            .all(|hook| hook.id == told.id && hook.body == told.body)
    );
    for hook in &attempts {
        check_hook(hook, &flaky, &flaky_tx, "transaction.committed");
    }
    let flaky_view = wait_notifications(&gw, &flaky_tx.hash().to_string(), 2, "delivered");
    let mine = flaky_view
        .iter()
        .find(|n| n["receiver"] == flaky.id.as_str())
        .unwrap();
    assert_eq!(
        (mine["attempts"].as_u64(), mine["last_status"].as_u64()),
        (Some(3), Some(200))
    );
    wait_until(
        "the gone receiver disabled",
        Duration::from_secs(30),
        || gw.http().get(&format!("/v1/receivers/{}", gone.id)).1["disabled"] == true,
    );
    assert_eq!(hooks.at("/gone").len(), 1);
    check_hook(
        &hooks.at("/gone")[0],
        &gone,
        &gone_tx,
        "transaction.committed",
    );
    let (_, dead) = gw
        .http()
        .get(&format!("/v1/deliveries?receiver={}&status=dead", gone.id));
    let dead = dead["deliveries"].as_array().unwrap().clone();
    assert_eq!(dead.len(), 1, "{dead:?}");
    let (code, refused) = gw.http().post_json(
        &format!("/v1/deliveries/{}/retry", dead[0]["id"].as_str().unwrap()),
        &Value::Null,
    );
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (409, Some("receiver_unavailable")),
        "{refused}"
    );
    let gone_again = signed(4242, 3, 1);
    assert_eq!(submit(&gw, &gone_again, &[("x-device-id", "gone")]).0, 202);
    hooks.wait_delivered("/recipient", &gone_again.hash().to_string());
    assert_eq!(
        hooks.at("/gone").len(),
        1,
        "nothing more to a disabled receiver"
    );
    // A delivered notification sent again on request: same webhook-id and body.
    let (code, queued) = gw.http().post_json(
        &format!("/v1/deliveries/{}/retry", told_one.id),
        &Value::Null,
    );
    assert_eq!(code, 202, "{queued}");
    wait_until("the redelivery", Duration::from_secs(30), || {
        hooks.at("/one").len() == 2
    });
    let redelivered = &hooks.at("/one")[1];
    assert_eq!(
        (&redelivered.id, &redelivered.body),
        (&told_one.id, &told_one.body)
    );
    check_hook(redelivered, &by_hash, &to_a, "transaction.committed");

    // A result known, its notification not yet delivered (the receiver is down), and the
    // gateway SIGKILLed: after the restart it arrives, under the same webhook-id.
    let held_tx = signed(4242, 4, 0);
    assert_eq!(submit(&gw, &held_tx, &[("x-device-id", "held")]).0, 202);
    wait_until(
        "a refused attempt at /held",
        Duration::from_secs(30),
        || !hooks.at("/held").is_empty(),
    );
    gw.kill9();
    hooks.held.lock().unwrap().clear();
    let refused_id = hooks.at("/held")[0].id.clone();
    gw = gateway(&gateway_dir, &chains);
    let arrived = hooks.wait_delivered("/held", &held_tx.hash().to_string());
    assert_eq!(arrived.id, refused_id);
    check_hook(&arrived, &held, &held_tx, "transaction.committed");

    // Chain 4343's node goes down; a transfer for it is accepted all the same, and the
    // gateway is SIGKILLed before it could hand it over.
    node_b.terminate();
    let parked = signed(4343, 0, 1);
    let (code, _, body) = submit(&gw, &parked, &[]);
    assert_eq!(code, 202, "{body}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        gw.http()
            .get(&format!("/v1/transactions/{}", parked.hash()))
            .1["status"],
        "accepted"
    );
    gw.kill9();
    let node_b = devnet(&dir.path().join("b"), port_b, 4343, SM2_SM3);
    let gw = gateway(&gateway_dir, &chains);
    let done = wait_status(
        &gw,
        &parked.hash().to_string(),
        "committed",
        Duration::from_secs(30),
    );
    assert!(done["attempts"].as_u64().unwrap() >= 1, "{done}");
    check_hook(
        &hooks.wait_delivered("/recipient", &parked.hash().to_string()),
        &by_recipient,
        &parked,
        "transaction.committed",
    );

    // Chain 4242's node seals no block for a while: a transfer waits in its pool, and the
    // node is SIGKILLed (its pool is gone). Back up, it does not know the transfer; the
    // gateway hands it over again and it commits.
    drop(node_a);
    let slow = ["--block-time-ms", "600000", "--min-block-txs", "40000"];
    let mut node_a = devnet(&dir.path().join("a"), port_a, 4242, &slow);
    let pooled = signed(4242, 1, 0);
    let (code, _, body) = submit(&gw, &pooled, &[]);
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
    check_hook(
        &hooks.wait_delivered("/recipient", &pooled.hash().to_string()),
        &by_recipient,
        &pooled,
        "transaction.committed",
    );
    // Every notification to the recipient's receiver arrived (at least once: a restart may
    // send one again, under the same id): ten transfers.
    let mut delivered: Vec<String> = hooks
        .at("/recipient")
        .into_iter()
        .filter(|hook| hook.answered == 200)
        .map(|hook| hook.id)
        .collect();
    delivered.sort();
    delivered.dedup();
    assert_eq!(delivered.len(), 10, "{delivered:?}");
    drop(node_b);
}
