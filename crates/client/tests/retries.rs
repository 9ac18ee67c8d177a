//! The client against a scripted server: reads are retried on transient failures and nothing
//! else, submissions never, and the node's errors keep their code and field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use cairn_client::{Client, ClientConfig, ClientError};
use cairn_primitives::{Address, SecretKey, Transaction};
use serde_json::json;

fn status_body() -> serde_json::Value {
    json!({
        "chain_id": 7, "genesis_hash": format!("0x{}", "11".repeat(32)), "height": 3,
        "head": format!("0x{}", "22".repeat(32)), "head_timestamp_ms": 1, "engine": "solo",
        "validator_index": 0, "leader_index": 0, "peers": 0,
        "sync": {"syncing": false, "starting": 0, "current": 3, "highest": 3},
        "pool": {"pending": 0, "ready": 0}, "version": "test",
    })
}

/// Serves `router` on a free port; the client's base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

fn fast() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_millis(500),
        retries: 3,
        retry_pause: Duration::from_millis(10),
        ..ClientConfig::default()
    }
}

#[tokio::test]
async fn reads_are_retried_through_transient_failures() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let router = Router::new().route(
        "/v1/status",
        get(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response_parts()
                } else {
                    (StatusCode::OK, status_body().to_string()).into_response_parts()
                }
            }
        }),
    );
    let client = Client::with_config(&serve(router).await, fast()).unwrap();
    assert_eq!(client.status().await.unwrap().height, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_refusal_is_not_retried_and_keeps_its_code_and_field() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (reads, writes) = (calls.clone(), calls.clone());
    let refusal = json!({"error": {"code": "invalid_field", "message": "\"to\": not an address", "field": "to"}});
    let refusal_post = refusal.clone();
    let router = Router::new()
        .route(
            "/v1/status",
            get(move || {
                reads.fetch_add(1, Ordering::SeqCst);
                let body = refusal.to_string();
                async move { (StatusCode::UNPROCESSABLE_ENTITY, body).into_response_parts() }
            }),
        )
        .route(
            "/v1/transactions",
            post(move || {
                writes.fetch_add(1, Ordering::SeqCst);
                let body = refusal_post.to_string();
                async move { (StatusCode::SERVICE_UNAVAILABLE, body).into_response_parts() }
            }),
        );
    let client = Client::with_config(&serve(router).await, fast()).unwrap();
    let error = client.status().await.unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a 422 was retried");
    match &error {
        ClientError::Api {
            status,
            code,
            field,
            ..
        } => {
            assert_eq!((*status, code.as_str()), (422, "invalid_field"));
            assert_eq!(field.as_deref(), Some("to"));
        }
        other => panic!("{other:?}"),
    }
    // A submission answered 503 is not sent again behind the caller's back.
    let tx = Transaction {
        chain_id: 7,
        nonce: 0,
        to: Address::ZERO,
        amount: 1,
    }
    .sign(&SecretKey::from_bytes([1; 32]));
    let before = calls.load(Ordering::SeqCst);
    assert!(client.submit(&tx).await.is_err());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before + 1,
        "a submission was retried"
    );
}

#[tokio::test]
async fn an_absent_node_is_unreachable_after_the_retries() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::with_config(&format!("http://127.0.0.1:{port}"), fast()).unwrap();
    let started = std::time::Instant::now();
    let error = client.status().await.unwrap_err();
    assert_eq!(error.code(), "unreachable", "{error}");
    // Three pauses: 10 + 20 + 40 ms.
    assert!(started.elapsed() >= Duration::from_millis(70));
}

trait IntoParts {
    fn into_response_parts(self) -> axum::response::Response;
}

impl IntoParts for (StatusCode, String) {
    fn into_response_parts(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        (self.0, [("content-type", "application/json")], self.1).into_response()
    }
}

impl IntoParts for (StatusCode, &'static str) {
    fn into_response_parts(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        (self.0, self.1).into_response()
    }
}
