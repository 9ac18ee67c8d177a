//! The gateway's HTTP API: submission (`POST /v1/transactions`: validation, idempotency, the
//! durable acceptance), results (`GET /v1/transactions/{hash}`), receivers
//! (`POST/GET/DELETE /v1/receivers`), notifications (`GET /v1/deliveries`,
//! `POST /v1/deliveries/{id}/retry`), `GET /v1/status` and the OpenAPI document at
//! `/v1/openapi.json`.
//!
//! A request is checked before anything is stored: its JSON, the chain id (one this gateway
//! serves), the transaction's encoding, its signature and its own chain id. With an
//! `Idempotency-Key`, a second request with the key arriving while the first is processed is
//! refused with 409 (the key is held in memory for that time); afterwards the stored answer
//! decides (see [`crate::store`]). Every error is `{"error": {"code", "message", "field"}}`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_api_types::{ErrorBody, ErrorDetail, ReceiptView};
use cairn_primitives::{Address, B256, SignedTransaction, keccak256, verify_signatures};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::outbox::{Delivery, DeliveryStatus, MAX_URL_BYTES, Receiver, Redelivery};
use crate::store::{
    Acceptance, GatewayStore, Limits, MAX_DEVICE_BYTES, MAX_KEY_BYTES, StoreError, StoredAnswer,
    Submission,
};
use crate::store::{TxRecord, TxStatus};
use crate::webhook::{Match, new_secret};

/// Largest request body (a transaction of [`MAX_TX_BYTES`] as hex, and room for the rest).
pub const MAX_REQUEST_BYTES: usize = 80 * 1024;
/// Largest signed transaction, encoded.
pub const MAX_TX_BYTES: usize = 32 * 1024;
/// Largest receiver registration.
pub const MAX_RECEIVER_REQUEST_BYTES: usize = 8 * 1024;
/// Most items a list answers with.
pub const MAX_PAGE: usize = 1_000;

/// What the API is configured with.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The chains served.
    pub chains: BTreeSet<u64>,
    /// The idempotency window and the outbox's bounds.
    pub limits: Limits,
    /// Most receivers registered.
    pub max_receivers: u64,
}

/// What the API serves from.
#[derive(Clone)]
pub struct GatewayApi {
    store: Arc<GatewayStore>,
    config: Arc<ApiConfig>,
    now_ms: fn() -> u64,
    in_flight: Arc<Mutex<HashSet<String>>>,
    owed: Arc<tokio::sync::Notify>,
    acceptor: tokio::sync::mpsc::Sender<Waiting>,
}

impl GatewayApi {
    /// An API over `store`; each transaction accepted goes to `accepted` once it is stored
    /// (the relay takes it from there), and `owed` is notified when notifications become due
    /// (the deliverer waits on it). Starts the task that accepts submissions, so it is
    /// called within a Tokio runtime.
    pub fn new(
        store: Arc<GatewayStore>,
        config: ApiConfig,
        now_ms: fn() -> u64,
        accepted: tokio::sync::mpsc::UnboundedSender<TxRecord>,
        owed: Arc<tokio::sync::Notify>,
    ) -> Self {
        let (acceptor_tx, waiting) = tokio::sync::mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(acceptor(
            store.clone(),
            waiting,
            (config.limits, now_ms),
            accepted,
        ));
        Self {
            acceptor: acceptor_tx,
            store,
            config: Arc::new(config),
            now_ms,
            in_flight: Arc::default(),
            owed,
        }
    }

    /// The routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/status", get(status))
            .route("/v1/openapi.json", get(openapi))
            .route("/v1/transactions", post(submit))
            .route("/v1/transactions/{hash}", get(transaction))
            .route("/v1/receivers", post(add_receiver).get(list_receivers))
            .route(
                "/v1/receivers/{id}",
                get(get_receiver).delete(remove_receiver),
            )
            .route("/v1/deliveries", get(list_deliveries))
            .route("/v1/deliveries/{id}", get(get_delivery))
            .route("/v1/deliveries/{id}/retry", post(retry_delivery))
            .fallback(|| async {
                GatewayError::not_found("not_found", "no such endpoint; see /v1/openapi.json")
            })
            .method_not_allowed_fallback(|| async {
                GatewayError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "method not allowed here",
                )
            })
            .with_state(self)
            .layer(
                tower::ServiceBuilder::new()
                    .layer(CatchPanicLayer::custom(|_| {
                        tracing::error!("a request handler panicked");
                        GatewayError::internal("internal error").into_response()
                    }))
                    .layer(axum::middleware::map_response(json_timeouts))
                    .layer(TimeoutLayer::with_status_code(
                        StatusCode::REQUEST_TIMEOUT,
                        REQUEST_TIMEOUT,
                    ))
                    .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                        MAX_IN_FLIGHT,
                    ))
                    // Bodies are read against their bounds by the handlers, which answer in
                    // JSON.
                    .layer(DefaultBodyLimit::disable()),
            )
    }
}

/// How long a request may take, its body included.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Most requests served at once.
pub const MAX_IN_FLIGHT: usize = 1_024;

/// A timeout raised by the layer, in the JSON error shape.
async fn json_timeouts(response: Response) -> Response {
    if response.status() == StatusCode::REQUEST_TIMEOUT {
        return GatewayError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("a request must be complete within {REQUEST_TIMEOUT:?}"),
        )
        .into_response();
    }
    response
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, GatewayError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(GatewayError::internal)?
        .map_err(GatewayError::internal)
}

/// An error answer.
#[derive(Debug)]
pub struct GatewayError {
    status: StatusCode,
    body: ErrorBody,
}

impl GatewayError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    code: code.to_string(),
                    message: message.into(),
                    field: None,
                },
            },
        }
    }

    fn field(mut self, field: &str) -> Self {
        self.body.error.field = Some(field.to_string());
        self
    }

    fn bad(code: &str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message).field(field)
    }

    fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            error.to_string(),
        )
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// A submission: a signed transaction for a chain this gateway serves.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The chain it is for.
    chain_id: u64,
    /// The signed transaction in Cairn's encoding, 0x-hex.
    #[schema(pattern = "^0x[0-9a-fA-F]*$")]
    tx: String,
    /// The sending device, if not in `X-Device-Id`.
    #[serde(default)]
    device: Option<String>,
}

/// The answer to an accepted (or known) transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmitResponse {
    /// Its hash.
    #[schema(value_type = String)]
    hash: B256,
    /// Where it stands.
    status: TxStatus,
    /// Set when this very transaction was accepted before, within the window, without a key:
    /// it is not sent again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

/// A transaction the gateway accepted, and the notifications of its result.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionView {
    /// Its hash.
    #[schema(value_type = String)]
    hash: B256,
    /// Its chain.
    chain_id: u64,
    /// `accepted`, `submitted`, `pending`, `committed`, `failed` or `dropped`.
    status: TxStatus,
    /// The device that sent it.
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    /// Where a transfer sends its amount.
    #[schema(value_type = Option<String>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<Address>,
    /// Times it was handed to a node.
    attempts: u32,
    /// When the gateway accepted it (ms since the epoch).
    accepted_at: u64,
    /// When its record last changed (ms since the epoch).
    updated_at: u64,
    /// Its block, once committed or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    block: Option<u64>,
    /// Its block's hash.
    #[schema(value_type = Option<String>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    block_hash: Option<B256>,
    /// Its receipt, once committed or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<ReceiptView>,
    /// The last error: a node's refusal, or why it failed or was dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The notifications of its result, one per matching receiver.
    notifications: Vec<DeliveryView>,
}

impl TransactionView {
    fn of(record: TxRecord, notifications: Vec<Delivery>) -> Self {
        Self {
            hash: record.hash,
            chain_id: record.chain_id,
            status: record.status,
            device: record.device,
            recipient: record.recipient,
            attempts: record.attempts,
            accepted_at: record.accepted_ms,
            updated_at: record.updated_ms,
            block: record.block,
            block_hash: record.block_hash,
            receipt: record.receipt,
            error: record.error,
            notifications: notifications
                .into_iter()
                .map(|delivery| DeliveryView::of(delivery, false))
                .collect(),
        }
    }
}

/// A notification owed to a receiver, and how its delivery stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Its id, sent as `webhook-id`.
    id: String,
    /// The receiver.
    receiver: String,
    /// The transaction it tells of.
    #[schema(value_type = String)]
    hash: B256,
    /// `transaction.committed`, `transaction.failed` or `transaction.dropped`.
    #[serde(rename = "type")]
    event: String,
    /// `pending`, `delivered` or `dead`.
    status: DeliveryStatus,
    /// Attempts made.
    attempts: u32,
    /// When it was created (ms since the epoch).
    created_at: u64,
    /// When it is attempted next, while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<u64>,
    /// When it was last attempted.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_attempt_at: Option<u64>,
    /// The HTTP status of the last answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_status: Option<u16>,
    /// What went wrong last.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    /// When its receiver answered 2xx.
    #[serde(skip_serializing_if = "Option::is_none")]
    delivered_at: Option<u64>,
    /// The body sent on every attempt.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    payload: Option<serde_json::Value>,
}

impl DeliveryView {
    fn of(delivery: Delivery, with_payload: bool) -> Self {
        Self {
            payload: with_payload
                .then(|| serde_json::from_str(&delivery.payload).ok())
                .flatten(),
            next_attempt_at: (delivery.status == DeliveryStatus::Pending)
                .then_some(delivery.next_attempt_ms),
            id: delivery.id,
            receiver: delivery.receiver,
            hash: delivery.hash,
            event: delivery.event,
            status: delivery.status,
            attempts: delivery.attempts,
            created_at: delivery.created_ms,
            last_attempt_at: delivery.last_attempt_ms,
            last_status: delivery.last_status,
            last_error: delivery.last_error,
            delivered_at: delivery.delivered_ms,
        }
    }
}

/// The answer stored under an idempotency key.
fn stored_answer(record: &TxRecord, duplicate: bool) -> StoredAnswer {
    StoredAnswer {
        status: if duplicate {
            StatusCode::OK.as_u16()
        } else {
            StatusCode::ACCEPTED.as_u16()
        },
        body: serde_json::to_value(SubmitResponse {
            hash: record.hash,
            status: record.status,
            duplicate,
        })
        .unwrap_or_default(),
    }
}

/// Why the acceptor did not accept a submission.
#[derive(Debug)]
enum Refusal {
    /// The transaction's signature does not verify.
    BadSignature,
    /// The store refused it, or failed.
    Store(StoreError),
}

/// A submission waiting for the acceptor, its transaction, and where its outcome goes.
type Waiting = (
    Submission,
    SignedTransaction,
    tokio::sync::oneshot::Sender<Result<Acceptance, Refusal>>,
);

/// Most submissions accepted in one durable write.
const MAX_GROUP: usize = 512;

/// Accepts submissions in groups: whatever arrived while the last write was flushed goes
/// into the next one, so many callers share one flush (and one batch check of their
/// signatures) and each is answered only after it.
async fn acceptor(
    store: Arc<GatewayStore>,
    mut waiting: tokio::sync::mpsc::Receiver<Waiting>,
    (limits, now_ms): (Limits, fn() -> u64),
    accepted: tokio::sync::mpsc::UnboundedSender<TxRecord>,
) {
    while let Some(first) = waiting.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match waiting.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let mut submissions = Vec::with_capacity(group.len());
        let mut txs = Vec::with_capacity(group.len());
        let mut replies = Vec::with_capacity(group.len());
        for (submission, tx, reply) in group {
            submissions.push(submission);
            txs.push(tx);
            replies.push(reply);
        }
        let store = store.clone();
        let now = now_ms();
        let outcomes = tokio::task::spawn_blocking(move || {
            let valid = verify_signatures(&txs);
            let good: Vec<Submission> = submissions
                .into_iter()
                .zip(&valid)
                .filter_map(|(submission, valid)| valid.then_some(submission))
                .collect();
            let mut stored = store
                .accept_all(good, stored_answer, limits, now)?
                .into_iter();
            // Back in the group's order.
            Ok::<_, StoreError>(
                valid
                    .into_iter()
                    .map(
                        |valid| match (valid, valid.then(|| stored.next()).flatten()) {
                            (true, Some(outcome)) => outcome.map_err(Refusal::Store),
                            _ => Err(Refusal::BadSignature),
                        },
                    )
                    .collect::<Vec<_>>(),
            )
        })
        .await
        .map_err(|e| StoreError::Database(e.to_string()))
        .and_then(|outcomes| outcomes);
        match outcomes {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    if let Ok(Acceptance::Accepted(record)) = &outcome {
                        let _ = accepted.send(record.clone());
                    }
                    let _ = reply.send(outcome);
                }
            }
            Err(error) => {
                for reply in replies {
                    let failure = StoreError::Database(error.to_string());
                    let _ = reply.send(Err(Refusal::Store(failure)));
                }
            }
        }
    }
}

/// Removes a key from the in-flight set however the request ends.
struct Holding {
    in_flight: Arc<Mutex<HashSet<String>>>,
    key: String,
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.in_flight.lock().remove(&self.key);
    }
}

fn header_text<'a>(
    headers: &'a HeaderMap,
    name: &str,
    max: usize,
) -> Result<Option<&'a str>, GatewayError> {
    let Some(value) = headers.get(name) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .ok()
        .filter(|text| !text.is_empty() && text.len() <= max && !text.contains('\0'))
        .ok_or_else(|| {
            GatewayError::bad(
                "invalid_header",
                name,
                format!("{name} must be 1 to {max} visible ASCII characters"),
            )
        })?;
    Ok(Some(text))
}

/// Reads and checks a submission: the request, the device, and the signed transaction's
/// encoding and chain (its signature is checked on acceptance).
fn check(
    api: &GatewayApi,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(SubmitRequest, Option<String>, SignedTransaction, Vec<u8>), GatewayError> {
    let request: SubmitRequest = serde_json::from_slice(body).map_err(|e| {
        GatewayError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not a submission {{\"chain_id\", \"tx\", \"device\"?}}: {e}"),
        )
    })?;
    let header_device = header_text(headers, "x-device-id", MAX_DEVICE_BYTES)?;
    let device = match (header_device, request.device.as_deref()) {
        (Some(header), Some(field)) if header != field => {
            return Err(GatewayError::bad(
                "device_mismatch",
                "device",
                "X-Device-Id and \"device\" name different devices",
            ));
        }
        (Some(device), _) | (None, Some(device)) => {
            if device.is_empty() || device.len() > MAX_DEVICE_BYTES || device.contains('\0') {
                return Err(GatewayError::bad(
                    "invalid_device",
                    "device",
                    format!("a device id is 1 to {MAX_DEVICE_BYTES} bytes"),
                ));
            }
            Some(device.to_string())
        }
        (None, None) => None,
    };
    if !api.config.chains.contains(&request.chain_id) {
        let served: Vec<String> = api.config.chains.iter().map(u64::to_string).collect();
        return Err(GatewayError::bad(
            "unknown_chain",
            "chain_id",
            format!(
                "this gateway serves chains {}, not {}",
                served.join(", "),
                request.chain_id
            ),
        ));
    }
    let hex = request.tx.strip_prefix("0x").unwrap_or(&request.tx);
    if hex.len() > MAX_TX_BYTES * 2 {
        return Err(GatewayError::bad(
            "transaction_too_large",
            "tx",
            format!("a transaction is at most {MAX_TX_BYTES} bytes"),
        ));
    }
    let bytes = hex::decode(hex)
        .map_err(|e| GatewayError::bad("invalid_hex", "tx", format!("not 0x-hex: {e}")))?;
    let tx = SignedTransaction::decode_exact(&bytes).map_err(|e| {
        GatewayError::bad(
            "invalid_transaction",
            "tx",
            format!("not a signed transaction: {e}"),
        )
    })?;
    if tx.chain_id() != request.chain_id {
        return Err(GatewayError::bad(
            "chain_mismatch",
            "chain_id",
            format!(
                "the transaction is signed for chain {}, not {}",
                tx.chain_id(),
                request.chain_id
            ),
        ));
    }
    // The signature is checked by the acceptor, in a batch with the others of its group.
    Ok((request, device, tx, bytes))
}

/// Accepts a signed transaction: checked, stored durably, then forwarded to a node of its
/// chain and followed to its result.
#[utoipa::path(post, path = "/v1/transactions", tag = "transactions",
    request_body = SubmitRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 characters; the same key with the same request within the window replays the first answer"),
        ("X-Device-Id" = Option<String>, Header, description = "The sending device (or `device` in the body)"),
    ),
    responses(
        (status = 202, description = "Accepted: stored, to be forwarded", body = SubmitResponse),
        (status = 200, description = "This transaction was accepted before within the window (`duplicate`); not sent again", body = SubmitResponse),
        (status = 400, description = "Malformed JSON, unknown chain, bad transaction or signature, bad header (`field` names it)", body = ErrorBody),
        (status = 409, description = "A request with this Idempotency-Key is being processed", body = ErrorBody),
        (status = 413, description = "The request is larger than 80 KiB", body = ErrorBody),
        (status = 422, description = "This Idempotency-Key was used with another request", body = ErrorBody),
        (status = 503, description = "The outbox is full (`outbox_full`)", body = ErrorBody),
    ))]
async fn submit(
    State(api): State<GatewayApi>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    let key = header_text(&headers, "idempotency-key", MAX_KEY_BYTES)?.map(str::to_string);
    // The same key while a request with it is processed, from its headers on: 409.
    let _holding = match &key {
        Some(key) => {
            let device = header_text(&headers, "x-device-id", MAX_DEVICE_BYTES)?;
            let scoped = format!("{}\0{key}", device.unwrap_or(""));
            if !api.in_flight.lock().insert(scoped.clone()) {
                return Err(GatewayError::new(
                    StatusCode::CONFLICT,
                    "request_in_progress",
                    "a request with this Idempotency-Key is being processed; retry later",
                )
                .field("Idempotency-Key"));
            }
            Some(Holding {
                in_flight: api.in_flight.clone(),
                key: scoped,
            })
        }
        None => None,
    };
    let body = axum::body::to_bytes(body, MAX_REQUEST_BYTES)
        .await
        .map_err(|_| {
            GatewayError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("a request is at most {MAX_REQUEST_BYTES} bytes"),
            )
        })?;
    let (request, device, tx, bytes) = check(&api, &headers, &body)?;
    // What the request asks, whatever its JSON spelling.
    let mut canonical = request.chain_id.to_be_bytes().to_vec();
    canonical.extend_from_slice(&bytes);
    canonical.extend_from_slice(device.as_deref().unwrap_or("").as_bytes());
    let body_hash = keccak256(&canonical);
    let now = (api.now_ms)();
    let record = TxRecord {
        hash: tx.hash(),
        chain_id: request.chain_id,
        tx: bytes.into(),
        device,
        status: TxStatus::Accepted,
        attempts: 0,
        accepted_ms: now,
        updated_ms: now,
        block: None,
        error: None,
        recipient: tx.transfer().map(|transfer| transfer.to),
        block_hash: None,
        index: None,
        receipt: None,
    };
    let (reply, outcome) = tokio::sync::oneshot::channel();
    let submission = Submission {
        record,
        key: key.map(|key| (key, body_hash)),
    };
    api.acceptor
        .send((submission, tx, reply))
        .await
        .map_err(|_| GatewayError::internal("the acceptor stopped"))?;
    let acceptance = outcome
        .await
        .map_err(|_| GatewayError::internal("the acceptor stopped"))?
        .map_err(|refusal| match refusal {
            Refusal::BadSignature => {
                GatewayError::bad("invalid_signature", "tx", "the signature does not verify")
            }
            Refusal::Store(error @ StoreError::Full(_)) => GatewayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "outbox_full",
                format!("{error}; retry later"),
            ),
            Refusal::Store(other) => GatewayError::internal(other),
        })?;
    Ok(match acceptance {
        Acceptance::Accepted(record) => (
            StatusCode::ACCEPTED,
            Json(SubmitResponse {
                hash: record.hash,
                status: record.status,
                duplicate: false,
            }),
        )
            .into_response(),
        Acceptance::Duplicate(first) => (
            StatusCode::OK,
            Json(SubmitResponse {
                hash: first.hash,
                status: first.status,
                duplicate: true,
            }),
        )
            .into_response(),
        Acceptance::Replayed(answer) => {
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::ACCEPTED);
            let mut response = (status, Json(answer.body)).into_response();
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Acceptance::KeyReused => {
            return Err(GatewayError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request within the window",
            )
            .field("Idempotency-Key"));
        }
    })
}

/// A transaction the gateway accepted: where it stands, its result, and each notification
/// of the result with its delivery state.
#[utoipa::path(get, path = "/v1/transactions/{hash}", tag = "transactions",
    params(("hash" = String, Path, description = "0x and 64 hex digits")),
    responses(
        (status = 200, description = "The transaction", body = TransactionView),
        (status = 400, description = "Not a hash", body = ErrorBody),
        (status = 404, description = "Never accepted here", body = ErrorBody),
    ))]
async fn transaction(
    State(api): State<GatewayApi>,
    Path(hash): Path<String>,
) -> Result<Json<TransactionView>, GatewayError> {
    let hash: B256 = hash
        .parse()
        .ok()
        .filter(|_| hash.starts_with("0x") && hash.len() == 66)
        .ok_or_else(|| GatewayError::bad("invalid_hash", "hash", "give 0x and 64 hex digits"))?;
    let store = api.store.clone();
    let record = tokio::task::spawn_blocking(move || store.transaction(&hash))
        .await
        .map_err(GatewayError::internal)?
        .map_err(GatewayError::internal)?
        .ok_or_else(|| {
            GatewayError::new(
                StatusCode::NOT_FOUND,
                "unknown_transaction",
                format!("this gateway never accepted {hash}"),
            )
        })?;
    let notifications = blocking({
        let store = api.store.clone();
        move || store.deliveries_of(&hash)
    })
    .await?;
    Ok(Json(TransactionView::of(record, notifications)))
}

/// The gateway's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct GatewayStatus {
    /// The chains it serves.
    chains: Vec<u64>,
    /// Transactions waiting for their results.
    unfinished: usize,
    /// Notifications waiting for delivery.
    pending_deliveries: u64,
    /// Receivers registered.
    receivers: u64,
    /// Its version.
    version: String,
}

/// What the gateway serves and how much waits in its outbox.
#[utoipa::path(get, path = "/v1/status", tag = "gateway",
    responses((status = 200, description = "The gateway's state", body = GatewayStatus)))]
async fn status(State(api): State<GatewayApi>) -> Result<Json<GatewayStatus>, GatewayError> {
    let store = api.store.clone();
    let (unfinished, pending_deliveries, receivers) = blocking(move || {
        Ok((
            store.unfinished_count()?,
            store.pending_deliveries()?,
            store.receiver_count()?,
        ))
    })
    .await?;
    Ok(Json(GatewayStatus {
        chains: api.config.chains.iter().copied().collect(),
        unfinished,
        pending_deliveries,
        receivers,
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// A receiver to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiverRequest {
    /// Where notifications are POSTed (`http://`).
    url: String,
    /// `{"device": "…"}`, `{"recipient": "0x…"}` or `{"transaction": "0x…"}`.
    #[serde(rename = "match")]
    #[schema(value_type = Object, example = json!({"device": "teller-1"}))]
    matches: Match,
    /// The registering device, if not in `X-Device-Id`.
    #[serde(default)]
    device: Option<String>,
}

/// A receiver just registered: the only answer that carries its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiverCreated {
    /// Its id.
    id: String,
    /// Its signing secret (`whsec_…`): keep it, it is not shown again.
    secret: String,
    /// Its URL.
    url: String,
    /// What it matches.
    #[serde(rename = "match")]
    #[schema(value_type = Object)]
    matches: Match,
    /// Whether it is disabled (never, when new).
    disabled: bool,
}

/// A registered receiver.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiverView {
    /// Its id.
    id: String,
    /// Its URL.
    url: String,
    /// What it matches.
    #[serde(rename = "match")]
    #[schema(value_type = Object)]
    matches: Match,
    /// Set once it answered 410 Gone: nothing more is sent to it.
    disabled: bool,
    /// Why it was disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    disabled_reason: Option<String>,
    /// The device that registered it.
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    /// When it was registered (ms since the epoch).
    created_at: u64,
}

impl From<Receiver> for ReceiverView {
    fn from(receiver: Receiver) -> Self {
        Self {
            id: receiver.id,
            url: receiver.url,
            matches: receiver.matches,
            disabled: receiver.disabled,
            disabled_reason: receiver.disabled_reason,
            device: receiver.device,
            created_at: receiver.created_ms,
        }
    }
}

/// Registered receivers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReceiversPage {
    /// In id order.
    receivers: Vec<ReceiverView>,
}

/// Notifications.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesPage {
    /// Newest first.
    deliveries: Vec<DeliveryView>,
}

fn check_receiver_url(url: &str) -> Result<(), GatewayError> {
    let bad = |message: String| GatewayError::bad("invalid_url", "url", message);
    if url.len() > MAX_URL_BYTES {
        return Err(bad(format!("a URL is at most {MAX_URL_BYTES} bytes")));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(format!("not a URL: {e}")))?;
    match parsed.scheme() {
        "http" => {}
        "https" => {
            return Err(bad(
                "this gateway delivers over plain http:// only (it has no TLS); reach an \
                 https receiver through a local proxy"
                    .into(),
            ));
        }
        other => return Err(bad(format!("the scheme is http, not {other}"))),
    }
    if parsed.host_str().is_none_or(str::is_empty) || parsed.fragment().is_some() {
        return Err(bad("give a host, and no #fragment".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Receivers are listed to anyone who asks: a credential in the URL would be too.
        return Err(bad(
            "no user or password in the URL: receivers are listed to every caller, and \
             the signature is what proves a notification"
                .into(),
        ));
    }
    Ok(())
}

fn check_device(device: &str, field: &str) -> Result<(), GatewayError> {
    if device.is_empty() || device.len() > MAX_DEVICE_BYTES || device.contains('\0') {
        return Err(GatewayError::bad(
            "invalid_device",
            field,
            format!("a device id is 1 to {MAX_DEVICE_BYTES} bytes, without NUL"),
        ));
    }
    Ok(())
}

/// Registers a receiver of results: of the transactions a device sends, of transfers to an
/// account, or of one transaction (one whose result is known already is told at once).
#[utoipa::path(post, path = "/v1/receivers", tag = "receivers",
    request_body = ReceiverRequest,
    params(("X-Device-Id" = Option<String>, Header, description = "The registering device")),
    responses(
        (status = 201, description = "Registered; the secret signs every notification", body = ReceiverCreated),
        (status = 400, description = "Malformed JSON, bad URL or match (`field` names it)", body = ErrorBody),
        (status = 413, description = "The request is larger than 8 KiB", body = ErrorBody),
        (status = 503, description = "As many receivers as allowed are registered", body = ErrorBody),
    ))]
async fn add_receiver(
    State(api): State<GatewayApi>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
    let body = axum::body::to_bytes(body, MAX_RECEIVER_REQUEST_BYTES)
        .await
        .map_err(|_| {
            GatewayError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("a receiver is registered in at most {MAX_RECEIVER_REQUEST_BYTES} bytes"),
            )
        })?;
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        GatewayError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not JSON: {e}"),
        )
    })?;
    let Some(fields) = value.as_object() else {
        return Err(GatewayError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "the body is not a receiver {\"url\", \"match\"}",
        ));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|key| !["url", "match", "device"].contains(&key.as_str()))
    {
        return Err(GatewayError::bad(
            "unknown_field",
            unknown,
            format!("a receiver has url, match and device, not {unknown:?}"),
        ));
    }
    if !fields.get("url").is_some_and(serde_json::Value::is_string) {
        return Err(GatewayError::bad(
            "invalid_url",
            "url",
            "give \"url\": a string",
        ));
    }
    if let Err(e) =
        serde_json::from_value::<Match>(fields.get("match").cloned().unwrap_or_default())
    {
        return Err(GatewayError::bad(
            "invalid_match",
            "match",
            format!(
                "give one of {{\"device\": \"…\"}}, {{\"recipient\": \"0x…\"}}, \
                 {{\"transaction\": \"0x…\"}}: {e}"
            ),
        ));
    }
    let request: ReceiverRequest = serde_json::from_value(value).map_err(|e| {
        GatewayError::bad("invalid_device", "device", format!("give a string: {e}"))
    })?;
    check_receiver_url(&request.url)?;
    if let Match::Device(device) = &request.matches {
        check_device(device, "match.device")?;
    }
    let header_device = header_text(&headers, "x-device-id", MAX_DEVICE_BYTES)?;
    let device = header_device.or(request.device.as_deref());
    if let Some(device) = device {
        check_device(device, "device")?;
    }
    let receiver = Receiver {
        id: format!("rcv_{}", hex::encode(rand::random::<[u8; 12]>())),
        url: request.url,
        matches: request.matches,
        secret: new_secret(),
        device: device.map(str::to_string),
        disabled: false,
        disabled_reason: None,
        created_ms: (api.now_ms)(),
    };
    let store = api.store.clone();
    let max = api.config.max_receivers;
    let stored = receiver.clone();
    tokio::task::spawn_blocking(move || store.add_receiver(&stored, max))
        .await
        .map_err(GatewayError::internal)?
        .map_err(|error| match error {
            StoreError::Limit(message) => GatewayError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_receivers",
                message,
            ),
            other => GatewayError::internal(other),
        })?;
    api.owed.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(ReceiverCreated {
            id: receiver.id,
            secret: receiver.secret,
            url: receiver.url,
            matches: receiver.matches,
            disabled: false,
        }),
    )
        .into_response())
}

/// `GET /v1/receivers` filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ReceiversQuery {
    /// Only those this device registered.
    device: Option<String>,
    /// Those after this id (the last of the previous page).
    after: Option<String>,
    /// At most this many (default and most: 1,000).
    limit: Option<usize>,
}

/// Registered receivers (without their secrets).
#[utoipa::path(get, path = "/v1/receivers", tag = "receivers", params(ReceiversQuery),
    responses((status = 200, description = "Receivers, in id order", body = ReceiversPage)))]
async fn list_receivers(
    State(api): State<GatewayApi>,
    Query(query): Query<ReceiversQuery>,
) -> Result<Json<ReceiversPage>, GatewayError> {
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let store = api.store.clone();
    let receivers =
        blocking(move || store.receivers(query.device.as_deref(), query.after.as_deref(), limit))
            .await?;
    Ok(Json(ReceiversPage {
        receivers: receivers.into_iter().map(ReceiverView::from).collect(),
    }))
}

/// A registered receiver (without its secret).
#[utoipa::path(get, path = "/v1/receivers/{id}", tag = "receivers",
    params(("id" = String, Path, description = "The receiver's id")),
    responses(
        (status = 200, description = "The receiver", body = ReceiverView),
        (status = 404, description = "No such receiver", body = ErrorBody),
    ))]
async fn get_receiver(
    State(api): State<GatewayApi>,
    Path(id): Path<String>,
) -> Result<Json<ReceiverView>, GatewayError> {
    let store = api.store.clone();
    let wanted = id.clone();
    let receiver = blocking(move || store.receiver(&wanted))
        .await?
        .ok_or_else(|| GatewayError::not_found("unknown_receiver", format!("no receiver {id}")))?;
    Ok(Json(receiver.into()))
}

/// Removes a receiver; its undelivered notifications are dead-lettered.
#[utoipa::path(delete, path = "/v1/receivers/{id}", tag = "receivers",
    params(("id" = String, Path, description = "The receiver's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such receiver", body = ErrorBody),
    ))]
async fn remove_receiver(
    State(api): State<GatewayApi>,
    Path(id): Path<String>,
) -> Result<StatusCode, GatewayError> {
    let store = api.store.clone();
    let now = (api.now_ms)();
    let wanted = id.clone();
    if blocking(move || store.remove_receiver(&wanted, now)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(GatewayError::not_found(
            "unknown_receiver",
            format!("no receiver {id}"),
        ))
    }
}

/// `GET /v1/deliveries` filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveriesQuery {
    /// The receiver whose notifications to list.
    receiver: String,
    /// Only those `pending`, `delivered` or `dead` (the dead letters).
    status: Option<DeliveryStatus>,
    /// At most this many (default and most: 1,000).
    limit: Option<usize>,
}

/// A receiver's notifications, newest first: the dead letters with `status=dead`. Looks at
/// the receiver's 10,000 most recent notifications at most.
#[utoipa::path(get, path = "/v1/deliveries", tag = "receivers", params(DeliveriesQuery),
    responses(
        (status = 200, description = "Notifications, newest first", body = DeliveriesPage),
        (status = 400, description = "No receiver given, or an unknown status", body = ErrorBody),
    ))]
async fn list_deliveries(
    State(api): State<GatewayApi>,
    query: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeliveriesPage>, GatewayError> {
    let Query(query) = query.map_err(|e| {
        GatewayError::bad(
            "invalid_query",
            "receiver",
            format!("give receiver=ID, and status=pending|delivered|dead if wanted: {e}"),
        )
    })?;
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let store = api.store.clone();
    let deliveries =
        blocking(move || store.deliveries_to(&query.receiver, query.status, limit, 10 * MAX_PAGE))
            .await?;
    Ok(Json(DeliveriesPage {
        deliveries: deliveries
            .into_iter()
            .map(|delivery| DeliveryView::of(delivery, false))
            .collect(),
    }))
}

/// A notification, with its body.
#[utoipa::path(get, path = "/v1/deliveries/{id}", tag = "receivers",
    params(("id" = String, Path, description = "The notification's id (its webhook-id)")),
    responses(
        (status = 200, description = "The notification", body = DeliveryView),
        (status = 404, description = "No such notification", body = ErrorBody),
    ))]
async fn get_delivery(
    State(api): State<GatewayApi>,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, GatewayError> {
    let store = api.store.clone();
    let wanted = id.clone();
    let delivery = blocking(move || store.delivery(&wanted))
        .await?
        .ok_or_else(|| {
            GatewayError::not_found("unknown_delivery", format!("no notification {id}"))
        })?;
    Ok(Json(DeliveryView::of(delivery, true)))
}

/// Delivers a notification again (a dead letter, or one delivered before): queued at the
/// end of its receiver's queue, due now, with the same webhook-id and body.
#[utoipa::path(post, path = "/v1/deliveries/{id}/retry", tag = "receivers",
    params(("id" = String, Path, description = "The notification's id (its webhook-id)")),
    responses(
        (status = 202, description = "Queued again", body = DeliveryView),
        (status = 404, description = "No such notification", body = ErrorBody),
        (status = 409, description = "Still pending (`delivery_pending`), or its receiver is disabled or removed (`receiver_unavailable`)", body = ErrorBody),
    ))]
async fn retry_delivery(
    State(api): State<GatewayApi>,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    let store = api.store.clone();
    let now = (api.now_ms)();
    let wanted = id.clone();
    match blocking(move || store.redeliver(&wanted, now)).await? {
        Redelivery::Queued(delivery) => {
            api.owed.notify_one();
            Ok((
                StatusCode::ACCEPTED,
                Json(DeliveryView::of(delivery, false)),
            )
                .into_response())
        }
        Redelivery::Unknown => Err(GatewayError::not_found(
            "unknown_delivery",
            format!("no notification {id}"),
        )),
        Redelivery::StillPending(_) => Err(GatewayError::new(
            StatusCode::CONFLICT,
            "delivery_pending",
            format!("notification {id} is still pending; it is retried on its schedule"),
        )),
        Redelivery::ReceiverUnavailable(why) => Err(GatewayError::new(
            StatusCode::CONFLICT,
            "receiver_unavailable",
            why,
        )),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn gateway API",
        description = "Submit signed transactions to any chain the gateway serves, with \
                       idempotency control; follow them to their results; register receivers \
                       that are told each result, signed as Standard Webhooks has it. Every \
                       error is {\"error\": {\"code\", \"message\", \"field\"?}}.",
    ),
    paths(status, submit, transaction, add_receiver, list_receivers, get_receiver,
          remove_receiver, list_deliveries, get_delivery, retry_delivery),
    components(schemas(ErrorBody, ErrorDetail, ReceiptView, TxStatus, DeliveryStatus,
        GatewayStatus, SubmitRequest, SubmitResponse, TransactionView, DeliveryView,
        ReceiverRequest, ReceiverCreated, ReceiverView, ReceiversPage, DeliveriesPage)),
    tags(
        (name = "gateway", description = "The gateway's state"),
        (name = "transactions", description = "Submit transactions and follow their results"),
        (name = "receivers", description = "Receivers of results, and their notifications"),
    )
)]
struct ApiDoc;

/// The OpenAPI document.
async fn openapi() -> Response {
    static DOCUMENT: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_default());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use cairn_primitives::{Address, SecretKey, Transaction};
    use tower::ServiceExt;

    const WINDOW: u64 = 3_600_000;

    fn now() -> u64 {
        1_000_000
    }

    fn api() -> (tempfile::TempDir, GatewayApi) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(GatewayStore::open(dir.path().join("g.redb")).unwrap());
        let api = GatewayApi::new(
            store,
            ApiConfig {
                chains: BTreeSet::from([7, 8]),
                limits: Limits {
                    window_ms: WINDOW,
                    max_unfinished: 3,
                },
                max_receivers: 3,
            },
            now,
            tokio::sync::mpsc::unbounded_channel().0,
            Arc::default(),
        );
        (dir, api)
    }

    fn signed(chain_id: u64, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id,
            nonce,
            to: Address::repeat_byte(0xb0),
            amount: 5,
        }
        .sign(&SecretKey::from_bytes([9; 32]))
    }

    fn body(chain_id: u64, tx: &SignedTransaction) -> String {
        serde_json::json!({"chain_id": chain_id, "tx": format!("0x{}", hex::encode(tx.encoded()))})
            .to_string()
    }

    async fn post(
        api: &GatewayApi,
        body: String,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, serde_json::Value) {
        let mut request =
            Request::post("/v1/transactions").header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = api
            .clone()
            .router()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn a_valid_transaction_is_stored_before_the_answer() {
        let (_dir, api) = api();
        let tx = signed(7, 0);
        let (status, _, answer) = post(&api, body(7, &tx), &[("x-device-id", "teller-1")]).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        assert_eq!(answer["hash"], tx.hash().to_string());
        assert_eq!(answer["status"], "accepted");
        let stored = api.store.transaction(&tx.hash()).unwrap().unwrap();
        assert_eq!(stored.device.as_deref(), Some("teller-1"));
        assert_eq!(stored.tx.as_ref(), tx.encoded().as_slice());
        let response = api
            .clone()
            .router()
            .oneshot(
                Request::get(format!("/v1/transactions/{}", tx.hash()))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn bad_submissions_are_refused_naming_the_field() {
        let (_dir, api) = api();
        let tx = signed(7, 0);
        let cases: Vec<(String, &str, &str)> = vec![
            ("{".into(), "malformed_json", ""),
            (body(9, &tx), "unknown_chain", "chain_id"),
            (body(8, &tx), "chain_mismatch", "chain_id"),
            (
                serde_json::json!({"chain_id": 7, "tx": "0xzz"}).to_string(),
                "invalid_hex",
                "tx",
            ),
            (
                serde_json::json!({"chain_id": 7, "tx": "0x0102"}).to_string(),
                "invalid_transaction",
                "tx",
            ),
            (
                serde_json::json!({"chain_id": 7, "tx": format!("0x{}", "00".repeat(MAX_TX_BYTES + 1))})
                    .to_string(),
                "transaction_too_large",
                "tx",
            ),
        ];
        for (request, code, field) in cases {
            let (status, _, answer) = post(&api, request, &[]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert_eq!(answer["error"]["code"], code, "{answer}");
            if !field.is_empty() {
                assert_eq!(answer["error"]["field"], field, "{answer}");
            }
        }
        // A forged signature: the signed bytes of one transfer with another's amount.
        let mut forged = tx.encoded();
        let at = forged.iter().rposition(|b| *b == 5).unwrap();
        forged[at] = 6;
        let request =
            serde_json::json!({"chain_id": 7, "tx": format!("0x{}", hex::encode(&forged))});
        let (status, _, answer) = post(&api, request.to_string(), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(
            ["invalid_signature", "invalid_transaction"]
                .contains(&answer["error"]["code"].as_str().unwrap()),
            "{answer}"
        );
        // Device in header and field disagree.
        let request = serde_json::json!({"chain_id": 7, "tx": format!("0x{}", hex::encode(tx.encoded())), "device": "a"});
        let (status, _, answer) = post(&api, request.to_string(), &[("x-device-id", "b")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["error"]["code"], "device_mismatch");
        // A body over the bound: 413, in JSON.
        let huge = serde_json::json!({"chain_id": 7, "tx": "0".repeat(MAX_REQUEST_BYTES)});
        let (status, _, answer) = post(&api, huge.to_string(), &[]).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer["error"]["code"], "request_too_large");
        assert!(api.store.unfinished().unwrap().is_empty(), "nothing stored");
    }

    #[tokio::test]
    async fn idempotency_keys_replay_refuse_and_hold_while_in_flight() {
        let (_dir, api) = api();
        let tx = signed(7, 0);
        let (first, _, answer) = post(&api, body(7, &tx), &[("idempotency-key", "k")]).await;
        assert_eq!(first, StatusCode::ACCEPTED);
        // The same key and request: the first answer, marked as replayed.
        let (again, headers, replayed) =
            post(&api, body(7, &tx), &[("idempotency-key", "k")]).await;
        assert_eq!(again, StatusCode::ACCEPTED);
        assert_eq!(replayed, answer);
        assert_eq!(headers["idempotent-replayed"], "true");
        // The same key, another request: 422.
        let (other, _, error) =
            post(&api, body(7, &signed(7, 1)), &[("idempotency-key", "k")]).await;
        assert_eq!(other, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(error["error"]["code"], "idempotency_key_reused");
        // The key held by a request being processed: 409.
        api.in_flight.lock().insert("\0busy".to_string());
        let (busy, _, error) =
            post(&api, body(7, &signed(7, 2)), &[("idempotency-key", "busy")]).await;
        assert_eq!(busy, StatusCode::CONFLICT, "{error}");
        assert_eq!(error["error"]["code"], "request_in_progress");
        api.in_flight.lock().remove("\0busy");
        let (free, _, _) = post(&api, body(7, &signed(7, 2)), &[("idempotency-key", "busy")]).await;
        assert_eq!(free, StatusCode::ACCEPTED);
        assert!(api.in_flight.lock().is_empty(), "every key let go");
        // Without a key, the same transaction again: not accepted again, the first one's hash.
        let (duplicate, _, answer) = post(&api, body(7, &tx), &[]).await;
        assert_eq!(duplicate, StatusCode::OK, "{answer}");
        assert_eq!(answer["hash"], tx.hash().to_string());
        assert_eq!(answer["duplicate"], true);
        // Three wait for their results, the most this API allows: a fourth is refused.
        let (third, _, _) = post(&api, body(7, &signed(7, 3)), &[]).await;
        assert_eq!(third, StatusCode::ACCEPTED);
        assert_eq!(api.store.unfinished().unwrap().len(), 3);
        let (full, _, error) = post(&api, body(7, &signed(7, 4)), &[]).await;
        assert_eq!(full, StatusCode::SERVICE_UNAVAILABLE, "{error}");
        assert_eq!(error["error"]["code"], "outbox_full");
    }

    async fn call(
        api: &GatewayApi,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |body| Body::from(body.to_string())))
            .unwrap();
        let response = api.clone().router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn receivers_are_registered_read_listed_and_removed() {
        let (_dir, api) = api();
        let (status, created) = call(
            &api,
            "POST",
            "/v1/receivers",
            Some(serde_json::json!({"url": "http://127.0.0.1:9/hook", "match": {"device": "teller-1"}})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
        let (status, shown) = call(&api, "GET", &format!("/v1/receivers/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(shown["url"], "http://127.0.0.1:9/hook");
        assert_eq!(shown["match"], serde_json::json!({"device": "teller-1"}));
        assert_eq!(shown["disabled"], false);
        assert!(shown.get("secret").is_none(), "the secret is shown once");
        let (_, listed) = call(&api, "GET", "/v1/receivers", None).await;
        assert_eq!(listed["receivers"].as_array().unwrap().len(), 1);
        let (status, _) = call(&api, "DELETE", &format!("/v1/receivers/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, error) = call(&api, "GET", &format!("/v1/receivers/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(error["error"]["code"], "unknown_receiver");
        let (status, _) = call(&api, "DELETE", &format!("/v1/receivers/{id}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn bad_receivers_are_refused_naming_the_field_and_their_number_is_bounded() {
        let (_dir, api) = api();
        let cases = [
            (
                serde_json::json!({"url": "ftp://x/", "match": {"device": "a"}}),
                "url",
            ),
            (
                serde_json::json!({"url": "https://x/", "match": {"device": "a"}}),
                "url",
            ),
            (
                serde_json::json!({"url": "not a url", "match": {"device": "a"}}),
                "url",
            ),
            (
                serde_json::json!({"url": "http://user:pw@x/", "match": {"device": "a"}}),
                "url",
            ),
            (
                serde_json::json!({"url": format!("http://x/{}", "a".repeat(MAX_URL_BYTES)), "match": {"device": "a"}}),
                "url",
            ),
            (
                serde_json::json!({"url": "http://x/", "match": {"sender": "a"}}),
                "match",
            ),
            (
                serde_json::json!({"url": "http://x/", "match": {"recipient": "0x12"}}),
                "match",
            ),
            (
                serde_json::json!({"url": "http://x/", "match": {"device": ""}}),
                "match.device",
            ),
        ];
        for (body, field) in cases {
            let (status, error) = call(&api, "POST", "/v1/receivers", Some(body.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
            assert_eq!(error["error"]["field"], field, "{body}: {error}");
        }
        let hook = serde_json::json!({"url": "http://x/", "match": {"transaction": B256::ZERO}});
        for _ in 0..3 {
            let (status, _) = call(&api, "POST", "/v1/receivers", Some(hook.clone())).await;
            assert_eq!(status, StatusCode::CREATED);
        }
        let (status, error) = call(&api, "POST", "/v1/receivers", Some(hook)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{error}");
        assert_eq!(error["error"]["code"], "too_many_receivers");
        // Notifications: unknown ones, and a listing without its receiver.
        let (status, error) = call(&api, "POST", "/v1/deliveries/msg_x/retry", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
        let (status, error) = call(&api, "GET", "/v1/deliveries", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"]["field"], "receiver");
        // Unknown routes and methods answer in JSON too.
        let (status, error) = call(&api, "GET", "/v1/nothing", None).await;
        assert_eq!(
            (status, &error["error"]["code"]),
            (StatusCode::NOT_FOUND, &serde_json::json!("not_found"))
        );
        let (status, _) = call(&api, "PUT", "/v1/receivers", None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn the_openapi_document_describes_every_route() {
        let (_dir, api) = api();
        let (status, document) = call(&api, "GET", "/v1/openapi.json", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(document["info"]["title"], "Cairn gateway API");
        let paths = document["paths"].as_object().unwrap();
        for (path, method) in [
            ("/v1/status", "get"),
            ("/v1/transactions", "post"),
            ("/v1/transactions/{hash}", "get"),
            ("/v1/receivers", "post"),
            ("/v1/receivers", "get"),
            ("/v1/receivers/{id}", "get"),
            ("/v1/receivers/{id}", "delete"),
            ("/v1/deliveries", "get"),
            ("/v1/deliveries/{id}", "get"),
            ("/v1/deliveries/{id}/retry", "post"),
        ] {
            assert!(
                paths.get(path).and_then(|p| p.get(method)).is_some(),
                "{method} {path}"
            );
            // And the route is served (not the JSON 404 of the fallback / 405).
            let concrete = path
                .replace("{hash}", &B256::ZERO.to_string())
                .replace("{id}", "x");
            let (status, body) = call(&api, &method.to_uppercase(), &concrete, None).await;
            assert!(
                body["error"]["code"] != "not_found" && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {status} {body}"
            );
        }
        let (_, gateway) = call(&api, "GET", "/v1/status", None).await;
        assert_eq!(gateway["chains"], serde_json::json!([7, 8]));
    }
}
