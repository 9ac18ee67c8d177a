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
//! At most [`MAX_WEBSOCKETS`](crate::MAX_WEBSOCKETS) connections are open at once, and at most
//! [`MAX_WEBSOCKETS_PER_ADDRESS`] from one client address (more are refused with 503). A subscriber that stops reading cannot pin memory: a message it does not
//! take within [`SEND_TIMEOUT`] ends the connection, with close code 1008 and the reason
//! "subscriber stopped reading".

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_ledger::CommittedBlock;
use cairn_primitives::serde_helpers::parse_0x_hex_array;
use cairn_primitives::{B256, CryptoSuite};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::handlers::committed_transaction;
use crate::types::{ErrorDetail, HeadEvent, TxResponse};
use crate::{ApiError, ApiState, MAX_WEBSOCKETS};

/// Subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 1_024;
/// How long a message may wait for a subscriber to take it before the connection is closed.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections one client address may have open at once, so that no one client can take
/// every connection.
pub const MAX_WEBSOCKETS_PER_ADDRESS: usize = 32;

/// Connections the WebSocket endpoint may have open at once, in all and per client address.
#[derive(Clone, Debug)]
pub struct Slots {
    total: Arc<Semaphore>,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// An open connection's place, given back when it closes.
struct Slot {
    _total: OwnedSemaphorePermit,
    address: IpAddr,
    per_address: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.per_address.lock();
        if let Some(count) = counts.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

impl Slots {
    /// Room for `max` connections.
    pub fn new(max: usize) -> Self {
        Self {
            total: Arc::new(Semaphore::new(max)),
            per_address: Arc::default(),
        }
    }

    /// A place for a connection from `address`, if there is room.
    fn take(&self, address: IpAddr) -> Result<Slot, &'static str> {
        let total = self
            .total
            .clone()
            .try_acquire_owned()
            .map_err(|_| "too_many_websockets")?;
        let mut counts = self.per_address.lock();
        let count = counts.entry(address).or_default();
        if *count >= MAX_WEBSOCKETS_PER_ADDRESS {
            return Err("too_many_websockets_from_address");
        }
        *count += 1;
        Ok(Slot {
            _total: total,
            address,
            per_address: self.per_address.clone(),
        })
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
    params(
        ("Connection" = String, Header, description = "A WebSocket upgrade (RFC 6455)", pattern = "^[Uu]pgrade$"),
        ("Upgrade" = String, Header, description = "The protocol to upgrade to", pattern = "^websocket$"),
        ("Sec-WebSocket-Version" = String, Header, description = "The WebSocket version", pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "16 random bytes, base64"),
    ),
    responses(
        (status = 101, description = "WebSocket: subscribe to heads or to a transaction's result"),
        (status = 400, description = "Not a WebSocket upgrade request (`not_a_websocket`)", body = crate::types::ErrorBody),
        (status = 426, description = "The connection cannot be upgraded (`not_a_websocket`)", body = crate::types::ErrorBody),
        (status = 503, description = "Too many WebSocket connections are open", body = crate::types::ErrorBody),
    ))]
pub async fn subscribe(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<ApiState>,
    Extension(slots): Extension<Slots>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::new(
                rejection.status(),
                "not_a_websocket",
                format!(
                    "{}: connect with a WebSocket client (GET with Connection: Upgrade, \
                     Upgrade: websocket)",
                    rejection.body_text()
                ),
            )
            .into_response();
        }
    };
    let slot = match slots.take(client.ip()) {
        Ok(slot) => slot,
        Err(code) => {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code,
                format!(
                    "at most {MAX_WEBSOCKETS} WebSocket connections at once, \
                     {MAX_WEBSOCKETS_PER_ADDRESS} from one address; try again later"
                ),
            )
            .into_response();
        }
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
            field: None,
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
                Ok(block) => notify_block(state.chain.suite(), &block, &mut subscriptions),
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
    suite: CryptoSuite,
    block: &CommittedBlock,
    subscriptions: &mut HashMap<u64, Subscription>,
) -> Vec<Value> {
    let mut out = Vec::new();
    let mut finished = Vec::new();
    for (id, subscription) in subscriptions.iter() {
        match subscription {
            Subscription::Heads => out.push(json!({
                "subscription": id, "event": "head", "data": HeadEvent::of(suite, &block.block),
            })),
            Subscription::Transaction(hash) => {
                let position = block
                    .block
                    .transactions
                    .iter()
                    .position(|tx| tx.hash() == *hash);
                if let Some(index) = position
                    && let Some(receipt) = block.receipts.get(index)
                    && let Some(view) = TxResponse::committed(suite, &block.block, index, receipt)
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
        ("transaction", Some(hash)) => match parse_0x_hex_array::<32>(hash) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn connections_are_bounded_in_all_and_per_address() {
        let slots = Slots::new(4);
        let a = IpAddr::from([10, 0, 0, 1]);
        let held: Vec<Slot> = (0..MAX_WEBSOCKETS_PER_ADDRESS.min(4))
            .map(|_| slots.take(a).unwrap())
            .collect();
        assert!(
            slots.take(IpAddr::from([10, 0, 0, 2])).is_err(),
            "all taken"
        );
        drop(held);
        // Given back on close: one address may now take its share, and no more.
        let slots = Slots::new(MAX_WEBSOCKETS_PER_ADDRESS + 1);
        let mine: Vec<Slot> = (0..MAX_WEBSOCKETS_PER_ADDRESS)
            .map(|_| slots.take(a).unwrap())
            .collect();
        assert_eq!(
            slots.take(a).err(),
            Some("too_many_websockets_from_address")
        );
        let other = slots.take(IpAddr::from([10, 0, 0, 2])).unwrap();
        assert_eq!(
            slots.take(IpAddr::from([10, 0, 0, 3])).err(),
            Some("too_many_websockets")
        );
        drop(other);
        drop(mine);
        assert!(slots.per_address.lock().is_empty());
        assert!(slots.take(a).is_ok());
    }
}
