//! The pool's data structures.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, hash_map::Entry};
use std::time::{Duration, Instant};

use cairn_primitives::{
    Account, AcsAction, AcsTransaction, Address, B256, CryptoSuite, MAX_TRANSACTION_BYTES,
    SignedTransaction, all_signatures_valid, verify_signatures,
};

/// A gossiped batch held a transfer whose signature does not verify: the peer that sent it is
/// dishonest (honest peers forward only what they admitted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a gossiped transfer's signature does not verify")]
pub struct ForgedGossip;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Reads committed account state (the chain head).
pub trait AccountView {
    /// The account at `address`, or a default (empty) account if it does not exist.
    fn account(&self, address: &Address) -> Result<Account, String>;
}

/// Large transactions are admitted while the pool holds under 1/this of its capacity.
const LARGE_TRANSACTION_SHARE: usize = 64;

/// The checks of a contract action that need no state: a gas limit some block can include,
/// and, for a deployment, a package that compiles as the chain compiles it.
pub fn check_contract_action(acs: &AcsTransaction) -> Result<(), AdmissionError> {
    cairn_ledger::acs::check_gas_limit(acs)
        .map_err(|error| AdmissionError::InvalidGasLimit(error.to_string()))?;
    if let AcsAction::Deploy { source } = &acs.action {
        let source = std::str::from_utf8(source)
            .map_err(|_| AdmissionError::CompileError("the source is not UTF-8".into()))?;
        cairn_ledger::acs::compile_for_chain(source)
            .map_err(|error| AdmissionError::CompileError(error.to_string()))?;
    }
    Ok(())
}

/// Pool limits.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Chain id every admitted transfer must carry.
    pub chain_id: u64,
    /// The chain's crypto suite: every admitted transaction must be signed with it.
    pub suite: CryptoSuite,
    /// Most transfers held in total.
    pub max_transactions: usize,
    /// Most transfers held for one sender.
    pub max_per_sender: usize,
    /// How far beyond the sender's account nonce a transfer's nonce may be.
    pub max_nonce_gap: u64,
    /// Transfers that are not executable (waiting on a nonce gap) are dropped after this long.
    pub max_future_age: Duration,
}

impl PoolConfig {
    /// Defaults sized for a node with a few GiB of memory, for chain `chain_id` of `suite`.
    pub fn new(chain_id: u64, suite: CryptoSuite) -> Self {
        Self {
            chain_id,
            suite,
            max_transactions: 200_000,
            max_per_sender: 4_096,
            max_nonce_gap: 4_096,
            max_future_age: Duration::from_secs(600),
        }
    }
}

/// Why a transfer was not admitted. `code()` is the stable identifier the API returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The signature does not verify.
    #[error("signature does not verify")]
    InvalidSignature,
    /// Signed with another crypto suite than the chain's (an ed25519 key on an `sm2-sm3`
    /// chain, or the reverse).
    #[error("transaction is signed with {got} keys, this chain uses {expected}")]
    WrongSuite {
        /// This chain's suite.
        expected: CryptoSuite,
        /// The transaction's.
        got: CryptoSuite,
    },
    /// Signed for another chain.
    #[error("transaction is for chain {got}, this chain is {expected}")]
    WrongChainId {
        /// This chain.
        expected: u64,
        /// The transaction's chain id.
        got: u64,
    },
    /// The nonce was already used (a replay or a stale transfer).
    #[error("nonce {got} is already used; the sender's next nonce is {next}")]
    NonceTooLow {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The nonce is too far ahead of the sender's account nonce.
    #[error("nonce {got} is more than {max_gap} ahead of the sender's next nonce {next}")]
    NonceTooHigh {
        /// The sender's next nonce.
        next: u64,
        /// The transaction's nonce.
        got: u64,
        /// The allowed gap.
        max_gap: u64,
    },
    /// Another transfer with the same sender and nonce is already pending.
    #[error("another transaction with nonce {0} from this sender is pending")]
    NonceInUse(u64),
    /// The sender's balance is below the amount.
    #[error("amount {amount} exceeds the sender's balance {balance}")]
    InsufficientFunds {
        /// The sender's balance.
        balance: u128,
        /// The transfer's amount.
        amount: u128,
    },
    /// The pool is full.
    #[error("the transaction pool is full ({0} transactions)")]
    PoolFull(usize),
    /// The sender has too many pending transfers.
    #[error("the sender already has {0} pending transactions")]
    SenderFull(usize),
    /// The account state could not be read.
    #[error("account state unavailable: {0}")]
    StateUnavailable(String),
    /// A contract action that no block could include (its gas limit is out of bounds).
    #[error("{0}")]
    InvalidGasLimit(String),
    /// A deployment whose package does not compile: `LINE:COL: message`.
    #[error("the package does not compile: {0}")]
    CompileError(String),
    /// A large transaction (a deployment) while the pool is busy.
    #[error(
        "the pool holds {0} transactions; transactions over 256 bytes wait until it holds fewer"
    )]
    PoolBusy(usize),
}

impl AdmissionError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidSignature => "invalid_signature",
            Self::WrongChainId { .. } => "wrong_chain_id",
            Self::WrongSuite { .. } => "wrong_suite",
            Self::NonceTooLow { .. } => "nonce_too_low",
            Self::NonceTooHigh { .. } => "nonce_too_high",
            Self::NonceInUse(_) => "nonce_in_use",
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::PoolFull(_) => "pool_full",
            Self::SenderFull(_) => "sender_pool_full",
            Self::StateUnavailable(_) => "state_unavailable",
            Self::InvalidGasLimit(_) => "invalid_gas_limit",
            Self::CompileError(_) => "compile_error",
            Self::PoolBusy(_) => "pool_busy",
        }
    }

    /// Whether the fault is the node's (retry later) rather than the transaction's.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::PoolFull(_) | Self::SenderFull(_) | Self::StateUnavailable(_) | Self::PoolBusy(_)
        )
    }
}

/// A successful admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Newly added.
    Added(B256),
    /// Already pending (resubmitting is harmless).
    AlreadyKnown(B256),
}

impl Admission {
    /// The transaction hash.
    pub fn hash(&self) -> B256 {
        match self {
            Self::Added(hash) | Self::AlreadyKnown(hash) => *hash,
        }
    }
}

/// A snapshot of the pool's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct PoolStatus {
    /// Transfers held.
    pub pending: usize,
    /// Of those, executable now (contiguous from their sender's account nonce).
    pub ready: usize,
    /// Senders with transfers held.
    pub senders: usize,
}

/// A transfer in a sender's queue, as [`Mempool::sender_queue`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QueuedTx {
    /// The transfer's hash.
    pub hash: B256,
    /// Its nonce.
    pub nonce: u64,
    /// Whether it can go into the next block (no nonce missing before it).
    pub ready: bool,
    /// How long it has been in the pool.
    pub waiting_ms: u64,
}

struct PooledTx {
    tx: SignedTransaction,
    /// Arrival order, for fair selection.
    seq: u64,
    arrived: Instant,
}

#[derive(Default)]
struct SenderQueue {
    /// The sender's account nonce as of the last committed state we saw.
    next_nonce: u64,
    /// First nonce at or after `next_nonce` that is missing: `next_nonce..ready_end` are all
    /// present and executable in order.
    ready_end: u64,
    txs: BTreeMap<u64, PooledTx>,
}

impl SenderQueue {
    fn ready_len(&self) -> usize {
        (self.ready_end - self.next_nonce) as usize
    }

    fn extend_ready(&mut self) {
        while self.txs.contains_key(&self.ready_end) {
            self.ready_end += 1;
        }
    }

    /// Moves the queue to the sender's current account nonce, returning the transfers that
    /// became stale.
    fn sync(&mut self, account_nonce: u64) -> Vec<PooledTx> {
        if account_nonce <= self.next_nonce && self.ready_end >= self.next_nonce {
            return Vec::new();
        }
        self.next_nonce = self.next_nonce.max(account_nonce);
        let keep = self.txs.split_off(&self.next_nonce);
        let stale = std::mem::replace(&mut self.txs, keep);
        self.ready_end = self.ready_end.max(self.next_nonce);
        self.extend_ready();
        stale.into_values().collect()
    }
}

#[derive(Default)]
struct Inner {
    senders: HashMap<Address, SenderQueue>,
    by_hash: HashMap<B256, (Address, u64)>,
    next_seq: u64,
    ready: usize,
}

/// The transaction pool. All methods take `&self`; it is shared between the API and the block
/// builder.
pub struct Mempool {
    config: PoolConfig,
    inner: Mutex<Inner>,
    ready_changed: Notify,
}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mempool")
            .field("status", &self.status())
            .finish()
    }
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        Self {
            config,
            inner: Mutex::new(Inner::default()),
            ready_changed: Notify::new(),
        }
    }

    /// The pool's limits.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Admits a batch of transfers: verifies all signatures together (outside the pool lock),
    /// then checks each against the sender's committed account. One result per input, in order.
    pub fn admit(
        &self,
        txs: Vec<SignedTransaction>,
        view: &dyn AccountView,
    ) -> Vec<Result<Admission, AdmissionError>> {
        // A client's forged transaction is named as forged, whatever its nonce.
        let (known, fresh) = self.split_known(&txs, None);
        let verdicts = verify_signatures(&fresh);
        self.insert_checked(txs, &known, verdicts, view)
    }

    /// Admits transfers a peer gossiped. An honest peer forwards only transfers it admitted,
    /// signatures checked, so a single invalid signature among them, or a single transaction
    /// of another suite than the chain's, proves the peer dishonest: then nothing is admitted,
    /// after one batch check and no search for the culprit, and the caller penalizes the
    /// peer. Otherwise, as [`Mempool::admit`].
    pub fn admit_gossip(
        &self,
        txs: Vec<SignedTransaction>,
        view: &dyn AccountView,
    ) -> Result<Vec<Result<Admission, AdmissionError>>, ForgedGossip> {
        if txs.iter().any(|tx| tx.suite() != self.config.suite) {
            return Err(ForgedGossip);
        }
        let (known, fresh) = self.split_known(&txs, Some(view));
        if !all_signatures_valid(&fresh) {
            return Err(ForgedGossip);
        }
        let verdicts = vec![true; fresh.len()];
        Ok(self.insert_checked(txs, &known, verdicts, view))
    }

    /// Which transfers need no signature check (`true`), and the others, whose signatures are
    /// to be checked.
    ///
    /// No check is needed for what the pool holds already (peers re-send what they still
    /// hold), nor, given the accounts (`view`, for gossip), for a transfer whose nonce its
    /// sender has used: it is refused on its nonce, whatever its signature. Late gossip of
    /// committed transfers is common when signatures are slow to check (SM2), and checking
    /// them would only delay the fresh ones. (A client's transactions are all checked, so a
    /// forged one is named as forged.) A transaction of another suite is refused before its
    /// signature costs anything either.
    ///
    /// The accounts read here decide staleness only, which they cannot get wrong (a nonce,
    /// once used, stays used); insertion reads them again under the pool's lock, so that a
    /// block committed while the signatures were checked is seen.
    fn split_known(
        &self,
        txs: &[SignedTransaction],
        view: Option<&dyn AccountView>,
    ) -> (Vec<bool>, Vec<SignedTransaction>) {
        let in_pool: Vec<bool> = {
            let inner = self.inner.lock();
            txs.iter()
                .map(|tx| inner.by_hash.contains_key(&tx.hash()))
                .collect()
        };
        let mut accounts: HashMap<Address, Account> = HashMap::new();
        let known: Vec<bool> = txs
            .iter()
            .zip(in_pool)
            .map(|(tx, in_pool)| {
                if in_pool {
                    return true;
                }
                let Some(view) = view.filter(|_| tx.suite() == self.config.suite) else {
                    return false;
                };
                let sender = tx.sender();
                let account = match accounts.entry(sender) {
                    Entry::Occupied(entry) => *entry.get(),
                    Entry::Vacant(entry) => match view.account(&sender) {
                        Ok(account) => *entry.insert(account),
                        // Unreadable state: the signature is checked as usual.
                        Err(_) => return false,
                    },
                };
                tx.nonce() < account.nonce
            })
            .collect();
        let fresh = txs
            .iter()
            .zip(&known)
            .filter(|(tx, known)| !**known && tx.suite() == self.config.suite)
            .map(|(tx, _)| tx.clone())
            .collect();
        (known, fresh)
    }

    /// Inserts `txs`, given which needed no signature check and the signature verdicts of the
    /// others (in order).
    fn insert_checked(
        &self,
        txs: Vec<SignedTransaction>,
        known: &[bool],
        verdicts: Vec<bool>,
        view: &dyn AccountView,
    ) -> Vec<Result<Admission, AdmissionError>> {
        let mut verdicts = verdicts.into_iter();
        let mut accounts: HashMap<Address, Account> = HashMap::new();
        let mut results = Vec::with_capacity(txs.len());
        let mut admitted_ready = false;
        // Contract actions are checked (deployments compiled) before the pool is locked.
        let contract_checks: Vec<Result<(), AdmissionError>> = txs
            .iter()
            .zip(known)
            .map(|(tx, known)| match tx.acs() {
                Some(acs) if !known && tx.suite() == self.config.suite => {
                    check_contract_action(acs)
                }
                _ => Ok(()),
            })
            .collect();
        let mut inner = self.inner.lock();
        for ((tx, known), contract_check) in txs.into_iter().zip(known).zip(contract_checks) {
            if tx.suite() != self.config.suite {
                results.push(Err(AdmissionError::WrongSuite {
                    expected: self.config.suite,
                    got: tx.suite(),
                }));
                continue;
            }
            if !known && verdicts.next() != Some(true) {
                results.push(Err(AdmissionError::InvalidSignature));
                continue;
            }
            if let Err(error) = contract_check {
                results.push(Err(error));
                continue;
            }
            let sender = tx.sender();
            let account = match accounts.entry(sender) {
                Entry::Occupied(entry) => Ok(*entry.get()),
                Entry::Vacant(entry) => view.account(&sender).map(|a| *entry.insert(a)),
            };
            let result = match account {
                Ok(account) => self.insert(&mut inner, tx, &account),
                Err(message) => Err(AdmissionError::StateUnavailable(message)),
            };
            if let Ok(Admission::Added(_)) = result {
                admitted_ready = true;
            }
            results.push(result);
        }
        drop(inner);
        if admitted_ready {
            self.ready_changed.notify_waiters();
        }
        results
    }

    fn insert(
        &self,
        inner: &mut Inner,
        tx: SignedTransaction,
        account: &Account,
    ) -> Result<Admission, AdmissionError> {
        let hash = tx.hash();
        if inner.by_hash.contains_key(&hash) {
            return Ok(Admission::AlreadyKnown(hash));
        }
        if tx.chain_id() != self.config.chain_id {
            return Err(AdmissionError::WrongChainId {
                expected: self.config.chain_id,
                got: tx.chain_id(),
            });
        }
        let next = account.nonce;
        let nonce = tx.nonce();
        if nonce < next {
            return Err(AdmissionError::NonceTooLow { next, got: nonce });
        }
        if nonce - next > self.config.max_nonce_gap {
            return Err(AdmissionError::NonceTooHigh {
                next,
                got: nonce,
                max_gap: self.config.max_nonce_gap,
            });
        }
        if tx.amount() > account.balance {
            return Err(AdmissionError::InsufficientFunds {
                balance: account.balance,
                amount: tx.amount(),
            });
        }
        if inner.by_hash.len() >= self.config.max_transactions {
            return Err(AdmissionError::PoolFull(inner.by_hash.len()));
        }
        // Large transactions (deployments, up to 32 KiB) are admitted only while the pool
        // holds under 1/64 of its capacity, so they can never hold more than that share of
        // it: about 100 MiB with the defaults, against 50 MiB for a full pool of transfers.
        let busy = self.config.max_transactions / LARGE_TRANSACTION_SHARE;
        if tx.encoded_len() > MAX_TRANSACTION_BYTES && inner.by_hash.len() >= busy {
            return Err(AdmissionError::PoolBusy(inner.by_hash.len()));
        }
        let sender = tx.sender();
        let Inner {
            senders,
            by_hash,
            ready,
            next_seq,
        } = inner;
        let queue = senders.entry(sender).or_default();
        *ready -= queue.ready_len();
        for stale in queue.sync(next) {
            by_hash.remove(&stale.tx.hash());
        }
        *ready += queue.ready_len();
        if queue.txs.contains_key(&nonce) {
            return Err(AdmissionError::NonceInUse(nonce));
        }
        if queue.txs.len() >= self.config.max_per_sender {
            return Err(AdmissionError::SenderFull(queue.txs.len()));
        }
        queue.txs.insert(
            nonce,
            PooledTx {
                tx,
                seq: *next_seq,
                arrived: Instant::now(),
            },
        );
        *next_seq += 1;
        if nonce == queue.ready_end {
            *ready -= queue.ready_len();
            queue.extend_ready();
            *ready += queue.ready_len();
        }
        by_hash.insert(hash, (sender, nonce));
        Ok(Admission::Added(hash))
    }

    /// Up to `max` executable transfers for the next block, in arrival order, each sender's in
    /// nonce order. They stay in the pool until a block including them commits.
    pub fn ready(&self, max: usize) -> Vec<SignedTransaction> {
        let inner = self.inner.lock();
        // A heap of each sender's next candidate, keyed by arrival: take the oldest, then
        // offer that sender's following nonce.
        let mut heap = BinaryHeap::new();
        for (sender, queue) in &inner.senders {
            if let Some(pooled) = queue.txs.get(&queue.next_nonce) {
                heap.push(Reverse((pooled.seq, *sender, queue.next_nonce)));
            }
        }
        let mut out = Vec::with_capacity(max.min(inner.ready));
        while out.len() < max {
            let Some(Reverse((_, sender, nonce))) = heap.pop() else {
                break;
            };
            let Some(queue) = inner.senders.get(&sender) else {
                continue;
            };
            let Some(pooled) = queue.txs.get(&nonce) else {
                continue;
            };
            out.push(pooled.tx.clone());
            if let Some(next) = queue.txs.get(&(nonce + 1)) {
                heap.push(Reverse((next.seq, sender, nonce + 1)));
            }
        }
        out
    }

    /// Every transfer the pool holds, executable or not, in arrival order (what a node
    /// journals when it stops, to admit again when it starts).
    pub fn all(&self) -> Vec<SignedTransaction> {
        let inner = self.inner.lock();
        let mut pooled: Vec<&PooledTx> = inner
            .senders
            .values()
            .flat_map(|queue| queue.txs.values())
            .collect();
        pooled.sort_by_key(|p| p.seq);
        pooled.into_iter().map(|p| p.tx.clone()).collect()
    }

    /// After a block commits: drop the transfers it included and any other transfer whose nonce
    /// it made stale, and forget non-executable transfers older than the configured age.
    pub fn on_committed<'a>(
        &self,
        included: impl IntoIterator<Item = &'a SignedTransaction>,
        view: &dyn AccountView,
    ) {
        let mut inner = self.inner.lock();
        let mut touched: Vec<Address> = Vec::new();
        for tx in included {
            touched.push(tx.sender());
        }
        touched.sort_unstable();
        touched.dedup();
        for sender in touched {
            let Ok(account) = view.account(&sender) else {
                continue;
            };
            let Inner {
                senders,
                by_hash,
                ready,
                ..
            } = &mut *inner;
            let Some(queue) = senders.get_mut(&sender) else {
                continue;
            };
            *ready -= queue.ready_len();
            for stale in queue.sync(account.nonce) {
                by_hash.remove(&stale.tx.hash());
            }
            *ready += queue.ready_len();
            if queue.txs.is_empty() {
                senders.remove(&sender);
            }
        }
        self.expire(&mut inner);
        let has_ready = inner.ready > 0;
        drop(inner);
        if has_ready {
            self.ready_changed.notify_waiters();
        }
    }

    /// Re-syncs every sender's queue with its account (after missing commit notifications).
    pub fn resync(&self, view: &dyn AccountView) {
        let mut inner = self.inner.lock();
        let senders: Vec<Address> = inner.senders.keys().copied().collect();
        let Inner {
            senders: queues,
            by_hash,
            ready,
            ..
        } = &mut *inner;
        for sender in senders {
            let Ok(account) = view.account(&sender) else {
                continue;
            };
            let Some(queue) = queues.get_mut(&sender) else {
                continue;
            };
            *ready -= queue.ready_len();
            for stale in queue.sync(account.nonce) {
                by_hash.remove(&stale.tx.hash());
            }
            *ready += queue.ready_len();
            if queue.txs.is_empty() {
                queues.remove(&sender);
            }
        }
        self.expire(&mut inner);
    }

    fn expire(&self, inner: &mut Inner) {
        let max_age = self.config.max_future_age;
        let Inner {
            senders, by_hash, ..
        } = inner;
        senders.retain(|_, queue| {
            // Only the non-executable tail can expire; executable transfers will be included.
            let expired: Vec<u64> = queue
                .txs
                .range(queue.ready_end..)
                .filter(|(_, pooled)| pooled.arrived.elapsed() > max_age)
                .map(|(nonce, _)| *nonce)
                .collect();
            for nonce in expired {
                if let Some(pooled) = queue.txs.remove(&nonce) {
                    by_hash.remove(&pooled.tx.hash());
                }
            }
            !queue.txs.is_empty()
        });
    }

    /// A future that completes when transfers may have become executable. Create (and
    /// `enable`) it *before* checking [`Mempool::status`], so a change in between is not missed.
    pub fn ready_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.ready_changed.notified()
    }

    /// Drops transfers by hash (e.g. ones a block builder found inapplicable).
    pub fn remove(&self, hashes: &[B256]) {
        let mut inner = self.inner.lock();
        let Inner {
            senders,
            by_hash,
            ready,
            ..
        } = &mut *inner;
        for hash in hashes {
            let Some((sender, nonce)) = by_hash.remove(hash) else {
                continue;
            };
            let Some(queue) = senders.get_mut(&sender) else {
                continue;
            };
            queue.txs.remove(&nonce);
            if nonce < queue.ready_end && nonce >= queue.next_nonce {
                // Removing inside the executable run cuts it at this nonce.
                *ready -= (queue.ready_end - nonce) as usize;
                queue.ready_end = nonce;
            }
            if queue.txs.is_empty() {
                senders.remove(&sender);
            }
        }
    }

    /// Whether the transfer with this hash is pending.
    pub fn contains(&self, hash: &B256) -> bool {
        self.inner.lock().by_hash.contains_key(hash)
    }

    /// The pending transfer with this hash.
    pub fn get(&self, hash: &B256) -> Option<SignedTransaction> {
        let inner = self.inner.lock();
        let (sender, nonce) = inner.by_hash.get(hash)?;
        inner
            .senders
            .get(sender)?
            .txs
            .get(nonce)
            .map(|p| p.tx.clone())
    }

    /// The nonce a new transfer from `address` should use: one past its highest contiguous
    /// pending nonce, or its account nonce.
    pub fn pending_nonce(&self, address: &Address, account_nonce: u64) -> u64 {
        let inner = self.inner.lock();
        let Some(queue) = inner.senders.get(address) else {
            return account_nonce;
        };
        let mut next = account_nonce.max(queue.next_nonce);
        while queue.txs.contains_key(&next) {
            next += 1;
        }
        next
    }

    /// One sender's queued transfers in nonce order, each with whether it is executable now
    /// (contiguous from the sender's account nonce) and how long it has waited.
    pub fn sender_queue(&self, sender: &Address) -> Vec<QueuedTx> {
        let inner = self.inner.lock();
        let Some(queue) = inner.senders.get(sender) else {
            return Vec::new();
        };
        queue
            .txs
            .iter()
            .map(|(nonce, pooled)| QueuedTx {
                hash: pooled.tx.hash(),
                nonce: *nonce,
                ready: (queue.next_nonce..queue.ready_end).contains(nonce),
                waiting_ms: u64::try_from(pooled.arrived.elapsed().as_millis()).unwrap_or(u64::MAX),
            })
            .collect()
    }

    /// The `limit` senders holding the most transfers, with their counts, most first.
    pub fn busiest_senders(&self, limit: usize) -> Vec<(Address, usize)> {
        let inner = self.inner.lock();
        let mut senders: Vec<(Address, usize)> = inner
            .senders
            .iter()
            .map(|(sender, queue)| (*sender, queue.txs.len()))
            .collect();
        senders.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        senders.truncate(limit);
        senders
    }

    /// Current sizes.
    pub fn status(&self) -> PoolStatus {
        let inner = self.inner.lock();
        PoolStatus {
            pending: inner.by_hash.len(),
            ready: inner.ready,
            senders: inner.senders.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_primitives::{SecretKey, Transaction};
    use std::cell::RefCell;

    const CHAIN: u64 = 7;

    #[derive(Default)]
    struct Accounts(RefCell<HashMap<Address, Account>>);

    impl Accounts {
        fn fund(&self, key: &SecretKey, balance: u128) {
            self.0.borrow_mut().insert(
                key.address(),
                Account::with_balance(CryptoSuite::Ed25519Keccak, 0, balance),
            );
        }
        fn set_nonce(&self, key: &SecretKey, nonce: u64) {
            self.0
                .borrow_mut()
                .entry(key.address())
                .or_insert(Account::empty(CryptoSuite::Ed25519Keccak))
                .nonce = nonce;
        }
    }

    impl AccountView for Accounts {
        fn account(&self, address: &Address) -> Result<Account, String> {
            Ok(self
                .0
                .borrow()
                .get(address)
                .copied()
                .unwrap_or(Account::empty(CryptoSuite::Ed25519Keccak)))
        }
    }

    fn key(seed: u8) -> SecretKey {
        SecretKey::from_bytes([seed; 32])
    }

    fn transfer(key: &SecretKey, nonce: u64, amount: u128) -> SignedTransaction {
        Transaction {
            chain_id: CHAIN,
            nonce,
            to: Address::repeat_byte(0xee),
            amount,
        }
        .sign(key)
    }

    fn pool() -> Mempool {
        Mempool::new(PoolConfig::new(CHAIN, CryptoSuite::Ed25519Keccak))
    }

    fn admit_one(
        pool: &Mempool,
        tx: SignedTransaction,
        view: &Accounts,
    ) -> Result<Admission, AdmissionError> {
        pool.admit(vec![tx], view).remove(0)
    }

    #[test]
    fn all_lists_every_held_transfer_in_arrival_order() {
        let (pool, view, alice, bob) = (pool(), Accounts::default(), key(1), key(2));
        view.fund(&alice, 100);
        view.fund(&bob, 100);
        // Bob's second transfer waits behind a gap: held, not executable, still listed.
        let sent = [
            transfer(&bob, 2, 1),
            transfer(&alice, 0, 1),
            transfer(&bob, 0, 1),
        ];
        for tx in &sent {
            assert!(admit_one(&pool, tx.clone(), &view).is_ok());
        }
        assert_eq!(pool.all(), sent.to_vec());
        // Committing Alice's drops it from the list.
        view.set_nonce(&alice, 1);
        pool.on_committed([&sent[1]], &view);
        assert_eq!(pool.all(), vec![sent[0].clone(), sent[2].clone()]);
    }

    #[test]
    fn a_senders_queue_shows_which_transfers_wait_behind_a_gap() {
        let (pool, view, alice, bob) = (pool(), Accounts::default(), key(1), key(2));
        view.fund(&alice, 100);
        view.fund(&bob, 100);
        for tx in [
            transfer(&bob, 0, 1),
            transfer(&bob, 1, 1),
            transfer(&bob, 3, 1),
            transfer(&alice, 0, 1),
        ] {
            assert!(admit_one(&pool, tx, &view).is_ok());
        }
        let queue: Vec<(u64, bool)> = pool
            .sender_queue(&bob.address())
            .iter()
            .map(|queued| (queued.nonce, queued.ready))
            .collect();
        assert_eq!(queue, [(0, true), (1, true), (3, false)]);
        assert_eq!(
            pool.sender_queue(&bob.address())[2].hash,
            transfer(&bob, 3, 1).hash()
        );
        assert!(pool.sender_queue(&key(9).address()).is_empty());
        assert_eq!(
            pool.busiest_senders(5),
            [(bob.address(), 3), (alice.address(), 1)]
        );
        assert_eq!(pool.busiest_senders(1), [(bob.address(), 3)]);
    }

    #[test]
    fn a_transaction_of_the_other_suite_is_refused_by_its_suite() {
        let sm2 = cairn_primitives::sm::Sm2SecretKey::from_bytes([7; 32]).unwrap();
        let sm2_transfer = Transaction {
            chain_id: CHAIN,
            nonce: 0,
            to: Address::repeat_byte(0xee),
            amount: 1,
        }
        .sign(&sm2);
        // An ed25519-keccak pool refuses the SM2 transfer, whatever its signature.
        let (pool, view) = (pool(), Accounts::default());
        let refused = pool.admit(vec![sm2_transfer.clone(), transfer(&key(1), 0, 0)], &view);
        assert_eq!(
            refused[0],
            Err(AdmissionError::WrongSuite {
                expected: CryptoSuite::Ed25519Keccak,
                got: CryptoSuite::Sm2Sm3,
            })
        );
        assert_eq!(refused[0].as_ref().unwrap_err().code(), "wrong_suite");
        assert!(refused[1].is_ok(), "{:?}", refused[1]);
        // An sm2-sm3 pool admits it and refuses an ed25519 one; a forged SM2 signature is
        // caught by the single checks.
        view.0.borrow_mut().insert(
            sm2_transfer.sender(),
            Account::with_balance(CryptoSuite::Sm2Sm3, 0, 100),
        );
        let sm_pool = Mempool::new(PoolConfig::new(CHAIN, CryptoSuite::Sm2Sm3));
        let mut forged_signature = *sm2_transfer.signature();
        forged_signature.0[40] ^= 1;
        let forged = SignedTransaction::new(
            sm2_transfer.tx().clone(),
            *sm2_transfer.public_key(),
            forged_signature,
        );
        let results = sm_pool.admit(
            vec![sm2_transfer.clone(), transfer(&key(1), 0, 0), forged],
            &view,
        );
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert!(matches!(
            results[1],
            Err(AdmissionError::WrongSuite {
                expected: CryptoSuite::Sm2Sm3,
                ..
            })
        ));
        assert_eq!(results[2], Err(AdmissionError::InvalidSignature));
        assert!(sm_pool.contains(&sm2_transfer.hash()));
        // No honest peer gossips the other suite's transactions: proof of a dishonest one.
        assert_eq!(
            pool.admit_gossip(vec![transfer(&key(1), 1, 0), sm2_transfer], &view),
            Err(ForgedGossip)
        );
    }

    #[test]
    fn gossip_with_a_used_nonce_is_refused_without_checking_the_signature() {
        let (pool, view, alice) = (pool(), Accounts::default(), key(1));
        view.fund(&alice, 100);
        view.set_nonce(&alice, 5);
        let stale = transfer(&alice, 4, 1);
        let mut signature = *stale.signature();
        signature.0[3] ^= 1;
        let forged_stale =
            SignedTransaction::new(stale.tx().clone(), *stale.public_key(), signature);
        // From a client it is named as forged.
        assert_eq!(
            admit_one(&pool, forged_stale.clone(), &view),
            Err(AdmissionError::InvalidSignature)
        );
        // Gossip of a committed transfer is refused on its nonce, its signature (bad here)
        // never looked at: not proof of forgery, and no cost. A fresh forged one beside it
        // still is.
        let results = pool
            .admit_gossip(vec![forged_stale.clone(), transfer(&alice, 5, 1)], &view)
            .unwrap();
        assert!(matches!(
            results[0],
            Err(AdmissionError::NonceTooLow { .. })
        ));
        assert!(results[1].is_ok(), "{:?}", results[1]);
        let mut bad = *transfer(&alice, 6, 1).signature();
        bad.0[3] ^= 1;
        let forged_fresh =
            SignedTransaction::new(transfer(&alice, 6, 1).tx().clone(), alice.public_key(), bad);
        assert_eq!(
            pool.admit_gossip(vec![forged_stale, forged_fresh], &view),
            Err(ForgedGossip)
        );
    }

    /// The first read of every account says nonce 0, later ones nonce 1: a block commits the
    /// sender's nonce 0 while a batch's signatures are checked.
    struct CommitsDuringAdmission(std::cell::RefCell<HashMap<Address, u64>>);

    impl AccountView for CommitsDuringAdmission {
        fn account(&self, address: &Address) -> Result<Account, String> {
            let mut reads = self.0.borrow_mut();
            let seen = reads.entry(*address).or_insert(0);
            *seen += 1;
            let nonce = if *seen == 1 { 0 } else { 1 };
            Ok(Account::with_balance(
                CryptoSuite::Ed25519Keccak,
                nonce,
                100,
            ))
        }
    }

    #[test]
    fn a_block_committed_during_admission_is_seen_when_inserting() {
        let (pool, alice) = (pool(), key(1));
        let view = CommitsDuringAdmission(Default::default());
        let next = transfer(&alice, 1, 1);
        let admitted = pool.admit_gossip(vec![next.clone()], &view).unwrap();
        assert!(admitted[0].is_ok(), "{admitted:?}");
        // Nonce 1 is the sender's next: executable now, not parked behind a gap that the
        // commit already closed.
        assert_eq!(pool.ready(10), vec![next]);
    }

    #[test]
    fn rejects_what_can_never_succeed() {
        let (pool, view, alice) = (pool(), Accounts::default(), key(1));
        view.fund(&alice, 100);
        view.set_nonce(&alice, 3);

        let mut forged = transfer(&alice, 3, 1);
        forged = SignedTransaction::new(
            Transaction {
                amount: 2,
                ..*forged.transfer().unwrap()
            },
            *forged.public_key(),
            *forged.signature(),
        );
        assert_eq!(
            admit_one(&pool, forged, &view),
            Err(AdmissionError::InvalidSignature)
        );

        let other_chain = Transaction {
            chain_id: CHAIN + 1,
            nonce: 3,
            to: Address::ZERO,
            amount: 1,
        }
        .sign(&alice);
        assert_eq!(
            admit_one(&pool, other_chain, &view),
            Err(AdmissionError::WrongChainId {
                expected: CHAIN,
                got: CHAIN + 1
            })
        );
        assert_eq!(
            admit_one(&pool, transfer(&alice, 2, 1), &view),
            Err(AdmissionError::NonceTooLow { next: 3, got: 2 })
        );
        assert!(matches!(
            admit_one(&pool, transfer(&alice, 3 + 4_097, 1), &view),
            Err(AdmissionError::NonceTooHigh { .. })
        ));
        assert_eq!(
            admit_one(&pool, transfer(&alice, 3, 101), &view),
            Err(AdmissionError::InsufficientFunds {
                balance: 100,
                amount: 101
            })
        );
        assert_eq!(pool.status(), PoolStatus::default());
    }

    #[test]
    fn deduplicates_and_refuses_a_second_transfer_for_a_pending_nonce() {
        let (pool, view, alice) = (pool(), Accounts::default(), key(1));
        view.fund(&alice, 100);
        let tx = transfer(&alice, 0, 5);
        assert_eq!(
            admit_one(&pool, tx.clone(), &view),
            Ok(Admission::Added(tx.hash()))
        );
        assert_eq!(
            admit_one(&pool, tx.clone(), &view),
            Ok(Admission::AlreadyKnown(tx.hash()))
        );
        assert_eq!(
            admit_one(&pool, transfer(&alice, 0, 6), &view),
            Err(AdmissionError::NonceInUse(0))
        );
        assert_eq!(pool.status().pending, 1);
        assert_eq!(pool.get(&tx.hash()), Some(tx));
    }

    #[test]
    fn only_contiguous_nonces_are_ready_and_gaps_fill_in() {
        let (pool, view, alice) = (pool(), Accounts::default(), key(1));
        view.fund(&alice, 100);
        for nonce in [0, 1, 3] {
            admit_one(&pool, transfer(&alice, nonce, 1), &view).unwrap();
        }
        assert_eq!(pool.status().ready, 2);
        assert_eq!(
            pool.ready(10).iter().map(|t| t.nonce()).collect::<Vec<_>>(),
            vec![0, 1]
        );
        assert_eq!(pool.pending_nonce(&alice.address(), 0), 2);
        admit_one(&pool, transfer(&alice, 2, 1), &view).unwrap();
        assert_eq!(pool.status().ready, 4);
        assert_eq!(
            pool.ready(10).iter().map(|t| t.nonce()).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(pool.ready(3).len(), 3);
    }

    #[test]
    fn selection_interleaves_senders_by_arrival() {
        let (pool, view) = (pool(), Accounts::default());
        let (alice, bob) = (key(1), key(2));
        view.fund(&alice, 100);
        view.fund(&bob, 100);
        admit_one(&pool, transfer(&alice, 0, 1), &view).unwrap();
        admit_one(&pool, transfer(&bob, 0, 1), &view).unwrap();
        admit_one(&pool, transfer(&alice, 1, 1), &view).unwrap();
        admit_one(&pool, transfer(&bob, 1, 1), &view).unwrap();
        let order: Vec<_> = pool
            .ready(10)
            .iter()
            .map(|t| (t.sender(), t.nonce()))
            .collect();
        assert_eq!(
            order,
            vec![
                (alice.address(), 0),
                (bob.address(), 0),
                (alice.address(), 1),
                (bob.address(), 1)
            ]
        );
    }

    #[test]
    fn commit_drops_included_and_stale_transfers() {
        let (pool, view, alice) = (pool(), Accounts::default(), key(1));
        view.fund(&alice, 100);
        let txs: Vec<_> = (0..4).map(|n| transfer(&alice, n, 1)).collect();
        for tx in &txs {
            admit_one(&pool, tx.clone(), &view).unwrap();
        }
        // A block included nonces 0 and 1.
        view.set_nonce(&alice, 2);
        pool.on_committed(&txs[..2], &view);
        assert!(!pool.contains(&txs[0].hash()) && !pool.contains(&txs[1].hash()));
        assert!(pool.contains(&txs[2].hash()));
        assert_eq!(
            pool.status(),
            PoolStatus {
                pending: 2,
                ready: 2,
                senders: 1
            }
        );
        view.set_nonce(&alice, 4);
        pool.on_committed(&txs[2..], &view);
        assert_eq!(pool.status(), PoolStatus::default());
    }

    #[test]
    fn resync_drops_what_the_chain_made_stale() {
        let (pool, view, alice) = (pool(), Accounts::default(), key(1));
        view.fund(&alice, 100);
        let txs: Vec<_> = (0..3).map(|n| transfer(&alice, n, 1)).collect();
        for tx in &txs {
            admit_one(&pool, tx.clone(), &view).unwrap();
        }
        // Blocks the pool never heard of included nonces 0 and 1.
        view.set_nonce(&alice, 2);
        pool.resync(&view);
        assert_eq!(
            pool.status(),
            PoolStatus {
                pending: 1,
                ready: 1,
                senders: 1
            }
        );
        assert!(pool.contains(&txs[2].hash()));
    }

    #[test]
    fn bounds_hold() {
        let mut config = PoolConfig::new(CHAIN, CryptoSuite::Ed25519Keccak);
        config.max_transactions = 3;
        config.max_per_sender = 2;
        let (pool, view) = (Mempool::new(config), Accounts::default());
        let (alice, bob) = (key(1), key(2));
        view.fund(&alice, 100);
        view.fund(&bob, 100);
        admit_one(&pool, transfer(&alice, 0, 1), &view).unwrap();
        admit_one(&pool, transfer(&alice, 1, 1), &view).unwrap();
        assert_eq!(
            admit_one(&pool, transfer(&alice, 2, 1), &view),
            Err(AdmissionError::SenderFull(2))
        );
        admit_one(&pool, transfer(&bob, 0, 1), &view).unwrap();
        assert_eq!(
            admit_one(&pool, transfer(&bob, 1, 1), &view),
            Err(AdmissionError::PoolFull(3))
        );
    }

    #[test]
    fn a_bad_signature_in_a_batch_rejects_only_that_transfer() {
        let (pool, view, alice) = (pool(), Accounts::default(), key(1));
        view.fund(&alice, 100);
        let good = transfer(&alice, 0, 1);
        let bad = transfer(&alice, 1, 1);
        let bad = SignedTransaction::new(bad.tx().clone(), *bad.public_key(), *good.signature());
        let results = pool.admit(vec![good.clone(), bad], &view);
        assert_eq!(results[0], Ok(Admission::Added(good.hash())));
        assert_eq!(results[1], Err(AdmissionError::InvalidSignature));
    }

    #[test]
    fn gossip_with_one_forged_signature_is_refused_whole() {
        let pool = pool();
        let view = Accounts::default();
        let key = key(1);
        view.fund(&key, 1_000);
        let good: Vec<_> = (0..6).map(|n| transfer(&key, n, 1)).collect();
        let mut batch = good.clone();
        let mut signature = *batch[4].signature();
        signature.0[9] ^= 1;
        batch[4] = SignedTransaction::new(batch[4].tx().clone(), *batch[4].public_key(), signature);
        assert_eq!(pool.admit_gossip(batch, &view), Err(ForgedGossip));
        assert_eq!(
            pool.status().pending,
            0,
            "nothing from a forged batch is kept"
        );
        let results = pool.admit_gossip(good.clone(), &view).unwrap();
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(pool.status().pending, 6);
        // Transfers already held are not checked again: a re-sent batch is accepted as known.
        let again = pool.admit_gossip(good, &view).unwrap();
        assert!(matches!(again[0], Ok(Admission::AlreadyKnown(_))));
    }

    #[test]
    fn removing_inside_the_ready_run_cuts_it() {
        let (pool, view, alice) = (pool(), Accounts::default(), key(1));
        view.fund(&alice, 100);
        let txs: Vec<_> = (0..4).map(|n| transfer(&alice, n, 1)).collect();
        for tx in &txs {
            admit_one(&pool, tx.clone(), &view).unwrap();
        }
        pool.remove(&[txs[1].hash()]);
        assert_eq!(
            pool.status(),
            PoolStatus {
                pending: 3,
                ready: 1,
                senders: 1
            }
        );
        assert_eq!(pool.ready(10), vec![txs[0].clone()]);
        admit_one(&pool, txs[1].clone(), &view).unwrap();
        assert_eq!(pool.status().ready, 4);
    }

    proptest::proptest! {
        /// Whatever the arrival order, the ready set is each sender's contiguous nonce run
        /// and the ready counter matches it.
        #[test]
        fn ready_matches_contiguous_runs(nonces in proptest::collection::vec(0u64..12, 1..40)) {
            let (pool, view, alice) = (pool(), Accounts::default(), key(1));
            view.fund(&alice, 1_000);
            let mut present = std::collections::BTreeSet::new();
            for nonce in nonces {
                if admit_one(&pool, transfer(&alice, nonce, 1), &view).is_ok() {
                    present.insert(nonce);
                }
            }
            let expected = (0..).take_while(|n| present.contains(n)).count();
            proptest::prop_assert_eq!(pool.status().ready, expected);
            proptest::prop_assert_eq!(pool.ready(usize::MAX).len(), expected);
            proptest::prop_assert_eq!(pool.status().pending, present.len());
        }
    }
}
