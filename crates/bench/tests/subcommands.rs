//! Every `cairn-bench` subcommand runs and prints the JSON its users read, on sizes small
//! enough for the test suite; bad arguments fail with one line on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

fn run(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn-bench"))
        .args(args)
        .arg("--json")
        .output()
        .expect("start cairn-bench");
    assert!(
        output.status.success(),
        "cairn-bench {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object on stdout")
}

fn seconds(report: &Value, field: &str) -> f64 {
    let value = report[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing in {report}"));
    assert!(value > 0.0, "{field} = {value}");
    value
}

#[test]
fn trie_compares_three_implementations_on_one_root() {
    let report = run(&["trie", "--keys", "3000"]);
    assert_eq!(report["roots_equal"], true, "{report}");
    assert_ne!(
        report["root"],
        format!("{}", cairn_primitives::EMPTY_ROOT),
        "{report}"
    );
    for field in ["cairn_s", "eth_trie_s", "alloy_hashbuilder_s"] {
        seconds(&report, field);
    }
}

#[test]
fn trie_update_changes_a_stored_trie() {
    let report = run(&["trie-update", "--keys", "3000", "--changes", "300"]);
    assert_eq!(report["roots_equal"], true, "{report}");
    seconds(&report, "cairn_update_s");
    seconds(&report, "eth_trie_update_s");
    assert_eq!(
        report["cairn_nodes_written"],
        report["eth_trie_nodes_written"]
    );
}

#[test]
fn sig_reports_three_rates() {
    let report = run(&["sig"]);
    let single = seconds(&report, "single_per_s");
    let batch = seconds(&report, "batch_per_s");
    seconds(&report, "batch_all_cores_per_s");
    // Batching amortises the multiscalar multiplication: it is never slower than single
    // checks by a wide margin, whatever the machine's load.
    assert!(batch > single / 2.0, "{report}");
}

/// Runs `tps` and checks its report: every transfer committed, rates and latencies set.
fn check_tps(validators: u32, txs: u32, accounts: u32) {
    let (validators_arg, txs_arg, accounts_arg) = (
        validators.to_string(),
        txs.to_string(),
        accounts.to_string(),
    );
    let report = run(&[
        "tps",
        "--validators",
        &validators_arg,
        "--txs",
        &txs_arg,
        "--accounts",
        &accounts_arg,
    ]);
    // Every transfer the bench sent is found, once, in a committed block.
    assert_eq!(report["committed"], txs, "{report}");
    let blocks = report["blocks"].as_u64().unwrap();
    assert!(blocks >= 1 && blocks <= u64::from(txs), "{report}");
    seconds(&report, "committed_tps");
    seconds(&report, "sig_ceiling_per_s");
    // No transfer can take longer to commit than the whole run.
    let elapsed_ms = seconds(&report, "elapsed_s") * 1_000.0;
    let p99 = seconds(&report, "p99_ms");
    assert!(p99 <= elapsed_ms, "{report}");
}

#[test]
fn tps_commits_every_transfer_of_a_solo_chain() {
    check_tps(1, 3000, 50);
}

#[test]
fn tps_commits_every_transfer_of_four_validators() {
    check_tps(4, 2000, 40);
}

#[test]
fn tps_on_sm2_sm3_reports_the_sm_chain_next_to_ed25519s() {
    let report = run(&[
        "tps",
        "--txs",
        "1000",
        "--accounts",
        "20",
        "--crypto",
        "sm2-sm3",
    ]);
    assert_eq!(report["committed"], 1000, "{report}");
    let ed25519_tps = seconds(&report, "committed_tps");
    let sm = &report["sm2_sm3"];
    assert_eq!(sm["crypto"], "sm2-sm3", "{report}");
    assert_eq!(sm["committed"], 1000, "{report}");
    let sm_tps = seconds(sm, "committed_tps");
    seconds(sm, "sig_ceiling_per_s");
    let ratio = seconds(sm, "ratio_to_ed25519_tps");
    assert!(
        (ratio - sm_tps / ed25519_tps).abs() < 1e-6 * ratio,
        "{report}"
    );
    // Without --crypto there is no second chain.
    let plain = run(&["tps", "--txs", "200", "--accounts", "10"]);
    assert!(plain.get("sm2_sm3").is_none(), "{plain}");
}

#[test]
fn impossible_arguments_fail_with_one_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn-bench"))
        .args(["trie-update", "--keys", "10", "--changes", "20"])
        .output()
        .expect("start cairn-bench");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("20"), "{stderr}");
}
