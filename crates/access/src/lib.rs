//! Who may administer a Cairn node (seed 003, sections 3.1 and 3.4): users with a role
//! (`admin`, `operator`, `viewer`) and an argon2id password hash, the sessions they hold after
//! logging in, and the events of those sessions.
//!
//! - A session is an opaque random token, 32 bytes shown as hex. The store keeps only its
//!   SHA-256, so a copy of the database opens no session. A session ends when it is idle for
//!   [`SessionPolicy::idle`], when it is older than [`SessionPolicy::absolute`], at logout, when
//!   an admin revokes it, or when its user's password or role changes or the user is deleted.
//! - [`Access::expire`] is the seed's `MsessionMonitor`: it clears the sessions that timed out.
//!   [`SessionObserver`] is its `MsessionObserver`: every login, logout, expiry, revocation and
//!   failed login is an [`Event`], kept in an audit trail and passed to each observer.
//! - Failed logins are limited per user and address: after [`MAX_FAILURES`] within
//!   [`FAILURE_WINDOW_MS`], that pair is refused until the window has passed.
//!
//! Everything lives in one redb database (`access.redb` in the node's data directory), so the
//! node and `cairn admin init` (run with the node stopped: redb holds a lock on the file) see
//! the same users.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// user name -> JSON of its [`User`].
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// SHA-256 of a session's token -> JSON of its [`Session`].
const SESSIONS: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("sessions");
/// sequence -> JSON of an [`Event`].
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Failed logins of one user from one address allowed within [`FAILURE_WINDOW_MS`].
pub const MAX_FAILURES: u32 = 5;
/// The window failed logins are counted in.
pub const FAILURE_WINDOW_MS: u64 = 15 * 60_000;
/// Shortest password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Longest password a login checks, in bytes (argon2 takes any length; this bounds the work a
/// login costs, and holds every password of [`MAX_PASSWORD_CHARS`]).
pub const MAX_PASSWORD_BYTES: usize = 4 * MAX_PASSWORD_CHARS;
/// How often a session's use is written down.
const SEEN_EVERY_MS: u64 = 30_000;
/// Most events kept in the audit trail; older ones are dropped.
pub const MAX_AUDIT_EVENTS: u64 = 100_000;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The store failed.
    #[error("access database: {0}")]
    Database(String),
    /// A name, password or role that cannot be used.
    #[error("{0}")]
    Invalid(String),
    /// No such user.
    #[error("no user {0:?}")]
    UnknownUser(String),
    /// The user exists already.
    #[error("user {0:?} exists already")]
    UserExists(String),
    /// The name or the password is wrong (which one is not said).
    #[error("wrong user name or password")]
    BadCredentials,
    /// Too many failed logins of this user from this address.
    #[error("too many failed logins; try again in {retry_after_s} s")]
    Locked {
        /// Seconds until logins are taken again.
        retry_after_s: u64,
    },
    /// The token opens no session: unknown, expired, logged out or revoked.
    #[error("no such session, or it has ended; log in again")]
    NoSession,
    /// The change would leave the node without an admin.
    #[error("the last admin cannot be deleted or lose the admin role")]
    LastAdmin,
    /// The acting user may not make this change (checked in the change's own write).
    #[error("{0}")]
    Forbidden(String),
}

/// Who makes a change to the users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// `cairn admin init` (or a devnet's first start), with the node stopped: the operator of
    /// the machine.
    Setup,
    /// A logged-in user, by name. Its role is checked again inside the change's write, so a
    /// user demoted a moment before cannot act on the old role.
    User(&'a str),
}

impl Actor<'_> {
    fn name(&self) -> &str {
        match self {
            Actor::Setup => "(setup)",
            Actor::User(name) => name,
        }
    }
}

macro_rules! database_errors {
    ($($error:ty),*) => {$(
        impl From<$error> for AccessError {
            fn from(error: $error) -> Self {
                AccessError::Database(error.to_string())
            }
        }
    )*};
}
database_errors!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError,
    serde_json::Error
);

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the admin pages: status, peers, pool, logs.
    Viewer,
    /// A viewer who may also act on the node (stop it).
    Operator,
    /// An operator who may also manage users.
    Admin,
}

impl Role {
    /// Whether this role may do what `required` may.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }

    /// `admin`, `operator` or `viewer`.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = AccessError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "admin" => Ok(Self::Admin),
            "operator" => Ok(Self::Operator),
            "viewer" => Ok(Self::Viewer),
            other => Err(AccessError::Invalid(format!(
                "a role is admin, operator or viewer, not {other:?}"
            ))),
        }
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredUser {
    name: String,
    role: Role,
    /// The argon2id hash in PHC form.
    password_hash: String,
    created_ms: u64,
    password_changed_ms: u64,
}

/// A user, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was added (ms since the epoch).
    pub created_ms: u64,
    /// When its password last changed.
    pub password_changed_ms: u64,
}

impl From<StoredUser> for User {
    fn from(user: StoredUser) -> Self {
        Self {
            name: user.name,
            role: user.role,
            created_ms: user.created_ms,
            password_changed_ms: user.password_changed_ms,
        }
    }
}

/// A session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its public id: the first 16 hex digits of its token's SHA-256 (names it for listing
    /// and revoking; opens nothing).
    pub id: String,
    /// Its user.
    pub user: String,
    /// Where the login came from.
    pub address: String,
    /// When it began (ms since the epoch).
    pub created_ms: u64,
    /// When it was last used.
    pub last_seen_ms: u64,
}

/// When sessions end on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Unused this long (ms), a session ends.
    pub idle_ms: u64,
    /// This long (ms) after login, a session ends however much it is used.
    pub absolute_ms: u64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_ms: 30 * 60_000,
            absolute_ms: 12 * 3_600_000,
        }
    }
}

/// Something that happened to a session, or a login that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A login.
    Login {
        /// The user.
        user: String,
        /// The session.
        session: String,
        /// Where from.
        address: String,
        /// When (ms since the epoch).
        at_ms: u64,
    },
    /// A logout.
    Logout {
        /// The user.
        user: String,
        /// The session.
        session: String,
        /// When.
        at_ms: u64,
    },
    /// A session that timed out.
    Expired {
        /// The user.
        user: String,
        /// The session.
        session: String,
        /// When.
        at_ms: u64,
    },
    /// A session ended by someone else: an admin, or a change to its user.
    Revoked {
        /// The user.
        user: String,
        /// The session.
        session: String,
        /// Why.
        reason: String,
        /// When.
        at_ms: u64,
    },
    /// A user added, deleted, or given a new role or password.
    UserChanged {
        /// The user changed.
        user: String,
        /// Who changed it (`(setup)` for `cairn admin init`).
        by: String,
        /// What changed: `added as viewer`, `deleted`, `role set to admin`, `password changed`.
        change: String,
        /// When.
        at_ms: u64,
    },
    /// A login refused.
    FailedLogin {
        /// The name given.
        user: String,
        /// Where from.
        address: String,
        /// Why (`bad_credentials` or `locked`).
        reason: String,
        /// When.
        at_ms: u64,
    },
}

/// Told of every [`Event`] (seed 003's `MsessionObserver`, with its `onLogin` and
/// `onLogout`). Called after the event is stored; keep it quick.
pub trait SessionObserver: Send + Sync {
    /// A user logged in.
    fn on_login(&self, _event: &Event) {}
    /// A session ended: logout, expiry or revocation.
    fn on_logout(&self, _event: &Event) {}
    /// A login was refused.
    fn on_failed_login(&self, _event: &Event) {}
    /// A user was added, deleted, or given a new role or password.
    fn on_user_changed(&self, _event: &Event) {}
}

/// Failed logins of one (user, address).
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since_ms: u64,
}

/// Users, sessions and their events.
pub struct Access {
    db: Database,
    policy: SessionPolicy,
    observers: Mutex<Vec<Arc<dyn SessionObserver>>>,
    failures: Mutex<HashMap<(String, String), Failures>>,
    /// A hash checked when the user is unknown, so a wrong name costs what a wrong password
    /// does (the time of a login says nothing of which names exist).
    decoy: String,
    /// Held while an argon2 check runs: one at a time.
    argon2_turn: Mutex<()>,
}

/// The address recorded for a wrong current password given to change one's own.
pub const PASSWORD_CHANGE: &str = "(password change)";

/// The name a failed login of a name no user has is recorded under.
pub const UNKNOWN_USER: &str = "(unknown user)";

/// Most (user, address) pairs whose failed logins are counted at once.
const MAX_TRACKED_PAIRS: usize = 100_000;

fn hash_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn public_id(hash: &[u8; 32]) -> String {
    hex::encode(&hash[..8])
}

fn hash_password(password: &str) -> Result<String, AccessError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| AccessError::Invalid(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AccessError::Invalid(e.to_string()))?
        .to_string())
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Checks a user name: 1 to 64 of `A-Z a-z 0-9 _ . -`.
pub fn check_name(name: &str) -> Result<(), AccessError> {
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if fine {
        Ok(())
    } else {
        Err(AccessError::Invalid(
            "a user name is 1 to 64 of A-Z, a-z, 0-9, _, . and -".into(),
        ))
    }
}

/// Checks a password: [`MIN_PASSWORD_CHARS`] to [`MAX_PASSWORD_CHARS`] characters.
pub fn check_password(password: &str) -> Result<(), AccessError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return Err(AccessError::Invalid(format!(
            "a password is {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

impl Access {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: impl AsRef<Path>, policy: SessionPolicy) -> Result<Self, AccessError> {
        let path = path.as_ref();
        // The file holds the password hashes: readable by the node's user only.
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| AccessError::Database(format!("{}: {e}", path.display())))?;
        }
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(USERS)?;
        txn.open_table(SESSIONS)?;
        txn.open_table(AUDIT)?;
        txn.commit()?;
        Ok(Self {
            db,
            policy,
            observers: Mutex::default(),
            failures: Mutex::default(),
            decoy: hash_password("not any user's password")?,
            argon2_turn: Mutex::new(()),
        })
    }

    /// Adds an observer of every event from now on.
    pub fn observe(&self, observer: Arc<dyn SessionObserver>) {
        self.observers.lock().push(observer);
    }

    fn durable_write(&self) -> Result<redb::WriteTransaction, AccessError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)?;
        Ok(txn)
    }

    /// Stores `events` in the audit trail (dropping the oldest past [`MAX_AUDIT_EVENTS`]),
    /// inside `txn`.
    fn record(txn: &redb::WriteTransaction, events: &[Event]) -> Result<(), AccessError> {
        let mut audit = txn.open_table(AUDIT)?;
        let first = audit.last()?.map_or(0, |(key, _)| key.value() + 1);
        for (sequence, event) in (first..).zip(events) {
            audit.insert(sequence, serde_json::to_vec(event)?.as_slice())?;
        }
        while audit.len()? > MAX_AUDIT_EVENTS {
            audit.pop_first()?;
        }
        Ok(())
    }

    fn tell(&self, events: &[Event]) {
        let observers = self.observers.lock().clone();
        for event in events {
            for observer in &observers {
                match event {
                    Event::Login { .. } => observer.on_login(event),
                    Event::FailedLogin { .. } => observer.on_failed_login(event),
                    Event::UserChanged { .. } => observer.on_user_changed(event),
                    _ => observer.on_logout(event),
                }
            }
        }
    }

    fn user_in(
        txn: &redb::WriteTransaction,
        name: &str,
    ) -> Result<Option<StoredUser>, AccessError> {
        Ok(txn
            .open_table(USERS)?
            .get(name)?
            .map(|value| serde_json::from_slice(value.value()))
            .transpose()?)
    }

    /// Checks, inside the change's write, that `by` may change `name`: an admin may change
    /// anyone; a user only its own password (`own_password`).
    fn check_actor(
        txn: &redb::WriteTransaction,
        by: Actor,
        name: &str,
        own_password: bool,
    ) -> Result<(), AccessError> {
        let Actor::User(by) = by else {
            return Ok(());
        };
        let role = Self::user_in(txn, by)?.map(|user| user.role);
        match role {
            Some(Role::Admin) => Ok(()),
            Some(_) if own_password && by == name => Ok(()),
            Some(_) => Err(AccessError::Forbidden(format!(
                "{by} is not an admin: only an admin changes other users"
            ))),
            None => Err(AccessError::NoSession),
        }
    }

    fn admins_in(txn: &redb::WriteTransaction) -> Result<usize, AccessError> {
        let mut admins = 0;
        for entry in txn.open_table(USERS)?.iter()? {
            let (_, value) = entry?;
            let user: StoredUser = serde_json::from_slice(value.value())?;
            admins += usize::from(user.role == Role::Admin);
        }
        Ok(admins)
    }

    /// Ends every session of `user` inside `txn`; the events.
    fn end_sessions_of(
        txn: &redb::WriteTransaction,
        user: &str,
        reason: &str,
        now_ms: u64,
    ) -> Result<Vec<Event>, AccessError> {
        let mut sessions = txn.open_table(SESSIONS)?;
        let mut ended = Vec::new();
        for entry in sessions.iter()? {
            let (key, value) = entry?;
            let session: Session = serde_json::from_slice(value.value())?;
            if session.user == user {
                ended.push((key.value(), session));
            }
        }
        let mut events = Vec::new();
        for (key, session) in ended {
            sessions.remove(key)?;
            events.push(Event::Revoked {
                user: session.user,
                session: session.id,
                reason: reason.to_string(),
                at_ms: now_ms,
            });
        }
        Ok(events)
    }

    fn user(&self, name: &str) -> Result<Option<StoredUser>, AccessError> {
        Ok(self
            .db
            .begin_read()?
            .open_table(USERS)?
            .get(name)?
            .map(|value| serde_json::from_slice(value.value()))
            .transpose()?)
    }

    /// Counts an attempt of `pair` (a user and where it comes from) against the limit of
    /// [`MAX_FAILURES`] per [`FAILURE_WINDOW_MS`], before the password is checked, so attempts
    /// made at once cannot all pass; `Err` with the seconds left if the pair is locked.
    fn count_attempt(&self, pair: &(String, String), now_ms: u64) -> Result<(), u64> {
        let mut failures = self.failures.lock();
        let entry = failures.entry(pair.clone()).or_insert(Failures {
            count: 0,
            since_ms: now_ms,
        });
        if now_ms >= entry.since_ms.saturating_add(FAILURE_WINDOW_MS) {
            *entry = Failures {
                count: 0,
                since_ms: now_ms,
            };
        }
        if entry.count >= MAX_FAILURES {
            let left = entry.since_ms + FAILURE_WINDOW_MS - now_ms;
            return Err(left.div_ceil(1_000));
        }
        entry.count += 1;
        // Bounded: forget windows that have passed once the map grows, and past a hard
        // bound, every count (a flood of pairs must not exhaust memory).
        if failures.len() > MAX_TRACKED_PAIRS {
            failures.retain(|_, f| now_ms < f.since_ms.saturating_add(FAILURE_WINDOW_MS));
            if failures.len() > MAX_TRACKED_PAIRS {
                failures.clear();
            }
        }
        Ok(())
    }

    /// Whether any user exists.
    pub fn has_users(&self) -> Result<bool, AccessError> {
        Ok(self.db.begin_read()?.open_table(USERS)?.len()? > 0)
    }

    /// Adds a user.
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        password: &str,
        by: Actor,
        now_ms: u64,
    ) -> Result<User, AccessError> {
        check_name(name)?;
        check_password(password)?;
        let user = StoredUser {
            name: name.to_string(),
            role,
            password_hash: self.hash(password)?,
            created_ms: now_ms,
            password_changed_ms: now_ms,
        };
        let txn = self.durable_write()?;
        Self::check_actor(&txn, by, name, false)?;
        if Self::user_in(&txn, name)?.is_some() {
            return Err(AccessError::UserExists(name.to_string()));
        }
        txn.open_table(USERS)?
            .insert(name, serde_json::to_vec(&user)?.as_slice())?;
        let events = vec![Event::UserChanged {
            user: name.to_string(),
            by: by.name().to_string(),
            change: format!("added as {}", role.name()),
            at_ms: now_ms,
        }];
        self.finish(txn, events)?;
        Ok(user.into())
    }

    /// An argon2 hash of `password`, made one at a time (each takes about 19 MiB and a
    /// core's worth of work).
    fn hash(&self, password: &str) -> Result<String, AccessError> {
        let _turn = self.argon2_turn.lock();
        hash_password(password)
    }

    /// Deletes a user and ends its sessions; the last admin cannot be deleted.
    pub fn delete_user(&self, name: &str, by: Actor, now_ms: u64) -> Result<(), AccessError> {
        let txn = self.durable_write()?;
        Self::check_actor(&txn, by, name, false)?;
        let user =
            Self::user_in(&txn, name)?.ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
        if user.role == Role::Admin && Self::admins_in(&txn)? <= 1 {
            return Err(AccessError::LastAdmin);
        }
        txn.open_table(USERS)?.remove(name)?;
        let mut events = vec![Event::UserChanged {
            user: name.to_string(),
            by: by.name().to_string(),
            change: "deleted".into(),
            at_ms: now_ms,
        }];
        events.extend(Self::end_sessions_of(
            &txn,
            name,
            "the user was deleted",
            now_ms,
        )?);
        self.finish(txn, events)
    }

    /// Changes a user's role and ends its sessions; the last admin keeps the admin role.
    pub fn set_role(
        &self,
        name: &str,
        role: Role,
        by: Actor,
        now_ms: u64,
    ) -> Result<User, AccessError> {
        let txn = self.durable_write()?;
        Self::check_actor(&txn, by, name, false)?;
        let mut user =
            Self::user_in(&txn, name)?.ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
        if user.role == Role::Admin && role != Role::Admin && Self::admins_in(&txn)? <= 1 {
            return Err(AccessError::LastAdmin);
        }
        user.role = role;
        txn.open_table(USERS)?
            .insert(name, serde_json::to_vec(&user)?.as_slice())?;
        let mut events = vec![Event::UserChanged {
            user: name.to_string(),
            by: by.name().to_string(),
            change: format!("role set to {}", role.name()),
            at_ms: now_ms,
        }];
        events.extend(Self::end_sessions_of(
            &txn,
            name,
            "the user's role changed",
            now_ms,
        )?);
        self.finish(txn, events)?;
        Ok(user.into())
    }

    /// Changes a user's password and ends its sessions. A user changing its own password
    /// gives its `current` one too (a session left open is not enough to take the account).
    pub fn set_password(
        &self,
        name: &str,
        password: &str,
        current: Option<&str>,
        by: Actor,
        now_ms: u64,
    ) -> Result<(), AccessError> {
        check_password(password)?;
        // The hash the current password was checked against: the change is made only if it
        // is still the user's (an admin's reset in between wins).
        let mut verified: Option<String> = None;
        if by == Actor::User(name) {
            let stored = self
                .user(name)?
                .ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
            let current = current.ok_or_else(|| {
                AccessError::Invalid("give the current password to change your own".into())
            })?;
            // Guesses of the current password are limited as logins are: a session left
            // open must not become a way to find the password.
            let pair = (name.to_string(), PASSWORD_CHANGE.to_string());
            self.count_attempt(&pair, now_ms)
                .map_err(|retry_after_s| AccessError::Locked { retry_after_s })?;
            let matches = current.len() <= MAX_PASSWORD_BYTES && {
                let _turn = self.argon2_turn.lock();
                password_matches(current, &stored.password_hash)
            };
            if !matches {
                self.store_and_tell(vec![Event::FailedLogin {
                    user: name.to_string(),
                    address: PASSWORD_CHANGE.to_string(),
                    reason: "wrong_current_password".into(),
                    at_ms: now_ms,
                }])?;
                return Err(AccessError::Forbidden(
                    "the current password is wrong".into(),
                ));
            }
            self.failures.lock().remove(&pair);
            verified = Some(stored.password_hash);
        }
        let hash = self.hash(password)?;
        let txn = self.durable_write()?;
        Self::check_actor(&txn, by, name, true)?;
        let mut user =
            Self::user_in(&txn, name)?.ok_or_else(|| AccessError::UnknownUser(name.to_string()))?;
        if verified.is_some_and(|verified| verified != user.password_hash) {
            return Err(AccessError::Forbidden(
                "the password changed meanwhile; give the new current password".into(),
            ));
        }
        user.password_hash = hash;
        user.password_changed_ms = now_ms;
        txn.open_table(USERS)?
            .insert(name, serde_json::to_vec(&user)?.as_slice())?;
        let mut events = vec![Event::UserChanged {
            user: name.to_string(),
            by: by.name().to_string(),
            change: "password changed".into(),
            at_ms: now_ms,
        }];
        events.extend(Self::end_sessions_of(
            &txn,
            name,
            "the user's password changed",
            now_ms,
        )?);
        self.finish(txn, events)
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>, AccessError> {
        let txn = self.db.begin_read()?;
        let mut users = Vec::new();
        for entry in txn.open_table(USERS)?.iter()? {
            let (_, value) = entry?;
            users.push(serde_json::from_slice::<StoredUser>(value.value())?.into());
        }
        Ok(users)
    }

    /// Logs `name` in from `address`: a new session and its token (shown once; the store
    /// keeps its hash). Refused for a wrong name or password, and while the pair is locked.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        address: &str,
        now_ms: u64,
    ) -> Result<(String, Session), AccessError> {
        // A name no user can have is neither stored, nor logged, nor a key of the limit: it
        // is refused after the same argon2 check a wrong password costs.
        if check_name(name).is_err() || address.len() > 64 {
            if password.len() <= MAX_PASSWORD_BYTES {
                let _turn = self.argon2_turn.lock();
                password_matches(password, &self.decoy);
            }
            return Err(AccessError::BadCredentials);
        }
        let pair = (name.to_string(), address.to_string());
        // The attempt is counted before the password is checked, so attempts made at once
        // cannot all pass the limit.
        if let Err(retry_after_s) = self.count_attempt(&pair, now_ms) {
            // Told, not stored: a locked pair's tries must not fill the audit trail. A name
            // that is no user's is not told either (it may be a password).
            let known = self.user(name)?.is_some();
            self.tell(&[Event::FailedLogin {
                user: if known {
                    name.to_string()
                } else {
                    UNKNOWN_USER.to_string()
                },
                address: address.to_string(),
                reason: "locked".into(),
                at_ms: now_ms,
            }]);
            return Err(AccessError::Locked { retry_after_s });
        }
        let stored = self.user(name)?;
        let valid = password.len() <= MAX_PASSWORD_BYTES && {
            // One argon2 check at a time: each takes about 19 MiB and a core's worth of work.
            let _turn = self.argon2_turn.lock();
            match &stored {
                Some(user) => password_matches(password, &user.password_hash),
                None => {
                    password_matches(password, &self.decoy);
                    false
                }
            }
        };
        let known = stored.is_some();
        let Some(user) = stored.filter(|_| valid) else {
            self.store_and_tell(vec![Event::FailedLogin {
                // A name that is no user's is not written down: people type their password
                // into the name field, and the trail and the log must not keep it.
                user: if known {
                    name.to_string()
                } else {
                    UNKNOWN_USER.to_string()
                },
                address: address.to_string(),
                reason: "bad_credentials".into(),
                at_ms: now_ms,
            }])?;
            return Err(AccessError::BadCredentials);
        };
        self.failures.lock().remove(&pair);
        let token = hex::encode(rand::random::<[u8; 32]>());
        let hash = hash_of(&token);
        let session = Session {
            id: public_id(&hash),
            user: user.name.clone(),
            address: address.to_string(),
            created_ms: now_ms,
            last_seen_ms: now_ms,
        };
        let event = Event::Login {
            user: user.name,
            session: session.id.clone(),
            address: address.to_string(),
            at_ms: now_ms,
        };
        let txn = self.durable_write()?;
        txn.open_table(SESSIONS)?
            .insert(hash, serde_json::to_vec(&session)?.as_slice())?;
        Self::record(&txn, std::slice::from_ref(&event))?;
        txn.commit()?;
        self.tell(&[event]);
        Ok((token, session))
    }

    fn store_and_tell(&self, events: Vec<Event>) -> Result<(), AccessError> {
        self.finish(self.durable_write()?, events)
    }

    /// Records `events` in `txn`, commits it, then tells the observers.
    fn finish(&self, txn: redb::WriteTransaction, events: Vec<Event>) -> Result<(), AccessError> {
        Self::record(&txn, &events)?;
        txn.commit()?;
        self.tell(&events);
        Ok(())
    }

    /// The user and session `token` opens at `now_ms`, with the user's current role. A
    /// session that timed out is ended here (and told as expired).
    pub fn authenticate(&self, token: &str, now_ms: u64) -> Result<(User, Session), AccessError> {
        if token.len() != 64 {
            return Err(AccessError::NoSession);
        }
        let hash = hash_of(token);
        // Read first: most requests write nothing, and must not wait for the writer.
        let (session, user) = {
            let txn = self.db.begin_read()?;
            let session = txn
                .open_table(SESSIONS)?
                .get(hash)?
                .map(|value| serde_json::from_slice::<Session>(value.value()))
                .transpose()?;
            let user = match &session {
                Some(session) => txn
                    .open_table(USERS)?
                    .get(session.user.as_str())?
                    .map(|value| serde_json::from_slice::<StoredUser>(value.value()))
                    .transpose()?,
                None => None,
            };
            (session, user)
        };
        let (Some(mut session), Some(user)) = (session, user) else {
            return Err(AccessError::NoSession);
        };
        if self.timed_out(&session, now_ms) {
            let txn = self.durable_write()?;
            if txn.open_table(SESSIONS)?.remove(hash)?.is_some() {
                let event = Event::Expired {
                    user: session.user,
                    session: session.id,
                    at_ms: now_ms,
                };
                self.finish(txn, vec![event])?;
            }
            return Err(AccessError::NoSession);
        }
        // Use is written down at most every 30 s (or a tenth of the idle limit, if shorter):
        // a session in use never looks idle, and a request does not cost a synced write.
        let seen_every = SEEN_EVERY_MS.min(self.policy.idle_ms / 10);
        if now_ms >= session.last_seen_ms.saturating_add(seen_every) {
            session.last_seen_ms = now_ms;
            let txn = self.durable_write()?;
            let mut sessions = txn.open_table(SESSIONS)?;
            // Only if it was not ended meanwhile.
            if sessions.get(hash)?.is_none() {
                return Err(AccessError::NoSession);
            }
            sessions.insert(hash, serde_json::to_vec(&session)?.as_slice())?;
            drop(sessions);
            txn.commit()?;
        }
        Ok((user.into(), session))
    }

    fn timed_out(&self, session: &Session, now_ms: u64) -> bool {
        now_ms >= session.last_seen_ms.saturating_add(self.policy.idle_ms)
            || now_ms >= session.created_ms.saturating_add(self.policy.absolute_ms)
    }

    /// Ends the session `token` opens. Whether there was one.
    pub fn logout(&self, token: &str, now_ms: u64) -> Result<bool, AccessError> {
        let hash = hash_of(token);
        let txn = self.durable_write()?;
        let Some(session) = txn
            .open_table(SESSIONS)?
            .remove(hash)?
            .map(|value| serde_json::from_slice::<Session>(value.value()))
            .transpose()?
        else {
            return Ok(false);
        };
        let event = Event::Logout {
            user: session.user,
            session: session.id,
            at_ms: now_ms,
        };
        self.finish(txn, vec![event])?;
        Ok(true)
    }

    /// Ends the session with public id `id`. Whether there was one.
    pub fn revoke(&self, id: &str, by: &str, now_ms: u64) -> Result<bool, AccessError> {
        let txn = self.durable_write()?;
        let found = {
            let sessions = txn.open_table(SESSIONS)?;
            let mut found = None;
            for entry in sessions.iter()? {
                let (key, value) = entry?;
                let session: Session = serde_json::from_slice(value.value())?;
                if session.id == id {
                    found = Some((key.value(), session));
                    break;
                }
            }
            found
        };
        let Some((key, session)) = found else {
            return Ok(false);
        };
        txn.open_table(SESSIONS)?.remove(key)?;
        let event = Event::Revoked {
            user: session.user,
            session: session.id,
            reason: format!("revoked by {by}"),
            at_ms: now_ms,
        };
        Self::record(&txn, std::slice::from_ref(&event))?;
        txn.commit()?;
        self.tell(&[event]);
        Ok(true)
    }

    /// When sessions end on their own.
    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// When `session` ends if it is not used again: idle, or at its absolute limit.
    pub fn expires_ms(&self, session: &Session) -> u64 {
        session
            .last_seen_ms
            .saturating_add(self.policy.idle_ms)
            .min(session.created_ms.saturating_add(self.policy.absolute_ms))
    }

    /// The sessions open at `now_ms` (those timed out are left to [`Access::expire`]).
    pub fn sessions(&self, now_ms: u64) -> Result<Vec<Session>, AccessError> {
        let txn = self.db.begin_read()?;
        let mut sessions = Vec::new();
        for entry in txn.open_table(SESSIONS)?.iter()? {
            let (_, value) = entry?;
            let session: Session = serde_json::from_slice(value.value())?;
            if !self.timed_out(&session, now_ms) {
                sessions.push(session);
            }
        }
        sessions.sort_by_key(|session| (session.created_ms, session.id.clone()));
        Ok(sessions)
    }

    /// Ends the sessions that timed out by `now_ms` (the seed's `MsessionMonitor`); how many.
    pub fn expire(&self, now_ms: u64) -> Result<usize, AccessError> {
        let txn = self.durable_write()?;
        let mut expired = Vec::new();
        {
            let mut sessions = txn.open_table(SESSIONS)?;
            let mut old = Vec::new();
            for entry in sessions.iter()? {
                let (key, value) = entry?;
                let session: Session = serde_json::from_slice(value.value())?;
                if self.timed_out(&session, now_ms) {
                    old.push((key.value(), session));
                }
            }
            for (key, session) in old {
                sessions.remove(key)?;
                expired.push(Event::Expired {
                    user: session.user,
                    session: session.id,
                    at_ms: now_ms,
                });
            }
        }
        if expired.is_empty() {
            txn.abort()?;
            return Ok(0);
        }
        Self::record(&txn, &expired)?;
        txn.commit()?;
        self.tell(&expired);
        Ok(expired.len())
    }

    /// The most recent `limit` events, newest first.
    pub fn audit(&self, limit: usize) -> Result<Vec<Event>, AccessError> {
        let txn = self.db.begin_read()?;
        let mut events = Vec::new();
        for entry in txn.open_table(AUDIT)?.iter()?.rev().take(limit) {
            let (_, value) = entry?;
            events.push(serde_json::from_slice(value.value())?);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests;
