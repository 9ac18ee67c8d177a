//! Running a node: open the chain, start the engine and the API, stop cleanly on a signal.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use cairn_consensus::solo::Solo;
use cairn_consensus::{Consensus, ConsensusStatus, NodeServices};
use cairn_ledger::Chain;
use cairn_mempool::Mempool;
use cairn_primitives::CryptoSuite;
use cairn_primitives::dev::{
    DEV_ACCOUNTS, dev_account_key_for, dev_genesis_for, dev_validator_key,
};
use cairn_primitives::{ConsensusEngine, GenesisConfig, SecretKey};
use cairn_rpc::EngineStatus;
use cairn_rpc::{ApiState, NodeInfo};
use cairn_storage::{StorageError, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{debug, error, info};

use crate::cli::DevnetArgs;
use crate::config::NodeConfig;
use crate::keyfile;

/// The database file inside a data directory.
pub const CHAIN_FILE: &str = "chain.redb";
/// The genesis copy inside a data directory.
pub const GENESIS_FILE: &str = "genesis.json";
/// The validator key a node looks for in its data directory when the config names none.
pub const VALIDATOR_KEY_FILE: &str = "validator.key";

/// Opens the chain database of a data directory that must already hold a chain.
pub fn open_existing_store(data_dir: &Path) -> anyhow::Result<Store> {
    let path = data_dir.join(CHAIN_FILE);
    if !path.exists() {
        bail!(
            "no chain in {} (run `cairn init` or `cairn devnet` first)",
            data_dir.display()
        );
    }
    Store::open(&path).map_err(|e| match e {
        StorageError::InUse(_) => anyhow::anyhow!(
            "the chain in {} is in use by another process (stop the node first)",
            data_dir.display()
        ),
        other => anyhow::Error::new(other).context(format!("cannot open {}", path.display())),
    })
}

/// `cairn init`: creates a data directory holding the chain a genesis file describes.
pub fn init(genesis_path: &Path, data_dir: &Path, json: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(genesis_path)
        .with_context(|| format!("cannot read genesis {}", genesis_path.display()))?;
    let genesis = GenesisConfig::from_json(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", genesis_path.display()))?;
    let hash = initialize_data_dir(data_dir, &genesis)?;
    if json {
        println!(
            "{}",
            serde_json::json!({"genesis_hash": hash, "chain_id": genesis.chain_id, "data_dir": data_dir})
        );
    } else {
        println!(
            "Initialized chain {} (genesis {hash}) in {}",
            genesis.chain_id,
            data_dir.display()
        );
    }
    Ok(())
}

/// Creates (or checks) the chain in `data_dir`; returns the genesis hash.
pub fn initialize_data_dir(
    data_dir: &Path,
    genesis: &GenesisConfig,
) -> anyhow::Result<cairn_primitives::B256> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let store = Store::open(data_dir.join(CHAIN_FILE)).map_err(|e| match e {
        StorageError::InUse(_) => anyhow::anyhow!(
            "the chain in {} is in use by a running node",
            data_dir.display()
        ),
        other => other.into(),
    })?;
    let hash = Chain::initialize(&store, genesis)?;
    std::fs::write(
        data_dir.join(GENESIS_FILE),
        serde_json::to_string_pretty(genesis)? + "\n",
    )?;
    Ok(hash)
}

struct Node {
    engine: Arc<dyn Consensus>,
}

impl NodeInfo for Node {
    fn consensus(&self) -> EngineStatus {
        engine_status(self.engine.status())
    }
}

/// The API's view of an engine's status.
pub fn engine_status(status: ConsensusStatus) -> EngineStatus {
    EngineStatus {
        engine: status.engine,
        validator_index: status.validator_index,
        leader_index: status.leader_index,
        peers: status.peers,
    }
}

/// This node's validator key: the configured file, or `<data_dir>/validator.key` if present.
pub fn validator_key(config: &NodeConfig) -> anyhow::Result<Option<SecretKey>> {
    let path = match &config.consensus.validator_key {
        Some(path) => path.clone(),
        None => {
            let default = config.data_dir.join(VALIDATOR_KEY_FILE);
            if !default.exists() {
                return Ok(None);
            }
            default
        }
    };
    keyfile::read_node_key(&path).map(Some)
}

/// Text printed once the API listens, made from the open chain and the address it listens on
/// (so a devnet shows current balances and the `--node` to use).
pub type Banner = Box<dyn FnOnce(&Chain, std::net::SocketAddr) -> String + Send>;

/// Runs a node until Ctrl-C or SIGTERM: creates its chain from the configured genesis on the
/// first start, then runs the configured engine. `banner` is printed once the API listens.
pub fn run(
    config: NodeConfig,
    key_override: Option<SecretKey>,
    banner: Option<Banner>,
) -> anyhow::Result<()> {
    if !config.data_dir.join(CHAIN_FILE).exists()
        && let Some(genesis_path) = &config.genesis
    {
        let text = std::fs::read_to_string(genesis_path)
            .with_context(|| format!("cannot read genesis {}", genesis_path.display()))?;
        let genesis = GenesisConfig::from_json(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", genesis_path.display()))?;
        let hash = initialize_data_dir(&config.data_dir, &genesis)?;
        info!(genesis = %hash, data_dir = %config.data_dir.display(), "created the chain from genesis");
    }
    let store = open_existing_store(&config.data_dir)?;
    let genesis = store
        .genesis()?
        .context("the chain database holds no genesis document")?;
    match config.engine_for(genesis.engine())? {
        ConsensusEngine::Solo => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run_solo(config, store, key_override, banner)),
        ConsensusEngine::Bft => crate::bft_node::run(config, store, key_override, banner),
    }
}

/// The single-validator node.
async fn run_solo(
    config: NodeConfig,
    store: Store,
    key_override: Option<SecretKey>,
    banner: Option<Banner>,
) -> anyhow::Result<()> {
    let chain = Arc::new(Chain::open(store)?);
    let pool = Arc::new(Mempool::new(
        config.pool.pool_config(chain.chain_id(), chain.suite()),
    ));
    restore_pool(&config.data_dir, &pool, &chain)?;
    let services = NodeServices {
        chain: chain.clone(),
        pool: pool.clone(),
    };
    let key = match key_override {
        Some(key) => Some(key),
        None => validator_key(&config)?,
    };
    let key = key.context(
        "solo consensus needs this node's validator key: set consensus.validator_key \
         or put the key file at <data_dir>/validator.key",
    )?;
    let engine: Arc<dyn Consensus> = Arc::new(Solo::new(services, key, config.consensus.solo())?);
    let listener = TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.http.listen))?;
    let local = listener.local_addr()?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let api = ApiState {
        chain: chain.clone(),
        pool: pool.clone(),
        node: Arc::new(Node {
            engine: engine.clone(),
        }),
        admin: Some(crate::commands::admin::admin_state(
            &config.data_dir,
            &config.http,
            local.port(),
        )?),
    };
    let mut api_shutdown = shutdown_rx.clone();
    let server = tokio::spawn(cairn_rpc::serve(listener, api, async move {
        let _ = api_shutdown.wait_for(|stop| *stop).await;
    }));
    let mut consensus = tokio::spawn(engine.clone().run(shutdown_rx.clone()));
    tokio::spawn(log_blocks(chain.clone()));

    let head = chain.head();
    info!(
        chain_id = chain.chain_id(),
        height = head.height,
        head = %head.hash(chain.suite()),
        http = %local,
        "node started"
    );
    journal_restored(&config.data_dir);
    if let Some(banner) = banner {
        println!("{}", banner(&chain, local));
    }
    println!("Listening on http://{local}");

    let engine_result = tokio::select! {
        _ = shutdown_signal() => {
            info!("shutting down");
            None
        }
        result = &mut consensus => Some(result),
    };
    let _ = shutdown_tx.send(true);
    let engine_result = match engine_result {
        Some(result) => result,
        // Let the engine finish the block it may be committing.
        None => consensus.await,
    };
    // Open connections get a few seconds to finish; then the process exits regardless.
    if tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .is_err()
    {
        info!("HTTP connections still open at shutdown; closing them");
    }
    // Nothing is admitted or committed any more: what the pool holds waits for the next start.
    journal_pool(&config.data_dir, &pool);
    match engine_result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            error!(error = %e, "consensus stopped");
            Err(e.into())
        }
        Err(e) => bail!("consensus task failed: {e}"),
    }
}

/// Admits again the transfers journaled at the last clean stop. Returns the ones admitted (a
/// BFT node gossips them). The journal stays until [`journal_restored`] is called once the
/// node serves, so a start that fails after this loses nothing.
pub fn restore_pool(
    data_dir: &Path,
    pool: &Mempool,
    chain: &Chain,
) -> anyhow::Result<Vec<cairn_primitives::SignedTransaction>> {
    let loaded = crate::journal::load(data_dir)
        .with_context(|| format!("cannot read {}", crate::journal::path(data_dir).display()))?;
    if let Some(damage) = &loaded.damage {
        tracing::warn!(%damage, "the pool journal is damaged; keeping the entries before it");
    }
    if loaded.transactions.is_empty() && loaded.damage.is_none() {
        return Ok(Vec::new());
    }
    let results = pool.admit(loaded.transactions.clone(), chain);
    let admitted: Vec<_> = loaded
        .transactions
        .into_iter()
        .zip(&results)
        .filter(|(_, result)| result.is_ok())
        .map(|(tx, _)| tx)
        .collect();
    // What is refused now (committed meanwhile, or no longer valid) is simply not restored.
    info!(
        restored = admitted.len(),
        refused = results.len() - admitted.len(),
        "transfers from the pool journal are back in the pool"
    );
    Ok(admitted)
}

/// Removes the journal once the node serves with its transfers back in the pool.
pub fn journal_restored(data_dir: &Path) {
    if let Err(e) = crate::journal::remove(data_dir) {
        error!(error = %e, "cannot remove the pool journal; its transfers would be offered again at the next start");
    }
}

/// Journals the pool's transfers on a clean stop, so the next start has them again.
pub fn journal_pool(data_dir: &Path, pool: &Mempool) {
    let held = pool.all();
    if held.is_empty() {
        return;
    }
    match crate::journal::save(data_dir, &held) {
        Ok(()) => info!(transfers = held.len(), "pool journaled for the next start"),
        Err(e) => error!(error = %e, "cannot journal the pool; its transfers are lost"),
    }
}

/// Logs every committed block (empty ones at debug level).
pub async fn log_blocks(chain: Arc<Chain>) {
    let mut events = chain.subscribe();
    let suite = chain.suite();
    loop {
        match events.recv().await {
            Ok(block) => {
                let header = &block.block.header;
                let txs = block.block.transactions.len();
                if txs == 0 {
                    debug!(height = header.height, hash = %header.hash(suite), "committed empty block");
                } else {
                    info!(height = header.height, hash = %header.hash(suite), txs, "committed block");
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Completes on Ctrl-C, SIGTERM, or a stop asked through the admin API.
pub async fn shutdown_signal() {
    let asked = async {
        let mut asked = STOP.subscribe();
        let _ = asked.wait_for(|stop| *stop).await;
    };
    tokio::select! {
        _ = asked => {}
        _ = os_signal() => {}
    }
    // Whatever asked, everything that watches for the stop hears of it (the admin feed
    // closes its sockets, so the server need not wait for them).
    request_stop();
}

/// Becomes true once the node is stopping, by signal or through the admin API.
pub fn stopping() -> watch::Receiver<bool> {
    STOP.subscribe()
}

/// Set when the node is asked to stop through the admin API.
static STOP: std::sync::LazyLock<watch::Sender<bool>> =
    std::sync::LazyLock::new(|| watch::channel(false).0);

/// Asks the node to stop as SIGTERM does.
pub fn request_stop() {
    STOP.send_replace(true);
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn os_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return ctrl_c.await,
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await;
}

/// The development accounts of a `suite` chain and their (public) keys, as `anvil` lists
/// them, with each balance as `balance` gives it.
pub fn dev_accounts_banner(
    suite: CryptoSuite,
    balance: impl Fn(&cairn_primitives::Address) -> u128,
) -> String {
    let mut banner = format!(
        "Available accounts ({} keys)\n==================\n",
        suite.key_kind()
    );
    for index in 0..DEV_ACCOUNTS {
        let address = dev_account_key_for(suite, index).address();
        banner.push_str(&format!(
            "({index}) {address:#x} ({} base units)\n",
            balance(&address)
        ));
    }
    banner.push_str("\nPrivate keys (public knowledge: development only)\n==================\n");
    for index in 0..DEV_ACCOUNTS {
        banner.push_str(&format!(
            "({index}) 0x{}\n",
            hex::encode(dev_account_key_for(suite, index).to_bytes())
        ));
    }
    banner
}

/// `cairn devnet`: creates (or resumes) a one-validator development chain and runs it.
pub fn devnet(args: DevnetArgs) -> anyhow::Result<()> {
    if args.validators > 1 {
        return crate::commands::testnet::run_devnet(&args);
    }
    let data_dir: PathBuf = args
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(".cairn/devnet"));
    let resumed = data_dir.join(CHAIN_FILE).exists();
    let created = !data_dir.exists();
    // A port in use is refused before anything is written; a start that fails later removes
    // the directory it made. Either way no half-made data directory is left behind.
    std::net::TcpListener::bind(args.http)
        .with_context(|| format!("cannot listen on {}", args.http))?;
    let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let result = run_devnet_node(&args, &data_dir, resumed, started.clone());
    if result.is_err() && created && !started.load(std::sync::atomic::Ordering::SeqCst) {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

/// Creates (unless `resumed`) and runs the one-validator devnet in `data_dir`; `started` is
/// set once it serves.
fn run_devnet_node(
    args: &DevnetArgs,
    data_dir: &Path,
    resumed: bool,
    started: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<()> {
    let data_dir = data_dir.to_path_buf();
    if resumed {
        let store = open_existing_store(&data_dir)?;
        let genesis = store
            .genesis()?
            .ok_or_else(|| anyhow::anyhow!("{} holds no genesis", data_dir.display()))?;
        if genesis.crypto != args.crypto {
            bail!(
                "the devnet in {} uses --crypto {}, not {}: give --crypto {} to resume it, or another --data-dir",
                data_dir.display(),
                genesis.crypto,
                args.crypto,
                genesis.crypto
            );
        }
        let stored = genesis.chain_id;
        if stored != args.chain_id {
            bail!(
                "the devnet in {} has chain id {stored}, not {}: give another --data-dir for a second chain",
                data_dir.display(),
                args.chain_id
            );
        }
    } else {
        let mut genesis = dev_genesis_for(args.crypto, 1, cairn_ledger::now_ms());
        genesis.chain_id = args.chain_id;
        initialize_data_dir(&data_dir, &genesis)?;
    }
    let mut config = NodeConfig::for_data_dir(data_dir.clone());
    config.http.listen = args.http;
    config.http.admin_session_idle_s = args.admin_session_idle_s;
    config.consensus.block_interval_ms = args.block_time_ms.max(1);
    config.consensus.min_block_transactions = args.min_block_txs as usize;
    config.validate()?;
    let (interval, min_txs) = (
        config.consensus.block_interval_ms,
        config.consensus.min_block_transactions,
    );
    let admin = crate::commands::admin::devnet_admin(&data_dir)?;
    let banner: Banner = Box::new(move |chain: &Chain, listen| {
        started.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut banner = format!(
            "Cairn devnet ({} {}, height {})\n\n",
            if resumed {
                "resumed from"
            } else {
                "created in"
            },
            data_dir.display(),
            chain.head().height,
        );
        banner.push_str(&dev_accounts_banner(chain.suite(), |address| {
            chain
                .account(address, None)
                .ok()
                .flatten()
                .map_or(0, |account| account.balance)
        }));
        banner.push_str(&format!(
            "\nChain id {}, crypto suite {}; a block every {interval} ms (empty or not), or as \
             soon as {min_txs} transfers are ready.\n\
             Send one: cairn tx transfer --node http://{listen} --dev 0 --to {:#x} --amount 1000 --wait",
            chain.chain_id(),
            chain.suite(),
            dev_account_key_for(chain.suite(), 1).address(),
        ));
        banner.push_str(&format!("\nConsole: http://{listen}/"));
        if let Some((user, password)) = &admin {
            banner.push_str(&format!(
                "\nAdmin (console and `cairn shell --node http://{listen}`): user {user}, \
                 password {password}"
            ));
        }
        banner
    });
    run(config, Some(dev_validator_key(0)), Some(banner))
}
