//! Cairn's HTTP API: JSON under `/v1`, WebSocket subscriptions at `/v1/ws`, and the OpenAPI
//! document at `/v1/openapi.json`.
//!
//! Every error is `{"error": {"code", "message"}}` with a 4xx/5xx status, including errors
//! the framework itself raises (unknown route, wrong method, oversized body, timeout). Request
//! bodies, batches, subscriptions and in-flight requests are bounded; handlers never panic on
//! input, and a panic anywhere becomes a 500 instead of a dropped connection.
//!
//! The API reads the chain and submits to the pool; it never writes blocks.

mod acs;
pub mod admin;
pub mod console;
pub mod error;
mod handlers;
mod openapi;
/// The request and response types (the `cairn-api-types` crate).
pub use cairn_api_types as types;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cairn_ledger::Chain;
use cairn_mempool::Mempool;
use cairn_primitives::SignedTransaction;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;
pub use openapi::openapi_document;
use types::SyncStatus;

/// Largest request body accepted (a full batch).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Most transactions in one batch request.
pub const MAX_BATCH_TRANSACTIONS: usize = 20_000;
/// Most blocks in one page of `GET /v1/blocks`.
pub const MAX_PAGE_BLOCKS: usize = 100;
/// Requests taking longer than this are answered with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests served at once, over all routes together; further ones wait.
pub const MAX_IN_FLIGHT: usize = 1_024;
/// WebSocket connections open at once; further upgrades are refused with 503.
pub const MAX_WEBSOCKETS: usize = 256;

/// What the consensus engine reports about itself, for `GET /v1/status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineStatus {
    /// The engine's name (`solo`, `bft`).
    pub engine: &'static str,
    /// This node's validator rank, or `None` for a non-validator.
    pub validator_index: Option<usize>,
    /// Rank of the validator currently proposing.
    pub leader_index: Option<usize>,
    /// Peers connected now.
    pub peers: usize,
}

/// What the API needs from the running node beyond the chain and the pool.
pub trait NodeInfo: Send + Sync {
    /// The consensus engine's status.
    fn consensus(&self) -> EngineStatus;
    /// Sync progress.
    fn sync(&self) -> SyncStatus {
        SyncStatus::default()
    }
    /// Called with transfers newly admitted through the API (e.g. to gossip them to peers).
    fn on_admitted(&self, _transactions: &[SignedTransaction]) {}
    /// The peers this node is configured to connect to, and when each was last heard.
    fn peers(&self) -> Vec<types::PeerView> {
        Vec::new()
    }
    /// Peer-to-peer counters, if the node has peers.
    fn network(&self) -> Option<types::NetworkView> {
        None
    }
    /// The storage cluster as this node sees it, if it is a member.
    fn cluster(&self) -> Option<types::ClusterStatus> {
        None
    }
    /// Asks the cluster to double once enough nodes wait to join; the status then, or
    /// `None` if the node is in no cluster.
    fn expand_cluster(&self) -> Option<types::ClusterStatus> {
        None
    }
    /// Reads the body and receipts of a committed block whose body this node dropped (the
    /// cluster holds it); `None` if the node is in no cluster.
    fn read_body(&self, _height: u64) -> Option<BodyFuture> {
        None
    }
}

/// A block's body and receipts, read through the cluster.
pub type BodyFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<(Vec<SignedTransaction>, Vec<cairn_primitives::Receipt>), String>,
            > + Send,
    >,
>;

/// Shared state of the API's handlers.
#[derive(Clone)]
pub struct ApiState {
    /// The chain.
    pub chain: Arc<Chain>,
    /// The pool.
    pub pool: Arc<Mempool>,
    /// The node.
    pub node: Arc<dyn NodeInfo>,
    /// The admin API's users and sessions, if the node serves it.
    pub admin: Option<admin::AdminState>,
}

/// The API's routes with their limits and error handling.
pub fn router(state: ApiState) -> Router {
    let admin = state
        .admin
        .clone()
        .map(|admin| admin::router(admin, Some(state.clone())));
    let api = Router::new()
        .route("/v1/health", get(handlers::health))
        .route("/v1/status", get(handlers::status))
        .route("/v1/transactions", post(handlers::submit_transaction))
        .route("/v1/transactions/batch", post(handlers::submit_batch))
        .route("/v1/transactions/raw", post(handlers::submit_raw))
        .route("/v1/transactions/{hash}", get(handlers::get_transaction))
        .route("/v1/blocks", get(handlers::list_blocks))
        .route("/v1/blocks/{id}", get(handlers::get_block))
        .route("/v1/blocks/{id}/raw", get(handlers::get_raw_block))
        .route("/v1/accounts/{address}", get(handlers::get_account))
        .route("/v1/acs/packages/{package}", get(acs::get_package))
        .route(
            "/v1/acs/packages/{package}/records/{record}",
            get(acs::get_record),
        )
        .route("/v1/acs/packages/{package}/query", get(acs::query_contract))
        .route("/v1/acs/packages/{package}/jobs", get(acs::list_jobs))
        .route("/v1/validators", get(handlers::validators))
        .route("/v1/cluster", get(handlers::cluster_status))
        .route("/v1/cluster/expand", post(handlers::cluster_expand))
        .route(
            "/v1/ws",
            get(ws::subscribe).layer(axum::Extension(ws::Slots::new(MAX_WEBSOCKETS))),
        )
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/", get(handlers::root))
        .route("/console/{*path}", get(console::file))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    let api = match admin {
        Some(admin) => api.merge(admin),
        None => api,
    };
    api.layer(
        ServiceBuilder::new()
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(axum::middleware::map_response(json_errors))
            .layer(axum::middleware::from_fn(refuse_declared_oversize))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            // One semaphore shared by every route (a plain concurrency limit would give each
            // route its own).
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                MAX_IN_FLIGHT,
            ))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such endpoint; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed here",
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal("internal error").into_response()
}

/// Refuses a body whose declared length is over the limit before reading any of it, so a
/// client cannot hold a connection open streaming a body that will be refused anyway.
async fn refuse_declared_oversize(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies are limited to {MAX_BODY_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(request).await
}

/// Rewrites error responses produced by layers (timeouts, limits) into the JSON error shape.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let message = status.canonical_reason().unwrap_or("error").to_string();
    ApiError::new(status, code, message).into_response()
}
