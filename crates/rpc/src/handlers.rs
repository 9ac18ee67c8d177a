//! Route handlers.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use cairn_mempool::{Admission, AdmissionError};
use cairn_primitives::{
    ACS_TX_TYPE, Address, B256, MAX_ACS_TRANSACTION_BYTES, MAX_TRANSACTION_BYTES,
    SignedTransaction, serde_helpers::parse_0x_hex_array, serde_helpers::parse_hex,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiBytes, ApiError, ApiJson, ApiPath, ApiQuery};
use crate::types::*;
use crate::{ApiState, MAX_BATCH_TRANSACTIONS, MAX_PAGE_BLOCKS};

/// Where to start: the API's name, version and the address of its OpenAPI document.
/// A browser (asking for HTML) gets the web console instead.
#[utoipa::path(get, path = "/", tag = "node",
    responses((status = 200, description = "Pointers to the API; the web console's page when the request accepts text/html", content(
        (RootResponse = "application/json"),
        (String = "text/html"),
    )), (status = 304, description = "The console's page, unchanged since the ETag given")))]
pub async fn root(headers: axum::http::HeaderMap) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut response = if crate::console::wants_html(&headers) {
        crate::console::index(&headers)
    } else {
        Json(RootResponse {
            name: "Cairn node API".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            openapi: "/v1/openapi.json".into(),
            status: "/v1/status".into(),
        })
        .into_response()
    };
    // What `/` answers depends on Accept: caches must keep the two apart.
    response.headers_mut().insert(
        axum::http::header::VARY,
        axum::http::HeaderValue::from_static("accept"),
    );
    response
}

/// Liveness probe.
#[utoipa::path(get, path = "/v1/health", tag = "node",
    responses((status = 200, description = "The node is serving", body = String)))]
pub async fn health() -> &'static str {
    "ok"
}

/// Node status: chain, head, consensus, sync and pool.
#[utoipa::path(get, path = "/v1/status", tag = "node",
    responses((status = 200, description = "The node's status", body = StatusResponse)))]
pub async fn status(State(state): State<ApiState>) -> Json<StatusResponse> {
    let head = state.chain.head();
    let consensus = state.node.consensus();
    let pool = state.pool.status();
    Json(StatusResponse {
        chain_id: state.chain.chain_id(),
        genesis_hash: state.chain.genesis_hash(),
        height: head.height,
        head: head.hash(state.chain.suite()),
        head_timestamp_ms: head.timestamp_ms,
        engine: consensus.engine.to_string(),
        crypto: state.chain.suite(),
        validator_index: consensus.validator_index,
        leader_index: consensus.leader_index,
        peers: consensus.peers,
        sync: state.node.sync(),
        pool: PoolView {
            pending: pool.pending,
            ready: pool.ready,
        },
        network: state.node.network(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

fn decode_request(request: &TransactionRequest) -> Result<SignedTransaction, ApiError> {
    match request {
        TransactionRequest::Fields(fields) => Ok(fields.to_signed()),
        TransactionRequest::Raw(RawTransaction { raw }) => {
            let bytes =
                parse_hex(raw).map_err(|e| ApiError::bad_request("malformed_transaction", e))?;
            decode_raw(&bytes)
        }
    }
}

fn decode_raw(bytes: &[u8]) -> Result<SignedTransaction, ApiError> {
    SignedTransaction::decode_exact(bytes).map_err(|e| match e {
        cairn_primitives::TransactionError::TooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "transaction_too_large",
            e.to_string(),
        ),
        other => ApiError::bad_request("malformed_transaction", other.to_string()),
    })
}

/// Admits decoded transfers off the async workers (signature checks are CPU work) and tells
/// the node about the new ones.
async fn admit(
    state: &ApiState,
    txs: Vec<SignedTransaction>,
) -> Result<Vec<Result<Admission, AdmissionError>>, ApiError> {
    let (pool, chain) = (state.pool.clone(), state.chain.clone());
    let (txs, results) = tokio::task::spawn_blocking(move || {
        let results = pool.admit(txs.clone(), chain.as_ref());
        (txs, results)
    })
    .await
    .map_err(|e| ApiError::internal(format!("admission task failed: {e}")))?;
    let added: Vec<SignedTransaction> = txs
        .into_iter()
        .zip(&results)
        .filter(|(_, result)| matches!(result, Ok(Admission::Added(_))))
        .map(|(tx, _)| tx)
        .collect();
    if !added.is_empty() {
        state.node.on_admitted(&added);
    }
    Ok(results)
}

/// Submit one signed transfer.
#[utoipa::path(post, path = "/v1/transactions", tag = "transactions",
    request_body = TransactionRequest,
    responses(
        (status = 202, description = "Accepted into the pool", body = SubmitResponse),
        (status = 400, description = "Malformed JSON or transaction, bad signature, wrong chain id, nonce too far ahead", body = ErrorBody),
        (status = 409, description = "Nonce already used, or one pending with it", body = ErrorBody),
        (status = 413, description = "Body or transaction too large", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "A field is invalid (`invalid_field`, naming it), or the amount exceeds the balance (`insufficient_funds`)", body = ErrorBody),
        (status = 503, description = "Pool full, or the sender has too many pending", body = ErrorBody)))]
pub async fn submit_transaction(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<SubmitResponse>), ApiError> {
    let tx = decode_request(&TransactionRequest::from_json(&body)?)?;
    let result = admit(&state, vec![tx]).await?.pop();
    let admission = result.ok_or_else(|| ApiError::internal("no admission result"))??;
    Ok((
        StatusCode::ACCEPTED,
        Json(SubmitResponse {
            hash: admission.hash(),
            status: TxStatus::Pending,
        }),
    ))
}

fn batch_response(
    decoded: Vec<Result<SignedTransaction, ApiError>>,
    admitted: Vec<Result<Admission, AdmissionError>>,
) -> BatchResponse {
    let mut admitted = admitted.into_iter();
    let results: Vec<BatchItem> = decoded
        .into_iter()
        .map(|decoded| match decoded {
            Err(error) => BatchItem {
                hash: None,
                error: Some(error.detail()),
            },
            Ok(_) => match admitted.next() {
                Some(Ok(admission)) => BatchItem {
                    hash: Some(admission.hash()),
                    error: None,
                },
                Some(Err(error)) => BatchItem {
                    hash: None,
                    error: Some(ApiError::from(error).detail()),
                },
                None => BatchItem {
                    hash: None,
                    error: Some(ApiError::internal("missing result").detail()),
                },
            },
        })
        .collect();
    let accepted = results.iter().filter(|item| item.error.is_none()).count();
    BatchResponse {
        accepted,
        rejected: results.len() - accepted,
        results,
    }
}

async fn submit_decoded(
    state: &ApiState,
    decoded: Vec<Result<SignedTransaction, ApiError>>,
) -> Result<(StatusCode, Json<BatchResponse>), ApiError> {
    let valid: Vec<SignedTransaction> = decoded
        .iter()
        .filter_map(|d| d.as_ref().ok().cloned())
        .collect();
    let admitted = admit(state, valid).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(batch_response(decoded, admitted)),
    ))
}

/// Submit up to 20,000 transfers in one JSON request; one result per transfer, in order.
#[utoipa::path(post, path = "/v1/transactions/batch", tag = "transactions",
    request_body = BatchRequest,
    responses(
        (status = 202, description = "Per-transaction results", body = BatchResponse),
        (status = 400, description = "Malformed JSON, or an empty batch", body = ErrorBody),
        (status = 413, description = "Body too large, or more than 20,000 transactions", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "An entry's field is invalid (`invalid_field`, naming it)", body = ErrorBody),
        (status = 503, description = "The node cannot read its state", body = ErrorBody)))]
pub async fn submit_batch(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<BatchResponse>), ApiError> {
    let batch = BatchRequest::from_json(&body)?;
    check_batch_len(batch.transactions.len())?;
    let decoded = batch.transactions.iter().map(decode_request).collect();
    submit_decoded(&state, decoded).await
}

fn check_batch_len(len: usize) -> Result<(), ApiError> {
    if len == 0 {
        return Err(ApiError::bad_request(
            "empty_batch",
            "the batch holds no transactions",
        ));
    }
    if len > MAX_BATCH_TRANSACTIONS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("{len} transactions, at most {MAX_BATCH_TRANSACTIONS} per batch"),
        ));
    }
    Ok(())
}

/// Submit transfers in the binary format: canonical RLP encodings back to back
/// (`Content-Type: application/octet-stream`).
#[utoipa::path(post, path = "/v1/transactions/raw", tag = "transactions",
    request_body(content = RawTransactions, content_type = "application/octet-stream"),
    responses(
        (status = 202, description = "Per-transaction results", body = BatchResponse),
        (status = 400, description = "Malformed stream, or an empty one", body = ErrorBody),
        (status = 413, description = "Body too large, or more than 20,000 transactions", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/octet-stream", body = ErrorBody),
        (status = 503, description = "The node cannot read its state", body = ErrorBody)))]
pub async fn submit_raw(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<BatchResponse>), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes());
    if content_type != Some(b"application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/octet-stream",
        ));
    }
    let mut rest: &[u8] = &body;
    let mut decoded = Vec::new();
    while !rest.is_empty() {
        // Each transaction is one RLP list; its header says how long it is.
        let header = transaction_len(rest).map_err(|message| {
            ApiError::bad_request(
                "malformed_transaction",
                format!("transaction {}: {message}", decoded.len()),
            )
        })?;
        let (one, tail) = rest.split_at(header);
        decoded.push(decode_raw(one));
        rest = tail;
        check_batch_len(decoded.len())?;
    }
    check_batch_len(decoded.len())?;
    submit_decoded(&state, decoded).await
}

/// Length of the transaction at the start of `bytes`: a transfer's RLP list, or an ACS
/// transaction's type byte and RLP list; bounded by the largest transaction of its kind.
fn transaction_len(bytes: &[u8]) -> Result<usize, String> {
    let (typed, list) = match bytes.split_first() {
        Some((&ACS_TX_TYPE, list)) => (true, list),
        _ => (false, bytes),
    };
    let limit = if typed {
        MAX_ACS_TRANSACTION_BYTES
    } else {
        MAX_TRANSACTION_BYTES
    };
    let mut rest = list;
    let header = alloy_rlp::Header::decode(&mut rest).map_err(|e| e.to_string())?;
    if !header.list {
        return Err("not an RLP list".into());
    }
    if header.payload_length > limit {
        return Err(format!("longer than {limit} bytes"));
    }
    if header.payload_length > rest.len() {
        return Err("truncated transaction".into());
    }
    Ok(bytes.len() - rest.len() + header.payload_length)
}

fn parse_hash(text: &str) -> Result<B256, ApiError> {
    parse_0x_hex_array::<32>(text).map(B256::from).map_err(|_| {
        ApiError::bad_request(
            "invalid_hash",
            format!("{text:?} is not a hash (0x + 64 hex digits)"),
        )
    })
}

pub(crate) fn parse_address(text: &str) -> Result<Address, ApiError> {
    parse_0x_hex_array::<20>(text)
        .map(Address::from)
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_address",
                format!("{text:?} is not an address (0x + 40 hex digits)"),
            )
        })
}

/// A transaction and its receipt by hash: pending, committed, failed or unknown.
#[utoipa::path(get, path = "/v1/transactions/{hash}", tag = "transactions",
    params(("hash" = String, Path, description = "Transaction hash", pattern = "^0x[0-9a-fA-F]{64}$")),
    responses(
        (status = 200, description = "Where the transaction stands (`unknown` if this node never saw it)", body = TxResponse),
        (status = 400, description = "Not a hash", body = ErrorBody)))]
pub async fn get_transaction(
    State(state): State<ApiState>,
    ApiPath(hash): ApiPath<String>,
) -> Result<Json<TxResponse>, ApiError> {
    let hash = parse_hash(&hash).map_err(|e| e.with_field("hash"))?;
    if let Some(found) = committed_transaction_anywhere(&state, &hash).await? {
        return Ok(Json(found));
    }
    if let Some(tx) = state.pool.get(&hash) {
        return Ok(Json(TxResponse {
            status: TxStatus::Pending,
            transaction: Some(TransactionView::of(&tx)),
            ..TxResponse::unknown(hash)
        }));
    }
    // It may have been committed between the two looks.
    Ok(Json(
        committed_transaction(&state, &hash)?.unwrap_or_else(|| TxResponse::unknown(hash)),
    ))
}

/// The committed transaction with this hash, with its receipt, read through the cluster if
/// its block's body is there.
async fn committed_transaction_anywhere(
    state: &ApiState,
    hash: &B256,
) -> Result<Option<TxResponse>, ApiError> {
    let Some(location) = state
        .chain
        .store()
        .tx_location(hash)
        .map_err(|e| ApiError::internal(e.to_string()))?
    else {
        return Ok(None);
    };
    let (block, receipts) = full_block(state, location.height)
        .await?
        .ok_or_else(|| ApiError::internal("indexed block missing"))?;
    let index = location.index as usize;
    let receipt = receipts
        .get(index)
        .ok_or_else(|| ApiError::internal("receipt missing"))?;
    Ok(TxResponse::committed(
        state.chain.suite(),
        &block,
        index,
        receipt,
    ))
}

/// The committed transaction with this hash, with its receipt.
pub(crate) fn committed_transaction(
    state: &ApiState,
    hash: &B256,
) -> Result<Option<TxResponse>, ApiError> {
    let store = state.chain.store();
    let Some(location) = store
        .tx_location(hash)
        .map_err(|e| ApiError::internal(e.to_string()))?
    else {
        return Ok(None);
    };
    let block = store
        .block(location.height)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::internal("indexed block missing"))?;
    let receipts = store
        .receipts(location.height)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .ok_or_else(|| ApiError::internal("receipts missing"))?;
    let index = location.index as usize;
    let receipt = receipts
        .get(index)
        .ok_or_else(|| ApiError::internal("receipt missing"))?;
    Ok(TxResponse::committed(
        state.chain.suite(),
        &block,
        index,
        receipt,
    ))
}

/// Block selector: `latest`, a height, or a 0x block hash.
pub(crate) fn resolve_block(state: &ApiState, id: &str) -> Result<u64, ApiError> {
    if id == "latest" {
        return Ok(state.chain.head().height);
    }
    if id.starts_with("0x") {
        let hash = parse_hash(id)?;
        return state
            .chain
            .store()
            .height_of(&hash)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .ok_or_else(|| {
                ApiError::not_found("unknown_block", format!("no block with hash {hash}"))
            });
    }
    id.parse::<u64>().map_err(|_| {
        ApiError::bad_request(
            "invalid_block_id",
            format!("{id:?} is not latest, a height or a 0x hash"),
        )
    })
}

/// Query of `GET /v1/blocks/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BlockQuery {
    /// Include full transactions, not only hashes.
    #[serde(default)]
    pub full: bool,
}

/// A block by height, hash or `latest`.
#[utoipa::path(get, path = "/v1/blocks/{id}", tag = "blocks",
    params(("id" = String, Path, description = "latest, a height, or a block hash", pattern = "^(latest|[0-9]{1,19}|0x[0-9a-fA-F]{64})$"), BlockQuery),
    responses(
        (status = 200, description = "The block", body = BlockView),
        (status = 400, description = "Not latest, a height or a hash; or a bad query", body = ErrorBody),
        (status = 404, description = "No such block", body = ErrorBody)))]
pub async fn get_block(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<BlockQuery>,
) -> Result<Json<BlockView>, ApiError> {
    let (block, _) = block_by_id(&state, &id).await?;
    Ok(Json(BlockView::of(state.chain.suite(), &block, query.full)))
}

/// The block `id` names (`latest`, a height or a hash) with its receipts.
async fn block_by_id(
    state: &ApiState,
    id: &str,
) -> Result<(cairn_primitives::Block, Vec<cairn_primitives::Receipt>), ApiError> {
    let height = resolve_block(state, id).map_err(|e| e.with_field("id"))?;
    full_block(state, height)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_block", format!("no block at height {height}")))
}

/// A block and its receipts as RLP, read through the storage cluster if this node dropped
/// its body.
#[utoipa::path(get, path = "/v1/blocks/{id}/raw", tag = "blocks",
    params(("id" = String, Path, description = "latest, a height, or a block hash", pattern = "^(latest|[0-9]{1,19}|0x[0-9a-fA-F]{64})$")),
    responses(
        (status = 200, description = "The block and its receipts as RLP", body = RawBlockResponse),
        (status = 400, description = "Not latest, a height or a hash", body = ErrorBody),
        (status = 404, description = "No such block", body = ErrorBody),
        (status = 503, description = "The storage cluster could not give its body back (`block_unavailable`)", body = ErrorBody)))]
pub async fn get_raw_block(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RawBlockResponse>, ApiError> {
    let (block, receipts) = block_by_id(&state, &id).await?;
    let mut encoded = Vec::new();
    alloy_rlp::encode_list(&receipts, &mut encoded);
    Ok(Json(RawBlockResponse {
        height: block.header.height,
        hash: block.hash(state.chain.suite()),
        block: alloy_rlp::encode(&block).into(),
        receipts: encoded.into(),
    }))
}

/// The committed block at `height` with its receipts: from this node's store, or, for an
/// old block whose body the cluster holds, read through the cluster and checked against the
/// header. A block no member can give back is a 503 naming the height.
pub(crate) async fn full_block(
    state: &ApiState,
    height: u64,
) -> Result<Option<(cairn_primitives::Block, Vec<cairn_primitives::Receipt>)>, ApiError> {
    let store = state.chain.store();
    let internal = |e: cairn_ledger::StorageError| ApiError::internal(e.to_string());
    if let Some(block) = store.block(height).map_err(internal)? {
        let receipts = store
            .receipts(height)
            .map_err(internal)?
            .ok_or_else(|| ApiError::internal("receipts missing"))?;
        return Ok(Some((block, receipts)));
    }
    let Some(seal) = store.pruned_seal(height).map_err(internal)? else {
        return Ok(None);
    };
    let unavailable = |detail: String| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "block_unavailable",
            format!(
                "block {height} is held by the storage cluster and could not be read: {detail}"
            ),
        )
    };
    let read = state
        .node
        .read_body(height)
        .ok_or_else(|| unavailable("this node is in no cluster".into()))?;
    let (transactions, receipts) = read.await.map_err(unavailable)?;
    let header = store
        .header(height)
        .map_err(internal)?
        .ok_or_else(|| ApiError::internal("header missing"))?;
    Ok(Some((
        cairn_primitives::Block {
            header,
            transactions,
            seal,
        },
        receipts,
    )))
}

/// Asks the storage cluster to double as soon as as many nodes wait to join as it has
/// members.
#[utoipa::path(post, path = "/v1/cluster/expand", tag = "node",
    responses(
        (status = 202, description = "Asked; the cluster as it is now", body = ClusterStatus),
        (status = 404, description = "This node takes no part in a storage cluster (`cluster_disabled`)", body = ErrorBody)))]
pub async fn cluster_expand(
    State(state): State<ApiState>,
) -> Result<(StatusCode, Json<ClusterStatus>), ApiError> {
    state
        .node
        .expand_cluster()
        .map(|status| (StatusCode::ACCEPTED, Json(status)))
        .ok_or_else(|| {
            ApiError::not_found(
                "cluster_disabled",
                "this node takes no part in a storage cluster ([cluster] enabled = false)",
            )
        })
}

/// The validators in rank order and the one proposing now.
#[utoipa::path(get, path = "/v1/validators", tag = "node",
    responses((status = 200, description = "The validators and the current leader", body = ValidatorsResponse)))]
pub async fn validators(State(state): State<ApiState>) -> Json<ValidatorsResponse> {
    let consensus = state.node.consensus();
    let validators = state
        .chain
        .validators()
        .keys()
        .iter()
        .enumerate()
        .map(|(rank, key)| ValidatorView {
            rank,
            public_key: key.to_string(),
            address: key.address(),
        })
        .collect();
    Json(ValidatorsResponse {
        engine: consensus.engine.to_string(),
        leader_index: consensus.leader_index,
        validator_index: consensus.validator_index,
        validators,
    })
}

/// The storage cluster as this node sees it.
#[utoipa::path(get, path = "/v1/cluster", tag = "node",
    responses(
        (status = 200, description = "The cluster, its members and the health of the old blocks", body = ClusterStatus),
        (status = 404, description = "This node takes no part in a storage cluster (`cluster_disabled`)", body = ErrorBody)))]
pub async fn cluster_status(
    State(state): State<ApiState>,
) -> Result<Json<ClusterStatus>, ApiError> {
    state.node.cluster().map(Json).ok_or_else(|| {
        ApiError::not_found(
            "cluster_disabled",
            "this node takes no part in a storage cluster ([cluster] enabled = false)",
        )
    })
}

/// Query of `GET /v1/blocks`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BlocksQuery {
    /// First height (default 0).
    #[serde(default)]
    pub start: u64,
    /// Most blocks to return, 1 to 100 (default 100).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// Include full transactions.
    #[serde(default)]
    pub full: bool,
}

/// Blocks from a start height, in ascending order, a page at a time.
#[utoipa::path(get, path = "/v1/blocks", tag = "blocks", params(BlocksQuery),
    responses(
        (status = 200, description = "A page of blocks", body = BlocksPage),
        (status = 400, description = "A bad query (`limit` outside 1 to 100, unknown parameters)", body = ErrorBody)))]
pub async fn list_blocks(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery<BlocksQuery>,
) -> Result<Json<BlocksPage>, ApiError> {
    let limit = query.limit.unwrap_or(MAX_PAGE_BLOCKS);
    if !(1..=MAX_PAGE_BLOCKS).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("\"limit\": {limit} is not from 1 to {MAX_PAGE_BLOCKS}"),
        )
        .with_field("limit"));
    }
    let mut blocks = state
        .chain
        .store()
        .blocks_from(query.start, limit)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let head = state.chain.head().height;
    // A run of the store stops at a body the cluster holds: fill the page through it.
    while blocks.len() < limit {
        let height = query.start.saturating_add(blocks.len() as u64);
        if height > head {
            break;
        }
        let Some((block, _)) = full_block(&state, height).await? else {
            break;
        };
        blocks.push(block);
        let more = state
            .chain
            .store()
            .blocks_from(height + 1, limit - blocks.len())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        blocks.extend(more);
    }
    let next = blocks
        .last()
        .map(|b| b.header.height + 1)
        .filter(|next| *next <= head);
    Ok(Json(BlocksPage {
        blocks: blocks
            .iter()
            .map(|b| BlockView::of(state.chain.suite(), b, query.full))
            .collect(),
        next,
    }))
}

/// Query of `GET /v1/accounts/{address}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    /// Include the EIP-1186 Merkle proof of the account against the block's state root.
    #[serde(default)]
    pub proof: bool,
    /// The block whose state to read: latest (default), a height or a block hash.
    #[param(pattern = "^(latest|[0-9]{1,19}|0x[0-9a-fA-F]{64})$")]
    pub block: Option<String>,
}

/// An account's balance and nonce, optionally with its proof against a block's state root.
#[utoipa::path(get, path = "/v1/accounts/{address}", tag = "accounts",
    params(("address" = String, Path, description = "The account's address", pattern = "^0x[0-9a-fA-F]{40}$"), AccountQuery),
    responses(
        (status = 200, description = "The account (zero balance and nonce if it does not exist)", body = AccountResponse),
        (status = 400, description = "Not an address, or a bad query", body = ErrorBody),
        (status = 404, description = "No such block", body = ErrorBody)))]
pub async fn get_account(
    State(state): State<ApiState>,
    ApiPath(address): ApiPath<String>,
    ApiQuery(query): ApiQuery<AccountQuery>,
) -> Result<Json<AccountResponse>, ApiError> {
    let address = parse_address(&address).map_err(|e| e.with_field("address"))?;
    let height = match &query.block {
        None => None,
        Some(id) => Some(resolve_block(&state, id).map_err(|e| e.with_field("block"))?),
    };
    let (height, state_root, account, proof) = if query.proof {
        let proven = state.chain.account_proof(&address, height)?;
        (
            proven.height,
            proven.state_root,
            proven.account,
            Some(proven.proof),
        )
    } else {
        let height = height.unwrap_or_else(|| state.chain.head().height);
        let header = state
            .chain
            .store()
            .header(height)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .ok_or_else(|| {
                ApiError::not_found("unknown_block", format!("no block at height {height}"))
            })?;
        (
            height,
            header.state_root,
            state.chain.account(&address, Some(height))?,
            None,
        )
    };
    let current = account.unwrap_or(cairn_primitives::Account::empty(state.chain.suite()));
    Ok(Json(AccountResponse {
        address,
        balance: current.balance,
        nonce: current.nonce,
        pending_nonce: state.pool.pending_nonce(&address, current.nonce),
        exists: account.is_some(),
        block: height,
        state_root,
        proof,
    }))
}

#[cfg(test)]
mod tests {
    use super::transaction_len;

    #[test]
    fn rlp_item_lengths_are_bounded() {
        assert_eq!(transaction_len(&[0xc1, 0x01]), Ok(2));
        let mut long = vec![0xf8, 56];
        long.extend([0u8; 56]);
        assert_eq!(transaction_len(&long), Ok(58));
        // A length written in more bytes than it needs is not canonical RLP.
        assert!(transaction_len(&[0xf8, 0x02, 0, 0]).is_err());
        assert!(transaction_len(&[0xf8, 0x05, 0]).is_err());
        assert!(transaction_len(&[0xf9, 0xff, 0xff]).is_err());
        assert!(transaction_len(&[0xff; 9]).is_err());
        assert!(transaction_len(&[0x80]).is_err());
        assert!(transaction_len(&[]).is_err());
    }
}
