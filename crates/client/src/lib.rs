#![doc = include_str!("../README.md")]

mod heads;

use std::time::Duration;

use cairn_api_types::{
    AccountResponse, BatchRequest, BatchResponse, BlockView, BlocksPage, ErrorBody, JobsResponse,
    PackageResponse, QueryResponse, RawBlockResponse, RecordResponse, StatusResponse,
    SubmitResponse, TransactionRequest, TxResponse, TxStatus,
};
use cairn_primitives::{Address, B256, SignedTransaction};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

pub use cairn_api_types as types;

/// A WebSocket to a node.
pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
pub use heads::Heads;

/// How a [`Client`] times out and retries.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Longest wait for one whole request (connect, send, answer).
    pub timeout: Duration,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
    /// Further attempts of a read after the first fails for a reason worth retrying.
    pub retries: u32,
    /// Pause before the first retry; each further one doubles it.
    pub retry_pause: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 3,
            retry_pause: Duration::from_millis(200),
        }
    }
}

/// What went wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node URL is not an `http://` URL.
    #[error("{0}")]
    InvalidUrl(String),
    /// No connection, or it broke.
    #[error("cannot reach the node at {url}: {reason}")]
    Unreachable {
        /// The node.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node did not answer in time.
    #[error("the node at {url} did not answer within {timeout:?}")]
    Timeout {
        /// The node.
        url: String,
        /// The limit.
        timeout: Duration,
    },
    /// The node refused the request with a JSON error.
    #[error("{message} ({code})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The error's stable code (`nonce_too_low`, `invalid_field`, …).
        code: String,
        /// The node's explanation.
        message: String,
        /// The request field at fault, where the node named one.
        field: Option<String>,
    },
    /// The node answered something that is not the API's JSON.
    #[error("unexpected reply from the node: {0}")]
    Unexpected(String),
}

impl ClientError {
    /// A stable code for the error: the node's for [`ClientError::Api`], otherwise
    /// `invalid_url`, `unreachable`, `timeout` or `unexpected_reply`.
    pub fn code(&self) -> &str {
        match self {
            Self::InvalidUrl(_) => "invalid_url",
            Self::Unreachable { .. } => "unreachable",
            Self::Timeout { .. } => "timeout",
            Self::Api { code, .. } => code,
            Self::Unexpected(_) => "unexpected_reply",
        }
    }

    /// Whether a read that failed so is worth trying again.
    fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Api { status, .. } => matches!(status, 502..=504),
            Self::InvalidUrl(_) | Self::Unexpected(_) => false,
        }
    }
}

/// A client of one node.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    config: ClientConfig,
}

/// Checks a node URL: `http://`, a host, nothing after the path. `https://` is refused with
/// a clear error: this client has no TLS backend (see the README).
pub fn check_node_url(url: &str) -> Result<String, ClientError> {
    let parsed = reqwest::Url::parse(url).ok();
    if parsed.as_ref().is_some_and(|u| u.scheme() == "https") {
        return Err(ClientError::InvalidUrl(format!(
            "node URL {url:?}: this client speaks plain http:// only (no TLS); reach a remote \
             node through a local tunnel or proxy"
        )));
    }
    let scheme_ok = parsed
        .as_ref()
        .is_some_and(|u| u.scheme() == "http" && u.host_str().is_some());
    if !scheme_ok {
        let hint = if url.contains("://") {
            String::new()
        } else {
            format!(" (did you mean http://{url}?)")
        };
        return Err(ClientError::InvalidUrl(format!(
            "node URL {url:?} is not an http:// URL{hint}"
        )));
    }
    if parsed.is_some_and(|u| u.query().is_some() || u.fragment().is_some()) {
        return Err(ClientError::InvalidUrl(format!(
            "node URL {url:?} must not carry a query or fragment"
        )));
    }
    Ok(url.trim_end_matches('/').to_string())
}

impl Client {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:8545`), with the default
    /// timeouts and retries.
    pub fn new(base: &str) -> Result<Self, ClientError> {
        Self::with_config(base, ClientConfig::default())
    }

    /// A client with these timeouts and retries.
    pub fn with_config(base: &str, config: ClientConfig) -> Result<Self, ClientError> {
        let base = check_node_url(base)?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| ClientError::InvalidUrl(e.to_string()))?;
        Ok(Self { base, http, config })
    }

    /// The node's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// How this client times out and retries.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<StatusResponse, ClientError> {
        self.get("/v1/status").await
    }

    /// `GET /v1/health`: `Ok` while the node serves.
    pub async fn health(&self) -> Result<(), ClientError> {
        self.retrying(|| async {
            let response = self.send(self.http.get(self.url("/v1/health"))).await?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(error_of(response).await)
            }
        })
        .await
    }

    /// An account at the head (or at `block`: `latest`, a height or a hash), with its Merkle
    /// proof if `proof`.
    pub async fn account(
        &self,
        address: &Address,
        block: Option<&str>,
        proof: bool,
    ) -> Result<AccountResponse, ClientError> {
        let mut path = format!("/v1/accounts/{address:#x}?proof={proof}");
        if let Some(block) = block {
            path.push_str("&block=");
            path.push_str(&encode_component(block));
        }
        self.get(&path).await
    }

    /// A block by `latest`, height or hash.
    pub async fn block(&self, id: &str, full: bool) -> Result<BlockView, ClientError> {
        self.get(&format!("/v1/blocks/{}?full={full}", encode_component(id)))
            .await
    }

    /// A block and its receipts as RLP (decode and check them against a header you hold).
    pub async fn raw_block(&self, height: u64) -> Result<RawBlockResponse, ClientError> {
        self.get(&format!("/v1/blocks/{height}/raw")).await
    }

    /// Up to `limit` (1 to 100) blocks from height `start`.
    pub async fn blocks(
        &self,
        start: u64,
        limit: usize,
        full: bool,
    ) -> Result<BlocksPage, ClientError> {
        self.get(&format!(
            "/v1/blocks?start={start}&limit={limit}&full={full}"
        ))
        .await
    }

    /// Where a transaction stands.
    pub async fn transaction(&self, hash: &B256) -> Result<TxResponse, ClientError> {
        self.get(&format!("/v1/transactions/{hash}")).await
    }

    /// Submits a signed transaction (once: see the crate's notes on retries).
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<SubmitResponse, ClientError> {
        self.submit_request(&TransactionRequest::of(tx)).await
    }

    /// Submits a transfer given as fields or as its raw encoding.
    pub async fn submit_request(
        &self,
        request: &TransactionRequest,
    ) -> Result<SubmitResponse, ClientError> {
        self.post("/v1/transactions", request).await
    }

    /// Submits up to 20,000 transfers in one request; one result per transfer.
    pub async fn submit_batch(
        &self,
        transactions: &[SignedTransaction],
    ) -> Result<BatchResponse, ClientError> {
        let batch = BatchRequest {
            transactions: transactions.iter().map(TransactionRequest::of).collect(),
        };
        self.post("/v1/transactions/batch", &batch).await
    }

    /// Submits transfers in the binary form (canonical encodings back to back).
    pub async fn submit_raw(
        &self,
        transactions: &[SignedTransaction],
    ) -> Result<BatchResponse, ClientError> {
        let mut body = Vec::new();
        for tx in transactions {
            body.extend_from_slice(&tx.encoded());
        }
        self.submit_encoded(body).await
    }

    /// Submits canonical encodings already laid back to back (what
    /// [`Client::submit_raw`] sends), for callers that prepare bodies ahead of time.
    pub async fn submit_encoded(
        &self,
        body: impl Into<bytes::Bytes>,
    ) -> Result<BatchResponse, ClientError> {
        let body: bytes::Bytes = body.into();
        let request = self
            .http
            .post(self.url("/v1/transactions/raw"))
            .header("content-type", "application/octet-stream")
            .body(body);
        decode(self.send(request).await?).await
    }

    /// A contract package as of the head.
    pub async fn package(&self, package: &Address) -> Result<PackageResponse, ClientError> {
        self.get(&format!("/v1/acs/packages/{package:#x}")).await
    }

    /// A record of a package as of the head, with its proofs if `proof`.
    pub async fn record(
        &self,
        package: &Address,
        record: &Address,
        proof: bool,
    ) -> Result<RecordResponse, ClientError> {
        self.get(&format!(
            "/v1/acs/packages/{package:#x}/records/{record:#x}?proof={proof}"
        ))
        .await
    }

    /// Runs a contract against the head state without writing anything.
    pub async fn query(
        &self,
        package: &Address,
        contract: &str,
        record: &Address,
    ) -> Result<QueryResponse, ClientError> {
        // Contract names are letters, digits, `_` and `.`: nothing to escape.
        self.get(&format!(
            "/v1/acs/packages/{package:#x}/query?contract={contract}&record={record:#x}"
        ))
        .await
    }

    /// The last `limit` scheduled runs of a package, oldest first.
    pub async fn jobs(&self, package: &Address, limit: usize) -> Result<JobsResponse, ClientError> {
        self.get(&format!("/v1/acs/packages/{package:#x}/jobs?limit={limit}"))
            .await
    }

    /// GETs a JSON resource under the node's URL, retrying transient failures.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.retrying(|| async { decode(self.send(self.http.get(self.url(path))).await?).await })
            .await
    }

    /// POSTs JSON and decodes the JSON answer; not retried.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        decode(self.send(self.http.post(self.url(path)).json(body)).await?).await
    }

    /// Follows a transaction until it is in a committed block (`committed` or `failed`), for
    /// at most `timeout`: `Ok(None)` if it is still pending then. An error if the node does
    /// not know the transaction (it was never accepted, or was dropped from the pool).
    ///
    /// Over the node's WebSocket, which pushes the result the moment it commits; where no
    /// WebSocket can be had (a proxy, a node refusing more connections, a dropped
    /// connection), by asking every quarter second.
    pub async fn wait_for_result(
        &self,
        hash: &B256,
        timeout: Duration,
    ) -> Result<Option<TxResponse>, ClientError> {
        let deadline = Instant::now() + timeout;
        let follow = async {
            if let Some(outcome) = self.follow_over_websocket(hash, deadline).await? {
                return Ok(outcome);
            }
            loop {
                if let Some(result) = self.settled(hash).await? {
                    return Ok(Some(result));
                }
                let now = Instant::now();
                if now >= deadline {
                    return Ok(None);
                }
                tokio::time::sleep(POLL_INTERVAL.min(deadline - now)).await;
            }
        };
        // Connecting, asking and retrying all count against the caller's time.
        tokio::time::timeout_at(deadline, follow)
            .await
            .unwrap_or(Ok(None))
    }

    /// Committed heads from `from_height` on, in order, over a WebSocket that reconnects.
    pub fn heads(&self, from_height: u64) -> Heads {
        Heads::new(self.clone(), from_height)
    }

    /// The WebSocket URL of the node's subscriptions, if the node's URL is plain `http`.
    pub fn websocket_url(&self) -> Option<String> {
        self.base
            .strip_prefix("http://")
            .map(|rest| format!("ws://{rest}/v1/ws"))
    }

    /// The result over the WebSocket: `Ok(None)` if there is no WebSocket to follow it on.
    /// Every few seconds of quiet the node is asked once whether it still holds the
    /// transaction, so one dropped from the pool ends the wait at once.
    async fn follow_over_websocket(
        &self,
        hash: &B256,
        deadline: Instant,
    ) -> Result<Option<Option<TxResponse>>, ClientError> {
        let request = serde_json::json!({"id": 1, "subscribe": "transaction", "hash": hash});
        let Some(mut socket) = self.subscribe(request).await else {
            return Ok(None);
        };
        // The result may have come before the subscription: ask once now.
        if let Some(result) = self.settled(hash).await? {
            return Ok(Some(Some(result)));
        }
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(Some(None));
            }
            let quiet = (deadline - now).min(LIVENESS_CHECK);
            match tokio::time::timeout(quiet, socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: serde_json::Value = serde_json::from_str(text.as_str())
                        .map_err(|_| ClientError::Unexpected(text.to_string()))?;
                    if let Some(error) = message.get("error") {
                        return Err(ClientError::Unexpected(format!(
                            "the node refused the subscription: {error}"
                        )));
                    }
                    if message["event"] == "transaction" {
                        let result: TxResponse = serde_json::from_value(message["data"].clone())
                            .map_err(|e| ClientError::Unexpected(e.to_string()))?;
                        return Ok(Some(Some(result)));
                    }
                }
                Ok(Some(Ok(_))) => {}
                // Quiet for a while: is the transaction still there?
                Err(_) => {
                    if let Some(result) = self.settled(hash).await? {
                        return Ok(Some(Some(result)));
                    }
                }
                // Closed or broken: go on by asking.
                Ok(None | Some(Err(_))) => return Ok(None),
            }
        }
    }

    /// A WebSocket to the node carrying the subscription `request`, or `None` if none can be
    /// had (not plain `http`, refused, too slow to connect).
    pub(crate) async fn subscribe(&self, request: serde_json::Value) -> Option<Socket> {
        let url = self.websocket_url()?;
        let connect = tokio_tungstenite::connect_async(url);
        let (mut socket, _) = tokio::time::timeout(self.config.connect_timeout, connect)
            .await
            .ok()?
            .ok()?;
        socket.send(Message::text(request.to_string())).await.ok()?;
        Some(socket)
    }

    /// The transaction's result if it is in a committed block; `None` while it is pending;
    /// an error if the node does not know it.
    async fn settled(&self, hash: &B256) -> Result<Option<TxResponse>, ClientError> {
        let status = self.transaction(hash).await?;
        match status.status {
            TxStatus::Pending => Ok(None),
            TxStatus::Unknown => Err(ClientError::Api {
                status: 404,
                code: "unknown_transaction".into(),
                message: format!(
                    "the node does not know transaction {hash} (never accepted, or dropped from its pool)"
                ),
                field: None,
            }),
            TxStatus::Committed | TxStatus::Failed => Ok(Some(status)),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        request.send().await.map_err(|e| {
            if e.is_timeout() {
                ClientError::Timeout {
                    url: self.base.clone(),
                    timeout: self.config.timeout,
                }
            } else {
                ClientError::Unreachable {
                    url: self.base.clone(),
                    reason: root_cause(&e),
                }
            }
        })
    }

    async fn retrying<T, F, Fut>(&self, attempt: F) -> Result<T, ClientError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut pause = self.config.retry_pause;
        let mut left = self.config.retries;
        loop {
            match attempt().await {
                Err(error) if left > 0 && error.is_transient() => {
                    tracing::debug!(%error, "retrying a read");
                    left -= 1;
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2);
                }
                other => return other,
            }
        }
    }
}

/// How often [`Client::wait_for_result`] asks when it has no WebSocket.
const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long [`Client::wait_for_result`] lets the socket stay quiet before asking whether the
/// node still holds the transaction.
const LIVENESS_CHECK: Duration = Duration::from_secs(5);

/// The innermost cause of a request failure ("Connection refused", not "error sending
/// request").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// Percent-encodes a path or query component that is meant to be one token (block ids).
fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn error_of(response: reqwest::Response) -> ClientError {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ClientError::Api {
            status: status.as_u16(),
            code: body.error.code,
            message: body.error.message,
            field: body.error.field,
        },
        Err(_) => ClientError::Api {
            status: status.as_u16(),
            code: "http_error".into(),
            message: format!("the node answered {status}: {}", text.trim()),
            field: None,
        },
    }
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
    if !response.status().is_success() {
        return Err(error_of(response).await);
    }
    let url = response.url().origin().ascii_serialization();
    let text = response
        .text()
        .await
        .map_err(|e| ClientError::Unreachable {
            url,
            reason: root_cause(&e),
        })?;
    serde_json::from_str(&text).map_err(|e| ClientError::Unexpected(format!("{e}: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_need_a_scheme_and_a_host() {
        assert_eq!(
            check_node_url("http://127.0.0.1:8545/").unwrap(),
            "http://127.0.0.1:8545"
        );
        let https = check_node_url("https://node.example:443")
            .unwrap_err()
            .to_string();
        assert!(https.contains("plain http:// only"), "{https}");
        let error = check_node_url("127.0.0.1:8545").unwrap_err().to_string();
        assert!(
            error.contains("did you mean http://127.0.0.1:8545"),
            "{error}"
        );
        for bad in ["localhost:8545", "ftp://x", "http://", "http://x/?a=1", ""] {
            assert!(check_node_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn components_are_escaped() {
        assert_eq!(encode_component("latest"), "latest");
        assert_eq!(encode_component("1&full=true"), "1%26full%3Dtrue");
    }
}
