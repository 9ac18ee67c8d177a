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
        .unwrap_or(8);
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

/// Faults that heal: lossy links throughout, one node partitioned away, a split with no
/// quorum on either side, a crash and restart (the leader, some seeds). Afterwards every node
/// catches up and keeps committing, and all chains agree.
#[test]
fn delay_loss_partitions_crashes_and_restarts_heal() {
    for seed in seeds() {
        runner(seed, Duration::from_secs(300)).start(|mut context| async move {
            let disks = disks();
            let peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
            let oracle = network(&context, &peers).await;
            let lossy = Link {
                latency: Duration::from_millis(context.random_range(10..80)),
                jitter: Duration::from_millis(context.random_range(5..30)),
                success_rate: (context.random_range(90..99) as f64 / 100.0).try_into().unwrap(),
            };
            link_all(&oracle, &peers, &lossy, |_, _| true).await;
            let mut nodes = Vec::new();
            for (index, disk) in disks.iter().enumerate() {
                nodes.push(Some(start_node(&context, &oracle, disk, index).await));
            }
            let sink = Address::repeat_byte(0x5e);

            // Load in the background of every phase.
            async fn load(context: &mut deterministic::Context, nodes: &[Option<Node>], sink: Address, duration: Duration) {
                let started = context.current();
                while context.current().duration_since(started).unwrap() < duration {
                    let live: Vec<&Node> = nodes.iter().flatten().collect();
                    let index = context.random_range(0..live.len() as u64) as usize;
                    submit_round(live[index], sink);
                    context.sleep(Duration::from_millis(100)).await;
                }
            }

            load(&mut context, &nodes, sink, Duration::from_secs(3)).await;

            // One node cut off while the other three (a quorum) go on.
            let isolated = context.random_range(0..VALIDATORS as u64) as usize;
            link_all(&oracle, &peers, &lossy, |a, b| a != isolated && b != isolated).await;
            let away = Duration::from_millis(context.random_range(3_000..5_000));
            load(&mut context, &nodes, sink, away).await;
            link_all(&oracle, &peers, &lossy, |_, _| true).await;
            load(&mut context, &nodes, sink, Duration::from_secs(2)).await;

            // A 2-2 split: no side can finalize anything until it heals.
            link_all(&oracle, &peers, &lossy, |a, b| (a < 2) == (b < 2)).await;
            load(&mut context, &nodes, sink, Duration::from_secs(2)).await;
            link_all(&oracle, &peers, &lossy, |_, _| true).await;
            load(&mut context, &nodes, sink, Duration::from_secs(2)).await;

            // A crash (SIGKILL: no shutdown path) and a restart from the same disk.
            let crashed = context.random_range(0..VALIDATORS as u64) as usize;
            let before = nodes[crashed].as_ref().unwrap().chain.head().height;
            nodes[crashed].take().unwrap().task.abort();
            let down = Duration::from_millis(context.random_range(2_000..4_000));
            load(&mut context, &nodes, sink, down).await;
            nodes[crashed] = Some(start_node(&context, &oracle, &disks[crashed], crashed).await);
            let restarted = nodes[crashed].as_ref().unwrap().chain.head().height;
            assert!(restarted >= before, "seed {seed}: restart lost committed blocks");

            // Heal everything and check that every node goes on committing.
            let clean = Link {
                latency: Duration::from_millis(20),
                jitter: Duration::from_millis(5),
                success_rate: 1.0.try_into().unwrap(),
            };
            link_all(&oracle, &peers, &clean, |_, _| true).await;
            let healed: Vec<u64> = nodes.iter().flatten().map(|n| n.chain.head().height).collect();
            let target = healed.iter().copied().max().unwrap() + 5;
            load(&mut context, &nodes, sink, Duration::from_secs(8)).await;
            context.sleep(Duration::from_secs(2)).await;
            let chains: Vec<_> = nodes.iter().flatten().map(|n| n.chain.clone()).collect();
            for (index, chain) in chains.iter().enumerate() {
                assert!(
                    chain.head().height >= target,
                    "seed {seed}: node {index} at {} did not reach {target} after healing (isolated {isolated}, crashed {crashed})",
                    chain.head().height
                );
            }
            let height = assert_safety(&chains);
            let moved = chains[0].account(&sink, None).unwrap().map_or(0, |a| a.balance);
            assert!(moved > 0);
            for node in nodes.iter().flatten() {
                node.task.abort();
            }
            println!("seed {seed}: height {height}, {moved} transfers; isolated {isolated}, crashed {crashed}");
        });
    }
}

mod byzantine {
    //! A validator that equivocates: as leader it proposes two different valid blocks for the
    //! same view, sending one (with its notarize vote) to a victim and the other to everyone
    //! else. Built from Cairn's own application and engine, with the relay swapped.

    use std::collections::HashMap;
    use std::sync::Arc;

    use cairn_consensus::bft::application::Mailbox;
    use cairn_consensus::bft::{Digest, Scheme, block_hash, digest, namespace, participants};
    use cairn_ledger::Chain;
    use cairn_network::wire::ProposalMessage;
    use cairn_network::{PeerKey, peer_signer};
    use cairn_primitives::SecretKey;
    use commonware_actor::Feedback;
    use commonware_codec::Encode;
    use commonware_consensus::simplex::Plan;
    use commonware_consensus::simplex::types::{Activity, Context, Notarize, Proposal, Vote};
    use commonware_consensus::types::{Round, View};
    use commonware_consensus::{Automaton, CertifiableAutomaton, Relay, Reporter};
    use commonware_p2p::{Recipients, Sender};
    use commonware_utils::channel::oneshot;
    use parking_lot::Mutex;

    #[derive(Clone)]
    pub struct Equivocator<S> {
        pub inner: Mailbox,
        pub chain: Arc<Chain>,
        pub scheme: Scheme,
        pub parents: Arc<Mutex<HashMap<View, View>>>,
        pub votes: S,
        pub proposals: S,
        pub victim: PeerKey,
        pub others: Vec<PeerKey>,
    }

    impl<S: Sender<PublicKey = PeerKey>> Equivocator<S> {
        pub fn new(
            inner: Mailbox,
            chain: Arc<Chain>,
            key: &SecretKey,
            votes: S,
            proposals: S,
            victim: PeerKey,
            others: Vec<PeerKey>,
        ) -> Self {
            let scheme = Scheme::signer(
                &namespace(&chain.genesis_hash()),
                participants(chain.validators()).unwrap(),
                peer_signer(key),
            )
            .unwrap();
            Self {
                inner,
                chain,
                scheme,
                parents: Arc::default(),
                votes,
                proposals,
                victim,
                others,
            }
        }
    }

    impl<S: Sender<PublicKey = PeerKey>> Automaton for Equivocator<S> {
        type Context = Context<Digest, PeerKey>;
        type Digest = Digest;
        async fn propose(&mut self, context: Self::Context) -> oneshot::Receiver<Digest> {
            self.parents
                .lock()
                .insert(context.round.view(), context.parent.0);
            self.inner.propose(context).await
        }
        async fn verify(
            &mut self,
            context: Self::Context,
            payload: Digest,
        ) -> oneshot::Receiver<bool> {
            self.inner.verify(context, payload).await
        }
    }

    impl<S: Sender<PublicKey = PeerKey>> CertifiableAutomaton for Equivocator<S> {
        async fn certify(&mut self, round: Round, payload: Digest) -> oneshot::Receiver<bool> {
            self.inner.certify(round, payload).await
        }
    }

    impl<S: Sender<PublicKey = PeerKey>> Reporter for Equivocator<S> {
        type Activity = Activity<Scheme, Digest>;
        fn report(&mut self, activity: Self::Activity) -> Feedback {
            self.inner.report(activity)
        }
    }

    impl<S: Sender<PublicKey = PeerKey>> Relay for Equivocator<S> {
        type Digest = Digest;
        type PublicKey = PeerKey;
        type Plan = Plan<PeerKey>;

        fn broadcast(&mut self, payload: Digest, plan: Plan<PeerKey>) -> Feedback {
            let Plan::Propose { round } = plan else {
                return self.inner.broadcast(payload, plan);
            };
            let Some(honest) = self.chain.pending_block(&block_hash(&payload)) else {
                return self.inner.broadcast(payload, plan);
            };
            let Some(parent_view) = self.parents.lock().get(&round.view()).copied() else {
                return self.inner.broadcast(payload, plan);
            };
            let header = &honest.block.header;
            // The twin: same parent, same transfers, one millisecond later: valid, different.
            let twin = self
                .chain
                .propose_on(
                    &header.parent_hash,
                    honest.block.transactions.clone(),
                    header.timestamp_ms + 1,
                    header.proposer,
                    header.extra.clone(),
                )
                .unwrap();
            self.proposals.send(
                Recipients::Some(self.others.clone()),
                ProposalMessage::Block(Box::new(honest.block.clone())).encode(),
                true,
            );
            self.proposals.send(
                Recipients::One(self.victim.clone()),
                ProposalMessage::Block(Box::new(twin.block.clone())).encode(),
                true,
            );
            let proposal = Proposal::new(round, parent_view, digest(&twin.hash()));
            let vote = Notarize::<Scheme, Digest>::sign(&self.scheme, proposal).unwrap();
            self.votes.send(
                Recipients::One(self.victim.clone()),
                Vote::<Scheme, Digest>::Notarize(vote).encode(),
                true,
            );
            Feedback::Ok
        }
    }
}

/// Validator 0 (the first leader, by rank) equivocates every time it proposes; the three
/// honest validators stay safe and live, and record the evidence.
#[test]
fn an_equivocating_leader_cannot_split_the_honest_validators() {
    use cairn_consensus::bft::application::Application;
    use cairn_consensus::bft::engine::{Roles, start_engine};
    use cairn_consensus::bft::ranked_keys;

    for seed in seeds() {
        runner(seed, Duration::from_secs(300)).start(|mut context| async move {
            let disks = disks();
            let peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
            let oracle = network(&context, &peers).await;
            let link = Link {
                latency: Duration::from_millis(context.random_range(10..50)),
                jitter: Duration::from_millis(context.random_range(1..20)),
                success_rate: 0.98.try_into().unwrap(),
            };
            link_all(&oracle, &peers, &link, |_, _| true).await;

            // The Byzantine validator: Cairn's application and engine with the relay swapped.
            let byzantine = &disks[0];
            let chain = Chain::open(byzantine.store.clone()).unwrap();
            let seals = CertificateSeals::new(&chain.genesis_hash(), chain.validators()).unwrap();
            let chain = Arc::new(chain.with_seal_verifier(Arc::new(seals)));
            let pool = Arc::new(Mempool::new(PoolConfig::new(DEV_CHAIN_ID)));
            let control = oracle.control(byzantine.peer.clone());
            let channels = register_simulated(&control).await.unwrap();
            let (stats, tracker) = (
                Arc::new(NetworkStats::default()),
                Arc::new(PeerTracker::default()),
            );
            let config = bft_config(0);
            let (application, mailbox, _) = Application::new(
                chain.clone(),
                pool.clone(),
                Some(byzantine.peer.clone()),
                ranked_keys(chain.validators()),
                config.application.clone(),
                (channels.proposals.0.clone(), channels.proposals.1),
                stats.clone(),
                tracker.clone(),
            );
            let victim = peers[1 + context.random_range(0..3) as usize].clone();
            let others: Vec<_> = peers[1..]
                .iter()
                .filter(|p| **p != victim)
                .cloned()
                .collect();
            let equivocator = byzantine::Equivocator::new(
                mailbox.clone(),
                chain.clone(),
                &byzantine.key,
                channels.votes.0.clone(),
                channels.proposals.0,
                victim,
                others,
            );
            let syncer = Syncer::new(
                chain.clone(),
                pool.clone(),
                channels.sync,
                SyncConfig::default(),
                stats.clone(),
                tracker.clone(),
            );
            let key = byzantine.key.clone();
            let engine_chain = chain.clone();
            context.child("byzantine").spawn(move |context| async move {
                application.start(context.child("application"));
                syncer.start(context.child("sync"));
                start_engine(
                    context.child("simplex"),
                    &engine_chain,
                    &key,
                    &config,
                    control,
                    Roles {
                        automaton: equivocator.clone(),
                        relay: equivocator,
                        reporter: mailbox,
                    },
                    (channels.votes, channels.certificates, channels.resolver),
                )
                .unwrap();
                std::future::pending::<()>().await;
            });

            let mut honest = Vec::new();
            for (index, disk) in disks.iter().enumerate().skip(1) {
                honest.push(start_node(&context, &oracle, disk, index).await);
            }
            let sink = Address::repeat_byte(0x5e);
            let started = context.current();
            while context.current().duration_since(started).unwrap() < Duration::from_secs(15) {
                let index = context.random_range(0..honest.len() as u64) as usize;
                submit_round(&honest[index], sink);
                context.sleep(Duration::from_millis(100)).await;
            }
            context.sleep(Duration::from_secs(3)).await;
            let chains: Vec<_> = honest.iter().map(|n| n.chain.clone()).collect();
            let height = assert_safety(&chains);
            assert!(
                height >= 10,
                "seed {seed}: only {height} blocks with an equivocator"
            );
            let faults: u64 = honest
                .iter()
                .map(|n| n.stats.snapshot().consensus_faults)
                .sum();
            assert!(faults > 0, "seed {seed}: nobody recorded the equivocation");
            // The Byzantine validator's own chain is a prefix-consistent copy too.
            let byzantine_height = chain.head().height.min(height);
            for h in 1..=byzantine_height {
                assert_eq!(
                    chain.store().header(h).unwrap(),
                    chains[0].store().header(h).unwrap()
                );
            }
            for node in &honest {
                node.task.abort();
            }
            println!("seed {seed}: height {height}, {faults} fault reports");
        });
    }
}

/// A full node joins late with an empty chain: it catches up by sync, then follows the head,
/// and transfers submitted to it reach the validators and commit.
#[test]
fn a_late_full_node_catches_up_and_follows() {
    for seed in seeds() {
        runner(seed, Duration::from_secs(300)).start(|mut context| async move {
            let disks = disks();
            let follower_key = SecretKey::from_bytes([0xf0; 32]);
            let follower_peer = peer_key(&follower_key.public_key()).unwrap();
            let mut peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
            peers.push(follower_peer.clone());
            let oracle = network(&context, &peers).await;
            let link = Link {
                latency: Duration::from_millis(30),
                jitter: Duration::from_millis(10),
                success_rate: 0.97.try_into().unwrap(),
            };
            link_all(&oracle, &peers, &link, |_, _| true).await;
            let mut validators = Vec::new();
            for (index, disk) in disks.iter().enumerate() {
                validators.push(start_node(&context, &oracle, disk, index).await);
            }
            let sink = Address::repeat_byte(0x5e);
            for _ in 0..60 {
                let index = context.random_range(0..VALIDATORS as u64) as usize;
                submit_round(&validators[index], sink);
                context.sleep(Duration::from_millis(100)).await;
            }
            let behind_by = validators[0].chain.head().height;
            assert!(behind_by >= 20, "seed {seed}: validators made only {behind_by} blocks");

            // The full node: chain, pool, sync and gossip; no consensus.
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path().join("chain.redb")).unwrap();
            Chain::initialize(&store, &genesis()).unwrap();
            let chain = Chain::open(store).unwrap();
            let seals = CertificateSeals::new(&chain.genesis_hash(), chain.validators()).unwrap();
            let chain = Arc::new(chain.with_seal_verifier(Arc::new(seals)));
            let pool = Arc::new(Mempool::new(PoolConfig::new(DEV_CHAIN_ID)));
            let control = oracle.control(follower_peer);
            let channels = register_simulated(&control).await.unwrap();
            let (stats, tracker) = (Arc::new(NetworkStats::default()), Arc::new(PeerTracker::default()));
            let syncer = Syncer::new(chain.clone(), pool.clone(), channels.sync, SyncConfig::default(), stats.clone(), tracker.clone());
            let sync_state = syncer.state();
            let (gossip, gossip_handle) = Gossip::new(chain.clone(), pool.clone(), channels.transactions, stats.clone(), tracker);
            let task = context.child("full_node").spawn(move |context| async move {
                syncer.start(context.child("sync"));
                gossip.start(context.child("gossip"));
                std::future::pending::<()>().await;
            });
            let follower = Node { task, chain, pool, gossip: gossip_handle, stats };

            // It reports syncing, then catches up.
            let mut saw_syncing = false;
            for _ in 0..200 {
                context.sleep(Duration::from_millis(50)).await;
                let status = sync_state.status();
                saw_syncing |= status.syncing && status.highest >= behind_by;
                if !status.syncing && follower.chain.head().height >= behind_by {
                    break;
                }
            }
            assert!(saw_syncing, "seed {seed}: the full node never reported syncing");
            assert!(follower.chain.head().height >= behind_by, "seed {seed}: the full node did not catch up");

            // Transfers submitted to the full node are forwarded and committed.
            let before = validators[0].chain.account(&sink, None).unwrap().map_or(0, |a| a.balance);
            for _ in 0..20 {
                submit_round(&follower, sink);
                context.sleep(Duration::from_millis(100)).await;
            }
            context.sleep(Duration::from_secs(3)).await;
            let after = validators[0].chain.account(&sink, None).unwrap().map_or(0, |a| a.balance);
            assert!(after >= before + 150, "seed {seed}: transfers through the full node were not committed ({before} -> {after})");

            let mut chains: Vec<_> = validators.iter().map(|n| n.chain.clone()).collect();
            chains.push(follower.chain.clone());
            let height = assert_safety(&chains);
            let lag = validators[0].chain.head().height - follower.chain.head().height.min(validators[0].chain.head().height);
            // Validators commit several blocks a second; the full node trails by what arrived
            // since the last announcement, not by the distance it caught up.
            assert!(lag <= 10, "seed {seed}: the full node stopped following ({lag} behind)");
            println!("seed {seed}: full node caught up {behind_by} blocks, following at {height}");
        });
    }
}
