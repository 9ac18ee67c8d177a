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
        handlers::root,
        handlers::health,
        handlers::status,
        handlers::submit_transaction,
        handlers::submit_batch,
        handlers::submit_raw,
        handlers::get_transaction,
        handlers::get_block,
        handlers::get_raw_block,
        handlers::list_blocks,
        handlers::get_account,
        crate::acs::get_package,
        crate::acs::get_record,
        crate::acs::query_contract,
        crate::acs::list_jobs,
        handlers::validators,
        handlers::cluster_status,
        handlers::cluster_expand,
        crate::ws::subscribe,
        crate::admin::login,
        crate::admin::logout,
        crate::admin::me,
        crate::admin::users,
        crate::admin::add_user,
        crate::admin::delete_user,
        crate::admin::set_role,
        crate::admin::set_password,
        crate::admin::sessions,
        crate::admin::revoke,
        crate::admin::audit,
        crate::admin::node::node_status,
        crate::admin::node::peers,
        crate::admin::node::pool,
        crate::admin::node::sender_queue,
        crate::admin::node::logs,
        crate::admin::node::stop,
        crate::admin::node::events,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, RootResponse, RawTransaction, RawTransactions, StatusResponse, SyncStatus, PoolView, NetworkView, OffenderView, TransactionRequest,
        TransactionFields, BatchRequest, SubmitResponse, BatchItem, BatchResponse, TxStatus,
        TransactionView, ReceiptView, TxResponse, SealView, HeaderView, BlockView, BlocksPage,
        AccountResponse, HeadEvent, AcsView, PackageResponse, ContractView, ScheduleLineView,
        RecordResponse, StorageProofView, QueryResponse, JobRunView, JobsResponse,
        ClusterStatus, ClusterMemberView, RepairView, ReadCacheView, RawBlockResponse, PeerView,
        crate::admin::LogLine, crate::admin::node::LogLevel, ValidatorsResponse, ValidatorView,
    )),
    modifiers(&EveryOperationCanFail),
    tags(
        (name = "node", description = "Node health and status"),
        (name = "transactions", description = "Submit transfers and follow their results"),
        (name = "blocks", description = "Read the chain"),
        (name = "accounts", description = "Balances, nonces and proofs"),
        (name = "contracts", description = "ACS packages, records with storage proofs, queries and scheduled runs (contract actions are submitted as raw transactions)"),
        (name = "subscriptions", description = "WebSocket push of heads and results"),
        (name = "admin", description = "The node's administration: users and sessions, status, peers, pool, logs, a graceful stop and an event feed (loopback only by default; a session token as a bearer token or the cairn_session cookie)"),
    )
)]
struct ApiDoc;

/// Adds the failures any operation can meet to each: a request that outlasts the timeout
/// (408) and a fault of the node's own (500).
struct EveryOperationCanFail;

impl utoipa::Modify for EveryOperationCanFail {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, ResponseBuilder, content::ContentBuilder};
        let error = |description: &str| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        let timeout = format!(
            "The request took longer than {} seconds",
            crate::REQUEST_TIMEOUT.as_secs()
        );
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                responses
                    .entry("408".into())
                    .or_insert_with(|| error(&timeout));
                responses
                    .entry("500".into())
                    .or_insert_with(|| error("A fault of the node's own"));
            }
        }
    }
}

static DOCUMENT: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    let mut value =
        serde_json::to_value(doc).unwrap_or_else(|e| serde_json::json!({"error": e.to_string()}));
    describe_unsigned_integers(&mut value);
    value
});

/// The schema generator writes Rust's `u64` as `int64` with `minimum: 0`, which tells a client
/// (or a fuzzer) that nothing above 2^63-1 is valid, while the API takes every `u64`. This
/// rewrites such schemas to what the API takes: format `uint64` with its true maximum (and
/// `uint32` likewise).
fn describe_unsigned_integers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let unsigned = map.get("type").is_some_and(|t| t == "integer")
                && map.get("minimum").is_some_and(|m| m == 0);
            let maximum = match map.get("format").and_then(|f| f.as_str()) {
                Some("int64") if unsigned => Some(("uint64", u64::MAX)),
                Some("int32") if unsigned => Some(("uint32", u64::from(u32::MAX))),
                _ => None,
            };
            if let Some((format, max)) = maximum
                && !map.contains_key("maximum")
            {
                map.insert("format".into(), format.into());
                map.insert("maximum".into(), max.into());
            }
            map.values_mut().for_each(describe_unsigned_integers);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(describe_unsigned_integers),
        _ => {}
    }
}

/// The OpenAPI 3.1 document describing this API.
pub fn openapi_document() -> &'static serde_json::Value {
    &DOCUMENT
}

/// Serves the document.
pub async fn serve() -> Json<serde_json::Value> {
    Json(openapi_document().clone())
}
