//! Cluster storage across real processes: 4 validators and 4 full nodes form one cluster
//! (`rs:4+2`), commit blocks past the retention window, and serve every old block and
//! transaction from every node, verified; two full nodes are SIGKILLed and everything stays
//! readable; repair brings `under_replicated` back to 0; a validator and another full node
//! are killed and everything is still readable. Then a ninth node, outside the cluster, syncs
//! from genesis from members none of which keeps the old bodies, and `verify-chain` re-checks a
//! killed member's store, reading its dropped bodies through a running member.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn cluster(node: &TestNode) -> Value {
    node.http().get("/v1/cluster").1
}

/// Every block from 1 to `to` read from `node` has the hash `hashes` says, and its
/// transactions read back committed.
fn all_readable(node: &TestNode, hashes: &[String], transfers: &[(String, u64)]) {
    let http = node.http();
    for (height, hash) in hashes.iter().enumerate().skip(1) {
        let (code, block) = http.get(&format!("/v1/blocks/{height}?full=true"));
        assert_eq!(code, 200, "block {height} from {}: {block}", node.url);
        assert_eq!(block["hash"].as_str().unwrap(), hash, "block {height}");
    }
    for (tx, height) in transfers {
        let (code, found) = http.get(&format!("/v1/transactions/{tx}"));
        assert_eq!(code, 200, "{found}");
        assert_eq!(found["status"], "committed", "{found}");
        assert_eq!(found["block"].as_u64(), Some(*height));
    }
}

/// Edits the `[cluster]` section of the node's config file.
fn edit_cluster(plan: &Value, edit: impl FnOnce(&mut toml::Table)) {
    let path = plan["config"].as_str().unwrap();
    let mut config: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    edit(config["cluster"].as_table_mut().unwrap());
    std::fs::write(path, toml::to_string(&config).unwrap()).unwrap();
}

fn data_dir(plan: &Value) -> PathBuf {
    Path::new(plan["config"].as_str().unwrap())
        .parent()
        .unwrap()
        .join("data")
}

/// Nine node processes at once: the two scenarios take turns rather than share two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn eight_nodes_share_the_old_blocks_survive_failures_and_repair() {
    eight_nodes("ed25519-keccak");
}

/// The same on an `sm2-sm3` chain: its blocks are placed, shared and checked by their SM3
/// hashes and roots.
#[test]
fn on_an_sm2_sm3_chain_eight_nodes_share_the_old_blocks_survive_failures_and_repair() {
    eight_nodes("sm2-sm3");
}

fn eight_nodes(crypto: &str) {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let base = free_base_port(8);
    let out = std::process::Command::new(cairn_bin())
        .args([
            "testnet",
            "init",
            "--json",
            "--validators",
            "4",
            "--full-nodes",
            "5",
        ])
        .args(["--base-port", &base.to_string(), "--cluster", "rs:4+2"])
        .args(["--retain-blocks", "8", "--crypto", crypto])
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plans: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    // Eight form the cluster; the ninth starts late, outside it, and keeps every block.
    let (members, late) = plans.split_at(8);
    for plan in members {
        edit_cluster(plan, |cluster| {
            cluster.insert("form_min_members".into(), 8.into());
            cluster.insert("invite_min_peers".into(), 7.into());
        });
    }
    edit_cluster(&late[0], |cluster| {
        cluster.insert("enabled".into(), false.into());
    });
    let mut nodes: Vec<Option<TestNode>> = members.iter().map(|plan| Some(start(plan))).collect();

    // The cluster forms with all eight.
    wait_until("the cluster to form", Duration::from_secs(60), || {
        nodes.iter().flatten().all(|node| {
            let status = cluster(node);
            status["members"].as_array().is_some_and(|m| m.len() == 8)
                && status["members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|member| member["online"] == true)
        })
    });
    let formed = cluster(nodes[0].as_ref().unwrap());
    assert_eq!(formed["placement"], "rs:4+2");
    assert_eq!(formed["retain_blocks"], 8);
    for node in nodes.iter().flatten() {
        assert_eq!(cluster(node)["cluster_id"], formed["cluster_id"]);
    }

    // Transfers spread over several blocks, then enough blocks that they leave the window.
    // (A block without transactions is kept whole by every node: only these go to the
    // cluster.)
    let first = nodes[4].as_ref().unwrap();
    let sink = cairn_primitives::Address::repeat_byte(0x5e);
    let mut sent = Vec::new();
    for i in 0..24u64 {
        let key = dev_for(crypto, (i % 4) as u32);
        let (code, body) = first.http().post_json(
            "/v1/transactions",
            &tx_json(&transfer(&key, i / 4, sink, 1)),
        );
        assert_eq!(code, 202, "{body}");
        sent.push(body["hash"].as_str().unwrap().to_string());
        std::thread::sleep(Duration::from_millis(150));
    }
    let transfers: Vec<(String, u64)> = sent
        .into_iter()
        .map(|hash| {
            let receipt = first.http().wait_for(&hash, Duration::from_secs(30));
            (hash, receipt["block"].as_u64().unwrap())
        })
        .collect();
    let with_transfers: std::collections::BTreeSet<u64> =
        transfers.iter().map(|(_, height)| *height).collect();
    assert!(with_transfers.len() >= 3, "{with_transfers:?}");
    let last_transfer = *with_transfers.last().unwrap();
    wait_until("blocks past the window", Duration::from_secs(120), || {
        first.http().status()["height"].as_u64().unwrap() >= last_transfer + 20
    });
    // Every member stores shares, and the cluster is fully replicated.
    wait_until("the old blocks stored", Duration::from_secs(60), || {
        let status = cluster(nodes[0].as_ref().unwrap());
        status["under_replicated"] == 0
            && status["members"]
                .as_array()
                .unwrap()
                .iter()
                .all(|member| member["stored_blocks"].as_u64().unwrap_or(0) > 0)
    });
    // Every node dropped the old bodies with transfers: what it serves of them, it reads
    // through the cluster.
    wait_until("the old bodies dropped", Duration::from_secs(60), || {
        nodes.iter().flatten().all(|node| {
            cluster(node)["pruned_blocks"].as_u64().unwrap_or(0) >= with_transfers.len() as u64
        })
    });
    // Exactly those: blocks without transactions stay whole everywhere.
    for node in nodes.iter().flatten() {
        assert_eq!(
            cluster(node)["pruned_blocks"].as_u64(),
            Some(with_transfers.len() as u64),
            "{}",
            node.url
        );
    }
    let top = last_transfer + 10;
    let hashes: Vec<String> = (0..=top)
        .map(|height| {
            nodes[0]
                .as_ref()
                .unwrap()
                .http()
                .get(&format!("/v1/blocks/{height}"))
                .1["hash"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for node in nodes.iter().flatten() {
        all_readable(node, &hashes, &transfers);
    }
    // Pages of blocks run through the dropped bodies too.
    let (_, page) = nodes[2]
        .as_ref()
        .unwrap()
        .http()
        .get("/v1/blocks?start=1&limit=20");
    let listed: Vec<&str> = page["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|block| block["hash"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        hashes[1..21].iter().map(String::as_str).collect::<Vec<_>>()
    );

    // Two full nodes die: everything is still readable.
    nodes[6].as_mut().unwrap().kill9();
    nodes[7].as_mut().unwrap().kill9();
    nodes[6] = None;
    nodes[7] = None;
    all_readable(nodes[1].as_ref().unwrap(), &hashes, &transfers);
    // Repair rebuilds their shares on the survivors.
    wait_until("repair", Duration::from_secs(120), || {
        let status = cluster(nodes[0].as_ref().unwrap());

        status["under_replicated"] == 0
            && status["members"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|member| member["online"] == true)
                .count()
                == 6
    });
    // A validator and another full node die: still readable (3 validators go on).
    nodes[3].as_mut().unwrap().kill9();
    nodes[5].as_mut().unwrap().kill9();
    nodes[3] = None;
    nodes[5] = None;
    for node in nodes.iter().flatten() {
        all_readable(node, &hashes, &transfers);
    }
    // What was read back is cached: reading it again does not go to the cluster.
    let cache = &cluster(nodes[0].as_ref().unwrap())["read_cache"];
    assert!(cache["blocks"].as_u64().unwrap() > 0, "{cache}");
    assert!(cache["hits"].as_u64().unwrap() > 0, "{cache}");
    assert!(
        cache["bytes"].as_u64().unwrap() <= cache["limit_bytes"].as_u64().unwrap(),
        "{cache}"
    );

    // A new node syncs from genesis: its peers serve the old blocks through the cluster.
    let newcomer = start(&late[0]);
    let target = nodes[0].as_ref().unwrap().http().status()["height"]
        .as_u64()
        .unwrap();
    wait_until("the newcomer to sync", Duration::from_secs(120), || {
        newcomer.http().status()["height"].as_u64().unwrap() >= target
    });
    all_readable(&newcomer, &hashes, &transfers);
    assert_eq!(
        newcomer.http().get("/v1/cluster").0,
        404,
        "the newcomer is in no cluster"
    );

    // A killed member's store re-verifies, its dropped bodies read through a running member.
    let killed = data_dir(&plans[6]);
    let alone = std::process::Command::new(cairn_bin())
        .args(["verify-chain", "--data-dir"])
        .arg(&killed)
        .output()
        .unwrap();
    assert!(!alone.status.success(), "a store without its old bodies");
    let error = String::from_utf8_lossy(&alone.stderr);
    assert!(error.contains("body was dropped"), "{error}");
    let through = std::process::Command::new(cairn_bin())
        .args(["--json", "verify-chain", "--data-dir"])
        .arg(&killed)
        .args(["--cluster-api", &nodes[1].as_ref().unwrap().url])
        .output()
        .unwrap();
    assert!(
        through.status.success(),
        "{}",
        String::from_utf8_lossy(&through.stderr)
    );
    let report: Value = serde_json::from_slice(&through.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["height"].as_u64().unwrap() >= top, "{report}");
    assert!(report["transactions"].as_u64().unwrap() >= 4, "{report}");
}
