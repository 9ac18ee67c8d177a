//! The gateway's own database (redb): every accepted transaction and where it stands, the
//! idempotency keys of the window with the answer first given under each, and which device
//! sent which transaction (seed 002's step 41).
//!
//! An acceptance is one durable write transaction, committed before the caller is answered, so
//! a transaction the gateway said it accepted survives `kill -9` and a power cut. Its record
//! stays in the `unfinished` index until its result is final, which is where forwarding and
//! following resume after a restart.
//!
//! Idempotency (seed 002's steps 30–36, with the IETF `Idempotency-Key` draft's semantics):
//! a key is scoped to the device that sent it and lives for the window. The same key with the
//! same body gets the first answer again; with another body it is refused. Without a key, a
//! transaction identical to one accepted within the window is not accepted again: the caller
//! learns the first one.

use std::path::Path;

use cairn_api_types::ReceiptView;
use cairn_primitives::{Address, B256, Bytes};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

/// transaction hash -> JSON of its [`TxRecord`].
const TRANSACTIONS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("transactions");
/// transaction hash -> when it was accepted (ms), for transactions whose result is not final.
const UNFINISHED: TableDefinition<[u8; 32], u64> = TableDefinition::new("unfinished");
/// device and idempotency key (`device \0 key`) -> JSON of its [`KeyRecord`].
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency_keys");
/// (device, transaction hash) -> when it was accepted (ms).
const DEVICE_TRANSACTIONS: TableDefinition<(&str, [u8; 32]), u64> =
    TableDefinition::new("device_transactions");

/// Longest device id.
pub const MAX_DEVICE_BYTES: usize = 128;
/// Longest idempotency key.
pub const MAX_KEY_BYTES: usize = 255;

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("gateway database: {0}")]
    Database(String),
    /// A stored record does not decode.
    #[error("gateway database: a stored record is corrupt: {0}")]
    Corrupt(String),
    /// An argument outside its bounds.
    #[error("{0}")]
    Invalid(String),
    /// The outbox is full: as many transactions as allowed wait for their results, or as
    /// many notifications for delivery. Nothing more is accepted until some are done.
    #[error("{0}")]
    Full(String),
    /// Another bound reached (receivers registered).
    #[error("{0}")]
    Limit(String),
}

macro_rules! database_errors {
    ($($error:ty),*) => {$(
        impl From<$error> for StoreError {
            fn from(error: $error) -> Self {
                StoreError::Database(error.to_string())
            }
        }
    )*};
}
database_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Where a transaction stands, from the gateway's acceptance to its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TxStatus {
    /// Stored by the gateway; not yet handed to a node.
    Accepted,
    /// Handed to a node, which admitted it.
    Submitted,
    /// In a node's pool, waiting for a block.
    Pending,
    /// In a committed block, and it executed.
    Committed,
    /// In a committed block, and it failed there (final: not sent again).
    Failed,
    /// Refused by the chain for good, or given up after the resubmission policy.
    Dropped,
}

impl TxStatus {
    /// Whether the result is final.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Committed | Self::Failed | Self::Dropped)
    }
}

/// An accepted transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRecord {
    /// Its hash.
    pub hash: B256,
    /// The chain it is for.
    pub chain_id: u64,
    /// Its canonical encoding.
    pub tx: Bytes,
    /// The device that sent it.
    pub device: Option<String>,
    /// Where it stands.
    pub status: TxStatus,
    /// Times it was handed to a node.
    pub attempts: u32,
    /// When the gateway accepted it (ms since the epoch).
    pub accepted_ms: u64,
    /// When its record last changed.
    pub updated_ms: u64,
    /// Its block, once committed or failed.
    pub block: Option<u64>,
    /// The last error: a node's refusal, or the failed receipt's reason.
    pub error: Option<String>,
    /// Where a transfer sends its amount (receivers may match on it).
    #[serde(default)]
    pub recipient: Option<Address>,
    /// Its block's hash, once committed or failed.
    #[serde(default)]
    pub block_hash: Option<B256>,
    /// Its position in its block.
    #[serde(default)]
    pub index: Option<u32>,
    /// Its receipt as the node gave it, once committed or failed.
    #[serde(default)]
    pub receipt: Option<ReceiptView>,
}

/// The bounds an acceptance is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long idempotency keys, and transactions for duplicate suppression, are remembered.
    pub window_ms: u64,
    /// Most transactions waiting for their results.
    pub max_unfinished: u64,
}

/// The answer first given under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// Its HTTP status.
    pub status: u16,
    /// Its JSON body.
    pub body: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeyRecord {
    body_hash: B256,
    created_ms: u64,
    answer: StoredAnswer,
}

/// What an acceptance came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// Stored now: to be forwarded. The answer given is stored under the key, if any.
    Accepted(TxRecord),
    /// Without a key: the same transaction was accepted within the window, and is not
    /// accepted again. This is the first one's record.
    Duplicate(TxRecord),
    /// The key was used with the same body within the window: the first answer.
    Replayed(StoredAnswer),
    /// The key was used with another body within the window.
    KeyReused,
}

/// A transaction to accept, with its idempotency key and the hash of its request.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The record to store.
    pub record: TxRecord,
    /// The idempotency key and the hash of the request's body.
    pub key: Option<(String, B256)>,
}

/// One acceptance inside `txn`: its outcome, and whether it wrote.
fn accept_in(
    txn: &redb::WriteTransaction,
    Submission { record, key }: Submission,
    answer: fn(&TxRecord, bool) -> StoredAnswer,
    limits: Limits,
    now_ms: u64,
) -> Result<(Acceptance, bool), StoreError> {
    let device = record.device.as_deref();
    if device.is_some_and(|device| device.len() > MAX_DEVICE_BYTES || device.contains('\0')) {
        return Err(StoreError::Invalid(format!(
            "a device id is at most {MAX_DEVICE_BYTES} bytes, without NUL"
        )));
    }
    if let Some((key, _)) = &key
        && (key.is_empty() || key.len() > MAX_KEY_BYTES)
    {
        return Err(StoreError::Invalid(format!(
            "an idempotency key is 1 to {MAX_KEY_BYTES} bytes"
        )));
    }
    let live = |at: u64| now_ms < at.saturating_add(limits.window_ms);
    let mut write = false;
    let outcome = {
        let mut keys = txn.open_table(KEYS)?;
        let mut transactions = txn.open_table(TRANSACTIONS)?;
        let scoped_key = key.as_ref().map(|(key, body)| (scoped(device, key), *body));
        let seen_key = match &scoped_key {
            Some((scoped_key, _)) => keys
                .get(scoped_key.as_str())?
                .map(|value| decode::<KeyRecord>(value.value()))
                .transpose()?
                .filter(|seen| live(seen.created_ms)),
            None => None,
        };
        let seen_tx = transactions
            .get(record.hash.0)?
            .map(|value| decode::<TxRecord>(value.value()))
            .transpose()?;
        match (seen_key, &scoped_key, seen_tx) {
            (Some(seen), Some((_, body)), _) if seen.body_hash == *body => {
                Acceptance::Replayed(seen.answer)
            }
            (Some(_), _, _) => Acceptance::KeyReused,
            (None, _, Some(first)) if live(first.accepted_ms) => {
                // A new key for a transaction already accepted: not accepted again; the
                // key remembers this answer.
                if let Some((scoped_key, body)) = &scoped_key {
                    let stored = KeyRecord {
                        body_hash: *body,
                        created_ms: now_ms,
                        answer: answer(&first, true),
                    };
                    keys.insert(scoped_key.as_str(), encode(&stored)?.as_slice())?;
                    write = true;
                }
                Acceptance::Duplicate(first)
            }
            (None, _, _) => {
                let waiting = txn.open_table(UNFINISHED)?.len()?;
                if waiting >= limits.max_unfinished {
                    return Err(StoreError::Full(format!(
                        "{waiting} transactions wait for their results, the most allowed"
                    )));
                }
                write = true;
                if let Some((scoped_key, body)) = &scoped_key {
                    let stored = KeyRecord {
                        body_hash: *body,
                        created_ms: now_ms,
                        answer: answer(&record, false),
                    };
                    keys.insert(scoped_key.as_str(), encode(&stored)?.as_slice())?;
                }
                transactions.insert(record.hash.0, encode(&record)?.as_slice())?;
                txn.open_table(UNFINISHED)?
                    .insert(record.hash.0, record.accepted_ms)?;
                if let Some(device) = device {
                    txn.open_table(DEVICE_TRANSACTIONS)?
                        .insert((device, record.hash.0), record.accepted_ms)?;
                }
                Acceptance::Accepted(record)
            }
        }
    };
    Ok((outcome, write))
}

/// The gateway's database.
pub struct GatewayStore {
    pub(crate) db: Database,
    /// Whether a write since the last durable one was not flushed.
    lazy: std::sync::atomic::AtomicBool,
    /// Most notifications waiting for delivery; past it, a new one is dead-lettered at once.
    pub(crate) max_pending: std::sync::atomic::AtomicU64,
}

/// How often writes not flushed when they committed are flushed.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

fn scoped(device: Option<&str>, key: &str) -> String {
    format!("{}\0{key}", device.unwrap_or(""))
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn decode<T: for<'a> Deserialize<'a>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl GatewayStore {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(TRANSACTIONS)?;
        txn.open_table(UNFINISHED)?;
        txn.open_table(KEYS)?;
        txn.open_table(DEVICE_TRANSACTIONS)?;
        txn.open_table(crate::outbox::RECEIVERS)?;
        txn.open_table(crate::outbox::RECEIVER_INDEX)?;
        txn.open_table(crate::outbox::DELIVERIES)?;
        txn.open_table(crate::outbox::QUEUE)?;
        txn.open_table(crate::outbox::RECEIVER_DELIVERIES)?;
        txn.open_table(crate::outbox::TX_DELIVERIES)?;
        txn.open_table(crate::outbox::COUNTERS)?;
        txn.commit()?;
        Ok(Self {
            db,
            lazy: Default::default(),
            max_pending: std::sync::atomic::AtomicU64::new(u64::MAX),
        })
    }

    pub(crate) fn begin_durable_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)?;
        Ok(txn)
    }

    /// A write that is not flushed when it commits: the next durable write, or
    /// [`GatewayStore::checkpoint`], flushes it.
    pub(crate) fn begin_lazy_write(&self) -> Result<redb::WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::None)?;
        self.lazy.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(txn)
    }

    /// Flushes the writes not flushed yet, if any. `cairn gateway` calls it every
    /// [`CHECKPOINT_EVERY`], so progress on results and deliveries is durable within that.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering::Relaxed;
        // Cleared before the flush: a lazy write that commits meanwhile sets it again.
        if self.lazy.swap(false, Relaxed) {
            let flushed = self.begin_durable_write().and_then(|txn| Ok(txn.commit()?));
            if flushed.is_err() {
                self.lazy.store(true, Relaxed);
            }
            flushed?;
        }
        Ok(())
    }

    /// Bounds the notifications waiting for delivery: past `max`, a notification owed is
    /// dead-lettered at once (listed, and sent on request), so one receiver that is down can
    /// neither grow the database without end nor stop the gateway accepting transactions.
    pub fn set_max_pending_deliveries(&self, max: u64) {
        self.max_pending
            .store(max, std::sync::atomic::Ordering::Relaxed);
    }

    /// Accepts `record` (status [`TxStatus::Accepted`]), durably, unless its key or the
    /// transaction itself was seen within the window, or the outbox is full
    /// ([`StoreError::Full`]). `key` is the idempotency key with the
    /// hash of the request's body; `answer(record, duplicate)` makes the answer to store under
    /// it (for a new key with a transaction already accepted, `duplicate` is set and `record`
    /// is the first one's).
    pub fn accept(
        &self,
        record: TxRecord,
        key: Option<(&str, B256)>,
        answer: fn(&TxRecord, bool) -> StoredAnswer,
        limits: Limits,
        now_ms: u64,
    ) -> Result<Acceptance, StoreError> {
        let request = Submission {
            record,
            key: key.map(|(key, body)| (key.to_string(), body)),
        };
        self.accept_all(vec![request], answer, limits, now_ms)?
            .pop()
            .unwrap_or_else(|| Err(StoreError::Database("no outcome".into())))
    }

    /// Accepts each submission as [`GatewayStore::accept`] does, in order, in one durable
    /// write (a group commit: one flush for many callers). Each has its own outcome; an error
    /// of the database fails them all.
    pub fn accept_all(
        &self,
        submissions: Vec<Submission>,
        answer: fn(&TxRecord, bool) -> StoredAnswer,
        limits: Limits,
        now_ms: u64,
    ) -> Result<Vec<Result<Acceptance, StoreError>>, StoreError> {
        let txn = self.begin_durable_write()?;
        let mut write = false;
        let mut outcomes = Vec::with_capacity(submissions.len());
        for submission in submissions {
            match accept_in(&txn, submission, answer, limits, now_ms) {
                Ok((acceptance, wrote)) => {
                    write |= wrote;
                    outcomes.push(Ok(acceptance));
                }
                Err(error @ (StoreError::Invalid(_) | StoreError::Full(_))) => {
                    outcomes.push(Err(error));
                }
                Err(error) => return Err(error),
            }
        }
        if write {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(outcomes)
    }

    /// The record of the transaction `hash`.
    pub fn transaction(&self, hash: &B256) -> Result<Option<TxRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        txn.open_table(TRANSACTIONS)?
            .get(hash.0)?
            .map(|value| decode(value.value()))
            .transpose()
    }

    /// The record of the transaction `hash`, as `txn` sees it.
    pub(crate) fn transaction_in(
        &self,
        txn: &redb::WriteTransaction,
        hash: &B256,
    ) -> Result<Option<TxRecord>, StoreError> {
        txn.open_table(TRANSACTIONS)?
            .get(hash.0)?
            .map(|value| decode(value.value()))
            .transpose()
    }

    /// Writes `record` back, durably; see [`GatewayStore::update_all`].
    pub fn update(&self, record: &TxRecord) -> Result<(), StoreError> {
        self.update_all(std::slice::from_ref(record))
    }

    /// Writes `records` back in one write. A record whose result becomes final leaves the
    /// unfinished index, and the notifications of its result are owed to every receiver it
    /// matches in that same write, which is then durable before this returns (so a
    /// notification is never sent of a result the gateway could forget).
    ///
    /// A write that makes nothing final is not flushed at once (see
    /// [`GatewayStore::checkpoint`]): what it records can be found again. Lost to a crash, a
    /// transaction's progress is taken up from where it was last flushed: it is looked up on
    /// the chain, or handed over again (a node answers that it knows it).
    pub fn update_all(&self, records: &[TxRecord]) -> Result<(), StoreError> {
        let txn = if records.iter().any(|record| record.status.is_final()) {
            self.begin_durable_write()?
        } else {
            self.begin_lazy_write()?
        };
        for record in records {
            let Some(before) = self.transaction_in(&txn, &record.hash)? else {
                return Err(StoreError::Invalid(format!(
                    "transaction {} was never accepted",
                    record.hash
                )));
            };
            txn.open_table(TRANSACTIONS)?
                .insert(record.hash.0, encode(record)?.as_slice())?;
            let mut unfinished = txn.open_table(UNFINISHED)?;
            if record.status.is_final() {
                unfinished.remove(record.hash.0)?;
                drop(unfinished);
                if !before.status.is_final() {
                    let max_pending = self.max_pending.load(std::sync::atomic::Ordering::Relaxed);
                    crate::outbox::owe_notifications(&txn, record, max_pending, record.updated_ms)?;
                }
            } else {
                unfinished.insert(record.hash.0, record.accepted_ms)?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Every transaction whose result is not final, oldest first: what forwarding and
    /// following take up again after a restart.
    pub fn unfinished(&self) -> Result<Vec<TxRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let unfinished = txn.open_table(UNFINISHED)?;
        let transactions = txn.open_table(TRANSACTIONS)?;
        let mut records = Vec::new();
        for entry in unfinished.iter()? {
            let (hash, _) = entry?;
            let Some(value) = transactions.get(hash.value())? else {
                return Err(StoreError::Corrupt(format!(
                    "unfinished transaction {} has no record",
                    B256::from(hash.value())
                )));
            };
            records.push(decode::<TxRecord>(value.value())?);
        }
        records.sort_by_key(|record| (record.accepted_ms, record.hash));
        Ok(records)
    }

    /// How many transactions wait for their results.
    pub fn unfinished_count(&self) -> Result<usize, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(UNFINISHED)?.len()? as usize)
    }

    /// How many receivers are registered.
    pub fn receiver_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(crate::outbox::RECEIVERS)?.len()?)
    }

    /// The transactions `device` sent, most recent first, at most `limit`.
    pub fn by_device(&self, device: &str, limit: usize) -> Result<Vec<B256>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEVICE_TRANSACTIONS)?;
        let mut sent = Vec::new();
        for entry in table.range((device, [0u8; 32])..=(device, [0xff; 32]))? {
            let (key, accepted) = entry?;
            sent.push((accepted.value(), B256::from(key.value().1)));
        }
        sent.sort_by(|a, b| b.cmp(a));
        Ok(sent.into_iter().take(limit).map(|(_, hash)| hash).collect())
    }

    /// Forgets the idempotency keys older than `window_ms`; returns how many.
    pub fn expire_keys(&self, window_ms: u64, now_ms: u64) -> Result<usize, StoreError> {
        let txn = self.begin_durable_write()?;
        let expired = {
            let mut keys = txn.open_table(KEYS)?;
            let mut old = Vec::new();
            for entry in keys.iter()? {
                let (key, value) = entry?;
                let record: KeyRecord = decode(value.value())?;
                if now_ms >= record.created_ms.saturating_add(window_ms) {
                    old.push(key.value().to_string());
                }
            }
            for key in &old {
                keys.remove(key.as_str())?;
            }
            old.len()
        };
        txn.commit()?;
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: u64 = 24 * 3_600_000;
    const LIMITS: Limits = Limits {
        window_ms: WINDOW,
        max_unfinished: 1_000,
    };
    const TWO: Limits = Limits {
        max_unfinished: 2,
        ..LIMITS
    };

    fn record(byte: u8, device: Option<&str>, at: u64) -> TxRecord {
        TxRecord {
            hash: B256::repeat_byte(byte),
            chain_id: 7,
            tx: Bytes::from(vec![byte; 3]),
            device: device.map(str::to_string),
            status: TxStatus::Accepted,
            attempts: 0,
            accepted_ms: at,
            updated_ms: at,
            block: None,
            error: None,
            recipient: None,
            block_hash: None,
            index: None,
            receipt: None,
        }
    }

    fn answer(record: &TxRecord, duplicate: bool) -> StoredAnswer {
        StoredAnswer {
            status: if duplicate { 200 } else { 202 },
            body: serde_json::json!({"hash": record.hash, "duplicate": duplicate}),
        }
    }

    fn store() -> (tempfile::TempDir, GatewayStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = GatewayStore::open(dir.path().join("gateway.redb")).unwrap();
        (dir, store)
    }

    #[test]
    fn an_accepted_transaction_survives_a_reopen_until_its_result_is_final() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.redb");
        {
            let store = GatewayStore::open(&path).unwrap();
            let accepted = store
                .accept(record(1, Some("teller-1"), 10), None, answer, LIMITS, 10)
                .unwrap();
            assert_eq!(
                accepted,
                Acceptance::Accepted(record(1, Some("teller-1"), 10))
            );
            store
                .accept(record(2, None, 5), None, answer, LIMITS, 11)
                .unwrap();
        }
        let store = GatewayStore::open(&path).unwrap();
        let unfinished = store.unfinished().unwrap();
        assert_eq!(
            unfinished.iter().map(|r| r.hash).collect::<Vec<_>>(),
            vec![B256::repeat_byte(2), B256::repeat_byte(1)],
            "oldest first"
        );
        let mut first = store.transaction(&B256::repeat_byte(1)).unwrap().unwrap();
        first.status = TxStatus::Submitted;
        first.attempts = 1;
        store.update(&first).unwrap();
        assert_eq!(
            store.unfinished().unwrap().len(),
            2,
            "submitted is not final"
        );
        first.status = TxStatus::Committed;
        first.block = Some(9);
        store.update(&first).unwrap();
        assert_eq!(store.unfinished().unwrap().len(), 1);
        assert_eq!(
            store.transaction(&B256::repeat_byte(1)).unwrap(),
            Some(first)
        );
        assert!(matches!(
            store.update(&record(3, None, 1)),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn a_key_replays_its_first_answer_refuses_another_body_and_expires() {
        let (_dir, store) = store();
        let body = B256::repeat_byte(0xaa);
        let first = store
            .accept(
                record(1, Some("d"), 0),
                Some(("k1", body)),
                answer,
                LIMITS,
                0,
            )
            .unwrap();
        assert!(matches!(first, Acceptance::Accepted(_)));
        // The same key and body: the first answer, whatever transaction came with it.
        let again = store
            .accept(
                record(1, Some("d"), 5),
                Some(("k1", body)),
                answer,
                LIMITS,
                5,
            )
            .unwrap();
        assert_eq!(
            again,
            Acceptance::Replayed(answer(&record(1, None, 0), false))
        );
        // Another body under the key.
        let other = store
            .accept(
                record(2, Some("d"), 6),
                Some(("k1", B256::repeat_byte(0xbb))),
                answer,
                LIMITS,
                6,
            )
            .unwrap();
        assert_eq!(other, Acceptance::KeyReused);
        assert!(store.transaction(&B256::repeat_byte(2)).unwrap().is_none());
        // Keys belong to their device.
        let elsewhere = store
            .accept(
                record(2, Some("e"), 7),
                Some(("k1", B256::repeat_byte(0xbb))),
                answer,
                LIMITS,
                7,
            )
            .unwrap();
        assert!(matches!(elsewhere, Acceptance::Accepted(_)));
        // After the window the key is free again.
        assert_eq!(store.expire_keys(WINDOW, WINDOW - 1).unwrap(), 0);
        assert_eq!(store.expire_keys(WINDOW, WINDOW + 7).unwrap(), 2);
        let later = store
            .accept(
                record(3, Some("d"), WINDOW + 8),
                Some(("k1", B256::repeat_byte(0xcc))),
                answer,
                LIMITS,
                WINDOW + 8,
            )
            .unwrap();
        assert!(matches!(later, Acceptance::Accepted(_)));
    }

    #[test]
    fn without_a_key_the_same_transaction_is_accepted_once_per_window() {
        let (_dir, store) = store();
        store
            .accept(record(1, Some("d"), 100), None, answer, LIMITS, 100)
            .unwrap();
        let duplicate = store
            .accept(record(1, Some("other"), 200), None, answer, LIMITS, 200)
            .unwrap();
        assert_eq!(duplicate, Acceptance::Duplicate(record(1, Some("d"), 100)));
        // A new key does not make it new: a duplicate, and the key remembers that answer.
        let keyed = store
            .accept(
                record(1, Some("d"), 300),
                Some(("k", B256::repeat_byte(1))),
                answer,
                LIMITS,
                300,
            )
            .unwrap();
        assert_eq!(keyed, Acceptance::Duplicate(record(1, Some("d"), 100)));
        let replayed = store
            .accept(
                record(1, Some("d"), 400),
                Some(("k", B256::repeat_byte(1))),
                answer,
                LIMITS,
                400,
            )
            .unwrap();
        assert_eq!(
            replayed,
            Acceptance::Replayed(answer(&record(1, None, 0), true))
        );
        assert_eq!(
            store
                .transaction(&B256::repeat_byte(1))
                .unwrap()
                .unwrap()
                .accepted_ms,
            100,
            "the first record stands"
        );
        // Outside the window it is accepted (and forwarded) again.
        let again = store
            .accept(
                record(1, None, WINDOW + 100),
                None,
                answer,
                LIMITS,
                WINDOW + 100,
            )
            .unwrap();
        assert!(matches!(again, Acceptance::Accepted(_)));
    }

    #[test]
    fn each_device_s_transactions_are_listed_newest_first() {
        let (_dir, store) = store();
        for (byte, device, at) in [(1, "a", 1), (2, "b", 2), (3, "a", 3), (4, "a", 4)] {
            store
                .accept(record(byte, Some(device), at), None, answer, LIMITS, at)
                .unwrap();
        }
        assert_eq!(
            store.by_device("a", 2).unwrap(),
            vec![B256::repeat_byte(4), B256::repeat_byte(3)]
        );
        assert_eq!(
            store.by_device("b", 10).unwrap(),
            vec![B256::repeat_byte(2)]
        );
        assert!(store.by_device("c", 10).unwrap().is_empty());
    }

    #[test]
    fn a_full_outbox_refuses_new_transactions_until_results_come() {
        let (_dir, store) = store();
        for byte in 1..=2 {
            store
                .accept(record(byte, None, 0), None, answer, TWO, 0)
                .unwrap();
        }
        assert!(matches!(
            store.accept(record(3, None, 0), None, answer, TWO, 0),
            Err(StoreError::Full(_))
        ));
        // A known transaction is still answered.
        assert!(matches!(
            store.accept(record(1, None, 1), None, answer, TWO, 1),
            Ok(Acceptance::Duplicate(_))
        ));
        let mut first = store.transaction(&B256::repeat_byte(1)).unwrap().unwrap();
        first.status = TxStatus::Committed;
        store.update(&first).unwrap();
        assert!(matches!(
            store.accept(record(3, None, 2), None, answer, TWO, 2),
            Ok(Acceptance::Accepted(_))
        ));
    }

    #[test]
    fn a_group_is_accepted_in_one_write_each_with_its_own_outcome() {
        let (_dir, store) = store();
        let submission = |byte: u8, key: Option<&str>| Submission {
            record: record(byte, None, 0),
            key: key.map(|key| (key.to_string(), B256::repeat_byte(byte))),
        };
        let outcomes = store
            .accept_all(
                vec![
                    submission(1, None),
                    // The same transaction again in the same group: a duplicate of the first.
                    submission(1, None),
                    submission(2, Some("k")),
                    // The outbox (two) is full now: refused, the others stand.
                    submission(3, None),
                    submission(2, Some("k")),
                ],
                answer,
                TWO,
                0,
            )
            .unwrap();
        assert!(matches!(outcomes[0], Ok(Acceptance::Accepted(_))));
        assert!(matches!(outcomes[1], Ok(Acceptance::Duplicate(_))));
        assert!(matches!(outcomes[2], Ok(Acceptance::Accepted(_))));
        assert!(matches!(outcomes[3], Err(StoreError::Full(_))));
        assert!(matches!(outcomes[4], Ok(Acceptance::Replayed(_))));
        assert_eq!(store.unfinished().unwrap().len(), 2);
    }

    #[test]
    fn progress_written_lazily_is_durable_after_a_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.redb");
        {
            let store = GatewayStore::open(&path).unwrap();
            store
                .accept(record(1, None, 0), None, answer, LIMITS, 0)
                .unwrap();
            let mut first = store.transaction(&B256::repeat_byte(1)).unwrap().unwrap();
            first.status = TxStatus::Submitted;
            first.attempts = 1;
            store.update(&first).unwrap();
            assert!(store.lazy.load(std::sync::atomic::Ordering::Relaxed));
            store.checkpoint().unwrap();
            assert!(!store.lazy.load(std::sync::atomic::Ordering::Relaxed));
        }
        let store = GatewayStore::open(&path).unwrap();
        assert_eq!(
            store
                .transaction(&B256::repeat_byte(1))
                .unwrap()
                .unwrap()
                .status,
            TxStatus::Submitted
        );
        assert_eq!(store.unfinished().unwrap()[0].attempts, 1);
    }

    #[test]
    fn bounds_on_keys_and_devices_are_errors_not_panics() {
        let (_dir, store) = store();
        let long_device = "d".repeat(MAX_DEVICE_BYTES + 1);
        assert!(matches!(
            store.accept(record(1, Some(&long_device), 0), None, answer, LIMITS, 0),
            Err(StoreError::Invalid(_))
        ));
        let long_key = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(
            store.accept(
                record(1, None, 0),
                Some((&long_key, B256::ZERO)),
                answer,
                LIMITS,
                0
            ),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.accept(
                record(1, None, 0),
                Some(("", B256::ZERO)),
                answer,
                LIMITS,
                0
            ),
            Err(StoreError::Invalid(_))
        ));
        assert!(store.transaction(&B256::repeat_byte(1)).unwrap().is_none());
    }
}
