//! A receiver of the gateway's notifications that checks each one before it believes it.
//!
//! ```sh
//! cargo run -p cairn-gateway --example receiver -- 127.0.0.1:9000 whsec_…
//! ```
//!
//! It answers 401 to a notification whose signature does not verify or whose timestamp is
//! more than five minutes from now (a replay), 204 to one it has seen before (the gateway
//! delivers at least once, always under the same `webhook-id`), and 204 after printing one
//! it has not.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use cairn_gateway::webhook::verify;

/// How far a notification's timestamp may be from this machine's clock.
const TOLERANCE_S: u64 = 300;

#[derive(Clone)]
struct Receiver {
    secret: String,
    seen: Arc<Mutex<HashSet<String>>>,
}

async fn notification(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let (Some(id), Some(timestamp), Some(signature)) = (
        header("webhook-id"),
        header("webhook-timestamp").and_then(|t| t.parse::<u64>().ok()),
        header("webhook-signature"),
    ) else {
        return StatusCode::BAD_REQUEST;
    };
    let now = cairn_primitives::clock::now_ms() / 1_000;
    if now.abs_diff(timestamp) > TOLERANCE_S {
        return StatusCode::UNAUTHORIZED;
    }
    // The signature covers the id, the timestamp and the body exactly as received.
    if !verify(&receiver.secret, id, timestamp, &body, signature) {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(mut seen) = receiver.seen.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    if seen.insert(id.to_string()) {
        let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        println!(
            "{id} {} {} in block {}",
            event["type"].as_str().unwrap_or("?"),
            event["data"]["hash"].as_str().unwrap_or("?"),
            event["data"]["block"]
        );
    }
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(secret)) = (args.next(), args.next()) else {
        eprintln!("usage: receiver LISTEN_ADDR whsec_SECRET");
        std::process::exit(2);
    };
    let receiver = Receiver {
        secret,
        seen: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/", post(notification))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("receiving on http://{listen}/");
    axum::serve(listener, app).await
}
