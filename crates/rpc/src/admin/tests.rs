#![allow(clippy::unwrap_used)]

use std::cell::Cell;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::Request;
use cairn_access::SessionPolicy;
use tower::ServiceExt;

use super::*;

thread_local! {
    // Each test's own clock: the handlers read it on the test's thread.
    static NOW: Cell<u64> = const { Cell::new(1_000_000) };
}

fn now() -> u64 {
    NOW.with(Cell::get)
}

fn app(from: [u8; 4], remote: bool) -> (tempfile::TempDir, Arc<Access>, Router) {
    let dir = tempfile::tempdir().unwrap();
    let access = Arc::new(
        Access::open(
            dir.path().join("access.redb"),
            SessionPolicy {
                idle_ms: 60_000,
                absolute_ms: 3_600_000,
            },
        )
        .unwrap(),
    );
    access
        .add_user("root", Role::Admin, "root-password", Actor::Setup, 0)
        .unwrap();
    access
        .add_user("ops", Role::Operator, "ops-password", Actor::Setup, 0)
        .unwrap();
    access
        .add_user("view", Role::Viewer, "view-password", Actor::Setup, 0)
        .unwrap();
    let mut state = AdminState::new(access.clone(), remote);
    state.now_ms = now;
    let router = router(state, None).layer(MockConnectInfo(SocketAddr::from((from, 40_000))));
    (dir, access, router)
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .body(body.map_or_else(Body::empty, |body| Body::from(body.to_string())))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8_lossy(&bytes).to_string())
}

async fn login(router: &Router, user: &str, password: &str) -> String {
    let (status, headers, body) = call(
        router,
        "POST",
        "/v1/admin/login",
        None,
        Some(serde_json::json!({"user": user, "password": password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!body.contains(password), "the password is echoed");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// Every admin route, with the least role it needs and a body it takes.
fn routes() -> Vec<(&'static str, &'static str, Role, Option<serde_json::Value>)> {
    vec![
        ("GET", "/v1/admin/me", Role::Viewer, None),
        ("POST", "/v1/admin/logout", Role::Viewer, None),
        ("GET", "/v1/admin/users", Role::Admin, None),
        (
            "POST",
            "/v1/admin/users",
            Role::Admin,
            Some(serde_json::json!({"name": "new", "role": "viewer", "password": "new-password"})),
        ),
        ("DELETE", "/v1/admin/users/ops", Role::Admin, None),
        (
            "PUT",
            "/v1/admin/users/ops/role",
            Role::Admin,
            Some(serde_json::json!({"role": "viewer"})),
        ),
        (
            "PUT",
            // Another user's password (a user may change its own).
            "/v1/admin/users/root/password",
            Role::Admin,
            Some(serde_json::json!({"password": "changed-password"})),
        ),
        ("GET", "/v1/admin/sessions", Role::Admin, None),
        (
            "DELETE",
            "/v1/admin/sessions/0000000000000000",
            Role::Admin,
            None,
        ),
        ("GET", "/v1/admin/audit", Role::Admin, None),
    ]
}

#[tokio::test]
async fn every_admin_route_refuses_missing_ended_and_underprivileged_sessions() {
    let (_dir, access, router) = app([127, 0, 0, 1], false);
    let viewer = login(&router, "view", "view-password").await;
    let operator = login(&router, "ops", "ops-password").await;
    let revoked = login(&router, "view", "view-password").await;
    let revoked_id = access.authenticate(&revoked, now()).unwrap().1.id;
    assert!(access.revoke(&revoked_id, "test", now()).unwrap());
    let expired = login(&router, "view", "view-password").await;
    for (method, path, required, body) in routes() {
        let (status, _, answer) = call(&router, method, path, None, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a session: {answer}"
        );
        let (status, _, _) =
            call(&router, method, path, Some(&"ab".repeat(32)), body.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a made-up token"
        );
        let (status, _, _) = call(&router, method, path, Some(&revoked), body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} revoked");
        for (token, role) in [(&viewer, Role::Viewer), (&operator, Role::Operator)] {
            if !role.allows(required) {
                let (status, _, answer) =
                    call(&router, method, path, Some(token), body.clone()).await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as {role:?}: {answer}"
                );
            }
        }
    }
    // An expired session: idle past the limit.
    NOW.with(|now| now.set(now.get() + 60_000));
    let (status, _, _) = call(&router, "GET", "/v1/admin/me", Some(&expired), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "expired");
}

#[tokio::test]
async fn an_admin_manages_users_and_sessions_and_a_revoked_viewer_is_out() {
    let (_dir, _access, router) = app([127, 0, 0, 1], false);
    let admin = login(&router, "root", "root-password").await;
    let (status, _, body) = call(
        &router,
        "POST",
        "/v1/admin/users",
        Some(&admin),
        Some(serde_json::json!({"name": "alice", "role": "viewer", "password": "alice-password"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        !body.contains("alice-password") && !body.contains("argon2"),
        "{body}"
    );
    let alice = login(&router, "alice", "alice-password").await;
    let (status, _, me) = call(&router, "GET", "/v1/admin/me", Some(&alice), None).await;
    assert_eq!(status, StatusCode::OK);
    let session = serde_json::from_str::<serde_json::Value>(&me).unwrap()["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _, _) = call(&router, "GET", "/v1/admin/users", Some(&alice), None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a viewer is refused an admin route"
    );
    let (status, _, _) = call(
        &router,
        "DELETE",
        &format!("/v1/admin/sessions/{session}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = call(&router, "GET", "/v1/admin/me", Some(&alice), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked: logged out");
    // The audit trail has it all, and never a password.
    let (_, _, audit) = call(&router, "GET", "/v1/admin/audit", Some(&admin), None).await;
    assert!(audit.contains("revoked by root"), "{audit}");
    assert!(!audit.contains("password\""), "{audit}");
    // Logout ends the session for every use of its token.
    let (status, headers, _) = call(&router, "POST", "/v1/admin/logout", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, _, _) = call(&router, "GET", "/v1/admin/me", Some(&admin), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The cookie works as the bearer token does.
    let token = login(&router, "root", "root-password").await;
    let request = Request::get("/v1/admin/me")
        .header("cookie", format!("theme=dark; {SESSION_COOKIE}={token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        router.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logins_are_rate_limited_and_remote_callers_refused() {
    let (_dir, _access, router) = app([127, 0, 0, 1], false);
    let wrong = serde_json::json!({"user": "root", "password": "wrong-password"});
    for _ in 0..cairn_access::MAX_FAILURES {
        let (status, _, body) = call(
            &router,
            "POST",
            "/v1/admin/login",
            None,
            Some(wrong.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(!body.contains("wrong-password"));
    }
    let right = serde_json::json!({"user": "root", "password": "root-password"});
    let (status, _, body) = call(
        &router,
        "POST",
        "/v1/admin/login",
        None,
        Some(right.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // From another machine: refused, unless the node serves the admin API remotely.
    let (_dir, _access, remote) = app([10, 1, 2, 3], false);
    let (status, _, body) = call(
        &remote,
        "POST",
        "/v1/admin/login",
        None,
        Some(right.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("admin_local_only"));
    let (_dir, _access, allowed) = app([10, 1, 2, 3], true);
    let (status, _, _) = call(&allowed, "POST", "/v1/admin/login", None, Some(right)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_caller_counts() {
    let (dir, access, _) = app([127, 0, 0, 1], false);
    let proxied = |remote: bool| {
        let mut state = AdminState::new(access.clone(), remote);
        state.now_ms = now;
        state.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        router(state, None).layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))))
    };
    let login = |router: Router, forwarded: &'static str, password: &'static str| async move {
        let request = Request::post("/v1/admin/login")
            .header("content-type", "application/json")
            .header("x-forwarded-for", forwarded)
            .body(Body::from(
                serde_json::json!({"user": "root", "password": password}).to_string(),
            ))
            .unwrap();
        router.oneshot(request).await.unwrap().status()
    };
    // Local only: a caller the proxy names as remote is refused, whatever it claims first.
    assert_eq!(
        login(proxied(false), "127.0.0.1, 10.0.0.5", "root-password").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        login(proxied(false), "127.0.0.1", "root-password").await,
        StatusCode::OK
    );
    // Served remotely: the failed-login limit counts each forwarded caller apart, so one
    // caller's failures do not lock out another behind the same proxy.
    for _ in 0..cairn_access::MAX_FAILURES {
        assert_eq!(
            login(proxied(true), "10.0.0.5", "wrong-password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(proxied(true), "10.0.0.5", "root-password").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        login(proxied(true), "10.0.0.6", "root-password").await,
        StatusCode::OK
    );
    // A client cannot pick its own address: only the proxy's last entry counts, in any of
    // the forms proxies write it.
    for forwarded in [
        "10.0.0.6, 10.0.0.5",
        "10.0.0.5:5678",
        "[::ffff:10.0.0.5]:80",
    ] {
        assert_eq!(
            login(proxied(true), forwarded, "root-password").await,
            StatusCode::TOO_MANY_REQUESTS,
            "{forwarded}"
        );
    }
    // A last entry that is no address is refused, never taken as the proxy's own (which
    // would make a remote caller local).
    for forwarded in ["10.0.0.6,", "unknown", "10.0.0.6, \u{ff}"] {
        assert_eq!(
            login(proxied(false), forwarded, "root-password").await,
            StatusCode::BAD_REQUEST,
            "{forwarded:?}"
        );
    }
    // Only a trusted proxy is believed: from anywhere else the header counts for nothing.
    let (_dir2, _access2, direct) = app([10, 0, 0, 9], false);
    assert_eq!(
        login(direct, "127.0.0.1", "root-password").await,
        StatusCode::FORBIDDEN
    );
    drop(dir);
}

#[test]
fn the_admin_routes_are_in_the_openapi_document() {
    let document = serde_json::to_value(crate::openapi_document()).unwrap();
    for (method, path, _, _) in routes() {
        let template = path
            .replace("/ops/", "/{name}/")
            .replace("/root/", "/{name}/")
            .replace("users/ops", "users/{name}")
            .replace("0000000000000000", "{id}");
        assert!(
            document["paths"][&template][method.to_lowercase()].is_object(),
            "{method} {template}"
        );
    }
    assert!(document["paths"]["/v1/admin/login"]["post"].is_object());
}
