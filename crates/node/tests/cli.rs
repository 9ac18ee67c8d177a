//! The CLI contracts that need no running node: `cairn trie root|prove|verify`, keys, and a
//! non-dev chain made with `cairn init` and run with `cairn node`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cairn_primitives::{GenesisAccount, GenesisConfig, GenesisValidator, SecretKey};
use common::*;
use serde_json::Value;

fn cairn(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(cairn_bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .trim()
        .to_string()
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

// Roots from ethereum/tests TrieTests (trietest.json "dogs", trieanyorder.json "puppy",
// trietest.json "insert-middle-leaf"-style data, and the secure variants): expected values
// are Ethereum's, not produced by Cairn.
const DOGS: &str = r#"{"in": [["doe", "reindeer"], ["dog", "puppy"], ["dogglesworth", "cat"]]}"#;
const DOGS_ROOT: &str = "0x8aad789dff2f538bca5d8ea56e8abe10f4c7ba3a5dea95fea4cd6e7c3a1168d3";
const PUPPY: &str =
    r#"{"in": {"do": "verb", "horse": "stallion", "doge": "coin", "dog": "puppy"}}"#;
const PUPPY_ROOT: &str = "0x5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84";
const EMPTY_ROOT: &str = "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421";
const SECURE_DOGS_ROOT: &str = "0xd4cd937e4a4368d7931a9cf51686b7e10abb3dce38a39000fd7902a092b64585";

#[test]
fn trie_root_matches_ethereum_vectors_from_files_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let dogs = write(dir.path(), "dogs.json", DOGS);
    assert_eq!(stdout(&cairn(&["trie", "root", &dogs], None)), DOGS_ROOT);
    assert_eq!(stdout(&cairn(&["trie", "root"], Some(DOGS))), DOGS_ROOT);
    assert_eq!(stdout(&cairn(&["trie", "root"], Some(PUPPY))), PUPPY_ROOT);
    assert_eq!(
        stdout(&cairn(&["trie", "root", "--secure"], Some(DOGS))),
        SECURE_DOGS_ROOT
    );
    assert_eq!(
        stdout(&cairn(&["trie", "root"], Some(r#"{"in": []}"#))),
        EMPTY_ROOT
    );
    // Deleting everything (null values) gives the empty root back; hex keys work.
    let deleted = r#"{"in": [["0x0102", "0xff"], ["dog", "x"], ["0x0102", null], ["dog", null]]}"#;
    assert_eq!(stdout(&cairn(&["trie", "root"], Some(deleted))), EMPTY_ROOT);
    // Output is exactly 0x + 64 lowercase hex digits.
    let root = stdout(&cairn(&["trie", "root"], Some(PUPPY)));
    assert_eq!(root.len(), 66);
    assert!(
        root[2..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

#[test]
fn trie_tools_take_sm3_tries() {
    let dir = tempfile::tempdir().unwrap();
    // SM3 of the one leaf rlp(["dog" as a leaf path, "puppy"]), computed with gmssl.
    let one = r#"{"in": [["dog", "puppy"]]}"#;
    assert_eq!(
        stdout(&cairn(&["trie", "root", "--hash", "sm3"], Some(one))),
        "0x2e3064c65510ed456d17e179f80c272dd93943cc74c01eba27282b63a9e39aa3"
    );
    assert_eq!(
        stdout(&cairn(
            &["trie", "root", "--hash", "sm3"],
            Some(r#"{"in": []}"#)
        )),
        "0x995b949869f80fa1465a9d8b6fa759ec65c3020d59c2624662bdff059bdf19b3"
    );
    // Secure: the one leaf sits at SM3("dog") (also computed with gmssl).
    assert_eq!(
        stdout(&cairn(
            &["trie", "root", "--secure", "--hash", "sm3"],
            Some(one)
        )),
        "0x08e3cf19e346d340fce02e4bd78046608a51f48c842521d6ee2e6427c96ba1a7"
    );
    // Keccak stays the default.
    assert_eq!(stdout(&cairn(&["trie", "root"], Some(DOGS))), DOGS_ROOT);
    let puppy = write(dir.path(), "puppy.json", PUPPY);
    for secure in [false, true] {
        let flag: &[&str] = if secure { &["--secure"] } else { &[] };
        let sm3 = ["--hash", "sm3"];
        let root = stdout(&cairn(
            &[&["trie", "root"], flag, &sm3, &[puppy.as_str()]].concat(),
            None,
        ));
        assert_ne!(root, PUPPY_ROOT);
        let proof = stdout(&cairn(
            &[&["trie", "prove"], flag, &sm3, &[puppy.as_str(), "doge"]].concat(),
            None,
        ));
        let proof_file = write(dir.path(), "proof.json", &proof);
        let verify = |hash: &str| {
            cairn(
                &[
                    &[
                        "trie", "verify", "--hash", hash, "--root", &root, "--key", "doge",
                    ],
                    flag,
                    &[proof_file.as_str()],
                ]
                .concat(),
                None,
            )
        };
        assert_eq!(stdout(&verify("sm3")), format!("0x{}", hex::encode("coin")));
        let keccak = verify("keccak256");
        assert_eq!(
            keccak.status.code(),
            Some(1),
            "an SM3 proof passed as keccak"
        );
    }
    let unknown = cairn(&["trie", "root", "--hash", "md5"], Some(one));
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("keccak256 or sm3"), "{stderr}");
}

#[test]
fn trie_prove_and_verify_round_trip_and_refuse_bad_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let puppy = write(dir.path(), "puppy.json", PUPPY);
    for secure in [false, true] {
        let flag: &[&str] = if secure { &["--secure"] } else { &[] };
        let root = stdout(&cairn(
            &[&["trie", "root"], flag, &[puppy.as_str()]].concat(),
            None,
        ));
        for (key, expected) in [
            ("dog", Some("puppy")),
            ("doge", Some("coin")),
            ("cat", None),
            ("dogs", None),
        ] {
            let proof = stdout(&cairn(
                &[&["trie", "prove"], flag, &[puppy.as_str(), key]].concat(),
                None,
            ));
            let nodes: Vec<String> = serde_json::from_str(&proof).unwrap();
            assert!(!nodes.is_empty() && nodes.iter().all(|n| n.starts_with("0x")));
            let proof_file = write(dir.path(), "proof.json", &proof);
            let verified = cairn(
                &[
                    &["trie", "verify"],
                    flag,
                    &["--root", &root, "--key", key, &proof_file],
                ]
                .concat(),
                None,
            );
            let expected =
                expected.map_or("absent".to_string(), |v| format!("0x{}", hex::encode(v)));
            assert_eq!(stdout(&verified), expected, "key {key} secure={secure}");
            // The same proof from stdin.
            let from_stdin = cairn(
                &[&["trie", "verify"], flag, &["--root", &root, "--key", key]].concat(),
                Some(&proof),
            );
            assert_eq!(stdout(&from_stdin), expected);
        }
    }
    // A proof checked against the wrong root, a tampered node, a dropped node and garbage:
    // one line on stderr and exit 1.
    let proof = stdout(&cairn(&["trie", "prove", &puppy, "doge"], None));
    let mut nodes: Vec<String> = serde_json::from_str(&proof).unwrap();
    assert!(nodes.len() >= 2, "the doge proof has several nodes");
    let wrong_root = stdout(&cairn(&["trie", "root"], Some(DOGS)));
    let mut tampered = nodes.clone();
    let last = tampered.last_mut().unwrap();
    let flipped = if last.ends_with('0') { '1' } else { '0' };
    last.pop();
    last.push(flipped);
    let mut dropped = nodes.clone();
    dropped.remove(1);
    // Order does not matter (a proof is a set of nodes found by hash, as go-ethereum reads
    // it), nor do nodes off the path, nor py-trie's habit of listing embedded nodes again.
    nodes.swap(0, 1);
    nodes.push("0xc0".into());
    let reordered = cairn(
        &["trie", "verify", "--root", PUPPY_ROOT, "--key", "doge"],
        Some(&serde_json::to_string(&nodes).unwrap()),
    );
    assert_eq!(stdout(&reordered), format!("0x{}", hex::encode("coin")));
    for (root, bad) in [
        (wrong_root.as_str(), proof.clone()),
        (PUPPY_ROOT, serde_json::to_string(&tampered).unwrap()),
        (PUPPY_ROOT, serde_json::to_string(&dropped).unwrap()),
        (PUPPY_ROOT, r#"["0xzz"]"#.to_string()),
        (PUPPY_ROOT, "not json".to_string()),
    ] {
        let out = cairn(
            &["trie", "verify", "--root", root, "--key", "doge"],
            Some(&bad),
        );
        assert_eq!(out.status.code(), Some(1), "accepted a bad proof: {bad}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
        assert!(out.stdout.is_empty());
    }
}

/// A proof exactly as py-trie (the Ethereum Foundation's Python trie) produces it, with the
/// embedded nodes listed as entries of their own (from `crates/trie/tests/vectors`).
#[test]
fn trie_verify_accepts_a_pytrie_proof() {
    let proof = r#"["0xe216a0bd3ee507e6c67cfefca98f84be47c1bbc009315fabc4405db4ba32190374572a",
        "0xf84080808080a094a9f95bd89698e4da1812e0518053813b4d5b87caaf6b3c6fa57e9e50c0ff68808080cf85206f727365887374616c6c696f6e8080808080808080",
        "0xe482006fa0d43b87fdcd4217013ccc92d04662e12d36e4cc25dc690077cd821a1956fc3e36",
        "0xf3808080808080de17dc808080808080c63584636f696e8080808080808080808570757070798080808080808080808476657262",
        "0xde17dc808080808080c63584636f696e808080808080808080857075707079",
        "0xdc808080808080c63584636f696e808080808080808080857075707079"]"#;
    let root = "0x5991bb8c6514148a29db676a14ac506cd2cd5775ace63c30a4fe457715e9ac84";
    let out = cairn(
        &["trie", "verify", "--root", root, "--key", "dog"],
        Some(proof),
    );
    assert_eq!(stdout(&out), format!("0x{}", hex::encode("puppy")));
}

#[test]
fn malformed_trie_input_is_an_error() {
    for bad in [
        "",
        "[]",
        r#"{"in": [["a"]]}"#,
        r#"{"in": [["a", 5]]}"#,
        r#"{"in": [["0xabc", "x"]]}"#,
    ] {
        let out = cairn(&["trie", "root"], Some(bad));
        assert!(!out.status.success(), "{bad:?} accepted");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).lines().count(),
            1,
            "{bad:?}"
        );
    }
}

#[test]
fn keys_new_and_dev() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.json");
    let created: Value = serde_json::from_str(&stdout(&cairn(
        &["keys", "new", "--out", path.to_str().unwrap(), "--json"],
        None,
    )))
    .unwrap();
    let address = created["address"].as_str().unwrap();
    assert_eq!(address.len(), 42);
    let again = cairn(&["keys", "new", "--out", path.to_str().unwrap()], None);
    assert!(!again.status.success(), "overwrote a key file");
    let dev0: Value = serde_json::from_str(&stdout(&cairn(
        &["keys", "dev", "--index", "0", "--json"],
        None,
    )))
    .unwrap();
    assert_eq!(dev0["address"], format!("{:#x}", dev(0).address()));
}

#[test]
fn init_then_node_runs_a_chain_from_a_genesis_file() {
    let dir = tempfile::tempdir().unwrap();
    let validator_key = dir.path().join("validator.json");
    let created: Value = serde_json::from_str(&stdout(&cairn(
        &[
            "keys",
            "new",
            "--out",
            validator_key.to_str().unwrap(),
            "--json",
        ],
        None,
    )))
    .unwrap();
    let funded = SecretKey::from_bytes([0x42; 32]);
    let genesis = GenesisConfig {
        chain_id: 77,
        timestamp_ms: 1_700_000_000_000,
        accounts: vec![GenesisAccount {
            address: funded.address(),
            balance: 1_000,
        }],
        validators: vec![GenesisValidator {
            name: "bank-a".into(),
            public_key: serde_json::from_value(created["public_key"].clone()).unwrap(),
        }],
        consensus: Default::default(),
        crypto: cairn_primitives::CryptoSuite::default(),
    };
    let genesis_path = write(
        dir.path(),
        "genesis.json",
        &serde_json::to_string_pretty(&genesis).unwrap(),
    );
    let data_dir = dir.path().join("node");
    let data = data_dir.to_str().unwrap();
    let init: Value = serde_json::from_str(&stdout(&cairn(
        &[
            "init",
            "--genesis",
            &genesis_path,
            "--data-dir",
            data,
            "--json",
        ],
        None,
    )))
    .unwrap();
    assert_eq!(init["chain_id"], 77);
    // Initializing twice with the same genesis is fine; with another it is refused.
    stdout(&cairn(
        &["init", "--genesis", &genesis_path, "--data-dir", data],
        None,
    ));
    let mut other = genesis.clone();
    other.chain_id = 78;
    let other_path = write(
        dir.path(),
        "other.json",
        &serde_json::to_string(&other).unwrap(),
    );
    assert!(
        !cairn(
            &["init", "--genesis", &other_path, "--data-dir", data],
            None
        )
        .status
        .success()
    );
    // A node without its validator key refuses to start, with a clear error.
    let keyless = cairn(&["node", "--data-dir", data, "--http", "127.0.0.1:0"], None);
    assert!(!keyless.status.success());
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("validator key"));

    // With a config file naming the key (relative to the config's directory).
    let config = write(
        dir.path(),
        "config.toml",
        "data_dir = \"node\"\n[http]\nlisten = \"127.0.0.1:0\"\n[consensus]\nvalidator_key = \"validator.json\"\nmin_block_transactions = 1\nblock_interval_ms = 100\nmax_block_transactions = 1000\nempty_blocks = false\n",
    );
    let node = TestNode::spawn(&data_dir, &["node", "--config", &config]);
    let status = node.cli_json(&["status"]);
    assert_eq!(status["chain_id"], 77);
    let tx = common::tx_json(
        &cairn_primitives::Transaction {
            chain_id: 77,
            nonce: 0,
            to: cairn_primitives::Address::repeat_byte(1),
            amount: 10,
        }
        .sign(&funded),
    );
    let (code, body) = node.http().post_json("/v1/transactions", &tx);
    assert_eq!(code, 202, "{body}");
    let receipt = node
        .http()
        .wait_for(body["hash"].as_str().unwrap(), Duration::from_secs(30));
    assert_eq!(receipt["status"], "committed");
    let block = node.cli_json(&["block", &receipt["block"].to_string()]);
    assert_eq!(block["proposer"], created["address"]);
    assert_eq!(block["seal"]["kind"], "proposer");
    // With empty blocks off, an idle chain does not grow.
    let height = node.http().status()["height"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(node.http().status()["height"].as_u64().unwrap(), height);
}

#[test]
fn acs_check_lists_the_seeds_package_and_places_errors() {
    let seed = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../contracts/tests/seed/nbcs.properties"
    );
    let out = cairn(&["acs", "check", seed, "--json"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = summary["contracts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["operator", "holder", "holder.getvbl"]);
    assert_eq!(summary["contracts"][1]["role"], "holder");
    assert_eq!(
        summary["contracts"][1]["writes"],
        serde_json::json!(["xdc", "bl"])
    );
    assert_eq!(summary["constants"]["afs.nbcs.profit.rate"], "0.05");
    assert_eq!(summary["schedule"][0]["trigger"], "onStart");
    assert_eq!(summary["schedule"][0]["action"], "commitACS");
    assert_eq!(summary["schedule"][0]["condition"], true);

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "rent.properties",
        "x=1\na.acs.holder={\n  p.w.a = ;\n}\n",
    );
    let out = cairn(&["acs", "check", &bad], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        [
            format!("{bad}:3:11: expected a value, found `;`").as_str(),
            "  p.w.a = ;",
            "          ^"
        ]
    );
    let out = cairn(&["acs", "check", &bad, "--json"], None);
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(error["error"]["code"], "compile_error");
    assert_eq!(
        (
            error["error"]["line"].as_u64(),
            error["error"]["col"].as_u64()
        ),
        (Some(3), Some(11))
    );
}
