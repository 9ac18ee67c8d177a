//! Node configuration (`config.toml`).
//!
//! Relative paths in the file are relative to the file's own directory, so a node directory
//! can be moved as a whole.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_consensus::solo::SoloConfig;
use cairn_ledger::MAX_BLOCK_TRANSACTIONS;
use cairn_mempool::PoolConfig;
use cairn_primitives::ConsensusEngine;
use serde::{Deserialize, Serialize};

/// Longest interval or timeout a configuration may set: an hour.
const MAX_INTERVAL_MS: u64 = 3_600_000;
/// Most transfers a pool may be configured to hold.
const MAX_POOL_TRANSACTIONS: u64 = 10_000_000;

fn check_range(name: &str, value: u64, range: std::ops::RangeInclusive<u64>) -> anyhow::Result<()> {
    if range.contains(&value) {
        Ok(())
    } else {
        bail!(
            "{name} = {value} is out of range ({} to {})",
            range.start(),
            range.end()
        )
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the chain database lives.
    pub data_dir: PathBuf,
    /// The chain's genesis file: if the data directory holds no chain yet, the node creates it
    /// from this file on its first start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis: Option<PathBuf>,
    /// HTTP API settings.
    #[serde(default)]
    pub http: HttpConfig,
    /// Consensus settings.
    #[serde(default)]
    pub consensus: ConsensusConfig,
    /// Transaction pool limits.
    #[serde(default)]
    pub pool: PoolSettings,
    /// Peer-to-peer networking (multi-validator chains).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkConfig>,
    /// Cluster storage of old blocks (needs `[network]`).
    #[serde(default)]
    pub cluster: ClusterSettings,
}

/// `[cluster]`: storage of old blocks shared with the other members of a cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSettings {
    /// Whether this node takes part (off by default: it then keeps every block).
    pub enabled: bool,
    /// `copies:P`, `segment:P` or `rs:K+M`.
    pub placement: String,
    /// Blocks every node keeps whole; older bodies and receipts live in the cluster.
    pub retain_blocks: u64,
    /// Heartbeat period.
    pub heartbeat_ms: u64,
    /// `all` (heartbeats to every member) or `ring` (to the neighbours).
    pub heartbeat: String,
    /// Silence after which a member is offline.
    pub offline_after_ms: u64,
    /// Time offline after which a member's slot is vacated and its shares rebuilt.
    pub repair_after_ms: u64,
    /// Connections a node needs before it invites others (m).
    pub invite_min_peers: usize,
    /// Members a cluster needs to form (n).
    pub form_min_members: usize,
    /// How long a cluster id lives.
    pub id_lifetime_s: u64,
    /// Bytes of old blocks read back through the cluster kept in memory (a least recently
    /// used cache), in MiB; 0 keeps none.
    pub read_cache_mb: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            placement: "rs:4+2".into(),
            retain_blocks: 1_000,
            heartbeat_ms: 1_000,
            heartbeat: "all".into(),
            offline_after_ms: 5_000,
            repair_after_ms: 30_000,
            invite_min_peers: 3,
            form_min_members: 4,
            id_lifetime_s: 86_400,
            read_cache_mb: 64,
        }
    }
}

impl ClusterSettings {
    /// The placement rule.
    pub fn placement(&self) -> anyhow::Result<cairn_cluster::Placement> {
        self.placement
            .parse()
            .map_err(|e| anyhow::anyhow!("cluster.placement: {e}"))
    }

    /// The membership parameters.
    pub fn membership(&self) -> cairn_cluster::membership::MembershipConfig {
        cairn_cluster::membership::MembershipConfig {
            invite_min_peers: self.invite_min_peers,
            form_min_members: self.form_min_members,
            invite_window_ms: self.heartbeat_ms.max(200),
            id_lifetime_ms: self.id_lifetime_s.saturating_mul(1_000),
            heartbeat_ms: self.heartbeat_ms,
            offline_after_ms: self.offline_after_ms,
            repair_after_ms: self.repair_after_ms,
            heartbeat: if self.heartbeat == "ring" {
                cairn_cluster::membership::HeartbeatMode::Ring
            } else {
                cairn_cluster::membership::HeartbeatMode::All
            },
            auto_expand: true,
        }
    }

    fn validate(&self) -> anyhow::Result<()> {
        let placement = self.placement()?;
        check_range("cluster.retain_blocks", self.retain_blocks, 1..=100_000_000)?;
        check_range(
            "cluster.heartbeat_ms",
            self.heartbeat_ms,
            10..=MAX_INTERVAL_MS,
        )?;
        check_range(
            "cluster.offline_after_ms",
            self.offline_after_ms,
            self.heartbeat_ms.saturating_mul(2)..=MAX_INTERVAL_MS,
        )?;
        check_range(
            "cluster.repair_after_ms",
            self.repair_after_ms,
            0..=MAX_INTERVAL_MS,
        )?;
        check_range("cluster.id_lifetime_s", self.id_lifetime_s, 10..=31_536_000)?;
        check_range("cluster.read_cache_mb", self.read_cache_mb, 0..=65_536)?;
        check_range(
            "cluster.form_min_members",
            self.form_min_members as u64,
            u64::from(placement.shares())..=cairn_cluster::membership::MAX_SLOTS as u64,
        )?;
        check_range(
            "cluster.invite_min_peers",
            self.invite_min_peers as u64,
            1..=cairn_cluster::membership::MAX_SLOTS as u64,
        )?;
        if self.heartbeat != "all" && self.heartbeat != "ring" {
            bail!(
                "cluster.heartbeat = {:?}: give \"all\" or \"ring\"",
                self.heartbeat
            );
        }
        Ok(())
    }
}

/// `[network]`: this node's p2p identity and address, and every peer of the chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// This node's p2p key file; a validator uses its validator key (and may omit this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Address to listen on for peers.
    pub listen: SocketAddr,
    /// Accept peers on private addresses (a consortium's own network, loopback testnets).
    #[serde(default = "default_true")]
    pub allow_private_ips: bool,
    /// Every node allowed to connect: the validators and the full nodes, this node included.
    pub peers: Vec<PeerEntry>,
}

fn default_true() -> bool {
    true
}

/// One node of the chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// Label for people (the operating organisation).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The node's p2p public key (a validator's genesis key).
    pub public_key: cairn_primitives::PublicKey,
    /// Where it listens for peers.
    pub address: SocketAddr,
}

/// `[http]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Whether the admin API (`/v1/admin`) serves callers on other machines; by default it
    /// serves loopback callers only (see docs/CONSOLE.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub admin_remote: bool,
    /// An admin session unused this long ends (seconds, 10 to 86400; default 1800).
    #[serde(default = "default_session_idle_s")]
    pub admin_session_idle_s: u64,
    /// An admin session ends this long after its login, used or not (seconds, 60 to 604800;
    /// default 43200).
    #[serde(default = "default_session_max_s")]
    pub admin_session_max_s: u64,
    /// Reverse proxies in front of the admin API (their addresses): the caller they name last
    /// in `X-Forwarded-For` is the one the loopback rule and the failed-login limit see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admin_trusted_proxies: Vec<std::net::IpAddr>,
}

fn default_session_idle_s() -> u64 {
    1_800
}

fn default_session_max_s() -> u64 {
    43_200
}

impl HttpConfig {
    /// The admin sessions' expiry.
    pub fn session_policy(&self) -> cairn_access::SessionPolicy {
        cairn_access::SessionPolicy {
            idle_ms: self.admin_session_idle_s.saturating_mul(1_000),
            absolute_ms: self.admin_session_max_s.saturating_mul(1_000),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
            admin_remote: false,
            admin_session_idle_s: default_session_idle_s(),
            admin_session_max_s: default_session_max_s(),
            admin_trusted_proxies: Vec::new(),
        }
    }
}

/// `[consensus]`. Every field may be left out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusConfig {
    /// The engine (`solo` or `bft`). The chain's genesis decides it; left out, the node runs
    /// what genesis names, and given, it must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<ConsensusEngine>,
    /// This node's validator key file (absent for a node that does not validate).
    pub validator_key: Option<PathBuf>,
    /// Seal when this many transfers are executable.
    pub min_block_transactions: usize,
    /// Seal at least this often, in milliseconds.
    pub block_interval_ms: u64,
    /// Most transfers per block.
    pub max_block_transactions: usize,
    /// Seal empty blocks at each interval (solo; BFT always proposes, so it always does).
    pub empty_blocks: bool,
    /// BFT: how long to wait for the leader's proposal before moving to the next in rank.
    pub leader_timeout_ms: u64,
}

fn default_leader_timeout_ms() -> u64 {
    1_000
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        let solo = SoloConfig::default();
        Self {
            engine: None,
            validator_key: None,
            min_block_transactions: solo.min_block_transactions,
            block_interval_ms: solo.block_interval.as_millis() as u64,
            max_block_transactions: solo.max_block_transactions,
            empty_blocks: solo.empty_blocks,
            leader_timeout_ms: default_leader_timeout_ms(),
        }
    }
}

impl ConsensusConfig {
    /// The solo engine's settings.
    pub fn solo(&self) -> SoloConfig {
        SoloConfig {
            min_block_transactions: self.min_block_transactions,
            block_interval: Duration::from_millis(self.block_interval_ms),
            max_block_transactions: self.max_block_transactions,
            empty_blocks: self.empty_blocks,
        }
    }

    /// The BFT engine's settings.
    pub fn bft(&self) -> cairn_consensus::bft::engine::BftConfig {
        use cairn_consensus::bft::application::ApplicationConfig;
        use cairn_consensus::bft::engine::BftConfig;
        let leader_timeout = Duration::from_millis(self.leader_timeout_ms);
        BftConfig {
            leader_timeout,
            certification_timeout: leader_timeout * 2,
            timeout_retry: leader_timeout,
            stall_timeout: (leader_timeout * 10).max(Duration::from_secs(5)),
            skip_timeout: leader_timeout * 5,
            application: ApplicationConfig {
                min_block_transactions: self.min_block_transactions.max(1),
                block_interval: Duration::from_millis(self.block_interval_ms),
                max_block_transactions: self.max_block_transactions,
                ..ApplicationConfig::default()
            },
            ..BftConfig::default()
        }
    }
}

/// `[pool]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    /// Most transfers held.
    pub max_transactions: usize,
    /// Most transfers held per sender.
    pub max_per_sender: usize,
    /// How far ahead of the account nonce a transfer may be.
    pub max_nonce_gap: u64,
}

impl Default for PoolSettings {
    fn default() -> Self {
        let defaults = PoolConfig::new(0, cairn_primitives::CryptoSuite::default());
        Self {
            max_transactions: defaults.max_transactions,
            max_per_sender: defaults.max_per_sender,
            max_nonce_gap: defaults.max_nonce_gap,
        }
    }
}

impl PoolSettings {
    /// The pool's configuration for a chain.
    pub fn pool_config(&self, chain_id: u64, suite: cairn_primitives::CryptoSuite) -> PoolConfig {
        PoolConfig {
            max_transactions: self.max_transactions,
            max_per_sender: self.max_per_sender,
            max_nonce_gap: self.max_nonce_gap,
            ..PoolConfig::new(chain_id, suite)
        }
    }
}

impl NodeConfig {
    /// A configuration with defaults for a data directory.
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            genesis: None,
            http: HttpConfig::default(),
            consensus: ConsensusConfig::default(),
            pool: PoolSettings::default(),
            network: None,
            cluster: ClusterSettings::default(),
        }
    }

    /// Reads a configuration file, resolving relative paths against its directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let mut config: Self = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        if let Some(key) = &config.consensus.validator_key {
            config.consensus.validator_key = Some(base.join(key));
        }
        if let Some(genesis) = &config.genesis {
            config.genesis = Some(base.join(genesis));
        }
        if let Some(network) = &mut config.network
            && let Some(key) = &network.key
        {
            network.key = Some(base.join(key));
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work, so that no number in the file can make the
    /// node fail later (an interval too long to add to a clock, a block too big to build).
    pub fn validate(&self) -> anyhow::Result<()> {
        check_range(
            "http.admin_session_idle_s",
            self.http.admin_session_idle_s,
            10..=86_400,
        )?;
        check_range(
            "http.admin_session_max_s",
            self.http.admin_session_max_s,
            60..=604_800,
        )?;
        let consensus = &self.consensus;
        check_range(
            "consensus.block_interval_ms",
            consensus.block_interval_ms,
            1..=MAX_INTERVAL_MS,
        )?;
        check_range(
            "consensus.leader_timeout_ms",
            consensus.leader_timeout_ms,
            10..=MAX_INTERVAL_MS,
        )?;
        check_range(
            "consensus.max_block_transactions",
            consensus.max_block_transactions as u64,
            1..=MAX_BLOCK_TRANSACTIONS as u64,
        )?;
        check_range(
            "consensus.min_block_transactions",
            consensus.min_block_transactions as u64,
            0..=MAX_BLOCK_TRANSACTIONS as u64,
        )?;
        check_range(
            "pool.max_transactions",
            self.pool.max_transactions as u64,
            1..=MAX_POOL_TRANSACTIONS,
        )?;
        check_range(
            "pool.max_per_sender",
            self.pool.max_per_sender as u64,
            1..=MAX_POOL_TRANSACTIONS,
        )?;
        check_range(
            "pool.max_nonce_gap",
            self.pool.max_nonce_gap,
            1..=MAX_POOL_TRANSACTIONS,
        )?;
        if self.consensus.engine == Some(ConsensusEngine::Bft) {
            self.check_bft()?;
        }
        if self.cluster.enabled {
            self.cluster.validate()?;
            if self.network.is_none() {
                bail!("[cluster] enabled needs [network]: the members talk over the p2p network");
            }
        }
        Ok(())
    }

    /// The engine to run a chain whose genesis names `chain`: that one, if this configuration
    /// names the same or none, with what it needs.
    pub fn engine_for(&self, chain: ConsensusEngine) -> anyhow::Result<ConsensusEngine> {
        if let Some(configured) = self.consensus.engine
            && configured != chain
        {
            bail!(
                "this chain's genesis names the {chain} engine, but the configuration sets \
                 consensus.engine = \"{configured}\""
            );
        }
        if chain == ConsensusEngine::Bft {
            self.check_bft()?;
        }
        Ok(chain)
    }

    fn check_bft(&self) -> anyhow::Result<()> {
        if self.network.is_none() {
            bail!("a BFT chain's node needs a [network] section (its peers)");
        }
        self.consensus
            .bft()
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_gets_defaults_and_relative_paths_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "data_dir = \"data\"\n[consensus]\nvalidator_key = \"v.key\"\nmin_block_transactions = 5\nblock_interval_ms = 200\nmax_block_transactions = 100\nempty_blocks = false\n").unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.data_dir, dir.path().join("data"));
        assert_eq!(
            config.consensus.validator_key,
            Some(dir.path().join("v.key"))
        );
        assert_eq!(
            config.consensus.solo().block_interval,
            Duration::from_millis(200)
        );
        assert_eq!(config.http.listen.port(), 8545);
    }

    /// Every configuration docs/OPERATIONS.md shows loads as it is printed.
    #[test]
    fn the_configurations_in_the_operations_guide_load() {
        let guide = include_str!("../../../docs/OPERATIONS.md");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut loaded = 0;
        for block in guide.split("```toml\n").skip(1) {
            let text = block.split("```").next().unwrap();
            std::fs::write(&path, text).unwrap();
            let config = NodeConfig::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert!(config.network.is_some(), "{text}");
            loaded += 1;
        }
        assert_eq!(
            loaded, 2,
            "the guide shows a validator's and a full node's configuration"
        );
    }

    #[test]
    fn numbers_out_of_range_are_one_line_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        for (line, field) in [
            (
                "[consensus]\nblock_interval_ms = 18446744073709551615",
                "block_interval_ms",
            ),
            (
                "[consensus]\nleader_timeout_ms = 18446744073709551615",
                "leader_timeout_ms",
            ),
            ("[consensus]\nleader_timeout_ms = 0", "leader_timeout_ms"),
            (
                "[consensus]\nmax_block_transactions = 18446744073709551615",
                "max_block_transactions",
            ),
            (
                "[consensus]\nmin_block_transactions = 18446744073709551615",
                "min_block_transactions",
            ),
            (
                "[pool]\nmax_transactions = 18446744073709551615\nmax_per_sender = 1\nmax_nonce_gap = 1",
                "max_transactions",
            ),
            (
                "[pool]\nmax_transactions = 1\nmax_per_sender = 1\nmax_nonce_gap = 18446744073709551615",
                "max_nonce_gap",
            ),
        ] {
            std::fs::write(&path, format!("data_dir = \"d\"\n{line}\n")).unwrap();
            let error = NodeConfig::load(&path).unwrap_err().to_string();
            assert!(error.contains(field), "{line}: {error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
        // A BFT node's derived timeouts at the largest accepted value do not overflow.
        std::fs::write(
            &path,
            "data_dir = \"d\"\n[consensus]\nengine = \"bft\"\nleader_timeout_ms = 3600000\nblock_interval_ms = 3599999\n[network]\nlisten = \"127.0.0.1:1\"\npeers = []\n",
        )
        .unwrap();
        assert!(NodeConfig::load(&path).is_ok());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "data_dir = \"d\"\ncolour = \"blue\"\n").unwrap();
        let error = NodeConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("colour"), "{error}");
        std::fs::write(&path, "data_dir = \"d\"\n[consensus]\nmin_block_transactions = 1\nblock_interval_ms = 0\nmax_block_transactions = 1\nempty_blocks = true\n").unwrap();
        assert!(NodeConfig::load(&path).is_err());
        let round_trip = toml::to_string_pretty(&NodeConfig::for_data_dir("x".into())).unwrap();
        assert!(toml::from_str::<NodeConfig>(&round_trip).is_ok());
    }
}
