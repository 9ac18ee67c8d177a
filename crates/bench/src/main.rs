//! `cairn-bench`: Cairn measured against its peers, side by side, in one run.
//!
//! ```text
//! cargo run --release -p cairn-bench -- trie --keys 1000000 [--json]
//! cargo run --release -p cairn-bench -- trie-update --keys 1000000 --changes 10000 [--json]
//! cargo run --release -p cairn-bench -- sig [--json]
//! cargo run --release -p cairn-bench -- tps [--validators V] [--txs T] [--accounts A] [--json]
//! cargo run --release -p cairn-bench -- acs [--calls N] [--accounts A] [--json]
//! cargo run --release -p cairn-bench -- cluster [--blocks B] [--txs-per-block T] [--retain-blocks W] [--json]
//! cargo run --release -p cairn-bench -- gateway [--txs T] [--accounts A] [--concurrency C] [--json]
//! ```
//!
//! The peers are this crate's own dependencies (eth_trie, alloy-trie's HashBuilder, rhai), fed
//! the same data in the same process. `tps` and `acs` start real Cairn nodes, as processes of
//! this binary.

mod acs;
mod cluster;
mod gateway;
mod sig;
mod tps;
mod trie;
mod trie_update;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(name = "cairn-bench", about = "Cairn against its peers, in one run")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build a trie of N random 32-byte keys and values and compute its root: Cairn, eth_trie,
    /// and alloy-trie's HashBuilder on the same pairs sorted.
    Trie {
        /// Number of keys.
        #[arg(long, default_value_t = 1_000_000)]
        keys: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change C keys of a persisted (redb) trie of N keys, commit, and compute the new root:
    /// Cairn against eth_trie.
    TrieUpdate {
        /// Keys in the stored trie.
        #[arg(long, default_value_t = 1_000_000)]
        keys: usize,
        /// Keys changed.
        #[arg(long, default_value_t = 10_000)]
        changes: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// This machine's ed25519 verification ceiling: single, batched, batched on all cores.
    Sig {
        /// Also measure another suite in the same run: `sm2` (SM2 signatures, SM3 hashing).
        #[arg(long, value_parser = ["sm2"])]
        suite: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Committed transfers per second of a fresh chain, submitted through the public API.
    Tps {
        /// Validators (1: the solo engine; more: BFT, one process each).
        #[arg(long, default_value_t = 1)]
        validators: u32,
        /// Transfers to commit.
        #[arg(long, default_value_t = 100_000)]
        txs: usize,
        /// Funded sender accounts.
        #[arg(long, default_value_t = 1_000)]
        accounts: usize,
        /// sm2-sm3: after the ed25519-keccak chain, run the same on an sm2-sm3 chain and
        /// report it next to ed25519's.
        #[arg(long, default_value = "ed25519-keccak", value_name = "SUITE")]
        crypto: cairn_primitives::CryptoSuite,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cluster storage: bytes per member against a full node, what the cluster stores of the
    /// old blocks against one copy, repair after two members die, bytes a doubling from 4 to 8
    /// moves against the minimum, and a read through the cluster against a local read.
    Cluster {
        /// Blocks in the chain.
        #[arg(long, default_value_t = 2_000)]
        blocks: u64,
        /// Transfers in each block.
        #[arg(long, default_value_t = 50)]
        txs_per_block: usize,
        /// Blocks every node keeps whole.
        #[arg(long, default_value_t = 64)]
        retain_blocks: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// ACS contracts: committed `holder` calls per second of the seed's package on one node
    /// against committed transfers per second in the same run, and the VM alone against rhai
    /// on the seed's `holder` contract (results checked equal).
    Acs {
        /// Holder calls (and, separately, transfers) to commit.
        #[arg(long, default_value_t = 20_000)]
        calls: usize,
        /// Holders (each calls on its own record, and sends transfers).
        #[arg(long, default_value_t = 1_000)]
        accounts: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The transaction gateway: transfers per second through it to one node, with one
    /// receiver per transfer, against submitting to the node directly in the same run, and
    /// the time from acceptance to the receiver's notification.
    Gateway {
        /// Transfers on each path.
        #[arg(long, default_value_t = 5_000)]
        txs: usize,
        /// Funded sender accounts (--txs must be a multiple).
        #[arg(long, default_value_t = 500)]
        accounts: usize,
        /// Requests under way at once, on each path.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Prints a report as JSON, or as `key: value` lines for people.
fn report<T: Serialize>(value: &T, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(value)?);
    } else if let serde_json::Value::Object(map) = serde_json::to_value(value)? {
        for (key, value) in map {
            println!("{key:>24}: {value}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // `tps`, `acs` and `gateway` run Cairn nodes (and `gateway` a gateway) as child processes
    // of this very binary.
    let args: Vec<_> = std::env::args_os().collect();
    if args.get(1).is_some_and(|arg| arg == "node") {
        return cairn_node::main_with_args(args);
    }
    // `cairn-bench cairn ARGS…` is `cairn ARGS…` (the gateway's process).
    if args.get(1).is_some_and(|arg| arg == "cairn") {
        return cairn_node::main_with_args(args.into_iter().skip(1));
    }
    let result = match Cli::parse().command {
        Command::Trie { keys, json } => trie::run(keys).and_then(|r| report(&r, json)),
        Command::TrieUpdate {
            keys,
            changes,
            json,
        } => trie_update::run(keys, changes).and_then(|r| report(&r, json)),
        Command::Sig { suite, json } => sig::run(suite.is_some()).and_then(|r| report(&r, json)),
        Command::Tps {
            validators,
            txs,
            accounts,
            crypto,
            json,
        } => tps::run(validators, txs, accounts, crypto).and_then(|r| report(&r, json)),
        Command::Cluster {
            blocks,
            txs_per_block,
            retain_blocks,
            json,
        } => cluster::run(blocks, txs_per_block, retain_blocks).and_then(|r| report(&r, json)),
        Command::Acs {
            calls,
            accounts,
            json,
        } => acs::run(calls, accounts).and_then(|r| report(&r, json)),
        Command::Gateway {
            txs,
            accounts,
            concurrency,
            json,
        } => gateway::run(txs, accounts, concurrency).and_then(|r| report(&r, json)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", format!("{error:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
