//! `cairn testnet init` and the multi-validator `cairn devnet`: a whole network on loopback,
//! one process per node.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_primitives::clock::now_ms;

use anyhow::{Context, bail};
use cairn_primitives::dev::{DEV_ACCOUNTS, DEV_BALANCE, dev_account_key_for};
use cairn_primitives::{
    ConsensusEngine, ConsensusParams, GenesisAccount, GenesisConfig, GenesisValidator, SecretKey,
};
use serde::Serialize;

use crate::cli::{DevnetArgs, TestnetInitArgs};
use crate::config::{
    ClusterSettings, ConsensusConfig, HttpConfig, NetworkConfig, NodeConfig, PeerEntry,
    PoolSettings,
};
use crate::keyfile;

/// Most nodes one generated network may have (each takes two loopback ports).
const MAX_NODES: u32 = 200;

/// One node of a generated network.
#[derive(Debug, Clone, Serialize)]
pub struct NodePlan {
    /// Index (validators first, by rank).
    pub index: u32,
    /// `validator` or `full`.
    pub role: &'static str,
    /// HTTP API address.
    pub http: SocketAddr,
    /// Peer-to-peer address.
    pub p2p: SocketAddr,
    /// The node's public key.
    pub public_key: cairn_primitives::PublicKey,
    /// Its configuration file.
    pub config: PathBuf,
}

/// Block pacing written into every node's configuration.
pub struct Pacing {
    /// Propose at least this often, in milliseconds.
    pub block_interval_ms: u64,
    /// Propose as soon as this many transfers are ready.
    pub min_block_transactions: usize,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            block_interval_ms: 500,
            min_block_transactions: 1_000,
        }
    }
}

/// `cairn testnet init`.
pub fn init(args: &TestnetInitArgs, json: bool) -> anyhow::Result<Vec<NodePlan>> {
    let plans = write_network(args, &Pacing::default())?;
    if json {
        println!("{}", serde_json::to_string_pretty(&plans)?);
    } else {
        println!(
            "Wrote a {}-validator network to {}",
            args.validators,
            args.out.display()
        );
        for plan in &plans {
            println!(
                "  node-{} {:<9} http {}  p2p {}  {}",
                plan.index, plan.role, plan.http, plan.p2p, plan.public_key
            );
        }
        println!(
            "Start each with: cairn node --config {}/node-I/config.toml",
            args.out.display()
        );
    }
    Ok(plans)
}

fn write_network(args: &TestnetInitArgs, pacing: &Pacing) -> anyhow::Result<Vec<NodePlan>> {
    if args.validators == 0 {
        bail!("a network needs at least one validator");
    }
    let total = args
        .validators
        .checked_add(args.full_nodes)
        .filter(|total| *total <= MAX_NODES)
        .with_context(|| format!("at most {MAX_NODES} nodes in all"))?;
    if u32::from(args.base_port) + 1_000 + total > u32::from(u16::MAX) {
        bail!(
            "--base-port {} leaves no room for {total} nodes",
            args.base_port
        );
    }
    if args.out.exists()
        && args
            .out
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!("{} already exists and is not empty", args.out.display());
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let keys: Vec<SecretKey> = (0..total).map(|_| SecretKey::generate()).collect();
    let loopback = |port: u32| SocketAddr::from((Ipv4Addr::LOCALHOST, port as u16));
    let http = |index: u32| loopback(u32::from(args.base_port) + index);
    let p2p = |index: u32| loopback(u32::from(args.base_port) + 1_000 + index);
    let role = |index: u32| {
        if index < args.validators {
            "validator"
        } else {
            "full"
        }
    };
    let name = |index: u32| {
        format!(
            "{}-{index}",
            if index < args.validators {
                "validator"
            } else {
                "full-node"
            }
        )
    };

    let genesis = GenesisConfig {
        chain_id: args.chain_id,
        timestamp_ms: now_ms(),
        accounts: (0..DEV_ACCOUNTS)
            .map(|i| GenesisAccount {
                address: dev_account_key_for(args.crypto, i).address(),
                balance: DEV_BALANCE,
            })
            .collect(),
        validators: (0..args.validators)
            .map(|i| GenesisValidator {
                name: name(i),
                public_key: keys[i as usize].public_key(),
            })
            .collect(),
        // Named even for one validator: the network is meant to grow, and its blocks are
        // sealed by certificates from the start.
        consensus: ConsensusParams {
            engine: Some(ConsensusEngine::Bft),
            ..ConsensusParams::default()
        },
        crypto: args.crypto,
    };
    std::fs::write(
        args.out.join("genesis.json"),
        serde_json::to_string_pretty(&genesis)? + "\n",
    )?;
    let peers: Vec<PeerEntry> = (0..total)
        .map(|i| PeerEntry {
            name: name(i),
            public_key: keys[i as usize].public_key(),
            address: p2p(i),
        })
        .collect();

    let mut plans = Vec::new();
    for index in 0..total {
        let dir = args.out.join(format!("node-{index}"));
        std::fs::create_dir_all(&dir)?;
        let validator = index < args.validators;
        let key_file = if validator {
            "validator.key"
        } else {
            "node.key"
        };
        keyfile::write_key(&dir.join(key_file), &keys[index as usize].clone().into())?;
        let config = NodeConfig {
            data_dir: "data".into(),
            genesis: Some("../genesis.json".into()),
            http: HttpConfig {
                listen: http(index),
                ..HttpConfig::default()
            },
            consensus: ConsensusConfig {
                engine: Some(ConsensusEngine::Bft),
                validator_key: validator.then(|| key_file.into()),
                min_block_transactions: pacing.min_block_transactions,
                block_interval_ms: pacing.block_interval_ms,
                ..ConsensusConfig::default()
            },
            pool: PoolSettings::default(),
            network: Some(NetworkConfig {
                key: (!validator).then(|| key_file.into()),
                listen: p2p(index),
                allow_private_ips: true,
                peers: peers.clone(),
            }),
            cluster: match &args.cluster {
                None => ClusterSettings::default(),
                // Every node of the network is a member of one cluster: it forms when all
                // of them are up, and a loopback network notices failures fast.
                Some(placement) => ClusterSettings {
                    enabled: true,
                    placement: placement.clone(),
                    retain_blocks: args.retain_blocks,
                    heartbeat_ms: 500,
                    offline_after_ms: 3_000,
                    repair_after_ms: 5_000,
                    invite_min_peers: (total as usize).saturating_sub(1).max(1),
                    form_min_members: total as usize,
                    ..ClusterSettings::default()
                },
            },
        };
        config.validate()?;
        let path = dir.join("config.toml");
        std::fs::write(&path, toml::to_string_pretty(&config)?)?;
        plans.push(NodePlan {
            index,
            role: role(index),
            http: http(index),
            p2p: p2p(index),
            public_key: keys[index as usize].public_key(),
            config: path,
        });
    }
    Ok(plans)
}

/// `cairn devnet --validators N`: a fresh network, its processes, and a clean stop on Ctrl-C.
/// A node that dies is reported and the others go on (the chain stays live while at most a
/// third of the validators are down); with `--restart-crashed` it is started again.
pub fn run_devnet(args: &DevnetArgs) -> anyhow::Result<()> {
    let out = args.data_dir.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            ".cairn/devnet-{}v-{}",
            args.validators,
            now_ms() / 1_000
        ))
    });
    let init_args = TestnetInitArgs {
        validators: args.validators,
        full_nodes: args.full_nodes,
        out: out.clone(),
        base_port: args.http.port(),
        cluster: None,
        retain_blocks: 1_000,
        chain_id: args.chain_id,
        crypto: args.crypto,
    };
    // Refuse ports in use before anything is written.
    let nodes = args.validators + args.full_nodes;
    for index in 0..nodes {
        for port in [
            u32::from(args.http.port()) + index,
            u32::from(args.http.port()) + 1_000 + index,
        ] {
            let address = u16::try_from(port)
                .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
                .map_err(|_| anyhow::anyhow!("port {port} (node-{index}) is above 65535"))?;
            std::net::TcpListener::bind(address)
                .with_context(|| format!("cannot listen on {address} (node-{index})"))?;
        }
    }
    let pacing = Pacing {
        block_interval_ms: args.block_time_ms.clamp(1, 900),
        min_block_transactions: args.min_block_txs as usize,
    };
    let created = !out.exists();
    let plans = write_network(&init_args, &pacing)?;
    // A network that never served is removed again: a failed start leaves nothing behind.
    let abandon = |nodes: &mut Vec<Supervised>, error: anyhow::Error| {
        stop_all(nodes);
        if created {
            let _ = std::fs::remove_dir_all(&out);
        }
        Err(error)
    };
    // The first node's console and shell get an admin, as a one-validator devnet's do.
    let admin = match crate::config::NodeConfig::load(&plans[0].config)
        .and_then(|config| crate::commands::admin::devnet_admin(&config.data_dir))
    {
        Ok(admin) => admin,
        Err(error) => return abandon(&mut Vec::new(), error),
    };
    let runtime = crate::client::small_runtime()?;
    let exe = std::env::current_exe().context("cannot find the cairn executable")?;
    let mut nodes: Vec<Supervised> = Vec::new();
    for plan in plans {
        match Supervised::start(&exe, plan) {
            Ok(node) => nodes.push(node),
            Err(error) => return abandon(&mut nodes, error),
        }
    }
    if let Err(error) = wait_until_serving(&runtime, &mut nodes) {
        return abandon(&mut nodes, error);
    }
    let first = format!("http://{}", nodes[0].plan.http);
    println!(
        "Cairn devnet: {} validators, {} full nodes in {}\n",
        args.validators,
        args.full_nodes,
        out.display()
    );
    for node in &nodes {
        println!(
            "  node-{} {:<9} http://{}  (pid {}, log: {})",
            node.plan.index,
            node.plan.role,
            node.plan.http,
            node.child.as_ref().map_or(0, Child::id),
            node.log.display()
        );
    }
    println!(
        "\n{}",
        crate::runtime::dev_accounts_banner(args.crypto, |_| DEV_BALANCE)
    );
    println!(
        "Chain id {}, crypto suite {}; a block at least every {} ms, empty or not.",
        args.chain_id, args.crypto, pacing.block_interval_ms
    );
    println!("Try: cairn status --node {first}");
    println!("     the console at {first}/");
    if let Some((user, password)) = &admin {
        println!("     cairn shell --node {first}  (admin: user {user}, password {password})");
    }
    println!(
        "     cairn tx transfer --node {first} --dev 0 --to {:#x} --amount 1000 --wait",
        dev_account_key_for(args.crypto, 1).address()
    );
    println!(
        "A node that dies is {}; the chain goes on while at most {} of the {} validators are down.",
        if args.restart_crashed {
            "started again"
        } else {
            "reported and left down (--restart-crashed starts it again)"
        },
        (args.validators - 1) / 3,
        args.validators
    );
    println!("Press Ctrl-C to stop every node.");
    let result = supervise(&runtime, &exe, &mut nodes, args.restart_crashed);
    stop_all(&mut nodes);
    result
}

/// A node process of a devnet, and what became of it.
struct Supervised {
    plan: NodePlan,
    log: PathBuf,
    child: Option<Child>,
    /// When it was last started, and how many times it died within a minute of a start.
    started: Instant,
    quick_deaths: u32,
    /// When to start it again, if it is down and to be restarted.
    restart_at: Option<Instant>,
}

impl Supervised {
    fn start(exe: &Path, plan: NodePlan) -> anyhow::Result<Self> {
        let log = node_dir(&plan).join("node.log");
        let mut node = Self {
            plan,
            log,
            child: None,
            started: Instant::now(),
            quick_deaths: 0,
            restart_at: None,
        };
        node.spawn(exe)?;
        Ok(node)
    }

    fn spawn(&mut self, exe: &Path) -> anyhow::Result<()> {
        // Appended, so a restarted node's log follows its earlier life.
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let child = Command::new(exe)
            .arg("node")
            .arg("--config")
            .arg(&self.plan.config)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start node-{}", self.plan.index))?;
        self.child = Some(child);
        self.started = Instant::now();
        self.restart_at = None;
        Ok(())
    }
}

fn node_dir(plan: &NodePlan) -> &Path {
    plan.config.parent().unwrap_or(Path::new("."))
}

fn wait_until_serving(
    runtime: &tokio::runtime::Runtime,
    nodes: &mut [Supervised],
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for node in nodes.iter_mut() {
        let client = cairn_client::Client::with_config(
            &format!("http://{}", node.plan.http),
            cairn_client::ClientConfig {
                timeout: Duration::from_millis(500),
                retries: 0,
                ..Default::default()
            },
        )?;
        loop {
            if let Some(Ok(Some(status))) = node.child.as_mut().map(Child::try_wait) {
                bail!(
                    "node-{} exited ({status}); see {}",
                    node.plan.index,
                    node.log.display()
                );
            }
            if runtime.block_on(client.health()).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "node-{} did not start within a minute; see {}",
                    node.plan.index,
                    node.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

/// Watches the nodes until Ctrl-C or SIGTERM. A node that exits is reported; with `restart`
/// it is started again (after a pause that grows while it keeps dying young). Ends with an
/// error only if every node is down and none will be restarted.
fn supervise(
    runtime: &tokio::runtime::Runtime,
    exe: &Path,
    nodes: &mut [Supervised],
    restart: bool,
) -> anyhow::Result<()> {
    runtime.block_on(async {
        let signal = crate::runtime::shutdown_signal();
        tokio::pin!(signal);
        loop {
            tokio::select! {
                _ = &mut signal => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            for node in nodes.iter_mut() {
                check_node(exe, node, restart);
            }
            if nodes
                .iter()
                .all(|n| n.child.is_none() && n.restart_at.is_none())
            {
                bail!("every node of the devnet is down");
            }
        }
    })
}

fn check_node(exe: &Path, node: &mut Supervised, restart: bool) {
    let index = node.plan.index;
    if let Some(child) = node.child.as_mut()
        && let Ok(Some(status)) = child.try_wait()
    {
        node.child = None;
        if node.started.elapsed() < Duration::from_secs(60) {
            node.quick_deaths += 1;
        } else {
            node.quick_deaths = 0;
        }
        let pause = Duration::from_secs(1 << node.quick_deaths.min(5));
        if restart {
            node.restart_at = Some(Instant::now() + pause);
            println!(
                "node-{index} exited ({status}); starting it again in {}s (log: {})",
                pause.as_secs(),
                node.log.display()
            );
        } else {
            println!(
                "node-{index} exited ({status}); the others go on without it (log: {})",
                node.log.display()
            );
        }
    }
    if node.restart_at.is_some_and(|at| Instant::now() >= at) {
        match node.spawn(exe) {
            Ok(()) => println!(
                "node-{index} started again (pid {})",
                node.child.as_ref().map_or(0, Child::id)
            ),
            Err(error) => {
                println!("node-{index} could not be started again: {error:#}");
                node.restart_at = Some(Instant::now() + Duration::from_secs(30));
            }
        }
    }
}

/// SIGTERM to every node, then SIGKILL to any still running after ten seconds.
fn stop_all(nodes: &mut [Supervised]) {
    for child in nodes.iter().filter_map(|n| n.child.as_ref()) {
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for child in nodes.iter_mut().filter_map(|n| n.child.as_mut()) {
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
