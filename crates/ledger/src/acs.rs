//! Contract packages on chain: where their records live, how ACS transactions execute, and the
//! job executor that runs their schedules at the start of every block.
//!
//! # State layout
//!
//! A package is an account at [`package_address`](cairn_primitives::package_address)`(deployer,
//! nonce)` whose `code_hash` is H(source) and whose storage trie (keyed, as in Ethereum, by
//! H(32-byte slot)) holds, H being the chain suite's hash (keccak-256, or SM3 on `sm2-sm3`):
//!
//! * each record's fields at `H(pad32(record) ‖ H(name))`, the value being the
//!   decimal's 18-place integer as a 256-bit two's complement word, RLP-encoded without leading
//!   zeros as Ethereum stores a storage word; a zero field is absent. An `eth_getProof`-style
//!   storage proof of a field therefore checks out in any Ethereum tool;
//! * bookkeeping under `H("cairn/acs/" ‖ label ‖ "/" ‖ key)`: the source, the package's
//!   metadata (operator, deployment point, whether it is active, its holder count), each
//!   holder by join order, each record's role and its field names, and the state of its
//!   schedule.
//!
//! Packages with schedule lines are listed, in deployment order, in the storage of the
//! scheduler account [`scheduler_address`], so every validator visits them in the same order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use alloy_rlp::{RlpDecodable, RlpEncodable};
use cairn_contracts::{
    Action, ChainPoint, Decimal, Due, Env, Package, Program, Role, compile_package, run,
};
use cairn_primitives::{
    AcsAction, AcsTransaction, Address, B256, ContractError, ContractResult, CryptoSuite,
    FailureReason, JobRun, Outcome, Receipt, SignedTransaction, U256, decode_exact,
    package_address,
};
use cairn_trie::NodeStore;
use parking_lot::Mutex;

use crate::execute::{ExecutionError, NotApplicable};
use crate::state::{StateDb, StateError};

/// Most gas the ACS transactions of one block may reserve (the sum of their gas limits).
pub const BLOCK_GAS_LIMIT: u64 = 200_000_000;
/// Most gas one ACS transaction may ask for.
pub const MAX_TRANSACTION_GAS: u64 = 10_000_000;
/// Gas every ACS transaction costs before it does anything.
pub const BASE_GAS: u64 = 1_000;
/// Gas per byte of a deployed package's source.
pub const DEPLOY_GAS_PER_BYTE: u64 = 10;
/// Gas per field a `set` writes.
pub const SET_GAS_PER_FIELD: u64 = 200;
/// Gas a `call` spends beyond its contract's instructions.
pub const CALL_GAS: u64 = 200;
/// Gas for each distinct field a contract or condition may read, charged before it runs
/// (the host reads them from the package's storage trie up front).
pub const FIELD_READ_GAS: u64 = 200;
/// Most schedule lines in one package.
pub const MAX_SCHEDULE_LINES: usize = 16;
/// Gas limit of one scheduled run (its condition included).
pub const JOB_RUN_GAS: u64 = 100_000;
/// Most gas the scheduled runs at the start of one block may spend.
pub const JOB_GAS_PER_BLOCK: u64 = 20_000_000;
/// Most scheduled runs at the start of one block.
pub const MAX_JOB_RUNS_PER_BLOCK: usize = 1_000;
/// Most records the scheduled runs at the start of one block visit (a record whose condition
/// does not hold is visited without a run).
pub const MAX_JOB_VISITS_PER_BLOCK: usize = 5_000;
/// Most occurrences of one schedule line waiting to run; later ones are found once these ran.
pub const MAX_QUEUED_PER_LINE: usize = 16;
/// Most fields one record may hold.
pub const MAX_RECORD_FIELDS: usize = 128;
/// Most packages with schedule lines on one chain.
pub const MAX_SCHEDULED_PACKAGES: usize = 256;

/// The account whose storage lists the packages with schedules, in deployment order:
/// the last 20 bytes of H("cairn/acs/scheduler"), H the suite's hash.
pub fn scheduler_address(suite: CryptoSuite) -> Address {
    Address::from_slice(&suite.hash(b"cairn/acs/scheduler")[12..])
}

/// The gas an ACS transaction costs before its contract runs, and so the least gas limit it
/// may carry.
pub fn intrinsic_gas(action: &AcsAction) -> u64 {
    BASE_GAS
        + match action {
            AcsAction::Deploy { source } => DEPLOY_GAS_PER_BYTE * source.len() as u64,
            AcsAction::Join { .. } => 0,
            AcsAction::Set { fields, .. } => SET_GAS_PER_FIELD * fields.len() as u64,
            AcsAction::Call { .. } => CALL_GAS,
        }
}

/// Stateless checks of an ACS transaction's gas limit: it must cover the intrinsic gas and
/// stay within [`MAX_TRANSACTION_GAS`].
pub fn check_gas_limit(tx: &AcsTransaction) -> Result<(), NotApplicable> {
    let needed = intrinsic_gas(&tx.action);
    if tx.gas_limit < needed {
        return Err(NotApplicable::GasBelowIntrinsic {
            needed,
            limit: tx.gas_limit,
        });
    }
    if tx.gas_limit > MAX_TRANSACTION_GAS {
        return Err(NotApplicable::GasAboveMaximum {
            max: MAX_TRANSACTION_GAS,
            limit: tx.gas_limit,
        });
    }
    Ok(())
}

/// The storage slot of field `name` of `record` on a `suite` chain.
pub fn field_slot(suite: CryptoSuite, record: &Address, name: &str) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[12..32].copy_from_slice(record.as_slice());
    preimage[32..].copy_from_slice(suite.hash(name.as_bytes()).as_slice());
    suite.hash(&preimage)
}

fn meta_slot(suite: CryptoSuite, label: &str, key: &[u8]) -> B256 {
    let mut preimage = Vec::with_capacity(16 + label.len() + key.len());
    preimage.extend_from_slice(b"cairn/acs/");
    preimage.extend_from_slice(label.as_bytes());
    preimage.push(b'/');
    preimage.extend_from_slice(key);
    suite.hash(&preimage)
}

/// A field's value as its storage word: the 256-bit two's complement of its 18-place integer,
/// RLP-encoded as Ethereum encodes a storage value (empty for zero: the slot is removed).
pub fn encode_field(value: Decimal) -> Vec<u8> {
    if value.is_zero() {
        return Vec::new();
    }
    alloy_rlp::encode(field_word(value))
}

/// A field's storage word: the 256-bit two's complement of its 18-place integer.
pub fn field_word(value: Decimal) -> U256 {
    let units = value.units();
    let fill = if units < 0 { 0xff } else { 0 };
    let mut word = [fill; 32];
    word[16..].copy_from_slice(&units.to_be_bytes());
    U256::from_be_bytes(word)
}

/// The inverse of [`encode_field`]; `None` if the word is not a sign-extended `i128`.
pub fn decode_field(bytes: &[u8]) -> Option<Decimal> {
    let word: [u8; 32] = decode_exact::<U256>(bytes).ok()?.to_be_bytes();
    let units = i128::from_be_bytes(word[16..].try_into().ok()?);
    let fill = if units < 0 { 0xff } else { 0 };
    word[..16]
        .iter()
        .all(|byte| *byte == fill)
        .then_some(Decimal::from_units(units))
}

/// A package's metadata, stored under its `info` slot.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct PackageInfo {
    /// The deployer, whose record is the operator record.
    pub operator: Address,
    /// Height of the deployment block.
    pub deployed_height: u64,
    /// Timestamp of the deployment block.
    pub deployed_time_ms: u64,
    /// Whether the package runs contracts (`commitACS` ran, or it has no `commitACS` line).
    pub active: bool,
    /// Number of holders.
    pub holders: u64,
    /// The suite's hash of the source.
    pub code_hash: B256,
}

impl PackageInfo {
    fn deployed(&self) -> ChainPoint {
        ChainPoint {
            height: self.deployed_height,
            time_ms: self.deployed_time_ms,
        }
    }
}

/// One occurrence of a schedule line waiting to run.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
struct Queued {
    /// The block in which the executor found it due (lateness counts from here).
    found_height: u64,
    /// The next record to run on, by index in the role's order.
    cursor: u64,
}

/// A schedule line's progress.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
struct LineState {
    /// Up to where occurrences have been looked for (height for block triggers, time for
    /// time triggers).
    checked_height: u64,
    checked_time_ms: u64,
    queue: Vec<Queued>,
}

/// A record's role in a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordRole {
    /// The operator's (deployer's) record.
    Operator,
    /// A holder's record.
    Holder,
}

impl RecordRole {
    /// `operator` or `holder`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Holder => "holder",
        }
    }

    fn matches(self, role: Role) -> bool {
        matches!(
            (self, role),
            (Self::Operator, Role::Operator) | (Self::Holder, Role::Holder)
        )
    }
}

/// Compiled packages by code hash, so a package is compiled once, not per call.
#[derive(Default)]
///
/// It holds twice as many packages as may have schedules, and evicts the least recently used,
/// so the job executor never recompiles a scheduled package, however many other packages are
/// called. Whether a package was cached changes nothing but time: gas never depends on it.
pub struct PackageCache {
    compiled: Mutex<CacheEntries>,
}

#[derive(Default)]
struct CacheEntries {
    by_hash: HashMap<B256, (Arc<Package>, u64)>,
    clock: u64,
}

/// Most compiled packages kept.
const PACKAGE_CACHE_ENTRIES: usize = 2 * MAX_SCHEDULED_PACKAGES;

impl PackageCache {
    fn cached(&self, code_hash: &B256) -> Option<Arc<Package>> {
        let mut entries = self.compiled.lock();
        entries.clock += 1;
        let now = entries.clock;
        let (package, used) = entries.by_hash.get_mut(code_hash)?;
        *used = now;
        Some(package.clone())
    }

    fn get(
        &self,
        code_hash: &B256,
        source: impl FnOnce() -> Option<String>,
    ) -> Option<Arc<Package>> {
        if let Some(package) = self.cached(code_hash) {
            return Some(package);
        }
        let package = Arc::new(compile_package(&source()?).ok()?);
        let mut entries = self.compiled.lock();
        if entries.by_hash.len() >= PACKAGE_CACHE_ENTRIES {
            let oldest = entries
                .by_hash
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(hash, _)| *hash);
            if let Some(oldest) = oldest {
                entries.by_hash.remove(&oldest);
            }
        }
        entries.clock += 1;
        let now = entries.clock;
        entries.by_hash.insert(*code_hash, (package.clone(), now));
        Some(package)
    }
}

/// The block an ACS transaction or a scheduled run executes in.
#[derive(Clone, Copy)]
pub struct BlockContext<'a> {
    /// The chain's id.
    pub chain_id: u64,
    /// The block's height.
    pub height: u64,
    /// The block's timestamp.
    pub time_ms: u64,
    /// Compiled packages.
    pub packages: &'a PackageCache,
}

impl BlockContext<'_> {
    fn point(&self) -> ChainPoint {
        ChainPoint {
            height: self.height,
            time_ms: self.time_ms,
        }
    }
}

/// Reads and writes packages in a state.
pub struct Packages<'s, S> {
    state: &'s mut StateDb<S>,
}

impl<'s, S: NodeStore + Clone> Packages<'s, S> {
    /// Package access over `state`.
    pub fn new(state: &'s mut StateDb<S>) -> Self {
        Self { state }
    }

    fn meta(
        &mut self,
        package: &Address,
        label: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        let slot = meta_slot(self.state.suite(), label, key);
        self.state.storage(package, &slot)
    }

    fn set_meta(
        &mut self,
        package: &Address,
        label: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), StateError> {
        let slot = meta_slot(self.state.suite(), label, key);
        self.state.set_storage(package, &slot, value)
    }

    fn corrupt(package: &Address, what: &str) -> StateError {
        StateError::CorruptAccount(*package, format!("package {what} does not decode"))
    }

    /// The package's metadata; `None` if no package lives at `package`.
    pub fn info(&mut self, package: &Address) -> Result<Option<PackageInfo>, StateError> {
        // Only a package's storage holds this slot (no key controls a package's address,
        // and nothing else writes to the storage of an account).
        match self.meta(package, "info", &[])? {
            None => Ok(None),
            Some(bytes) => decode_exact(&bytes)
                .map(Some)
                .map_err(|_| Self::corrupt(package, "metadata")),
        }
    }

    fn set_info(&mut self, package: &Address, info: &PackageInfo) -> Result<(), StateError> {
        self.set_meta(package, "info", &[], &alloy_rlp::encode(info))
    }

    /// The package's source.
    pub fn source(&mut self, package: &Address) -> Result<Option<String>, StateError> {
        match self.meta(package, "source", &[])? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Self::corrupt(package, "source")),
        }
    }

    /// The compiled package (the source is read and compiled only when the cache lacks it).
    pub fn compiled(
        &mut self,
        package: &Address,
        info: &PackageInfo,
        cache: &PackageCache,
    ) -> Result<Arc<Package>, StateError> {
        if let Some(package) = cache.cached(&info.code_hash) {
            return Ok(package);
        }
        let source = self.source(package)?;
        cache
            .get(&info.code_hash, || source)
            .ok_or_else(|| Self::corrupt(package, "source"))
    }

    /// The role of `record` in the package, if it is one of its records.
    pub fn role(
        &mut self,
        package: &Address,
        record: &Address,
    ) -> Result<Option<RecordRole>, StateError> {
        Ok(
            match self.meta(package, "role", record.as_slice())?.as_deref() {
                None => None,
                Some([1]) => Some(RecordRole::Operator),
                Some([2]) => Some(RecordRole::Holder),
                Some(_) => return Err(Self::corrupt(package, "role")),
            },
        )
    }

    /// The `index`-th holder, by join order.
    pub fn holder(&mut self, package: &Address, index: u64) -> Result<Option<Address>, StateError> {
        match self.meta(package, "holder", &index.to_be_bytes())? {
            None => Ok(None),
            Some(bytes) if bytes.len() == 20 => Ok(Some(Address::from_slice(&bytes))),
            Some(_) => Err(Self::corrupt(package, "holder")),
        }
    }

    /// The names of the fields `record` has had written, in first-written order.
    pub fn field_names(
        &mut self,
        package: &Address,
        record: &Address,
    ) -> Result<Vec<String>, StateError> {
        match self.meta(package, "fields", record.as_slice())? {
            None => Ok(Vec::new()),
            Some(bytes) => {
                let names: Vec<cairn_primitives::Bytes> =
                    decode_exact(&bytes).map_err(|_| Self::corrupt(package, "field index"))?;
                names
                    .into_iter()
                    .map(|name| String::from_utf8(name.to_vec()))
                    .collect::<Result<_, _>>()
                    .map_err(|_| Self::corrupt(package, "field index"))
            }
        }
    }

    /// One field of `record` (zero if never written).
    pub fn field(
        &mut self,
        package: &Address,
        record: &Address,
        name: &str,
    ) -> Result<Decimal, StateError> {
        let slot = field_slot(self.state.suite(), record, name);
        match self.state.storage(package, &slot)? {
            None => Ok(Decimal::ZERO),
            Some(bytes) => decode_field(&bytes).ok_or_else(|| Self::corrupt(package, "field")),
        }
    }

    /// Every field of `record` that has been written, by name.
    pub fn fields(
        &mut self,
        package: &Address,
        record: &Address,
    ) -> Result<BTreeMap<String, Decimal>, StateError> {
        let mut fields = BTreeMap::new();
        for name in self.field_names(package, record)? {
            let value = self.field(package, record, &name)?;
            fields.insert(name, value);
        }
        Ok(fields)
    }

    /// The fields among `names` of `record`.
    fn read(
        &mut self,
        package: &Address,
        record: &Address,
        names: &[String],
    ) -> Result<BTreeMap<String, Decimal>, StateError> {
        let mut fields = BTreeMap::new();
        for name in names {
            let value = self.field(package, record, name)?;
            fields.insert(name.clone(), value);
        }
        Ok(fields)
    }

    /// Writes fields of `record`, or refuses (writing nothing) if the record would hold more
    /// than [`MAX_RECORD_FIELDS`] fields.
    /// Whether `record` has room for the fields among `names` it does not hold yet.
    fn room_for<'n>(
        &mut self,
        package: &Address,
        record: &Address,
        names: impl Iterator<Item = &'n String>,
    ) -> Result<Result<(), String>, StateError> {
        let mut held = self.field_names(package, record)?;
        for name in names {
            if !held.iter().any(|known| known == name) {
                held.push(name.clone());
            }
        }
        Ok(if held.len() > MAX_RECORD_FIELDS {
            Err(format!(
                "record {record:#x} would hold more than {MAX_RECORD_FIELDS} fields"
            ))
        } else {
            Ok(())
        })
    }

    fn write(
        &mut self,
        package: &Address,
        record: &Address,
        writes: &BTreeMap<String, Decimal>,
    ) -> Result<Result<(), String>, StateError> {
        if writes.is_empty() {
            return Ok(Ok(()));
        }
        let mut names = self.field_names(package, record)?;
        let before = names.len();
        for name in writes.keys() {
            if !names.iter().any(|known| known == name) {
                names.push(name.clone());
            }
        }
        if names.len() > MAX_RECORD_FIELDS {
            return Ok(Err(format!(
                "record {record:#x} would hold more than {MAX_RECORD_FIELDS} fields"
            )));
        }
        if names.len() != before {
            let encoded: Vec<&[u8]> = names.iter().map(|name| name.as_bytes()).collect();
            let mut bytes = Vec::new();
            alloy_rlp::encode_list::<&[u8], [u8]>(&encoded, &mut bytes);
            self.set_meta(package, "fields", record.as_slice(), &bytes)?;
        }
        let suite = self.state.suite();
        for (name, value) in writes {
            self.state.set_storage(
                package,
                &field_slot(suite, record, name),
                &encode_field(*value),
            )?;
        }
        Ok(Ok(()))
    }

    fn scheduled(&mut self) -> Result<Vec<Address>, StateError> {
        let scheduler = scheduler_address(self.state.suite());
        match self.meta(&scheduler, "packages", &[])? {
            None => Ok(Vec::new()),
            Some(bytes) => {
                decode_exact(&bytes).map_err(|_| Self::corrupt(&scheduler, "schedule list"))
            }
        }
    }

    fn line_states(&mut self, package: &Address) -> Result<Vec<LineState>, StateError> {
        match self.meta(package, "schedule", &[])? {
            None => Ok(Vec::new()),
            Some(bytes) => decode_exact(&bytes).map_err(|_| Self::corrupt(package, "schedule")),
        }
    }

    fn set_line_states(
        &mut self,
        package: &Address,
        states: &[LineState],
    ) -> Result<(), StateError> {
        let mut bytes = Vec::new();
        alloy_rlp::encode_list(states, &mut bytes);
        self.set_meta(package, "schedule", &[], &bytes)
    }

    /// The record a run at position `cursor` of `role` runs on.
    fn record_at(
        &mut self,
        package: &Address,
        info: &PackageInfo,
        role: Role,
        cursor: u64,
    ) -> Result<Option<Address>, StateError> {
        match role {
            Role::Operator => Ok((cursor == 0).then_some(info.operator)),
            Role::Holder if cursor < info.holders => self.holder(package, cursor),
            Role::Holder => Ok(None),
        }
    }
}

/// The bare names a package's conditions see in block `height`: `ebs` (elapsed blocks: the
/// blocks since the deployment block, so 1 in the block after it), `holders` (its holder
/// count), and every constant under the last segment of its key (`afs.nbcs.max.eps` is
/// `eps`).
pub fn condition_names(
    package: &Package,
    info: &PackageInfo,
    height: u64,
) -> BTreeMap<String, Decimal> {
    let mut names = BTreeMap::new();
    for (key, value) in &package.constants {
        let name = key.rsplit('.').next().unwrap_or(key);
        names.insert(name.to_owned(), *value);
    }
    let ebs = height.saturating_sub(info.deployed_height);
    names.insert(
        "ebs".into(),
        Decimal::from_integer(i64::try_from(ebs).unwrap_or(i64::MAX)),
    );
    names.insert(
        "holders".into(),
        Decimal::from_integer(i64::try_from(info.holders).unwrap_or(i64::MAX)),
    );
    names
}

/// Checks that every bare name in the package's conditions is one the chain supplies; the
/// error names the first that is not, with its place.
pub fn check_condition_names(package: &Package) -> Result<(), ContractError> {
    let info = PackageInfo {
        operator: Address::ZERO,
        deployed_height: 0,
        deployed_time_ms: 0,
        active: false,
        holders: 0,
        code_hash: B256::ZERO,
    };
    let known = condition_names(package, &info, 0);
    for line in &package.schedule {
        let Some(condition) = &line.condition else {
            continue;
        };
        for (index, op) in condition.ops.iter().enumerate() {
            if let cairn_contracts::Op::Name(slot) = op {
                let name = condition
                    .names
                    .get(usize::from(*slot))
                    .map(String::as_str)
                    .unwrap_or("");
                if !known.contains_key(name) {
                    let span = condition.spans.get(index).copied().unwrap_or(line.span);
                    return Err(ContractError {
                        message: format!(
                            "unknown name `{name}` in a condition: conditions may use ebs, holders, the package's constants by the last part of their key, and p.FIELD"
                        ),
                        line: span.line,
                        col: span.col,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Compiles a deployment's source as the chain will: the package must compile and its
/// conditions may only use names the chain supplies.
pub fn compile_for_chain(source: &str) -> Result<Package, ContractError> {
    let package = compile_package(source).map_err(|error| ContractError {
        message: error.message.clone(),
        line: error.span.line,
        col: error.span.col,
    })?;
    check_condition_names(&package)?;
    if package.schedule.len() > MAX_SCHEDULE_LINES {
        let line = &package.schedule[MAX_SCHEDULE_LINES];
        return Err(ContractError {
            message: format!(
                "a package has at most {MAX_SCHEDULE_LINES} schedule lines; this is line {}",
                MAX_SCHEDULE_LINES + 1
            ),
            line: line.span.line,
            col: line.span.col,
        });
    }
    Ok(package)
}

fn failed(tx: &SignedTransaction, gas_used: u64, error: ContractError) -> Receipt {
    Receipt {
        tx_hash: tx.hash(),
        outcome: Outcome::Failed(FailureReason::Contract),
        contract: Some(ContractResult {
            gas_used,
            returned: None,
            error: Some(error.bounded()),
        }),
    }
}

fn succeeded(tx: &SignedTransaction, gas_used: u64, returned: Option<Decimal>) -> Receipt {
    Receipt {
        tx_hash: tx.hash(),
        outcome: Outcome::Success,
        contract: Some(ContractResult {
            gas_used,
            returned: returned.map(Decimal::units),
            error: None,
        }),
    }
}

/// What a contract run did to state.
enum RunResult {
    Ok {
        gas_used: u64,
        returned: Option<Decimal>,
        /// The value a condition computed.
        value: Option<Decimal>,
    },
    Failed {
        gas_used: u64,
        error: ContractError,
    },
}

/// Runs `program` on `record` of `package` with at most `gas` gas and, if it ends well and
/// `commit`, applies its writes.
fn run_contract<S: NodeStore + Clone>(
    packages: &mut Packages<'_, S>,
    (package, info): (&Address, &PackageInfo),
    program: &Program,
    record: &Address,
    names: &BTreeMap<String, Decimal>,
    gas: u64,
    commit: bool,
) -> Result<RunResult, StateError> {
    // The fields the program may read (`p.f` of the record, `p.$f` of the operator's),
    // known at compile time, are read before it runs and paid for up front, whichever branch
    // reads them.
    let reads = (program.record_reads.len() + program.operator_reads.len()) as u64;
    let read_gas = reads.saturating_mul(FIELD_READ_GAS);
    if read_gas > gas {
        return Ok(RunResult::Failed {
            gas_used: gas,
            error: ContractError::unplaced(format!(
                "out of gas: the {reads} fields it may read cost {read_gas}"
            )),
        });
    }
    let fields = packages.read(package, record, &program.record_reads)?;
    let operator = packages.read(package, &info.operator, &program.operator_reads)?;
    let env = Env {
        record: &fields,
        operator: &operator,
        names,
    };
    match run(program, &env, gas - read_gas) {
        Err(fault) => Ok(RunResult::Failed {
            gas_used: read_gas + fault.gas_used,
            error: ContractError {
                message: fault.error.to_string(),
                line: fault.span.line,
                col: fault.span.col,
            },
        }),
        Ok(outcome) => {
            let gas_used = read_gas + outcome.gas_used;
            if commit {
                // Room for every new field in both records first, so a refused run writes
                // nothing at all.
                let room = if *record == info.operator {
                    let both = outcome.writes.keys().chain(outcome.operator_writes.keys());
                    packages.room_for(package, record, both)?
                } else {
                    packages
                        .room_for(package, record, outcome.writes.keys())?
                        .and(packages.room_for(
                            package,
                            &info.operator,
                            outcome.operator_writes.keys(),
                        )?)
                };
                if let Err(message) = room {
                    return Ok(RunResult::Failed {
                        gas_used,
                        error: ContractError::unplaced(message),
                    });
                }
                // The operator's writes land last: a contract running on the operator's
                // record that writes a field both ways ends with the `p.w.$f` value. Room
                // was checked above, so neither write is refused.
                for (target, writes) in [
                    (record, &outcome.writes),
                    (&info.operator, &outcome.operator_writes),
                ] {
                    if let Err(message) = packages.write(package, target, writes)? {
                        return Ok(RunResult::Failed {
                            gas_used,
                            error: ContractError::unplaced(message),
                        });
                    }
                }
            }
            Ok(RunResult::Ok {
                gas_used,
                returned: outcome.returned,
                value: outcome.value,
            })
        }
    }
}

/// Applies one ACS transaction (its nonce and gas limit already checked, and its nonce
/// consumed, by the caller).
pub(crate) fn apply_acs<S: NodeStore + Clone>(
    state: &mut StateDb<S>,
    ctx: &BlockContext<'_>,
    tx: &SignedTransaction,
    acs: &AcsTransaction,
) -> Result<Receipt, ExecutionError> {
    let intrinsic = intrinsic_gas(&acs.action);
    let sender = tx.sender();
    let mut packages = Packages::new(state);
    let refuse = |message: String| failed(tx, intrinsic, ContractError::unplaced(message));
    let target = match acs.action.package() {
        None => None,
        Some(package) => match packages.info(&package)? {
            None => return Ok(refuse(format!("no package at {package:#x}"))),
            Some(info) => Some((package, info)),
        },
    };
    match (&acs.action, target) {
        (AcsAction::Deploy { source }, _) => {
            let Ok(source) = std::str::from_utf8(source) else {
                return Ok(refuse("the package source is not UTF-8".into()));
            };
            let package = match compile_for_chain(source) {
                Ok(package) => package,
                Err(error) => return Ok(failed(tx, intrinsic, error)),
            };
            let address = package_address(packages.state.suite(), &sender, acs.nonce);
            if packages.info(&address)?.is_some() {
                return Ok(refuse(format!("a package already lives at {address:#x}")));
            }
            let scheduled = !package.schedule.is_empty();
            let mut listed = Vec::new();
            if scheduled {
                listed = packages.scheduled()?;
                if listed.len() >= MAX_SCHEDULED_PACKAGES {
                    return Ok(refuse(format!(
                        "the chain already runs the schedules of {MAX_SCHEDULED_PACKAGES} packages"
                    )));
                }
            }
            let code_hash = packages.state.suite().hash(source.as_bytes());
            let mut account = packages.state.account(&address)?;
            account.code_hash = code_hash;
            packages.state.set_account(address, account);
            let info = PackageInfo {
                operator: sender,
                deployed_height: ctx.height,
                deployed_time_ms: ctx.time_ms,
                active: !package
                    .schedule
                    .iter()
                    .any(|line| line.action == Action::CommitAcs),
                holders: 0,
                code_hash,
            };
            packages.set_meta(&address, "source", &[], source.as_bytes())?;
            packages.set_info(&address, &info)?;
            packages.set_meta(&address, "role", sender.as_slice(), &[1])?;
            if scheduled {
                // Looked at up to the block before the deployment, so `onStart` falls due at
                // the deployment, and periods count from it.
                let states: Vec<LineState> = package
                    .schedule
                    .iter()
                    .map(|_| LineState {
                        checked_height: ctx.height.saturating_sub(1),
                        checked_time_ms: ctx.time_ms,
                        queue: Vec::new(),
                    })
                    .collect();
                packages.set_line_states(&address, &states)?;
                listed.push(address);
                let mut bytes = Vec::new();
                alloy_rlp::encode_list::<Address, Address>(&listed, &mut bytes);
                let scheduler = scheduler_address(packages.state.suite());
                packages.set_meta(&scheduler, "packages", &[], &bytes)?;
            }
            Ok(succeeded(tx, intrinsic, None))
        }
        (AcsAction::Join { package }, Some((_, mut info))) => {
            match packages.role(package, &sender)? {
                Some(RecordRole::Operator) => {
                    return Ok(refuse(
                        "the operator's record is already in the package".into(),
                    ));
                }
                Some(RecordRole::Holder) => {
                    return Ok(refuse(format!("{sender:#x} is already a holder")));
                }
                None => {}
            }
            packages.set_meta(package, "role", sender.as_slice(), &[2])?;
            packages.set_meta(
                package,
                "holder",
                &info.holders.to_be_bytes(),
                sender.as_slice(),
            )?;
            info.holders += 1;
            packages.set_info(package, &info)?;
            Ok(succeeded(tx, intrinsic, None))
        }
        (
            AcsAction::Set {
                package,
                record,
                fields,
            },
            Some((_, info)),
        ) => {
            if sender != info.operator {
                return Ok(refuse("only the package's operator may set fields".into()));
            }
            if packages.role(package, record)?.is_none() {
                return Ok(refuse(format!(
                    "{record:#x} is not a record of this package"
                )));
            }
            let writes: BTreeMap<String, Decimal> = fields
                .iter()
                .map(|(name, units)| (name.clone(), Decimal::from_units(*units)))
                .collect();
            match packages.write(package, record, &writes)? {
                Ok(()) => Ok(succeeded(tx, intrinsic, None)),
                Err(message) => Ok(refuse(message)),
            }
        }
        (
            AcsAction::Call {
                package,
                contract,
                record,
            },
            Some((_, info)),
        ) => {
            if !info.active {
                return Ok(refuse(
                    "the package is not active: its commitACS line has not run".into(),
                ));
            }
            let compiled = packages.compiled(package, &info, ctx.packages)?;
            let Some(code) = compiled.contract(contract) else {
                return Ok(refuse(format!("the package has no contract `{contract}`")));
            };
            if *record != sender && sender != info.operator {
                return Ok(refuse(
                    "only the operator may run a contract on a record other than the signer's own"
                        .into(),
                ));
            }
            match packages.role(package, record)? {
                None => {
                    return Ok(refuse(format!(
                        "{record:#x} is not a record of this package"
                    )));
                }
                Some(role) if !role.matches(code.role) => {
                    return Ok(refuse(format!(
                        "`{contract}` runs on {} records; {record:#x} is the {}'s",
                        match code.role {
                            Role::Operator => "the operator's",
                            Role::Holder => "holders'",
                        },
                        role.as_str()
                    )));
                }
                Some(_) => {}
            }
            // Contracts name no bare names (only conditions do).
            let names = BTreeMap::new();
            let gas = acs.gas_limit - intrinsic;
            match run_contract(
                &mut packages,
                (package, &info),
                &code.program,
                record,
                &names,
                gas,
                true,
            )? {
                RunResult::Ok {
                    gas_used, returned, ..
                } => Ok(succeeded(tx, intrinsic + gas_used, returned)),
                RunResult::Failed { gas_used, error } => {
                    Ok(failed(tx, intrinsic + gas_used, error))
                }
            }
        }
        (_, None) => unreachable!("every action but a deployment names a package, looked up above"),
    }
}

/// What `query` answers: the value a contract returns, or why it could not run.
pub fn query<S: NodeStore + Clone>(
    state: &mut StateDb<S>,
    ctx: &BlockContext<'_>,
    package: &Address,
    contract: &str,
    record: &Address,
) -> Result<Result<Option<Decimal>, ContractError>, StateError> {
    let mut packages = Packages::new(state);
    let Some(info) = packages.info(package)? else {
        return Ok(Err(ContractError::unplaced(format!(
            "no package at {package:#x}"
        ))));
    };
    let compiled = packages.compiled(package, &info, ctx.packages)?;
    let Some(code) = compiled.contract(contract) else {
        return Ok(Err(ContractError::unplaced(format!(
            "the package has no contract `{contract}`"
        ))));
    };
    match packages.role(package, record)? {
        None => {
            return Ok(Err(ContractError::unplaced(format!(
                "{record:#x} is not a record of this package"
            ))));
        }
        Some(role) if !role.matches(code.role) => {
            return Ok(Err(ContractError::unplaced(format!(
                "`{contract}` does not run on the {}'s record",
                role.as_str()
            ))));
        }
        Some(_) => {}
    }
    let names = condition_names(&compiled, &info, ctx.height);
    let gas = MAX_TRANSACTION_GAS;
    Ok(
        match run_contract(
            &mut packages,
            (package, &info),
            &code.program,
            record,
            &names,
            gas,
            false,
        )? {
            RunResult::Ok { returned, .. } => Ok(returned),
            RunResult::Failed { error, .. } => Err(error),
        },
    )
}

/// Whether any schedule has work at a block of height `height` and time `time_ms` on top of
/// `state`: an occurrence waiting, or one falling due. Block producers ask this to seal a
/// block even when no transaction waits.
pub fn jobs_due<S: NodeStore + Clone>(
    state: &mut StateDb<S>,
    ctx: &BlockContext<'_>,
) -> Result<bool, StateError> {
    let mut packages = Packages::new(state);
    for package in packages.scheduled()? {
        let Some(info) = packages.info(&package)? else {
            continue;
        };
        let compiled = packages.compiled(&package, &info, ctx.packages)?;
        let states = packages.line_states(&package)?;
        for (line, line_state) in compiled.schedule.iter().zip(&states) {
            if !line_state.queue.is_empty() {
                return Ok(true);
            }
            let checked = ChainPoint {
                height: line_state.checked_height,
                time_ms: line_state.checked_time_ms,
            };
            if !line
                .trigger
                .due(info.deployed(), checked, ctx.point(), 1)
                .is_empty()
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Runs the schedules' due work at the start of a block: finds the occurrences that fell due
/// since the last block (at most [`MAX_QUEUED_PER_LINE`] waiting per line), then runs what
/// waits, package by package in deployment order, line by line, occurrence by occurrence,
/// record by record (the operator, or holders in join order), within [`MAX_JOB_RUNS_PER_BLOCK`]
/// runs and [`JOB_GAS_PER_BLOCK`] gas. What does not fit waits for the next block, in the same
/// order. Every record visited counts toward [`MAX_JOB_VISITS_PER_BLOCK`], whether its
/// condition holds or not. A run that fails is recorded and changes nothing; the others go
/// on.
pub fn run_jobs<S: NodeStore + Clone>(
    state: &mut StateDb<S>,
    ctx: &BlockContext<'_>,
) -> Result<Vec<JobRun>, StateError> {
    let mut packages = Packages::new(state);
    let mut listed = packages.scheduled()?;
    // Who goes first turns with the height, so no package (or crowd of records) can take the
    // whole of every block's caps.
    if !listed.is_empty() {
        let first = (ctx.height % listed.len() as u64) as usize;
        listed.rotate_left(first);
    }
    let mut runs = Vec::new();
    let mut visits = 0usize;
    let mut gas_left = JOB_GAS_PER_BLOCK;
    let now = ctx.point();
    for package in listed {
        let Some(mut info) = packages.info(&package)? else {
            continue;
        };
        let compiled = packages.compiled(&package, &info, ctx.packages)?;
        let mut states = packages.line_states(&package)?;
        let before = states.clone();
        // `ebs` and `holders` cannot change before the block's transactions run.
        let names = condition_names(&compiled, &info, ctx.height);
        for (line, line_state) in compiled.schedule.iter().zip(states.iter_mut()) {
            let room = MAX_QUEUED_PER_LINE.saturating_sub(line_state.queue.len());
            let checked = ChainPoint {
                height: line_state.checked_height,
                time_ms: line_state.checked_time_ms,
            };
            let due = line.trigger.due(info.deployed(), checked, now, room);
            let last = due.last().copied();
            for _ in &due {
                line_state.queue.push(Queued {
                    found_height: ctx.height,
                    cursor: 0,
                });
            }
            // Found up to now, unless the queue filled first: then up to the last found.
            match (due.len() == room, last) {
                (true, Some(Due::Height(height))) => line_state.checked_height = height,
                (true, Some(Due::Time(time))) => line_state.checked_time_ms = time,
                (true, None) => {}
                (false, _) => {
                    line_state.checked_height = now.height;
                    line_state.checked_time_ms = now.time_ms;
                }
            }
        }
        for (line, line_state) in compiled.schedule.iter().zip(states.iter_mut()) {
            while let Some(queued) = line_state.queue.first_mut() {
                if runs.len() >= MAX_JOB_RUNS_PER_BLOCK
                    || visits >= MAX_JOB_VISITS_PER_BLOCK
                    || gas_left < JOB_RUN_GAS
                {
                    break;
                }
                let late_blocks = ctx.height.saturating_sub(queued.found_height);
                let record_run =
                    |contract: &str,
                     record: Address,
                     gas_used: u64,
                     error: Option<ContractError>| JobRun {
                        package,
                        contract: contract.to_owned(),
                        record,
                        height: ctx.height,
                        time_ms: ctx.time_ms,
                        late_blocks,
                        gas_used,
                        error: error.map(ContractError::bounded),
                    };
                let role = match &line.action {
                    Action::CommitAcs => Role::Operator,
                    Action::Run(name) => match compiled.contract(name) {
                        Some(contract) => contract.role,
                        None => {
                            unreachable!("the compiler checks that run(CONTRACT) names a contract")
                        }
                    },
                };
                let Some(record) = packages.record_at(&package, &info, role, queued.cursor)? else {
                    // Every record had its run: the occurrence is done.
                    line_state.queue.remove(0);
                    continue;
                };
                queued.cursor += 1;
                visits += 1;
                let mut gas_used = 0;
                if let Some(condition) = &line.condition {
                    let result = run_contract(
                        &mut packages,
                        (&package, &info),
                        condition,
                        &record,
                        &names,
                        JOB_RUN_GAS,
                        false,
                    )?;
                    match result {
                        RunResult::Failed { gas_used, error } => {
                            gas_left -= gas_used;
                            runs.push(record_run(
                                action_name(&line.action),
                                record,
                                gas_used,
                                Some(error),
                            ));
                            continue;
                        }
                        RunResult::Ok {
                            gas_used: used,
                            value,
                            ..
                        } => {
                            gas_used = used;
                            gas_left -= used;
                            if value.is_none_or(|value| value.is_zero()) {
                                // The condition does not hold on this record: no run.
                                continue;
                            }
                        }
                    }
                }
                match &line.action {
                    Action::CommitAcs => {
                        if !info.active {
                            info.active = true;
                            packages.set_info(&package, &info)?;
                        }
                        runs.push(record_run("commitACS", record, gas_used, None));
                    }
                    Action::Run(name) => {
                        if !info.active {
                            runs.push(record_run(
                                name,
                                record,
                                gas_used,
                                Some(ContractError::unplaced(
                                    "the package is not active: its commitACS line has not run",
                                )),
                            ));
                            continue;
                        }
                        let Some(contract) = compiled.contract(name) else {
                            continue;
                        };
                        let gas = JOB_RUN_GAS - gas_used;
                        let result = run_contract(
                            &mut packages,
                            (&package, &info),
                            &contract.program,
                            &record,
                            &names,
                            gas,
                            true,
                        )?;
                        let (used, error) = match result {
                            RunResult::Ok { gas_used, .. } => (gas_used, None),
                            RunResult::Failed { gas_used, error } => (gas_used, Some(error)),
                        };
                        gas_left -= used;
                        runs.push(record_run(name, record, gas_used + used, error));
                    }
                }
            }
        }
        if states != before {
            packages.set_line_states(&package, &states)?;
        }
    }
    Ok(runs)
}

fn action_name(action: &Action) -> &str {
    match action {
        Action::CommitAcs => "commitACS",
        Action::Run(name) => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_words_are_sign_extended_and_round_trip() {
        for units in [
            1i128,
            -1,
            900 * 10i128.pow(18),
            i128::MAX,
            i128::MIN,
            -51_900_000_000_000_000_000,
        ] {
            let value = Decimal::from_units(units);
            assert_eq!(decode_field(&encode_field(value)), Some(value), "{units}");
        }
        assert!(encode_field(Decimal::ZERO).is_empty());
        // 1 is stored as Ethereum stores the word 1.
        assert_eq!(encode_field(Decimal::from_units(1)), vec![0x01]);
        // -1 is the all-ones word.
        assert_eq!(
            encode_field(Decimal::from_units(-1)),
            alloy_rlp::encode(U256::MAX)
        );
        // A word that is not a sign-extended i128 is refused.
        let mut word = [0u8; 32];
        word[0] = 1;
        assert_eq!(
            decode_field(&alloy_rlp::encode(U256::from_be_bytes(word))),
            None
        );
    }

    #[test]
    fn intrinsic_gas_bounds_the_gas_limit() {
        let call = AcsAction::Call {
            package: Address::ZERO,
            contract: "holder".into(),
            record: Address::ZERO,
        };
        let tx = |gas_limit| AcsTransaction {
            chain_id: 1,
            nonce: 0,
            gas_limit,
            action: call.clone(),
        };
        assert_eq!(intrinsic_gas(&call), BASE_GAS + CALL_GAS);
        assert!(check_gas_limit(&tx(BASE_GAS + CALL_GAS)).is_ok());
        assert!(matches!(
            check_gas_limit(&tx(BASE_GAS + CALL_GAS - 1)),
            Err(NotApplicable::GasBelowIntrinsic { .. })
        ));
        assert!(matches!(
            check_gas_limit(&tx(MAX_TRANSACTION_GAS + 1)),
            Err(NotApplicable::GasAboveMaximum { .. })
        ));
    }

    #[test]
    fn unknown_condition_names_are_refused_with_their_place() {
        let error = compile_for_chain("#when nope>=1 trigger=onStart commitACS\n").unwrap_err();
        assert_eq!((error.line, error.col), (1, 7));
        assert!(error.message.contains("nope"), "{}", error.message);
        compile_for_chain(
            "afs.x.max.eps=1\n#when ebs>=1 && holders>=0 && eps>0 trigger=onStart commitACS\n",
        )
        .unwrap();
    }
}
