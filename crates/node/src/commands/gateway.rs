//! `cairn gateway`: the transaction gateway's process (crate `cairn-gateway`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_gateway::api::{ApiConfig, GatewayApi};
use cairn_gateway::deliver::{DEFAULT_SCHEDULE, Deliverer, DeliveryPolicy, parse_schedule};
use cairn_gateway::relay::{ChainNodes, Relay, RelayPolicy};
use cairn_gateway::{GatewayStore, Limits};
use serde::Deserialize;
use tracing::info;

use crate::cli::GatewayArgs;
use crate::exit::Failure;

/// What `--config FILE` may hold: the flags' settings, and `[chains]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    chains: BTreeMap<String, Vec<String>>,
    window_s: Option<u64>,
    max_attempts: Option<u32>,
    max_unfinished: Option<u64>,
    max_pending_deliveries: Option<u64>,
    max_receivers: Option<u64>,
    retry_schedule: Option<String>,
    delivery_timeout_s: Option<u64>,
}

/// The gateway's settings, flags over the file over the defaults.
#[derive(Debug, PartialEq)]
struct Settings {
    listen: SocketAddr,
    data_dir: PathBuf,
    chains: BTreeMap<u64, Vec<String>>,
    window_s: u64,
    max_attempts: u32,
    max_unfinished: u64,
    max_pending_deliveries: u64,
    max_receivers: u64,
    retry_schedule: Vec<Duration>,
    delivery_timeout_s: u64,
}

fn invalid(message: String) -> anyhow::Error {
    Failure::usage("invalid_argument", message).into()
}

/// `ID=URL[,URL...]` → the chain id and its URLs.
fn parse_chain(text: &str) -> anyhow::Result<(u64, Vec<String>)> {
    let usage = || invalid(format!("--chain: {text:?} is not ID=URL[,URL...]"));
    let (id, urls) = text.split_once('=').ok_or_else(usage)?;
    let id: u64 = id.trim().parse().map_err(|_| usage())?;
    let urls: Vec<String> = urls
        .split(',')
        .map(|url| url.trim().to_string())
        .filter(|url| !url.is_empty())
        .collect();
    if urls.is_empty() {
        return Err(usage());
    }
    Ok((id, urls))
}

/// `value` from the flag or the file, checked against `range` (the file's values are not
/// checked by clap), or the default.
fn pick<T: PartialOrd + std::fmt::Display + Copy>(
    name: &str,
    flag: Option<T>,
    file: Option<T>,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> anyhow::Result<T> {
    let value = flag.or(file).unwrap_or(default);
    if !range.contains(&value) {
        return Err(invalid(format!(
            "{name} is {value}; it must be {} to {}",
            range.start(),
            range.end()
        )));
    }
    Ok(value)
}

impl Settings {
    fn resolve(args: &GatewayArgs) -> anyhow::Result<Self> {
        let (file, base) = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config {}", path.display()))?;
                let file: GatewayFile = toml::from_str(&text)
                    .map_err(|e| invalid(format!("{}: {}", path.display(), e.message())))?;
                (file, path.parent().unwrap_or(Path::new(".")).to_path_buf())
            }
            None => (GatewayFile::default(), PathBuf::from(".")),
        };
        let mut chains = BTreeMap::new();
        for (id, urls) in &file.chains {
            let id: u64 = id
                .parse()
                .map_err(|_| invalid(format!("[chains]: {id:?} is not a chain id (a number)")))?;
            if urls.is_empty() {
                return Err(invalid(format!("[chains]: chain {id} has no URLs")));
            }
            chains.insert(id, urls.clone());
        }
        let mut from_flags = BTreeSet::new();
        for text in &args.chains {
            let (id, urls) = parse_chain(text)?;
            if !from_flags.insert(id) {
                return Err(invalid(format!("--chain: chain {id} is given twice")));
            }
            chains.insert(id, urls);
        }
        if chains.is_empty() {
            return Err(invalid(
                "give the chains to serve: --chain ID=URL[,URL...], or [chains] in --config".into(),
            ));
        }
        let schedule_text = args
            .retry_schedule
            .clone()
            .or(file.retry_schedule.clone())
            .unwrap_or_else(|| DEFAULT_SCHEDULE.to_string());
        let retry_schedule =
            parse_schedule(&schedule_text).map_err(|e| invalid(format!("retry schedule: {e}")))?;
        Ok(Self {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8600))),
            data_dir: match (&args.data_dir, &file.data_dir) {
                (Some(dir), _) => dir.clone(),
                (None, Some(dir)) => base.join(dir),
                (None, None) => PathBuf::from(".cairn/gateway"),
            },
            chains,
            window_s: pick(
                "window_s",
                args.window_s,
                file.window_s,
                1..=2_592_000,
                86_400,
            )?,
            max_attempts: pick(
                "max_attempts",
                args.max_attempts,
                file.max_attempts,
                1..=100,
                5,
            )?,
            max_unfinished: pick(
                "max_unfinished",
                args.max_unfinished,
                file.max_unfinished,
                1..=100_000_000,
                100_000,
            )?,
            max_pending_deliveries: pick(
                "max_pending_deliveries",
                args.max_pending_deliveries,
                file.max_pending_deliveries,
                1..=100_000_000,
                1_000_000,
            )?,
            max_receivers: pick(
                "max_receivers",
                args.max_receivers,
                file.max_receivers,
                1..=1_000_000,
                10_000,
            )?,
            retry_schedule,
            delivery_timeout_s: pick(
                "delivery_timeout_s",
                args.delivery_timeout_s,
                file.delivery_timeout_s,
                1..=300,
                15,
            )?,
        })
    }
}

/// Runs the gateway until Ctrl-C or SIGTERM.
pub fn run(args: &GatewayArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(args)?;
    let mut chains = BTreeMap::new();
    for (id, urls) in &settings.chains {
        let nodes = ChainNodes::new(*id, urls).map_err(|e| invalid(format!("chain {id}: {e}")))?;
        chains.insert(*id, nodes);
    }
    let data_dir = &settings.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let store = Arc::new(
        GatewayStore::open(data_dir.join("gateway.redb")).with_context(|| {
            format!(
                "cannot open the gateway's database in {}",
                data_dir.display()
            )
        })?,
    );
    store.set_max_pending_deliveries(settings.max_pending_deliveries);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let local = listener.local_addr()?;
        let (accepted, accepted_rx) = tokio::sync::mpsc::unbounded_channel();
        let owed = Arc::new(tokio::sync::Notify::new());
        let served: BTreeSet<u64> = chains.keys().copied().collect();
        let api = GatewayApi::new(
            store.clone(),
            ApiConfig {
                chains: served.clone(),
                limits: Limits {
                    window_ms: settings.window_s * 1_000,
                    max_unfinished: settings.max_unfinished,
                },
                max_receivers: settings.max_receivers,
            },
            cairn_primitives::clock::now_ms,
            accepted,
            owed.clone(),
        );
        let relay = Relay::new(
            store.clone(),
            chains,
            RelayPolicy {
                max_attempts: settings.max_attempts,
                ..RelayPolicy::default()
            },
            cairn_primitives::clock::now_ms,
            owed.clone(),
        );
        let deliverer = Deliverer::new(
            store.clone(),
            DeliveryPolicy {
                schedule: settings.retry_schedule.clone(),
                timeout: Duration::from_secs(settings.delivery_timeout_s),
                ..DeliveryPolicy::default()
            },
            cairn_primitives::clock::now_ms,
        )
        .map_err(|e| anyhow::anyhow!("cannot start delivering notifications: {e}"))?;
        tokio::spawn(relay.run(accepted_rx));
        tokio::spawn(deliverer.run(owed));
        tokio::spawn(expire_keys(store.clone(), settings.window_s * 1_000));
        tokio::spawn(checkpoints(store));
        info!(listen = %local, chains = ?served, "gateway started");
        println!("Listening on http://{local}");
        axum::serve(listener, api.router())
            .with_graceful_shutdown(crate::runtime::shutdown_signal())
            .await
            .context("the gateway's server failed")
    })
}

/// Flushes the writes that were not flushed when they committed, every
/// [`CHECKPOINT_EVERY`](cairn_gateway::store::CHECKPOINT_EVERY).
async fn checkpoints(store: Arc<GatewayStore>) {
    loop {
        tokio::time::sleep(cairn_gateway::store::CHECKPOINT_EVERY).await;
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.checkpoint()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot flush the gateway's database"),
            Err(error) => tracing::warn!(%error, "cannot flush the gateway's database"),
        }
    }
}

/// Forgets idempotency keys older than the window, once a minute.
async fn expire_keys(store: Arc<GatewayStore>, window_ms: u64) {
    loop {
        let store = store.clone();
        let now = cairn_primitives::clock::now_ms();
        match tokio::task::spawn_blocking(move || store.expire_keys(window_ms, now)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(expired)) => info!(expired, "idempotency keys expired"),
            Ok(Err(error)) => tracing::warn!(%error, "cannot expire idempotency keys"),
            Err(error) => tracing::warn!(%error, "cannot expire idempotency keys"),
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &[&str]) -> GatewayArgs {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            gateway: GatewayArgs,
        }
        let mut argv = vec!["gateway"];
        argv.extend_from_slice(line);
        Cli::try_parse_from(argv).unwrap().gateway
    }

    #[test]
    fn flags_override_the_file_which_overrides_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(
            &path,
            r#"
listen = "127.0.0.1:9100"
data_dir = "store"
window_s = 600
max_receivers = 50
retry_schedule = "1s,2s"

[chains]
4242 = ["http://127.0.0.1:8545", "http://127.0.0.1:8546"]
4343 = ["http://127.0.0.1:8645"]
"#,
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let settings = Settings::resolve(&args(&[
            "--config",
            config,
            "--chain",
            "4343=http://10.0.0.1:1",
            "--window-s",
            "60",
        ]))
        .unwrap();
        assert_eq!(settings.listen, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(
            settings.data_dir,
            dir.path().join("store"),
            "relative to the file"
        );
        assert_eq!(settings.window_s, 60, "the flag wins");
        assert_eq!(settings.max_receivers, 50);
        assert_eq!(settings.max_attempts, 5, "the default");
        assert_eq!(
            settings.retry_schedule,
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
        assert_eq!(settings.chains[&4242].len(), 2);
        assert_eq!(
            settings.chains[&4343],
            vec!["http://10.0.0.1:1".to_string()]
        );
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("window_s = 0\n[chains]\n1 = [\"http://a:1\"]", "window_s"),
            ("[chains]\nseven = [\"http://a:1\"]", "seven"),
            ("[chains]\n1 = []", "no URLs"),
            ("colour = 1\n[chains]\n1 = [\"http://a:1\"]", "colour"),
            (
                "retry_schedule = \"5x\"\n[chains]\n1 = [\"http://a:1\"]",
                "retry schedule",
            ),
            ("", "give the chains"),
        ];
        for (index, (text, named)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("{index}.toml"));
            std::fs::write(&path, text).unwrap();
            let error = Settings::resolve(&args(&["--config", path.to_str().unwrap()]))
                .unwrap_err()
                .to_string();
            assert!(error.contains(named), "{text:?}: {error}");
        }
        let twice = Settings::resolve(&args(&[
            "--chain",
            "1=http://a:1",
            "--chain",
            "1=http://b:1",
        ]));
        assert!(twice.unwrap_err().to_string().contains("twice"));
    }
}
