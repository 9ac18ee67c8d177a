//! `/v1/acs/…`: contract packages, their records with storage proofs, read-only contract
//! queries, and the runs of their schedules. Contract actions themselves (deploy, join, set,
//! call) are transactions: they are submitted raw to `POST /v1/transactions`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::ApiState;
use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::handlers::{parse_address, resolve_block};
use crate::types::*;

/// Most runs one `jobs` request returns.
pub const MAX_JOB_RUNS: usize = 10_000;

fn package_not_found(package: &cairn_primitives::Address) -> ApiError {
    ApiError::not_found("unknown_package", format!("no package at {package:#x}"))
        .with_field("package")
}

/// A package: its operator, whether it is active, its contracts, constants and schedule.
#[utoipa::path(get, path = "/v1/acs/packages/{package}", tag = "contracts",
    params(("package" = String, Path, description = "The package's address", pattern = "^0x[0-9a-fA-F]{40}$")),
    responses(
        (status = 200, description = "The package as of the head", body = PackageResponse),
        (status = 400, description = "Not an address", body = ErrorBody),
        (status = 404, description = "No package there", body = ErrorBody)))]
pub async fn get_package(
    State(state): State<ApiState>,
    ApiPath(package): ApiPath<String>,
) -> Result<Json<PackageResponse>, ApiError> {
    let package = parse_address(&package).map_err(|e| e.with_field("package"))?;
    let head = state.chain.head().height;
    let view = state
        .chain
        .package(&package, Some(head))?
        .ok_or_else(|| package_not_found(&package))?;
    Ok(Json(PackageResponse {
        package,
        operator: view.info.operator,
        active: view.info.active,
        holders: view.info.holders,
        deployed_block: view.info.deployed_height,
        code_hash: view.info.code_hash,
        contracts: view
            .compiled
            .contracts
            .iter()
            .map(|contract| ContractView {
                name: contract.name.clone(),
                role: contract.role.as_str().into(),
            })
            .collect(),
        constants: view
            .compiled
            .constants
            .iter()
            .map(|(key, value)| (key.clone(), value.to_string()))
            .collect(),
        schedule: view
            .compiled
            .schedule
            .iter()
            .map(|line| ScheduleLineView {
                line: line.span.line,
                trigger: line.trigger.to_string(),
                action: line.action.to_string(),
                condition: line.condition.is_some(),
            })
            .collect(),
        block: head,
    }))
}

/// Query of `GET /v1/acs/packages/{package}/records/{record}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// Include the package account's proof and each field's storage proof (EIP-1186).
    #[serde(default)]
    pub proof: bool,
    /// The block whose state to read: latest (default), a height or a block hash.
    #[param(pattern = "^(latest|[0-9]{1,19}|0x[0-9a-fA-F]{64})$")]
    pub block: Option<String>,
}

/// A record's role and fields, optionally with EIP-1186 proofs: the package account's from the
/// state root, and each field's from the account's storage root.
#[utoipa::path(get, path = "/v1/acs/packages/{package}/records/{record}", tag = "contracts",
    params(
        ("package" = String, Path, description = "The package's address", pattern = "^0x[0-9a-fA-F]{40}$"),
        ("record" = String, Path, description = "The record's address (its holder's or the operator's)", pattern = "^0x[0-9a-fA-F]{40}$"),
        RecordQuery),
    responses(
        (status = 200, description = "The record", body = RecordResponse),
        (status = 400, description = "Not an address, or a bad query", body = ErrorBody),
        (status = 404, description = "No such package, record or block", body = ErrorBody)))]
pub async fn get_record(
    State(state): State<ApiState>,
    ApiPath((package, record)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<RecordQuery>,
) -> Result<Json<RecordResponse>, ApiError> {
    let package = parse_address(&package).map_err(|e| e.with_field("package"))?;
    let record = parse_address(&record).map_err(|e| e.with_field("record"))?;
    let height = match &query.block {
        None => None,
        Some(id) => Some(resolve_block(&state, id).map_err(|e| e.with_field("block"))?),
    };
    if state.chain.package(&package, height)?.is_none() {
        return Err(package_not_found(&package));
    }
    let view = state
        .chain
        .record(&package, &record, height, query.proof)?
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_record",
                format!("{record:#x} holds no record in package {package:#x}"),
            )
            .with_field("record")
        })?;
    let fields = view
        .fields
        .iter()
        .map(|field| (field.name.clone(), field.value.to_string()))
        .collect();
    let storage_proof = query.proof.then(|| {
        view.fields
            .iter()
            .map(|field| StorageProofView {
                field: field.name.clone(),
                key: field.slot,
                value: format!("{:#x}", cairn_ledger::acs::field_word(field.value)),
                proof: field.proof.clone(),
            })
            .collect()
    });
    Ok(Json(RecordResponse {
        package,
        record,
        role: view.role.as_str().into(),
        fields,
        block: view.height,
        state_root: view.state_root,
        storage_hash: query.proof.then_some(view.account.storage_root),
        account_proof: query.proof.then(|| view.account_proof.clone()),
        storage_proof,
    }))
}

/// Query of `GET /v1/acs/packages/{package}/query`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ContractQuery {
    /// The contract to run (`holder.getvbl`), at most 64 characters.
    #[param(
        pattern = "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$",
        max_length = 64
    )]
    pub contract: String,
    /// The record to run it on.
    #[param(pattern = "^0x[0-9a-fA-F]{40}$")]
    pub record: String,
}

/// Runs a contract on a record against the head state and returns what it returns; writes
/// nothing and sends no transaction.
#[utoipa::path(get, path = "/v1/acs/packages/{package}/query", tag = "contracts",
    params(("package" = String, Path, description = "The package's address", pattern = "^0x[0-9a-fA-F]{40}$"), ContractQuery),
    responses(
        (status = 200, description = "The value the contract returned (null if none)", body = QueryResponse),
        (status = 400, description = "Not an address or a contract name", body = ErrorBody),
        (status = 404, description = "No such package", body = ErrorBody),
        (status = 422, description = "The contract could not run (`contract_error`: no such contract, not a record of its role, or a run-time error with its line:col)", body = ErrorBody)))]
pub async fn query_contract(
    State(state): State<ApiState>,
    ApiPath(package): ApiPath<String>,
    ApiQuery(query): ApiQuery<ContractQuery>,
) -> Result<Json<QueryResponse>, ApiError> {
    let package = parse_address(&package).map_err(|e| e.with_field("package"))?;
    let record = parse_address(&query.record).map_err(|e| e.with_field("record"))?;
    if !cairn_primitives::is_contract_name(&query.contract) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("{:?} is not a contract name", query.contract),
        )
        .with_field("contract"));
    }
    if state.chain.package(&package, None)?.is_none() {
        return Err(package_not_found(&package));
    }
    // A run (and, on a cold cache, a compile) is CPU work: off the async threads.
    let chain = state.chain.clone();
    let contract = query.contract.clone();
    let answer =
        tokio::task::spawn_blocking(move || chain.query_contract(&package, &contract, &record))
            .await
            .map_err(|e| ApiError::internal(format!("the query task failed: {e}")))??;
    match answer {
        Ok(returned) => Ok(Json(QueryResponse {
            returned: returned.map(|value| value.to_string()),
        })),
        Err(error) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "contract_error",
            error.to_string(),
        )),
    }
}

/// Query of `GET /v1/acs/packages/{package}/jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// Most runs to return, the latest ones, 1 to 10,000 (default 1,000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<usize>,
}

/// The latest runs of a package's schedule, oldest first: when, on which record, how it
/// ended, and how late.
#[utoipa::path(get, path = "/v1/acs/packages/{package}/jobs", tag = "contracts",
    params(("package" = String, Path, description = "The package's address", pattern = "^0x[0-9a-fA-F]{40}$"), JobsQuery),
    responses(
        (status = 200, description = "The runs", body = JobsResponse),
        (status = 400, description = "Not an address, or `limit` outside 1 to 10,000", body = ErrorBody),
        (status = 404, description = "No such package", body = ErrorBody)))]
pub async fn list_jobs(
    State(state): State<ApiState>,
    ApiPath(package): ApiPath<String>,
    ApiQuery(query): ApiQuery<JobsQuery>,
) -> Result<Json<JobsResponse>, ApiError> {
    let package = parse_address(&package).map_err(|e| e.with_field("package"))?;
    let limit = query.limit.unwrap_or(1_000);
    if !(1..=MAX_JOB_RUNS).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("\"limit\": {limit} is not from 1 to {MAX_JOB_RUNS}"),
        )
        .with_field("limit"));
    }
    if state.chain.package(&package, None)?.is_none() {
        return Err(package_not_found(&package));
    }
    let runs = state.chain.job_runs(&package, limit)?;
    Ok(Json(JobsResponse {
        runs: runs.iter().map(JobRunView::of).collect(),
    }))
}
