//! A small blocking client of the node's HTTP API, for the CLI.

use std::time::Duration;

use anyhow::{Context, bail};
use cairn_rpc::types::ErrorBody;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Talks to one node.
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the node at `base` (e.g. `http://127.0.0.1:8545`).
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_string(),
            agent,
        }
    }

    /// GET a JSON resource.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| self.unreachable(e))?;
        decode(response)
    }

    /// POST JSON, decode the JSON reply.
    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .agent
            .post(&url)
            .send_json(body)
            .map_err(|e| self.unreachable(e))?;
        decode(response)
    }

    fn unreachable(&self, error: ureq::Error) -> anyhow::Error {
        anyhow::anyhow!("cannot reach the node at {}: {error}", self.base)
    }
}

fn decode<T: DeserializeOwned>(
    mut response: ureq::http::Response<ureq::Body>,
) -> anyhow::Result<T> {
    let status = response.status();
    let text = response
        .body_mut()
        .read_to_string()
        .context("reading the node's reply")?;
    if status.is_success() {
        return serde_json::from_str(&text)
            .with_context(|| format!("unexpected reply from the node: {text}"));
    }
    match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => bail!("{} ({})", body.error.message, body.error.code),
        Err(_) => bail!("the node answered {status}: {text}"),
    }
}
