//! The command line's exit statuses tell a script what happened (`cairn --help` lists them),
//! bad arguments are one clear line each, and `--json` covers failures too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;

use common::*;
use serde_json::Value;

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn one_line(out: &Output) -> String {
    let text = stderr(out);
    assert_eq!(text.trim_end().lines().count(), 1, "not one line: {text}");
    text
}

const TO: &str = "0x0000000000000000000000000000000000000001";

#[test]
fn transfer_exit_statuses_tell_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("chain"), &[]);

    // Committed: 0.
    let out = node.cli(&[
        "tx", "transfer", "--dev", "0", "--to", TO, "--amount", "5", "--wait",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Refused by the node (a used nonce): 3, nothing submitted, the node's code named.
    let out = node.cli(&[
        "tx", "transfer", "--dev", "0", "--to", TO, "--amount", "5", "--nonce", "0", "--json",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(one_line(&out).contains("not submitted"));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["code"], "nonce_too_low", "{error}");

    // Committed but failed: 4, with the receipt's reason. A fresh account gets 100, then
    // spends 80 twice; the second is admitted (the first is not yet executed) and fails.
    let key = dir.path().join("bob.key");
    let bob = node.cli_json(&["keys", "new", "--out", key.to_str().unwrap()]);
    let bob_address = bob["address"].as_str().unwrap();
    let out = node.cli(&[
        "tx",
        "transfer",
        "--dev",
        "1",
        "--to",
        bob_address,
        "--amount",
        "100",
        "--wait",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let key = key.to_str().unwrap();
    // The second (nonce 1) is admitted first, while the balance is 100, and waits behind
    // the first (nonce 0), which is sent while it waits: whatever the block timing, the
    // second executes after the first and finds 20.
    let second = std::process::Command::new(cairn_bin())
        .args([
            "--node", &node.url, "tx", "transfer", "--key", key, "--to", TO,
        ])
        .args(["--amount", "80", "--nonce", "1", "--wait", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pending = |nonce: u64| {
        node.http().get(&format!("/v1/accounts/{bob_address}")).1["pending_nonce"].as_u64()
            == Some(nonce)
    };
    // Wait until nonce 1 is in the pool (the sender's next nonce stays 0 meanwhile).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while node.http().status()["pool"]["pending"].as_u64() == Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "nonce 1 never reached the pool"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(pending(0));
    let first = node.cli(&[
        "tx", "transfer", "--key", key, "--to", TO, "--amount", "80", "--nonce", "0",
    ]);
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let second = second.wait_with_output().unwrap();
    assert_eq!(code(&second), 4, "{}", stderr(&second));
    assert!(one_line(&second).contains("insufficient_funds"));
    let result: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(result["status"], "failed", "{result}");
    assert_eq!(result["reason"], "insufficient_funds", "{result}");

    // Still pending when the wait runs out (a nonce gap keeps it waiting): 5, and the message
    // says it was submitted, with its hash, so a script does not pay twice.
    let pending = node.cli_json(&["account", bob_address])["pending_nonce"]
        .as_u64()
        .unwrap();
    let gap = (pending + 1).to_string();
    let out = node.cli(&[
        "tx",
        "transfer",
        "--key",
        key,
        "--to",
        TO,
        "--amount",
        "1",
        "--nonce",
        &gap,
        "--wait",
        "--timeout",
        "1",
        "--json",
    ]);
    assert_eq!(code(&out), 5, "{}", stderr(&out));
    let line = one_line(&out);
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    let hash = error["error"]["hash"].as_str().unwrap();
    assert_eq!(error["error"]["code"], "timeout", "{error}");
    assert!(
        line.contains("was submitted") && line.contains(hash),
        "{line}"
    );
    assert_eq!(
        node.http().get(&format!("/v1/transactions/{hash}")).1["status"],
        "pending"
    );
    // The same command with the nonce it used signs the very same transaction: sending it
    // again cannot pay twice.
    assert_eq!(error["error"]["nonce"].as_u64(), Some(pending + 1));
    let again = node.cli_json(&[
        "tx", "transfer", "--key", key, "--to", TO, "--amount", "1", "--nonce", &gap,
    ]);
    assert_eq!(again["hash"], hash, "{again}");

    // A node that is not there: 3, nothing submitted.
    let out = std::process::Command::new(cairn_bin())
        .args([
            "tx",
            "transfer",
            "--node",
            "http://127.0.0.1:9",
            "--dev",
            "0",
        ])
        .args(["--to", TO, "--amount", "1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(one_line(&out).contains("cannot reach"));
}

#[test]
fn tx_get_of_an_unknown_hash_fails() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("chain"), &[]);
    let unknown = format!("0x{}", "ab".repeat(32));
    let out = node.cli(&["tx", "get", &unknown]);
    assert_eq!(code(&out), 6, "{}", stderr(&out));
    assert!(one_line(&out).contains("does not know"));
    // With --json the answer is still printed (status unknown), and the status still says so.
    let out = node.cli(&["tx", "get", &unknown, "--json"]);
    assert_eq!(code(&out), 6);
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], "unknown", "{answer}");

    // A proof sent to a file is not also printed.
    let file = dir.path().join("proof.json");
    let dev0 = format!("{:#x}", dev(0).address());
    let out = node.cli(&[
        "account",
        &dev0,
        "--proof",
        "--proof-out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    let nodes: Vec<String> = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert!(!nodes.is_empty());
    assert!(printed.contains("Proof written to"), "{printed}");
    assert!(
        !printed.contains(&nodes[0]),
        "the proof was printed too:\n{printed}"
    );
}

#[test]
fn bad_arguments_are_one_clear_line_and_exit_2() {
    // None of these reach a node: the arguments are refused first.
    let cases: &[(&[&str], &str)] = &[
        (
            &["tx", "transfer", "--dev", "0", "--to", TO, "--amount", "0"],
            "--amount",
        ),
        (
            &["tx", "transfer", "--dev", "0", "--to", TO, "--amount", "-5"],
            "--amount",
        ),
        (
            &[
                "tx", "transfer", "--dev", "0", "--to", TO, "--amount", "1.5",
            ],
            "--amount",
        ),
        (
            &[
                "tx",
                "transfer",
                "--dev",
                "0",
                "--to",
                "0000000000000000000000000000000000000001",
                "--amount",
                "1",
            ],
            "--to",
        ),
        (
            &["--node", "127.0.0.1:8545", "status"],
            "did you mean http://127.0.0.1:8545",
        ),
        (
            &["status", "--node", "localhost:8545"],
            "did you mean http://localhost:8545",
        ),
        (&["tx", "get", "abcd"], "HASH"),
        (&["account", "0x12"], "ADDRESS"),
        (&["tx", "transfer", "--dev", "0", "--amount", "1"], "--to"),
    ];
    for (args, names) in cases {
        let out = std::process::Command::new(cairn_bin())
            .args(*args)
            .env_remove("CAIRN_NODE")
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let line = one_line(&out);
        assert!(line.contains(names), "{args:?}: {line}");
    }
    // With --json, the error is JSON on stdout too.
    let out = std::process::Command::new(cairn_bin())
        .args([
            "--json", "tx", "transfer", "--dev", "0", "--to", TO, "--amount", "0",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["code"], "invalid_argument", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--amount")
    );
    let out = std::process::Command::new(cairn_bin())
        .args(["--json", "frobnicate"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["code"], "invalid_argument", "{error}");
}

#[test]
fn help_names_metavariables_and_exit_statuses() {
    let help = |args: &[&str]| {
        let out = std::process::Command::new(cairn_bin())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let transfer = help(&["tx", "transfer", "--help"]);
    for expected in [
        "--to <ADDRESS>",
        "--amount <AMOUNT>",
        "--key <FILE>",
        "5  tx transfer --wait: timed out",
    ] {
        assert!(
            transfer.contains(expected),
            "{expected:?} missing:\n{transfer}"
        );
    }
    // --node is shown where it is used, not on commands that never talk to a node.
    assert!(transfer.contains("--node <URL>"));
    for offline in [
        &["keys", "new", "--help"][..],
        &["trie", "root", "--help"],
        &["verify-chain", "--help"],
    ] {
        assert!(!help(offline).contains("--node"), "{offline:?}");
    }
    let devnet = help(&["devnet", "--help"]);
    assert!(
        devnet.contains("--data-dir <DIR>") && devnet.contains(".cairn/devnet"),
        "{devnet}"
    );
}

#[test]
fn a_devnet_that_cannot_start_leaves_no_data_directory() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    for validators in ["1", "4"] {
        let data = dir.path().join(format!("devnet-{validators}"));
        let out = std::process::Command::new(cairn_bin())
            .args(["devnet", "--validators", validators, "--http"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert_eq!(code(&out), 1, "{}", stderr(&out));
        assert!(one_line(&out).contains("cannot listen"), "{}", stderr(&out));
        assert!(!data.exists(), "{} was left behind", data.display());
    }
}
