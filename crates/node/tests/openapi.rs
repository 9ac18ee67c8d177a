//! The API contract checked by outside tools: the OpenAPI document passes an independent
//! validator (`openapi-spec-validator`), and schemathesis, generating requests from that
//! document with every check it has, finds no failure against a live node.
//!
//! Both tools come from PyPI, pinned, into a virtual environment under the target directory
//! (made once, reused by later runs). Without `python3` these tests say so and pass; in CI
//! (`CAIRN_CI` or `CI` set) a missing Python is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// The tools, at the versions these tests were written against.
const PYTHON_TOOLS: &[&str] = &["openapi-spec-validator==0.9.0", "schemathesis==4.32.5"];

fn in_ci() -> bool {
    ["CAIRN_CI", "CI"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "false"))
}

/// The virtual environment holding the tools, or `None` (with a message) where there is no
/// Python outside CI.
fn python_tools() -> Option<&'static Path> {
    static TOOLS: OnceLock<Option<PathBuf>> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("py-contract-tools");
            let marker = venv.join(PYTHON_TOOLS.join(" ").replace(['=', ' '], "_"));
            if marker.exists() {
                return Some(venv);
            }
            let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
            if Command::new(&python).arg("--version").output().is_err() {
                assert!(
                    !in_ci(),
                    "{python} is needed for the API contract tests and CI must have it"
                );
                eprintln!(
                    "SKIPPED: {python} not found; the OpenAPI validator and schemathesis \
                     tests need Python 3 (they install their tools from PyPI)"
                );
                return None;
            }
            let _ = std::fs::remove_dir_all(&venv);
            run(Command::new(&python).args(["-m", "venv"]).arg(&venv));
            run(Command::new(venv.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PYTHON_TOOLS));
            std::fs::write(&marker, "").unwrap();
            Some(venv)
        })
        .as_deref()
}

fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_openapi_document_passes_an_independent_validator() {
    let Some(venv) = python_tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(
        &file,
        serde_json::to_string_pretty(cairn_rpc::openapi_document()).unwrap(),
    )
    .unwrap();
    let output = run(Command::new(venv.join("bin/openapi-spec-validator")).arg(&file));
    assert!(output.contains("OK"), "{output}");
}

#[test]
fn the_openapi_document_says_no_internal_words_and_types_bodies_truly() {
    let document = cairn_rpc::openapi_document();
    let text = document.to_string();
    for word in ["seed", "untagged", "Rust"] {
        assert!(!text.contains(word), "the document mentions {word:?}");
    }
    // The binary batch is bytes, not an array of integers.
    let raw = &document["paths"]["/v1/transactions/raw"]["post"]["requestBody"]["content"]["application/octet-stream"]
        ["schema"];
    let raw = match raw.get("$ref").and_then(|r| r.as_str()) {
        Some(reference) => {
            &document["components"]["schemas"][reference.rsplit('/').next().unwrap()]
        }
        None => raw,
    };
    assert_eq!(raw["type"], "string", "{raw}");
    assert_eq!(raw["format"], "binary", "{raw}");
    // Query parameters are query parameters, and none is required.
    for (path, names) in [
        ("/v1/blocks", &["start", "limit", "full"][..]),
        ("/v1/blocks/{id}", &["full"]),
        ("/v1/accounts/{address}", &["proof", "block"]),
    ] {
        let parameters = document["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap();
        for name in names {
            let parameter = parameters.iter().find(|p| p["name"] == *name).unwrap();
            assert_eq!(parameter["in"], "query", "{path} {parameter}");
            assert_eq!(parameter["required"], false, "{path} {parameter}");
        }
    }
    // 64-bit integers say so, with their true range.
    let nonce = &document["components"]["schemas"]["TransactionFields"]["properties"]["nonce"];
    assert_eq!(nonce["format"], "uint64", "{nonce}");
    assert_eq!(nonce["maximum"], u64::MAX, "{nonce}");
}

/// What the schema cannot say, told to schemathesis:
/// - a transfer that matches the schema can still be refused for what only the chain knows
///   (its signature, chain id, nonce or the sender's balance): 400, 409, 422 or 503;
/// - a batch above 20,000 transfers or a body above 8 MiB is refused with 413, which is a
///   rejection like any 4xx.
const SCHEMATHESIS_CONFIG: &str = r#"
[checks.negative_data_rejection]
expected-statuses = ["400", "404", "405", "406", "409", "413", "415", "422"]

[[operations]]
include-path-regex = "^/v1/transactions"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "409", "413", "422", "503"]
"#;

#[test]
fn ws_upgrade_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("chain"), &[]);
    let (status, body) = node.http().get("/v1/ws");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "not_a_websocket", "{body}");
}

#[test]
fn schemathesis_finds_no_failure_against_a_live_node() {
    let Some(venv) = python_tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("chain"), &[]);
    std::fs::write(dir.path().join("schemathesis.toml"), SCHEMATHESIS_CONFIG).unwrap();
    let examples = std::env::var("CAIRN_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "40".into());
    let output = Command::new(venv.join("bin/schemathesis"))
        .current_dir(dir.path())
        .args(["run", &format!("{}/v1/openapi.json", node.url)])
        // The WebSocket handshake is outside what an HTTP fuzzer can drive (a valid request
        // is answered 101 and the connection changes protocol); `ws_upgrade_is_required`
        // checks its errors.
        .args(["--exclude-path", "/v1/ws"])
        .args(["--checks", "all", "--max-examples", &examples])
        // One worker: CPython 3.11's `ast.parse`, which Hypothesis calls to describe its
        // strategies, is not safe across threads ("AST constructor recursion depth mismatch"
        // was seen once with two).
        .args(["--workers", "1", "--seed", "1", "--no-color"])
        .args([
            "--suppress-health-check",
            "all",
            "--generation-database",
            "none",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The summary (operations, cases, failures) is the last part of the output.
    let summary: Vec<&str> = stdout.lines().rev().take(25).collect();
    eprintln!(
        "{}",
        summary.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
