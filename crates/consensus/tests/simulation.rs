//! Deterministic simulation of a 4-validator network: Cairn's full node stack (chain, pool,
//! sync, gossip, consensus application and simplex) on Commonware's deterministic runtime and
//! simulated network, with message delay and loss, partitions, crashes and restarts, and an
//! equivocating validator. Every run is a function of its seed: a failing seed replays
//! exactly with `CAIRN_SIM_SEED=<seed> cargo test -p cairn-consensus --test simulation`.
//!
//! Each run checks safety (every honest node has the same block, hence the same state root,
//! at every height it committed; every stored chain re-verifies with its certificates) and
//! liveness (the chain advances, with transfers, after the faults heal).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_consensus::bft::application::ApplicationConfig;
use cairn_consensus::bft::engine::{BftConfig, ConsensusChannels, ValidatorParts, start_validator};
use cairn_consensus::bft::seal::CertificateSeals;
use cairn_ledger::Chain;
use cairn_ledger::verify::verify_chain;
use cairn_mempool::{Mempool, PoolConfig};
use cairn_network::gossip::{Gossip, GossipHandle};
use cairn_network::sync::{SyncConfig, Syncer};
use cairn_network::transport::register_simulated;
use cairn_network::{MAX_MESSAGE_BYTES, NetworkStats, PeerKey, PeerTracker, peer_key};
use cairn_primitives::dev::{DEV_CHAIN_ID, dev_account_key, dev_genesis, dev_validator_key};
use cairn_primitives::{Address, GenesisConfig, SecretKey, Transaction};
use cairn_storage::Store;
use commonware_p2p::simulated::{self, Link, Oracle};
use commonware_runtime::{Clock, Handle, Runner, Spawner, Supervisor, deterministic};
use commonware_utils::NZUsize;
use rand::RngExt;

const VALIDATORS: usize = 4;
// In the past of any real clock: the chain bounds timestamps by the real clock from above.
const START: Duration = Duration::from_secs(1_700_000_000);

fn genesis() -> GenesisConfig {
    dev_genesis(VALIDATORS as u32, START.as_millis() as u64)
}

/// What survives a node's crash: its key and its disk.
struct Disk {
    key: SecretKey,
    peer: PeerKey,
    store: Store,
    _dir: tempfile::TempDir,
}

/// A running node.
struct Node {
    task: Handle<()>,
    chain: Arc<Chain>,
    pool: Arc<Mempool>,
    gossip: GossipHandle,
    stats: Arc<NetworkStats>,
}

fn bft_config(index: usize) -> BftConfig {
    BftConfig {
        application: ApplicationConfig {
            min_block_transactions: 20,
            block_interval: Duration::from_millis(200),
            max_block_transactions: 500,
            fetch_retry: Duration::from_millis(200),
        },
        partition: format!("consensus-{index}"),
        ..BftConfig::default()
    }
}

async fn start_node(
    context: &deterministic::Context,
    oracle: &Oracle<PeerKey, deterministic::Context>,
    disk: &Disk,
    index: usize,
) -> Node {
    let chain = Chain::open(disk.store.clone()).unwrap();
    let seals = CertificateSeals::new(&chain.genesis_hash(), chain.validators()).unwrap();
    let chain = Arc::new(chain.with_seal_verifier(Arc::new(seals)));
    let pool = Arc::new(Mempool::new(PoolConfig::new(DEV_CHAIN_ID)));
    let stats = Arc::new(NetworkStats::default());
    let peers = Arc::new(PeerTracker::default());
    let control = oracle.control(disk.peer.clone());
    let channels = register_simulated(&control).await.unwrap();
    let syncer = Syncer::new(
        chain.clone(),
        pool.clone(),
        channels.sync,
        SyncConfig::default(),
        stats.clone(),
        peers.clone(),
    );
    let (gossip, gossip_handle) = Gossip::new(
        chain.clone(),
        pool.clone(),
        channels.transactions,
        stats.clone(),
        peers.clone(),
    );
    let parts = ValidatorParts {
        chain: chain.clone(),
        pool: pool.clone(),
        stats: stats.clone(),
        peers,
    };
    let consensus = ConsensusChannels {
        votes: channels.votes,
        certificates: channels.certificates,
        resolver: channels.resolver,
        proposals: channels.proposals,
    };
    let key = disk.key.clone();
    let task =
        context
            .child("node")
            .with_attribute("index", index)
            .spawn(move |context| async move {
                syncer.start(context.child("sync"));
                gossip.start(context.child("gossip"));
                let _validator = start_validator(
                    context.child("validator"),
                    parts,
                    &key,
                    bft_config(index),
                    control,
                    consensus,
                )
                .unwrap();
                std::future::pending::<()>().await;
            });
    Node {
        task,
        chain,
        pool,
        gossip: gossip_handle,
        stats,
    }
}

async fn link_all(
    oracle: &Oracle<PeerKey, deterministic::Context>,
    peers: &[PeerKey],
    link: &Link,
    connected: impl Fn(usize, usize) -> bool,
) {
    for (i, a) in peers.iter().enumerate() {
        for (j, b) in peers.iter().enumerate() {
            if i == j {
                continue;
            }
            let _ = oracle.remove_link(a.clone(), b.clone()).await;
            if connected(i, j) {
                oracle
                    .add_link(a.clone(), b.clone(), link.clone())
                    .await
                    .unwrap();
            }
        }
    }
}

/// Submits one transfer from each dev account through a node, as its API would.
fn submit_round(node: &Node, sink: Address) {
    let txs: Vec<_> = (0..10u32)
        .map(|i| {
            let key = dev_account_key(i);
            let account = node
                .chain
                .account(&key.address(), None)
                .unwrap()
                .unwrap_or_default();
            let nonce = node.pool.pending_nonce(&key.address(), account.nonce);
            Transaction {
                chain_id: DEV_CHAIN_ID,
                nonce,
                to: sink,
                amount: 1,
            }
            .sign(&key)
        })
        .collect();
    let results = node.pool.admit(txs.clone(), node.chain.as_ref());
    let admitted: Vec<_> = txs
        .into_iter()
        .zip(results)
        .filter(|(_, r)| r.is_ok())
        .map(|(tx, _)| tx)
        .collect();
    node.gossip.forward(&admitted);
}

/// Every committed height agrees across nodes; every store verifies with its certificates.
fn assert_safety(chains: &[Arc<Chain>]) -> u64 {
    let min_height = chains.iter().map(|c| c.head().height).min().unwrap();
    for height in 1..=min_height {
        let reference = chains[0].store().header(height).unwrap().unwrap();
        for chain in &chains[1..] {
            let header = chain.store().header(height).unwrap().unwrap();
            assert_eq!(header.hash(), reference.hash(), "fork at height {height}");
            assert_eq!(header.state_root, reference.state_root);
        }
    }
    for chain in chains {
        let seals = CertificateSeals::new(&chain.genesis_hash(), chain.validators()).unwrap();
        verify_chain(chain.store(), Some(&seals), |_, _| {}).unwrap();
    }
    min_height
}

/// Logs to the test's output when `RUST_LOG` is set.
fn init_logging() {
    if std::env::var("RUST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

fn seeds() -> Vec<u64> {
    init_logging();
    if let Ok(seed) = std::env::var("CAIRN_SIM_SEED") {
        return vec![seed.parse().expect("CAIRN_SIM_SEED is a number")];
    }
    let count = std::env::var("CAIRN_SIM_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4);
    (0..count).collect()
}

fn runner(seed: u64, timeout: Duration) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_start_time(UNIX_EPOCH + START)
            .with_timeout(Some(timeout)),
    )
}

async fn network(
    context: &deterministic::Context,
    peers: &[PeerKey],
) -> Oracle<PeerKey, deterministic::Context> {
    let (network, oracle) = simulated::Network::new_with_peers(
        context.child("network"),
        simulated::Config {
            max_size: MAX_MESSAGE_BYTES,
            max_peers_per_set: NZUsize!(peers.len() + 1),
            disconnect_on_block: true,
            tracked_peer_sets: NZUsize!(1),
        },
        peers.to_vec(),
    )
    .await;
    network.start();
    oracle
}

fn disks() -> Vec<Disk> {
    (0..VALIDATORS)
        .map(|i| {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path().join("chain.redb")).unwrap();
            Chain::initialize(&store, &genesis()).unwrap();
            let key = dev_validator_key(i as u32);
            let peer = peer_key(&key.public_key()).unwrap();
            Disk {
                key,
                peer,
                store,
                _dir: dir,
            }
        })
        .collect()
}

fn now(context: &deterministic::Context) -> SystemTime {
    context.current()
}

#[test]
fn four_validators_agree_on_a_lossless_network() {
    for seed in seeds() {
        runner(seed, Duration::from_secs(120)).start(|mut context| async move {
            let disks = disks();
            let peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
            let oracle = network(&context, &peers).await;
            let link = Link {
                latency: Duration::from_millis(20),
                jitter: Duration::from_millis(5),
                success_rate: 1.0.try_into().unwrap(),
            };
            link_all(&oracle, &peers, &link, |_, _| true).await;
            let mut nodes = Vec::new();
            for (index, disk) in disks.iter().enumerate() {
                nodes.push(start_node(&context, &oracle, disk, index).await);
            }
            let sink = Address::repeat_byte(0x5e);
            let started = now(&context);
            while now(&context).duration_since(started).unwrap() < Duration::from_secs(10) {
                let index = context.random_range(0..VALIDATORS as u64) as usize;
                submit_round(&nodes[index], sink);
                context.sleep(Duration::from_millis(100)).await;
            }
            context.sleep(Duration::from_secs(2)).await;
            let chains: Vec<_> = nodes.iter().map(|n| n.chain.clone()).collect();
            let height = assert_safety(&chains);
            assert!(height >= 10, "seed {seed}: only {height} blocks in 12 s");
            let moved = nodes[0]
                .chain
                .account(&sink, None)
                .unwrap()
                .map_or(0, |a| a.balance);
            assert!(moved > 100, "seed {seed}: only {moved} transfers committed");
            for node in &nodes {
                assert_eq!(node.stats.snapshot().consensus_faults, 0);
                node.task.abort();
            }
            println!("seed {seed}: height {height}, {moved} transfers");
        });
    }
}
