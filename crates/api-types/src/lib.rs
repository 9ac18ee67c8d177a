//! The JSON shapes of Cairn's HTTP API, shared by the node that serves them and every client
//! (the CLI, the `cairn-client` crate, the benchmarks), so the API and its clients cannot
//! drift apart. Nothing here knows about the node's internals: only Cairn's primitive types,
//! serde and the OpenAPI schema derive.
//!
//! Request bodies are read field by field ([`TransactionRequest::from_json`]), so a bad one
//! is refused with a [`FieldError`] naming the field and saying what it should be.

mod acs;
mod fields;

use cairn_contracts::Decimal;
use cairn_primitives::{
    AccountPublicKey, AcsAction, Address, B256, Block, Body, Bytes, CryptoSuite, Header, Outcome,
    Receipt, Seal, Signature, SignedTransaction, Transaction, package_address,
    serde_helpers::u128_string,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use acs::*;
pub use fields::FieldError;

/// Every error: `{"error": {"code": "...", "message": "..."}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A machine-readable code and a human-readable message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable identifier, e.g. `invalid_signature`, `nonce_too_low`, `malformed_json`.
    pub code: String,
    /// Explanation for people.
    pub message: String,
    /// The request field at fault (e.g. `to`, `transactions[3].amount`), where one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `GET /`: where to start.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RootResponse {
    /// What answers here.
    pub name: String,
    /// Software version.
    pub version: String,
    /// Path of the OpenAPI document describing every endpoint.
    pub openapi: String,
    /// Path of the node's status.
    pub status: String,
}

/// Sync progress, in the shape of Ethereum's `eth_syncing`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SyncStatus {
    /// Whether the node is catching up with its peers.
    pub syncing: bool,
    /// Height the current sync started from.
    pub starting: u64,
    /// Height reached.
    pub current: u64,
    /// Highest height known from peers.
    pub highest: u64,
}

/// Pool sizes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PoolView {
    /// Transfers held.
    pub pending: usize,
    /// Of those, executable now.
    pub ready: usize,
}

/// Peer-to-peer counters (multi-validator chains).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct NetworkView {
    /// Messages from peers dropped as malformed, oversized or out of protocol.
    pub dropped_messages: u64,
    /// Blocks from peers that failed validation.
    pub invalid_blocks: u64,
    /// Consensus fault evidence seen (a validator equivocating).
    pub consensus_faults: u64,
    /// Blocks dropped because nobody asked for them and their proposer did not send them.
    #[serde(default)]
    pub unsolicited_blocks: u64,
    /// Proven forgeries by peers: forged seals, bodies that do not match their header, forged
    /// signatures in gossip.
    #[serde(default)]
    pub forgeries: u64,
    /// Times a peer was blocked (disconnected and refused for a while) for a proven forgery.
    #[serde(default)]
    pub peers_blocked: u64,
    /// Every peer that misbehaved, with what it did.
    #[serde(default)]
    pub offenders: Vec<OffenderView>,
}

/// `GET /v1/validators`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ValidatorsResponse {
    /// Consensus engine (`solo` or `bft`).
    pub engine: String,
    /// Rank of the validator proposing now, as this node sees it.
    pub leader_index: Option<usize>,
    /// This node's rank, if it is a validator.
    pub validator_index: Option<usize>,
    /// The validators in rank order (the order in which they take over from a failed leader).
    pub validators: Vec<ValidatorView>,
}

/// One validator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ValidatorView {
    /// Its rank.
    pub rank: usize,
    /// Its public key (0x-hex).
    pub public_key: String,
    /// Its address.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub address: Address,
}

/// A peer this node is configured to connect to, for the admin pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PeerView {
    /// The operating organisation, as the node's configuration names it.
    pub name: String,
    /// The peer's public key (0x-hex).
    pub public_key: String,
    /// Where it listens for peers.
    pub address: String,
    /// Its validator rank, if it is a validator.
    pub validator_rank: Option<usize>,
    /// Milliseconds since this node last heard from it, if ever.
    pub last_heard_ms_ago: Option<u64>,
    /// Whether it was heard from recently enough to count as connected.
    pub live: bool,
}

/// A peer that sent this node something an honest peer would not.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct OffenderView {
    /// The peer's public key (0x-hex).
    pub peer: String,
    /// Offences counted.
    pub offences: u64,
    /// Times this node blocked it.
    pub blocked: u64,
    /// The most recent offence: `malformed`, `unsolicited`, `invalid_block`,
    /// `unbacked_claim` or `forgery`.
    pub last: String,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusResponse {
    /// Chain id.
    pub chain_id: u64,
    /// Hash of block 0.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub genesis_hash: B256,
    /// Height of the head block.
    pub height: u64,
    /// Hash of the head block.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub head: B256,
    /// Timestamp of the head block (ms since the Unix epoch).
    pub head_timestamp_ms: u64,
    /// Consensus engine (`solo` or `bft`).
    pub engine: String,
    /// The chain's crypto suite: `ed25519-keccak` or `sm2-sm3` (which keys sign its
    /// transactions and which hash links its blocks and tries).
    #[serde(default)]
    #[schema(value_type = String, example = "ed25519-keccak")]
    pub crypto: CryptoSuite,
    /// This node's validator rank, or null for a full node.
    pub validator_index: Option<usize>,
    /// Rank of the current proposer.
    pub leader_index: Option<usize>,
    /// Connected peers.
    pub peers: usize,
    /// Sync progress.
    pub sync: SyncStatus,
    /// Transaction pool sizes.
    pub pool: PoolView,
    /// Peer-to-peer counters, on multi-validator chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkView>,
    /// Software version.
    pub version: String,
}

/// A transfer as submitted: the signed fields, or its canonical encoding as 0x-hex in `raw`.
// Read with `TransactionRequest::from_json` (its `Deserialize` does the same), which names the
// field at fault.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[serde(untagged)]
pub enum TransactionRequest {
    /// The canonical RLP encoding, 0x-hex.
    Raw(RawTransaction),
    /// The signed fields.
    Fields(TransactionFields),
}

impl TransactionRequest {
    /// How to submit `tx`: a transfer by its fields, a contract action by its raw encoding
    /// (its fields are not a transfer's).
    pub fn of(tx: &SignedTransaction) -> Self {
        match tx.transfer() {
            Some(_) => Self::Fields(TransactionFields::from_signed(tx)),
            None => Self::Raw(RawTransaction {
                raw: format!("0x{}", hex_string(&tx.encoded())),
            }),
        }
    }
}

fn hex_string(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// A signed transaction as its canonical RLP encoding.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawTransaction {
    /// 0x-hex of the canonical encoding.
    #[schema(pattern = "^0x([0-9a-fA-F]{2})+$")]
    pub raw: String,
}

impl<'de> Deserialize<'de> for TransactionRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// The fields of a signed transfer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TransactionFields {
    /// Chain id the transfer is signed for.
    pub chain_id: u64,
    /// Sender nonce.
    pub nonce: u64,
    /// Recipient address.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$", example = "0x5fbdb2315678afecb367f032d93f642f64180aa3")]
    pub to: Address,
    /// Amount in base units, as a decimal string.
    #[serde(with = "u128_string")]
    #[schema(value_type = String, pattern = "^[0-9]{1,39}$", example = "1000")]
    pub amount: u128,
    /// Sender's public key, 0x-hex: 32 bytes (ed25519) on an `ed25519-keccak` chain, the
    /// 33-byte compressed point (SM2) on an `sm2-sm3` chain.
    #[schema(value_type = String, pattern = "^0x([0-9a-fA-F]{64}|0[23][0-9a-fA-F]{64})$")]
    pub public_key: AccountPublicKey,
    /// Signature, 0x-hex (64 bytes): ed25519, or SM2's r ‖ s.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{128}$")]
    pub signature: Signature,
}

impl TransactionFields {
    /// The signed transaction these fields describe.
    pub fn to_signed(&self) -> SignedTransaction {
        SignedTransaction::new(
            Transaction {
                chain_id: self.chain_id,
                nonce: self.nonce,
                to: self.to,
                amount: self.amount,
            },
            self.public_key,
            self.signature,
        )
    }

    /// The fields of a signed transaction.
    pub fn from_signed(tx: &SignedTransaction) -> Self {
        Self {
            chain_id: tx.chain_id(),
            nonce: tx.nonce(),
            to: target_of(tx),
            amount: tx.amount(),
            public_key: *tx.public_key(),
            signature: *tx.signature(),
        }
    }
}

/// Where a transaction goes: a transfer's recipient, or the package a contract action
/// addresses (for a deployment, the package it creates), as an Ethereum contract call names
/// its contract.
pub fn target_of(tx: &SignedTransaction) -> Address {
    match tx.tx() {
        Body::Transfer(transfer) => transfer.to,
        Body::Acs(acs) => acs
            .action
            .package()
            .unwrap_or_else(|| package_address(tx.suite(), &tx.sender(), acs.nonce)),
    }
}

/// A contract action, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AcsView {
    /// `deploy`, `join`, `set` or `call`.
    pub action: String,
    /// Most gas the transaction may spend.
    pub gas_limit: u64,
    /// The package (for a deployment, the one it creates).
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub package: Address,
    /// The contract a call runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// The record a call or `set` addresses.
    #[schema(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{40}$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Address>,
    /// The fields a `set` writes, as decimal strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<std::collections::BTreeMap<String, String>>,
    /// The size of a deployed package's source, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_bytes: Option<usize>,
}

impl AcsView {
    /// The view of a signed transaction's contract action, if it has one.
    pub fn of(tx: &SignedTransaction) -> Option<Self> {
        let acs = tx.acs()?;
        let mut view = Self {
            action: acs.action.kind().into(),
            gas_limit: acs.gas_limit,
            package: target_of(tx),
            contract: None,
            record: None,
            fields: None,
            source_bytes: None,
        };
        match &acs.action {
            AcsAction::Deploy { source } => view.source_bytes = Some(source.len()),
            AcsAction::Join { .. } => {}
            AcsAction::Set { record, fields, .. } => {
                view.record = Some(*record);
                view.fields = Some(
                    fields
                        .iter()
                        .map(|(name, units)| {
                            (name.clone(), Decimal::from_units(*units).to_string())
                        })
                        .collect(),
                );
            }
            AcsAction::Call {
                contract, record, ..
            } => {
                view.contract = Some(contract.clone());
                view.record = Some(*record);
            }
        }
        Some(view)
    }
}

/// A batch submission: `{"transactions": [...]}`.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct BatchRequest {
    /// The transfers (1 to 20,000), each as in `POST /v1/transactions`.
    #[schema(min_items = 1, max_items = 20_000)]
    pub transactions: Vec<TransactionRequest>,
}

impl<'de> Deserialize<'de> for BatchRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        Self::from_json(&value).map_err(serde::de::Error::custom)
    }
}

/// The body of `POST /v1/transactions/raw`: canonical encodings of signed transactions, back
/// to back.
#[derive(Debug, Clone, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct RawTransactions(pub Vec<u8>);

/// `POST /v1/transactions` accepted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SubmitResponse {
    /// Transaction hash.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub hash: B256,
    /// Always `pending` on acceptance.
    pub status: TxStatus,
}

/// One entry of a batch response: a hash, or an error.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchItem {
    /// Hash, if accepted (or if it was already pending).
    #[schema(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{64}$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<B256>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// `POST /v1/transactions/batch` and `/v1/transactions/raw` results, one per input in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    /// Number accepted.
    pub accepted: usize,
    /// Number rejected.
    pub rejected: usize,
    /// Per-transaction results in input order.
    pub results: Vec<BatchItem>,
}

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxStatus {
    /// In the pool, not yet in a block.
    Pending,
    /// In a committed block; the transfer took effect.
    Committed,
    /// In a committed block; the transfer had no effect besides consuming the nonce.
    Failed,
    /// Not known to this node.
    Unknown,
}

/// A transaction as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TransactionView {
    /// Transaction hash.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub hash: B256,
    /// Sender address.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub from: Address,
    /// The signed fields. For a contract action, `to` is the package it addresses, `amount`
    /// is 0, and `signature` covers the action (see `acs`), not these fields.
    #[serde(flatten)]
    pub fields: TransactionFields,
    /// The contract action, if this is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acs: Option<AcsView>,
}

impl TransactionView {
    /// The view of a signed transaction.
    pub fn of(tx: &SignedTransaction) -> Self {
        Self {
            hash: tx.hash(),
            from: tx.sender(),
            fields: TransactionFields::from_signed(tx),
            acs: AcsView::of(tx),
        }
    }
}

/// A receipt as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ReceiptView {
    /// `success` or `failed`.
    pub status: String,
    /// Why it failed (`insufficient_funds`, `balance_overflow`, `contract`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Gas a contract action spent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_used: Option<u64>,
    /// The value a contract call returned, a decimal string in plain notation.
    #[serde(rename = "return", default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^-?[0-9]+(\\.[0-9]+)?$")]
    pub returned: Option<String>,
    /// Why a contract action failed: `LINE:COL: message` when the failure has a place in the
    /// package source, else the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ReceiptView {
    /// The view of a receipt.
    pub fn of(receipt: &Receipt) -> Self {
        let (status, reason) = match receipt.outcome {
            Outcome::Success => ("success", None),
            Outcome::Failed(reason) => (
                "failed",
                serde_json::to_value(reason)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned)),
            ),
        };
        let contract = receipt.contract.as_ref();
        Self {
            status: status.into(),
            reason,
            gas_used: contract.map(|result| result.gas_used),
            returned: contract
                .and_then(|result| result.returned)
                .map(|units| Decimal::from_units(units).to_string()),
            error: contract
                .and_then(|result| result.error.as_ref())
                .map(ToString::to_string),
        }
    }
}

/// `GET /v1/transactions/{hash}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TxResponse {
    /// Transaction hash.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub hash: B256,
    /// pending, committed, failed or unknown.
    pub status: TxStatus,
    /// Height of the including block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
    /// Hash of the including block.
    #[schema(value_type = Option<String>, pattern = "^0x[0-9a-fA-F]{64}$")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_hash: Option<B256>,
    /// Position in the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
    /// The transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<TransactionView>,
    /// Its receipt, once committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ReceiptView>,
}

impl TxResponse {
    /// The response for a transaction nobody here knows.
    pub fn unknown(hash: B256) -> Self {
        Self {
            hash,
            status: TxStatus::Unknown,
            block: None,
            block_hash: None,
            index: None,
            transaction: None,
            receipt: None,
        }
    }

    /// The response for a committed transaction of a `suite` chain.
    pub fn committed(
        suite: CryptoSuite,
        block: &Block,
        index: usize,
        receipt: &Receipt,
    ) -> Option<Self> {
        let tx = block.transactions.get(index)?;
        Some(Self {
            hash: tx.hash(),
            status: if receipt.outcome.is_success() {
                TxStatus::Committed
            } else {
                TxStatus::Failed
            },
            block: Some(block.header.height),
            block_hash: Some(block.hash(suite)),
            index: u32::try_from(index).ok(),
            transaction: Some(TransactionView::of(tx)),
            receipt: Some(ReceiptView::of(receipt)),
        })
    }
}

/// How a block was agreed on.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SealView {
    /// `genesis`, `proposer` or `certificate`.
    pub kind: String,
    /// The proposer's signature or the certificate, 0x-hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

/// A block header as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeaderView {
    /// Block hash.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub hash: B256,
    /// Height.
    pub height: u64,
    /// Parent hash.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub parent_hash: B256,
    /// Timestamp, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Proposer address.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub proposer: Address,
    /// State root.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub state_root: B256,
    /// Transactions root.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub transactions_root: B256,
    /// Receipts root.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub receipts_root: B256,
    /// Extra data, 0x-hex.
    #[schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$")]
    pub extra: Bytes,
}

impl HeaderView {
    /// The view of a header of a `suite` chain.
    pub fn of(suite: CryptoSuite, header: &Header) -> Self {
        Self {
            hash: header.hash(suite),
            height: header.height,
            parent_hash: header.parent_hash,
            timestamp_ms: header.timestamp_ms,
            proposer: header.proposer,
            state_root: header.state_root,
            transactions_root: header.transactions_root,
            receipts_root: header.receipts_root,
            extra: header.extra.clone(),
        }
    }
}

/// A block as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockView {
    /// The header.
    #[serde(flatten)]
    pub header: HeaderView,
    /// The seal.
    pub seal: SealView,
    /// Number of transactions.
    pub transaction_count: usize,
    /// Transaction hashes, in order.
    #[schema(value_type = Vec<String>)]
    pub transactions: Vec<B256>,
    /// The full transactions, when asked for with `?full=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_transactions: Option<Vec<TransactionView>>,
}

impl BlockView {
    /// The view of a block of a `suite` chain.
    pub fn of(suite: CryptoSuite, block: &Block, full: bool) -> Self {
        let seal = match &block.seal {
            Seal::Genesis => SealView {
                kind: "genesis".into(),
                data: None,
            },
            Seal::Proposer(signature) => SealView {
                kind: "proposer".into(),
                data: Some(format!("0x{}", hex::encode(signature.0))),
            },
            Seal::Certificate(bytes) => SealView {
                kind: "certificate".into(),
                data: Some(format!("0x{}", hex::encode(bytes))),
            },
        };
        Self {
            header: HeaderView::of(suite, &block.header),
            seal,
            transaction_count: block.transactions.len(),
            transactions: block
                .transactions
                .iter()
                .map(SignedTransaction::hash)
                .collect(),
            full_transactions: full
                .then(|| block.transactions.iter().map(TransactionView::of).collect()),
        }
    }
}

/// `GET /v1/blocks/{id}/raw`: a block and its receipts as RLP, for tools that check them
/// against headers they hold themselves (`cairn verify-chain --cluster-api`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RawBlockResponse {
    /// Its height.
    pub height: u64,
    /// Its hash.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub hash: B256,
    /// The block (header, transactions, seal) as RLP, 0x-hex.
    #[schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$")]
    pub block: Bytes,
    /// Its receipts as an RLP list, 0x-hex.
    #[schema(value_type = String, pattern = "^0x([0-9a-fA-F]{2})*$")]
    pub receipts: Bytes,
}

/// `GET /v1/blocks?start=H&limit=N`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlocksPage {
    /// Blocks in ascending height.
    pub blocks: Vec<BlockView>,
    /// The `start` of the next page, or null at the head.
    pub next: Option<u64>,
}

/// `GET /v1/accounts/{address}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountResponse {
    /// The address.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{40}$")]
    pub address: Address,
    /// Balance in base units, as a decimal string.
    #[serde(with = "u128_string")]
    #[schema(value_type = String, pattern = "^[0-9]{1,39}$")]
    pub balance: u128,
    /// Transactions included so far.
    pub nonce: u64,
    /// The nonce the sender's next transfer should use, counting pending ones.
    pub pending_nonce: u64,
    /// Whether the account exists in the state.
    pub exists: bool,
    /// Height of the block whose state this is.
    pub block: u64,
    /// That block's state root.
    #[schema(value_type = String, pattern = "^0x[0-9a-fA-F]{64}$")]
    pub state_root: B256,
    /// With `?proof=true`: RLP trie nodes (0x-hex) from the state root down the path of
    /// H(address), as in EIP-1186, H the chain's hash (keccak-256, or SM3 on `sm2-sm3`).
    #[schema(value_type = Option<Vec<String>>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<Vec<Bytes>>,
}

/// A committed head, as pushed to `heads` subscribers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HeadEvent {
    /// The new head's header.
    #[serde(flatten)]
    pub header: HeaderView,
    /// Number of transactions in it.
    pub transaction_count: usize,
}

impl HeadEvent {
    /// The event for a committed block of a `suite` chain.
    pub fn of(suite: CryptoSuite, block: &Block) -> Self {
        Self {
            header: HeaderView::of(suite, &block.header),
            transaction_count: block.transactions.len(),
        }
    }
}
