//! The gateway's HTTP API, as far as it is built: `POST /v1/transactions` (validation,
//! idempotency, the durable acceptance) and `GET /v1/transactions/{hash}`.
//!
//! A request is checked before anything is stored: its JSON, the chain id (one this gateway
//! serves), the transaction's encoding, its signature and its own chain id. With an
//! `Idempotency-Key`, a second request with the key arriving while the first is processed is
//! refused with 409 (the key is held in memory for that time); afterwards the stored answer
//! decides (see [`crate::store`]). Every error is `{"error": {"code", "message", "field"}}`.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_api_types::{ErrorBody, ErrorDetail};
use cairn_primitives::{B256, SignedTransaction, keccak256};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::store::{
    Acceptance, GatewayStore, MAX_DEVICE_BYTES, MAX_KEY_BYTES, StoreError, StoredAnswer,
};
use crate::store::{TxRecord, TxStatus};

/// Largest request body (a transaction of [`MAX_TX_BYTES`] as hex, and room for the rest).
pub const MAX_REQUEST_BYTES: usize = 80 * 1024;
/// Largest signed transaction, encoded.
pub const MAX_TX_BYTES: usize = 32 * 1024;

/// What the API serves from.
#[derive(Clone)]
pub struct GatewayApi {
    store: Arc<GatewayStore>,
    chains: Arc<BTreeSet<u64>>,
    window_ms: u64,
    max_unfinished: u64,
    now_ms: fn() -> u64,
    in_flight: Arc<Mutex<HashSet<String>>>,
    accepted: Arc<tokio::sync::Notify>,
}

impl GatewayApi {
    /// An API over `store` for `chains`, with idempotency keys living `window_ms` and at most
    /// `max_unfinished` transactions waiting for results; `accepted` is notified after each
    /// acceptance (the relay waits on it).
    pub fn new(
        store: Arc<GatewayStore>,
        chains: BTreeSet<u64>,
        (window_ms, max_unfinished): (u64, u64),
        now_ms: fn() -> u64,
        accepted: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            store,
            chains: Arc::new(chains),
            window_ms,
            max_unfinished,
            now_ms,
            in_flight: Arc::default(),
            accepted,
        }
    }

    /// The routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/v1/transactions", post(submit))
            .route("/v1/transactions/{hash}", get(transaction))
            // Bodies are read against MAX_REQUEST_BYTES by the handler, which answers in JSON.
            .layer(DefaultBodyLimit::disable())
            .with_state(self)
    }
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

/// `POST /v1/transactions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    chain_id: u64,
    tx: String,
    #[serde(default)]
    device: Option<String>,
}

/// The answer to an accepted (or known) transaction.
#[derive(Debug, Serialize)]
struct SubmitResponse {
    hash: B256,
    status: TxStatus,
    /// Set when this very transaction was accepted before, within the window, without a key:
    /// it is not sent again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

/// `GET /v1/transactions/{hash}`.
#[derive(Debug, Serialize)]
struct TransactionView {
    hash: B256,
    chain_id: u64,
    status: TxStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    attempts: u32,
    accepted_at: u64,
    updated_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    block: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl From<TxRecord> for TransactionView {
    fn from(record: TxRecord) -> Self {
        Self {
            hash: record.hash,
            chain_id: record.chain_id,
            status: record.status,
            device: record.device,
            attempts: record.attempts,
            accepted_at: record.accepted_ms,
            updated_at: record.updated_ms,
            block: record.block,
            error: record.error,
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

/// Reads and checks a submission: the request, the device, and the signed transaction.
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
    if !api.chains.contains(&request.chain_id) {
        let served: Vec<String> = api.chains.iter().map(u64::to_string).collect();
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
    tx.verify().map_err(|e| {
        GatewayError::bad(
            "invalid_signature",
            "tx",
            format!("the signature does not verify: {e}"),
        )
    })?;
    Ok((request, device, tx, bytes))
}

async fn submit(
    State(api): State<GatewayApi>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, GatewayError> {
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
    let key = header_text(&headers, "idempotency-key", MAX_KEY_BYTES)?.map(str::to_string);
    // The same key while its first request is processed: 409.
    let _holding = match &key {
        Some(key) => {
            let scoped = format!("{}\0{key}", device.as_deref().unwrap_or(""));
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
    };
    let store = api.store.clone();
    let limits = (api.window_ms, api.max_unfinished);
    let acceptance = tokio::task::spawn_blocking(move || {
        store.accept(
            record,
            key.as_deref().map(|key| (key, body_hash)),
            |record, duplicate| StoredAnswer {
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
            },
            limits,
            now,
        )
    })
    .await
    .map_err(GatewayError::internal)?
    .map_err(|error| match error {
        StoreError::Full(_) => GatewayError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "outbox_full",
            format!("{error}; retry later"),
        ),
        other => GatewayError::internal(other),
    })?;
    Ok(match acceptance {
        Acceptance::Accepted(record) => {
            api.accepted.notify_one();
            (
                StatusCode::ACCEPTED,
                Json(SubmitResponse {
                    hash: record.hash,
                    status: record.status,
                    duplicate: false,
                }),
            )
                .into_response()
        }
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
    Ok(Json(record.into()))
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
            BTreeSet::from([7, 8]),
            (WINDOW, 3),
            now,
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
}
