//! Receivers and the notifications owed to them, in the gateway's database (seed 002's steps
//! 304, 42–43 and 46).
//!
//! A notification is written in the same write transaction that records its transaction's
//! final result, so a result is never known without its notifications being owed, and
//! `kill -9` at any moment loses neither. Each receiver has a queue: only the oldest
//! notification of a receiver is attempted, so one receiver learns results in the order the
//! gateway learned them, and a receiver that is down holds back only its own queue. An
//! attempt that fails is tried again along the retry schedule, with jitter, then the
//! notification is dead-lettered (kept, and redelivered on request). A receiver that answers
//! 410 Gone is disabled. A notification keeps its `webhook-id` and body for good, so a
//! receiver recognises a redelivery after a restart.

use std::collections::HashSet;
use std::ops::Bound;
use std::time::Duration;

use cairn_primitives::{B256, keccak256};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::store::{GatewayStore, StoreError, TxRecord, TxStatus, decode, encode};
use crate::webhook::Match;

/// receiver id -> JSON of its [`Receiver`].
pub(crate) const RECEIVERS: TableDefinition<&str, &[u8]> = TableDefinition::new("receivers");
/// (what it matches, receiver id) -> ().
pub(crate) const RECEIVER_INDEX: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("receiver_index");
/// notification id (its `webhook-id`) -> JSON of its [`Delivery`].
pub(crate) const DELIVERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("deliveries");
/// (receiver id, sequence) -> notification id, for notifications still to deliver: each
/// receiver's queue, in order.
pub(crate) const QUEUE: TableDefinition<(&str, u64), &str> = TableDefinition::new("queue");
/// (receiver id, sequence) -> notification id, for every notification a receiver was owed.
pub(crate) const RECEIVER_DELIVERIES: TableDefinition<(&str, u64), &str> =
    TableDefinition::new("receiver_deliveries");
/// (transaction hash, notification id) -> ().
pub(crate) const TX_DELIVERIES: TableDefinition<([u8; 32], &str), ()> =
    TableDefinition::new("transaction_deliveries");
/// Counters: `next_sequence`.
pub(crate) const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

/// Longest receiver URL.
pub const MAX_URL_BYTES: usize = 2_048;

/// A registered receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receiver {
    /// Its id (`rcv_…`).
    pub id: String,
    /// Where notifications are POSTed.
    pub url: String,
    /// What it is told about.
    #[serde(rename = "match")]
    pub matches: Match,
    /// Its signing secret (`whsec_…`).
    pub secret: String,
    /// The device that registered it.
    pub device: Option<String>,
    /// Set once it answered 410 Gone: nothing more is sent to it.
    pub disabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// When it was registered (ms since the epoch).
    pub created_ms: u64,
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for the notifications before it in its queue).
    Pending,
    /// Its receiver answered 2xx.
    Delivered,
    /// Given up: the retry schedule ran out, or its receiver was disabled or removed.
    /// `POST /v1/deliveries/{id}/retry` sends it again.
    Dead,
}

/// A notification owed to a receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id, sent as `webhook-id` on every attempt.
    pub id: String,
    /// The receiver.
    pub receiver: String,
    /// The transaction it tells of.
    pub hash: B256,
    /// `transaction.committed`, `transaction.failed` or `transaction.dropped`.
    pub event: String,
    /// The exact body sent on every attempt.
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made, in all.
    pub attempts: u32,
    /// Failed attempts since it was last queued: the place in the retry schedule.
    pub step: u32,
    /// Its place in its receiver's queue.
    pub sequence: u64,
    /// When it was created (ms since the epoch).
    pub created_ms: u64,
    /// When it is attempted next, while pending.
    pub next_attempt_ms: u64,
    /// When it was last attempted.
    pub last_attempt_ms: Option<u64>,
    /// The HTTP status of the last answer.
    pub last_status: Option<u16>,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// When its receiver answered 2xx.
    pub delivered_ms: Option<u64>,
}

/// What an attempt at a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered(u16),
    /// The receiver answered 410 Gone: it is disabled.
    Gone,
    /// Another status, or no answer (`None`) in time.
    Failed(Option<u16>, String),
}

/// What a request to redeliver came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redelivery {
    /// Queued again, at the end of its receiver's queue.
    Queued(Delivery),
    /// No such notification.
    Unknown,
    /// It is still pending.
    StillPending(Delivery),
    /// Its receiver is disabled or was removed.
    ReceiverUnavailable(String),
}

/// A notification due now, with its receiver.
#[derive(Debug, Clone)]
pub struct Due {
    /// The notification.
    pub delivery: Delivery,
    /// Its receiver.
    pub receiver: Receiver,
}

/// The event a final status is told as.
fn event_of(status: TxStatus) -> &'static str {
    match status {
        TxStatus::Committed => "transaction.committed",
        TxStatus::Failed => "transaction.failed",
        _ => "transaction.dropped",
    }
}

/// The body of the notification of `record`'s result.
pub fn payload_of(record: &TxRecord, now_ms: u64) -> String {
    let data = serde_json::json!({
        "hash": record.hash,
        "chain_id": record.chain_id,
        "status": record.status,
        "block": record.block,
        "block_hash": record.block_hash,
        "receipt": record.receipt,
        "error": record.error,
        "device": record.device,
        "recipient": record.recipient,
        "attempts": record.attempts,
        "accepted_at": cairn_api_types::rfc3339(record.accepted_ms),
    });
    serde_json::json!({
        "type": event_of(record.status),
        "timestamp": cairn_api_types::rfc3339(now_ms),
        "data": data,
    })
    .to_string()
}

fn next_sequence(txn: &redb::WriteTransaction) -> Result<u64, StoreError> {
    let mut counters = txn.open_table(COUNTERS)?;
    let next = counters.get("next_sequence")?.map_or(0, |v| v.value());
    counters.insert("next_sequence", next + 1)?;
    Ok(next)
}

/// Queues the notifications of `record`'s final result for every enabled receiver that
/// matches it (at most once per receiver), inside `txn`.
pub(crate) fn owe_notifications(
    txn: &redb::WriteTransaction,
    record: &TxRecord,
    max_pending: u64,
    now_ms: u64,
) -> Result<(), StoreError> {
    let mut keys = vec![Match::Transaction(record.hash)];
    if let Some(device) = &record.device {
        keys.push(Match::Device(device.clone()));
    }
    if let Some(recipient) = record.recipient {
        keys.push(Match::Recipient(recipient));
    }
    let mut ids = Vec::new();
    {
        let index = txn.open_table(RECEIVER_INDEX)?;
        for key in keys {
            let key = key.index_key();
            for entry in index.range((key.as_str(), "")..)? {
                let (found, _) = entry?;
                let (matched, id) = found.value();
                if matched != key {
                    break;
                }
                if !ids.iter().any(|known: &String| known == id) {
                    ids.push(id.to_string());
                }
            }
        }
    }
    let payload = payload_of(record, now_ms);
    for id in ids {
        let receiver: Receiver = {
            let receivers = txn.open_table(RECEIVERS)?;
            let Some(value) = receivers.get(id.as_str())? else {
                continue;
            };
            decode(value.value())?
        };
        if receiver.disabled {
            continue;
        }
        owe(
            txn,
            (&receiver.id, max_pending),
            record,
            payload.clone(),
            now_ms,
        )?;
    }
    Ok(())
}

/// Queues one notification of `record` for `receiver`; past `max_pending` notifications
/// waiting in all, it is dead-lettered at once instead.
fn owe(
    txn: &redb::WriteTransaction,
    (receiver, max_pending): (&str, u64),
    record: &TxRecord,
    payload: String,
    now_ms: u64,
) -> Result<(), StoreError> {
    let event = event_of(record.status);
    let mut preimage = receiver.as_bytes().to_vec();
    preimage.extend_from_slice(&record.hash.0);
    preimage.extend_from_slice(&record.accepted_ms.to_be_bytes());
    preimage.extend_from_slice(event.as_bytes());
    let id = format!("msg_{}", hex::encode(&keccak256(&preimage).0[..12]));
    if txn.open_table(DELIVERIES)?.get(id.as_str())?.is_some() {
        return Ok(());
    }
    let sequence = next_sequence(txn)?;
    let waiting = txn.open_table(QUEUE)?.len()?;
    let full = waiting >= max_pending;
    let delivery = Delivery {
        id: id.clone(),
        receiver: receiver.to_string(),
        hash: record.hash,
        event: event.to_string(),
        payload,
        status: if full {
            DeliveryStatus::Dead
        } else {
            DeliveryStatus::Pending
        },
        attempts: 0,
        step: 0,
        sequence,
        created_ms: now_ms,
        next_attempt_ms: now_ms,
        last_attempt_ms: None,
        last_status: None,
        last_error: full.then(|| {
            format!("{waiting} notifications waited for delivery, the most allowed; not queued")
        }),
        delivered_ms: None,
    };
    txn.open_table(DELIVERIES)?
        .insert(id.as_str(), encode(&delivery)?.as_slice())?;
    if !full {
        txn.open_table(QUEUE)?
            .insert((receiver, sequence), id.as_str())?;
    }
    txn.open_table(RECEIVER_DELIVERIES)?
        .insert((receiver, sequence), id.as_str())?;
    txn.open_table(TX_DELIVERIES)?
        .insert((record.hash.0, id.as_str()), ())?;
    Ok(())
}

fn get_delivery(txn: &redb::WriteTransaction, id: &str) -> Result<Option<Delivery>, StoreError> {
    txn.open_table(DELIVERIES)?
        .get(id)?
        .map(|value| decode(value.value()))
        .transpose()
}

fn put_delivery(txn: &redb::WriteTransaction, delivery: &Delivery) -> Result<(), StoreError> {
    txn.open_table(DELIVERIES)?
        .insert(delivery.id.as_str(), encode(delivery)?.as_slice())?;
    Ok(())
}

/// Dead-letters every notification in `receiver`'s queue, saying `why`.
fn empty_queue(
    txn: &redb::WriteTransaction,
    receiver: &str,
    why: &str,
    now_ms: u64,
) -> Result<(), StoreError> {
    let queued: Vec<(u64, String)> = {
        let queue = txn.open_table(QUEUE)?;
        let mut queued = Vec::new();
        for entry in queue.range((receiver, 0)..=(receiver, u64::MAX))? {
            let (key, id) = entry?;
            queued.push((key.value().1, id.value().to_string()));
        }
        queued
    };
    let mut queue = txn.open_table(QUEUE)?;
    for (sequence, id) in queued {
        queue.remove((receiver, sequence))?;
        if let Some(mut delivery) = get_delivery(txn, &id)? {
            delivery.status = DeliveryStatus::Dead;
            delivery.last_error = Some(why.to_string());
            delivery.next_attempt_ms = now_ms;
            put_delivery(txn, &delivery)?;
        }
    }
    Ok(())
}

/// Disables `receiver`, saying `why`, and dead-letters its queue.
fn disable(
    txn: &redb::WriteTransaction,
    receiver: &str,
    why: &str,
    now_ms: u64,
) -> Result<(), StoreError> {
    empty_queue(
        txn,
        receiver,
        &format!("its receiver was disabled: {why}"),
        now_ms,
    )?;
    let mut receivers = txn.open_table(RECEIVERS)?;
    let stored = receivers
        .get(receiver)?
        .map(|value| decode::<Receiver>(value.value()))
        .transpose()?;
    if let Some(mut stored) = stored {
        stored.disabled = true;
        stored.disabled_reason = Some(why.to_string());
        receivers.insert(receiver, encode(&stored)?.as_slice())?;
    }
    Ok(())
}

/// The delay before the attempt after `step` failed ones: the schedule's, within ±20%.
fn backoff(schedule: &[Duration], step: usize) -> Option<u64> {
    let base = schedule.get(step)?.as_millis() as u64;
    let jitter: f64 = rand::random::<f64>() * 0.4 - 0.2;
    Some((base as f64 * (1.0 + jitter)).max(0.0) as u64)
}

impl GatewayStore {
    /// Registers `receiver`, unless `max` are registered already. One matching a transaction
    /// whose result is known is owed that result at once.
    pub fn add_receiver(&self, receiver: &Receiver, max: u64) -> Result<(), StoreError> {
        let txn = self.begin_durable_write()?;
        {
            let mut receivers = txn.open_table(RECEIVERS)?;
            if receivers.len()? >= max {
                return Err(StoreError::Limit(format!(
                    "{max} receivers are registered, the most allowed"
                )));
            }
            receivers.insert(receiver.id.as_str(), encode(receiver)?.as_slice())?;
            txn.open_table(RECEIVER_INDEX)?.insert(
                (receiver.matches.index_key().as_str(), receiver.id.as_str()),
                (),
            )?;
        }
        if let Match::Transaction(hash) = &receiver.matches
            && let Some(record) = self.transaction_in(&txn, hash)?
            && record.status.is_final()
        {
            let payload = payload_of(&record, receiver.created_ms);
            let max_pending = self.max_pending.load(std::sync::atomic::Ordering::Relaxed);
            owe(
                &txn,
                (&receiver.id, max_pending),
                &record,
                payload,
                receiver.created_ms,
            )?;
        }
        txn.commit()?;
        Ok(())
    }

    /// The receiver `id`.
    pub fn receiver(&self, id: &str) -> Result<Option<Receiver>, StoreError> {
        let txn = self.db.begin_read()?;
        txn.open_table(RECEIVERS)?
            .get(id)?
            .map(|value| decode(value.value()))
            .transpose()
    }

    /// Registered receivers (those `device` registered, if given), in id order, from after
    /// `after`, at most `limit`.
    pub fn receivers(
        &self,
        device: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Receiver>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECEIVERS)?;
        let start = match after {
            Some(after) => Bound::Excluded(after),
            None => Bound::Unbounded,
        };
        let mut found = Vec::new();
        for entry in table.range::<&str>((start, Bound::Unbounded))? {
            let (_, value) = entry?;
            let receiver: Receiver = decode(value.value())?;
            if device.is_none_or(|device| receiver.device.as_deref() == Some(device)) {
                found.push(receiver);
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Removes the receiver `id`; its undelivered notifications are dead-lettered. Whether
    /// it was registered.
    pub fn remove_receiver(&self, id: &str, now_ms: u64) -> Result<bool, StoreError> {
        let txn = self.begin_durable_write()?;
        let Some(receiver) = txn
            .open_table(RECEIVERS)?
            .remove(id)?
            .map(|value| decode::<Receiver>(value.value()))
            .transpose()?
        else {
            return Ok(false);
        };
        txn.open_table(RECEIVER_INDEX)?
            .remove((receiver.matches.index_key().as_str(), id))?;
        empty_queue(&txn, id, "its receiver was removed", now_ms)?;
        txn.commit()?;
        Ok(true)
    }

    /// The notification `id`.
    pub fn delivery(&self, id: &str) -> Result<Option<Delivery>, StoreError> {
        let txn = self.db.begin_read()?;
        txn.open_table(DELIVERIES)?
            .get(id)?
            .map(|value| decode(value.value()))
            .transpose()
    }

    /// The notifications owed for the transaction `hash`, oldest first.
    pub fn deliveries_of(&self, hash: &B256) -> Result<Vec<Delivery>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(TX_DELIVERIES)?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let mut found = Vec::new();
        for entry in index.range((hash.0, "")..)? {
            let (key, _) = entry?;
            let (of, id) = key.value();
            if of != hash.0 {
                break;
            }
            if let Some(value) = deliveries.get(id)? {
                found.push(decode::<Delivery>(value.value())?);
            }
        }
        found.sort_by_key(|delivery| delivery.sequence);
        Ok(found)
    }

    /// The notifications owed to `receiver`, newest first, of `status` if given, at most
    /// `limit`, looking at no more than `scan` of them.
    pub fn deliveries_to(
        &self,
        receiver: &str,
        status: Option<DeliveryStatus>,
        limit: usize,
        scan: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let txn = self.db.begin_read()?;
        let index = txn.open_table(RECEIVER_DELIVERIES)?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let mut found = Vec::new();
        for entry in index
            .range((receiver, 0)..=(receiver, u64::MAX))?
            .rev()
            .take(scan)
        {
            let (_, id) = entry?;
            let Some(value) = deliveries.get(id.value())? else {
                continue;
            };
            let delivery: Delivery = decode(value.value())?;
            if status.is_none_or(|status| delivery.status == status) {
                found.push(delivery);
                if found.len() >= limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Notifications waiting to be delivered.
    pub fn pending_deliveries(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(QUEUE)?.len()?)
    }

    /// The first notification of each receiver's queue that is due at `now_ms`, skipping the
    /// receivers in `busy`, at most `limit`; and when the next one not yet due will be. The
    /// receivers are taken in turn from the one after `after` (the last one taken by the
    /// previous call), round to the start, so none waits behind others for ever.
    pub fn due(
        &self,
        now_ms: u64,
        busy: &HashSet<String>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<Due>, Option<u64>), StoreError> {
        let txn = self.db.begin_read()?;
        let queue = txn.open_table(QUEUE)?;
        let deliveries = txn.open_table(DELIVERIES)?;
        let receivers = txn.open_table(RECEIVERS)?;
        let mut due = Vec::new();
        let mut next = None::<u64>;
        let mut from: Bound<(String, u64)> = match after {
            Some(after) => Bound::Excluded((after.to_string(), u64::MAX)),
            None => Bound::Unbounded,
        };
        let mut wrapped = after.is_none();
        while due.len() < limit {
            let first = {
                let start = match &from {
                    Bound::Excluded((receiver, sequence)) => {
                        Bound::Excluded((receiver.as_str(), *sequence))
                    }
                    _ => Bound::Unbounded,
                };
                let mut range = queue.range::<(&str, u64)>((start, Bound::Unbounded))?;
                match range.next() {
                    Some(entry) => {
                        let (key, id) = entry?;
                        Some((key.value().0.to_string(), id.value().to_string()))
                    }
                    None => None,
                }
            };
            let Some((receiver_id, id)) = first else {
                if wrapped {
                    break;
                }
                // Round to the start, up to where this call began.
                wrapped = true;
                from = Bound::Unbounded;
                continue;
            };
            if wrapped && after.is_some_and(|after| receiver_id.as_str() > after) {
                break;
            }
            // The next receiver's queue starts after this one's last possible entry.
            from = Bound::Excluded((receiver_id.clone(), u64::MAX));
            if busy.contains(&receiver_id) {
                continue;
            }
            let (Some(delivery), Some(receiver)) = (
                deliveries.get(id.as_str())?,
                receivers.get(receiver_id.as_str())?,
            ) else {
                continue;
            };
            let delivery: Delivery = decode(delivery.value())?;
            if delivery.next_attempt_ms <= now_ms {
                due.push(Due {
                    delivery,
                    receiver: decode(receiver.value())?,
                });
            } else {
                next = Some(next.map_or(delivery.next_attempt_ms, |n| {
                    n.min(delivery.next_attempt_ms)
                }));
            }
        }
        Ok((due, next))
    }

    /// Records what attempts came to, in one write. A failure is tried again after
    /// the schedule's next delay, or dead-lettered when the schedule has run out; 410 Gone
    /// disables the receiver and dead-letters its queue.
    pub fn record_attempts(
        &self,
        attempts: &[(String, Outcome)],
        schedule: &[Duration],
        now_ms: u64,
    ) -> Result<(), StoreError> {
        // Not flushed now: see `GatewayStore::checkpoint`. Lost to a crash, an attempt is
        // made again (at least once, under the same webhook-id).
        let txn = self.begin_lazy_write()?;
        for (id, outcome) in attempts {
            let Some(mut delivery) = get_delivery(&txn, id)? else {
                continue;
            };
            if delivery.status != DeliveryStatus::Pending {
                // Dead-lettered while the attempt was under way (its receiver removed).
                continue;
            }
            delivery.attempts += 1;
            delivery.last_attempt_ms = Some(now_ms);
            let receiver = delivery.receiver.clone();
            match outcome {
                Outcome::Delivered(status) => {
                    delivery.status = DeliveryStatus::Delivered;
                    delivery.last_status = Some(*status);
                    delivery.last_error = None;
                    delivery.delivered_ms = Some(now_ms);
                    txn.open_table(QUEUE)?
                        .remove((receiver.as_str(), delivery.sequence))?;
                    put_delivery(&txn, &delivery)?;
                }
                Outcome::Gone => {
                    delivery.last_status = Some(410);
                    put_delivery(&txn, &delivery)?;
                    disable(
                        &txn,
                        &receiver,
                        &format!("answered 410 Gone to notification {id}"),
                        now_ms,
                    )?;
                }
                Outcome::Failed(status, error) => {
                    delivery.last_status = *status;
                    delivery.last_error = Some(error.clone());
                    match backoff(schedule, delivery.step as usize) {
                        Some(delay) => {
                            delivery.step += 1;
                            delivery.next_attempt_ms = now_ms.saturating_add(delay);
                        }
                        None => {
                            // The whole schedule failed: the receiver is taken to be gone
                            // (its queue would otherwise grow for as long as it is down).
                            delivery.status = DeliveryStatus::Dead;
                            txn.open_table(QUEUE)?
                                .remove((receiver.as_str(), delivery.sequence))?;
                            put_delivery(&txn, &delivery)?;
                            disable(
                                &txn,
                                &receiver,
                                &format!("notification {id} failed for its whole retry schedule"),
                                now_ms,
                            )?;
                            continue;
                        }
                    }
                    put_delivery(&txn, &delivery)?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Queues the notification `id` again, at the end of its receiver's queue, due now.
    pub fn redeliver(&self, id: &str, now_ms: u64) -> Result<Redelivery, StoreError> {
        let txn = self.begin_durable_write()?;
        let Some(mut delivery) = get_delivery(&txn, id)? else {
            return Ok(Redelivery::Unknown);
        };
        if delivery.status == DeliveryStatus::Pending {
            return Ok(Redelivery::StillPending(delivery));
        }
        let receiver = txn
            .open_table(RECEIVERS)?
            .get(delivery.receiver.as_str())?
            .map(|value| decode::<Receiver>(value.value()))
            .transpose()?;
        match receiver {
            None => {
                return Ok(Redelivery::ReceiverUnavailable(format!(
                    "receiver {} was removed",
                    delivery.receiver
                )));
            }
            Some(receiver) if receiver.disabled => {
                return Ok(Redelivery::ReceiverUnavailable(format!(
                    "receiver {} is disabled: {}",
                    receiver.id,
                    receiver.disabled_reason.as_deref().unwrap_or("")
                )));
            }
            Some(_) => {}
        }
        txn.open_table(RECEIVER_DELIVERIES)?
            .remove((delivery.receiver.as_str(), delivery.sequence))?;
        let sequence = next_sequence(&txn)?;
        delivery.status = DeliveryStatus::Pending;
        delivery.step = 0;
        delivery.sequence = sequence;
        delivery.next_attempt_ms = now_ms;
        put_delivery(&txn, &delivery)?;
        txn.open_table(QUEUE)?
            .insert((delivery.receiver.as_str(), sequence), id)?;
        txn.open_table(RECEIVER_DELIVERIES)?
            .insert((delivery.receiver.as_str(), sequence), id)?;
        txn.commit()?;
        Ok(Redelivery::Queued(delivery))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Acceptance, Limits, StoredAnswer};
    use cairn_primitives::{Address, Bytes};

    const LIMITS: Limits = Limits {
        window_ms: 1_000_000,
        max_unfinished: 100,
    };

    fn store() -> (tempfile::TempDir, GatewayStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = GatewayStore::open(dir.path().join("g.redb")).unwrap();
        (dir, store)
    }

    fn receiver(id: &str, matches: Match) -> Receiver {
        Receiver {
            id: id.into(),
            url: format!("http://127.0.0.1:9/{id}"),
            matches,
            secret: crate::webhook::new_secret(),
            device: None,
            disabled: false,
            disabled_reason: None,
            created_ms: 0,
        }
    }

    /// Accepts a transaction (`byte` makes its hash) from `device` to `recipient`, then
    /// records it as committed at `at`.
    fn commit(store: &GatewayStore, byte: u8, device: &str, recipient: Address, at: u64) {
        let record = TxRecord {
            hash: B256::repeat_byte(byte),
            chain_id: 7,
            tx: Bytes::from(vec![byte]),
            device: Some(device.into()),
            status: TxStatus::Accepted,
            attempts: 0,
            accepted_ms: at,
            updated_ms: at,
            block: None,
            error: None,
            recipient: Some(recipient),
            block_hash: None,
            index: None,
            receipt: None,
        };
        let answer = |_: &TxRecord, _| StoredAnswer {
            status: 202,
            body: serde_json::Value::Null,
        };
        let accepted = store.accept(record, None, answer, LIMITS, at).unwrap();
        let Acceptance::Accepted(mut record) = accepted else {
            panic!("not accepted: {accepted:?}");
        };
        record.status = TxStatus::Committed;
        record.block = Some(3);
        record.updated_ms = at;
        store.update(&record).unwrap();
    }

    const SCHEDULE: [Duration; 2] = [Duration::from_secs(10), Duration::from_secs(100)];

    fn due_now(store: &GatewayStore, now: u64) -> Vec<(String, B256)> {
        let (due, _) = store.due(now, &HashSet::new(), 100, None).unwrap();
        due.into_iter()
            .map(|due| (due.receiver.id, due.delivery.hash))
            .collect()
    }

    #[test]
    fn a_final_result_owes_one_notification_to_each_matching_receiver() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.redb");
        let to = Address::repeat_byte(0xb0);
        let hash = B256::repeat_byte(1);
        {
            let store = GatewayStore::open(&path).unwrap();
            for receiver in [
                receiver("by-device", Match::Device("teller".into())),
                receiver("by-recipient", Match::Recipient(to)),
                receiver("by-hash", Match::Transaction(hash)),
                receiver("other-device", Match::Device("clerk".into())),
                receiver("other-recipient", Match::Recipient(Address::repeat_byte(1))),
            ] {
                store.add_receiver(&receiver, 10).unwrap();
            }
            commit(&store, 1, "teller", to, 50);
        }
        // Written with the result: there after a reopen.
        let store = GatewayStore::open(&path).unwrap();
        let owed = store.deliveries_of(&hash).unwrap();
        let mut receivers: Vec<&str> = owed.iter().map(|d| d.receiver.as_str()).collect();
        receivers.sort();
        assert_eq!(receivers, ["by-device", "by-hash", "by-recipient"]);
        for delivery in &owed {
            assert_eq!(delivery.status, DeliveryStatus::Pending);
            assert_eq!(delivery.event, "transaction.committed");
            let body: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap();
            assert_eq!(body["type"], "transaction.committed");
            assert_eq!(body["data"]["hash"], hash.to_string());
            assert_eq!(body["data"]["chain_id"], 7);
            assert_eq!(body["data"]["status"], "committed");
            assert_eq!(body["data"]["block"], 3);
            assert!(delivery.id.starts_with("msg_"));
        }
        assert_eq!(store.pending_deliveries().unwrap(), 3);
        // Writing the final record again owes nothing more.
        let record = store.transaction(&hash).unwrap().unwrap();
        store.update(&record).unwrap();
        assert_eq!(store.deliveries_of(&hash).unwrap().len(), 3);
        // A receiver of that transaction registered now is owed its result at once.
        store
            .add_receiver(&receiver("late", Match::Transaction(hash)), 10)
            .unwrap();
        assert_eq!(store.deliveries_of(&hash).unwrap().len(), 4);
        // Bounded.
        assert!(matches!(
            store.add_receiver(&receiver("one-too-many", Match::Transaction(hash)), 6),
            Err(StoreError::Limit(_))
        ));
    }

    #[test]
    fn a_receiver_s_queue_goes_in_order_and_failures_wait_for_the_schedule() {
        let (_dir, store) = store();
        let to = Address::repeat_byte(0xb0);
        store
            .add_receiver(&receiver("r", Match::Recipient(to)), 10)
            .unwrap();
        store
            .add_receiver(&receiver("s", Match::Device("teller".into())), 10)
            .unwrap();
        commit(&store, 1, "teller", to, 100);
        commit(&store, 2, "teller", to, 200);
        // Only the head of each queue is due.
        let mut due = due_now(&store, 200);
        due.sort();
        assert_eq!(
            due,
            [
                ("r".to_string(), B256::repeat_byte(1)),
                ("s".to_string(), B256::repeat_byte(1))
            ]
        );
        let first_r = store.deliveries_to("r", None, 10, 100).unwrap()[1].clone();
        let first_s = store.deliveries_to("s", None, 10, 100).unwrap()[1].clone();
        assert_eq!(first_r.hash, B256::repeat_byte(1), "newest first");
        // r fails; s is delivered.
        store
            .record_attempts(
                &[
                    (
                        first_r.id.clone(),
                        Outcome::Failed(Some(500), "answered 500".into()),
                    ),
                    (first_s.id.clone(), Outcome::Delivered(204)),
                ],
                &SCHEDULE,
                1_000,
            )
            .unwrap();
        let failed = store.delivery(&first_r.id).unwrap().unwrap();
        assert_eq!((failed.attempts, failed.step), (1, 1));
        assert!(
            (1_000 + 8_000..=1_000 + 12_000).contains(&failed.next_attempt_ms),
            "10 s ± 20%: {}",
            failed.next_attempt_ms
        );
        // r's second waits behind its first; s's second is due.
        assert_eq!(
            due_now(&store, 1_001),
            [("s".to_string(), B256::repeat_byte(2))]
        );
        let (_, next) = store
            .due(1_001, &HashSet::from(["s".to_string()]), 10, None)
            .unwrap();
        assert_eq!(next, Some(failed.next_attempt_ms));
        // Busy receivers are skipped.
        assert!(
            store
                .due(
                    20_000,
                    &HashSet::from(["r".to_string(), "s".to_string()]),
                    10,
                    None
                )
                .unwrap()
                .0
                .is_empty()
        );
        // The schedule runs out: dead-lettered, and the queue moves on.
        for at in [20_000, 200_000] {
            assert_eq!(
                due_now(&store, at)[0],
                ("r".to_string(), B256::repeat_byte(1))
            );
            store
                .record_attempts(
                    &[(first_r.id.clone(), Outcome::Failed(None, "timeout".into()))],
                    &SCHEDULE,
                    at,
                )
                .unwrap();
        }
        let dead = store.delivery(&first_r.id).unwrap().unwrap();
        assert_eq!(dead.status, DeliveryStatus::Dead);
        assert_eq!(dead.attempts, 3, "the first attempt and one per delay");
        // The whole schedule failed: the receiver is disabled, its queue dead-lettered.
        let r = store.receiver("r").unwrap().unwrap();
        assert!(r.disabled, "{r:?}");
        assert_eq!(
            store
                .deliveries_to("r", Some(DeliveryStatus::Dead), 10, 100)
                .unwrap()
                .len(),
            2
        );
        assert!(matches!(
            store.redeliver(&first_r.id, 300_000).unwrap(),
            Redelivery::ReceiverUnavailable(_)
        ));
        assert_eq!(
            due_now(&store, 200_001),
            [("s".to_string(), B256::repeat_byte(2))]
        );
        // A delivered notification sent again: same id and body, at the end of the queue,
        // behind the one still pending.
        let Redelivery::Queued(again) = store.redeliver(&first_s.id, 300_000).unwrap() else {
            panic!("not queued");
        };
        assert_eq!(
            (again.id.as_str(), again.payload.as_str()),
            (first_s.id.as_str(), first_s.payload.as_str())
        );
        assert_eq!((again.status, again.step), (DeliveryStatus::Pending, 0));
        assert!(matches!(
            store.redeliver(&first_s.id, 300_000).unwrap(),
            Redelivery::StillPending(_)
        ));
        assert_eq!(
            due_now(&store, 300_000),
            [("s".to_string(), B256::repeat_byte(2))]
        );
        assert_eq!(
            store.deliveries_to("s", None, 10, 100).unwrap().len(),
            2,
            "listed once"
        );
        assert_eq!(store.redeliver("msg_none", 0).unwrap(), Redelivery::Unknown);
    }

    #[test]
    fn a_receiver_that_answers_410_is_disabled_and_a_removed_one_is_owed_nothing() {
        let (_dir, store) = store();
        let to = Address::repeat_byte(0xb0);
        store
            .add_receiver(&receiver("gone", Match::Recipient(to)), 10)
            .unwrap();
        store
            .add_receiver(&receiver("removed", Match::Device("teller".into())), 10)
            .unwrap();
        commit(&store, 1, "teller", to, 100);
        commit(&store, 2, "teller", to, 200);
        let head = store.deliveries_to("gone", None, 10, 100).unwrap()[1].clone();
        store
            .record_attempts(&[(head.id.clone(), Outcome::Gone)], &SCHEDULE, 300)
            .unwrap();
        let gone = store.receiver("gone").unwrap().unwrap();
        assert!(gone.disabled);
        assert!(gone.disabled_reason.unwrap().contains("410"));
        let dead = store
            .deliveries_to("gone", Some(DeliveryStatus::Dead), 10, 100)
            .unwrap();
        assert_eq!(dead.len(), 2, "its whole queue is dead-lettered");
        assert!(matches!(
            store.redeliver(&head.id, 400).unwrap(),
            Redelivery::ReceiverUnavailable(_)
        ));
        // Removing a receiver dead-letters its queue; an attempt under way is not recorded.
        let removed_head = store.deliveries_to("removed", None, 10, 100).unwrap()[1].clone();
        assert!(store.remove_receiver("removed", 500).unwrap());
        assert!(!store.remove_receiver("removed", 500).unwrap());
        store
            .record_attempts(
                &[(removed_head.id.clone(), Outcome::Delivered(200))],
                &SCHEDULE,
                600,
            )
            .unwrap();
        assert_eq!(
            store.delivery(&removed_head.id).unwrap().unwrap().status,
            DeliveryStatus::Dead
        );
        assert_eq!(store.pending_deliveries().unwrap(), 0);
        // Later results owe neither anything.
        commit(&store, 3, "teller", to, 700);
        assert!(
            store
                .deliveries_of(&B256::repeat_byte(3))
                .unwrap()
                .is_empty()
        );
        assert!(due_now(&store, 10_000).is_empty());
    }

    #[test]
    fn past_the_bound_a_notification_is_dead_lettered_and_acceptance_goes_on() {
        let (_dir, store) = store();
        store.set_max_pending_deliveries(1);
        let to = Address::repeat_byte(0xb0);
        store
            .add_receiver(&receiver("down", Match::Recipient(to)), 10)
            .unwrap();
        commit(&store, 1, "teller", to, 100);
        commit(&store, 2, "teller", to, 200);
        let first = &store.deliveries_of(&B256::repeat_byte(1)).unwrap()[0];
        let second = &store.deliveries_of(&B256::repeat_byte(2)).unwrap()[0];
        assert_eq!(first.status, DeliveryStatus::Pending);
        assert_eq!(second.status, DeliveryStatus::Dead);
        assert!(
            second
                .last_error
                .as_deref()
                .unwrap()
                .contains("most allowed")
        );
        assert_eq!(store.pending_deliveries().unwrap(), 1);
        // Sent on request once there is room.
        store
            .record_attempts(
                &[(first.id.clone(), Outcome::Delivered(200))],
                &SCHEDULE,
                300,
            )
            .unwrap();
        assert!(matches!(
            store.redeliver(&second.id, 400).unwrap(),
            Redelivery::Queued(_)
        ));
    }

    #[test]
    fn receivers_take_turns_so_none_waits_for_ever() {
        let (_dir, store) = store();
        let to = Address::repeat_byte(0xb0);
        for id in ["r1", "r2", "r3"] {
            store
                .add_receiver(&receiver(id, Match::Recipient(to)), 10)
                .unwrap();
        }
        commit(&store, 1, "teller", to, 100);
        let mut after: Option<String> = None;
        let mut turns = Vec::new();
        for _ in 0..4 {
            let (due, _) = store
                .due(1_000, &HashSet::new(), 1, after.as_deref())
                .unwrap();
            let taken = due[0].receiver.id.clone();
            turns.push(taken.clone());
            after = Some(taken);
        }
        assert_eq!(turns, ["r1", "r2", "r3", "r1"]);
        // Round from the middle, each once.
        let (due, _) = store.due(1_000, &HashSet::new(), 10, Some("r2")).unwrap();
        let order: Vec<&str> = due.iter().map(|due| due.receiver.id.as_str()).collect();
        assert_eq!(order, ["r3", "r1", "r2"]);
    }
}
