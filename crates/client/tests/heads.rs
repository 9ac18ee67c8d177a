//! `Heads` against a scripted node: a head announced ahead of the follower leaves a gap that
//! the block list fills at once (not at the next announcement), every height once and in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::response::IntoResponse;
use axum::routing::get;
use cairn_client::Client;
use serde_json::{Value, json};

fn header(height: u64) -> Value {
    let hash = |b: u8| format!("0x{}", format!("{b:02x}").repeat(32));
    json!({
        "hash": hash(height as u8), "height": height, "parent_hash": hash(0),
        "timestamp_ms": height * 1000, "proposer": format!("0x{}", "11".repeat(20)),
        "state_root": hash(1), "transactions_root": hash(2), "receipts_root": hash(3),
        "extra": "0x",
    })
}

/// The node's head: block 1 at first; 5 once the socket has announced it.
static TIP: AtomicU64 = AtomicU64::new(1);

/// The block list, up to the head, two blocks a page.
async fn blocks(
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    let start: u64 = query.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let tip = TIP.load(Ordering::SeqCst);
    let blocks: Vec<Value> = (start.max(1)..=tip)
        .take(2) // small pages, so the gap takes more than one
        .map(|h| {
            let mut block = header(h);
            block["seal"] = json!({"kind": "certificate"});
            block["transaction_count"] = json!(0);
            block["transactions"] = json!([]);
            block
        })
        .collect();
    let next = blocks
        .last()
        .map(|b| b["height"].as_u64().unwrap() + 1)
        .filter(|n| *n <= tip);
    axum::Json(json!({"blocks": blocks, "next": next}))
}

/// The socket announces head 1; a moment later the node commits 2 to 5 at once and announces
/// only 5 (a follower that lags sees such jumps); then it goes quiet.
async fn socket(ws: WebSocketUpgrade) -> impl IntoResponse {
    ws.on_upgrade(|mut socket| async move {
        let _subscribe = socket.recv().await;
        for height in [1, 5] {
            tokio::time::sleep(Duration::from_millis(200)).await;
            TIP.store(height, Ordering::SeqCst);
            let mut event = header(height);
            event["transaction_count"] = json!(0);
            let message = json!({"subscription": 1, "event": "head", "data": event});
            let _ = socket.send(Message::text(message.to_string())).await;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    })
}

#[tokio::test]
async fn a_gap_while_connected_is_filled_from_the_block_list() {
    let router = Router::new()
        .route("/v1/blocks", get(blocks))
        .route("/v1/ws", get(socket));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let client = Client::new(&format!("http://{address}")).unwrap();
    let mut heads = client.heads(1);
    let mut heights = Vec::new();
    for _ in 0..5 {
        let head = tokio::time::timeout(Duration::from_secs(10), heads.next())
            .await
            .expect("a head within 10 s")
            .unwrap();
        heights.push(head.header.height);
    }
    assert_eq!(heights, [1, 2, 3, 4, 5]);
}
