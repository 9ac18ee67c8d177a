//! Delivering notifications (seed 002's steps 304 and 46): the oldest notification of each
//! receiver's queue is POSTed to its URL when due, signed as Standard Webhooks has it; what
//! each attempt came to is written back (see [`crate::outbox`] for what follows from it).
//!
//! At most one attempt per receiver is under way at a time, and at most
//! [`DeliveryPolicy::concurrency`] in all, so a failing receiver is retried no faster than its
//! schedule, and many failing receivers do not take every connection. Redirects are not
//! followed (a receiver's URL is where notifications go, not a hint), and a receiver's answer
//! is read up to 64 KiB, then dropped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::outbox::{Due, Outcome};
use crate::store::{GatewayStore, StoreError};
use crate::webhook::sign;

/// How notifications are delivered.
#[derive(Debug, Clone)]
pub struct DeliveryPolicy {
    /// The delays before each attempt after a failed one; when they run out, the
    /// notification is dead-lettered. Each is applied within ±20%.
    pub schedule: Vec<Duration>,
    /// How long a receiver has to answer an attempt.
    pub timeout: Duration,
    /// Most attempts under way at once.
    pub concurrency: usize,
    /// How often due notifications are looked for (new ones start at once).
    pub poll: Duration,
}

/// Svix's schedule: after the first attempt, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
pub const DEFAULT_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,10h";

/// Most delays in a schedule.
pub const MAX_SCHEDULE: usize = 32;

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            schedule: parse_schedule(DEFAULT_SCHEDULE).unwrap_or_default(),
            timeout: Duration::from_secs(15),
            concurrency: 64,
            poll: Duration::from_millis(200),
        }
    }
}

/// A duration written `250ms`, `5s`, `5m`, `2h` or `1d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} has no unit (ms, s, m, h or d)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?}: the unit is one of ms, s, m, h, d")),
    };
    let ms = number
        .checked_mul(unit_ms)
        .filter(|ms| *ms <= 30 * 86_400_000)
        .ok_or_else(|| format!("{text:?} is longer than 30 days"))?;
    Ok(Duration::from_millis(ms))
}

/// A retry schedule written `5s,5m,30m,…` (empty: no retries).
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let schedule: Vec<Duration> = text
        .split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(parse_duration)
        .collect::<Result<_, _>>()?;
    if schedule.len() > MAX_SCHEDULE {
        return Err(format!(
            "a retry schedule has at most {MAX_SCHEDULE} delays"
        ));
    }
    Ok(schedule)
}

/// The write of a batch of outcomes: the receivers it frees, and whether it was stored.
type Recording = tokio::task::JoinHandle<(Vec<String>, Result<(), StoreError>)>;

/// Delivers the notifications in the store.
pub struct Deliverer {
    store: Arc<GatewayStore>,
    policy: DeliveryPolicy,
    http: reqwest::Client,
    now_ms: fn() -> u64,
}

/// Most bytes of a receiver's answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

impl Deliverer {
    /// A deliverer of `store`'s notifications.
    pub fn new(
        store: Arc<GatewayStore>,
        policy: DeliveryPolicy,
        now_ms: fn() -> u64,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("cairn-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            store,
            policy,
            http,
            now_ms,
        })
    }

    /// Runs until the process ends; `wake` is notified when notifications are owed.
    pub async fn run(self, wake: Arc<tokio::sync::Notify>) {
        // A receiver is busy from the start of an attempt until what it came to is recorded,
        // so its next notification waits for that.
        let mut busy: HashSet<String> = HashSet::new();
        let mut tasks: HashMap<tokio::task::Id, String> = HashMap::new();
        let mut attempts: JoinSet<(String, Outcome)> = JoinSet::new();
        // Attempts made, not yet recorded: (receiver, (notification, outcome)).
        let mut unrecorded: Vec<(String, (String, Outcome))> = Vec::new();
        // The write of the last batch of outcomes, under way while attempts go on.
        let mut recording: Option<Recording> = None;
        // Where the last look for due notifications stopped: the next starts after it.
        let mut cursor: Option<String> = None;
        loop {
            let room = self.policy.concurrency.saturating_sub(attempts.len());
            if room > 0 {
                match self.due(&busy, room, cursor.clone()).await {
                    Ok(due) => {
                        if let Some(last) = due.last() {
                            cursor = Some(last.receiver.id.clone());
                        }
                        for due in due {
                            let receiver = due.receiver.id.clone();
                            busy.insert(receiver.clone());
                            let handle = attempts.spawn(attempt(
                                self.http.clone(),
                                due,
                                self.now_ms,
                                self.policy.timeout,
                            ));
                            tasks.insert(handle.id(), receiver);
                        }
                    }
                    Err(error) => warn!(%error, "cannot read the notifications due"),
                }
            }
            if recording.is_none() && !unrecorded.is_empty() {
                let (receivers, outcomes): (Vec<String>, Vec<(String, Outcome)>) =
                    std::mem::take(&mut unrecorded).into_iter().unzip();
                let store = self.store.clone();
                let schedule = self.policy.schedule.clone();
                let now = (self.now_ms)();
                recording = Some(tokio::task::spawn_blocking(move || {
                    let written = store.record_attempts(&outcomes, &schedule, now);
                    (receivers, written)
                }));
            }
            tokio::select! {
                Some(done) = attempts.join_next_with_id(), if !attempts.is_empty() => {
                    let mut finished = vec![done];
                    while let Some(more) = attempts.try_join_next_with_id() {
                        finished.push(more);
                    }
                    for done in finished {
                        let id = match &done {
                            Ok((id, _)) => *id,
                            Err(error) => error.id(),
                        };
                        let Some(receiver) = tasks.remove(&id) else {
                            continue;
                        };
                        match done {
                            Ok((_, outcome)) => unrecorded.push((receiver, outcome)),
                            // The attempt's task died: nothing to record; it is made again.
                            Err(_) => {
                                busy.remove(&receiver);
                            }
                        }
                    }
                }
                written = async {
                    match recording.as_mut() {
                        Some(write) => write.await,
                        None => std::future::pending().await,
                    }
                } => {
                    recording = None;
                    match written {
                        Ok((receivers, written)) => {
                            if let Err(error) = written {
                                // Not recorded: the notifications stay pending and are sent
                                // again (at least once, with the same webhook-id).
                                warn!(%error, "cannot record delivery attempts");
                            }
                            for receiver in receivers {
                                busy.remove(&receiver);
                            }
                        }
                        Err(error) => {
                            warn!(%error, "cannot record delivery attempts");
                            busy.clear();
                            busy.extend(tasks.values().cloned());
                            busy.extend(unrecorded.iter().map(|(receiver, _)| receiver.clone()));
                        }
                    }
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(self.policy.poll) => {}
            }
        }
    }

    async fn due(
        &self,
        busy: &HashSet<String>,
        room: usize,
        after: Option<String>,
    ) -> Result<Vec<Due>, StoreError> {
        let store = self.store.clone();
        let busy = busy.clone();
        let now = (self.now_ms)();
        let (due, _) =
            tokio::task::spawn_blocking(move || store.due(now, &busy, room, after.as_deref()))
                .await
                .map_err(|e| StoreError::Database(e.to_string()))??;
        Ok(due)
    }
}

/// One attempt at delivering `due`: its id and what it came to.
async fn attempt(
    http: reqwest::Client,
    due: Due,
    now_ms: fn() -> u64,
    timeout: Duration,
) -> (String, Outcome) {
    let Due { delivery, receiver } = due;
    let timestamp = now_ms() / 1_000;
    let Some(signature) = sign(
        &receiver.secret,
        &delivery.id,
        timestamp,
        delivery.payload.as_bytes(),
    ) else {
        return (
            delivery.id,
            Outcome::Failed(
                None,
                "the receiver's secret is not whsec_ and base64".into(),
            ),
        );
    };
    let sent = http
        .post(&receiver.url)
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(delivery.payload.clone())
        .send()
        .await;
    let outcome = match sent {
        Ok(mut response) => {
            let status = response.status();
            // Read a bounded part of the answer so the connection can be used again.
            let mut read = 0;
            while read < MAX_ANSWER_BYTES {
                match response.chunk().await {
                    Ok(Some(chunk)) => read += chunk.len(),
                    _ => break,
                }
            }
            if status.is_success() {
                Outcome::Delivered(status.as_u16())
            } else if status == reqwest::StatusCode::GONE {
                Outcome::Gone
            } else {
                Outcome::Failed(Some(status.as_u16()), format!("answered {status}"))
            }
        }
        Err(error) if error.is_timeout() => {
            Outcome::Failed(None, format!("no answer within {timeout:?}"))
        }
        Err(error) => Outcome::Failed(None, format!("cannot reach {}: {error}", receiver.url)),
    };
    debug!(id = %delivery.id, url = %receiver.url, ?outcome, "delivery attempt");
    (delivery.id, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_read_as_written_and_refuse_nonsense() {
        assert_eq!(
            parse_schedule(DEFAULT_SCHEDULE).unwrap(),
            [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000].map(Duration::from_secs)
        );
        assert_eq!(
            parse_schedule("250ms, 1d").unwrap(),
            vec![Duration::from_millis(250), Duration::from_secs(86_400)]
        );
        assert!(parse_schedule("").unwrap().is_empty());
        for bad in ["5", "5x", "s", "-5s", "31d", "99999999999999999999s"] {
            assert!(parse_schedule(bad).is_err(), "{bad}");
        }
        assert!(parse_schedule(&vec!["1s"; MAX_SCHEDULE + 1].join(",")).is_err());
    }
}
