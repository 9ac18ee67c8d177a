//! `cairn-bench tps`: committed transfers per second of a fresh chain, through the public API.
//!
//! Starts a fresh chain (the solo engine for one validator, else one BFT validator process per
//! validator, all processes of this binary), funds `accounts` senders in genesis, signs `txs`
//! transfers in advance, submits them in binary batches through `POST /v1/transactions/raw`
//! from several client threads, and follows committed blocks through `GET /v1/blocks` to time
//! each transfer from submission to commit. Clients keep at most a window of transfers in
//! flight (submitted, not yet committed), so the latency measured is the chain's, not that of
//! a queue the benchmark built. The signature ceiling of the machine is measured first, in the
//! same run, while the machine is otherwise idle.
//!
//! With `--crypto sm2-sm3` the run measures two chains one after the other, alike but for
//! their suite: an `ed25519-keccak` one first, then an `sm2-sm3` one, each with its own
//! signature ceiling, and reports the SM chain's figures next to ed25519's.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_primitives::sm::Sm2SecretKey;
use cairn_primitives::{
    AccountKey, Address, B256, CryptoSuite, SecretKey, SignedTransaction, Transaction,
    TransactionSigner, keccak256,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::sync::Mutex;

pub(crate) const CHAIN_ID: u64 = 7_777;
/// Transfers per HTTP request.
const BATCH: usize = 1_000;
/// Most transfers submitted but not yet committed.
const WINDOW: usize = 20_000;
/// Concurrent submitting clients.
const CLIENTS: usize = 4;

/// The result of one run.
#[derive(Debug, Serialize)]
pub struct TpsReport {
    /// Validators (1: solo engine).
    pub validators: u32,
    /// Transfers submitted.
    pub txs: usize,
    /// Of those, found in committed blocks (each counted once).
    pub committed: usize,
    /// Seconds from the first submission to the last commit.
    pub elapsed_s: f64,
    /// Transfers per second from the first submission to the last commit.
    pub committed_tps: f64,
    /// Median submission-to-commit latency.
    pub p50_ms: f64,
    /// 99th-percentile submission-to-commit latency.
    pub p99_ms: f64,
    /// Batched ed25519 verifications per second on all cores, measured in this run.
    pub sig_ceiling_per_s: f64,
    /// committed_tps / sig_ceiling_per_s.
    pub ratio_to_sig_ceiling: f64,
    /// Blocks that carried the transfers.
    pub blocks: usize,
    /// With `--crypto sm2-sm3`: the same run on an `sm2-sm3` chain, after this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sm2_sm3: Option<SuiteRun>,
}

/// One chain's figures in a run of two suites.
#[derive(Debug, Serialize)]
pub struct SuiteRun {
    /// The chain's suite.
    pub crypto: String,
    /// Transfers found in committed blocks.
    pub committed: usize,
    /// Transfers per second from the first submission to the last commit.
    pub committed_tps: f64,
    /// Median submission-to-commit latency.
    pub p50_ms: f64,
    /// 99th-percentile submission-to-commit latency.
    pub p99_ms: f64,
    /// SM2 verifications per second on all cores (one by one: SM2 has no batch check),
    /// measured in this run.
    pub sig_ceiling_per_s: f64,
    /// committed_tps / sig_ceiling_per_s.
    pub ratio_to_sig_ceiling: f64,
    /// committed_tps / the ed25519-keccak chain's committed_tps, in this run.
    pub ratio_to_ed25519_tps: f64,
    /// Blocks that carried the transfers.
    pub blocks: usize,
}

pub(crate) fn account_key(index: usize) -> SecretKey {
    let mut preimage = b"cairn-bench/account/".to_vec();
    preimage.extend_from_slice(&(index as u64).to_be_bytes());
    SecretKey::from_bytes(keccak256(preimage).0)
}

/// Account `index` of a `suite` chain (on `ed25519-keccak`, [`account_key`]).
pub(crate) fn account_key_for(suite: CryptoSuite, index: usize) -> AccountKey {
    match suite {
        CryptoSuite::Ed25519Keccak => AccountKey::Ed25519(account_key(index)),
        CryptoSuite::Sm2Sm3 => {
            let mut preimage = b"cairn-bench/sm2-account/".to_vec();
            preimage.extend_from_slice(&(index as u64).to_be_bytes());
            let mut scalar = keccak256(preimage);
            loop {
                if let Some(key) = Sm2SecretKey::from_bytes(scalar.0) {
                    return AccountKey::Sm2(key);
                }
                scalar = keccak256(scalar);
            }
        }
    }
}

/// `count` distinct loopback ports, free right now and outside the kernel's ephemeral range.
///
/// A port the kernel hands out for `bind(0)` is an ephemeral one, which any outgoing connection
/// on the machine (the nodes dialling each other, the clients) may take before the node that was
/// told to listen on it starts. Ports below the ephemeral range are only taken by listeners.
/// Every candidate is held open until all are chosen, so no port is handed out twice, and each
/// process (a run starts its chain once) probes from its own offset, so runs side by side
/// rarely even try the same ports.
pub(crate) fn free_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    let (low, high) = (10_000u32, ephemeral_low.clamp(12_000, 65_536));
    let span = high - low;
    let start = std::process::id().wrapping_mul(7_919) % span;
    let mut held = Vec::with_capacity(count);
    for step in 0..span {
        if held.len() == count {
            break;
        }
        let port = (low + (start + step) % span) as u16;
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
        }
    }
    if held.len() < count {
        bail!("found only {} free loopback ports of {count}", held.len());
    }
    held.iter()
        .map(|listener| Ok(listener.local_addr()?.port()))
        .collect()
}

/// The last lines of a node's log, for an error that names why it stopped.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

pub(crate) struct Nodes {
    children: Vec<Child>,
    pub http: Vec<String>,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes genesis and configs, and starts the node processes.
pub(crate) fn start_chain(
    dir: &Path,
    validators: u32,
    accounts: &[SecretKey],
) -> anyhow::Result<Nodes> {
    let addresses: Vec<Address> = accounts.iter().map(SecretKey::address).collect();
    start_chain_of(dir, validators, &addresses, CryptoSuite::Ed25519Keccak)
}

/// [`start_chain`] for a `suite` chain funding `accounts`.
pub(crate) fn start_chain_of(
    dir: &Path,
    validators: u32,
    accounts: &[Address],
    suite: CryptoSuite,
) -> anyhow::Result<Nodes> {
    let keys: Vec<SecretKey> = (0..validators)
        .map(|i| SecretKey::from_bytes(keccak256(format!("cairn-bench/validator/{i}")).0))
        .collect();
    let genesis = serde_json::json!({
        "chain_id": CHAIN_ID,
        "timestamp_ms": 0,
        "accounts": accounts.iter().map(|address| serde_json::json!({
            "address": format!("{address:#x}"),
            "balance": "1000000000000000000000000000",
        })).collect::<Vec<_>>(),
        "crypto": suite.name(),
        "validators": keys.iter().enumerate().map(|(i, k)| serde_json::json!({
            "name": format!("validator-{i}"),
            "public_key": k.public_key().to_string(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("genesis.json"),
        serde_json::to_string_pretty(&genesis)?,
    )?;
    let mut ports = free_ports(2 * validators as usize)?;
    let p2p_ports = ports.split_off(validators as usize);
    let http_ports = ports;
    let peers: String = keys
        .iter()
        .zip(&p2p_ports)
        .map(|(key, port)| {
            format!(
                "[[network.peers]]\npublic_key = \"{}\"\naddress = \"127.0.0.1:{port}\"\n\n",
                key.public_key()
            )
        })
        .collect();
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    let mut http = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let node_dir = dir.join(format!("node-{index}"));
        std::fs::create_dir_all(&node_dir)?;
        let key_file = serde_json::json!({
            "address": format!("{:#x}", key.address()),
            "public_key": key.public_key().to_string(),
            "secret_key": format!("0x{}", hex::encode(key.to_bytes())),
        });
        std::fs::write(node_dir.join("validator.key"), key_file.to_string())?;
        let engine = if validators == 1 {
            "engine = \"solo\"\n".to_string()
        } else {
            "engine = \"bft\"\nleader_timeout_ms = 2000\n".to_string()
        };
        let mut config = format!(
            "data_dir = \"data\"\ngenesis = \"../genesis.json\"\n\n[http]\nlisten = \"127.0.0.1:{}\"\n\n\
             [consensus]\n{engine}validator_key = \"validator.key\"\nmin_block_transactions = 2000\n\
             block_interval_ms = 200\nmax_block_transactions = 20000\nempty_blocks = true\n\n\
             [pool]\nmax_transactions = 400000\nmax_per_sender = 4096\nmax_nonce_gap = 4096\n\n",
            http_ports[index]
        );
        if validators > 1 {
            config.push_str(&format!(
                "[network]\nlisten = \"127.0.0.1:{}\"\nallow_private_ips = true\n\n{peers}",
                p2p_ports[index]
            ));
        }
        let config_path = node_dir.join("config.toml");
        std::fs::write(&config_path, config)?;
        let log = std::fs::File::create(node_dir.join("node.log"))?;
        let child = Command::new(&exe)
            .args(["node", "--config"])
            .arg(&config_path)
            .env(
                "RUST_LOG",
                std::env::var("CAIRN_BENCH_NODE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("cannot start a node")?;
        children.push(child);
        http.push(format!("http://127.0.0.1:{}", http_ports[index]));
    }
    let mut nodes = Nodes { children, http };
    let runtime = runtime()?;
    let deadline = Instant::now() + Duration::from_secs(120);
    for (index, url) in nodes.http.clone().iter().enumerate() {
        let client = node_client(url, Duration::from_millis(500))?;
        loop {
            if let Ok(Some(status)) = nodes.children[index].try_wait() {
                let log = dir.join(format!("node-{index}/node.log"));
                bail!(
                    "node {index} exited ({status}): {}; log at {}",
                    log_tail(&log),
                    log.display()
                );
            }
            if runtime.block_on(client.health()).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!("node {index} did not start");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // A BFT chain is ready once it makes blocks.
    let first = node_client(&nodes.http[0], Duration::from_millis(500))?;
    while runtime.block_on(first.status())?.height < 1 {
        if Instant::now() > deadline {
            bail!("the chain made no block");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(nodes)
}

/// A client of one node, through the same `cairn-client` every tool uses.
pub(crate) fn node_client(url: &str, timeout: Duration) -> anyhow::Result<cairn_client::Client> {
    Ok(cairn_client::Client::with_config(
        url,
        cairn_client::ClientConfig {
            timeout,
            ..Default::default()
        },
    )?)
}

/// A runtime for one thread's requests.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Signs every transfer, on every core. Transfer `i` is sender `i % accounts`'s
/// `first_nonce + i / accounts`-th, to another funded account.
pub(crate) fn sign_all<K: TransactionSigner + Sync>(
    keys: &[K],
    count: usize,
    first_nonce: u64,
) -> Vec<SignedTransaction> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(cores);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..cores)
            .map(|part| {
                scope.spawn(move || {
                    let start = part * chunk;
                    (start..(start + chunk).min(count))
                        .map(|i| {
                            let sender = &keys[i % keys.len()];
                            let to: Address = keys[(i * 7 + 1) % keys.len()]
                                .account_public_key()
                                .address();
                            let nonce = first_nonce + (i / keys.len()) as u64;
                            Transaction {
                                chain_id: CHAIN_ID,
                                nonce,
                                to,
                                amount: 1,
                            }
                            .sign(sender)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    })
}

/// `cairn-bench tps [--crypto SUITE]`: on `sm2-sm3`, an `ed25519-keccak` chain and then an
/// `sm2-sm3` one.
pub fn run(
    validators: u32,
    txs: usize,
    accounts: usize,
    crypto: CryptoSuite,
) -> anyhow::Result<TpsReport> {
    if validators == 0 || accounts == 0 || txs == 0 {
        bail!("validators, txs and accounts must be positive");
    }
    if txs / accounts >= 4_096 {
        bail!(
            "at most 4095 transfers per account (the pool's per-sender bound): use more --accounts"
        );
    }
    eprintln!("measuring the signature ceiling of this machine...");
    let sig_ceiling = crate::sig::batch_all_cores_per_s(Duration::from_secs(2));
    eprintln!("signing {txs} transfers from {accounts} accounts...");
    let keys: Vec<SecretKey> = (0..accounts).map(account_key).collect();
    let transactions = sign_all(&keys, txs, 0);
    let dir = tempfile::tempdir()?;
    eprintln!(
        "starting {validators} node(s) in {}...",
        dir.path().display()
    );
    let nodes = start_chain(dir.path(), validators, &keys)?;
    let measured = measure(&nodes, transactions)?;
    drop(nodes);
    drop(dir);
    let sm2_sm3 = match crypto {
        CryptoSuite::Ed25519Keccak => None,
        CryptoSuite::Sm2Sm3 => Some(run_sm2(validators, txs, accounts, measured.committed_tps)?),
    };
    Ok(TpsReport {
        validators,
        txs,
        committed: measured.committed,
        elapsed_s: measured.elapsed_s,
        committed_tps: measured.committed_tps,
        p50_ms: measured.p50_ms,
        p99_ms: measured.p99_ms,
        sig_ceiling_per_s: sig_ceiling,
        ratio_to_sig_ceiling: measured.committed_tps / sig_ceiling,
        blocks: measured.blocks,
        sm2_sm3,
    })
}

/// The same run on an `sm2-sm3` chain, given the ed25519 chain's rate.
fn run_sm2(
    validators: u32,
    txs: usize,
    accounts: usize,
    ed25519_tps: f64,
) -> anyhow::Result<SuiteRun> {
    let suite = CryptoSuite::Sm2Sm3;
    eprintln!("measuring the SM2 signature ceiling of this machine...");
    let sig_ceiling = crate::sig::sm2_all_cores_per_s(Duration::from_secs(2));
    eprintln!("signing {txs} SM2 transfers from {accounts} accounts...");
    let keys: Vec<AccountKey> = (0..accounts).map(|i| account_key_for(suite, i)).collect();
    let transactions = sign_all(&keys, txs, 0);
    let dir = tempfile::tempdir()?;
    eprintln!(
        "starting {validators} sm2-sm3 node(s) in {}...",
        dir.path().display()
    );
    let addresses: Vec<Address> = keys.iter().map(AccountKey::address).collect();
    let nodes = start_chain_of(dir.path(), validators, &addresses, suite)?;
    let measured = measure(&nodes, transactions)?;
    drop(nodes);
    if std::env::var_os("CAIRN_BENCH_KEEP").is_some() {
        eprintln!("kept {}", dir.keep().display());
    }
    Ok(SuiteRun {
        crypto: suite.name().into(),
        committed: measured.committed,
        committed_tps: measured.committed_tps,
        p50_ms: measured.p50_ms,
        p99_ms: measured.p99_ms,
        sig_ceiling_per_s: sig_ceiling,
        ratio_to_sig_ceiling: measured.committed_tps / sig_ceiling,
        ratio_to_ed25519_tps: measured.committed_tps / ed25519_tps,
        blocks: measured.blocks,
    })
}

/// What [`measure`] saw.
pub(crate) struct Measured {
    pub committed: usize,
    pub elapsed_s: f64,
    pub committed_tps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub blocks: usize,
}

/// Submits `transactions` (signed in advance) to `nodes` in binary batches from several
/// client threads, within the window, and follows committed blocks until every one of them
/// is in one, timing each from submission to commit.
pub(crate) fn measure(
    nodes: &Nodes,
    transactions: Vec<SignedTransaction>,
) -> anyhow::Result<Measured> {
    let txs = transactions.len();
    let start_height = {
        let client = node_client(&nodes.http[0], Duration::from_secs(30))?;
        runtime()?.block_on(client.status())?.height + 1
    };
    // Bodies are shared, not copied, when sent.
    let batches: Vec<(bytes::Bytes, Vec<B256>)> = transactions
        .chunks(BATCH)
        .map(|chunk| {
            (
                chunk
                    .iter()
                    .flat_map(|tx| tx.encoded())
                    .collect::<Vec<u8>>()
                    .into(),
                chunk.iter().map(|tx| tx.hash()).collect(),
            )
        })
        .collect();
    drop(transactions);

    let submitted_at: Arc<Mutex<HashMap<B256, Instant>>> =
        Arc::new(Mutex::new(HashMap::with_capacity(txs)));
    let submitted = Arc::new(AtomicUsize::new(0));
    let committed = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let next_batch = Arc::new(AtomicUsize::new(0));
    let batches = Arc::new(batches);
    let bar = ProgressBar::new(txs as u64).with_style(
        ProgressStyle::with_template(
            "{spinner} committed [{bar:40}] {pos}/{len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = Instant::now();

    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (batches, next_batch, submitted, committed, submitted_at, failed) = (
                batches.clone(),
                next_batch.clone(),
                submitted.clone(),
                committed.clone(),
                submitted_at.clone(),
                failed.clone(),
            );
            let urls = nodes.http.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                let runtime = runtime()?;
                let clients: Vec<_> = urls
                    .iter()
                    .map(|url| node_client(url, Duration::from_secs(60)))
                    .collect::<anyhow::Result<_>>()?;
                loop {
                    let index = next_batch.fetch_add(1, Ordering::Relaxed);
                    let Some((body, hashes)) = batches.get(index) else {
                        return Ok(());
                    };
                    while submitted
                        .load(Ordering::Relaxed)
                        .saturating_sub(committed.load(Ordering::Relaxed))
                        > WINDOW
                    {
                        if failed.load(Ordering::Relaxed) {
                            return Ok(());
                        }
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    let node = &clients[(index + client) % clients.len()];
                    {
                        let now = Instant::now();
                        let mut times = submitted_at
                            .lock()
                            .map_err(|_| anyhow::anyhow!("poisoned"))?;
                        for hash in hashes {
                            times.insert(*hash, now);
                        }
                    }
                    submitted.fetch_add(hashes.len(), Ordering::Relaxed);
                    let reply = runtime.block_on(node.submit_encoded(body.clone()));
                    let refused = match &reply {
                        Ok(reply) if reply.rejected == 0 => None,
                        Ok(reply) => Some(format!(
                            "{:?}",
                            reply.results.iter().find(|r| r.error.is_some())
                        )),
                        Err(error) => Some(error.to_string()),
                    };
                    if let Some(why) = refused {
                        failed.store(true, Ordering::Relaxed);
                        bail!(
                            "the node refused a batch: {}",
                            why.chars().take(400).collect::<String>()
                        );
                    }
                }
            })
        })
        .collect();

    // Follow committed blocks and time every transfer.
    let follower = node_client(&nodes.http[0], Duration::from_secs(30))?;
    let follower_runtime = runtime()?;
    let mut latencies: Vec<f64> = Vec::with_capacity(txs);
    let mut next_height = start_height;
    let mut blocks = 0usize;
    let mut last_commit = started;
    let deadline = started + Duration::from_secs(600);
    while latencies.len() < txs {
        if failed.load(Ordering::Relaxed) {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {txs} transfers committed in ten minutes",
                latencies.len()
            );
        }
        let page = follower_runtime.block_on(follower.blocks(next_height, 100, false))?;
        let now = Instant::now();
        let page_blocks = page.blocks;
        if page_blocks.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let mut times = submitted_at
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        for block in &page_blocks {
            next_height = block.header.height + 1;
            let mut counted = 0;
            for hash in &block.transactions {
                if let Some(at) = times.remove(hash) {
                    latencies.push(now.duration_since(at).as_secs_f64() * 1_000.0);
                    counted += 1;
                }
            }
            if counted > 0 {
                blocks += 1;
                last_commit = now;
            }
        }
        drop(times);
        committed.store(latencies.len(), Ordering::Relaxed);
        bar.set_position(latencies.len() as u64);
    }
    bar.finish_and_clear();
    for client in clients {
        client
            .join()
            .map_err(|_| anyhow::anyhow!("a client panicked"))??;
    }
    let elapsed = last_commit.duration_since(started).as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    if latencies.is_empty() {
        bail!("nothing committed");
    }
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let committed = latencies.len();
    Ok(Measured {
        committed,
        elapsed_s: elapsed,
        committed_tps: committed as f64 / elapsed,
        p50_ms: percentile(0.50),
        p99_ms: percentile(0.99),
        blocks,
    })
}
