//! The admin routes about the node itself (seed 003's vmshell: connection-pool status, logs,
//! stopping the service): its status, peers, transaction pool, recent logs, a graceful stop,
//! and a WebSocket feed of session events.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_access::Event;
use cairn_primitives::Address;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{ADMIN, AdminState, Caller, ConnectParts, OPERATOR, VIEWER, authorize};
use crate::error::ApiError;
use crate::types::ErrorBody;
use crate::{ApiState, handlers};
use cairn_access::Role;

/// Log lines a node keeps for the admin pages; older ones are dropped.
pub const LOG_LINES: usize = 10_000;
/// Longest log line kept (longer ones are cut).
pub const MAX_LOG_LINE_BYTES: usize = 2_048;
/// Admin event feeds open at once.
pub const MAX_EVENT_FEEDS: usize = 16;
/// How often a feed pings its client and checks its session.
const FEED_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(20);

/// One line of the node's log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LogLine {
    /// Its place in the log (counts from 1 since the node started).
    pub seq: u64,
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The module that logged it.
    pub target: String,
    /// The message and its fields.
    pub text: String,
}

/// The node's most recent log lines, for the admin pages (the log itself goes to stderr).
#[derive(Debug)]
pub struct LogBuffer {
    lines: Mutex<VecDeque<Arc<LogLine>>>,
    next: AtomicU64,
    capacity: usize,
}

impl Default for LogBuffer {
    fn default() -> Self {
        Self::new(LOG_LINES)
    }
}

fn contains_ignoring_case(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len()
        && haystack
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

fn level_rank(level: &str) -> u8 {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => 0,
        "WARN" => 1,
        "INFO" => 2,
        "DEBUG" => 3,
        _ => 4,
    }
}

impl LogBuffer {
    /// Keeps the latest `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(1_024))),
            next: AtomicU64::new(1),
            capacity: capacity.max(1),
        }
    }

    /// Adds a line (cut to [`MAX_LOG_LINE_BYTES`]).
    pub fn push(&self, at_ms: u64, level: &str, target: &str, text: &str) {
        let mut end = text.len().min(MAX_LOG_LINE_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let line = Arc::new(LogLine {
            seq: self.next.fetch_add(1, Ordering::Relaxed),
            at_ms,
            level: level.to_string(),
            target: target.to_string(),
            text: text[..end].to_string(),
        });
        let mut lines = self.lines.lock();
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// Up to `limit` lines before `before` (all, if `None`), newest first, at `level` or more
    /// severe, whose target or text contains `query` (ignoring ASCII case).
    ///
    /// The lines are taken out under the lock (a copy of pointers) and searched after, so a
    /// search never holds up the process's logging.
    pub fn search(
        &self,
        query: Option<&str>,
        level: Option<&str>,
        before: Option<u64>,
        limit: usize,
    ) -> Vec<LogLine> {
        let query = query.filter(|q| !q.is_empty()).map(str::as_bytes);
        let most = level.map_or(4, level_rank);
        let lines: Vec<Arc<LogLine>> = self.lines.lock().iter().cloned().collect();
        lines
            .iter()
            .rev()
            .filter(|line| before.is_none_or(|before| line.seq < before))
            .filter(|line| level_rank(&line.level) <= most)
            .filter(|line| {
                query.is_none_or(|query| {
                    contains_ignoring_case(line.text.as_bytes(), query)
                        || contains_ignoring_case(line.target.as_bytes(), query)
                })
            })
            .take(limit)
            .map(|line| LogLine::clone(line))
            .collect()
    }
}

/// What the node routes serve from: the admin state and the API's.
#[derive(Clone)]
pub(crate) struct NodeAdmin {
    pub(crate) admin: AdminState,
    pub(crate) api: ApiState,
}

impl FromRef<NodeAdmin> for AdminState {
    fn from_ref(state: &NodeAdmin) -> Self {
        state.admin.clone()
    }
}

/// The admin routes about the node.
pub(crate) fn router(admin: AdminState, api: ApiState) -> Router {
    Router::new()
        .route("/v1/admin/node", get(node_status))
        .route("/v1/admin/peers", get(peers))
        .route("/v1/admin/pool", get(pool))
        .route("/v1/admin/pool/{address}", get(sender_queue))
        .route("/v1/admin/logs", get(logs))
        .route("/v1/admin/stop", post(stop))
        .route("/v1/admin/events", get(events))
        .with_state(NodeAdmin { admin, api })
}

/// `GET /v1/admin/node` (viewer): the node's status, version and uptime.
#[utoipa::path(get, path = "/v1/admin/node", tag = "admin", description = "The node: its status (as `/v1/status`), version, process id and uptime (viewer)",
    responses((status = 200, description = "{\"status\", \"version\", \"pid\", \"started_ms\", \"uptime_s\", \"admin_remote\"}"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not a loopback caller", body = ErrorBody)))]
pub(crate) async fn node_status(
    State(state): State<NodeAdmin>,
    _caller: Caller<VIEWER>,
) -> Json<serde_json::Value> {
    let Json(status) = handlers::status(State(state.api.clone())).await;
    let now = (state.admin.now_ms)();
    Json(serde_json::json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "started_ms": state.admin.started_ms,
        "uptime_s": now.saturating_sub(state.admin.started_ms) / 1_000,
        "admin_remote": state.admin.remote,
        "can_stop": state.admin.stop.is_some(),
    }))
}

/// `GET /v1/admin/peers` (viewer): the configured peers, when each was last heard, and the
/// network's offence counters.
#[utoipa::path(get, path = "/v1/admin/peers", tag = "admin", description = "The configured peers with when each was last heard, and the network's counters of misbehaviour (viewer)",
    responses((status = 200, description = "{\"live\", \"peers\": [PeerView], \"network\"}"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not a loopback caller", body = ErrorBody)))]
pub(crate) async fn peers(
    State(state): State<NodeAdmin>,
    _caller: Caller<VIEWER>,
) -> Json<serde_json::Value> {
    let peers = state.api.node.peers();
    Json(serde_json::json!({
        "live": state.api.node.consensus().peers,
        "peers": peers,
        "network": state.api.node.network(),
    }))
}

/// Senders listed by `GET /v1/admin/pool`.
const BUSIEST_SENDERS: usize = 20;

/// `GET /v1/admin/pool` (viewer): the pool's counts and its busiest senders.
#[utoipa::path(get, path = "/v1/admin/pool", tag = "admin", description = "The transaction pool: transfers held, executable, senders, and the 20 senders holding the most (viewer)",
    responses((status = 200, description = "{\"pending\", \"ready\", \"senders\", \"busiest\": [{\"address\", \"count\"}]}"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not a loopback caller", body = ErrorBody)))]
pub(crate) async fn pool(
    State(state): State<NodeAdmin>,
    _caller: Caller<VIEWER>,
) -> Json<serde_json::Value> {
    let status = state.api.pool.status();
    let busiest: Vec<serde_json::Value> = state
        .api
        .pool
        .busiest_senders(BUSIEST_SENDERS)
        .into_iter()
        .map(|(address, count)| serde_json::json!({"address": address, "count": count}))
        .collect();
    Json(serde_json::json!({
        "pending": status.pending,
        "ready": status.ready,
        "senders": status.senders,
        "busiest": busiest,
    }))
}

/// `GET /v1/admin/pool/{address}` (viewer): one sender's queue.
#[utoipa::path(get, path = "/v1/admin/pool/{address}", tag = "admin", description = "One sender's queued transfers in nonce order, each with whether it can go into the next block (viewer)",
    params(("address" = String, Path, description = "The sender (0x and 40 hex digits)", pattern = "^0x[0-9a-fA-F]{40}$")),
    responses((status = 200, description = "{\"address\", \"account_nonce\", \"queue\": [{\"hash\", \"nonce\", \"ready\", \"waiting_ms\"}]}"), (status = 400, description = "Not an address", body = ErrorBody), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not a loopback caller", body = ErrorBody)))]
pub(crate) async fn sender_queue(
    State(state): State<NodeAdmin>,
    _local: ConnectParts,
    headers: HeaderMap,
    Path(address): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // The address is checked first: a malformed one is refused as such, session or not.
    let address: Address = address
        .strip_prefix("0x")
        .filter(|hex| hex.len() == 40)
        .and_then(|_| address.parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request("invalid_address", "an address is 0x and 40 hex digits")
                .with_field("address")
        })?;
    authorize::<VIEWER>(&state.admin, &headers, Role::Viewer).await?;
    let account_nonce = state
        .api
        .chain
        .account(&address, None)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_or(0, |account| account.nonce);
    Ok(Json(serde_json::json!({
        "address": address,
        "account_nonce": account_nonce,
        "queue": state.api.pool.sender_queue(&address),
    })))
}

/// A log level, for `GET /v1/admin/logs?level=`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // Describes the parameter in the OpenAPI document only.
pub(crate) enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Deserialize)]
pub(crate) struct LogQuery {
    q: Option<String>,
    level: Option<String>,
    before: Option<u64>,
    limit: Option<usize>,
}

/// `GET /v1/admin/logs?q=TEXT&level=LEVEL&before=SEQ&limit=N` (viewer).
#[utoipa::path(get, path = "/v1/admin/logs", tag = "admin", description = "The node's recent log lines, newest first: those containing `q` (ignoring case), at `level` or more severe, before line `before`; at most `limit` (1 to 1,000, default 200) (viewer)",
    params(
        ("q" = Option<String>, Query, description = "Text the line or its module contains"),
        ("level" = Option<LogLevel>, Query, description = "error, warn, info, debug or trace"),
        ("before" = Option<u64>, Query, description = "Only lines before this one (to page back)"),
        ("limit" = Option<u64>, Query, description = "At most this many lines (1 to 1,000; default 200)", minimum = 1, maximum = 1000),
    ),
    responses((status = 200, description = "{\"lines\": [LogLine]}"), (status = 400, description = "A bad level, limit or query", body = ErrorBody), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not a loopback caller", body = ErrorBody)))]
pub(crate) async fn logs(
    State(state): State<NodeAdmin>,
    _local: ConnectParts,
    headers: HeaderMap,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // The query is checked first: a malformed one is refused as such, session or not.
    let Query(query) = query
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()).with_field("query"))?;
    if let Some(level) = &query.level
        && !["error", "warn", "info", "debug", "trace"].contains(&level.to_lowercase().as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "a level is error, warn, info, debug or trace",
        )
        .with_field("level"));
    }
    if query.q.as_ref().is_some_and(|q| q.len() > 256) {
        return Err(
            ApiError::bad_request("invalid_field", "search for at most 256 bytes").with_field("q"),
        );
    }
    let limit = query.limit.unwrap_or(200);
    if !(1..=1_000).contains(&limit) {
        return Err(
            ApiError::bad_request("invalid_field", "limit is 1 to 1000").with_field("limit")
        );
    }
    authorize::<VIEWER>(&state.admin, &headers, Role::Viewer).await?;
    let logs = state.admin.logs.clone();
    let lines = tokio::task::spawn_blocking(move || {
        logs.search(
            query.q.as_deref(),
            query.level.as_deref(),
            query.before,
            limit,
        )
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(serde_json::json!({"lines": lines})))
}

/// `POST /v1/admin/stop` (operator): the node stops as on SIGTERM, finishing the block it is
/// committing and keeping its pool for the next start.
#[utoipa::path(post, path = "/v1/admin/stop", tag = "admin", description = "Stop the node gracefully, as on SIGTERM: the block being committed is finished and the pool kept for the next start (operator)",
    responses((status = 202, description = "Stopping"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an operator", body = ErrorBody), (status = 501, description = "This process cannot be stopped from here", body = ErrorBody)))]
pub(crate) async fn stop(
    State(state): State<NodeAdmin>,
    caller: Caller<OPERATOR>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let Some(stop) = state.admin.stop.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "cannot_stop",
            "this process cannot be stopped through its API",
        ));
    };
    tracing::warn!(user = %caller.user.name, "stop asked through the admin API");
    stop();
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"stopping": true})),
    ))
}

/// `GET /v1/admin/events` (admin): a WebSocket of session events as they happen (logins,
/// logouts, expiries, revocations, failed logins, user changes), one JSON object per message.
/// The feed closes when the caller's own session ends.
#[utoipa::path(get, path = "/v1/admin/events", tag = "admin", description = "WebSocket: every login, logout, expiry, revocation, failed login and user change as it happens, one JSON event per message; closes when the caller's session ends (admin)",
    params(
        ("Connection" = String, Header, description = "Upgrade", pattern = "(?i)upgrade"),
        ("Upgrade" = String, Header, description = "websocket", pattern = "(?i)^websocket$"),
        ("Sec-WebSocket-Version" = String, Header, description = "The WebSocket version", pattern = "^13$"),
        ("Sec-WebSocket-Key" = String, Header, description = "16 random bytes, base64"),
    ),
    responses((status = 101, description = "The feed"), (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an admin, another site's page, or not a loopback caller", body = ErrorBody), (status = 426, description = "The connection cannot be upgraded", body = ErrorBody), (status = 503, description = "Too many feeds are open", body = ErrorBody)))]
pub(crate) async fn events(
    State(state): State<NodeAdmin>,
    _local: ConnectParts,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    // A page of another site cannot open the feed with the admin's cookie (browsers send
    // SameSite=Strict cookies only to the same site, and the origin must be this host).
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if origin_host != host {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "the feed is opened by this node's own pages only",
            )
            .into_response();
        }
    }
    // The upgrade is checked before the session: a malformed request is refused as such.
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => {
            return ApiError::new(
                rejection.status(),
                "not_a_websocket",
                format!("{}: connect with a WebSocket client", rejection.body_text()),
            )
            .into_response();
        }
    };
    let caller = match authorize::<ADMIN>(&state.admin, &headers, Role::Admin).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let Ok(slot) = state.admin.feeds.clone().try_acquire_owned() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_feeds",
            format!("at most {MAX_EVENT_FEEDS} event feeds at once"),
        )
        .into_response();
    };
    let admin = state.admin.clone();
    ws.max_message_size(4_096)
        .on_upgrade(move |socket| async move {
            feed(socket, admin, caller).await;
            drop(slot);
        })
}

/// The session an event ends, if it ends one.
fn ended_session(event: &Event) -> Option<&str> {
    match event {
        Event::Logout { session, .. }
        | Event::Expired { session, .. }
        | Event::Revoked { session, .. } => Some(session),
        _ => None,
    }
}

/// Whether the session `id` is still open, read without counting as its use (an open page
/// must not keep an idle session alive).
async fn session_open(admin: &AdminState, id: &str) -> bool {
    let access = admin.access.clone();
    let now = (admin.now_ms)();
    let id = id.to_string();
    tokio::task::spawn_blocking(move || {
        access
            .sessions(now)
            .map(|sessions| sessions.iter().any(|session| session.id == id))
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

async fn feed(mut socket: WebSocket, admin: AdminState, caller: Caller<ADMIN>) {
    let mut events = admin.events.subscribe();
    let mine = caller.session.id.clone();
    // A ping now and then finds clients that vanished, and a session that timed out while
    // nothing happened (checked without counting as use, so an open page does not keep a
    // session alive).
    let mut heartbeat = tokio::time::interval(FEED_HEARTBEAT);
    heartbeat.tick().await;
    let mut stopping = admin.stopping.clone();
    let node_stops = async move {
        match stopping.as_mut() {
            Some(stopping) => {
                let _ = stopping.wait_for(|stop| *stop).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(node_stops);
    loop {
        tokio::select! {
            () = &mut node_stops => {
                // The node is stopping: the feed ends now rather than hold the server's
                // shutdown for its grace period.
                let _ = socket
                    .send(Message::Close(Some(CloseFrame {
                        code: close_code::AWAY,
                        reason: "the node is stopping".into(),
                    })))
                    .await;
                return;
            }
            _ = heartbeat.tick() => {
                if !session_open(&admin, &mine).await {
                    break;
                }
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => match incoming {
                // The feed only talks; what the client sends is read and let go.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            event = events.recv() => {
                let event = match event {
                    Ok(event) => event,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        // Events were missed, perhaps the end of this session: check it
                        // (without counting as use: a flood of events must not keep an idle
                        // session alive).
                        if !session_open(&admin, &mine).await {
                            break;
                        }
                        let note = serde_json::json!({"event": "lagged", "missed": missed});
                        if socket.send(Message::Text(note.to_string().into())).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                };
                let Ok(text) = serde_json::to_string(&event) else {
                    continue;
                };
                if socket.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
                if ended_session(&event) == Some(mine.as_str()) {
                    break;
                }
            }
        }
    }
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: close_code::POLICY,
            reason: "the session ended".into(),
        })))
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_latest_lines_and_searches_them() {
        let logs = LogBuffer::new(3);
        logs.push(1, "INFO", "cairn_node::runtime", "block committed height=1");
        logs.push(2, "WARN", "cairn_network::sync", "peer slow");
        logs.push(3, "INFO", "cairn_node::runtime", "block committed height=2");
        logs.push(4, "ERROR", "cairn_node::runtime", "disk full");
        let all: Vec<u64> = logs
            .search(None, None, None, 10)
            .iter()
            .map(|l| l.seq)
            .collect();
        assert_eq!(all, [4, 3, 2], "the oldest line is dropped, newest first");
        let found = logs.search(Some("COMMITTED"), None, None, 10);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].text, "block committed height=2");
        let warnings: Vec<u64> = logs
            .search(None, Some("warn"), None, 10)
            .iter()
            .map(|l| l.seq)
            .collect();
        assert_eq!(warnings, [4, 2]);
        assert_eq!(logs.search(Some("sync"), None, None, 10)[0].seq, 2);
        let paged: Vec<u64> = logs
            .search(None, None, Some(4), 1)
            .iter()
            .map(|l| l.seq)
            .collect();
        assert_eq!(paged, [3]);
        // A long line is cut on a character boundary.
        logs.push(5, "INFO", "t", &"é".repeat(MAX_LOG_LINE_BYTES));
        let cut = &logs.search(None, None, None, 1)[0].text;
        assert!(cut.len() <= MAX_LOG_LINE_BYTES && cut.chars().all(|c| c == 'é'));
    }
}
