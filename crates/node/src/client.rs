//! The command line's handle on a node: the async `cairn-client` driven from a small runtime
//! of its own, since each command is one short conversation.

use std::future::Future;

use crate::cli::{DEFAULT_NODE, NodeOpt};
use crate::exit::Failure;

/// A node to talk to, and the runtime to talk on.
pub struct Client {
    api: cairn_client::Client,
    runtime: tokio::runtime::Runtime,
}

impl Client {
    /// The node a command names: its own `--node`, else the top-level one, else
    /// `$CAIRN_NODE`, else the default. A URL without a scheme is a usage error.
    pub fn for_command(top: Option<&str>, own: &NodeOpt) -> anyhow::Result<Self> {
        let env = std::env::var("CAIRN_NODE").ok().filter(|v| !v.is_empty());
        let url = own
            .url
            .as_deref()
            .or(top)
            .or(env.as_deref())
            .unwrap_or(DEFAULT_NODE);
        let api = cairn_client::Client::new(url)
            .map_err(|e| Failure::usage("invalid_argument", format!("--node: {e}")))?;
        Ok(Self {
            api,
            runtime: small_runtime()?,
        })
    }

    /// The async client.
    pub fn api(&self) -> &cairn_client::Client {
        &self.api
    }

    /// Blocks on a future that uses the client.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// A single-threaded runtime for a command's short conversations with nodes.
pub fn small_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
