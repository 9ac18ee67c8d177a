//! The store: one redb database holding a chain.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use cairn_primitives::{
    Address, B256, Block, Bytes, CryptoSuite, GenesisConfig, Header, JobRun, Receipt, decode_exact,
};
use cairn_trie::{NodeBatch, NodeStore, NodeStoreError};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

use crate::tables::*;
use crate::{Result, StorageError};

/// The block the chain ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// Height of the head block.
    pub height: u64,
    /// Hash of the head block.
    pub hash: B256,
}

/// Where a committed transaction sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLocation {
    /// Height of the block that includes it.
    pub height: u64,
    /// Its position in that block.
    pub index: u32,
}

/// Record counts, for status pages and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Stored blocks (genesis included).
    pub blocks: u64,
    /// Indexed transactions.
    pub transactions: u64,
    /// Stored trie nodes.
    pub trie_nodes: u64,
}

/// A chain database. Cheap to clone; clones share the open database.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
    /// The chain's crypto suite (which hashes its blocks), read from genesis once known.
    suite: Arc<OnceLock<CryptoSuite>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn in_use(error: redb::DatabaseError, path: &Path) -> StorageError {
    match error {
        redb::DatabaseError::DatabaseAlreadyOpen => StorageError::InUse(path.display().to_string()),
        other => other.into(),
    }
}

fn corrupt(table: &'static str, detail: impl ToString) -> StorageError {
    StorageError::Corrupt {
        table,
        detail: detail.to_string(),
    }
}

impl Store {
    /// Opens the database at `path`, creating it (and its tables) if it does not exist.
    ///
    /// After a crash redb repairs the file on open; every block whose commit returned is there.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let db = Database::create(&path).map_err(|error| in_use(error, &path))?;
        Self::with_database(db, path)
    }

    /// Opens a database kept by `backend` rather than a file of its own: tests use it to
    /// stand for a disk that loses what was not synced when the power goes. `label` names the
    /// database in errors.
    pub fn open_backend(
        backend: impl redb::StorageBackend,
        label: impl Into<PathBuf>,
    ) -> Result<Self> {
        let path = label.into();
        let db = redb::Builder::new()
            .create_with_backend(backend)
            .map_err(|error| in_use(error, &path))?;
        Self::with_database(db, path)
    }

    fn with_database(db: Database, path: PathBuf) -> Result<Self> {
        let store = Self {
            db: Arc::new(db),
            path,
            suite: Arc::default(),
        };
        store.create_tables()?;
        Ok(store)
    }

    /// A write transaction that is on disk when its commit returns: the guarantee every
    /// committed block rests on, so it is stated here rather than left to redb's default.
    fn begin_durable_write(&self) -> Result<redb::WriteTransaction> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate)
            .map_err(|e| StorageError::Refused(format!("cannot make the write durable: {e}")))?;
        Ok(txn)
    }

    fn create_tables(&self) -> Result<()> {
        let txn = self.begin_durable_write()?;
        txn.open_table(BLOCKS)?;
        txn.open_table(HEADERS)?;
        txn.open_table(BLOCK_HEIGHTS)?;
        txn.open_table(RECEIPTS)?;
        txn.open_table(TX_INDEX)?;
        txn.open_table(TRIE_NODES)?;
        txn.open_table(JOB_RUNS)?;
        txn.open_table(PRUNED)?;
        txn.open_table(SHARES)?;
        {
            let mut meta = txn.open_table(META)?;
            let version = meta.get(META_SCHEMA)?.map(|v| v.value().to_vec());
            match version {
                None => {
                    meta.insert(META_SCHEMA, SCHEMA_VERSION.to_be_bytes().as_slice())?;
                }
                Some(bytes) if bytes == SCHEMA_VERSION.to_be_bytes() => {}
                Some(bytes) => {
                    return Err(corrupt(
                        "meta",
                        format!("schema version {bytes:?}, this build reads {SCHEMA_VERSION}"),
                    ));
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The head of the stored chain, or `None` before genesis is written.
    pub fn head(&self) -> Result<Option<ChainHead>> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let Some(value) = meta.get(META_HEAD)? else {
            return Ok(None);
        };
        decode_head(value.value()).map(Some)
    }

    /// The genesis document the chain was created from.
    pub fn genesis(&self) -> Result<Option<GenesisConfig>> {
        let txn = self.db.begin_read()?;
        let meta = txn.open_table(META)?;
        let Some(value) = meta.get(META_GENESIS)? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(value.value()).map_err(|e| corrupt("meta", e))?;
        GenesisConfig::from_json(text)
            .map(Some)
            .map_err(|e| corrupt("meta", e))
    }

    /// The crypto suite of the stored chain (its genesis's), which gives its block hashes.
    pub fn suite(&self) -> Result<CryptoSuite> {
        if let Some(suite) = self.suite.get() {
            return Ok(*suite);
        }
        let genesis = self.genesis()?.ok_or_else(|| {
            StorageError::Refused("no genesis: initialize the chain first".into())
        })?;
        Ok(*self.suite.get_or_init(|| genesis.crypto))
    }

    /// Writes block 0 and the genesis document. Refused if the store already holds a chain.
    pub fn initialize(
        &self,
        genesis: &GenesisConfig,
        block: &Block,
        nodes: &NodeBatch,
    ) -> Result<ChainHead> {
        if block.header.height != 0 {
            return Err(StorageError::Refused(
                "genesis block must have height 0".into(),
            ));
        }
        let genesis_json = serde_json::to_string_pretty(genesis)
            .map_err(|e| StorageError::Refused(format!("genesis does not serialize: {e}")))?;
        self.write_block(
            block,
            &[],
            &[],
            nodes,
            None,
            Some((&genesis_json, genesis.crypto)),
        )
    }

    /// Appends `block` (which must extend the current head) with its receipts, the scheduled
    /// runs at its start and the trie nodes its execution created, atomically and durably.
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        job_runs: &[JobRun],
        nodes: &NodeBatch,
    ) -> Result<ChainHead> {
        let head = self.head()?.ok_or_else(|| {
            StorageError::Refused("no genesis: initialize the chain first".into())
        })?;
        self.write_block(block, receipts, job_runs, nodes, Some(head), None)
    }

    fn write_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        job_runs: &[JobRun],
        nodes: &NodeBatch,
        expected_parent: Option<ChainHead>,
        genesis: Option<(&str, CryptoSuite)>,
    ) -> Result<ChainHead> {
        if receipts.len() != block.transactions.len() {
            return Err(StorageError::Refused(format!(
                "{} receipts for {} transactions",
                receipts.len(),
                block.transactions.len()
            )));
        }
        let height = block.header.height;
        let suite = match genesis {
            Some((_, suite)) => suite,
            None => self.suite()?,
        };
        let hash = block.hash(suite);
        let txn = self.begin_durable_write()?;
        {
            let mut meta = txn.open_table(META)?;
            // Re-read the head inside the write transaction: it is the one that counts.
            let current = meta
                .get(META_HEAD)?
                .map(|v| decode_head(v.value()))
                .transpose()?;
            match (expected_parent, current) {
                (None, None) => {}
                (None, Some(_)) => {
                    return Err(StorageError::Refused(
                        "the store already holds a chain".into(),
                    ));
                }
                (Some(_), current) => {
                    let parent = current
                        .ok_or_else(|| StorageError::Refused("the store holds no chain".into()))?;
                    if parent.height.checked_add(1) != Some(height)
                        || parent.hash != block.header.parent_hash
                    {
                        return Err(StorageError::Refused(format!(
                            "block {height} ({hash}) does not extend head {} ({})",
                            parent.height, parent.hash
                        )));
                    }
                }
            }
            if let Some((json, _)) = genesis {
                meta.insert(META_GENESIS, json.as_bytes())?;
            }
            meta.insert(META_HEAD, encode_head(height, &hash).as_slice())?;
        }
        txn.open_table(BLOCKS)?
            .insert(height, block.encoded().as_slice())?;
        txn.open_table(HEADERS)?
            .insert(height, alloy_rlp::encode(&block.header).as_slice())?;
        txn.open_table(BLOCK_HEIGHTS)?.insert(hash.0, height)?;
        {
            let mut encoded = Vec::new();
            alloy_rlp::encode_list(receipts, &mut encoded);
            txn.open_table(RECEIPTS)?
                .insert(height, encoded.as_slice())?;
        }
        {
            let mut index = txn.open_table(TX_INDEX)?;
            for (position, tx) in block.transactions.iter().enumerate() {
                let position = u32::try_from(position)
                    .map_err(|_| StorageError::Refused("too many transactions".into()))?;
                index.insert(tx.hash().0, (height, position))?;
            }
        }
        if !job_runs.is_empty() {
            let mut by_package: std::collections::BTreeMap<Address, Vec<&JobRun>> =
                std::collections::BTreeMap::new();
            for run in job_runs {
                by_package.entry(run.package).or_default().push(run);
            }
            let mut table = txn.open_table(JOB_RUNS)?;
            for (package, runs) in by_package {
                let mut encoded = Vec::new();
                alloy_rlp::encode_list::<&JobRun, JobRun>(&runs, &mut encoded);
                table.insert((package.0.0, height), encoded.as_slice())?;
            }
        }
        {
            let mut table = txn.open_table(TRIE_NODES)?;
            for (node_hash, node) in nodes.iter() {
                table.insert(node_hash.0, node.as_ref())?;
            }
        }
        txn.commit()?;
        Ok(ChainHead { height, hash })
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        let Some(value) = table.get(height)? else {
            return Ok(None);
        };
        decode_exact(value.value())
            .map(Some)
            .map_err(|e| corrupt("blocks", e))
    }

    /// Drops the body and receipts of the committed block at `height`, keeping its header and
    /// seal: the cluster holds them now. Genesis and the head are never dropped. Returns
    /// whether anything was dropped (a second call is a no-op).
    pub fn prune_body(&self, height: u64) -> Result<bool> {
        let head = self
            .head()?
            .ok_or_else(|| StorageError::Refused("the store holds no chain".into()))?;
        if height == 0 || height >= head.height {
            return Err(StorageError::Refused(format!(
                "block {height} cannot be pruned: only blocks between genesis and the head {} can",
                head.height
            )));
        }
        let txn = self.begin_durable_write()?;
        let dropped = {
            let mut blocks = txn.open_table(BLOCKS)?;
            let block = match blocks.remove(height)? {
                None => None,
                Some(value) => {
                    Some(decode_exact::<Block>(value.value()).map_err(|e| corrupt("blocks", e))?)
                }
            };
            match block {
                None => false,
                Some(block) => {
                    txn.open_table(PRUNED)?
                        .insert(height, alloy_rlp::encode(&block.seal).as_slice())?;
                    txn.open_table(RECEIPTS)?.remove(height)?;
                    true
                }
            }
        };
        txn.commit()?;
        Ok(dropped)
    }

    /// The seal of the block at `height` whose body was dropped.
    pub fn pruned_seal(&self, height: u64) -> Result<Option<cairn_primitives::Seal>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PRUNED)?;
        let Some(value) = table.get(height)? else {
            return Ok(None);
        };
        decode_exact(value.value())
            .map(Some)
            .map_err(|e| corrupt("pruned", e))
    }

    /// Whether the body of the block at `height` was dropped for the cluster to hold.
    pub fn is_pruned(&self, height: u64) -> Result<bool> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(PRUNED)?.get(height)?.is_some())
    }

    /// Puts back the body and receipts of a pruned block, read back from the cluster. The
    /// caller has checked them against the header's roots; this checks their counts agree.
    pub fn restore_body(
        &self,
        height: u64,
        transactions: Vec<cairn_primitives::SignedTransaction>,
        receipts: &[Receipt],
    ) -> Result<()> {
        if transactions.len() != receipts.len() {
            return Err(StorageError::Refused(format!(
                "{} receipts for {} transactions",
                receipts.len(),
                transactions.len()
            )));
        }
        let header = self
            .header(height)?
            .ok_or_else(|| StorageError::Refused(format!("no block at height {height}")))?;
        let txn = self.begin_durable_write()?;
        {
            let mut pruned = txn.open_table(PRUNED)?;
            let seal = match pruned.remove(height)? {
                None => {
                    return Err(StorageError::Refused(format!(
                        "block {height} is not pruned"
                    )));
                }
                Some(value) => decode_exact::<cairn_primitives::Seal>(value.value())
                    .map_err(|e| corrupt("pruned", e))?,
            };
            let block = Block {
                header,
                transactions,
                seal,
            };
            txn.open_table(BLOCKS)?
                .insert(height, block.encoded().as_slice())?;
            let mut encoded = Vec::new();
            alloy_rlp::encode_list(receipts, &mut encoded);
            txn.open_table(RECEIPTS)?
                .insert(height, encoded.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Stores share `share` of the block at `height` for the cluster.
    pub fn put_share(
        &self,
        height: u64,
        share: u16,
        commitment: &B256,
        bytes: &[u8],
    ) -> Result<()> {
        let mut value = Vec::with_capacity(32 + bytes.len());
        value.extend_from_slice(commitment.as_slice());
        value.extend_from_slice(bytes);
        let txn = self.begin_durable_write()?;
        txn.open_table(SHARES)?
            .insert((height, share), value.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    /// Share `share` of the block at `height`: its commitment and bytes.
    pub fn share(&self, height: u64, share: u16) -> Result<Option<(B256, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SHARES)?;
        let Some(value) = table.get((height, share))? else {
            return Ok(None);
        };
        let value = value.value();
        if value.len() < 32 {
            return Err(corrupt("shares", "shorter than its commitment"));
        }
        Ok(Some((B256::from_slice(&value[..32]), value[32..].to_vec())))
    }

    /// Drops a share.
    pub fn remove_share(&self, height: u64, share: u16) -> Result<()> {
        let txn = self.begin_durable_write()?;
        txn.open_table(SHARES)?.remove((height, share))?;
        txn.commit()?;
        Ok(())
    }

    /// Every (height, share) stored.
    pub fn shares(&self) -> Result<Vec<(u64, u16)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SHARES)?;
        let mut keys = Vec::new();
        for entry in table.iter()? {
            let (key, _) = entry?;
            keys.push(key.value());
        }
        Ok(keys)
    }

    /// The shares stored, and their bytes.
    pub fn share_totals(&self) -> Result<(u64, u64)> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SHARES)?;
        let mut count = 0;
        let mut bytes = 0;
        for entry in table.iter()? {
            let (_, value) = entry?;
            count += 1;
            bytes += value.value().len().saturating_sub(32) as u64;
        }
        Ok((count, bytes))
    }

    /// The header at `height`.
    pub fn header(&self, height: u64) -> Result<Option<Header>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HEADERS)?;
        let Some(value) = table.get(height)? else {
            return Ok(None);
        };
        decode_exact(value.value())
            .map(Some)
            .map_err(|e| corrupt("headers", e))
    }

    /// Headers from `start` upwards, at most `limit` of them.
    pub fn headers_from(&self, start: u64, limit: usize) -> Result<Vec<Header>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HEADERS)?;
        let mut headers = Vec::new();
        for entry in table.range(start..)?.take(limit) {
            let (_, value) = entry?;
            headers.push(decode_exact(value.value()).map_err(|e| corrupt("headers", e))?);
        }
        Ok(headers)
    }

    /// Blocks from `start` upwards, at most `limit` of them.
    pub fn blocks_from(&self, start: u64, limit: usize) -> Result<Vec<Block>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCKS)?;
        let mut blocks = Vec::new();
        for entry in table.range(start..)?.take(limit) {
            let (height, value) = entry?;
            // Consecutive heights only: a pruned body ends the run (its block is the
            // cluster's to serve), so no caller mistakes a gap for the chain.
            if height.value() != start + blocks.len() as u64 {
                break;
            }
            blocks.push(decode_exact(value.value()).map_err(|e| corrupt("blocks", e))?);
        }
        Ok(blocks)
    }

    /// The height of the block with this hash.
    pub fn height_of(&self, hash: &B256) -> Result<Option<u64>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(BLOCK_HEIGHTS)?;
        Ok(table.get(hash.0)?.map(|v| v.value()))
    }

    /// The receipts of the block at `height`, in transaction order.
    pub fn receipts(&self, height: u64) -> Result<Option<Vec<Receipt>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECEIPTS)?;
        let Some(value) = table.get(height)? else {
            return Ok(None);
        };
        decode_exact::<Vec<Receipt>>(value.value())
            .map(Some)
            .map_err(|e| corrupt("receipts", e))
    }

    /// The last `limit` scheduled runs of `package` at or below `height` (everything if `None`),
    /// oldest first.
    pub fn job_runs(
        &self,
        package: &Address,
        height: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JobRun>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(JOB_RUNS)?;
        let key = package.0.0;
        let mut newest_first = Vec::new();
        for entry in table
            .range((key, 0)..=(key, height.unwrap_or(u64::MAX)))?
            .rev()
        {
            let (_, value) = entry?;
            let runs =
                decode_exact::<Vec<JobRun>>(value.value()).map_err(|e| corrupt("job_runs", e))?;
            newest_first.extend(runs.into_iter().rev());
            if newest_first.len() >= limit {
                break;
            }
        }
        newest_first.truncate(limit);
        newest_first.reverse();
        Ok(newest_first)
    }

    /// The scheduled runs of `package` at the start of the block at `height`.
    pub fn job_runs_at(&self, package: &Address, height: u64) -> Result<Vec<JobRun>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(JOB_RUNS)?;
        let Some(value) = table.get((package.0.0, height))? else {
            return Ok(Vec::new());
        };
        decode_exact(value.value()).map_err(|e| corrupt("job_runs", e))
    }

    /// Where the committed transaction with this hash is.
    pub fn tx_location(&self, hash: &B256) -> Result<Option<TxLocation>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TX_INDEX)?;
        Ok(table.get(hash.0)?.map(|v| {
            let (height, index) = v.value();
            TxLocation { height, index }
        }))
    }

    /// A trie node by hash.
    pub fn trie_node(&self, hash: &B256) -> Result<Option<Bytes>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TRIE_NODES)?;
        Ok(table
            .get(hash.0)?
            .map(|v| Bytes::copy_from_slice(v.value())))
    }

    /// A [`NodeStore`] reading this store's committed trie nodes.
    pub fn node_source(&self) -> NodeSource {
        NodeSource {
            store: self.clone(),
        }
    }

    /// Record counts.
    pub fn stats(&self) -> Result<StoreStats> {
        let txn = self.db.begin_read()?;
        Ok(StoreStats {
            blocks: txn.open_table(BLOCKS)?.len()?,
            transactions: txn.open_table(TX_INDEX)?.len()?,
            trie_nodes: txn.open_table(TRIE_NODES)?.len()?,
        })
    }
}

fn encode_head(height: u64, hash: &B256) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&height.to_be_bytes());
    out[8..].copy_from_slice(hash.as_slice());
    out
}

fn decode_head(bytes: &[u8]) -> Result<ChainHead> {
    let bytes: &[u8; 40] = bytes
        .try_into()
        .map_err(|_| corrupt("meta", "head is not 40 bytes"))?;
    let mut height = [0u8; 8];
    height.copy_from_slice(&bytes[..8]);
    Ok(ChainHead {
        height: u64::from_be_bytes(height),
        hash: B256::from_slice(&bytes[8..]),
    })
}

/// Reads committed trie nodes from a [`Store`]; wrap it in a cache for hot paths.
#[derive(Debug, Clone)]
pub struct NodeSource {
    store: Store,
}

impl NodeStore for NodeSource {
    fn get_node(&self, hash: &B256) -> std::result::Result<Option<Bytes>, NodeStoreError> {
        self.store.trie_node(hash).map_err(NodeStoreError::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_primitives::{Address, Outcome, Seal, SecretKey, Transaction};
    use cairn_trie::{MemoryNodeStore, Trie};

    fn header(height: u64, parent: B256) -> Header {
        Header {
            parent_hash: parent,
            height,
            timestamp_ms: height,
            proposer: Address::ZERO,
            state_root: B256::repeat_byte(1),
            transactions_root: B256::repeat_byte(2),
            receipts_root: B256::repeat_byte(3),
            extra: Bytes::new(),
        }
    }

    fn genesis() -> GenesisConfig {
        cairn_primitives::dev::dev_genesis(1, 0)
    }

    fn some_nodes() -> NodeBatch {
        let mut trie = Trie::new(MemoryNodeStore::default());
        trie.insert(b"key-a", &[7; 40]).unwrap();
        trie.insert(b"key-b", &[8; 40]).unwrap();
        trie.commit().unwrap().1
    }

    fn child_with_tx(parent: &Block) -> (Block, Vec<Receipt>) {
        let tx = Transaction {
            chain_id: 1,
            nonce: parent.header.height,
            to: Address::ZERO,
            amount: 1,
        }
        .sign(&SecretKey::from_bytes([4; 32]));
        let receipt = Receipt::transfer(tx.hash(), Outcome::Success);
        let header = header(
            parent.header.height + 1,
            parent.hash(CryptoSuite::Ed25519Keccak),
        );
        (
            Block {
                header,
                transactions: vec![tx],
                seal: Seal::Genesis,
            },
            vec![receipt],
        )
    }

    #[test]
    fn pruned_bodies_keep_their_header_and_seal_and_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("chain.redb")).unwrap();
        let genesis_block = Block {
            header: header(0, B256::ZERO),
            transactions: vec![],
            seal: Seal::Genesis,
        };
        store
            .initialize(&genesis(), &genesis_block, &NodeBatch::default())
            .unwrap();
        let (mut block1, receipts1) = child_with_tx(&genesis_block);
        block1.seal = Seal::Certificate(Bytes::from_static(b"certificate"));
        store
            .commit_block(&block1, &receipts1, &[], &NodeBatch::default())
            .unwrap();
        let (block2, receipts2) = child_with_tx(&block1);
        store
            .commit_block(&block2, &receipts2, &[], &NodeBatch::default())
            .unwrap();
        // Genesis and the head stay whole.
        assert!(store.prune_body(0).is_err());
        assert!(store.prune_body(2).is_err());
        assert!(store.prune_body(1).unwrap());
        assert!(!store.prune_body(1).unwrap(), "a second prune is a no-op");
        assert!(store.is_pruned(1).unwrap());
        assert_eq!(store.block(1).unwrap(), None);
        // A range stops at the gap rather than skip it.
        assert_eq!(store.blocks_from(0, 10).unwrap().len(), 1);
        assert!(store.blocks_from(1, 10).unwrap().is_empty());
        assert_eq!(store.blocks_from(2, 10).unwrap(), vec![block2.clone()]);
        assert_eq!(store.receipts(1).unwrap(), None);
        assert_eq!(store.header(1).unwrap(), Some(block1.header.clone()));
        // The transaction index still says where the transaction is.
        let tx = block1.transactions[0].hash();
        assert_eq!(store.tx_location(&tx).unwrap().map(|at| at.height), Some(1));
        // Restored, the block is the same, seal included.
        assert!(store.restore_body(1, vec![], &receipts1).is_err());
        store
            .restore_body(1, block1.transactions.clone(), &receipts1)
            .unwrap();
        assert_eq!(store.block(1).unwrap(), Some(block1));
        assert_eq!(store.receipts(1).unwrap(), Some(receipts1));
        assert!(!store.is_pruned(1).unwrap());
        assert!(store.restore_body(1, vec![], &[]).is_err(), "not pruned");
    }

    #[test]
    fn shares_are_stored_read_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("chain.redb")).unwrap();
        let commitment = B256::repeat_byte(9);
        store.put_share(5, 2, &commitment, b"shard bytes").unwrap();
        store.put_share(5, 3, &commitment, b"").unwrap();
        assert_eq!(
            store.share(5, 2).unwrap(),
            Some((commitment, b"shard bytes".to_vec()))
        );
        assert_eq!(store.share(5, 3).unwrap(), Some((commitment, Vec::new())));
        assert_eq!(store.share(5, 4).unwrap(), None);
        assert_eq!(store.share_totals().unwrap(), (2, 11));
        store.remove_share(5, 2).unwrap();
        assert_eq!(store.share(5, 2).unwrap(), None);
        assert_eq!(store.share_totals().unwrap(), (1, 0));
    }

    #[test]
    fn committed_blocks_read_back_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let genesis_block = Block {
            header: header(0, B256::ZERO),
            transactions: vec![],
            seal: Seal::Genesis,
        };
        let nodes = some_nodes();
        let (block1, receipts1) = child_with_tx(&genesis_block);
        {
            let store = Store::open(&path).unwrap();
            assert_eq!(store.head().unwrap(), None);
            store
                .initialize(&genesis(), &genesis_block, &NodeBatch::default())
                .unwrap();
            let head = store
                .commit_block(&block1, &receipts1, &[], &nodes)
                .unwrap();
            assert_eq!(
                head,
                ChainHead {
                    height: 1,
                    hash: block1.hash(CryptoSuite::Ed25519Keccak)
                }
            );
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.head().unwrap(),
            Some(ChainHead {
                height: 1,
                hash: block1.hash(CryptoSuite::Ed25519Keccak)
            })
        );
        assert_eq!(store.genesis().unwrap(), Some(genesis()));
        assert_eq!(store.block(1).unwrap(), Some(block1.clone()));
        assert_eq!(store.header(1).unwrap(), Some(block1.header.clone()));
        assert_eq!(
            store
                .height_of(&block1.hash(CryptoSuite::Ed25519Keccak))
                .unwrap(),
            Some(1)
        );
        assert_eq!(store.receipts(1).unwrap(), Some(receipts1));
        let tx_hash = block1.transactions[0].hash();
        assert_eq!(
            store.tx_location(&tx_hash).unwrap(),
            Some(TxLocation {
                height: 1,
                index: 0
            })
        );
        for (hash, node) in nodes.iter() {
            assert_eq!(store.trie_node(&hash).unwrap(), Some(node.clone()));
            assert_eq!(store.node_source().get_node(&hash).unwrap(), Some(node));
        }
        assert_eq!(store.blocks_from(0, 10).unwrap().len(), 2);
        assert_eq!(
            store.headers_from(1, 10).unwrap(),
            vec![block1.header.clone()]
        );
        assert_eq!(store.stats().unwrap().blocks, 2);
    }

    #[test]
    fn writes_that_break_the_chain_are_refused_and_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("chain.redb")).unwrap();
        let genesis_block = Block {
            header: header(0, B256::ZERO),
            transactions: vec![],
            seal: Seal::Genesis,
        };
        let (orphan, orphan_receipts) = child_with_tx(&genesis_block);
        assert!(matches!(
            store.commit_block(&orphan, &orphan_receipts, &[], &NodeBatch::default()),
            Err(StorageError::Refused(_))
        ));
        store
            .initialize(&genesis(), &genesis_block, &NodeBatch::default())
            .unwrap();
        assert!(matches!(
            store.initialize(&genesis(), &genesis_block, &NodeBatch::default()),
            Err(StorageError::Refused(_))
        ));
        let (block1, receipts1) = child_with_tx(&genesis_block);
        // Wrong parent hash.
        let mut wrong_parent = block1.clone();
        wrong_parent.header.parent_hash = B256::repeat_byte(9);
        assert!(matches!(
            store.commit_block(&wrong_parent, &receipts1, &[], &some_nodes()),
            Err(StorageError::Refused(_))
        ));
        // Receipts that do not match the transactions.
        assert!(matches!(
            store.commit_block(&block1, &[], &[], &some_nodes()),
            Err(StorageError::Refused(_))
        ));
        assert_eq!(store.head().unwrap().unwrap().height, 0);
        assert_eq!(store.block(1).unwrap(), None);
        assert_eq!(
            store.stats().unwrap().trie_nodes,
            0,
            "a refused write stored no trie nodes"
        );
        // Skipping a height.
        let (block2, receipts2) = child_with_tx(&block1);
        assert!(matches!(
            store.commit_block(&block2, &receipts2, &[], &NodeBatch::default()),
            Err(StorageError::Refused(_))
        ));
    }

    #[test]
    fn a_second_process_cannot_open_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.redb");
        let _first = Store::open(&path).unwrap();
        assert!(matches!(Store::open(&path), Err(StorageError::InUse(_))));
    }
}
