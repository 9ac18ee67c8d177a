//! A node of a multi-validator chain: authenticated p2p, block sync, transfer gossip, and (on
//! validators) simplex consensus, on Commonware's tokio runtime.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, bail};
use cairn_consensus::bft::application::ViewStatus;
use cairn_consensus::bft::engine::{ConsensusChannels, ValidatorParts, start_validator};
use cairn_consensus::bft::seal::CertificateSeals;
use cairn_ledger::Chain;
use cairn_mempool::Mempool;
use cairn_network::gossip::{Gossip, GossipHandle};
use cairn_network::sync::{SyncConfig, SyncState, Syncer, since_epoch};
use cairn_network::transport::{TransportConfig, start_lookup};
use cairn_network::{MAX_MESSAGE_BYTES, NetworkStats, PeerKey, PeerTracker, peer_key, peer_signer};
use cairn_primitives::{SecretKey, SignedTransaction};
use cairn_rpc::types::{NetworkView, OffenderView, SyncStatus};
use cairn_rpc::{ApiState, EngineStatus, NodeInfo};
use cairn_storage::Store;
use commonware_p2p::Receiver;
use commonware_runtime::{Runner as _, Spawner as _, Supervisor as _};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::net::TcpListener;
use tracing::info;

use crate::config::{NetworkConfig, NodeConfig};
use crate::keyfile;
use crate::runtime::{log_blocks, shutdown_signal, validator_key};

/// Peers heard from within this window count as connected.
const LIVE_WINDOW: Duration = Duration::from_secs(10);

/// What `cairn status` shows of a BFT node.
struct BftNode {
    rank: Option<usize>,
    view: Option<Arc<ViewStatus>>,
    peers: Arc<PeerTracker>,
    /// The configured peers (not this node): key, what `[network].peers` says, rank.
    configured: Vec<(PeerKey, crate::config::PeerEntry, Option<usize>)>,
    sync: Arc<SyncState>,
    stats: Arc<NetworkStats>,
    gossip: GossipHandle,
    cluster: Option<Arc<crate::cluster::ClusterHandle>>,
}

impl NodeInfo for BftNode {
    fn cluster(&self) -> Option<cairn_rpc::types::ClusterStatus> {
        self.cluster.as_ref().map(|cluster| cluster.status())
    }

    fn expand_cluster(&self) -> Option<cairn_rpc::types::ClusterStatus> {
        let cluster = self.cluster.as_ref()?;
        cluster.expand();
        Some(cluster.status())
    }

    fn read_body(&self, height: u64) -> Option<cairn_rpc::BodyFuture> {
        let cluster = self.cluster.clone()?;
        Some(Box::pin(async move { cluster.read(height).await }))
    }

    fn consensus(&self) -> EngineStatus {
        let now = since_epoch(SystemTime::now());
        EngineStatus {
            engine: "bft",
            validator_index: self.rank,
            leader_index: self.view.as_ref().and_then(|view| view.current().1),
            peers: self.peers.live(now, LIVE_WINDOW),
        }
    }

    fn sync(&self) -> SyncStatus {
        let status = self.sync.status();
        SyncStatus {
            syncing: status.syncing,
            starting: status.starting,
            current: status.current,
            highest: status.highest,
        }
    }

    fn on_admitted(&self, transactions: &[SignedTransaction]) {
        self.gossip.forward(transactions);
    }

    fn peers(&self) -> Vec<cairn_rpc::types::PeerView> {
        let now = since_epoch(SystemTime::now());
        self.configured
            .iter()
            .map(|(key, entry, rank)| {
                let heard = self.peers.last_heard(key);
                cairn_rpc::types::PeerView {
                    name: entry.name.clone(),
                    public_key: entry.public_key.to_string(),
                    address: entry.address.to_string(),
                    validator_rank: *rank,
                    last_heard_ms_ago: heard.map(|heard| {
                        u64::try_from(now.saturating_sub(heard).as_millis()).unwrap_or(u64::MAX)
                    }),
                    live: heard.is_some_and(|heard| now.saturating_sub(heard) <= LIVE_WINDOW),
                }
            })
            .collect()
    }

    fn network(&self) -> Option<NetworkView> {
        let stats = self.stats.snapshot();
        Some(NetworkView {
            dropped_messages: stats.dropped_messages,
            invalid_blocks: stats.invalid_blocks,
            consensus_faults: stats.consensus_faults,
            unsolicited_blocks: stats.unsolicited_blocks,
            forgeries: stats.forgeries,
            peers_blocked: stats.peers_blocked,
            offenders: stats
                .offenders
                .into_iter()
                .map(|(peer, record)| OffenderView {
                    peer,
                    offences: record.offences,
                    blocked: record.blocked,
                    last: record.last.to_string(),
                })
                .collect(),
        })
    }
}

/// This node's p2p identity: a validator's own key, or the configured node key.
fn p2p_key(network: &NetworkConfig, validator: Option<&SecretKey>) -> anyhow::Result<SecretKey> {
    match (validator, &network.key) {
        (Some(validator), Some(path)) => {
            let key = keyfile::read_node_key(path)?;
            if key.public_key() != validator.public_key() {
                bail!("a validator's network.key must be its validator key (or be left out)");
            }
            Ok(key)
        }
        (Some(validator), None) => Ok(validator.clone()),
        (None, Some(path)) => keyfile::read_node_key(path),
        (None, None) => bail!("a full node needs network.key (its p2p identity)"),
    }
}

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(
    config: NodeConfig,
    store: Store,
    key_override: Option<SecretKey>,
    banner: Option<crate::runtime::Banner>,
) -> anyhow::Result<()> {
    let network = config
        .network
        .clone()
        .context("a BFT chain's node needs a [network] section")?;
    let validator = match key_override {
        Some(key) => Some(key),
        None => validator_key(&config)?,
    };
    let identity = p2p_key(&network, validator.as_ref())?;
    let runtime = commonware_runtime::tokio::Runner::new(
        commonware_runtime::tokio::Config::new()
            .with_storage_directory(config.data_dir.join("consensus"))
            .with_catch_panics(false),
    );
    runtime.start(|context| async move {
        serve(context, config, store, network, validator, identity, banner).await
    })
}

async fn serve(
    context: commonware_runtime::tokio::Context,
    config: NodeConfig,
    store: Store,
    network: NetworkConfig,
    validator: Option<SecretKey>,
    identity: SecretKey,
    banner: Option<crate::runtime::Banner>,
) -> anyhow::Result<()> {
    let chain = Chain::open(store)?;
    let seals = CertificateSeals::new(&chain.genesis_hash(), chain.validators(), chain.suite())
        .map_err(|e| anyhow::anyhow!("genesis validators: {e}"))?;
    let pool = Arc::new(Mempool::new(
        config.pool.pool_config(chain.chain_id(), chain.suite()),
    ));
    // Transfers in the pool had their signatures checked on admission: blocks carrying them
    // need not check them again.
    let chain = Arc::new(
        chain
            .with_seal_verifier(Arc::new(seals))
            .with_known_signatures(pool.clone()),
    );
    let restored = crate::runtime::restore_pool(&config.data_dir, &pool, &chain)?;

    let peers = network
        .peers
        .iter()
        .map(|peer| {
            let key = peer_key(&peer.public_key)
                .with_context(|| format!("peer {} has an invalid key", peer.public_key))?;
            Ok((key, peer.address))
        })
        .collect::<anyhow::Result<Vec<(PeerKey, SocketAddr)>>>()?;
    let me =
        peer_key(&identity.public_key()).context("this node's key is not a valid ed25519 key")?;
    let peer_keys: Vec<PeerKey> = peers.iter().map(|(key, _)| key.clone()).collect();
    let configured = peers
        .iter()
        .zip(&network.peers)
        .filter(|((key, _), _)| *key != me)
        .map(|((key, _), entry)| {
            let rank = chain.validators().index_of_key(&entry.public_key);
            (key.clone(), entry.clone(), rank)
        })
        .collect();
    if !peers.iter().any(|(key, _)| *key == me) {
        bail!(
            "this node's key {} is not in [network].peers",
            identity.public_key()
        );
    }
    let transport = start_lookup(
        context.child("network"),
        TransportConfig {
            signer: peer_signer(&identity),
            namespace: [b"cairn/p2p/".as_slice(), chain.genesis_hash().as_slice()].concat(),
            listen: network.listen,
            peers,
            allow_private_ips: network.allow_private_ips,
            max_message_size: MAX_MESSAGE_BYTES,
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let channels = transport.channels;
    let stats = Arc::new(NetworkStats::default());
    let tracker = Arc::new(PeerTracker::default());

    let cluster = if config.cluster.enabled {
        Some(Arc::new(crate::cluster::start(
            chain.clone(),
            &config.cluster,
            &me,
            &peer_keys,
            channels.cluster,
        )?))
    } else {
        // Not a member: whatever members send is read and let go.
        context
            .child("drain_cluster")
            .spawn(move |_| drain(channels.cluster.1));
        None
    };

    let mut syncer = Syncer::new(
        chain.clone(),
        pool.clone(),
        channels.sync,
        SyncConfig::default(),
        (stats.clone(), transport.oracle.clone()),
        tracker.clone(),
    );
    if let Some(cluster) = &cluster {
        // Peers that sync from genesis get the old blocks read back through the cluster.
        syncer = syncer.with_archive(cluster.clone());
    }
    let sync = syncer.state();
    syncer.start(context.child("sync"));
    let (gossip, gossip_handle) = Gossip::new(
        chain.clone(),
        pool.clone(),
        channels.transactions,
        (stats.clone(), transport.oracle.clone()),
        tracker.clone(),
    );
    gossip.start(context.child("gossip"));

    let (rank, view) = match &validator {
        Some(key) => {
            let running = start_validator(
                context.child("validator"),
                ValidatorParts {
                    chain: chain.clone(),
                    pool: pool.clone(),
                    stats: stats.clone(),
                    peers: tracker.clone(),
                },
                key,
                config.consensus.bft(),
                transport.oracle.clone(),
                ConsensusChannels {
                    votes: channels.votes,
                    certificates: channels.certificates,
                    resolver: channels.resolver,
                    proposals: channels.proposals,
                },
            )?;
            (Some(running.rank), Some(running.view))
        }
        None => {
            // A full node hears consensus traffic it has no part in: read it and let it go.
            for (label, receiver) in [
                ("drain_votes", channels.votes.1),
                ("drain_certificates", channels.certificates.1),
                ("drain_resolver", channels.resolver.1),
                ("drain_proposals", channels.proposals.1),
            ] {
                context.child(label).spawn(move |_| drain(receiver));
            }
            (None, None)
        }
    };

    let listener = TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.http.listen))?;
    let local = listener.local_addr()?;
    let node = BftNode {
        rank,
        view,
        peers: tracker,
        configured,
        sync: sync.clone(),
        stats,
        gossip: gossip_handle,
        cluster,
    };
    // Peers learn the transfers this node journaled at its last stop.
    node.on_admitted(&restored);
    let api = ApiState {
        chain: chain.clone(),
        pool: pool.clone(),
        node: Arc::new(node),
        admin: Some(crate::commands::admin::admin_state(
            &config.data_dir,
            &config.http,
            local.port(),
        )?),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(cairn_rpc::serve(listener, api, async move {
        let _ = stopped.await;
    }));
    tokio::spawn(log_blocks(chain.clone()));
    tokio::spawn(show_sync_progress(sync));

    let head = chain.head();
    info!(
        chain_id = chain.chain_id(),
        height = head.height,
        validator = ?rank,
        p2p = %network.listen,
        http = %local,
        "node started"
    );
    crate::runtime::journal_restored(&config.data_dir);
    if let Some(banner) = banner {
        println!("{}", banner(&chain, local));
    }
    println!("Listening on http://{local}");
    shutdown_signal().await;
    info!("shutting down");
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    // The API admits nothing more; blocks may still commit until the process exits, and a
    // journaled transfer they include is refused as stale on the next start.
    crate::runtime::journal_pool(&config.data_dir, &pool);
    Ok(())
}

async fn drain<R: Receiver>(mut receiver: R) {
    while receiver.recv().await.is_ok() {}
}

/// Shows a progress bar on stderr while the node catches up with its peers.
async fn show_sync_progress(sync: Arc<SyncState>) {
    let mut bar: Option<ProgressBar> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let status = sync.status();
        match (&bar, status.syncing) {
            (None, true) => {
                let new = ProgressBar::new(status.highest.saturating_sub(status.starting))
                    .with_style(
                        ProgressStyle::with_template(
                            "{spinner} syncing [{bar:40}] {pos}/{len} blocks {per_sec} eta {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                bar = Some(new);
            }
            (Some(done), false) => {
                done.finish_and_clear();
                bar = None;
            }
            _ => {}
        }
        if let Some(bar) = &bar {
            bar.set_length(status.highest.saturating_sub(status.starting));
            bar.set_position(status.current.saturating_sub(status.starting));
        }
    }
}
