//! The validated, durable chain.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_primitives::{
    Account, Address, B256, Block, Bytes, ConsensusEngine, ContractError, CryptoSuite,
    GenesisConfig, Header, JobRun, MAX_EXTRA_BYTES, PublicKey, Receipt, Seal, SignedTransaction,
};
use cairn_storage::{ChainHead, StorageError, Store};
use cairn_trie::{CachedNodeStore, NodeBatch, SecureTrie, TrieError};
use parking_lot::{Mutex, RwLock};
use tokio::sync::broadcast;

use cairn_primitives::clock::now_ms;

use crate::acs::{self, BLOCK_GAS_LIMIT, BlockContext, PackageCache};
use crate::execute::{ExecutionError, NotApplicable, apply_transaction};
use crate::genesis::build_genesis;
use crate::node_hash;
use crate::pending::{LayeredNodes, Nodes};
use crate::roots::{receipts_root, transactions_root};
use crate::state::{StateDb, StateError, read_account};

/// Most transactions one block may carry (on an `ed25519-keccak` chain; see
/// [`max_block_transactions`]).
pub const MAX_BLOCK_TRANSACTIONS: usize = 40_000;

/// Most transactions of one block of an `sm2-sm3` chain. A validator checks the signatures of
/// a block's transactions its pool has not seen, and SM2 has no batch check: each costs about
/// 25 times an ed25519 signature checked in a batch. A tenth of [`MAX_BLOCK_TRANSACTIONS`]
/// keeps a full block of unseen SM2 transactions, which a Byzantine leader can propose, under
/// a second of two cores, inside the consensus timeouts.
pub const MAX_SM2_BLOCK_TRANSACTIONS: usize = MAX_BLOCK_TRANSACTIONS / 10;

/// Most transactions one block of a `suite` chain may carry.
pub fn max_block_transactions(suite: CryptoSuite) -> usize {
    match suite {
        CryptoSuite::Ed25519Keccak => MAX_BLOCK_TRANSACTIONS,
        CryptoSuite::Sm2Sm3 => MAX_SM2_BLOCK_TRANSACTIONS,
    }
}

/// Most bytes of encoded transactions in one block: with the header and a seal it stays well
/// inside the network's largest message (16 MiB).
pub const MAX_BLOCK_TRANSACTION_BYTES: usize = 12 * 1024 * 1024;

/// How far ahead of this node's clock an imported block's timestamp may be.
pub const MAX_FUTURE_DRIFT_MS: u64 = 15_000;

/// Bytes of trie nodes kept in the shared read cache.
const NODE_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// The validators in rank order, as genesis lists them, and the engine by which they agree
/// (which decides what seals a block).
#[derive(Debug, Clone)]
pub struct ValidatorSet {
    keys: Vec<PublicKey>,
    addresses: Vec<Address>,
    engine: ConsensusEngine,
}

impl ValidatorSet {
    /// The set a genesis document defines.
    pub fn from_genesis(genesis: &GenesisConfig) -> Self {
        let keys = genesis.validator_keys();
        let addresses = keys.iter().map(PublicKey::address).collect();
        Self {
            keys,
            addresses,
            engine: genesis.engine(),
        }
    }
    /// The engine genesis names (or implies): it decides which seals are valid.
    pub fn engine(&self) -> ConsensusEngine {
        self.engine
    }
    /// Number of validators.
    pub fn len(&self) -> usize {
        self.keys.len()
    }
    /// Whether the set is empty (never, for a valid genesis).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
    /// Rank of the validator with this address.
    pub fn index_of(&self, address: &Address) -> Option<usize> {
        self.addresses.iter().position(|a| a == address)
    }
    /// Rank of the validator with this key.
    pub fn index_of_key(&self, key: &PublicKey) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }
    /// The key of the validator at `rank`.
    pub fn key(&self, rank: usize) -> Option<&PublicKey> {
        self.keys.get(rank)
    }
    /// All keys in rank order.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }
}

/// A valid block, executed on top of its parent but not committed yet.
#[derive(Debug)]
pub struct ExecutedBlock {
    /// The block (its seal is set on commit).
    pub block: Block,
    /// One receipt per transaction.
    pub receipts: Vec<Receipt>,
    /// Candidate transactions a proposal left out because they could not be included.
    pub excluded: Vec<(SignedTransaction, NotApplicable)>,
    /// The scheduled runs at the block's start.
    pub job_runs: Vec<JobRun>,
    nodes: NodeBatch,
    hash: B256,
}

impl ExecutedBlock {
    /// The block's hash.
    pub fn hash(&self) -> B256 {
        self.hash
    }
}

/// A block as committed, with its receipts: what subscribers hear about.
#[derive(Debug, Clone)]
pub struct CommittedBlock {
    /// The block.
    pub block: Block,
    /// Its receipts, in transaction order.
    pub receipts: Vec<Receipt>,
    /// The scheduled runs at its start.
    pub job_runs: Vec<JobRun>,
}

/// An account and its Merkle proof against a block's state root.
#[derive(Debug, Clone)]
pub struct AccountProof {
    /// Height of the block whose state was proven.
    pub height: u64,
    /// That block's state root.
    pub state_root: B256,
    /// The account, or `None` if it does not exist (the proof then proves absence).
    pub account: Option<Account>,
    /// RLP-encoded trie nodes from the root down the path of H(address), H the chain's hash.
    pub proof: Vec<Bytes>,
}

/// A package record's fields, each with its storage proof when asked for, against a block's
/// state root: the package account's proof leads from the state root to its storage root, and
/// each field's proof from there to its slot (EIP-1186's shape).
#[derive(Debug, Clone)]
pub struct RecordView {
    /// Height of the block whose state was read.
    pub height: u64,
    /// That block's state root.
    pub state_root: B256,
    /// The package's account.
    pub account: Account,
    /// The package account's proof (when asked for).
    pub account_proof: Vec<Bytes>,
    /// The record's role.
    pub role: acs::RecordRole,
    /// Its fields in first-written order: name, slot, value, proof (when asked for).
    pub fields: Vec<FieldView>,
}

/// One field of a record.
#[derive(Debug, Clone)]
pub struct FieldView {
    /// The field's name.
    pub name: String,
    /// Its storage slot.
    pub slot: B256,
    /// Its value.
    pub value: cairn_contracts::Decimal,
    /// The storage proof of the slot (when asked for).
    pub proof: Vec<Bytes>,
}

/// A deployed package, as its state says.
#[derive(Debug, Clone)]
pub struct PackageView {
    /// Its metadata.
    pub info: acs::PackageInfo,
    /// Its source.
    pub source: String,
    /// The compiled package.
    pub compiled: Arc<cairn_contracts::Package>,
}

/// Why a block was rejected.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The block is not the child of the current head.
    #[error("block {height} has parent {parent}, but the head is {head_height} ({head_hash})")]
    NotOnHead {
        /// The block's height.
        height: u64,
        /// The block's parent hash.
        parent: B256,
        /// The head's height.
        head_height: u64,
        /// The head's hash.
        head_hash: B256,
    },
    /// The timestamp goes backwards or too far into the future.
    #[error("timestamp {timestamp_ms} is outside [{min_ms}, {max_ms}]")]
    BadTimestamp {
        /// The block's timestamp.
        timestamp_ms: u64,
        /// The parent's timestamp.
        min_ms: u64,
        /// This node's clock plus the allowed drift.
        max_ms: u64,
    },
    /// The proposer is not a validator.
    #[error("proposer {0:#x} is not a validator")]
    UnknownProposer(Address),
    /// The seal does not prove agreement on this block.
    #[error("invalid seal: {0}")]
    BadSeal(String),
    /// A header field is malformed.
    #[error("malformed header: {0}")]
    MalformedHeader(&'static str),
    /// Too many transactions.
    #[error("{0} transactions, more than the {1} a block of this chain may carry")]
    TooManyTransactions(usize, usize),
    /// The transactions' encodings together exceed the block's byte budget.
    #[error(
        "{0} bytes of transactions, more than the {MAX_BLOCK_TRANSACTION_BYTES} a block may carry"
    )]
    TooManyBytes(usize),
    /// The contract actions' gas limits together exceed the block's gas budget.
    #[error("contract actions reserve {0} gas, more than the block gas limit of {BLOCK_GAS_LIMIT}")]
    TooMuchGas(u64),
    /// Some transaction's signature is invalid.
    #[error("transaction {index} ({hash}) has an invalid signature")]
    BadSignature {
        /// Position in the block.
        index: usize,
        /// Transaction hash.
        hash: B256,
    },
    /// A transaction may not be included (wrong chain, wrong nonce).
    #[error("transaction {index} ({hash}) is not applicable: {reason}")]
    NotApplicable {
        /// Position in the block.
        index: usize,
        /// Transaction hash.
        hash: B256,
        /// Why.
        reason: NotApplicable,
    },
    /// A transaction appears twice.
    #[error("transaction {0} appears twice")]
    DuplicateTransaction(B256),
    /// A transaction is signed with another crypto suite than the chain's.
    #[error("transaction {hash} is signed with {suite}, this chain uses {chain}")]
    WrongSuite {
        /// The transaction.
        hash: B256,
        /// Its suite.
        suite: CryptoSuite,
        /// The chain's.
        chain: CryptoSuite,
    },
    /// A root in the header does not match the block's contents.
    #[error("{which} root mismatch: header {claimed}, computed {computed}")]
    RootMismatch {
        /// Which root.
        which: &'static str,
        /// The header's value.
        claimed: B256,
        /// The value re-derived from the block.
        computed: B256,
    },
}

impl BlockError {
    /// Whether every honest node would refuse this block for this reason, whatever its clock
    /// and however far it has got: so whoever vouched for the block (served it as final, or
    /// proposed it) is dishonest. A timestamp ahead of this node's clock, or a parent this
    /// node's head has moved past, prove nothing of the kind.
    pub fn proves_forgery(&self) -> bool {
        match self {
            // Before its parent is wrong anywhere; too far ahead only by this node's clock.
            Self::BadTimestamp {
                timestamp_ms,
                min_ms,
                ..
            } => timestamp_ms < min_ms,
            Self::NotOnHead { .. } => false,
            _ => true,
        }
    }
}

/// Errors from chain operations.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The block is invalid.
    #[error(transparent)]
    InvalidBlock(#[from] BlockError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// State could not be read.
    #[error(transparent)]
    State(#[from] StateError),
    /// The data directory holds no chain yet.
    #[error("the store holds no chain: run `cairn init` first")]
    Uninitialized,
    /// The data directory holds a different chain than the genesis given.
    #[error("the store holds chain {stored} but the genesis given builds {given}")]
    GenesisMismatch {
        /// Genesis hash in the store.
        stored: B256,
        /// Genesis hash built from the given document.
        given: B256,
    },
    /// No block at that height or with that hash.
    #[error("no block {0}")]
    UnknownBlock(String),
    /// The block builds on a parent this node has neither committed nor executed.
    #[error("unknown parent {0}")]
    UnknownParent(B256),
    /// A pending ancestor of a final block has no seal, and the engine cannot build one.
    #[error("pending block {0} has no seal")]
    MissingSeal(B256),
    /// Commit was asked for a block that was not executed here (or was pruned).
    #[error("block {0} has not been executed on this node")]
    NotExecuted(B256),
    /// Too many executed blocks wait for finality; new ones are refused until some commit.
    #[error("{0} executed blocks already await finality")]
    TooManyPending(usize),
}

impl From<TrieError> for ChainError {
    fn from(error: TrieError) -> Self {
        Self::State(StateError::Trie(error))
    }
}

/// Transactions whose signatures were already checked on this node (the pool's contents):
/// block validation need not check them again. A transaction hash commits to its signature,
/// key and contents, so a known hash means a known-valid signature.
pub trait KnownSignatures: Send + Sync {
    /// Whether the transaction with this hash is known to be validly signed.
    fn verified(&self, hash: &B256) -> bool;
}

/// What a valid seal proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealStrength {
    /// The block is final on its own evidence (a finalization certificate, or a solo
    /// validator's signature).
    Final,
    /// A quorum notarized the block. It is final once a descendant is: the descendant's
    /// finalization covers its ancestors, linked by parent hashes.
    Notarized,
}

/// Checks a seal other than a single proposer's signature (a consensus engine's certificate).
pub trait SealVerifier: Send + Sync {
    /// What `seal` proves about the block with hash `block_hash`, or why it proves nothing.
    fn verify(
        &self,
        block_hash: &B256,
        header: &Header,
        seal: &Seal,
        validators: &ValidatorSet,
    ) -> Result<SealStrength, String>;

    /// A seal that proves a block final through a final descendant: `final_seal` seals the last
    /// of `path`, which lists the block's descendants, its child first. `None` if the engine
    /// has no such proof. Used for an ancestor whose own notarization this node never heard
    /// of (it may learn only of a descendant's finalization).
    fn seal_through(&self, final_seal: &Seal, path: &[Header]) -> Option<Seal> {
        let _ = (final_seal, path);
        None
    }
}

/// An executed block and, once known, the seal it will be committed with.
struct PendingBlock {
    executed: Arc<ExecutedBlock>,
    seal: Option<Seal>,
}

/// Most executed blocks kept while they wait for finality.
pub const MAX_PENDING_BLOCKS: usize = 1_024;

/// The chain: committed head and history, backed by a [`Store`], plus the executed blocks
/// that wait for consensus to finalize them.
pub struct Chain {
    store: Store,
    genesis: GenesisConfig,
    genesis_hash: B256,
    validators: ValidatorSet,
    nodes: Nodes,
    head: RwLock<Header>,
    pending: Mutex<HashMap<B256, PendingBlock>>,
    /// Serializes commits, so the head moves one block at a time.
    commit_lock: Mutex<()>,
    events: broadcast::Sender<Arc<CommittedBlock>>,
    seal_verifier: Option<Arc<dyn SealVerifier>>,
    known_signatures: Option<Arc<dyn KnownSignatures>>,
    packages: PackageCache,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain")
            .field("chain_id", &self.genesis.chain_id)
            .field("head", &self.head.read().height)
            .finish()
    }
}

impl Chain {
    /// Writes genesis into an empty store, or checks that the store holds this genesis.
    pub fn initialize(store: &Store, genesis: &GenesisConfig) -> Result<B256, ChainError> {
        let (block, nodes) = build_genesis(genesis)?;
        let given = block.hash(genesis.crypto);
        if let Some(stored) = store.header(0)? {
            let stored = stored.hash(genesis.crypto);
            if stored != given {
                return Err(ChainError::GenesisMismatch { stored, given });
            }
            return Ok(given);
        }
        store.initialize(genesis, &block, &nodes)?;
        Ok(given)
    }

    /// Opens the chain held by `store` at its head.
    pub fn open(store: Store) -> Result<Self, ChainError> {
        let genesis = store.genesis()?.ok_or(ChainError::Uninitialized)?;
        let head_pointer = store.head()?.ok_or(ChainError::Uninitialized)?;
        let head = store
            .header(head_pointer.height)?
            .ok_or_else(|| ChainError::UnknownBlock(head_pointer.height.to_string()))?;
        let genesis_hash = store
            .header(0)?
            .ok_or_else(|| ChainError::UnknownBlock("0".into()))?
            .hash(genesis.crypto);
        let committed = CachedNodeStore::with_byte_capacity(store.node_source(), NODE_CACHE_BYTES);
        let nodes = Arc::new(LayeredNodes::new(committed));
        // Fail now, not at the first block, if the head's state is missing.
        SecureTrie::open_with(nodes.clone(), head.state_root, node_hash(genesis.crypto))?;
        let (events, _) = broadcast::channel(1024);
        Ok(Self {
            validators: ValidatorSet::from_genesis(&genesis),
            genesis,
            genesis_hash,
            nodes,
            head: RwLock::new(head),
            pending: Mutex::new(HashMap::new()),
            commit_lock: Mutex::new(()),
            events,
            seal_verifier: None,
            known_signatures: None,
            packages: PackageCache::default(),
            store,
        })
    }

    /// Skips re-checking signatures that `known` has already checked (the node's pool).
    pub fn with_known_signatures(mut self, known: Arc<dyn KnownSignatures>) -> Self {
        self.known_signatures = Some(known);
        self
    }

    /// Accepts [`Seal::Certificate`] seals checked by `verifier` (set by a consensus engine).
    pub fn with_seal_verifier(mut self, verifier: Arc<dyn SealVerifier>) -> Self {
        self.seal_verifier = Some(verifier);
        self
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.genesis.chain_id
    }
    /// The genesis document.
    pub fn genesis(&self) -> &GenesisConfig {
        &self.genesis
    }
    /// The chain's crypto suite (from its genesis).
    pub fn suite(&self) -> CryptoSuite {
        self.genesis.crypto
    }
    /// The genesis block's hash (the chain's identity).
    pub fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }
    /// The validators in rank order.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }
    /// The underlying store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The head block's header.
    pub fn head(&self) -> Header {
        self.head.read().clone()
    }

    /// The head as height and hash.
    pub fn head_pointer(&self) -> ChainHead {
        let head = self.head.read();
        ChainHead {
            height: head.height,
            hash: head.hash(self.suite()),
        }
    }

    /// Subscribes to committed blocks, in order. A subscriber that falls more than 1024 blocks
    /// behind is told it lagged.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CommittedBlock>> {
        self.events.subscribe()
    }

    /// Executes `candidates` on top of the head, leaving out transfers that cannot be included,
    /// and returns the resulting block, ready for [`Chain::commit`]. Signatures must already
    /// have been checked.
    pub fn propose(
        &self,
        candidates: Vec<SignedTransaction>,
        timestamp_ms: u64,
        proposer: Address,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        let parent = self.head().hash(self.suite());
        self.propose_on(&parent, candidates, timestamp_ms, proposer, Bytes::new())
    }

    /// Like [`Chain::propose`], on `parent`: the head or a block executed and not yet
    /// committed. `extra` goes into the header (consensus metadata).
    pub fn propose_on(
        &self,
        parent: &B256,
        candidates: Vec<SignedTransaction>,
        timestamp_ms: u64,
        proposer: Address,
        extra: Bytes,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        let parent = self.parent_header(parent)?;
        let mut state = StateDb::open(self.nodes.clone(), parent.state_root, self.suite())?;
        let timestamp_ms = timestamp_ms.max(parent.timestamp_ms);
        let ctx = BlockContext {
            chain_id: self.chain_id(),
            height: parent.height + 1,
            time_ms: timestamp_ms,
            packages: &self.packages,
        };
        let job_runs = acs::run_jobs(&mut state, &ctx)?;
        let mut transactions = Vec::with_capacity(candidates.len().min(MAX_BLOCK_TRANSACTIONS));
        let mut receipts = Vec::with_capacity(transactions.capacity());
        let mut excluded = Vec::new();
        let mut budget = Budget::default();
        for tx in candidates {
            // A transaction that does not fit ends the block: leaving it out would leave its
            // sender's later nonces unusable in this block anyway.
            if !budget.admits(&tx) {
                break;
            }
            match apply_transaction(&mut state, &ctx, &tx) {
                Ok(receipt) => {
                    budget.add(&tx);
                    receipts.push(receipt);
                    transactions.push(tx);
                }
                Err(ExecutionError::NotApplicable(reason)) => excluded.push((tx, reason)),
                Err(ExecutionError::State(error)) => return Err(error.into()),
            }
        }
        let (state_root, nodes) = state.commit()?;
        let header = Header {
            parent_hash: parent.hash(self.suite()),
            height: parent.height + 1,
            timestamp_ms,
            proposer,
            state_root,
            transactions_root: transactions_root(self.suite(), &transactions),
            receipts_root: receipts_root(self.suite(), &receipts),
            extra,
        };
        let block = Block {
            header,
            transactions,
            seal: Seal::Genesis,
        };
        self.insert_pending(ExecutedBlock {
            hash: block.hash(self.suite()),
            block,
            receipts,
            excluded,
            job_runs,
            nodes,
        })
    }

    /// Fully validates `block` on top of its parent (the head or an executed block) and
    /// executes it, without committing. Executing the same block twice returns the first result.
    ///
    /// Checks, in order: the seal (when `check_seal`; a proposal has none yet), transaction
    /// count, duplicates, transactions root and every signature, then the parent, height,
    /// timestamp and proposer, then every transfer's applicability and the state and receipts
    /// roots.
    pub fn execute_block(
        &self,
        block: Block,
        check_seal: bool,
    ) -> Result<Arc<ExecutedBlock>, ChainError> {
        if let Some(done) = self.pending_block(&block.hash(self.suite())) {
            return Ok(done);
        }
        if check_seal {
            self.check_seal(&block)?;
        }
        check_transactions(self.suite(), &block, self.known_signatures.as_deref())?;
        let parent = self.parent_header(&block.header.parent_hash)?;
        check_header_against_parent(self.suite(), &parent, &block.header, Some(now_ms()))?;
        if self.validators.index_of(&block.header.proposer).is_none() {
            return Err(BlockError::UnknownProposer(block.header.proposer).into());
        }
        let mut state = StateDb::open(self.nodes.clone(), parent.state_root, self.suite())?;
        let (receipts, job_runs) = replay(&mut state, self.chain_id(), &self.packages, &block)?;
        let (_, nodes) = state.commit()?;
        self.insert_pending(ExecutedBlock {
            hash: block.hash(self.suite()),
            block,
            receipts,
            excluded: Vec::new(),
            job_runs,
            nodes,
        })
    }

    /// Validates and executes a sealed block received from elsewhere. A final seal commits it,
    /// with any notarized ancestors still pending; a notarized seal leaves it pending until a
    /// final descendant arrives. Returns what was committed, in order.
    pub fn import(&self, block: Block) -> Result<Vec<Arc<CommittedBlock>>, ChainError> {
        // Peers re-send what this node already has; that is not an error.
        if self.store.height_of(&block.hash(self.suite()))?.is_some() {
            return Ok(Vec::new());
        }
        let strength = self.check_seal(&block)?;
        let seal = block.seal.clone();
        let executed = self.execute_block(block, false)?;
        let hash = executed.hash();
        match strength {
            SealStrength::Final => self.commit_path(&hash, seal),
            SealStrength::Notarized => {
                self.attach_seal(&hash, seal);
                Ok(Vec::new())
            }
        }
    }

    /// Records the seal a pending block will be committed with when a descendant becomes final.
    /// A seal already attached is kept: either proves what it must, and the first came from
    /// this node's own consensus or a checked import.
    pub fn attach_seal(&self, hash: &B256, seal: Seal) {
        if let Some(entry) = self.pending.lock().get_mut(hash)
            && entry.seal.is_none()
        {
            entry.seal = Some(seal);
        }
    }

    /// Commits the pending block `hash` with its final `seal`, after committing, in order, its
    /// pending ancestors: each with the seal attached to it (its notarization), or else with a
    /// seal the consensus engine builds from `seal` and the headers linking the ancestor to
    /// `hash` (a final block's ancestors are final; [`SealVerifier::seal_through`]). A block
    /// already committed is a no-op. Fails without committing anything if an ancestor has no
    /// seal and the engine cannot build one.
    pub fn commit_path(
        &self,
        hash: &B256,
        seal: Seal,
    ) -> Result<Vec<Arc<CommittedBlock>>, ChainError> {
        if self.store.height_of(hash)?.is_some() {
            return Ok(Vec::new());
        }
        let path = {
            let pending = self.pending.lock();
            let head = self.head().hash(self.suite());
            // From `hash` down to the head's child: (hash, header, own seal).
            let mut down = Vec::new();
            let mut cursor = *hash;
            while cursor != head {
                let entry = pending
                    .get(&cursor)
                    .ok_or(ChainError::NotExecuted(cursor))?;
                let header = entry.executed.block.header.clone();
                cursor = header.parent_hash;
                down.push((header.hash(self.suite()), header, entry.seal.clone()));
            }
            let mut path = Vec::with_capacity(down.len());
            for (index, (block_hash, _, own)) in down.iter().enumerate() {
                let block_seal = match own {
                    _ if index == 0 => seal.clone(),
                    Some(own) => own.clone(),
                    None => {
                        // The descendants, child first, up to the final block.
                        let through: Vec<Header> = down[..index]
                            .iter()
                            .rev()
                            .map(|(_, h, _)| h.clone())
                            .collect();
                        self.seal_verifier
                            .as_deref()
                            .and_then(|verifier| verifier.seal_through(&seal, &through))
                            .ok_or(ChainError::MissingSeal(*block_hash))?
                    }
                };
                path.push((*block_hash, block_seal));
            }
            path
        };
        let mut committed = Vec::with_capacity(path.len());
        for (block_hash, block_seal) in path.into_iter().rev() {
            committed.push(self.commit(&block_hash, block_seal)?);
        }
        Ok(committed)
    }

    /// Commits an executed block that extends the head, with its seal: one atomic, durable
    /// write; then the head moves, executed blocks that can no longer be committed are dropped,
    /// and subscribers hear of the block.
    pub fn commit(&self, hash: &B256, seal: Seal) -> Result<Arc<CommittedBlock>, ChainError> {
        let _commit = self.commit_lock.lock();
        let executed = self
            .pending_block(hash)
            .ok_or(ChainError::NotExecuted(*hash))?;
        let head = self.head();
        if executed.block.header.parent_hash != head.hash(self.suite()) {
            return Err(BlockError::NotOnHead {
                height: executed.block.header.height,
                parent: executed.block.header.parent_hash,
                head_height: head.height,
                head_hash: head.hash(self.suite()),
            }
            .into());
        }
        let mut block = executed.block.clone();
        block.seal = seal;
        self.store.commit_block(
            &block,
            &executed.receipts,
            &executed.job_runs,
            &executed.nodes,
        )?;
        *self.head.write() = block.header.clone();
        self.prune_pending(&block.header);
        let committed = Arc::new(CommittedBlock {
            block,
            receipts: executed.receipts.clone(),
            job_runs: executed.job_runs.clone(),
        });
        // No subscribers is fine: nobody is listening.
        let _ = self.events.send(committed.clone());
        Ok(committed)
    }

    /// The executed, uncommitted block with this hash.
    pub fn pending_block(&self, hash: &B256) -> Option<Arc<ExecutedBlock>> {
        self.pending
            .lock()
            .get(hash)
            .map(|entry| entry.executed.clone())
    }

    /// Number of executed blocks waiting for finality.
    pub fn pending_len(&self) -> usize {
        self.pending.lock().len()
    }

    /// Number of trie nodes held for executed blocks (zero once they all commit or drop).
    pub fn pending_nodes(&self) -> usize {
        self.nodes.pending_len()
    }

    /// The header of the head or of an executed block: something a new block may extend.
    fn parent_header(&self, hash: &B256) -> Result<Header, ChainError> {
        let head = self.head();
        if head.hash(self.suite()) == *hash {
            return Ok(head);
        }
        if let Some(executed) = self.pending_block(hash) {
            return Ok(executed.block.header.clone());
        }
        // A committed block below the head cannot be extended again: that would fork.
        match self.store.height_of(hash)? {
            Some(height) => Err(BlockError::NotOnHead {
                height: height + 1,
                parent: *hash,
                head_height: head.height,
                head_hash: head.hash(self.suite()),
            }
            .into()),
            None => Err(ChainError::UnknownParent(*hash)),
        }
    }

    fn insert_pending(&self, executed: ExecutedBlock) -> Result<Arc<ExecutedBlock>, ChainError> {
        let hash = executed.hash();
        let mut pending = self.pending.lock();
        if let Some(existing) = pending.get(&hash) {
            return Ok(existing.executed.clone());
        }
        if pending.len() >= MAX_PENDING_BLOCKS {
            return Err(ChainError::TooManyPending(pending.len()));
        }
        // The head may have moved past this block's parent while it executed.
        let head = self.head();
        let parent = executed.block.header.parent_hash;
        if parent != head.hash(self.suite()) && !pending.contains_key(&parent) {
            return Err(BlockError::NotOnHead {
                height: executed.block.header.height,
                parent,
                head_height: head.height,
                head_hash: head.hash(self.suite()),
            }
            .into());
        }
        self.nodes.retain(&executed.nodes);
        let executed = Arc::new(executed);
        pending.insert(
            hash,
            PendingBlock {
                executed: executed.clone(),
                seal: None,
            },
        );
        Ok(executed)
    }

    /// After `head` commits: drop it from the pending set (its nodes are stored now), and drop
    /// every executed block that no longer descends from the head.
    fn prune_pending(&self, head: &Header) {
        let mut pending = self.pending.lock();
        let head_hash = head.hash(self.suite());
        if let Some(committed) = pending.remove(&head_hash) {
            self.nodes.release(&committed.executed.nodes);
        }
        loop {
            let orphans: Vec<B256> = pending
                .iter()
                .filter(|(_, entry)| {
                    let header = &entry.executed.block.header;
                    header.height <= head.height
                        || (header.parent_hash != head_hash
                            && !pending.contains_key(&header.parent_hash))
                })
                .map(|(hash, _)| *hash)
                .collect();
            if orphans.is_empty() {
                break;
            }
            for hash in orphans {
                if let Some(orphan) = pending.remove(&hash) {
                    self.nodes.release(&orphan.executed.nodes);
                }
            }
        }
    }

    fn check_seal(&self, block: &Block) -> Result<SealStrength, BlockError> {
        check_seal(
            self.suite(),
            &self.validators,
            self.seal_verifier.as_deref(),
            block,
        )
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>, ChainError> {
        Ok(self.store.block(height)?)
    }

    /// The block with this hash.
    pub fn block_by_hash(&self, hash: &B256) -> Result<Option<Block>, ChainError> {
        match self.store.height_of(hash)? {
            Some(height) => self.block(height),
            None => Ok(None),
        }
    }

    fn state_root_at(&self, height: Option<u64>) -> Result<(u64, B256), ChainError> {
        match height {
            None => {
                let head = self.head.read();
                Ok((head.height, head.state_root))
            }
            Some(height) => {
                let header = self
                    .store
                    .header(height)?
                    .ok_or_else(|| ChainError::UnknownBlock(height.to_string()))?;
                Ok((height, header.state_root))
            }
        }
    }

    /// The account at `address` after block `height` (the head if `None`); `None` if it does
    /// not exist.
    pub fn account(
        &self,
        address: &Address,
        height: Option<u64>,
    ) -> Result<Option<Account>, ChainError> {
        let (_, root) = self.state_root_at(height)?;
        let trie = SecureTrie::open_with(self.nodes.clone(), root, node_hash(self.suite()))?;
        Ok(read_account(&trie, address)?)
    }

    fn state_at(&self, height: Option<u64>) -> Result<(u64, B256, StateDb<Nodes>), ChainError> {
        let (height, root) = self.state_root_at(height)?;
        Ok((
            height,
            root,
            StateDb::open(self.nodes.clone(), root, self.suite())?,
        ))
    }

    /// Whether the chain's schedules have work for a block on top of the head at `timestamp_ms`:
    /// block producers seal such a block even when no transaction waits.
    pub fn jobs_due(&self, timestamp_ms: u64) -> Result<bool, ChainError> {
        let head = self.head();
        let mut state = StateDb::open(self.nodes.clone(), head.state_root, self.suite())?;
        let ctx = BlockContext {
            chain_id: self.chain_id(),
            height: head.height + 1,
            time_ms: timestamp_ms.max(head.timestamp_ms),
            packages: &self.packages,
        };
        Ok(acs::jobs_due(&mut state, &ctx)?)
    }

    /// The package at `package` after block `height` (the head if `None`).
    pub fn package(
        &self,
        package: &Address,
        height: Option<u64>,
    ) -> Result<Option<PackageView>, ChainError> {
        let (_, _, mut state) = self.state_at(height)?;
        let mut packages = acs::Packages::new(&mut state);
        let Some(info) = packages.info(package)? else {
            return Ok(None);
        };
        let source = packages.source(package)?.unwrap_or_default();
        let compiled = packages.compiled(package, &info, &self.packages)?;
        Ok(Some(PackageView {
            info,
            source,
            compiled,
        }))
    }

    /// Runs `contract` on `record` of `package` against the head state, writing nothing: the
    /// value it returns, or why it could not run.
    pub fn query_contract(
        &self,
        package: &Address,
        contract: &str,
        record: &Address,
    ) -> Result<Result<Option<cairn_contracts::Decimal>, ContractError>, ChainError> {
        let head = self.head();
        let mut state = StateDb::open(self.nodes.clone(), head.state_root, self.suite())?;
        let ctx = BlockContext {
            chain_id: self.chain_id(),
            height: head.height,
            time_ms: head.timestamp_ms,
            packages: &self.packages,
        };
        Ok(acs::query(&mut state, &ctx, package, contract, record)?)
    }

    /// `record` of `package` after block `height` (the head if `None`), with proofs if
    /// `prove`; `None` if there is no such package or the address holds no record in it.
    pub fn record(
        &self,
        package: &Address,
        record: &Address,
        height: Option<u64>,
        prove: bool,
    ) -> Result<Option<RecordView>, ChainError> {
        let (height, state_root, mut state) = self.state_at(height)?;
        let mut packages = acs::Packages::new(&mut state);
        if packages.info(package)?.is_none() {
            return Ok(None);
        }
        let Some(role) = packages.role(package, record)? else {
            return Ok(None);
        };
        let mut fields = Vec::new();
        for name in packages.field_names(package, record)? {
            let value = packages.field(package, record, &name)?;
            fields.push(FieldView {
                slot: acs::field_slot(self.suite(), record, &name),
                name,
                value,
                proof: Vec::new(),
            });
        }
        let mut trie =
            SecureTrie::open_with(self.nodes.clone(), state_root, node_hash(self.suite()))?;
        let account = read_account(&trie, package)?.unwrap_or(Account::empty(self.suite()));
        let mut account_proof = Vec::new();
        if prove {
            account_proof = trie.proof(package.as_slice())?;
            let mut storage = SecureTrie::open_with(
                self.nodes.clone(),
                account.storage_root,
                node_hash(self.suite()),
            )?;
            for field in &mut fields {
                field.proof = storage.proof(field.slot.as_slice())?;
            }
        }
        Ok(Some(RecordView {
            height,
            state_root,
            account,
            account_proof,
            role,
            fields,
        }))
    }

    /// The last `limit` scheduled runs of `package`, oldest first.
    pub fn job_runs(&self, package: &Address, limit: usize) -> Result<Vec<JobRun>, ChainError> {
        Ok(self.store.job_runs(package, None, limit)?)
    }

    /// The account at `address` after block `height` (the head if `None`) with its proof.
    pub fn account_proof(
        &self,
        address: &Address,
        height: Option<u64>,
    ) -> Result<AccountProof, ChainError> {
        let (height, state_root) = self.state_root_at(height)?;
        let mut trie =
            SecureTrie::open_with(self.nodes.clone(), state_root, node_hash(self.suite()))?;
        let account = read_account(&trie, address)?;
        let proof = trie.proof(address.as_slice())?;
        Ok(AccountProof {
            height,
            state_root,
            account,
            proof,
        })
    }
}

/// Runs a block's scheduled jobs and executes its transactions on `state`, every one of which
/// must be applicable, and checks the state and receipts roots its header claims. Shared by
/// import and `verify_chain`, so a block is judged the same way live and in hindsight (and as
/// its proposer executed it: jobs first, then the transactions in order).
pub(crate) fn replay<S: cairn_trie::NodeStore + Clone>(
    state: &mut StateDb<S>,
    chain_id: u64,
    packages: &PackageCache,
    block: &Block,
) -> Result<(Vec<Receipt>, Vec<JobRun>), ChainError> {
    let ctx = BlockContext {
        chain_id,
        height: block.header.height,
        time_ms: block.header.timestamp_ms,
        packages,
    };
    let job_runs = acs::run_jobs(state, &ctx)?;
    let mut receipts = Vec::with_capacity(block.transactions.len());
    for (index, tx) in block.transactions.iter().enumerate() {
        let receipt = apply_transaction(state, &ctx, tx).map_err(|error| match error {
            ExecutionError::NotApplicable(reason) => ChainError::from(BlockError::NotApplicable {
                index,
                hash: tx.hash(),
                reason,
            }),
            ExecutionError::State(error) => error.into(),
        })?;
        receipts.push(receipt);
    }
    let header = &block.header;
    for (which, claimed, computed) in [
        ("state", header.state_root, state.root()?),
        (
            "receipts",
            header.receipts_root,
            receipts_root(state.suite(), &receipts),
        ),
    ] {
        if claimed != computed {
            return Err(BlockError::RootMismatch {
                which,
                claimed,
                computed,
            }
            .into());
        }
    }
    Ok((receipts, job_runs))
}

/// What a block's transactions use of its budgets: count, bytes, and the gas its contract
/// actions reserve (the sum of their gas limits, so the budget is checked without executing).
#[derive(Default)]
struct Budget {
    count: usize,
    bytes: usize,
    gas: u64,
}

impl Budget {
    fn admits(&self, tx: &SignedTransaction) -> bool {
        self.count < MAX_BLOCK_TRANSACTIONS
            && self.bytes.saturating_add(tx.encoded_len()) <= MAX_BLOCK_TRANSACTION_BYTES
            && self
                .gas
                .saturating_add(tx.acs().map_or(0, |acs| acs.gas_limit))
                <= BLOCK_GAS_LIMIT
    }

    fn add(&mut self, tx: &SignedTransaction) {
        self.count += 1;
        self.bytes += tx.encoded_len();
        self.gas += tx.acs().map_or(0, |acs| acs.gas_limit);
    }
}

/// Header rules that relate a block to its parent. `now_ms` bounds the timestamp from above
/// when validating live blocks; historical re-validation passes `None`.
pub(crate) fn check_header_against_parent(
    suite: CryptoSuite,
    parent: &Header,
    header: &Header,
    now_ms: Option<u64>,
) -> Result<(), BlockError> {
    if header.parent_hash != parent.hash(suite)
        || Some(header.height) != parent.height.checked_add(1)
    {
        return Err(BlockError::NotOnHead {
            height: header.height,
            parent: header.parent_hash,
            head_height: parent.height,
            head_hash: parent.hash(suite),
        });
    }
    let max_ms = now_ms.map_or(u64::MAX, |now| now.saturating_add(MAX_FUTURE_DRIFT_MS));
    if header.timestamp_ms < parent.timestamp_ms || header.timestamp_ms > max_ms {
        return Err(BlockError::BadTimestamp {
            timestamp_ms: header.timestamp_ms,
            min_ms: parent.timestamp_ms,
            max_ms,
        });
    }
    if header.extra.len() > MAX_EXTRA_BYTES {
        return Err(BlockError::MalformedHeader("extra field too long"));
    }
    Ok(())
}

/// Whether the seal proves agreement on the block, by the rule of the chain's engine (part of
/// its genesis, hence of its identity): a solo chain's blocks are sealed by its one
/// validator's signature; a BFT chain's only by a certificate that a quorum of its validators
/// signed, so that no single validator, however it signs, can make any node commit a block.
pub(crate) fn check_seal(
    suite: CryptoSuite,
    validators: &ValidatorSet,
    verifier: Option<&dyn SealVerifier>,
    block: &Block,
) -> Result<SealStrength, BlockError> {
    let hash = block.hash(suite);
    match (&block.seal, validators.engine()) {
        (Seal::Genesis, _) => Err(BlockError::BadSeal(
            "only block 0 may carry the genesis seal".into(),
        )),
        (Seal::Proposer(_), ConsensusEngine::Solo) => {
            let rank = validators
                .index_of(&block.header.proposer)
                .ok_or(BlockError::UnknownProposer(block.header.proposer))?;
            let key = validators
                .key(rank)
                .ok_or(BlockError::UnknownProposer(block.header.proposer))?;
            block
                .seal
                .verify_proposer(&hash, key)
                .map(|()| SealStrength::Final)
                .map_err(|_| BlockError::BadSeal("proposer signature does not verify".into()))
        }
        (Seal::Proposer(_), ConsensusEngine::Bft) => Err(BlockError::BadSeal(
            "a BFT chain's blocks are sealed by a quorum certificate; one validator's signature \
             seals nothing"
                .into(),
        )),
        (Seal::Certificate(_), ConsensusEngine::Bft) => match verifier {
            Some(verifier) => verifier
                .verify(&hash, &block.header, &block.seal, validators)
                .map_err(BlockError::BadSeal),
            None => Err(BlockError::BadSeal(
                "this node has no consensus engine to check certificates".into(),
            )),
        },
        (Seal::Certificate(_), ConsensusEngine::Solo) => Err(BlockError::BadSeal(
            "a solo chain's blocks are sealed by its validator's signature, not a certificate"
                .into(),
        )),
    }
}

/// Stateless transaction checks: count, duplicates, transactions root, signatures.
pub(crate) fn check_transactions(
    suite: CryptoSuite,
    block: &Block,
    known: Option<&dyn KnownSignatures>,
) -> Result<(), BlockError> {
    let count = block.transactions.len();
    let most = max_block_transactions(suite);
    if count > most {
        return Err(BlockError::TooManyTransactions(count, most));
    }
    let bytes: usize = block.transactions.iter().map(|tx| tx.encoded_len()).sum();
    if bytes > MAX_BLOCK_TRANSACTION_BYTES {
        return Err(BlockError::TooManyBytes(bytes));
    }
    // Each gas limit is at most the per-transaction maximum, so the sum cannot overflow.
    let gas: u64 = block
        .transactions
        .iter()
        .filter_map(|tx| {
            tx.acs()
                .map(|acs| acs.gas_limit.min(acs::MAX_TRANSACTION_GAS))
        })
        .sum();
    if gas > BLOCK_GAS_LIMIT {
        return Err(BlockError::TooMuchGas(gas));
    }
    if let Some(tx) = block.transactions.iter().find(|tx| tx.suite() != suite) {
        return Err(BlockError::WrongSuite {
            hash: tx.hash(),
            suite: tx.suite(),
            chain: suite,
        });
    }
    let mut seen = std::collections::HashSet::with_capacity(count);
    for tx in &block.transactions {
        if !seen.insert(tx.hash()) {
            return Err(BlockError::DuplicateTransaction(tx.hash()));
        }
    }
    let computed = transactions_root(suite, &block.transactions);
    if computed != block.header.transactions_root {
        return Err(BlockError::RootMismatch {
            which: "transactions",
            claimed: block.header.transactions_root,
            computed,
        });
    }
    verify_signatures(&block.transactions, known)
}

/// Verifies every transaction's signature that is not already known valid, naming a bad one:
/// for ed25519, one batch check, and only if it fails, a halving search (never a check of
/// each alone, which a proposer could otherwise force with one bad signature in a full
/// block); SM2 signatures, which have no batch check, each alone over all cores (their
/// blocks are smaller for it: [`max_block_transactions`]).
pub(crate) fn verify_signatures(
    transactions: &[SignedTransaction],
    known: Option<&dyn KnownSignatures>,
) -> Result<(), BlockError> {
    let unknown: Vec<usize> = (0..transactions.len())
        .filter(|index| !known.is_some_and(|known| known.verified(&transactions[*index].hash())))
        .collect();
    let candidates: Vec<SignedTransaction> = unknown
        .iter()
        .map(|index| transactions[*index].clone())
        .collect();
    match cairn_primitives::find_invalid_signature(&candidates) {
        Some(bad) => {
            let index = unknown[bad];
            Err(BlockError::BadSignature {
                index,
                hash: transactions[index].hash(),
            })
        }
        None => Ok(()),
    }
}
