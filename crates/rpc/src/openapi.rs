//! The OpenAPI document, generated from the handlers' annotations.

use std::sync::LazyLock;

use axum::Json;
use utoipa::OpenApi;

use crate::handlers;
use crate::types::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cairn node API",
        description = "Submit signed transfers, follow their receipts, read blocks and accounts \
                       with Merkle proofs, and subscribe to new heads. Every error is \
                       {\"error\": {\"code\", \"message\"}}.",
    ),
    paths(
        handlers::health,
        handlers::status,
        handlers::submit_transaction,
        handlers::submit_batch,
        handlers::submit_raw,
        handlers::get_transaction,
        handlers::get_block,
        handlers::list_blocks,
        handlers::get_account,
        crate::ws::subscribe,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, StatusResponse, SyncStatus, PoolView, NetworkView, OffenderView, TransactionRequest,
        TransactionFields, BatchRequest, SubmitResponse, BatchItem, BatchResponse, TxStatus,
        TransactionView, ReceiptView, TxResponse, SealView, HeaderView, BlockView, BlocksPage,
        AccountResponse, HeadEvent,
    )),
    tags(
        (name = "node", description = "Node health and status"),
        (name = "transactions", description = "Submit transfers and follow their results"),
        (name = "blocks", description = "Read the chain"),
        (name = "accounts", description = "Balances, nonces and proofs"),
        (name = "subscriptions", description = "WebSocket push of heads and results"),
    )
)]
struct ApiDoc;

static DOCUMENT: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    serde_json::to_value(doc).unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}))
});

/// The OpenAPI 3.1 document describing this API.
pub fn openapi_document() -> &'static serde_json::Value {
    &DOCUMENT
}

/// Serves the document.
pub async fn serve() -> Json<serde_json::Value> {
    Json(openapi_document().clone())
}
