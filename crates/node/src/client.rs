//! A small blocking client of the node's HTTP API, for the CLI.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_primitives::B256;
use cairn_rpc::types::{ErrorBody, TxResponse, TxStatus};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Talks to one node.
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:8545`).
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    /// GET a JSON resource.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| self.unreachable(e))?;
        decode(response)
    }

    /// POST JSON, decode the JSON reply.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .send_json(body)
            .map_err(|e| self.unreachable(e))?;
        decode(response)
    }

    fn unreachable(&self, error: ureq::Error) -> anyhow::Error {
        anyhow::anyhow!("cannot reach the node at {}: {error}", self.base)
    }

    /// Follows a transaction until it is in a committed block (committed or failed), or until
    /// `deadline`: `Ok(None)` then. Over the node's WebSocket, which pushes the result the
    /// moment it commits; where no WebSocket can be had (an `https://` proxy, a node that
    /// refuses more connections, one that went away), by asking the node every quarter second.
    pub fn wait_for_result(
        &self,
        hash: &B256,
        deadline: Instant,
    ) -> anyhow::Result<Option<TxResponse>> {
        match self.follow_over_websocket(hash, deadline)? {
            Some(outcome) => Ok(outcome),
            None => self.poll_for_result(hash, deadline),
        }
    }

    /// The result over the WebSocket, or `Ok(None)` if there is no WebSocket to follow it on.
    /// The socket is quiet while the transaction waits; every few seconds of quiet the node is
    /// asked once whether it still holds the transaction, so one dropped from the pool ends
    /// the wait at once.
    fn follow_over_websocket(
        &self,
        hash: &B256,
        deadline: Instant,
    ) -> anyhow::Result<Option<Option<TxResponse>>> {
        let Some(("http", rest)) = self.base.split_once("://") else {
            return Ok(None);
        };
        let Ok((mut socket, _)) = tungstenite::connect(format!("ws://{rest}/v1/ws")) else {
            return Ok(None);
        };
        let request = serde_json::json!({"id": 1, "subscribe": "transaction", "hash": hash});
        if socket
            .send(tungstenite::Message::text(request.to_string()))
            .is_err()
        {
            return Ok(None);
        }
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(Some(None));
            }
            let quiet = (deadline - now).min(LIVENESS_CHECK);
            if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
                stream.set_read_timeout(Some(quiet))?;
            }
            match socket.read() {
                Ok(tungstenite::Message::Text(text)) => {
                    let message: serde_json::Value = serde_json::from_str(text.as_str())
                        .with_context(|| format!("unexpected message from the node: {text}"))?;
                    if let Some(error) = message.get("error") {
                        bail!("the node refused the subscription: {error}");
                    }
                    if message["event"] == "transaction" {
                        let result: TxResponse = serde_json::from_value(message["data"].clone())
                            .context("unexpected transaction result from the node")?;
                        return Ok(Some(Some(result)));
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(error))
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    if let Some(result) = self.settled(hash)? {
                        return Ok(Some(Some(result)));
                    }
                }
                // Closed or broken: go on without it.
                Err(_) => return Ok(None),
            }
        }
    }

    /// The result by asking the node until `deadline`.
    fn poll_for_result(
        &self,
        hash: &B256,
        deadline: Instant,
    ) -> anyhow::Result<Option<TxResponse>> {
        loop {
            if let Some(result) = self.settled(hash)? {
                return Ok(Some(result));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL_INTERVAL.min(deadline - Instant::now()));
        }
    }

    /// The transaction's result if it is in a committed block; `None` while it is pending; an
    /// error if the node no longer knows it.
    fn settled(&self, hash: &B256) -> anyhow::Result<Option<TxResponse>> {
        let status: TxResponse = self.get(&format!("/v1/transactions/{hash}"))?;
        match status.status {
            TxStatus::Pending => Ok(None),
            TxStatus::Unknown => bail!("transaction {hash} was dropped by the node"),
            TxStatus::Committed | TxStatus::Failed => Ok(Some(status)),
        }
    }
}

/// How often `wait_for_result` asks the node when it has no WebSocket.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long `wait_for_result` lets the socket stay quiet before asking whether the node
/// still holds the transaction.
const LIVENESS_CHECK: Duration = Duration::from_secs(5);

fn decode<T: DeserializeOwned>(
    mut response: ureq::http::Response<ureq::Body>,
) -> anyhow::Result<T> {
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .context("reading the node's reply")?;
    if status.is_success() {
        return serde_json::from_str(&text)
            .with_context(|| format!("unexpected reply from the node: {text}"));
    }
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => bail!("{} ({})", body.error.message, body.error.code),
        Err(_) => bail!("the node answered {status}: {text}"),
    }
}
