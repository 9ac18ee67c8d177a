//! `cairn gateway`: the transaction gateway's process (crate `cairn-gateway`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context;
use cairn_gateway::GatewayStore;
use cairn_gateway::api::GatewayApi;
use cairn_gateway::relay::{ChainNodes, Relay, RelayPolicy};
use tracing::info;

use crate::cli::GatewayArgs;
use crate::exit::Failure;

/// `ID=URL[,URL...]` → the chain id and its URLs.
fn parse_chain(text: &str) -> anyhow::Result<(u64, Vec<String>)> {
    let usage = || {
        Failure::usage(
            "invalid_argument",
            format!("--chain: {text:?} is not ID=URL[,URL...]"),
        )
    };
    let (id, urls) = text.split_once('=').ok_or_else(usage)?;
    let id: u64 = id.trim().parse().map_err(|_| usage())?;
    let urls: Vec<String> = urls
        .split(',')
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
        .collect();
    if urls.is_empty() {
        return Err(usage().into());
    }
    Ok((id, urls))
}

/// Runs the gateway until Ctrl-C or SIGTERM.
pub fn run(args: &GatewayArgs) -> anyhow::Result<()> {
    let mut chains = BTreeMap::new();
    for text in &args.chains {
        let (id, urls) = parse_chain(text)?;
        let nodes = ChainNodes::new(&urls)
            .map_err(|e| Failure::usage("invalid_argument", format!("--chain {text}: {e}")))?;
        if chains.insert(id, nodes).is_some() {
            return Err(Failure::usage(
                "invalid_argument",
                format!("--chain: chain {id} is given twice"),
            )
            .into());
        }
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let store = Arc::new(
        GatewayStore::open(args.data_dir.join("gateway.redb")).with_context(|| {
            format!(
                "cannot open the gateway's database in {}",
                args.data_dir.display()
            )
        })?,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let local = listener.local_addr()?;
        let accepted = Arc::new(tokio::sync::Notify::new());
        let served: BTreeSet<u64> = chains.keys().copied().collect();
        let api = GatewayApi::new(
            store.clone(),
            served.clone(),
            (args.window_s * 1_000, args.max_unfinished),
            cairn_primitives::clock::now_ms,
            accepted.clone(),
        );
        let relay = Relay::new(
            store,
            chains,
            RelayPolicy {
                max_attempts: args.max_attempts,
                ..RelayPolicy::default()
            },
            cairn_primitives::clock::now_ms,
        );
        tokio::spawn(relay.run(accepted));
        info!(listen = %local, chains = ?served, "gateway started");
        println!("Listening on http://{local}");
        axum::serve(listener, api.router())
            .with_graceful_shutdown(crate::runtime::shutdown_signal())
            .await
            .context("the gateway's server failed")
    })
}
