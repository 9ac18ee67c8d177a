//! `trie-update`: change C keys of a persisted trie of N keys, commit durably, get the new root:
//! Cairn against eth_trie, both over redb.
//!
//! Each implementation first builds its own trie of the same N random pairs and writes it
//! into its own redb file (in one temporary directory); neither build is timed. Then each
//! database is opened afresh (an empty redb cache, no trie nodes in memory) and the clock runs
//! over the update: open the trie at the stored root, set C distinct existing keys to new
//! random values, commit, write the new nodes into redb in one durable write transaction, and
//! return the new root.
//!
//! Both tries reach redb through the same [`RedbNodes`] table code: Cairn through a
//! [`NodeStore`] adapter (its commit hands back a batch, written with [`RedbNodes::write`]),
//! eth_trie through its `DB` trait (its commit calls `insert_batch`, which is the same
//! [`RedbNodes::write`]). Stores are append-only for both: eth_trie's removals of superseded
//! nodes are ignored, as with its in-memory DB in non-"light" mode.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use alloy_primitives::B256;
use anyhow::Context;
use cairn_trie::{Bytes, MemoryNodeStore, NodeStore, NodeStoreError, Trie};
use eth_trie::Trie as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redb::{Database, Durability, ReadOnlyTable, ReadableDatabase, TableDefinition};
use serde::Serialize;

use crate::trie::{SEED, apply_each, progress, random_pairs};

/// The one table of each benchmark database: node hash to node encoding.
const NODES: TableDefinition<[u8; 32], &[u8]> = TableDefinition::new("trie_nodes");

/// Update times of the two implementations.
#[derive(Debug, Serialize)]
pub struct TrieUpdateReport {
    /// Keys in the stored trie.
    pub keys: usize,
    /// Distinct existing keys given new values.
    pub changes: usize,
    /// Cairn: open at the stored root, update, commit, write to redb durably, new root.
    pub cairn_update_s: f64,
    /// eth_trie, the same work over the same kind of redb table.
    pub eth_trie_update_s: f64,
    /// eth_trie's time over Cairn's.
    pub speedup_vs_eth_trie: f64,
    /// Both new roots are the same (and so are both stored roots before the update).
    pub roots_equal: bool,
    /// Cairn's new root.
    pub new_root: B256,
    /// Cairn's update time split: opening and the updates (reading nodes from redb).
    pub cairn_open_and_updates_s: f64,
    /// Cairn's update time split: commit (hashing, collecting the new nodes).
    pub cairn_commit_s: f64,
    /// Cairn's update time split: the durable redb write transaction.
    pub cairn_write_s: f64,
    /// eth_trie's update time split: the durable redb write transaction (inside its commit).
    pub eth_trie_write_s: f64,
    /// Cairn's update time without the shared redb write: open, updates, commit.
    pub cairn_trie_s: f64,
    /// eth_trie's update time without the shared redb write.
    pub eth_trie_trie_s: f64,
    /// `eth_trie_trie_s` over `cairn_trie_s`: the tries compared without the storage write
    /// both pay alike.
    pub trie_speedup_vs_eth_trie: f64,
    /// Nodes Cairn's commit wrote.
    pub cairn_nodes_written: usize,
    /// Nodes eth_trie's commit wrote.
    pub eth_trie_nodes_written: usize,
    /// Untimed set-up: building and storing the initial trie, Cairn.
    pub cairn_build_s: f64,
    /// Untimed set-up: building and storing the initial trie, eth_trie.
    pub eth_trie_build_s: f64,
}

/// Runs the comparison.
pub fn run(keys: usize, changes: usize) -> anyhow::Result<TrieUpdateReport> {
    anyhow::ensure!(keys > 0, "the stored trie needs at least one key");
    anyhow::ensure!(
        changes <= keys,
        "cannot change {changes} distinct keys of a trie of {keys}"
    );
    let pairs = random_pairs(keys, SEED);
    let mut rng = StdRng::seed_from_u64(SEED ^ 0x5eed);
    let updates: Vec<([u8; 32], [u8; 32])> = rand::seq::index::sample(&mut rng, keys, changes)
        .iter()
        .map(|index| {
            let mut value = [0u8; 32];
            rng.fill_bytes(&mut value);
            (pairs[index].0, value)
        })
        .collect();

    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-trie-update")
        .tempdir()
        .context("creating a temporary directory")?;
    let cairn_path = dir.path().join("cairn.redb");
    let eth_path = dir.path().join("eth_trie.redb");

    // Set-up, untimed: each implementation builds and stores its own trie.
    let started = Instant::now();
    let cairn_root = build_cairn(&cairn_path, &pairs)?;
    let cairn_build_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let eth_root = build_eth_trie(&eth_path, &pairs)?;
    let eth_trie_build_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        cairn_root == eth_root,
        "stored roots differ: cairn {cairn_root}, eth_trie {eth_root}"
    );
    drop(pairs);

    // Cairn, timed from opening the trie to the durable write.
    let store = RedbNodes::open(&cairn_path)?;
    let bar = progress(changes, "cairn: update + commit");
    let started = Instant::now();
    let mut trie = Trie::open(&store, cairn_root)?;
    // One batch, as block execution writes a block's accounts.
    trie.insert_batch(updates.iter().map(|(key, value)| (key, value)))?;
    bar.inc(updates.len() as u64);
    let inserted = Instant::now();
    let (cairn_new_root, batch) = trie.commit()?;
    let committed = Instant::now();
    store.write(batch.iter().map(|(hash, node)| (hash.0, node)))?;
    let cairn_update_s = started.elapsed().as_secs_f64();
    let cairn_split = [
        (inserted - started).as_secs_f64(),
        (committed - inserted).as_secs_f64(),
        committed.elapsed().as_secs_f64(),
    ];
    bar.finish_and_clear();
    let cairn_nodes_written = batch.len();
    drop((trie, batch));
    check_reads(&store, cairn_new_root, &updates)?;
    drop(store);

    // eth_trie, the same steps.
    let db = Arc::new(RedbNodes::open(&eth_path)?);
    let bar = progress(changes, "eth_trie: update + commit");
    let started = Instant::now();
    let mut trie = eth_trie::EthTrie::from(db.clone(), eth_root)?;
    apply_each(&updates, &bar, |key, value| Ok(trie.insert(key, value)?))?;
    let eth_new_root = trie.root_hash()?;
    let eth_trie_update_s = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    drop(trie);
    let eth_trie_nodes_written = db.last_write_len();
    let eth_trie_write_s = db.last_write_s();
    // eth_trie's nodes are Cairn's nodes: Cairn reads eth_trie's database too.
    check_reads(&db, eth_new_root, &updates)?;

    let roots_equal = cairn_new_root == eth_new_root;
    if !roots_equal {
        eprintln!("new roots differ: cairn {cairn_new_root}, eth_trie {eth_new_root}");
    }
    Ok(TrieUpdateReport {
        keys,
        changes,
        cairn_update_s,
        eth_trie_update_s,
        speedup_vs_eth_trie: eth_trie_update_s / cairn_update_s,
        roots_equal,
        new_root: cairn_new_root,
        cairn_open_and_updates_s: cairn_split[0],
        cairn_commit_s: cairn_split[1],
        cairn_write_s: cairn_split[2],
        eth_trie_write_s,
        cairn_trie_s: cairn_split[0] + cairn_split[1],
        eth_trie_trie_s: eth_trie_update_s - eth_trie_write_s,
        trie_speedup_vs_eth_trie: (eth_trie_update_s - eth_trie_write_s)
            / (cairn_split[0] + cairn_split[1]),
        cairn_nodes_written,
        eth_trie_nodes_written,
        cairn_build_s,
        eth_trie_build_s,
    })
}

/// Builds Cairn's trie of `pairs` in memory and writes every node into a new database.
fn build_cairn(path: &Path, pairs: &[([u8; 32], [u8; 32])]) -> anyhow::Result<B256> {
    let bar = progress(pairs.len(), "set-up: cairn build");
    let mut trie = Trie::new(MemoryNodeStore::new());
    apply_each(pairs, &bar, |key, value| Ok(trie.insert(key, value)?))?;
    bar.set_message("set-up: cairn commit + write");
    let (root, batch) = trie.commit()?;
    drop(trie);
    let store = RedbNodes::create(path)?;
    store.write(batch.iter().map(|(hash, node)| (hash.0, node)))?;
    bar.finish_and_clear();
    Ok(root)
}

/// Builds eth_trie's trie of `pairs` over a new database (its commit writes the nodes).
fn build_eth_trie(path: &Path, pairs: &[([u8; 32], [u8; 32])]) -> anyhow::Result<B256> {
    let bar = progress(pairs.len(), "set-up: eth_trie build");
    let db = Arc::new(RedbNodes::create(path)?);
    let mut trie = eth_trie::EthTrie::new(db);
    apply_each(pairs, &bar, |key, value| Ok(trie.insert(key, value)?))?;
    bar.set_message("set-up: eth_trie commit + write");
    let root = trie.root_hash()?;
    bar.finish_and_clear();
    Ok(root)
}

/// Checks, through Cairn's reader, that the stored trie at `root` holds the updated values.
fn check_reads(
    store: &RedbNodes,
    root: B256,
    updates: &[([u8; 32], [u8; 32])],
) -> anyhow::Result<()> {
    let trie = Trie::open(store, root)?;
    for (key, value) in updates.iter().step_by(97) {
        let found = trie.get(key)?;
        anyhow::ensure!(
            found.as_deref() == Some(&value[..]),
            "key {} reads {:?} after the update",
            hex::encode(key),
            found.map(hex::encode)
        );
    }
    Ok(())
}

/// Error from the benchmark's redb table.
#[derive(Debug)]
pub struct StoreError(String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

fn store_error(error: impl std::fmt::Display) -> StoreError {
    StoreError(error.to_string())
}

/// A redb database holding one table of trie nodes, read through a snapshot that each write
/// refreshes. Shared by both tries so that they pay for the same storage code.
pub struct RedbNodes {
    db: Database,
    snapshot: RwLock<ReadOnlyTable<[u8; 32], &'static [u8]>>,
    last_write_len: std::sync::atomic::AtomicUsize,
    /// Duration of the last write, in nanoseconds.
    last_write_ns: std::sync::atomic::AtomicU64,
}

impl RedbNodes {
    /// Creates a database with an empty node table.
    fn create(path: &Path) -> anyhow::Result<Self> {
        let db = Database::create(path).with_context(|| format!("creating {}", path.display()))?;
        let txn = db.begin_write()?;
        txn.open_table(NODES)?;
        txn.commit()?;
        Self::with_snapshot(db)
    }

    /// Opens an existing database, with an empty cache.
    fn open(path: &Path) -> anyhow::Result<Self> {
        let db = Database::open(path).with_context(|| format!("opening {}", path.display()))?;
        Self::with_snapshot(db)
    }

    fn with_snapshot(db: Database) -> anyhow::Result<Self> {
        let snapshot = db.begin_read()?.open_table(NODES)?;
        Ok(Self {
            db,
            snapshot: RwLock::new(snapshot),
            last_write_len: Default::default(),
            last_write_ns: Default::default(),
        })
    }

    /// The node stored under `hash`.
    fn get(&self, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let snapshot = self.snapshot.read().map_err(store_error)?;
        let node = snapshot.get(hash).map_err(store_error)?;
        Ok(node.map(|node| node.value().to_vec()))
    }

    /// Writes `nodes` in one durable write transaction, then reads from the new state.
    fn write<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        nodes: impl IntoIterator<Item = (K, V)>,
    ) -> Result<usize, StoreError> {
        let started = Instant::now();
        let mut txn = self.db.begin_write().map_err(store_error)?;
        txn.set_durability(Durability::Immediate)
            .map_err(store_error)?;
        let mut written = 0;
        {
            let mut table = txn.open_table(NODES).map_err(store_error)?;
            for (hash, node) in nodes {
                let hash: &[u8; 32] = hash
                    .as_ref()
                    .try_into()
                    .map_err(|_| StoreError("node key is not a 32-byte hash".into()))?;
                table.insert(hash, node.as_ref()).map_err(store_error)?;
                written += 1;
            }
        }
        txn.commit().map_err(store_error)?;
        let fresh = self
            .db
            .begin_read()
            .map_err(store_error)?
            .open_table(NODES)
            .map_err(store_error)?;
        *self.snapshot.write().map_err(store_error)? = fresh;
        self.last_write_len
            .store(written, std::sync::atomic::Ordering::Relaxed);
        let elapsed = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_write_ns
            .store(elapsed, std::sync::atomic::Ordering::Relaxed);
        Ok(written)
    }

    /// Seconds the last write took.
    fn last_write_s(&self) -> f64 {
        self.last_write_ns
            .load(std::sync::atomic::Ordering::Relaxed) as f64
            / 1e9
    }

    /// Nodes in the last write.
    fn last_write_len(&self) -> usize {
        self.last_write_len
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl NodeStore for RedbNodes {
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
        self.get(&hash.0)
            .map(|node| node.map(Bytes::from))
            .map_err(NodeStoreError::new)
    }
}

impl eth_trie::DB for RedbNodes {
    type Error = StoreError;

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Self::Error> {
        let hash: &[u8; 32] = key
            .try_into()
            .map_err(|_| StoreError("node key is not a 32-byte hash".into()))?;
        RedbNodes::get(self, hash)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), Self::Error> {
        self.write([(key, value)]).map(drop)
    }

    fn insert_batch(&self, keys: Vec<Vec<u8>>, values: Vec<Vec<u8>>) -> Result<(), Self::Error> {
        self.write(keys.into_iter().zip(values)).map(drop)
    }

    /// Append-only, like Cairn's stores: superseded nodes stay readable.
    fn remove(&self, _key: &[u8]) -> Result<(), Self::Error> {
        Ok(())
    }

    fn flush(&self) -> Result<(), Self::Error> {
        Ok(())
    }
}
