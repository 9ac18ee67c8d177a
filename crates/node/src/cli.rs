//! Command-line interface definitions.

use std::net::SocketAddr;
use std::path::PathBuf;

use cairn_primitives::{CryptoSuite, KeyKind};
use clap::{Args, Parser, Subcommand};

/// The exit statuses, shown under every command's help.
pub const EXIT_STATUSES: &str = "\
Exit status:
  0  success
  1  an error (the node unreachable or refusing, a file unreadable, ...)
  2  bad arguments
  3  tx transfer: not submitted (refused, or the node could not be reached; if the
     request may have arrived all the same, the message gives the hash to check)
  4  tx transfer --wait: committed, but failed (the receipt says why; the nonce is used)
  5  tx transfer --wait: timed out; the transfer WAS submitted and may still commit
     (follow it with `cairn tx get HASH`; do not send it again)
  6  tx get: this node does not know the transaction

With --json, a failure prints {\"error\": {\"code\", \"message\"}} on stdout
(and one line on stderr, as always).";

/// The default node for client commands.
pub const DEFAULT_NODE: &str = "http://127.0.0.1:8545";

/// Cairn: a permissioned blockchain for consortiums.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true, after_help = EXIT_STATUSES)]
pub struct Cli {
    /// Node that client commands talk to. Hidden here: each command that talks to a node
    /// shows its own `--node`; this one, before the command, is accepted for scripts written
    /// that way and ignored by commands that talk to none.
    #[arg(long, value_name = "URL", hide = true)]
    pub node: Option<String>,
    /// Print machine-readable JSON instead of text (errors too).
    #[arg(long, global = true)]
    pub json: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a local development chain: one validator, ten funded dev accounts.
    Devnet(DevnetArgs),
    /// Create a node's data directory from a genesis file.
    Init {
        /// Genesis JSON file (required).
        #[arg(long, value_name = "FILE")]
        genesis: PathBuf,
        /// Data directory to create (required).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Run a node.
    Node(NodeArgs),
    /// Show the node's status.
    Status(NodeOpt),
    /// Create or show keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Send and inspect transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Show an account's balance and nonce, optionally with its Merkle proof.
    Account {
        /// The account's address (0x + 40 hex digits).
        #[arg(value_name = "ADDRESS")]
        address: String,
        /// Include the proof against the block's state root (printed, unless --proof-out).
        #[arg(long)]
        proof: bool,
        /// Write the proof (a JSON array, as `cairn trie verify` reads it) to FILE instead of
        /// printing it.
        #[arg(long, requires = "proof", value_name = "FILE")]
        proof_out: Option<PathBuf>,
        /// Read the state of this block: a height, a 0x hash, or latest [default: latest].
        #[arg(long, value_name = "BLOCK")]
        block: Option<String>,
        #[command(flatten)]
        node: NodeOpt,
    },
    /// Show a block.
    Block {
        /// Height, 0x hash, or latest.
        #[arg(default_value = "latest", value_name = "BLOCK")]
        id: String,
        /// Include full transactions.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        node: NodeOpt,
    },
    /// Re-validate every stored block and re-derive every root (the node must be stopped).
    VerifyChain {
        /// The node's data directory (required).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// A running cluster member's API to read the bodies this node dropped from (they are
        /// checked against this node's headers); repeat it to fall back on other members.
        #[arg(long = "cluster-api", value_name = "URL")]
        cluster_api: Vec<String>,
    },
    /// Merkle Patricia Trie tools (Ethereum-compatible).
    #[command(subcommand)]
    Trie(TrieCommand),
    /// ACS contracts (see docs/CONTRACTS.md).
    #[command(subcommand)]
    Acs(AcsCommand),
    /// The storage cluster of old blocks (see docs/CLUSTER.md).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run the transaction gateway: idempotent submission to the chains it serves, each
    /// transaction followed to its result (see docs/GATEWAY.md).
    Gateway(GatewayArgs),
    /// Multi-node test networks on one machine.
    #[command(subcommand)]
    Testnet(TestnetCommand),
    /// The users who may administer a node (see docs/CONSOLE.md).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The admin shell: users, sessions, the node's status, peers, pool and logs, and the
    /// read-only commands, over the node's admin API (a REPL at a terminal; reads a script
    /// from a pipe).
    Shell(ShellArgs),
}

/// `cairn admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create the first admin of a node, in its data directory, with the node stopped. The
    /// password is read from the first line of stdin.
    Init(AdminInitArgs),
}

/// `cairn admin init`.
#[derive(Debug, Args)]
pub struct AdminInitArgs {
    /// The node's data directory (`data_dir` of its config; a devnet's `--data-dir`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// The admin's name (1 to 64 of A-Z, a-z, 0-9, _, . and -).
    #[arg(long, value_name = "NAME")]
    pub user: String,
    /// Read the password from stdin (the only way: a password on the command line would be
    /// seen by every user of the machine).
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

impl TxCommand {
    /// The command's own `--node`.
    pub fn node(&self) -> &NodeOpt {
        match self {
            Self::Transfer(args) => &args.node,
            Self::Get { node, .. } => node,
        }
    }
}

/// `cairn cluster …`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The cluster as the node sees it: its id, members, and the health of the old blocks
    /// (also `GET /v1/cluster`).
    Status {
        #[command(flatten)]
        node: NodeOpt,
    },
    /// Double the cluster as soon as as many nodes wait to join as it has members.
    Expand {
        #[command(flatten)]
        node: NodeOpt,
    },
}

/// `cairn acs …`.
#[derive(Debug, Subcommand)]
pub enum AcsCommand {
    /// Compile a package without sending it: print its errors (FILE:LINE:COL, exit 1), or the
    /// contracts, constants and schedule it holds.
    Check {
        /// The package: a properties file of contracts, constants and #when lines.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Deploy a package (you become its operator). A file that does not compile is refused
    /// here, FILE:LINE:COL on stderr, exit 1, nothing sent.
    Deploy {
        #[command(flatten)]
        signer: SignerArgs,
        /// The package file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Join a package as a holder (your own record).
    Join {
        #[command(flatten)]
        signer: SignerArgs,
        /// The package's address (required).
        #[arg(long, value_name = "P")]
        package: String,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Set fields of a record (the operator only): FIELD=DECIMAL ...
    Set {
        #[command(flatten)]
        signer: SignerArgs,
        /// The package's address (required).
        #[arg(long, value_name = "P")]
        package: String,
        /// The record's address (required).
        #[arg(long, value_name = "ADDR")]
        record: String,
        /// Fields to set, FIELD=DECIMAL (1 to 64).
        #[arg(
            value_name = "FIELD=DECIMAL",
            required = true,
            allow_negative_numbers = true
        )]
        fields: Vec<String>,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Run a contract on a record (your own unless you are the operator).
    Call {
        #[command(flatten)]
        signer: SignerArgs,
        /// The package's address (required).
        #[arg(long, value_name = "P")]
        package: String,
        /// The contract's name, e.g. holder.getvbl (required).
        #[arg(long, value_name = "NAME")]
        contract: String,
        /// The record to run on [default: the signer's].
        #[arg(long, value_name = "ADDR")]
        record: Option<String>,
        /// Gas limit (the contract's instructions plus 1,200 for the call itself).
        #[arg(long, value_name = "N", default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1_200..=10_000_000))]
        gas: u64,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Run a contract against the head state and print what it returns; writes nothing and
    /// sends no transaction.
    Query {
        /// The package's address (required).
        #[arg(long, value_name = "P")]
        package: String,
        /// The contract's name (required).
        #[arg(long, value_name = "NAME")]
        contract: String,
        /// The record to run on (required).
        #[arg(long, value_name = "ADDR")]
        record: String,
        #[command(flatten)]
        node: NodeOpt,
    },
    /// A record's role and fields, with --proof its EIP-1186 storage proofs.
    Record {
        /// The package's address (required).
        #[arg(long, value_name = "P")]
        package: String,
        /// The record's address.
        #[arg(value_name = "ADDR")]
        record: String,
        /// Include the package account's proof and each field's storage proof.
        #[arg(long)]
        proof: bool,
        #[command(flatten)]
        node: NodeOpt,
    },
    /// The package's scheduled runs, oldest first.
    Jobs {
        /// The package's address (required).
        #[arg(long, value_name = "P")]
        package: String,
        /// Most runs to show, the latest (1 to 10,000).
        #[arg(long, value_name = "N", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        limit: u64,
        #[command(flatten)]
        node: NodeOpt,
    },
}

impl AcsCommand {
    /// The command's `--node`, if it talks to one.
    pub fn node(&self) -> Option<&NodeOpt> {
        match self {
            Self::Check { .. } => None,
            Self::Deploy { send, .. }
            | Self::Join { send, .. }
            | Self::Set { send, .. }
            | Self::Call { send, .. } => Some(&send.node),
            Self::Query { node, .. } | Self::Record { node, .. } | Self::Jobs { node, .. } => {
                Some(node)
            }
        }
    }
}

/// Who signs: `--key FILE` or `--dev I`.
#[derive(Debug, Clone, Args)]
pub struct SignerArgs {
    /// Sign with this key file (this or --dev is required).
    #[arg(
        long,
        conflicts_with = "dev",
        required_unless_present = "dev",
        value_name = "FILE"
    )]
    pub key: Option<PathBuf>,
    /// Sign with development account I (0-9 are funded on a devnet).
    #[arg(long, value_name = "I")]
    pub dev: Option<u32>,
    /// With --dev: the dev account of which suite, ed25519 or sm2 [default: the node's
    /// chain's; ed25519 when signing offline].
    #[arg(long, requires = "dev", value_name = "SUITE")]
    pub suite: Option<KeyKind>,
}

/// How a contract action is sent.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Use this nonce instead of asking the node for the sender's next one.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
    /// Wait until the transaction is in a committed block, and exit 4 if it failed there.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds (1 to 604800, a week); exit 5 when it runs out.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub timeout: u64,
    #[command(flatten)]
    pub node: NodeOpt,
}

/// `--node` on the commands that talk to a node.
#[derive(Debug, Clone, Args, Default)]
pub struct NodeOpt {
    /// The node to talk to [env: CAIRN_NODE] [default: http://127.0.0.1:8545].
    #[arg(long = "node", value_name = "URL")]
    pub url: Option<String>,
}

/// `cairn testnet …`.
#[derive(Debug, Subcommand)]
pub enum TestnetCommand {
    /// Write a genesis and one directory per node (config, keys) for a loopback network.
    Init(TestnetInitArgs),
}

/// `cairn testnet init`.
#[derive(Debug, Args)]
pub struct TestnetInitArgs {
    /// Number of validators (1 to 100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub validators: u32,
    /// Number of full nodes (they follow the chain and accept transactions, but do not
    /// vote; at most 100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub full_nodes: u32,
    /// Directory to create (required).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Node I serves HTTP on 127.0.0.1:(P + I) and peers on 127.0.0.1:(P + 1000 + I).
    #[arg(long, default_value_t = 8545, value_name = "P")]
    pub base_port: u16,
    /// Make every node a member of one storage cluster with this placement (`rs:4+2`,
    /// `copies:3`, `segment:3`): old blocks then live in the cluster, not on every node.
    #[arg(long, value_name = "PLACEMENT")]
    pub cluster: Option<String>,
    /// With --cluster: blocks every node keeps whole (1 to 100000000).
    #[arg(long, default_value_t = 1_000, value_name = "W", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub retain_blocks: u64,
    /// The chain id its transactions are signed for (at least 1).
    #[arg(long, default_value_t = cairn_primitives::dev::DEV_CHAIN_ID, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub chain_id: u64,
    /// The crypto suite of the chain's accounts and hashes: ed25519-keccak (Ethereum's
    /// hashes and proofs) or sm2-sm3 (SM2 signatures, SM3 hashes). Validators sign consensus
    /// messages with ed25519 either way.
    #[arg(long, default_value = "ed25519-keccak", value_name = "SUITE")]
    pub crypto: CryptoSuite,
}

/// `cairn gateway`. Each setting can come from the flags or from `--config FILE` (TOML with
/// the same names in snake case, and a `[chains]` table of `ID = ["URL", ...]`); a flag wins.
#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// A TOML file of settings (see docs/GATEWAY.md); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP listen address [default: 127.0.0.1:8600].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Where the gateway's database lives [default: .cairn/gateway].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A chain it serves and its nodes' URLs, tried in order (repeat for more chains; at
    /// least one here or in the config file).
    #[arg(long = "chain", value_name = "ID=URL[,URL...]")]
    pub chains: Vec<String>,
    /// How long an idempotency key, and a transaction sent without one, are remembered
    /// (seconds, 1 to 2592000) [default: 86400].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    pub window_s: Option<u64>,
    /// Most times a transaction is handed to a node before it is dropped (1 to 100)
    /// [default: 5].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: Option<u32>,
    /// Most transactions waiting for their results; beyond, submissions get 503 `outbox_full`
    /// (1 to 100000000) [default: 100000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub max_unfinished: Option<u64>,
    /// Most notifications waiting for delivery; beyond, a new one is dead-lettered at once
    /// (1 to 100000000) [default: 1000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub max_pending_deliveries: Option<u64>,
    /// Most receivers registered (1 to 1000000) [default: 10000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_receivers: Option<u64>,
    /// Delays before each retry of a failed notification, after which it is dead-lettered,
    /// each applied within ±20% (units ms, s, m, h, d) [default: 5s,5m,30m,2h,5h,10h,10h].
    #[arg(long, value_name = "DELAYS")]
    pub retry_schedule: Option<String>,
    /// How long a receiver has to answer (seconds, 1 to 300) [default: 15].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub delivery_timeout_s: Option<u64>,
}

/// `cairn devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Where the chain lives; an existing one-validator devnet there is resumed
    /// [default: .cairn/devnet, relative to the current directory]. With --validators above
    /// 1 a fresh directory is made [default: .cairn/devnet-<N>v-<unix time>].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address (with --validators above 1: node I listens on port + I).
    #[arg(long, default_value = "127.0.0.1:8545", value_name = "ADDR")]
    pub http: SocketAddr,
    /// The chain id its transactions are signed for (at least 1), so devnets can run side by
    /// side; a devnet resumed from --data-dir must have been made with the same one.
    #[arg(long, default_value_t = cairn_primitives::dev::DEV_CHAIN_ID, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub chain_id: u64,
    /// Seal a block at least this often, empty or not (milliseconds, 1 to 3600000).
    #[arg(long, default_value_t = 1_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub block_time_ms: u64,
    /// Seal as soon as this many transfers are executable (1 to 40000).
    #[arg(long, default_value_t = 100, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=40_000))]
    pub min_block_txs: u64,
    /// Run this many validators (1 to 100), each its own process, agreeing by BFT consensus.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub validators: u32,
    /// With --validators above 1: also run this many full nodes (at most 100).
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
    pub full_nodes: u32,
    /// With --validators above 1: start a node again when it dies (otherwise the others go
    /// on without it and the devnet says so).
    #[arg(long)]
    pub restart_crashed: bool,
    /// An admin session (console or shell) unused this long ends (seconds, 10 to 86400).
    #[arg(long, default_value_t = 1_800, value_name = "S", value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub admin_session_idle_s: u64,
    /// The crypto suite of the chain's accounts and hashes (a resumed devnet keeps its own): ed25519-keccak (Ethereum's
    /// hashes and proofs) or sm2-sm3 (SM2 signatures, SM3 hashes). Validators sign consensus
    /// messages with ed25519 either way.
    #[arg(long, default_value = "ed25519-keccak", value_name = "SUITE")]
    pub crypto: CryptoSuite,
}

/// `cairn shell`.
#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub node: NodeOpt,
    /// When reading a script: go on after a command fails (the exit status is still the first
    /// failure's).
    #[arg(long)]
    pub keep_going: bool,
}

/// `cairn node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Data directory (with defaults for everything else); one of --data-dir and --config
    /// is required.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (TOML; see docs/OPERATIONS.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override the HTTP listen address [default: 127.0.0.1:8545, or the config's].
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
}

/// `cairn keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key and write it to a new file.
    New {
        /// The file to create (required; refused if it exists).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The key's signature scheme: ed25519 (for ed25519-keccak chains) or sm2 (for
        /// sm2-sm3 chains).
        #[arg(long, default_value = "ed25519", value_name = "SUITE")]
        suite: KeyKind,
    },
    /// Show development account I (its key is public knowledge).
    Dev {
        /// Index of the dev account (0-9 are funded).
        #[arg(long, value_name = "I")]
        index: u32,
        /// The dev accounts of which chains: ed25519 (ed25519-keccak) or sm2 (sm2-sm3).
        #[arg(long, default_value = "ed25519", value_name = "SUITE")]
        suite: KeyKind,
    },
}

/// `cairn tx …`.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Sign and submit a transfer.
    #[command(after_help = EXIT_STATUSES)]
    Transfer(TransferArgs),
    /// Show a transaction and its receipt (exit status 6 if the node does not know it).
    Get {
        /// Transaction hash (0x + 64 hex digits).
        #[arg(value_name = "HASH")]
        hash: String,
        #[command(flatten)]
        node: NodeOpt,
    },
}

/// `cairn tx transfer`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    #[command(flatten)]
    pub signer: SignerArgs,
    /// Recipient address, 0x + 40 hex digits (required).
    #[arg(long, value_name = "ADDRESS")]
    pub to: String,
    /// Amount in base units, a whole number above 0 (required).
    #[arg(long, value_name = "AMOUNT", allow_negative_numbers = true)]
    pub amount: String,
    /// Use this nonce instead of asking the node for the sender's next one.
    #[arg(long, value_name = "N")]
    pub nonce: Option<u64>,
    /// Sign for this chain id instead of asking the node (refused if the node serves another).
    #[arg(long, value_name = "N")]
    pub chain_id: Option<u64>,
    /// Sign without sending: print the hash and the signed transaction (`tx`, 0x-hex of its
    /// RLP, what `POST /v1/transactions/raw` and a gateway take). With --nonce and --chain-id
    /// no node is asked anything.
    #[arg(long, conflicts_with = "wait")]
    pub sign_only: bool,
    /// Wait until the transfer is in a committed block, and exit 4 if it failed there.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds (1 to 604800, a week); exit 5 when it runs out.
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub timeout: u64,
    #[command(flatten)]
    pub node: NodeOpt,
}

/// `cairn trie …`.
#[derive(Debug, Subcommand)]
pub enum TrieCommand {
    /// Print the root of the trie built from FILE (or stdin).
    Root {
        /// Hash every key first (Ethereum's secure trie), with the trie's hash.
        #[arg(long)]
        secure: bool,
        /// The hash of the trie's nodes (and secure keys): keccak256 (Ethereum's) or sm3 (an
        /// sm2-sm3 chain's).
        #[arg(long, default_value = "keccak256", value_name = "HASH")]
        hash: cairn_trie::NodeHash,
        /// JSON {"in": [[key, value], ...]} or {"in": {key: value}}; stdin if absent.
        file: Option<PathBuf>,
    },
    /// Print the proof of KEY in the trie built from FILE.
    Prove {
        /// Hash keys first, with the trie's hash.
        #[arg(long)]
        secure: bool,
        /// keccak256 or sm3, as for `root`.
        #[arg(long, default_value = "keccak256", value_name = "HASH")]
        hash: cairn_trie::NodeHash,
        /// The trie's contents, as for `root`.
        file: PathBuf,
        /// The key, written like the keys in FILE.
        key: String,
    },
    /// Check a proof against a root; print the proven value or `absent`.
    Verify {
        /// Hash the key first, with the trie's hash.
        #[arg(long)]
        secure: bool,
        /// keccak256 or sm3, as for `root`.
        #[arg(long, default_value = "keccak256", value_name = "HASH")]
        hash: cairn_trie::NodeHash,
        /// The trie root (0x + 64 hex digits).
        #[arg(long, value_name = "ROOT")]
        root: String,
        /// The key, written like the keys of `root`'s input.
        #[arg(long, value_name = "KEY")]
        key: String,
        /// JSON array of 0x-hex proof nodes, root first; stdin if absent.
        proof_file: Option<PathBuf>,
    },
}
