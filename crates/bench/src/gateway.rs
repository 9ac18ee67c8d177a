//! `cairn-bench gateway`: transactions per second through the gateway to one node, each with
//! its own receiver, against the same number submitted to that node directly, in one run.
//!
//! One solo node runs as a process of this binary, and a gateway (`cairn gateway`) as
//! another. Both paths send one signed transfer per HTTP request, `--concurrency` requests at
//! once (256 by default: a back-office system with many transactions to send). Directly, a transfer is timed from its submission to the committed block that holds
//! it (followed through `GET /v1/blocks`). Through the gateway, a receiver is registered for
//! every transfer beforehand (`{"transaction": hash}`, not timed), and a transfer is timed
//! from the gateway's 202 to the moment the receiver, an HTTP server in this process, is told
//! its result; the rate runs from the first submission to the last notification. So the
//! gateway's figure includes its durable acceptance, the hand-over, following the result,
//! the durable record of it, and the signed delivery.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_primitives::{B256, SecretKey, SignedTransaction};
use futures::StreamExt;
use serde::Serialize;

use crate::tps::{account_key, free_ports, node_client, sign_all, start_chain};

/// The result of one run.
#[derive(Debug, Serialize)]
pub struct GatewayReport {
    /// Transfers on each path.
    pub txs: usize,
    /// Through the gateway: transfers per second from the first submission to the last
    /// notification received.
    pub gateway_tps: f64,
    /// Directly: transfers per second from the first submission to the last commit.
    pub direct_tps: f64,
    /// gateway_tps / direct_tps (target: at least 0.5).
    pub ratio: f64,
    /// Median time from the gateway's acceptance to the receiver's notification.
    pub p50_ms: f64,
    /// 99th percentile of the same (target: under 2,000).
    pub p99_ms: f64,
    /// Median time from a direct submission to its commit.
    pub direct_p50_ms: f64,
    /// 99th percentile of the same.
    pub direct_p99_ms: f64,
    /// Requests under way at once on each path.
    pub concurrency: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Rate and latencies of `done` (hash → when) against `started` (hash → when).
fn figures(
    first: Instant,
    started: &HashMap<B256, Instant>,
    done: &HashMap<B256, Instant>,
) -> anyhow::Result<(f64, f64, f64)> {
    let mut latencies: Vec<f64> = started
        .iter()
        .filter_map(|(hash, at)| Some(done.get(hash)?.duration_since(*at).as_secs_f64() * 1e3))
        .collect();
    if latencies.len() != started.len() {
        bail!("{} of {} finished", latencies.len(), started.len());
    }
    latencies.sort_by(f64::total_cmp);
    let last = done.values().max().copied().unwrap_or(first);
    let rate = started.len() as f64 / last.duration_since(first).as_secs_f64();
    Ok((
        rate,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
    ))
}

/// `cairn-bench gateway`.
pub fn run(txs: usize, accounts: usize, concurrency: usize) -> anyhow::Result<GatewayReport> {
    if txs == 0 || accounts == 0 || concurrency == 0 {
        bail!("txs, accounts and concurrency must be positive");
    }
    if !txs.is_multiple_of(accounts) {
        // Each account's transfers through the gateway follow its direct ones in nonce.
        bail!("--txs must be a multiple of --accounts");
    }
    if 2 * txs / accounts >= 4_096 {
        bail!("at most 2047 transfers per account on each path: use more --accounts");
    }
    let keys: Vec<SecretKey> = (0..accounts).map(account_key).collect();
    eprintln!("signing 2 × {txs} transfers...");
    let direct = sign_all(&keys, txs, 0);
    let through = sign_all(&keys, txs, (txs / accounts) as u64);
    let dir = tempfile::tempdir()?;
    let nodes = start_chain(dir.path(), 1, &keys)?;
    let node_url = nodes.http[0].clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    eprintln!("direct: {txs} transfers, one per request...");
    let (direct_tps, direct_p50_ms, direct_p99_ms) =
        runtime.block_on(direct_path(&node_url, direct, concurrency))?;

    eprintln!("through the gateway: {txs} transfers, one receiver each...");
    let gateway = Gateway::start(dir.path(), &node_url, txs)?;
    let (gateway_tps, p50_ms, p99_ms) =
        runtime.block_on(gateway_path(&gateway, through, concurrency))?;
    drop(gateway);
    drop(nodes);
    Ok(GatewayReport {
        txs,
        gateway_tps,
        direct_tps,
        ratio: gateway_tps / direct_tps,
        p50_ms,
        p99_ms,
        direct_p50_ms,
        direct_p99_ms,
        concurrency,
    })
}

/// Submits each transfer to the node on its own, and follows the blocks until all commit.
async fn direct_path(
    node_url: &str,
    transactions: Vec<SignedTransaction>,
    concurrency: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let client = node_client(node_url, Duration::from_secs(60))?;
    let from_height = client.status().await?.height + 1;
    let started: Arc<Mutex<HashMap<B256, Instant>>> = Arc::default();
    let wanted = transactions.len();
    let follower = tokio::spawn(follow_commits(client.clone(), from_height, wanted));
    let first = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(transactions)
        .map(|tx| {
            let (client, started) = (client.clone(), started.clone());
            async move {
                let at = Instant::now();
                let reply = client.submit(&tx).await?;
                if reply.hash != tx.hash() {
                    bail!("the node answered another hash");
                }
                started
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .insert(tx.hash(), at);
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let committed = follower.await??;
    let started = started.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    figures(first, &started, &committed)
}

/// When each transaction of the blocks from `from_height` on was seen committed, until
/// `wanted` were.
async fn follow_commits(
    client: cairn_client::Client,
    mut from_height: u64,
    wanted: usize,
) -> anyhow::Result<HashMap<B256, Instant>> {
    let mut committed = HashMap::with_capacity(wanted);
    let deadline = Instant::now() + Duration::from_secs(600);
    while committed.len() < wanted {
        if Instant::now() > deadline {
            bail!(
                "only {} of {wanted} committed in ten minutes",
                committed.len()
            );
        }
        let page = client.blocks(from_height, 100, false).await?;
        let now = Instant::now();
        if page.blocks.is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        for block in page.blocks {
            from_height = block.header.height + 1;
            for hash in block.transactions {
                committed.entry(hash).or_insert(now);
            }
        }
    }
    Ok(committed)
}

/// A `cairn gateway` process of this binary, and the receivers' server.
struct Gateway {
    child: std::process::Child,
    url: String,
    hooks_url: String,
    told: Arc<Mutex<HashMap<B256, Instant>>>,
    _server: std::thread::JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    fn start(dir: &std::path::Path, node_url: &str, txs: usize) -> anyhow::Result<Self> {
        let told: Arc<Mutex<HashMap<B256, Instant>>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let hooks_url = format!("http://{}/hook", listener.local_addr()?);
        let server_told = told.clone();
        let server = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = axum::Router::new().route(
                    "/hook",
                    axum::routing::post(move |body: axum::body::Bytes| {
                        let told = server_told.clone();
                        async move {
                            let now = Instant::now();
                            let hash = serde_json::from_slice::<serde_json::Value>(&body)
                                .ok()
                                .and_then(|body| body["data"]["hash"].as_str()?.parse().ok());
                            if let (Some(hash), Ok(mut told)) = (hash, told.lock()) {
                                told.entry(hash).or_insert(now);
                            }
                            axum::http::StatusCode::NO_CONTENT
                        }
                    }),
                );
                let _ = axum::serve(listener, app).await;
            });
        });
        let port = free_ports(1)?[0];
        let url = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.join("gateway.log"))?;
        let child = std::process::Command::new(std::env::current_exe()?)
            .args(["cairn", "gateway", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(dir.join("gateway"))
            .arg("--chain")
            .arg(format!("{}={node_url}", crate::tps::CHAIN_ID))
            .arg("--max-receivers")
            .arg((txs + 100).to_string())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::from(log.try_clone()?))
            .stderr(std::process::Stdio::from(log))
            .spawn()
            .context("cannot start the gateway")?;
        let gateway = Self {
            child,
            url,
            hooks_url,
            told,
            _server: server,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while ureq_status(&format!("{}/v1/status", gateway.url)).is_none() {
            if Instant::now() > deadline {
                bail!(
                    "the gateway did not start; see {}",
                    dir.join("gateway.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(gateway)
    }
}

/// Whether a GET answers 200 (blocking, for start-up only).
fn ureq_status(url: &str) -> Option<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        let response = reqwest::get(url).await.ok()?;
        response.status().is_success().then_some(())
    })
}

/// Registers a receiver per transfer, submits every transfer through the gateway, and waits
/// until each receiver was told.
async fn gateway_path(
    gateway: &Gateway,
    transactions: Vec<SignedTransaction>,
    concurrency: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let registered: Vec<anyhow::Result<()>> = futures::stream::iter(&transactions)
        .map(|tx| {
            let http = http.clone();
            async move {
                let body = serde_json::json!({
                    "url": gateway.hooks_url,
                    "match": {"transaction": tx.hash()},
                });
                let response = http
                    .post(format!("{}/v1/receivers", gateway.url))
                    .json(&body)
                    .send()
                    .await?;
                if response.status() != reqwest::StatusCode::CREATED {
                    bail!("registering a receiver: {}", response.text().await?);
                }
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    registered
        .into_iter()
        .collect::<anyhow::Result<Vec<()>>>()?;
    let wanted = transactions.len();
    let accepted: Arc<Mutex<HashMap<B256, Instant>>> = Arc::default();
    let first = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(transactions)
        .map(|tx| {
            let (http, accepted) = (http.clone(), accepted.clone());
            async move {
                let body = serde_json::json!({
                    "chain_id": tx.chain_id(),
                    "tx": format!("0x{}", hex::encode(tx.encoded())),
                });
                let response = http
                    .post(format!("{}/v1/transactions", gateway.url))
                    .json(&body)
                    .send()
                    .await?;
                let now = Instant::now();
                if response.status() != reqwest::StatusCode::ACCEPTED {
                    bail!("the gateway did not accept: {}", response.text().await?);
                }
                accepted
                    .lock()
                    .map_err(|_| anyhow::anyhow!("poisoned"))?
                    .insert(tx.hash(), now);
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    eprintln!(
        "  accepted {wanted} in {:.2} s",
        first.elapsed().as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let told = gateway
            .told
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .len();
        if told >= wanted {
            break;
        }
        if Instant::now() > deadline {
            bail!("only {told} of {wanted} receivers told in ten minutes");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let accepted = accepted.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let told = gateway
        .told
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    figures(first, &accepted, &told)
}
