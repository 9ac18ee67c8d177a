//! `cairn admin init`: the first admin of a node, made once, with its password from stdin and
//! the node stopped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use cairn_access::{Access, Role, SessionPolicy};

fn admin_init(dir: &Path, user: &str, stdin: &str) -> Output {
    let mut child = Command::new(common::cairn_bin())
        .args(["admin", "init", "--data-dir", dir.to_str().unwrap()])
        .args(["--user", user, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A refusal may come before the password is read: the pipe is then closed, which is no
    // failure of the test (the exit status and stderr say what happened).
    if let Err(error) = child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    child.wait_with_output().unwrap()
}

fn stderr_line(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text:?}");
    text
}

#[test]
fn the_first_admin_is_made_once_from_stdin_with_the_node_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    // Bad input: one line on stderr, exit 2, nothing made.
    let short = admin_init(&data, "root", "short\n");
    assert_eq!(short.status.code(), Some(2));
    assert!(stderr_line(&short).contains("password"));
    let bad_name = admin_init(&data, "no spaces", "long-enough-password\n");
    assert_eq!(bad_name.status.code(), Some(2));
    assert!(stderr_line(&bad_name).contains("--user"));

    let made = admin_init(&data, "root", "correct horse battery\n");
    assert!(made.status.success(), "{made:?}");
    assert!(String::from_utf8_lossy(&made.stdout).contains("root"));
    assert!(!String::from_utf8_lossy(&made.stdout).contains("correct horse"));

    // Only once.
    let again = admin_init(&data, "other", "another-password\n");
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr_line(&again).contains("users already"));

    let path = data.join("access.redb");
    {
        // The store is in use (as by a running node): refused, saying so.
        let _held = Access::open(&path, SessionPolicy::default()).unwrap();
        let busy = admin_init(&data, "root", "correct horse battery\n");
        assert_eq!(busy.status.code(), Some(2));
        assert!(stderr_line(&busy).contains("stop the node first"));
    }
    let access = Access::open(&path, SessionPolicy::default()).unwrap();
    let users = access.users().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].name.as_str(), users[0].role),
        ("root", Role::Admin)
    );
    // The newline that ended the password is not part of it.
    assert!(
        access
            .login("root", "correct horse battery", "test", 0)
            .is_ok()
    );
}

#[test]
fn a_running_node_serves_its_admins_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("devnet");
    assert!(
        admin_init(&data, "root", "correct horse battery\n")
            .status
            .success()
    );
    let node = common::TestNode::devnet(&data, &[]);
    let (status, body) = node.http().post_json(
        "/v1/admin/login",
        &serde_json::json!({"user": "root", "password": "correct horse battery"}),
    );
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let me = |token: &str| {
        let mut response = agent
            .get(&format!("{}/v1/admin/me", node.url))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    };
    let (status, body) = me(&token);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"admin\""), "{body}");
    let (status, _) = me("0".repeat(64).as_str());
    assert_eq!(status, 401);
    // The running node holds the users' file: init refuses, saying why.
    let busy = admin_init(&data, "other", "another-password\n");
    assert_eq!(busy.status.code(), Some(2));
    assert!(stderr_line(&busy).contains("stop the node first"));
}

/// Reads the next text message of the admin feed as JSON (`None` once it closed).
fn next_event(
    socket: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
) -> Option<serde_json::Value> {
    loop {
        match socket.read() {
            Ok(tungstenite::Message::Text(text)) => return serde_json::from_str(&text).ok(),
            Ok(tungstenite::Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

#[test]
fn a_devnet_makes_its_admin_who_runs_the_node_through_the_admin_api() {
    use tungstenite::client::IntoClientRequest;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("devnet");
    let mut node = common::TestNode::devnet(&data, &[]);
    let (user, password) = node.devnet_admin();
    assert_eq!(user, "admin");
    assert!(password.len() >= 16, "{password}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["devnet-admin-password", "access.redb"] {
            let mode = std::fs::metadata(data.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{file} is readable by others: {mode:o}");
        }
    }
    let http = node.http();
    let (status, body) = http.post_json(
        "/v1/admin/login",
        &serde_json::json!({"user": user, "password": password}),
    );
    assert_eq!(status, 200, "{body}");
    let admin_token = body["token"].as_str().unwrap().to_string();
    let admin = Some(admin_token.as_str());

    // The event feed hears the logins that follow.
    let mut request = format!("{}/v1/admin/events", node.url.replace("http", "ws"))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {admin_token}").parse().unwrap(),
    );
    let (mut feed, _) = tungstenite::connect(request).unwrap();

    // Status, peers, pool.
    let (status, body) = http.call("GET", "/v1/admin/node", admin, None);
    assert_eq!(status, 200, "{body}");
    assert!(body["status"]["height"].is_u64(), "{body}");
    assert_eq!(body["status"]["engine"], "solo");
    assert_eq!(body["can_stop"], true);
    let (status, body) = http.call("GET", "/v1/admin/peers", admin, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["peers"],
        serde_json::json!([]),
        "a solo devnet has none"
    );
    // A transfer behind a nonce gap waits in the pool: the pool pages show it.
    let sender = common::dev(3);
    let gapped = common::transfer(&sender, 5, common::dev(4).address(), 1);
    let (status, body) = http.post_json("/v1/transactions", &common::tx_json(&gapped));
    assert!(status == 200 || status == 202, "{body}");
    let (_, body) = http.call("GET", "/v1/admin/pool", admin, None);
    assert_eq!(body["pending"], 1, "{body}");
    assert_eq!(body["ready"], 0, "{body}");
    assert_eq!(
        body["busiest"][0]["address"]
            .as_str()
            .unwrap()
            .to_lowercase(),
        format!("{:#x}", sender.address())
    );
    let (status, body) = http.call(
        "GET",
        &format!("/v1/admin/pool/{:#x}", sender.address()),
        admin,
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account_nonce"], 0);
    assert_eq!(body["queue"][0]["nonce"], 5);
    assert_eq!(body["queue"][0]["ready"], false);
    assert_eq!(body["queue"][0]["hash"], format!("{:#x}", gapped.hash()));
    let (status, body) = http.call("GET", "/v1/admin/pool/not-an-address", admin, None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "address");

    // A viewer reads the node's pages but may not stop it.
    let (status, body) = http.call(
        "POST",
        "/v1/admin/users",
        admin,
        Some(&serde_json::json!({"name": "watcher", "role": "viewer", "password": "watcher-pass"})),
    );
    assert_eq!(status, 201, "{body}");
    let (_, body) = http.post_json(
        "/v1/admin/login",
        &serde_json::json!({"user": "watcher", "password": "watcher-pass"}),
    );
    let viewer = body["token"].as_str().unwrap().to_string();
    let viewer = Some(viewer.as_str());
    for path in [
        "/v1/admin/node",
        "/v1/admin/peers",
        "/v1/admin/pool",
        "/v1/admin/logs",
    ] {
        let (status, body) = http.call("GET", path, viewer, None);
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, body) = http.call("POST", "/v1/admin/stop", viewer, None);
    assert_eq!(status, 403, "{body}");
    // The feed told of the user added and of the viewer's login, in order.
    let added = next_event(&mut feed).unwrap();
    assert_eq!(added["event"], "user_changed", "{added}");
    assert_eq!(added["change"], "added as viewer");
    assert_eq!(added["by"], "admin");
    let login = next_event(&mut feed).unwrap();
    assert_eq!(login["event"], "login", "{login}");
    assert_eq!(login["user"], "watcher");

    // The logs: searchable, and never a password.
    let (status, body) = http.call("GET", "/v1/admin/logs?q=admin%20login", admin, None);
    assert_eq!(status, 200, "{body}");
    let lines = body["lines"].as_array().unwrap();
    assert!(
        lines
            .iter()
            .any(|line| line["text"].as_str().unwrap().contains("watcher")),
        "{body}"
    );
    let (_, everything) = http.call("GET", "/v1/admin/logs?limit=1000", admin, None);
    let everything = everything.to_string();
    assert!(
        !everything.contains(&password),
        "the admin's password is logged"
    );
    assert!(!everything.contains("watcher-pass"), "a password is logged");
    let (status, body) = http.call("GET", "/v1/admin/logs?level=loud", admin, None);
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "level");

    // Every node route refuses a missing, made-up or revoked session, and `stop` a viewer.
    let (_, body) = http.post_json(
        "/v1/admin/login",
        &serde_json::json!({"user": "watcher", "password": "watcher-pass"}),
    );
    let revoked = body["token"].as_str().unwrap().to_string();
    let (_, me) = http.call("GET", "/v1/admin/me", Some(&revoked), None);
    let id = me["session"]["id"].as_str().unwrap().to_string();
    let (status, _) = http.call("DELETE", &format!("/v1/admin/sessions/{id}"), admin, None);
    assert_eq!(status, 204);
    let made_up = "ab".repeat(32);
    let routes = [
        ("GET", "/v1/admin/node".to_string()),
        ("GET", "/v1/admin/peers".to_string()),
        ("GET", "/v1/admin/pool".to_string()),
        ("GET", format!("/v1/admin/pool/{:#x}", sender.address())),
        ("GET", "/v1/admin/logs".to_string()),
        ("POST", "/v1/admin/stop".to_string()),
    ];
    for (method, path) in &routes {
        for token in [None, Some(made_up.as_str()), Some(revoked.as_str())] {
            let (status, body) = http.call(method, path, token, None);
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
        }
    }
    // The feed, with a real WebSocket handshake: refused without a live admin session.
    let feed_status = |token: Option<&str>| -> u16 {
        let mut request = format!("{}/v1/admin/events", node.url.replace("http", "ws"))
            .into_client_request()
            .unwrap();
        if let Some(token) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match tungstenite::connect(request) {
            Ok(_) => 101,
            Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
            Err(other) => panic!("{other}"),
        }
    };
    for token in [None, Some(made_up.as_str()), Some(revoked.as_str())] {
        assert_eq!(feed_status(token), 401, "the feed with {token:?}");
    }
    assert_eq!(feed_status(viewer), 403, "the event feed is for admins");
    assert_eq!(feed_status(admin), 101);

    // Stop: the node finishes and exits cleanly, keeping the waiting transfer for its next
    // start.
    let (status, body) = http.call("POST", "/v1/admin/stop", admin, None);
    assert_eq!(status, 202, "{body}");
    // The open feed is told and closed (it does not hold the shutdown up).
    let closed = loop {
        match feed.read() {
            Ok(tungstenite::Message::Close(frame)) => break frame,
            Ok(_) => {}
            Err(error) => panic!("the feed ended without a close frame: {error}"),
        }
    };
    let frame = closed.expect("a close frame with a code");
    assert_eq!(
        frame.code,
        tungstenite::protocol::frame::coding::CloseCode::Away,
        "{frame:?}"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = node.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    drop(feed);
    let node = common::TestNode::devnet(&data, &[]);
    assert_eq!(
        node.devnet_admin(),
        (user, password),
        "the same admin, printed again"
    );
    let (_, body) = node
        .http()
        .get(&format!("/v1/transactions/{:#x}", gapped.hash()));
    assert_eq!(body["status"], "pending", "{body}");
}
