//! `cairn admin`: the users who may administer a node (crate `cairn-access`).

use std::io::BufRead;

use anyhow::Context;
use cairn_access::{Access, AccessError, Role, SessionPolicy};

use crate::cli::AdminInitArgs;
use crate::exit::{Failure, USAGE};

/// The file of a node's users and sessions, in its data directory.
pub const ACCESS_FILE: &str = "access.redb";

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
