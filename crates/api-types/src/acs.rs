//! The JSON shapes of the contract (ACS) endpoints under `/v1/acs`. Decimals are strings in
//! plain notation ("51.9", "900").

use std::collections::BTreeMap;

use cairn_contracts::{Decimal, civil_from_days};
use cairn_primitives::{Address, B256, Bytes, JobRun};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A contract of a package.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ContractView {
    /// Its name (`operator`, `holder`, `holder.getvbl`).
    pub name: String,
    /// Whose records it runs on: `operator` or `holder`.
    pub role: String,
}

/// A schedule line of a package.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ScheduleLineView {
    /// Its line in the source.
    pub line: u32,
    /// `onStart`, `every(N blocks)`, `every(N s)`, `monthly(DAY,HH:MM)`.
    pub trigger: String,
    /// `commitACS` or `run(CONTRACT)`.
    pub action: String,
    /// Whether it has a condition.
    pub condition: bool,
}

/// `GET /v1/acs/packages/{package}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PackageResponse {
    /// The package's address.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub package: Address,
    /// Its operator (the deployer).
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub operator: Address,
    /// Whether it runs contracts (its `commitACS` line ran, or it has none).
    pub active: bool,
    /// Number of holders.
    pub holders: u64,
    /// Height of the deployment block.
    pub deployed_block: u64,
    /// The chain's hash (keccak-256, or SM3 on `sm2-sm3`) of the source (the package
    /// account's code hash).
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub code_hash: B256,
    /// The contracts, in source order.
    pub contracts: Vec<ContractView>,
    /// The constants, by key.
    pub constants: BTreeMap<String, String>,
    /// The schedule lines, in source order.
    pub schedule: Vec<ScheduleLineView>,
    /// The block whose state this is.
    pub block: u64,
}

/// One field's storage proof (EIP-1186's `storageProof` entry).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct StorageProofView {
    /// The field's name.
    pub field: String,
    /// Its storage slot: H(pad32(record) ‖ H(name)), H the chain's hash.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub key: B256,
    /// The storage word, 0x-hex without leading zeros (the 256-bit two's complement of the
    /// decimal's 18-place integer).
    pub value: String,
    /// RLP trie nodes (0x-hex) from the storage root down the path of H(key), H the chain's
    /// hash.
    #[schema(value_type = Vec<String>)]
    pub proof: Vec<Bytes>,
}

/// `GET /v1/acs/packages/{package}/records/{record}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RecordResponse {
    /// The package.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub package: Address,
    /// The record (its holder's, or the operator's, address).
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub record: Address,
    /// `operator` or `holder`.
    pub role: String,
    /// Its fields, as decimal strings.
    pub fields: BTreeMap<String, String>,
    /// The block whose state this is.
    pub block: u64,
    /// That block's state root.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub state_root: B256,
    /// With `?proof=true`: the package account's storage root.
    #[schema(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{64}$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_hash: Option<B256>,
    /// With `?proof=true`: the package account's proof from the state root (EIP-1186's
    /// `accountProof`).
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_proof: Option<Vec<Bytes>>,
    /// With `?proof=true`: each field's proof from the storage root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_proof: Option<Vec<StorageProofView>>,
}

/// `GET /v1/acs/packages/{package}/query`: what the contract returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct QueryResponse {
    /// The returned value (`p.w.return`), or null if the contract set none.
    #[serde(rename = "return")]
    #[schema(pattern = "^-?[0-9]+(\\.[0-9]+)?$")]
    pub returned: Option<String>,
}

/// One scheduled run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct JobRunView {
    /// The block at whose start it ran.
    pub block: u64,
    /// That block's time, RFC 3339 UTC (`2026-02-01T00:00:00.000Z`).
    pub time: String,
    /// The same, in ms since the Unix epoch.
    pub time_ms: u64,
    /// The contract run, or `commitACS`.
    pub contract: String,
    /// The record it ran on.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub record: Address,
    /// `ok` or `failed`.
    pub status: String,
    /// Why it failed (`LINE:COL: message` when it has a place), else null.
    pub error: Option<String>,
    /// How many blocks after the executor found it due it ran.
    pub late_blocks: u64,
    /// Gas it spent.
    pub gas_used: u64,
}

impl JobRunView {
    /// The view of a stored run.
    pub fn of(run: &JobRun) -> Self {
        Self {
            block: run.height,
            time: rfc3339(run.time_ms),
            time_ms: run.time_ms,
            contract: run.contract.clone(),
            record: run.record,
            status: if run.error.is_none() { "ok" } else { "failed" }.into(),
            error: run.error.as_ref().map(ToString::to_string),
            late_blocks: run.late_blocks,
            gas_used: run.gas_used,
        }
    }
}

/// `GET /v1/acs/packages/{package}/jobs`: the last runs, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct JobsResponse {
    /// The runs.
    pub runs: Vec<JobRunView>,
}

/// One member of a storage cluster.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq, Default)]
pub struct ClusterMemberView {
    /// Its slot.
    pub index: u32,
    /// Its key (null while the slot is vacated).
    #[schema(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub peer: Option<B256>,
    /// Whether it is online in this node's view.
    pub online: bool,
    /// Blocks it has said it stores a share of.
    pub stored_blocks: u64,
    /// Bytes of shares it stores (known for this node only).
    pub stored_bytes: Option<u64>,
    /// Its answers that failed a check against a commitment or a header, as this node saw.
    pub faults: u64,
    /// Whether this node has demoted it for those faults (asks it only when needed, never
    /// trusts a share it hands over).
    pub demoted: bool,
}

/// Repair progress.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq, Default)]
pub struct RepairView {
    /// Shares still to be stored by the member the placement names.
    pub pending: u64,
    /// Shares this node has rebuilt and stored.
    pub done: u64,
}

/// Old blocks this node read back through the cluster and keeps in memory.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq, Default)]
pub struct ReadCacheView {
    /// Blocks in the cache.
    pub blocks: u64,
    /// Their bytes (bodies and receipts as RLP).
    pub bytes: u64,
    /// Most bytes it keeps.
    pub limit_bytes: u64,
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that went to the cluster.
    pub misses: u64,
}

/// `GET /v1/cluster`: the storage cluster as this node sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq, Default)]
pub struct ClusterStatus {
    /// The cluster's id (null outside a cluster).
    #[schema(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub cluster_id: Option<B256>,
    /// When the id expires (ms since the epoch).
    pub expires_at: Option<u64>,
    /// The placement rule.
    pub placement: String,
    /// Blocks every node keeps whole.
    pub retain_blocks: u64,
    /// This node's slot.
    pub index: Option<u32>,
    /// The members, by slot.
    pub members: Vec<ClusterMemberView>,
    /// Old blocks with a share its assigned holder has not acknowledged.
    pub under_replicated: u64,
    /// Old blocks that too few online members hold shares of to rebuild.
    pub unrecoverable: u64,
    /// Repair progress.
    pub repair: RepairView,
    /// Old blocks whose body and receipts this node dropped (the cluster holds them).
    pub pruned_blocks: u64,
    /// The cache of old blocks read back through the cluster.
    pub read_cache: ReadCacheView,
}

/// A decimal as the API writes it.
pub fn decimal_string(value: Decimal) -> String {
    value.to_string()
}

/// ms since the Unix epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let (year, month, day) = civil_from_days(days);
    let in_day = ms % 86_400_000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // 2026-02-01T00:00:00Z is 1769904000 s after the epoch.
        assert_eq!(rfc3339(1_769_904_000_000), "2026-02-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(1_769_904_000_000 + 3_723_004),
            "2026-02-01T01:02:03.004Z"
        );
    }
}
