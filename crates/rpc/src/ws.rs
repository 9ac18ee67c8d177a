//! WebSocket subscriptions at `/v1/ws`.
//!
//! Client messages (JSON text frames):
//! * `{"id": 1, "subscribe": "heads"}`: every committed head from now on.
//! * `{"id": 2, "subscribe": "transaction", "hash": "0x…"}`: the transaction's result once it
//!   is committed (at once if it already is); the subscription then ends.
//! * `{"id": 3, "unsubscribe": 7}`.
//!
//! Server messages: `{"id": 1, "result": {"subscription": 7}}` answers a request;
//! `{"id": 1, "error": {"code", "message"}}` refuses one; notifications are
//! `{"subscription": 7, "event": "head", "data": {...}}` and
//! `{"subscription": 8, "event": "transaction", "data": {...}}`. A subscriber too slow to keep
//! up receives `{"event": "lagged", "data": {"skipped": n}}` and continues from the newest head.
//!
//! At most [`MAX_WEBSOCKETS`](crate::MAX_WEBSOCKETS) connections are open at once (more are
//! refused with 503). A subscriber that stops reading cannot pin memory: a message it does not
//! take within [`SEND_TIMEOUT`] ends the connection, with close code 1008 and the reason
//! "subscriber stopped reading".

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_ledger::CommittedBlock;
use cairn_primitives::B256;
use cairn_primitives::serde_helpers::parse_hex_array;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::sync::broadcast::error::RecvError;

use crate::handlers::committed_transaction;
use crate::types::{ErrorDetail, HeadEvent, TxResponse};
use crate::{ApiError, ApiState, MAX_WEBSOCKETS};

/// Subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 1_024;
/// How long a message may wait for a subscriber to take it before the connection is closed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections the WebSocket endpoint may have open at once.
#[derive(Clone, Debug)]
pub struct Slots(Arc<Semaphore>);

impl Slots {
    /// Room for `max` connections.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }
}
/// Largest client frame.
const MAX_FRAME_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage {
    id: Option<u64>,
    subscribe: Option<String>,
    hash: Option<String>,
    unsubscribe: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Reply {
    id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorDetail>,
}

enum Subscription {
    Heads,
    Transaction(B256),
}

/// Upgrades to a WebSocket carrying subscriptions.
#[utoipa::path(get, path = "/v1/ws", tag = "subscriptions",
    responses(
        (status = 101, description = "WebSocket: subscribe to heads or to a transaction's result"),
        (status = 503, description = "Too many WebSocket connections are open", body = crate::types::ErrorBody),
    ))]
pub async fn subscribe(
    ws: WebSocketUpgrade,
    State(state): State<ApiState>,
    Extension(Slots(slots)): Extension<Slots>,
) -> Response {
    let Ok(slot) = slots.try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_websockets",
            format!("at most {MAX_WEBSOCKETS} WebSocket connections at once; try again later"),
        )
        .into_response();
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            serve_socket(socket, state).await;
            drop(slot);
        })
}

fn error_reply(id: Option<u64>, code: &str, message: impl Into<String>) -> Reply {
    Reply {
        id,
        result: None,
        error: Some(ErrorDetail {
            code: code.into(),
            message: message.into(),
        }),
    }
}

async fn serve_socket(socket: WebSocket, state: ApiState) {
    let (mut sink, mut stream) = socket.split();
    let mut events = state.chain.subscribe();
    let mut subscriptions: HashMap<u64, Subscription> = HashMap::new();
    let mut next_id: u64 = 1;
    loop {
        let outgoing: Vec<Value> = tokio::select! {
            incoming = stream.next() => {
                let text = match incoming {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => {
                        let reply = error_reply(None, "unsupported_frame", "send JSON text frames");
                        if send(&mut sink, &json!(reply)).await.is_err() { return }
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                handle_request(&state, text.as_str(), &mut subscriptions, &mut next_id)
            }
            event = events.recv() => match event {
                Ok(block) => notify_block(&block, &mut subscriptions),
                Err(RecvError::Lagged(skipped)) => {
                    let mut out = vec![json!({"event": "lagged", "data": {"skipped": skipped}})];
                    out.extend(recheck_transactions(&state, &mut subscriptions));
                    out
                }
                Err(RecvError::Closed) => return,
            },
        };
        for message in outgoing {
            match tokio::time::timeout(SEND_TIMEOUT, send(&mut sink, &message)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    // The subscriber stopped reading: say why if the socket still takes a
                    // frame, and let the connection and everything queued for it go.
                    let close = Message::Close(Some(CloseFrame {
                        code: close_code::POLICY,
                        reason: "subscriber stopped reading".into(),
                    }));
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(close)).await;
                    return;
                }
            }
        }
    }
}

/// Notifications for a committed block: a head event per heads subscription, and the result
/// of every watched transaction it includes (ending those subscriptions).
fn notify_block(
    block: &CommittedBlock,
    subscriptions: &mut HashMap<u64, Subscription>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut finished = Vec::new();
    for (id, subscription) in subscriptions.iter() {
        match subscription {
            Subscription::Heads => out.push(json!({
                "subscription": id, "event": "head", "data": HeadEvent::of(block),
            })),
            Subscription::Transaction(hash) => {
                let position = block
                    .block
                    .transactions
                    .iter()
                    .position(|tx| tx.hash() == *hash);
                if let Some(index) = position
                    && let Some(receipt) = block.receipts.get(index)
                    && let Some(view) = TxResponse::committed(&block.block, index, receipt)
                {
                    out.push(json!({"subscription": id, "event": "transaction", "data": view}));
                    finished.push(*id);
                }
            }
        }
    }
    for id in finished {
        subscriptions.remove(&id);
    }
    out
}

/// After missing blocks, looks every watched transaction up in the store.
fn recheck_transactions(
    state: &ApiState,
    subscriptions: &mut HashMap<u64, Subscription>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut finished = Vec::new();
    for (id, subscription) in subscriptions.iter() {
        if let Subscription::Transaction(hash) = subscription
            && let Ok(Some(view)) = committed_transaction(state, hash)
        {
            out.push(json!({"subscription": id, "event": "transaction", "data": view}));
            finished.push(*id);
        }
    }
    for id in finished {
        subscriptions.remove(&id);
    }
    out
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    value: &Value,
) -> Result<(), axum::Error> {
    sink.send(Message::Text(value.to_string().into())).await
}

fn handle_request(
    state: &ApiState,
    text: &str,
    subscriptions: &mut HashMap<u64, Subscription>,
    next_id: &mut u64,
) -> Vec<Value> {
    let message: ClientMessage = match serde_json::from_str(text) {
        Ok(message) => message,
        Err(e) => return vec![json!(error_reply(None, "malformed_json", e.to_string()))],
    };
    let id = message.id;
    if let Some(subscription) = message.unsubscribe {
        let removed = subscriptions.remove(&subscription).is_some();
        return vec![json!(Reply {
            id,
            result: Some(json!({"unsubscribed": removed})),
            error: None
        })];
    }
    let Some(kind) = message.subscribe.as_deref() else {
        return vec![json!(error_reply(
            id,
            "invalid_request",
            "expected \"subscribe\" or \"unsubscribe\""
        ))];
    };
    if subscriptions.len() >= MAX_SUBSCRIPTIONS {
        return vec![json!(error_reply(
            id,
            "too_many_subscriptions",
            format!("at most {MAX_SUBSCRIPTIONS} per connection")
        ))];
    }
    let subscription = match (kind, message.hash.as_deref()) {
        ("heads", None) => Subscription::Heads,
        ("transaction", Some(hash)) => match parse_hex_array::<32>(hash) {
            Ok(bytes) => Subscription::Transaction(B256::from(bytes)),
            Err(e) => return vec![json!(error_reply(id, "invalid_hash", e))],
        },
        ("transaction", None) => {
            return vec![json!(error_reply(
                id,
                "invalid_request",
                "a transaction subscription needs \"hash\""
            ))];
        }
        (other, _) => {
            return vec![json!(error_reply(
                id,
                "invalid_request",
                format!("unknown subscription {other:?}; use heads or transaction")
            ))];
        }
    };
    let subscription_id = *next_id;
    *next_id += 1;
    let mut out = vec![json!(Reply {
        id,
        result: Some(json!({"subscription": subscription_id})),
        error: None
    })];
    // A transaction already committed is answered at once.
    if let Subscription::Transaction(hash) = &subscription {
        match committed_transaction(state, hash) {
            Ok(Some(view)) => {
                out.push(
                    json!({"subscription": subscription_id, "event": "transaction", "data": view}),
                );
                return out;
            }
            Ok(None) => {}
            Err(e) => return vec![json!(error_reply(id, e.code, e.message))],
        }
    }
    subscriptions.insert(subscription_id, subscription);
    out
}
