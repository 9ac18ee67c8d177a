//! Four validator processes on loopback: transfers through different nodes, the leader killed
//! with SIGKILL and replaced by the next in rank, nothing committed lost, the killed node
//! restarted and caught up; and the network's defences: an unknown peer is refused, garbage
//! and oversized messages from an authorized peer are dropped and counted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn testnet_init(dir: &Path, validators: u32, full_nodes: u32) -> Vec<Value> {
    testnet_init_with(dir, validators, full_nodes, "ed25519-keccak")
}

fn testnet_init_with(dir: &Path, validators: u32, full_nodes: u32, crypto: &str) -> Vec<Value> {
    let base = free_base_port((validators + full_nodes) as u16);
    let out = std::process::Command::new(cairn_bin())
        .args([
            "testnet",
            "init",
            "--json",
            "--validators",
            &validators.to_string(),
        ])
        .args([
            "--full-nodes",
            &full_nodes.to_string(),
            "--base-port",
            &base.to_string(),
            "--crypto",
            crypto,
        ])
        .arg("--out")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

fn status(node: &TestNode) -> Value {
    node.http().status()
}

fn address_of(plan: &Value) -> String {
    let dir = Path::new(plan["config"].as_str().unwrap())
        .parent()
        .unwrap();
    let key: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("validator.key")).unwrap()).unwrap();
    key["address"].as_str().unwrap().to_string()
}

/// Sends one transfer per dev account (of the `crypto` suite) through `node`; returns the
/// hashes accepted.
fn send_transfers(node: &TestNode, crypto: &str, accounts: std::ops::Range<u32>) -> Vec<String> {
    let http = node.http();
    let sink = cairn_primitives::Address::repeat_byte(0x5e);
    accounts
        .map(|i| {
            let key = dev_for(crypto, i);
            let (_, account) = http.get(&format!("/v1/accounts/{:#x}", key.address()));
            let nonce = account["pending_nonce"].as_u64().unwrap();
            let (code, body) = http.post_json(
                "/v1/transactions",
                &tx_json(&transfer(&key, nonce, sink, 1)),
            );
            assert_eq!(code, 202, "{body}");
            body["hash"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn the_next_validator_in_rank_takes_over_when_the_leader_is_killed() {
    leader_killed("ed25519-keccak");
}

/// The same on a chain of the national algorithms: SM2-signed transfers and contracts, SM3
/// block hashes and tries, and the same takeover (consensus itself signs with ed25519).
#[test]
fn on_an_sm2_sm3_chain_the_next_validator_takes_over_when_the_leader_is_killed() {
    leader_killed("sm2-sm3");
}

fn leader_killed(crypto: &str) {
    let dir = tempfile::tempdir().unwrap();
    let plans = testnet_init_with(dir.path(), 4, 0, crypto);
    let mut nodes: Vec<Option<TestNode>> = plans.iter().map(|plan| Some(start(plan))).collect();
    let live =
        |nodes: &Vec<Option<TestNode>>| nodes.iter().flatten().map(status).collect::<Vec<_>>();
    wait_until(
        "the network to make blocks",
        Duration::from_secs(60),
        || {
            live(&nodes)
                .iter()
                .all(|s| s["height"].as_u64().unwrap() >= 3)
        },
    );

    // Transfers through every node.
    let mut committed: Vec<(String, u64)> = Vec::new();
    for (index, node) in nodes.iter().flatten().enumerate() {
        let accounts = (index as u32 * 2)..(index as u32 * 2 + 2);
        for hash in send_transfers(node, crypto, accounts) {
            let receipt = node.http().wait_for(&hash, Duration::from_secs(30));
            assert_eq!(receipt["status"], "committed", "{receipt}");
            committed.push((hash, receipt["block"].as_u64().unwrap()));
        }
    }

    check_suite(nodes[0].as_ref().unwrap(), crypto, &committed[0].0);

    // A contract through consensus: deployed through one validator, called through another,
    // its schedule run at the start of every other block by every validator alike.
    let ticker = dir.path().join("ticker.properties");
    std::fs::write(
        &ticker,
        "#when trigger=every(2 blocks) run(operator)\nt.acs.operator={ p.w.n = p.n + 1; }\n",
    )
    .unwrap();
    let deployed = nodes[0].as_ref().unwrap().cli_json(&[
        "acs",
        "deploy",
        "--dev",
        "20",
        ticker.to_str().unwrap(),
        "--wait",
    ]);
    assert_eq!(deployed["status"], "committed", "{deployed}");
    let package = deployed["package"].as_str().unwrap().to_string();
    let operator = format!("{:#x}", dev_for(crypto, 20).address());
    let called = nodes[1].as_ref().unwrap().cli_json(&[
        "acs",
        "call",
        "--dev",
        "20",
        "--package",
        &package,
        "--contract",
        "operator",
        "--wait",
    ]);
    assert_eq!(called["status"], "committed", "{called}");

    // Kill the leader; the next validator in rank must commit the next blocks.
    let leader = status(nodes[0].as_ref().unwrap())["leader_index"]
        .as_u64()
        .unwrap() as usize;
    let next = (leader + 1) % 4;
    let observer = (leader + 2) % 4;
    let next_address = address_of(&plans[next]);
    let leader_address = address_of(&plans[leader]);
    let height_at_kill = status(nodes[observer].as_ref().unwrap())["height"]
        .as_u64()
        .unwrap();
    nodes[leader].as_mut().unwrap().kill9();
    let killed_at = Instant::now();
    let observer_http = nodes[observer].as_ref().unwrap().http();
    let mut checked = height_at_kill;
    let takeover = loop {
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "no block by the next validator in rank"
        );
        let (_, latest) = observer_http.get("/v1/blocks/latest");
        let latest_height = latest["height"].as_u64().unwrap();
        // Every block after the kill is either the dead leader's last one or the successor's.
        let mut found = None;
        for height in checked + 1..=latest_height {
            let (_, block) = observer_http.get(&format!("/v1/blocks/{height}"));
            let proposer = block["proposer"].as_str().unwrap().to_string();
            if proposer == next_address {
                found = Some(killed_at.elapsed());
                break;
            }
            assert_eq!(
                proposer, leader_address,
                "block {height} came from neither the old leader nor the next in rank"
            );
            checked = height;
        }
        if let Some(elapsed) = found {
            break elapsed;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    println!(
        "leader takeover: rank {leader} killed, rank {next} committed the next block after {takeover:?}"
    );
    wait_until(
        "the new leader to report itself",
        Duration::from_secs(10),
        || status(nodes[observer].as_ref().unwrap())["leader_index"].as_u64() == Some(next as u64),
    );

    // Everything reported committed is still there; the three go on committing.
    for (hash, block) in &committed {
        let (_, tx) = observer_http.get(&format!("/v1/transactions/{hash}"));
        assert_eq!(tx["status"], "committed", "{tx}");
        assert_eq!(tx["block"].as_u64(), Some(*block));
    }
    let survivor_url = nodes[next].as_ref().unwrap().url.clone();
    for hash in send_transfers(nodes[next].as_ref().unwrap(), crypto, 8..10) {
        assert_eq!(
            Http::new(&survivor_url).wait_for(&hash, Duration::from_secs(30))["status"],
            "committed"
        );
    }

    // The killed node restarts, catches up, and agrees on head and state root.
    nodes[leader] = Some(start(&plans[leader]));
    let target = Http::new(&survivor_url).status()["height"]
        .as_u64()
        .unwrap();
    wait_until(
        "the restarted node to catch up",
        Duration::from_secs(60),
        || {
            status(nodes[leader].as_ref().unwrap())["height"]
                .as_u64()
                .unwrap()
                >= target
        },
    );
    let restarted = nodes[leader].as_ref().unwrap().http();
    let (_, mine) = restarted.get(&format!("/v1/blocks/{target}"));
    let (_, theirs) = observer_http.get(&format!("/v1/blocks/{target}"));
    assert_eq!(mine["hash"], theirs["hash"]);
    assert_eq!(mine["state_root"], theirs["state_root"]);
    // The contract's record and its scheduled runs agree too, on the restarted node (which
    // re-ran the schedule while catching up) as on the others.
    let record_path = format!("/v1/acs/packages/{package}/records/{operator}?block={target}");
    let (_, my_record) = restarted.get(&record_path);
    let (_, their_record) = observer_http.get(&record_path);
    assert_eq!(my_record["fields"], their_record["fields"]);
    let runs_to = |http: &Http| -> Vec<Value> {
        let (_, jobs) = http.get(&format!("/v1/acs/packages/{package}/jobs?limit=10000"));
        jobs["runs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|run| run["block"].as_u64().unwrap() <= target)
            .cloned()
            .collect()
    };
    let my_runs = runs_to(&restarted);
    assert!(!my_runs.is_empty());
    assert!(my_runs.iter().all(|run| run["status"] == "ok"));
    assert_eq!(my_runs, runs_to(&observer_http));
    // The count is the one call plus every scheduled run up to that block.
    let count: usize = my_record["fields"]["n"].as_str().unwrap().parse().unwrap();
    assert_eq!(count, 1 + my_runs.len(), "{my_record}");

    // Stop everything; every node's stored chain re-verifies, certificates included.
    for node in nodes.iter_mut().flatten() {
        assert!(node.terminate().success());
    }
    for plan in &plans {
        let data = Path::new(plan["config"].as_str().unwrap())
            .parent()
            .unwrap()
            .join("data");
        let out = std::process::Command::new(cairn_bin())
            .arg("verify-chain")
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "verify-chain {}: {}",
            data.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The node says the chain's suite; a committed transaction carries that suite's key and its
/// block's hash is that suite's hash of the header; a transfer signed with the other suite's
/// key is refused with `wrong_suite`.
fn check_suite(node: &TestNode, crypto: &str, committed: &str) {
    let http = node.http();
    assert_eq!(http.status()["crypto"], crypto);
    let (_, tx) = http.get(&format!("/v1/transactions/{committed}"));
    let key_hex = tx["transaction"]["public_key"].as_str().unwrap();
    let sm2 = crypto == "sm2-sm3";
    assert_eq!(key_hex.len(), if sm2 { 2 + 66 } else { 2 + 64 }, "{tx}");
    let height = tx["block"].as_u64().unwrap();
    let (_, raw) = http.get(&format!("/v1/blocks/{height}/raw"));
    let bytes = hex::decode(raw["block"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let block: cairn_primitives::Block =
        alloy_rlp::Decodable::decode(&mut bytes.as_slice()).unwrap();
    let header = alloy_rlp::encode(&block.header);
    let expected = if sm2 {
        format!("0x{}", hex::encode(cairn_primitives::sm::sm3(&header)))
    } else {
        format!("{}", cairn_primitives::keccak256(&header))
    };
    assert_eq!(raw["hash"].as_str().unwrap(), expected);
    assert_eq!(tx["block_hash"].as_str().unwrap(), expected);
    // The other suite's dev key, right chain id and nonce: refused for its suite alone.
    let other = if sm2 { "ed25519-keccak" } else { "sm2-sm3" };
    let stranger = dev_for(other, 3);
    let (code, body) = http.post_json(
        "/v1/transactions",
        &tx_json(&transfer(&stranger, 0, stranger.address(), 1)),
    );
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["code"], "wrong_suite", "{body}");
}

/// A node configured with a key no other node lists: it is refused, so it never has a peer
/// and never learns a block.
fn start_outsider(dir: &Path, plans: &[Value]) -> TestNode {
    let template = Path::new(plans[0]["config"].as_str().unwrap());
    let mut config: toml::Value =
        toml::from_str(&std::fs::read_to_string(template).unwrap()).unwrap();
    let outsider_dir = dir.join("outsider");
    std::fs::create_dir_all(&outsider_dir).unwrap();
    let key = cairn_primitives::SecretKey::generate();
    let key_file = serde_json::json!({
        "address": format!("{:#x}", key.address()),
        "public_key": key.public_key().to_string(),
        "secret_key": format!("0x{}", hex::encode(key.to_bytes())),
    });
    std::fs::write(outsider_dir.join("node.key"), key_file.to_string()).unwrap();
    let base = free_base_port(1);
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], base));
    let p2p = std::net::SocketAddr::from(([127, 0, 0, 1], base + 1_000));
    let table = config.as_table_mut().unwrap();
    table.insert(
        "genesis".into(),
        toml::Value::String(dir.join("genesis.json").display().to_string()),
    );
    table["http"]["listen"] = toml::Value::String(http.to_string());
    table["consensus"]
        .as_table_mut()
        .unwrap()
        .remove("validator_key");
    let network = table["network"].as_table_mut().unwrap();
    network.insert("key".into(), toml::Value::String("node.key".into()));
    network["listen"] = toml::Value::String(p2p.to_string());
    let mut me = toml::map::Map::new();
    me.insert(
        "public_key".into(),
        toml::Value::String(key.public_key().to_string()),
    );
    me.insert("address".into(), toml::Value::String(p2p.to_string()));
    network["peers"]
        .as_array_mut()
        .unwrap()
        .push(toml::Value::Table(me));
    let path = outsider_dir.join("config.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    TestNode::spawn(
        &outsider_dir.join("run"),
        &["node", "--config", path.to_str().unwrap()],
    )
}

/// Sends garbage and oversized messages on every channel as an authorized peer; returns how
/// many bad messages reached a validator before consensus blocked the sender.
fn attack(dir: &Path, plans: &[Value]) -> usize {
    use cairn_network::transport::{TransportConfig, start_lookup};
    use cairn_network::{peer_key, peer_signer};
    use commonware_p2p::{Recipients, Sender};
    use commonware_runtime::{Clock, Runner, Supervisor};
    use rand::RngExt;

    let full_node = plans.iter().find(|plan| plan["role"] == "full").unwrap();
    let node_dir = Path::new(full_node["config"].as_str().unwrap())
        .parent()
        .unwrap();
    let key_file: Value =
        serde_json::from_str(&std::fs::read_to_string(node_dir.join("node.key")).unwrap()).unwrap();
    let seed = cairn_primitives::serde_helpers::parse_hex_array::<32>(
        key_file["secret_key"].as_str().unwrap(),
    )
    .unwrap();
    let key = cairn_primitives::SecretKey::from_bytes(seed);
    let peers = plans
        .iter()
        .map(|plan| {
            let public: cairn_primitives::PublicKey =
                serde_json::from_value(plan["public_key"].clone()).unwrap();
            (
                peer_key(&public).unwrap(),
                plan["p2p"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let genesis = std::fs::read_to_string(dir.join("genesis.json")).unwrap();
    let genesis = cairn_primitives::GenesisConfig::from_json(&genesis).unwrap();
    let (genesis_block, _) = cairn_ledger::genesis::build_genesis(&genesis).unwrap();
    let namespace = [
        b"cairn/p2p/".as_slice(),
        genesis_block
            .hash(cairn_primitives::CryptoSuite::Ed25519Keccak)
            .as_slice(),
    ]
    .concat();
    commonware_runtime::tokio::Runner::new(commonware_runtime::tokio::Config::new()).start(
        |context| async move {
            let transport = start_lookup(
                context.child("attacker"),
                TransportConfig {
                    signer: peer_signer(&key),
                    namespace,
                    listen: full_node["p2p"].as_str().unwrap().parse().unwrap(),
                    peers,
                    allow_private_ips: true,
                    // Larger than any Cairn node accepts.
                    max_message_size: 32 * 1024 * 1024,
                },
            )
            .unwrap();
            let channels = transport.channels;
            let (mut sync, mut gossip, mut proposals) = (
                channels.sync.0,
                channels.transactions.0,
                channels.proposals.0,
            );
            let mut votes = channels.votes.0;
            // Wait until connected to every validator (a harmless status probe reaches them).
            let probe = cairn_network::wire::SyncMessage::Status {
                height: 0,
                hash: Default::default(),
            }
            .encode();
            let deadline = context.current() + Duration::from_secs(30);
            while sync.send(Recipients::All, probe.clone(), false).len() < 4 {
                assert!(
                    context.current() < deadline,
                    "the authorized attacker never connected"
                );
                context.sleep(Duration::from_millis(200)).await;
            }

            // Garbage and oversized messages on Cairn's own channels: dropped and counted.
            let mut rng = rand::rng();
            let mut reached = 0;
            for _ in 0..5 {
                let garbage: Vec<u8> = (0..rng.random_range(1..512))
                    .map(|_| rng.random())
                    .collect();
                for sender in [&mut sync, &mut gossip, &mut proposals] {
                    reached += sender.send(Recipients::All, garbage.clone(), false).len();
                }
                // Too big for the channel, within the transport's limit.
                reached += sync
                    .send(Recipients::All, vec![0xab; 64 * 1024], false)
                    .len();
                reached += gossip
                    .send(Recipients::All, vec![0xcd; 2 * 1024 * 1024], false)
                    .len();
                context.sleep(Duration::from_millis(300)).await;
            }
            context.sleep(Duration::from_secs(1)).await;

            // Too big for the transport: the frame is refused (and the connection with it).
            proposals.send(Recipients::All, vec![0xef; 20 * 1024 * 1024], false);
            context.sleep(Duration::from_secs(2)).await;

            // Garbage votes: consensus blocks the sender outright.
            let deadline = context.current() + Duration::from_secs(30);
            loop {
                votes.send(Recipients::All, vec![0x00, 0x01, 0x02], false);
                context.sleep(Duration::from_millis(500)).await;
                if sync.send(Recipients::All, probe.clone(), false).is_empty() {
                    break;
                }
                assert!(
                    context.current() < deadline,
                    "garbage votes did not get the sender blocked"
                );
            }
            reached
        },
    )
}

#[test]
fn unknown_peers_are_refused_and_bad_messages_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let plans = testnet_init(dir.path(), 4, 1);
    let validators: Vec<TestNode> = plans
        .iter()
        .filter(|p| p["role"] == "validator")
        .map(start)
        .collect();
    wait_until(
        "the network to make blocks",
        Duration::from_secs(60),
        || {
            validators
                .iter()
                .all(|node| status(node)["height"].as_u64().unwrap() >= 2)
        },
    );

    let outsider = start_outsider(dir.path(), &plans);
    std::thread::sleep(Duration::from_secs(8));
    let seen = status(&outsider);
    assert_eq!(seen["peers"], 0, "the outsider got peers: {seen}");
    assert_eq!(seen["height"], 0, "the outsider learned blocks: {seen}");

    let reached = attack(dir.path(), &plans) as u64;
    let height = status(&validators[0])["height"].as_u64().unwrap();
    wait_until(
        "the validators to keep committing",
        Duration::from_secs(30),
        || {
            validators
                .iter()
                .all(|node| status(node)["height"].as_u64().unwrap() > height + 2)
        },
    );
    let dropped: u64 = validators
        .iter()
        .map(|node| {
            status(node)["network"]["dropped_messages"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert!(
        reached >= 4 * 5 * 5 / 2,
        "only {reached} bad messages reached the validators"
    );
    assert!(
        dropped >= reached,
        "{reached} bad messages arrived but only {dropped} were counted"
    );
    // Every validator names the attacker among the peers that misbehaved.
    let attacker = plans.iter().find(|plan| plan["role"] == "full").unwrap()["public_key"]
        .as_str()
        .unwrap()
        .to_string();
    for node in &validators {
        let network = status(node)["network"].clone();
        let offenders = network["offenders"].as_array().unwrap();
        let record = offenders
            .iter()
            .find(|offender| offender["peer"] == attacker.as_str())
            .unwrap_or_else(|| panic!("the attacker is not among the offenders: {network}"));
        assert!(record["offences"].as_u64().unwrap() > 0, "{network}");
    }
    for mut node in validators {
        assert!(node.child.try_wait().unwrap().is_none(), "a validator died");
        assert!(node.terminate().success());
    }
    println!(
        "{reached} bad messages sent, {dropped} dropped and counted; the sender was then blocked"
    );
}

/// A `cairn devnet --validators 4` process, its output read line by line.
struct Devnet {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    /// node index -> (HTTP URL, pid, log file)
    nodes: Vec<(String, u32, String)>,
    /// What it printed before it said it was ready.
    banner: Vec<String>,
}

impl Devnet {
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let base = free_base_port(4);
        let mut child = std::process::Command::new(cairn_bin())
            .args(["devnet", "--validators", "4", "--block-time-ms", "200"])
            .args(["--http", &format!("127.0.0.1:{base}")])
            .arg("--data-dir")
            .arg(dir)
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut devnet = Self {
            child,
            lines,
            nodes: Vec::new(),
            banner: Vec::new(),
        };
        let banner = devnet.read_until("Press Ctrl-C", Duration::from_secs(90));
        devnet.banner.clone_from(&banner);
        for line in banner {
            // "  node-1 validator http://127.0.0.1:P  (pid N, log: FILE)"
            let Some(rest) = line.trim().strip_prefix("node-") else {
                continue;
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            let pid = words[4].trim_end_matches(',').parse().unwrap();
            let log = words[6].trim_end_matches(')').to_string();
            devnet.nodes.push((words[2].to_string(), pid, log));
        }
        assert_eq!(devnet.nodes.len(), 4, "banner not understood");
        devnet
    }

    /// Lines up to and including the first that contains `marker`.
    fn read_until(&self, marker: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(marker);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!(
                    "no {marker:?} from the devnet; it printed:\n{}",
                    seen.join("\n")
                ),
            }
        }
    }

    fn cli(&self, node: usize, args: &[&str]) -> std::process::Output {
        std::process::Command::new(cairn_bin())
            .args(args)
            .args(["--node", &self.nodes[node].0])
            .output()
            .unwrap()
    }

    fn kill9(&self, node: usize) {
        let pid = nix::unistd::Pid::from_raw(self.nodes[node].1 as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    }

    /// SIGTERM, then every node process must be gone.
    fn stop(mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "the devnet did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn transfer_commits(devnet: &Devnet, node: usize) {
    let out = devnet.cli(
        node,
        &[
            "tx",
            "transfer",
            "--dev",
            "0",
            "--to",
            "0x0000000000000000000000000000000000000002",
            "--amount",
            "7",
            "--wait",
            "--timeout",
            "60",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "committed", "{result}");
}

#[test]
fn the_devnet_keeps_the_others_running_when_a_validator_dies() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&dir.path().join("net"), &[]);
    transfer_commits(&devnet, 0);
    // Status counts the peers heard from lately: all three once they have spoken.
    let peers = || {
        let out = devnet.cli(0, &["status", "--json"]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["peers"].as_u64()
    };
    wait_until("node-0 to see 3 peers", Duration::from_secs(30), || {
        peers() == Some(3)
    });
    // Node 0's admin (made at the devnet's first start) sees its three peers on the admin
    // API, by rank, each heard from lately.
    let admin_line = devnet
        .banner
        .iter()
        .find(|line| line.contains("(admin: user admin, password "))
        .expect("the devnet prints node-0's admin");
    let password = admin_line
        .rsplit("password ")
        .next()
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    let http = Http::new(&devnet.nodes[0].0);
    let (status, body) = http.post_json(
        "/v1/admin/login",
        &serde_json::json!({"user": "admin", "password": password}),
    );
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    let admin_peers = || http.call("GET", "/v1/admin/peers", Some(&token), None).1;
    // Each peer as (rank, live), in the order the page lists them: by rank.
    let ranks = |peers: &Value| -> Vec<(u64, bool)> {
        peers["peers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|peer| {
                (
                    peer["validator_rank"].as_u64().unwrap(),
                    peer["live"] == true,
                )
            })
            .collect()
    };
    let peers_now = admin_peers();
    assert_eq!(
        peers_now["peers"].as_array().unwrap().len(),
        3,
        "{peers_now}"
    );
    wait_until(
        "node-0's admin page to show 3 live peers",
        Duration::from_secs(30),
        || ranks(&admin_peers()) == [(1, true), (2, true), (3, true)],
    );
    let (_, validators) = http.get("/v1/validators");
    assert_eq!(
        validators["validators"].as_array().unwrap().len(),
        4,
        "{validators}"
    );
    assert_eq!(validators["engine"], "bft");
    devnet.kill9(1);
    let said = devnet.read_until("node-1 exited", Duration::from_secs(10));
    assert!(
        said.last().unwrap().contains("the others go on without it"),
        "{said:?}"
    );
    // And two once node-1 has been silent past the window.
    wait_until("node-0 to see 2 peers", Duration::from_secs(30), || {
        peers() == Some(2)
    });
    // The admin page names the one gone quiet.
    wait_until(
        "node-0's admin page to show rank 1 silent",
        Duration::from_secs(30),
        || ranks(&admin_peers()) == [(1, false), (2, true), (3, true)],
    );
    // Three of four validators keep the chain going, through any of them.
    transfer_commits(&devnet, 0);
    transfer_commits(&devnet, 2);
    // Logs written to files are plain text.
    let log = std::fs::read(&devnet.nodes[0].2).unwrap();
    assert!(!log.is_empty());
    assert!(
        !log.contains(&0x1b),
        "ANSI escape codes in {}",
        devnet.nodes[0].2
    );
    let pids: Vec<u32> = devnet.nodes.iter().map(|(_, pid, _)| *pid).collect();
    devnet.stop();
    for pid in pids {
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok();
        assert!(!alive, "node process {pid} outlived the devnet");
    }
}

#[test]
fn the_devnet_restarts_a_crashed_validator_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(&dir.path().join("net"), &["--restart-crashed"]);
    devnet.kill9(3);
    devnet.read_until("node-3 exited", Duration::from_secs(10));
    devnet.read_until("node-3 started again", Duration::from_secs(20));
    // It serves again and catches up with a transfer sent through it.
    wait_until("node-3 serving again", Duration::from_secs(60), || {
        ureq::get(format!("{}/v1/health", devnet.nodes[3].0))
            .call()
            .is_ok()
    });
    transfer_commits(&devnet, 3);
    devnet.stop();
}
