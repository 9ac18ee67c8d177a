//! Setting up the p2p network: authenticated, encrypted connections to a fixed set of peers,
//! and Cairn's channels on top.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use commonware_cryptography::{ChaCha20Poly1305, ed25519};
use commonware_p2p::authenticated::lookup;
use commonware_p2p::{Address, AddressableManager, simulated};
use commonware_runtime::{Clock, Handle, Metrics, Network as RNetwork, Quota, Resolver, Spawner};
use commonware_stream::cups::{self, Cups};
use commonware_stream::sake::{self, Sake};
use commonware_utils::ordered::Map;
use rand_core::CryptoRng;

use crate::{PeerKey, channels};

/// Messages a peer may send per second on each channel, and the burst it may save up.
fn quota(channel: u64) -> Quota {
    let per_second = match channel {
        channels::VOTES | channels::CERTIFICATES => 2_048,
        channels::RESOLVER => 512,
        // Heartbeats, acknowledgements and share traffic of a cluster of up to 256 members.
        channels::CLUSTER => 4_096,
        _ => 512,
    };
    Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN))
}

/// Every channel's sender and receiver.
pub struct Channels<S, R> {
    /// Consensus votes.
    pub votes: (S, R),
    /// Consensus certificates.
    pub certificates: (S, R),
    /// Consensus certificate fetching.
    pub resolver: (S, R),
    /// Proposed blocks.
    pub proposals: (S, R),
    /// Transfer gossip.
    pub transactions: (S, R),
    /// Head announcements and block sync.
    pub sync: (S, R),
    /// Cluster storage.
    pub cluster: (S, R),
}

/// Where this node listens and who its peers are.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// This node's identity.
    pub signer: ed25519::PrivateKey,
    /// Domain of every handshake and message: the chain's identity, so nodes of different
    /// chains never talk even if misconfigured.
    pub namespace: Vec<u8>,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Every peer allowed to connect (validators and full nodes), this node included.
    pub peers: Vec<(PeerKey, SocketAddr)>,
    /// Accept peers on private addresses (consortium networks, loopback testnets).
    pub allow_private_ips: bool,
    /// Largest message this node sends or accepts.
    pub max_message_size: u32,
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The same key is listed twice.
    #[error("peer list: {0}")]
    Peers(String),
}

/// The handshake: ed25519-authenticated (SAKE), then ChaCha20-Poly1305-encrypted streams.
type Upgrader = Cups<Sake<ed25519::PrivateKey>, ChaCha20Poly1305>;

/// Sender of the production network.
pub type LookupSender<E> = lookup::Sender<PeerKey, E>;
/// Receiver of the production network.
pub type LookupReceiver = lookup::Receiver<PeerKey>;

/// The running production network.
pub struct Transport<E: Clock> {
    /// Every channel.
    pub channels: Channels<LookupSender<E>, LookupReceiver>,
    /// Blocks misbehaving peers (given to consensus).
    pub oracle: lookup::Oracle<PeerKey>,
    /// The network's task.
    pub handle: Handle<()>,
}

/// Starts the production network and registers every channel.
pub fn start_lookup<E>(context: E, config: TransportConfig) -> Result<Transport<E>, TransportError>
where
    E: Spawner + Clock + CryptoRng + RNetwork + Resolver + Metrics,
{
    let peers: Map<PeerKey, Address> = config
        .peers
        .iter()
        .map(|(key, address)| (key.clone(), Address::from(*address)))
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| TransportError::Peers("a peer key is listed twice".into()))?;
    let upgrader = Cups::<_, ChaCha20Poly1305>::new(
        Sake {
            signer: config.signer.clone(),
            synchrony_bound: Duration::from_secs(5),
            max_handshake_age: Duration::from_secs(10),
            version: sake::Version::V1,
        },
        cups::Version::V1,
    );
    let max_peers = NonZeroUsize::new(config.peers.len().max(1)).unwrap_or(NonZeroUsize::MIN);
    let mut p2p = lookup::Config::recommended(
        upgrader,
        &config.namespace,
        config.listen,
        max_peers,
        config.max_message_size,
        NonZeroUsize::new(4_096).unwrap_or(NonZeroUsize::MIN),
    );
    p2p.allow_private_ips = config.allow_private_ips;
    if config.allow_private_ips {
        // On a private network many peers may share one address (a loopback testnet, a NAT):
        // one handshake per address every five seconds would keep them apart for minutes.
        p2p.allowed_handshake_rate_per_ip =
            Quota::per_second(NonZeroU32::new(16).unwrap_or(NonZeroU32::MIN));
        p2p.allowed_handshake_rate_per_subnet =
            Quota::per_second(NonZeroU32::new(128).unwrap_or(NonZeroU32::MIN));
    }
    // Consortium peers are known and few: reconnect fast after a restart.
    p2p.peer_connection_cooldown = Duration::from_secs(1);
    p2p.dial_frequency = Duration::from_millis(500);
    p2p.ping_frequency = Duration::from_secs(5);
    let (mut network, mut oracle) = lookup::Network::<E, Upgrader>::new(context, p2p);
    let _ = oracle.track(0, peers);
    let mut register = |channel| network.register(channel, quota(channel));
    let channels = Channels {
        votes: register(channels::VOTES),
        certificates: register(channels::CERTIFICATES),
        resolver: register(channels::RESOLVER),
        proposals: register(channels::PROPOSALS),
        transactions: register(channels::TRANSACTIONS),
        sync: register(channels::SYNC),
        cluster: register(channels::CLUSTER),
    };
    let handle = network.start();
    Ok(Transport {
        channels,
        oracle,
        handle,
    })
}

/// Sender of the simulated network (deterministic tests).
pub type SimulatedSender<E> = simulated::Sender<PeerKey, E>;
/// Receiver of the simulated network (deterministic tests).
pub type SimulatedReceiver = simulated::Receiver<PeerKey>;

/// Registers every channel for one peer on a simulated network (deterministic tests).
pub async fn register_simulated<E: Clock>(
    control: &simulated::Control<PeerKey, E>,
) -> Result<Channels<SimulatedSender<E>, SimulatedReceiver>, simulated::Error> {
    Ok(Channels {
        votes: control
            .register(channels::VOTES, quota(channels::VOTES))
            .await?,
        certificates: control
            .register(channels::CERTIFICATES, quota(channels::CERTIFICATES))
            .await?,
        resolver: control
            .register(channels::RESOLVER, quota(channels::RESOLVER))
            .await?,
        proposals: control
            .register(channels::PROPOSALS, quota(channels::PROPOSALS))
            .await?,
        transactions: control
            .register(channels::TRANSACTIONS, quota(channels::TRANSACTIONS))
            .await?,
        sync: control
            .register(channels::SYNC, quota(channels::SYNC))
            .await?,
        cluster: control
            .register(channels::CLUSTER, quota(channels::CLUSTER))
            .await?,
    })
}
