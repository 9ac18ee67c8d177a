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

    /// Follows a transaction over the node's WebSocket until it is in a committed block
    /// (committed or failed), or until `deadline`: `Ok(None)` then. The socket is quiet while
    /// the transaction waits; every few seconds of quiet the node is asked once whether it
    /// still holds the transaction, so one dropped from the pool ends the wait at once.
    pub fn wait_for_result(
        &self,
        hash: &B256,
        deadline: Instant,
    ) -> anyhow::Result<Option<TxResponse>> {
        let url = match self.base.split_once("://") {
            Some(("http", rest)) => format!("ws://{rest}/v1/ws"),
            _ => bail!(
                "--wait follows results over ws:// and needs an http:// node URL, not {}",
                self.base
            ),
        };
        let (mut socket, _) = tungstenite::connect(&url)
            .with_context(|| format!("cannot open the node's WebSocket at {url}"))?;
        let request = serde_json::json!({"id": 1, "subscribe": "transaction", "hash": hash});
        socket
            .send(tungstenite::Message::text(request.to_string()))
            .context("cannot subscribe to the transaction")?;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
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
                        return Ok(Some(result));
                    }
                }
                Ok(tungstenite::Message::Close(frame)) => {
                    bail!(
                        "the node closed the subscription: {}",
                        frame.map_or_else(String::new, |f| f.reason.to_string())
                    )
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(error))
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    let status: TxResponse = self.get(&format!("/v1/transactions/{hash}"))?;
                    match status.status {
                        TxStatus::Pending => {}
                        TxStatus::Unknown => bail!("transaction {hash} was dropped by the node"),
                        TxStatus::Committed | TxStatus::Failed => return Ok(Some(status)),
                    }
                }
                Err(error) => {
                    return Err(anyhow::Error::new(error).context("the node's WebSocket failed"));
                }
            }
        }
    }
}

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
