//! The `cairn` program: a node (solo or BFT), development and test networks, and a
//! command-line client of the node's API. The binary is a thin `main` over [`main_with_args`],
//! so tools such as the benchmark can run the very same node in their own processes.

mod bft_node;
mod cli;
mod client;
mod commands;
mod config;
mod keyfile;
mod runtime;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command, NodeArgs, TestnetCommand};
use crate::client::Client;
use crate::commands::{client_cmds, testnet, trie_cmd, verify};
use crate::config::NodeConfig;

/// Runs the `cairn` command line with these arguments (the first is the program name).
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => return usage_error(error),
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line on stderr, whatever the error chain holds.
            let message = format!("{error:#}").replace('\n', " ");
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout as clap prints them; a usage error is one line on stderr
/// (clap's message without its usage block) and exit code 2.
fn usage_error(error: clap::Error) -> ExitCode {
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
    eprintln!("{}", message.join(" "));
    ExitCode::from(2)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
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
    let client = || Client::new(&cli.node);
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
        Command::Status => client_cmds::status(&client(), cli.json),
        Command::Keys(command) => client_cmds::keys(command, cli.json),
        Command::Tx(command) => client_cmds::tx(&client(), command, cli.json),
        Command::Account {
            address,
            proof,
            proof_out,
            block,
        } => client_cmds::account(
            &client(),
            &address,
            proof,
            proof_out.as_deref(),
            block.as_deref(),
            cli.json,
        ),
        Command::Block { id, full } => client_cmds::block(&client(), &id, full, cli.json),
        Command::VerifyChain { data_dir } => verify::run(&data_dir, cli.json),
        Command::Trie(command) => trie_cmd::run(command, cli.json),
        Command::Testnet(TestnetCommand::Init(args)) => testnet::init(&args, cli.json).map(|_| ()),
    }
}
