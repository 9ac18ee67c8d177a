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
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
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
