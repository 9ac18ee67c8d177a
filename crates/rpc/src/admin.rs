//! The admin API under `/v1/admin` (seed 003's vmshell, over HTTP): log in and out, manage
//! users and sessions, and watch and stop the node, each route checked against the caller's
//! role.
//!
//! A session's token comes as `Authorization: Bearer TOKEN` (the shell) or in the session
//! cookie (the console: HttpOnly, SameSite=Strict, named after the node's port, and taken only
//! from requests the browser says come from the node's own pages). Only callers on the node's
//! own machine (loopback), addressing it by a loopback name, are served, unless the node is
//! configured to serve the admin API remotely.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use cairn_access::{Access, AccessError, Actor, Event, Role, Session, User};
use serde::Deserialize;

use tokio::sync::broadcast;

use crate::error::{ApiError, ApiJson};

pub(crate) mod node;
use crate::types::ErrorBody;
pub use node::{LOG_LINES, LogBuffer, LogLine, MAX_EVENT_FEEDS, MAX_LOG_LINE_BYTES};

/// The cookie a console session travels in.
pub const SESSION_COOKIE: &str = "cairn_session";

/// What the admin routes serve from.
#[derive(Clone)]
pub struct AdminState {
    /// Users and sessions.
    pub access: Arc<Access>,
    /// Whether callers from other machines are served.
    pub remote: bool,
    /// The clock (ms since the epoch).
    pub now_ms: fn() -> u64,
    /// When the node started (ms since the epoch).
    pub started_ms: u64,
    /// The node's recent log lines.
    pub logs: Arc<LogBuffer>,
    /// Asks the node to stop gracefully; `None` if it cannot be stopped from here.
    pub stop: Option<Arc<dyn Fn() + Send + Sync>>,
    /// Every session event, for the admin feed.
    pub events: broadcast::Sender<Event>,
    /// Slots of the admin feed ([`MAX_EVENT_FEEDS`]).
    feeds: Arc<tokio::sync::Semaphore>,
    /// The session cookie's name: `cairn_session`, or `cairn_session_PORT` for a node on
    /// PORT (browsers share cookies between the ports of one host).
    pub cookie: String,
    /// One password hashed or checked at a time, waited for before a blocking thread is
    /// taken, so a flood of logins cannot hold the runtime's blocking threads.
    argon2: Arc<tokio::sync::Semaphore>,
    /// Requests waiting for [`argon2`](Self::argon2).
    argon2_waiting: Arc<std::sync::atomic::AtomicUsize>,
    /// Reverse proxies whose `X-Forwarded-For` names the real caller: the address that
    /// counts for the loopback rule and for the failed-login limit.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Becomes true when the node starts to stop: the event feeds then close.
    pub stopping: Option<tokio::sync::watch::Receiver<bool>>,
}

/// Requests that may wait for a password check at once; more are answered 503.
pub const MAX_PASSWORD_WAITERS: usize = 32;

/// Hands every session event to the admin feed's subscribers.
struct Broadcast(broadcast::Sender<Event>);

impl cairn_access::SessionObserver for Broadcast {
    fn on_login(&self, event: &Event) {
        let _ = self.0.send(event.clone());
    }
    fn on_logout(&self, event: &Event) {
        let _ = self.0.send(event.clone());
    }
    fn on_failed_login(&self, event: &Event) {
        let _ = self.0.send(event.clone());
    }
    fn on_user_changed(&self, event: &Event) {
        let _ = self.0.send(event.clone());
    }
}

impl AdminState {
    /// The admin API over `access`, serving other machines if `remote`; its events go to the
    /// admin feed from now on. Logs are empty and the node cannot be stopped until the caller
    /// sets [`logs`](Self::logs) and [`stop`](Self::stop).
    pub fn new(access: Arc<Access>, remote: bool) -> Self {
        let (events, _) = broadcast::channel(1_024);
        access.observe(Arc::new(Broadcast(events.clone())));
        Self {
            access,
            remote,
            now_ms: cairn_primitives::clock::now_ms,
            started_ms: cairn_primitives::clock::now_ms(),
            logs: Arc::default(),
            stop: None,
            events,
            feeds: Arc::new(tokio::sync::Semaphore::new(MAX_EVENT_FEEDS)),
            cookie: SESSION_COOKIE.to_string(),
            argon2: Arc::new(tokio::sync::Semaphore::new(1)),
            argon2_waiting: Arc::default(),
            trusted_proxies: Vec::new(),
            stopping: None,
        }
    }

    /// Runs `work`, which hashes or checks a password, on a blocking thread once it is its
    /// turn; 503 `busy` if too many wait already.
    async fn with_password<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AccessError> + Send + 'static,
    ) -> Result<T, ApiError> {
        use std::sync::atomic::Ordering;
        struct Waiting(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Waiting {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        if self.argon2_waiting.fetch_add(1, Ordering::SeqCst) >= MAX_PASSWORD_WAITERS {
            self.argon2_waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many password checks waiting; try again in a few seconds",
            ));
        }
        let waiting = Waiting(self.argon2_waiting.clone());
        let turn = self
            .argon2
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?;
        drop(waiting);
        // The turn is held until the work is done, even if the request is dropped meanwhile.
        blocking(move || {
            let result = work();
            drop(turn);
            result
        })
        .await
    }
}

/// The admin routes: users and sessions, and (with the API's state) the node's.
pub fn router(state: AdminState, api: Option<crate::ApiState>) -> Router {
    let users = users_router(state.clone());
    match api {
        Some(api) => users.merge(node::router(state, api)),
        None => users,
    }
}

fn users_router(state: AdminState) -> Router {
    Router::new()
        .route("/v1/admin/login", post(login))
        .route("/v1/admin/logout", post(logout))
        .route("/v1/admin/me", get(me))
        .route("/v1/admin/users", get(users).post(add_user))
        .route("/v1/admin/users/{name}", delete(delete_user))
        .route("/v1/admin/users/{name}/role", put(set_role))
        .route("/v1/admin/users/{name}/password", put(set_password))
        .route("/v1/admin/sessions", get(sessions))
        .route("/v1/admin/sessions/{id}", delete(revoke))
        .route("/v1/admin/audit", get(audit))
        .with_state(state)
}

fn access_error(error: AccessError) -> ApiError {
    match error {
        AccessError::Invalid(message) => ApiError::bad_request("invalid_field", message),
        AccessError::UnknownUser(name) => {
            ApiError::not_found("unknown_user", format!("no user {name:?}"))
        }
        AccessError::UserExists(name) => ApiError::new(
            StatusCode::CONFLICT,
            "user_exists",
            format!("user {name:?} exists already"),
        ),
        AccessError::BadCredentials => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_credentials",
            "wrong user name or password",
        ),
        AccessError::Locked { retry_after_s } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_failed_logins",
            format!("too many failed logins; try again in {retry_after_s} s"),
        ),
        AccessError::NoSession => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "no_session",
            "log in first (no session, or it has ended)",
        ),
        AccessError::LastAdmin => ApiError::new(
            StatusCode::CONFLICT,
            "last_admin",
            "the last admin cannot be deleted or lose the admin role",
        ),
        AccessError::Forbidden(message) => {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
        }
        AccessError::Database(message) => ApiError::internal(message),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, AccessError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(access_error)
}

/// The last entry of the last `X-Forwarded-For` header: `None` if there is none, `Err` if it
/// is not an address (`1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:5678`).
fn forwarded_for(headers: &HeaderMap) -> Result<Option<std::net::IpAddr>, ()> {
    let Some(last) = headers.get_all("x-forwarded-for").iter().next_back() else {
        return Ok(None);
    };
    let bytes = last.as_bytes();
    let entry = bytes.rsplit(|byte| *byte == b',').next().unwrap_or(bytes);
    let text = std::str::from_utf8(entry).map_err(|_| ())?.trim();
    let bare = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    let ip = bare
        .parse::<std::net::IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|address| address.ip()))
        .map_err(|_| ())?;
    Ok(Some(ip.to_canonical()))
}

/// Whether a `Host` header names this machine's loopback (`localhost`, `127.x`, `[::1]`,
/// with or without a port). A request with no `Host` (HTTP/1.0 tools) is taken as local.
fn is_loopback_host(host: &str) -> bool {
    if host.is_empty() {
        return true;
    }
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        })
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The caller's address, and whether it may use the admin API at all.
async fn caller(parts: &mut Parts, state: &AdminState) -> Result<String, ApiError> {
    let peer = ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
        .await
        .ok()
        .map(|ConnectInfo(address)| address.ip().to_canonical());
    // Behind a trusted proxy, the caller is the address the proxy appended last to
    // X-Forwarded-For (earlier entries are whatever the client claimed). A request the proxy
    // forwarded without one comes from the proxy's machine; one whose last entry is not an
    // address is refused, never taken as the proxy's own.
    let peer = match peer {
        Some(proxy) if state.trusted_proxies.contains(&proxy) => {
            match forwarded_for(&parts.headers) {
                Ok(Some(client)) => Some(client),
                Ok(None) => Some(proxy),
                Err(()) => {
                    return Err(ApiError::bad_request(
                        "invalid_forwarded_for",
                        "the last X-Forwarded-For entry is not an address",
                    ));
                }
            }
        }
        other => other,
    };
    // A page that renamed itself to a loopback address (DNS rebinding) still names its own
    // host: a local-only admin API answers only requests addressed to a loopback name.
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !state.remote && !is_loopback_host(host) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_local_only",
            "the admin API answers requests to localhost or a loopback address only",
        ));
    }
    match peer {
        Some(address) if state.remote || address.is_loopback() => Ok(address.to_string()),
        // Served without addresses: nobody can be told apart, so nobody is served.
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "admin_local_only",
            "the admin API serves this machine only (see docs/CONSOLE.md to expose it)",
        )),
    }
}

/// How a request carries its session.
enum Token {
    /// `Authorization: Bearer …` (scripts, the shell): no browser sends it on its own.
    Bearer(String),
    /// The session cookie (the console): a browser sends it with any request to this host,
    /// so where the request comes from is checked.
    Cookie(String),
}

/// The session token a request carries: a bearer token, or the session cookie.
fn token_of(headers: &HeaderMap, cookie: &str) -> Option<Token> {
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    {
        return Some(Token::Bearer(token.trim().to_string()));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|cookies| cookies.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == cookie).then(|| Token::Cookie(value.to_string()))
        })
}

/// Whether a request that carries the session cookie comes from this node's own pages. A
/// browser says where a request comes from (`Sec-Fetch-Site`, and `Origin` on anything but a
/// plain GET); another site's page, or another port of this host, is refused, so it cannot
/// make an admin's browser act (stop the node, log out) with the admin's cookie.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    match header("origin") {
        Some(origin) => {
            let host = header("host").unwrap_or_default();
            let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            origin_host.eq_ignore_ascii_case(host)
        }
        None => true,
    }
}

/// A logged-in caller; `R` is the least role the route needs.
pub struct Caller<const R: u8> {
    user: User,
    session: Session,
    token: String,
}

/// [`Caller`]'s role levels.
const VIEWER: u8 = 0;
const OPERATOR: u8 = 1;
const ADMIN: u8 = 2;

fn role_of(level: u8) -> Role {
    match level {
        ADMIN => Role::Admin,
        OPERATOR => Role::Operator,
        _ => Role::Viewer,
    }
}

impl<const R: u8, S: Send + Sync> FromRequestParts<S> for Caller<R>
where
    AdminState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AdminState::from_ref(state);
        caller(parts, &state).await?;
        authorize(&state, &parts.headers, role_of(R)).await
    }
}

/// The caller the request's session names, if its role allows `required`.
pub(crate) async fn authorize<const R: u8>(
    state: &AdminState,
    headers: &HeaderMap,
    required: Role,
) -> Result<Caller<R>, ApiError> {
    let token = match token_of(headers, &state.cookie) {
        Some(Token::Bearer(token)) => token,
        Some(Token::Cookie(token)) if same_origin(headers) => token,
        Some(Token::Cookie(_)) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "the session cookie is taken from this node's own pages only",
            ));
        }
        None => return Err(access_error(AccessError::NoSession)),
    };
    let access = state.access.clone();
    let now = (state.now_ms)();
    let checked = token.clone();
    let (user, session) = blocking(move || access.authenticate(&checked, now)).await?;
    if !user.role.allows(required) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this needs the {} role; {} has {}",
                role_name(required),
                user.name,
                role_name(user.role)
            ),
        ));
    }
    Ok(Caller {
        user,
        session,
        token,
    })
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Operator => "operator",
        Role::Viewer => "viewer",
    }
}

fn user_json(user: &User) -> serde_json::Value {
    serde_json::json!({
        "name": user.name,
        "role": user.role,
        "created_ms": user.created_ms,
        "password_changed_ms": user.password_changed_ms,
    })
}

/// `POST /v1/admin/login`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    /// The user's name.
    user: String,
    /// The password.
    password: String,
}

/// `POST /v1/admin/login` `{"user", "password"}`: a session, its token in the answer and
/// in the session cookie.
#[utoipa::path(post, path = "/v1/admin/login", tag = "admin", request_body = LoginRequest, description = "Log in: a session token, also set as the HttpOnly, SameSite=Strict `cairn_session` cookie",
    responses((status = 400, description = "Malformed JSON or a bad field", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Content-Type is not application/json", body = ErrorBody), (status = 422, description = "A field is missing, unknown or of the wrong type", body = ErrorBody), (status = 200, description = "Logged in: {\"token\", \"session\", \"user\"}"), (status = 401, description = "Wrong user name or password", body = ErrorBody), (status = 403, description = "Not a loopback caller", body = ErrorBody), (status = 429, description = "Too many failed logins of this user from this address (with Retry-After)", body = ErrorBody), (status = 503, description = "Too many password checks waiting", body = ErrorBody), (status = 503, description = "Too many password checks waiting", body = ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AdminState>,
    parts: ConnectParts,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let address = parts.0;
    let access = state.access.clone();
    let now = (state.now_ms)();
    let outcome = state
        .with_password(move || Ok(access.login(&request.user, &request.password, &address, now)))
        .await?;
    let (token, session) = match outcome {
        Ok(opened) => opened,
        Err(AccessError::Locked { retry_after_s }) => {
            let mut response = access_error(AccessError::Locked { retry_after_s }).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_s));
            return Ok(response);
        }
        Err(error) => return Err(access_error(error)),
    };
    let cookie = format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict",
        state.cookie
    );
    let mut response = Json(serde_json::json!({
        "token": token,
        "session": session.id,
        "user": session.user,
    }))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The caller's address, checked against the loopback rule.
pub(crate) struct ConnectParts(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for ConnectParts
where
    AdminState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        caller(parts, &AdminState::from_ref(state)).await.map(Self)
    }
}

/// `POST /v1/admin/logout`: ends the caller's session.
#[utoipa::path(post, path = "/v1/admin/logout", tag = "admin", description = "End the caller's session",
    responses((status = 204, description = "Logged out"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not a loopback caller, or the session cookie sent by another site's page", body = ErrorBody)))]
pub(crate) async fn logout(
    State(state): State<AdminState>,
    caller: Caller<VIEWER>,
) -> Result<Response, ApiError> {
    let access = state.access.clone();
    let now = (state.now_ms)();
    blocking(move || access.logout(&caller.token, now)).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cleared = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        state.cookie
    );
    if let Ok(value) = HeaderValue::from_str(&cleared) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// `GET /v1/admin/me`: the caller and its session.
#[utoipa::path(get, path = "/v1/admin/me", tag = "admin", description = "The caller and its session",
    responses((status = 200, description = "{\"user\", \"session\"} (the session with `expires_ms`: when it ends if not used again)"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not a loopback caller, or the session cookie sent by another site's page", body = ErrorBody)))]
pub(crate) async fn me(
    State(state): State<AdminState>,
    caller: Caller<VIEWER>,
) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "user": user_json(&caller.user),
        "session": session_json(&state.access, &caller.session),
    }))
}

/// A session as the API shows it: with `expires_ms`, when it ends if not used again.
fn session_json(access: &Access, session: &Session) -> serde_json::Value {
    let mut value = serde_json::to_value(session).unwrap_or_default();
    value["expires_ms"] = access.expires_ms(session).into();
    value
}

/// `GET /v1/admin/users` (admin).
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", description = "Every user (admin)",
    responses((status = 200, description = "{\"users\": [{\"name\", \"role\", …}]}"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn users(
    State(state): State<AdminState>,
    _caller: Caller<ADMIN>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = state.access.clone();
    let users = blocking(move || access.users()).await?;
    Ok(Json(
        serde_json::json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /v1/admin/users`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    /// 1 to 64 of A-Z, a-z, 0-9, _, . and -.
    #[schema(pattern = "^[A-Za-z0-9_.-]{1,64}$", min_length = 1, max_length = 64)]
    name: String,
    /// The user's role.
    #[schema(value_type = RoleName)]
    role: Role,
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

/// A role, as the API spells it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum RoleName {
    /// Manages users, and everything an operator does.
    Admin,
    /// Acts on the node, and reads what a viewer does.
    Operator,
    /// Reads the admin pages.
    Viewer,
}

/// `POST /v1/admin/users` `{"name", "role", "password"}` (admin).
#[utoipa::path(post, path = "/v1/admin/users", tag = "admin", request_body = NewUser, description = "Add a user `{\"name\", \"role\", \"password\"}` (admin)",
    responses((status = 400, description = "Malformed JSON or a bad field", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Content-Type is not application/json", body = ErrorBody), (status = 422, description = "A field is missing, unknown or of the wrong type", body = ErrorBody), (status = 201, description = "Added"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 409, description = "The user exists", body = ErrorBody), (status = 503, description = "Too many password checks waiting", body = ErrorBody)))]
pub(crate) async fn add_user(
    State(state): State<AdminState>,
    _local: ConnectParts,
    headers: HeaderMap,
    ApiJson(request): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    // The body is checked first: a malformed request is refused as such, session or not.
    cairn_access::check_name(&request.name).map_err(|e| access_error(e).with_field("name"))?;
    cairn_access::check_password(&request.password)
        .map_err(|e| access_error(e).with_field("password"))?;
    let caller = authorize::<ADMIN>(&state, &headers, Role::Admin).await?;
    let access = state.access.clone();
    let now = (state.now_ms)();
    let by = caller.user.name;
    let user = state
        .with_password(move || {
            access.add_user(
                &request.name,
                request.role,
                &request.password,
                Actor::User(&by),
                now,
            )
        })
        .await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

/// `DELETE /v1/admin/users/{name}` (admin): its sessions end.
#[utoipa::path(delete, path = "/v1/admin/users/{name}", tag = "admin", description = "Delete a user and end its sessions (admin)", params(("name" = String, Path, description = "The user", pattern = "^[A-Za-z0-9_.-]{1,64}$")),
    responses((status = 204, description = "Deleted"), (status = 400, description = "Not a user name", body = ErrorBody), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "The last admin", body = ErrorBody)))]
pub(crate) async fn delete_user(
    State(state): State<AdminState>,
    _local: ConnectParts,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    cairn_access::check_name(&name).map_err(|e| access_error(e).with_field("name"))?;
    let caller = authorize::<ADMIN>(&state, &headers, Role::Admin).await?;
    let access = state.access.clone();
    let now = (state.now_ms)();
    let by = caller.user.name;
    blocking(move || access.delete_user(&name, Actor::User(&by), now)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v1/admin/users/{name}/role`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleChange {
    /// The new role.
    #[schema(value_type = RoleName)]
    role: Role,
}

/// `PUT /v1/admin/users/{name}/role` `{"role"}` (admin): its sessions end.
#[utoipa::path(put, path = "/v1/admin/users/{name}/role", tag = "admin", request_body = RoleChange, description = "Change a user's role `{\"role\"}` and end its sessions (admin)", params(("name" = String, Path, description = "The user")),
    responses((status = 400, description = "Malformed JSON or a bad field", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Content-Type is not application/json", body = ErrorBody), (status = 422, description = "A field is missing, unknown or of the wrong type", body = ErrorBody), (status = 200, description = "Changed"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody), (status = 409, description = "The last admin", body = ErrorBody)))]
pub(crate) async fn set_role(
    State(state): State<AdminState>,
    _local: ConnectParts,
    headers: HeaderMap,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<RoleChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let caller = authorize::<ADMIN>(&state, &headers, Role::Admin).await?;
    let access = state.access.clone();
    let now = (state.now_ms)();
    let by = caller.user.name;
    let user =
        blocking(move || access.set_role(&name, request.role, Actor::User(&by), now)).await?;
    Ok(Json(user_json(&user)))
}

/// `PUT /v1/admin/users/{name}/password`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordChange {
    /// 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
    /// The caller's current password: needed when callers change their own.
    #[schema(max_length = 256)]
    current_password: Option<String>,
}

/// `PUT /v1/admin/users/{name}/password` `{"password", "current_password"}`: an admin for
/// anyone, a user for itself (giving its current password). The user's sessions end (the caller's too, if it is that user).
#[utoipa::path(put, path = "/v1/admin/users/{name}/password", tag = "admin", request_body = PasswordChange, description = "Change a password `{\"password\", \"current_password\"}` (an admin for anyone, a user for itself, giving its current password); the user's sessions end", params(("name" = String, Path, description = "The user")),
    responses((status = 400, description = "Malformed JSON or a bad field", body = ErrorBody), (status = 413, description = "Body too large", body = ErrorBody), (status = 415, description = "Content-Type is not application/json", body = ErrorBody), (status = 422, description = "A field is missing, unknown or of the wrong type", body = ErrorBody), (status = 204, description = "Changed"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Another user's, and not an admin; or the current password is wrong", body = ErrorBody), (status = 404, description = "No such user", body = ErrorBody)))]
pub(crate) async fn set_password(
    State(state): State<AdminState>,
    _local: ConnectParts,
    headers: HeaderMap,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    cairn_access::check_password(&request.password)
        .map_err(|e| access_error(e).with_field("password"))?;
    if request
        .current_password
        .as_ref()
        .is_some_and(|current| current.chars().count() > cairn_access::MAX_PASSWORD_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            format!(
                "a password is at most {} characters",
                cairn_access::MAX_PASSWORD_CHARS
            ),
        )
        .with_field("current_password"));
    }
    let caller = authorize::<VIEWER>(&state, &headers, Role::Viewer).await?;
    if caller.user.name != name && caller.user.role != Role::Admin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an admin changes another user's password",
        ));
    }
    if caller.user.name == name && request.current_password.is_none() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "give your current password to change it",
        )
        .with_field("current_password"));
    }
    let access = state.access.clone();
    let now = (state.now_ms)();
    let by = caller.user.name;
    state
        .with_password(move || {
            access.set_password(
                &name,
                &request.password,
                request.current_password.as_deref(),
                Actor::User(&by),
                now,
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/admin/sessions` (admin): the sessions open now.
#[utoipa::path(get, path = "/v1/admin/sessions", tag = "admin", description = "The sessions open now (admin)",
    responses((status = 200, description = "{\"sessions\": […]}"), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn sessions(
    State(state): State<AdminState>,
    _caller: Caller<ADMIN>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let access = state.access.clone();
    let now = (state.now_ms)();
    let listed = access.clone();
    let sessions = blocking(move || listed.sessions(now)).await?;
    let sessions: Vec<serde_json::Value> = sessions
        .iter()
        .map(|session| session_json(&access, session))
        .collect();
    Ok(Json(serde_json::json!({"sessions": sessions})))
}

/// `DELETE /v1/admin/sessions/{id}` (admin): ends the session.
#[utoipa::path(delete, path = "/v1/admin/sessions/{id}", tag = "admin", description = "End a session (admin)", params(("id" = String, Path, description = "The session's public id", pattern = "^[0-9a-f]{16}$")),
    responses((status = 204, description = "Ended"), (status = 400, description = "Not a session id", body = ErrorBody), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 404, description = "No such session", body = ErrorBody)))]
pub(crate) async fn revoke(
    State(state): State<AdminState>,
    _local: ConnectParts,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if id.len() != 16
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "a session id is 16 lowercase hex digits",
        )
        .with_field("id"));
    }
    let caller = authorize::<ADMIN>(&state, &headers, Role::Admin).await?;
    let access = state.access.clone();
    let now = (state.now_ms)();
    let by = caller.user.name.clone();
    if blocking(move || access.revoke(&id, &by, now)).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("unknown_session", "no such session"))
    }
}

#[derive(Deserialize)]
pub(crate) struct AuditQuery {
    limit: Option<u64>,
}

/// `GET /v1/admin/audit?limit=N` (admin): the latest logins, logouts, expiries, revocations
/// and failed logins, newest first (at most 1,000).
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", description = "Logins, logouts, expiries, revocations and failed logins, newest first (admin)",
    params(("limit" = Option<u64>, Query, description = "At most this many events (1 to 1,000; default 100)", minimum = 1, maximum = 1000)),
    responses((status = 200, description = "{\"events\": […]}"), (status = 400, description = "A bad limit", body = ErrorBody), (status = 401, description = "No session", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn audit(
    State(state): State<AdminState>,
    _local: ConnectParts,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // The query is checked first: a malformed one is refused as such, session or not.
    let Query(query) = query
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()).with_field("query"))?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1_000).contains(&limit) {
        return Err(
            ApiError::bad_request("invalid_field", "limit is 1 to 1000").with_field("limit")
        );
    }
    authorize::<ADMIN>(&state, &headers, Role::Admin).await?;
    let limit = usize::try_from(limit).unwrap_or(1_000);
    let access = state.access.clone();
    let events: Vec<Event> = blocking(move || access.audit(limit)).await?;
    Ok(Json(serde_json::json!({"events": events})))
}

#[cfg(test)]
mod tests;
