//! The simulated network and Cairn nodes on it: disks that survive crashes, nodes started
//! from them, load, and the safety and liveness checks every scenario shares.

use cairn_primitives::CryptoSuite;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use cairn_consensus::bft::application::ApplicationConfig;
use cairn_consensus::bft::engine::{BftConfig, ConsensusChannels, ValidatorParts, start_validator};
use cairn_consensus::bft::seal::CertificateSeals;
use cairn_ledger::Chain;
use cairn_ledger::verify::verify_chain;
use cairn_mempool::{Mempool, PoolConfig};
use cairn_network::gossip::{Gossip, GossipHandle};
use cairn_network::sync::{SyncConfig, SyncState, Syncer};
use cairn_network::transport::{Channels, SimulatedReceiver, SimulatedSender, register_simulated};
use cairn_network::{MAX_MESSAGE_BYTES, NetworkStats, PeerKey, PeerTracker, peer_key};
use cairn_primitives::dev::{
    DEV_CHAIN_ID, dev_account_key_for, dev_genesis_for, dev_validator_key,
};
use cairn_primitives::{
    AccountKey, AcsAction, AcsTransaction, Address, Bytes, GenesisConfig, SecretKey, Transaction,
    package_address,
};
use cairn_storage::{StorageError, Store};
use commonware_p2p::simulated::{self, Control, Link, Oracle};
use commonware_runtime::{Clock, Handle, Runner, Spawner, Supervisor, deterministic};
use commonware_utils::NZUsize;
use rand::RngExt;

/// Validators of every simulated chain.
pub const VALIDATORS: usize = 4;
/// In the past of any real clock: the chain bounds timestamps by the real clock from above.
pub const START: Duration = Duration::from_secs(1_700_000_000);
/// Where every scenario's transfers go.
pub const SINK: Address = Address::repeat_byte(0x5e);

/// Deploys [`TICKER`] and calls its contract, one action per round of load, on a `suite`
/// chain.
pub fn contract_key(suite: CryptoSuite) -> AccountKey {
    dev_account_key_for(suite, 40)
}

/// A package whose `operator` contract counts: called by transactions, and run by its own
/// schedule every third block.
pub const TICKER: &str = "#when trigger=every(3 blocks) run(operator)\n\
                          t.acs.operator={ p.w.n = p.n + 1; }\n";

/// Where [`contract_key`]'s first transaction deploys [`TICKER`] on a `suite` chain.
pub fn ticker(suite: CryptoSuite) -> Address {
    package_address(suite, &contract_key(suite).address(), 0)
}

/// The simulated chain's genesis on `suite`: four validators, so BFT.
pub fn genesis(suite: CryptoSuite) -> GenesisConfig {
    dev_genesis_for(suite, VALIDATORS as u32, START.as_millis() as u64)
}

/// What survives a node's crash: its key and the directory its chain lives in. Every start
/// opens the chain from its file, as a restarted process would.
pub struct Disk {
    pub key: SecretKey,
    pub peer: PeerKey,
    dir: tempfile::TempDir,
}

impl Disk {
    fn with_key(key: SecretKey, suite: CryptoSuite) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("chain.redb")).unwrap();
        Chain::initialize(&store, &genesis(suite)).unwrap();
        let peer = peer_key(&key.public_key()).unwrap();
        Self { key, peer, dir }
    }

    /// A full node's disk (its p2p key from `seed`), with genesis written.
    pub fn full_node(seed: u8) -> Self {
        Self::full_node_of(seed, CryptoSuite::Ed25519Keccak)
    }

    /// A full node's disk on a `suite` chain.
    pub fn full_node_of(seed: u8, suite: CryptoSuite) -> Self {
        Self::with_key(SecretKey::from_bytes([seed; 32]), suite)
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("chain.redb")
    }

    /// Opens the chain from its file. A crashed node's tasks release the file as the runtime
    /// drops them; until then the database is still open, so this waits a little.
    pub async fn open(&self, context: &deterministic::Context) -> Arc<Chain> {
        for _ in 0..1_000 {
            match Store::open(self.path()) {
                Ok(store) => {
                    let chain = Chain::open(store).unwrap();
                    let seals = CertificateSeals::new(
                        &chain.genesis_hash(),
                        chain.validators(),
                        chain.suite(),
                    )
                    .unwrap();
                    return Arc::new(chain.with_seal_verifier(Arc::new(seals)));
                }
                Err(StorageError::InUse(_)) => context.sleep(Duration::from_millis(1)).await,
                Err(other) => panic!("cannot reopen {}: {other}", self.path().display()),
            }
        }
        panic!(
            "{} stayed in use after its node crashed",
            self.path().display()
        );
    }
}

/// The four validators' disks.
pub fn validator_disks() -> Vec<Disk> {
    validator_disks_of(CryptoSuite::Ed25519Keccak)
}

/// The four validators' disks of a `suite` chain (validators sign consensus with ed25519 in
/// every suite).
pub fn validator_disks_of(suite: CryptoSuite) -> Vec<Disk> {
    (0..VALIDATORS)
        .map(|index| Disk::with_key(dev_validator_key(index as u32), suite))
        .collect()
}

/// A running node.
pub struct Node {
    pub task: Handle<()>,
    pub chain: Arc<Chain>,
    pub pool: Arc<Mempool>,
    pub gossip: GossipHandle,
    pub stats: Arc<NetworkStats>,
    pub sync: Arc<SyncState>,
}

impl Node {
    /// Kills the node (no shutdown path: SIGKILL) and lets go of everything it held.
    pub fn crash(self) {
        self.task.abort();
    }
}

pub fn bft_config(index: usize) -> BftConfig {
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

/// A node's own pieces before it runs: chain, pool, counters, channels.
pub struct Parts {
    pub chain: Arc<Chain>,
    pub pool: Arc<Mempool>,
    pub stats: Arc<NetworkStats>,
    pub tracker: Arc<PeerTracker>,
    pub control: Control<PeerKey, deterministic::Context>,
    pub channels: Channels<SimulatedSender<deterministic::Context>, SimulatedReceiver>,
}

/// Opens a node's disk and registers its channels.
pub async fn parts(
    context: &deterministic::Context,
    oracle: &Oracle<PeerKey, deterministic::Context>,
    disk: &Disk,
) -> Parts {
    let chain = disk.open(context).await;
    let control = oracle.control(disk.peer.clone());
    let channels = register_simulated(&control).await.unwrap();
    let pool = Arc::new(Mempool::new(PoolConfig::new(DEV_CHAIN_ID, chain.suite())));
    Parts {
        chain,
        pool,
        stats: Arc::new(NetworkStats::default()),
        tracker: Arc::new(PeerTracker::default()),
        control,
        channels,
    }
}

/// Starts validator `index` (or, with `None`, a full node) from its disk: chain, pool, sync,
/// gossip, and for a validator its consensus.
pub async fn start_node(
    context: &deterministic::Context,
    oracle: &Oracle<PeerKey, deterministic::Context>,
    disk: &Disk,
    validator: Option<usize>,
) -> Node {
    start_node_with_archive(context, oracle, disk, validator, None).await
}

/// [`start_node`] for a node that serves the blocks whose bodies it dropped from `archive`
/// (what a storage cluster member does).
pub async fn start_node_with_archive(
    context: &deterministic::Context,
    oracle: &Oracle<PeerKey, deterministic::Context>,
    disk: &Disk,
    validator: Option<usize>,
    archive: Option<Arc<dyn cairn_network::sync::BlockArchive>>,
) -> Node {
    let Parts {
        chain,
        pool,
        stats,
        tracker,
        control,
        channels,
    } = parts(context, oracle, disk).await;
    let mut syncer = Syncer::new(
        chain.clone(),
        pool.clone(),
        channels.sync,
        SyncConfig::default(),
        (stats.clone(), control.clone()),
        tracker.clone(),
    );
    if let Some(archive) = archive {
        syncer = syncer.with_archive(archive);
    }
    let sync = syncer.state();
    let (gossip, gossip_handle) = Gossip::new(
        chain.clone(),
        pool.clone(),
        channels.transactions,
        (stats.clone(), control.clone()),
        tracker.clone(),
    );
    let parts = ValidatorParts {
        chain: chain.clone(),
        pool: pool.clone(),
        stats: stats.clone(),
        peers: tracker,
    };
    let consensus = ConsensusChannels {
        votes: channels.votes,
        certificates: channels.certificates,
        resolver: channels.resolver,
        proposals: channels.proposals,
    };
    let key = disk.key.clone();
    let label = validator.map_or("full_node".to_string(), |i| format!("validator_{i}"));
    let task =
        context
            .child("node")
            .with_attribute("node", label)
            .spawn(move |context| async move {
                syncer.start(context.child("sync"));
                gossip.start(context.child("gossip"));
                if let Some(index) = validator {
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
                } else {
                    // A full node has no part in consensus traffic.
                    drop((parts, consensus, control));
                    std::future::pending::<()>().await;
                }
            });
    Node {
        task,
        chain,
        pool,
        gossip: gossip_handle,
        stats,
        sync,
    }
}

/// Links every pair of `peers` for which `connected` holds with `link`, and cuts the others.
pub async fn link_all(
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

/// A link with this latency and jitter that loses nothing.
pub fn clean_link(latency_ms: u64, jitter_ms: u64) -> Link {
    Link {
        latency: Duration::from_millis(latency_ms),
        jitter: Duration::from_millis(jitter_ms),
        success_rate: 1.0.try_into().unwrap(),
    }
}

/// Submits one transfer from each dev account through a node, as its API would, and one
/// contract action: the deployment of [`TICKER`], then calls of its `operator`.
pub fn submit_round(node: &Node) {
    let suite = node.chain.suite();
    let key = contract_key(suite);
    let account = node
        .chain
        .account(&key.address(), None)
        .unwrap()
        .unwrap_or(cairn_primitives::Account::empty(suite));
    let nonce = node.pool.pending_nonce(&key.address(), account.nonce);
    let action = if nonce == 0 {
        AcsAction::Deploy {
            source: Bytes::from_static(TICKER.as_bytes()),
        }
    } else {
        AcsAction::Call {
            package: ticker(suite),
            contract: "operator".into(),
            record: key.address(),
        }
    };
    let contract_tx = AcsTransaction {
        chain_id: DEV_CHAIN_ID,
        nonce,
        gas_limit: 100_000,
        action,
    }
    .sign(&key);
    let txs: Vec<_> = (0..10u32)
        .map(|i| {
            let key = dev_account_key_for(suite, i);
            let account = node
                .chain
                .account(&key.address(), None)
                .unwrap()
                .unwrap_or(cairn_primitives::Account::empty(suite));
            let nonce = node.pool.pending_nonce(&key.address(), account.nonce);
            Transaction {
                chain_id: DEV_CHAIN_ID,
                nonce,
                to: SINK,
                amount: 1,
            }
            .sign(&key)
        })
        .chain([contract_tx])
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

/// Submits a round through a random one of `nodes` every 100 ms for `duration`.
pub async fn load(context: &mut deterministic::Context, nodes: &[&Node], duration: Duration) {
    let started = context.current();
    while context.current().duration_since(started).unwrap() < duration {
        let index = context.random_range(0..nodes.len() as u64) as usize;
        submit_round(nodes[index]);
        context.sleep(Duration::from_millis(100)).await;
    }
}

/// Blocks `chain` commits per simulated second over `duration`, with load on `nodes`.
pub async fn finality_rate(
    context: &mut deterministic::Context,
    nodes: &[&Node],
    chain: &Chain,
    duration: Duration,
) -> f64 {
    let before = chain.head().height;
    load(context, nodes, duration).await;
    (chain.head().height - before) as f64 / duration.as_secs_f64()
}

/// What an attack did to the honest validators' pace, measured on one of their chains.
pub struct AttackRates {
    /// Blocks per second before the attack (after a 3 s warm-up).
    pub fault_free: f64,
    /// Blocks per second during the attack.
    pub under_attack: f64,
    /// Transfers committed during the attack.
    pub moved_during: u128,
}

/// Loads `nodes` throughout: 3 s of warm-up, 6 s measured fault-free, then, from
/// `attack_at`, `attack_for` measured under attack.
pub async fn rates_before_and_during(
    context: &mut deterministic::Context,
    nodes: &[&Node],
    reference: &Chain,
    attack_at: std::time::SystemTime,
    attack_for: Duration,
) -> AttackRates {
    load(context, nodes, Duration::from_secs(3)).await;
    let fault_free = finality_rate(context, nodes, reference, Duration::from_secs(6)).await;
    context.sleep_until(attack_at).await;
    let moved_before = moved(reference);
    let under_attack = finality_rate(context, nodes, reference, attack_for).await;
    AttackRates {
        fault_free,
        under_attack,
        moved_during: moved(reference) - moved_before,
    }
}

/// Every committed height agrees across nodes; every store verifies with its certificates.
pub fn assert_safety(chains: &[Arc<Chain>]) -> u64 {
    let min_height = chains.iter().map(|c| c.head().height).min().unwrap();
    let max_height = chains.iter().map(|c| c.head().height).max().unwrap();
    for height in 1..=max_height {
        let headers: Vec<_> = chains
            .iter()
            .filter_map(|chain| chain.store().header(height).unwrap())
            .collect();
        for header in &headers[1..] {
            let suite = chains[0].suite();
            assert_eq!(
                header.hash(suite),
                headers[0].hash(suite),
                "fork at height {height}"
            );
        }
    }
    for chain in chains {
        let seals = CertificateSeals::new(&chain.genesis_hash(), chain.validators(), chain.suite())
            .unwrap();
        verify_chain(chain.store(), Some(&seals), |_, _| {}).unwrap();
    }
    // The same blocks ran the same scheduled runs everywhere (the state roots in the
    // headers already say the contracts' effects agree).
    let runs: Vec<Vec<_>> = chains
        .iter()
        .map(|chain| {
            let mut runs = chain.job_runs(&ticker(chain.suite()), usize::MAX).unwrap();
            runs.retain(|run| run.height <= min_height);
            runs
        })
        .collect();
    for other in &runs[1..] {
        assert_eq!(
            other, &runs[0],
            "scheduled runs differ below height {min_height}"
        );
    }
    min_height
}

/// What the contracts did on `chain`: the ticker's count (calls and scheduled runs together)
/// and its scheduled runs that ended well.
pub fn ticks(chain: &Chain) -> (u64, usize) {
    let suite = chain.suite();
    let count = chain
        .record(&ticker(suite), &contract_key(suite).address(), None, false)
        .unwrap()
        .and_then(|record| record.fields.into_iter().find(|field| field.name == "n"))
        .map_or(0, |field| (field.value.units() / 10i128.pow(18)) as u64);
    let runs = chain
        .job_runs(&ticker(suite), usize::MAX)
        .unwrap()
        .iter()
        .filter(|run| run.error.is_none())
        .count();
    (count, runs)
}

/// The sink's balance on `chain`: transfers committed.
pub fn moved(chain: &Chain) -> u128 {
    chain.account(&SINK, None).unwrap().map_or(0, |a| a.balance)
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

/// The seeds to run: `CAIRN_SIM_SEED` alone, or `CAIRN_SIM_SEEDS` (default 8) from 0.
pub fn seeds() -> Vec<u64> {
    init_logging();
    if let Ok(seed) = std::env::var("CAIRN_SIM_SEED") {
        return vec![seed.parse().expect("CAIRN_SIM_SEED is a number")];
    }
    let count = std::env::var("CAIRN_SIM_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    (0..count).collect()
}

pub fn runner(seed: u64, timeout: Duration) -> deterministic::Runner {
    deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_start_time(UNIX_EPOCH + START)
            .with_timeout(Some(timeout)),
    )
}

/// Runs `scenario` once per seed.
pub fn for_each_seed<F, Fut>(timeout: Duration, scenario: F)
where
    F: Fn(deterministic::Context, u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for seed in seeds() {
        runner(seed, timeout).start(|context| scenario(context, seed));
    }
}

/// A simulated network of `peers`, all tracked.
pub async fn network(
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
