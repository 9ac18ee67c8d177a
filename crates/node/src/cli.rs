//! Command-line interface definitions.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Cairn: a permissioned blockchain for consortiums.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true)]
pub struct Cli {
    /// Node to talk to (client commands).
    #[arg(
        long,
        global = true,
        env = "CAIRN_NODE",
        default_value = "http://127.0.0.1:8545"
    )]
    pub node: String,
    /// Print machine-readable JSON instead of text.
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
        /// Genesis JSON.
        #[arg(long)]
        genesis: PathBuf,
        /// Data directory to create.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Run a node.
    Node(NodeArgs),
    /// Show the node's status.
    Status,
    /// Create or show keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Send and inspect transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Show an account's balance and nonce, optionally with its Merkle proof.
    Account {
        /// The account's address (0x + 40 hex digits).
        address: String,
        /// Include the proof against the block's state root.
        #[arg(long)]
        proof: bool,
        /// Write the proof (a JSON array, as `cairn trie verify` reads it) to this file.
        #[arg(long, requires = "proof")]
        proof_out: Option<PathBuf>,
        /// Read the state of this block (height, hash or latest).
        #[arg(long)]
        block: Option<String>,
    },
    /// Show a block.
    Block {
        /// Height, 0x hash, or latest.
        #[arg(default_value = "latest")]
        id: String,
        /// Include full transactions.
        #[arg(long)]
        full: bool,
    },
    /// Re-validate every stored block and re-derive every root (the node must be stopped).
    VerifyChain {
        /// The node's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Merkle Patricia Trie tools (Ethereum-compatible).
    #[command(subcommand)]
    Trie(TrieCommand),
    /// Multi-node test networks on one machine.
    #[command(subcommand)]
    Testnet(TestnetCommand),
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
    /// Directory to create.
    #[arg(long)]
    pub out: PathBuf,
    /// Node I serves HTTP on 127.0.0.1:(P + I) and peers on 127.0.0.1:(P + 1000 + I).
    #[arg(long, default_value_t = 8545)]
    pub base_port: u16,
}

/// `cairn devnet`.
#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Where the chain lives; an existing one-validator devnet there is resumed. With
    /// --validators above 1 a fresh directory is made (under .cairn/ unless given).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address.
    #[arg(long, default_value = "127.0.0.1:8545")]
    pub http: SocketAddr,
    /// Seal a block at least this often (milliseconds, 1 to 3600000).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub block_time_ms: u64,
    /// Seal as soon as this many transfers are executable (1 to 40000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=40_000))]
    pub min_block_txs: u64,
    /// Run this many validators (1 to 100), each its own process, agreeing by BFT consensus.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub validators: u32,
    /// With --validators above 1: also run this many full nodes (at most 100).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub full_nodes: u32,
}

/// `cairn node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Data directory (with defaults for everything else), if no --config.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override the HTTP listen address.
    #[arg(long)]
    pub http: Option<SocketAddr>,
}

/// `cairn keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key and write it to a new file.
    New {
        /// The file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Show development account I (its key is public knowledge).
    Dev {
        /// Index of the dev account (0-9 are funded).
        #[arg(long)]
        index: u32,
    },
}

/// `cairn tx …`.
#[derive(Debug, Subcommand)]
pub enum TxCommand {
    /// Sign and submit a transfer.
    Transfer(TransferArgs),
    /// Show a transaction and its receipt.
    Get {
        /// Transaction hash.
        hash: String,
    },
}

/// `cairn tx transfer`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Sign with this key file.
    #[arg(long, conflicts_with = "dev", required_unless_present = "dev")]
    pub key: Option<PathBuf>,
    /// Sign with development account I.
    #[arg(long)]
    pub dev: Option<u32>,
    /// Recipient address.
    #[arg(long)]
    pub to: String,
    /// Amount in base units.
    #[arg(long)]
    pub amount: String,
    /// Use this nonce instead of asking the node for the next one.
    #[arg(long)]
    pub nonce: Option<u64>,
    /// Wait until the transfer is committed (or failed).
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds (1 to 604800, a week).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub timeout: u64,
}

/// `cairn trie …`.
#[derive(Debug, Subcommand)]
pub enum TrieCommand {
    /// Print the root of the trie built from FILE (or stdin).
    Root {
        /// Hash every key with keccak256 first (Ethereum's secure trie).
        #[arg(long)]
        secure: bool,
        /// JSON {"in": [[key, value], ...]} or {"in": {key: value}}; stdin if absent.
        file: Option<PathBuf>,
    },
    /// Print the proof of KEY in the trie built from FILE.
    Prove {
        /// Hash keys with keccak256 first.
        #[arg(long)]
        secure: bool,
        /// The trie's contents, as for `root`.
        file: PathBuf,
        /// The key, written like the keys in FILE.
        key: String,
    },
    /// Check a proof against a root; print the proven value or `absent`.
    Verify {
        /// Hash the key with keccak256 first.
        #[arg(long)]
        secure: bool,
        /// The trie root (0x + 64 hex digits).
        #[arg(long)]
        root: String,
        /// The key, written like the keys of `root`'s input.
        #[arg(long)]
        key: String,
        /// JSON array of 0x-hex proof nodes, root first; stdin if absent.
        proof_file: Option<PathBuf>,
    },
}
