//! `cairn admin`: the users who may administer a node (crate `cairn-access`).

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_access::{Access, AccessError, Actor, Event, Role, SessionObserver, SessionPolicy};

use crate::cli::AdminInitArgs;
use crate::exit::{Failure, USAGE};

/// The file of a node's users and sessions, in its data directory.
pub const ACCESS_FILE: &str = "access.redb";

/// How often the sessions that timed out are cleared.
const MONITOR_EVERY: Duration = Duration::from_secs(30);

/// Writes every session event to the node's log (events hold no password or token).
struct LogObserver;

impl SessionObserver for LogObserver {
    fn on_login(&self, event: &Event) {
        tracing::info!(?event, "admin login");
    }
    fn on_logout(&self, event: &Event) {
        tracing::info!(?event, "admin session ended");
    }
    fn on_failed_login(&self, event: &Event) {
        tracing::warn!(?event, "admin login refused");
    }
    fn on_user_changed(&self, event: &Event) {
        tracing::info!(?event, "admin user changed");
    }
}

/// The admin API's state for the node whose data directory is `data_dir`, with its session
/// monitor running (so it is called within a Tokio runtime).
pub fn admin_state(
    data_dir: &Path,
    http: &crate::config::HttpConfig,
    port: u16,
) -> anyhow::Result<cairn_rpc::admin::AdminState> {
    let remote = http.admin_remote;
    let path = data_dir.join(ACCESS_FILE);
    let access = Arc::new(
        Access::open(&path, http.session_policy())
            .with_context(|| format!("cannot open the node's users in {}", path.display()))?,
    );
    access.observe(Arc::new(LogObserver));
    let monitored = Arc::downgrade(&access);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(MONITOR_EVERY).await;
            let Some(access) = monitored.upgrade() else {
                return;
            };
            let now = cairn_primitives::clock::now_ms();
            match tokio::task::spawn_blocking(move || access.expire(now)).await {
                Ok(Err(error)) => tracing::warn!(%error, "cannot clear expired sessions"),
                Err(error) => tracing::warn!(%error, "cannot clear expired sessions"),
                Ok(Ok(_)) => {}
            }
        }
    });
    let mut state = cairn_rpc::admin::AdminState::new(access, remote);
    state.logs = crate::logs::RECENT.clone();
    state.stop = Some(Arc::new(crate::runtime::request_stop));
    // Browsers share cookies between the ports of a host: each node its own cookie, so a
    // console of one node neither replaces nor receives another's session.
    state.cookie = format!("{}_{port}", cairn_rpc::admin::SESSION_COOKIE);
    state
        .trusted_proxies
        .clone_from(&http.admin_trusted_proxies);
    state.stopping = Some(crate::runtime::stopping());
    Ok(state)
}

/// The user a devnet makes at its first start.
pub const DEVNET_ADMIN: &str = "admin";
/// The file, in a devnet's data directory, that keeps the password it made for
/// [`DEVNET_ADMIN`] (readable by its owner only), so each start can print it.
const DEVNET_PASSWORD_FILE: &str = "devnet-admin-password";

/// A devnet's admin: made at its first start with a random password (kept in the data
/// directory, readable by its owner only); the name and password to print. A devnet whose
/// admins were made otherwise gets `None`.
pub fn devnet_admin(data_dir: &Path) -> anyhow::Result<Option<(String, String)>> {
    // A testnet's node directories are made before their nodes first start.
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let password_file = data_dir.join(DEVNET_PASSWORD_FILE);
    let access = Access::open(data_dir.join(ACCESS_FILE), SessionPolicy::default())?;
    if access.has_users()? {
        return Ok(std::fs::read_to_string(&password_file)
            .ok()
            .map(|password| (DEVNET_ADMIN.to_string(), password.trim().to_string())));
    }
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let password: String = (0..20)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect();
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&password_file)
            .with_context(|| format!("cannot write {}", password_file.display()))?;
        file.write_all(password.as_bytes())?;
        file.sync_all()?;
    }
    access.add_user(
        DEVNET_ADMIN,
        Role::Admin,
        &password,
        Actor::Setup,
        cairn_primitives::clock::now_ms(),
    )?;
    Ok(Some((DEVNET_ADMIN.to_string(), password)))
}

/// `cairn admin init`: the first admin of the node whose data directory is `--data-dir`.
pub fn init(args: &AdminInitArgs, json: bool) -> anyhow::Result<()> {
    cairn_access::check_name(&args.user)
        .map_err(|e| Failure::usage("invalid_argument", format!("--user: {e}")))?;
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("cannot read the password from stdin")?;
    let password = password.trim_end_matches(['\n', '\r']);
    cairn_access::check_password(password)
        .map_err(|e| Failure::usage("invalid_argument", format!("the password: {e}")))?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let path = args.data_dir.join(ACCESS_FILE);
    let access = Access::open(&path, SessionPolicy::default()).map_err(|error| match error {
        AccessError::Database(message) if message.contains("already open") => Failure::new(
            USAGE,
            "node_running",
            format!(
                "{} is in use: stop the node first ({message})",
                path.display()
            ),
        )
        .into(),
        other => anyhow::Error::from(other),
    })?;
    if access.has_users()? {
        return Err(Failure::usage(
            "users_exist",
            format!(
                "{} has users already; the first admin is made only once",
                path.display()
            ),
        )
        .into());
    }
    let user = access.add_user(
        &args.user,
        Role::Admin,
        password,
        Actor::Setup,
        cairn_primitives::clock::now_ms(),
    )?;
    if json {
        println!(
            "{}",
            serde_json::json!({"user": user.name, "role": user.role, "file": path})
        );
    } else {
        println!("Admin {:?} created in {}", user.name, path.display());
    }
    Ok(())
}
