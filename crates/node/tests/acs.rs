//! ACS contracts end to end: a real node, driven through the `cairn` CLI exactly as a user
//! would, with the seed's package pasted from the seed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use cairn_primitives::{B256, Bytes, U256};
use common::{TestNode, cairn_bin, dev};
use serde_json::Value;

const SEED: &str = include_str!("../../contracts/tests/seed/nbcs.properties");

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn address(index: u32) -> String {
    format!("{:#x}", dev(index).address())
}

/// `cairn acs call … --wait --json`, expecting it committed; returns its output.
fn call(node: &TestNode, signer: u32, package: &str, contract: &str, record: &str) -> Value {
    node.cli_json(&[
        "acs",
        "call",
        "--dev",
        &signer.to_string(),
        "--package",
        package,
        "--contract",
        contract,
        "--record",
        record,
        "--wait",
    ])
}

fn hex(value: &Value) -> Vec<u8> {
    let text = value.as_str().unwrap();
    (2..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn proof_of(value: &Value) -> Vec<Bytes> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|node| Bytes::from(hex(node)))
        .collect()
}

#[test]
fn the_seeds_package_deploys_and_computes_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::devnet(&dir.path().join("devnet"), &[]);
    let seed = dir.path().join("nbcs.properties");
    std::fs::write(&seed, SEED).unwrap();

    // A package that does not compile is refused before anything is sent.
    let bad = dir.path().join("bad.properties");
    std::fs::write(&bad, "x=1\nx.acs.holder={\n  p.w.a = ;\n}\n").unwrap();
    let out = node.cli(&["acs", "deploy", "--dev", "0", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("{}:3:11: ", bad.display())),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(node.cli_json(&["account", &address(0)])["pending_nonce"], 0);

    let deployed = node.cli_json(&[
        "acs",
        "deploy",
        "--dev",
        "0",
        seed.to_str().unwrap(),
        "--wait",
    ]);
    assert_eq!(deployed["status"], "committed", "{deployed}");
    assert_eq!(
        deployed["contracts"],
        serde_json::json!(["operator", "holder", "holder.getvbl"])
    );
    let package = deployed["package"].as_str().unwrap().to_string();
    let p = package.as_str();

    // The seed's own `#when ebs>=1 trigger=onStart commitACS` activates it, with nobody
    // sending anything.
    let deadline = Instant::now() + Duration::from_secs(30);
    let jobs = loop {
        let jobs = node.cli_json(&["acs", "jobs", "--package", p]);
        if !jobs.as_array().unwrap().is_empty() {
            break jobs;
        }
        assert!(Instant::now() < deadline, "the package was never activated");
        std::thread::sleep(Duration::from_millis(100));
    };
    let activation = &jobs[0];
    assert_eq!(activation["contract"], "commitACS");
    assert_eq!(activation["record"], address(0));
    assert_eq!(activation["status"], "ok");
    assert_eq!(activation["error"], Value::Null);
    assert_eq!(activation["late_blocks"], 0);
    assert_eq!(
        activation["block"].as_u64().unwrap(),
        deployed["block"].as_u64().unwrap() + 1
    );
    assert!(activation["time"].as_str().unwrap().ends_with('Z'));

    // The operator's pool; holders with A shares, B shares, and none.
    let operator = address(0);
    let set = |record: &str, fields: &[&str]| {
        let mut args = vec![
            "acs",
            "set",
            "--dev",
            "0",
            "--package",
            p,
            "--record",
            record,
        ];
        args.extend_from_slice(fields);
        args.push("--wait");
        let out = node.cli_json(&args);
        assert_eq!(out["status"], "committed", "{out}");
    };
    set(&operator, &["rate=0.05", "sprate=1", "rc=100", "bl=1000"]);
    for holder in 1..=3 {
        let joined = node.cli_json(&[
            "acs",
            "join",
            "--dev",
            &holder.to_string(),
            "--package",
            p,
            "--wait",
        ]);
        assert_eq!(joined["status"], "committed", "{joined}");
    }
    set(&address(1), &["stka=10", "bl=50"]);
    set(&address(2), &["stkb=3"]);
    set(&address(3), &["bl=5"]);

    // Two operator runs: eps 10 then 9, a dividend of 100 each time.
    for _ in 0..2 {
        let out = call(&node, 0, p, "operator", &operator);
        assert_eq!(out["status"], "committed", "{out}");
        assert_eq!(out["error"], Value::Null);
        assert_eq!(out["return"], Value::Null);
    }
    let record = node.cli_json(&["acs", "record", "--package", p, &operator]);
    assert_eq!(record["role"], "operator");
    assert_eq!(record["fields"]["bl"], "800");
    assert_eq!(record["fields"]["xdbl"], "200");
    assert_eq!(record["fields"]["xdc"], "2");
    assert_eq!(record["fields"]["stkasp"], "0.2");

    // getvbl before: 50 + 10 × (2 − 0) × 1 × (1 − 0.05) = 69; holder takes 2 × 1 × 0.95.
    let before = call(&node, 1, p, "holder.getvbl", &address(1));
    assert_eq!(before["return"], "69", "{before}");
    call(&node, 1, p, "holder", &address(1));
    let after = call(&node, 1, p, "holder.getvbl", &address(1));
    assert_eq!(after["return"], "51.9");
    call(&node, 2, p, "holder", &address(2));
    call(&node, 3, p, "holder", &address(3));
    let a = node.cli_json(&["acs", "record", "--package", p, &address(1)]);
    assert_eq!(a["role"], "holder");
    assert_eq!(
        a["fields"],
        serde_json::json!({"bl": "51.9", "stka": "10", "xdc": "2"})
    );
    let b = node.cli_json(&["acs", "record", "--package", p, &address(2)]);
    assert_eq!(b["fields"]["bl"], "1.9");
    let none = node.cli_json(&["acs", "record", "--package", p, &address(3)]);
    assert_eq!(none["fields"], serde_json::json!({"bl": "5"}));

    // A query runs on the head and sends nothing.
    let height = node.http().status()["height"].as_u64().unwrap();
    let nonce = node.cli_json(&["account", &address(1)])["pending_nonce"].clone();
    let query = node.cli_json(&[
        "acs",
        "query",
        "--package",
        p,
        "--contract",
        "holder.getvbl",
        "--record",
        &address(1),
    ]);
    assert_eq!(query, serde_json::json!({"return": "51.9"}));
    assert_eq!(
        node.cli_json(&["account", &address(1)])["pending_nonce"],
        nonce
    );
    assert!(node.http().status()["height"].as_u64().unwrap() >= height);

    // A holder may not run a contract on the operator's record: failed, exit 4, and the
    // JSON says why.
    let out = node.cli(&[
        "acs",
        "call",
        "--dev",
        "1",
        "--package",
        p,
        "--contract",
        "operator",
        "--record",
        &operator,
        "--wait",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let refused = stdout_json(&out);
    assert_eq!(refused["status"], "failed");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("only the operator"),
        "{refused}"
    );
    assert!(refused["block"].as_u64().is_some());

    // The record and each field, proven against the state root by an independent library.
    let proven = node.cli_json(&["acs", "record", "--package", p, &address(1), "--proof"]);
    let state_root = B256::from_slice(&hex(&proven["state_root"]));
    let storage_root = B256::from_slice(&hex(&proven["storage_hash"]));
    let account = node
        .http()
        .get(&format!("/v1/accounts/{p}?block={}", proven["block"]))
        .1;
    assert_eq!(account["state_root"], proven["state_root"]);
    let account_proof = proof_of(&proven["account_proof"]);
    let package_address = cairn_primitives::Address::from_slice(&hex(&proven["package"]));
    // The package account as Ethereum encodes an account: no nonce, no balance, its storage
    // root, and keccak256 of its source as its code hash.
    let package_account = cairn_primitives::Account {
        nonce: 0,
        balance: 0,
        storage_root,
        code_hash: cairn_primitives::keccak256(SEED.as_bytes()),
    };
    alloy_trie::proof::verify_proof(
        state_root,
        alloy_trie::Nibbles::unpack(cairn_primitives::keccak256(package_address)),
        Some(package_account.encoded()),
        account_proof.iter(),
    )
    .expect("the package account's proof verifies");
    let proofs = proven["storage_proof"].as_array().unwrap();
    assert_eq!(proofs.len(), 3);
    for entry in proofs {
        let slot = B256::from_slice(&hex(&entry["key"]));
        let word = U256::from_str_radix(
            entry["value"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap();
        let expected = match entry["field"].as_str().unwrap() {
            "bl" => U256::from(51_900_000_000_000_000_000u128),
            "stka" => U256::from(10_000_000_000_000_000_000u128),
            "xdc" => U256::from(2_000_000_000_000_000_000u128),
            other => panic!("unexpected field {other}"),
        };
        assert_eq!(word, expected);
        alloy_trie::proof::verify_proof(
            storage_root,
            alloy_trie::Nibbles::unpack(cairn_primitives::keccak256(slot)),
            Some(alloy_rlp::encode(word)),
            proof_of(&entry["proof"]).iter(),
        )
        .unwrap_or_else(|e| panic!("{entry}: {e}"));
    }

    // The transaction API shows the call and its receipt.
    let tx = node.http().get(&format!(
        "/v1/transactions/{}",
        before["hash"].as_str().unwrap()
    ));
    assert_eq!(tx.0, 200);
    assert_eq!(tx.1["transaction"]["acs"]["action"], "call");
    assert_eq!(tx.1["transaction"]["acs"]["contract"], "holder.getvbl");
    assert_eq!(tx.1["transaction"]["to"], package);
    assert_eq!(tx.1["receipt"]["return"], "69");
    assert!(tx.1["receipt"]["gas_used"].as_u64().unwrap() > 0);
    // Unknown packages and records are 404s naming the field.
    let (code, body) = node
        .http()
        .get(&format!("/v1/acs/packages/{}/records/{}", p, address(7)));
    assert_eq!(
        (code, body["error"]["field"].as_str()),
        (404, Some("record"))
    );
    let (code, body) = node
        .http()
        .get("/v1/acs/packages/0x0000000000000000000000000000000000000001");
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("unknown_package"))
    );
    let out = node.cli(&[
        "acs",
        "query",
        "--package",
        p,
        "--contract",
        "holder",
        "--record",
        &operator,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holder"));
    // A bad FIELD=DECIMAL is a usage error, nothing sent.
    let out = node.cli(&[
        "acs",
        "set",
        "--dev",
        "0",
        "--package",
        p,
        "--record",
        &operator,
        "bl=ten",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_schedule_seals_blocks_on_an_idle_chain() {
    // A node that makes no empty blocks: only transactions, or a schedule with work, grow
    // the chain.
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("node");
    let key = dir.path().join("validator.json");
    let created = std::process::Command::new(cairn_bin())
        .args(["keys", "new", "--json", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let mut genesis = cairn_primitives::dev::dev_genesis(1, 1_700_000_000_000);
    genesis.validators[0].public_key =
        serde_json::from_value(created["public_key"].clone()).unwrap();
    let genesis_path = dir.path().join("genesis.json");
    std::fs::write(&genesis_path, serde_json::to_string(&genesis).unwrap()).unwrap();
    let init = std::process::Command::new(cairn_bin())
        .args([
            "init",
            "--genesis",
            genesis_path.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "data_dir = \"node\"\n[http]\nlisten = \"127.0.0.1:0\"\n[consensus]\nvalidator_key = \"validator.json\"\nmin_block_transactions = 1\nblock_interval_ms = 100\nmax_block_transactions = 1000\nempty_blocks = false\n",
    )
    .unwrap();
    let node = TestNode::spawn(&data_dir, &["node", "--config", config.to_str().unwrap()]);
    let package_file = dir.path().join("tick.properties");
    std::fs::write(
        &package_file,
        "#when trigger=every(1 s) run(operator)\ntick.acs.operator={ p.w.n = p.n + 1; }\n",
    )
    .unwrap();
    let deployed = node.cli_json(&[
        "acs",
        "deploy",
        "--dev",
        "0",
        package_file.to_str().unwrap(),
        "--wait",
    ]);
    let package = deployed["package"].as_str().unwrap().to_string();
    // No one sends anything more; the schedule's ticks still come, in blocks of their own.
    std::thread::sleep(Duration::from_millis(3_500));
    let jobs = node.cli_json(&["acs", "jobs", "--package", &package]);
    let runs = jobs.as_array().unwrap();
    assert!(runs.len() >= 2, "{jobs}");
    assert!(runs.iter().all(|run| run["status"] == "ok"));
    let ticks = node.cli_json(&["acs", "record", "--package", &package, &address(0)]);
    assert_eq!(
        ticks["fields"]["n"]
            .as_str()
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        runs.len()
    );
    // Each run's block is one the schedule asked for: the chain is not making empty blocks
    // between ticks.
    let height = node.http().status()["height"].as_u64().unwrap();
    assert!(
        height <= deployed["block"].as_u64().unwrap() + runs.len() as u64 + 1,
        "height {height}, {} runs",
        runs.len()
    );
}
