//! The `cairn` program: a node (solo or BFT), development and test networks, and a
//! command-line client of the node's API. The binary is a thin `main` over [`main_with_args`],
//! so tools such as the benchmark can run the very same node in their own processes.

mod bft_node;
mod cli;
mod client;
pub mod cluster;
mod commands;
mod config;
mod exit;
mod journal;
mod keyfile;
mod logs;
mod runtime;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{
    AcsCommand, AdminCommand, Cli, ClusterCommand, Command, NodeArgs, TestnetCommand,
};
use crate::client::Client;
use crate::commands::{acs, client_cmds, testnet, trie_cmd, verify};
use crate::config::NodeConfig;

/// Runs the `cairn` command line with these arguments (the first is the program name).
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => return usage_error(error, args.iter().any(|a| a == "--json")),
    };
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit::report(&error, json),
    }
}

/// Help and version go to stdout as clap prints them; a usage error is one line on stderr
/// (clap's message without its usage block) and exit code 2.
fn usage_error(error: clap::Error, json: bool) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        error.exit()
    }
    let rendered = error.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.is_empty())
        .collect();
    exit::report_usage(&message.join(" "), json)
}

/// Logs go to stderr, coloured only when stderr is a terminal (a log file or a pipe gets
/// plain text) and `NO_COLOR` is not set.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // The filter applies to both: what stderr shows, the admin pages' log shows.
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour),
        )
        .with(logs::Capture)
        .init();
}

fn node_config(args: &NodeArgs) -> anyhow::Result<NodeConfig> {
    let mut config = match (&args.config, &args.data_dir) {
        (Some(path), None) => NodeConfig::load(path)?,
        (None, Some(dir)) => NodeConfig::for_data_dir(dir.clone()),
        (Some(path), Some(dir)) => {
            let mut config = NodeConfig::load(path)?;
            config.data_dir = dir.clone();
            config
        }
        (None, None) => anyhow::bail!("give --config FILE or --data-dir DIR"),
    };
    if let Some(http) = args.http {
        config.http.listen = http;
    }
    Ok(config)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let top = cli.node.as_deref();
    let client = |own: &cli::NodeOpt| Client::for_command(top, own);
    match cli.command {
        Command::Devnet(args) => {
            init_logging();
            runtime::devnet(args)
        }
        Command::Init { genesis, data_dir } => runtime::init(&genesis, &data_dir, cli.json),
        Command::Node(args) => {
            let config = node_config(&args)?;
            init_logging();
            runtime::run(config, None, None)
        }
        Command::Status(node) => client_cmds::status(&client(&node)?, cli.json),
        Command::Keys(command) => client_cmds::keys(command, cli.json),
        Command::Tx(command) => {
            let node = command.node().clone();
            client_cmds::tx(&client(&node)?, command, cli.json)
        }
        Command::Account {
            address,
            proof,
            proof_out,
            block,
            node,
        } => {
            // Arguments first: a bad address is a usage error whatever the node.
            let address = client_cmds::parse_address("ADDRESS", &address)?;
            client_cmds::account(
                &client(&node)?,
                &address,
                proof,
                proof_out.as_deref(),
                block.as_deref(),
                cli.json,
            )
        }
        Command::Block { id, full, node } => {
            client_cmds::block(&client(&node)?, &id, full, cli.json)
        }
        Command::VerifyChain {
            data_dir,
            cluster_api,
        } => verify::run(&data_dir, &cluster_api, cli.json),
        Command::Trie(command) => trie_cmd::run(command, cli.json),
        Command::Acs(AcsCommand::Check { file }) => acs::check(&file, cli.json),
        Command::Acs(command) => {
            let node = command.node().cloned().unwrap_or_default();
            acs::run(&client(&node)?, command, cli.json)
        }
        Command::Testnet(TestnetCommand::Init(args)) => testnet::init(&args, cli.json).map(|_| ()),
        Command::Cluster(ClusterCommand::Status { node }) => {
            client_cmds::cluster_status(&client(&node)?, cli.json)
        }
        Command::Cluster(ClusterCommand::Expand { node }) => {
            client_cmds::cluster_expand(&client(&node)?, cli.json)
        }
        Command::Gateway(args) => {
            init_logging();
            commands::gateway::run(&args)
        }
        Command::Admin(AdminCommand::Init(args)) => commands::admin::init(&args, cli.json),
        Command::Shell(args) => commands::shell::run(top, &args, cli.json),
    }
}
