//! The node's side of cluster storage: drives `cairn-cluster`'s engine over the p2p network's
//! cluster channel, keeps shares in the node's redb store, drops the bodies the cluster holds,
//! and reads old blocks back through the cluster for the API.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_rlp::{Decodable, Header as RlpHeader};
use cairn_cluster::engine::{BlockRef, Engine, EngineConfig, Event, LocalChain, ShareStore};
use cairn_cluster::membership::{Membership, Peer};
use cairn_cluster::{Placement, wire};
use cairn_ledger::{Chain, receipts_root, transactions_root};
use cairn_network::PeerKey;
use cairn_primitives::{B256, Block, Receipt, SignedTransaction};
use cairn_rpc::types::{ClusterMemberView, ClusterStatus, ReadCacheView, RepairView};
use cairn_storage::Store;
use commonware_p2p::{Receiver, Recipients, Sender};
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::config::ClusterSettings;

/// How often the engine is given the time.
const TICK: Duration = Duration::from_millis(50);

/// A block's body and receipts as one byte string: `rlp([transactions, receipts])`.
pub fn encode_body(transactions: &[SignedTransaction], receipts: &[Receipt]) -> Vec<u8> {
    let mut txs = Vec::new();
    alloy_rlp::encode_list(transactions, &mut txs);
    let mut rs = Vec::new();
    alloy_rlp::encode_list(receipts, &mut rs);
    let mut out = Vec::with_capacity(txs.len() + rs.len() + 8);
    RlpHeader {
        list: true,
        payload_length: txs.len() + rs.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&txs);
    out.extend_from_slice(&rs);
    out
}

/// The inverse of [`encode_body`]; `None` if the bytes are not a body.
pub fn decode_body(bytes: &[u8]) -> Option<(Vec<SignedTransaction>, Vec<Receipt>)> {
    let mut buf = bytes;
    let mut payload = RlpHeader::decode_bytes(&mut buf, true).ok()?;
    if !buf.is_empty() {
        return None;
    }
    let transactions = Vec::<SignedTransaction>::decode(&mut payload).ok()?;
    let receipts = Vec::<Receipt>::decode(&mut payload).ok()?;
    payload.is_empty().then_some((transactions, receipts))
}

/// The chain as the engine sees it.
struct ChainView {
    chain: Arc<Chain>,
}

impl LocalChain for ChainView {
    fn block(&self, height: u64) -> Option<BlockRef> {
        let header = self.chain.store().header(height).ok()??;
        Some(BlockRef {
            height,
            hash: header.hash(self.chain.suite()),
        })
    }

    fn data(&self, height: u64) -> Option<Vec<u8>> {
        let store = self.chain.store();
        let block = store.block(height).ok()??;
        let receipts = store.receipts(height).ok()??;
        Some(encode_body(&block.transactions, &receipts))
    }

    fn verify(&self, block: &BlockRef, data: &[u8]) -> bool {
        let Some(header) = self.chain.store().header(block.height).ok().flatten() else {
            return false;
        };
        let Some((transactions, receipts)) = decode_body(data) else {
            return false;
        };
        transactions.len() == receipts.len()
            && transactions_root(self.chain.suite(), &transactions) == header.transactions_root
            && receipts_root(self.chain.suite(), &receipts) == header.receipts_root
    }

    fn head(&self) -> u64 {
        self.chain.head().height
    }

    fn kept_whole(&self, height: u64) -> bool {
        // No transactions, so no receipts: the body is empty, whatever the cluster holds.
        self.chain
            .store()
            .header(height)
            .ok()
            .flatten()
            .is_some_and(|header| header.transactions_root == self.chain.suite().empty_root())
    }
}

/// Shares in the node's redb store (each write durable before it is acknowledged).
pub struct StoreShares {
    store: Store,
    bytes: u64,
}

impl StoreShares {
    /// The shares `store` holds.
    pub fn new(store: Store) -> anyhow::Result<Self> {
        let (count, bytes) = store.share_totals()?;
        debug!(shares = count, bytes, "cluster shares in the store");
        Ok(Self { store, bytes })
    }
}

impl ShareStore for StoreShares {
    fn get(&self, height: u64, share: u16) -> Option<(B256, Vec<u8>)> {
        self.store.share(height, share).ok().flatten()
    }
    fn put(&mut self, height: u64, share: u16, commitment: B256, bytes: Vec<u8>) {
        match self.store.put_share(height, share, &commitment, &bytes) {
            Ok(()) => self.bytes += bytes.len() as u64,
            Err(error) => warn!(%error, height, share, "cannot store a cluster share"),
        }
    }
    fn remove(&mut self, height: u64, share: u16) {
        if let Ok(Some((_, bytes))) = self.store.share(height, share) {
            self.bytes = self.bytes.saturating_sub(bytes.len() as u64);
        }
        if let Err(error) = self.store.remove_share(height, share) {
            warn!(%error, height, share, "cannot drop a cluster share");
        }
    }
    fn bytes(&self) -> u64 {
        self.bytes
    }
    fn list(&self) -> Vec<(u64, u16)> {
        self.store.shares().unwrap_or_default()
    }
}

/// A block's transactions and receipts.
pub type Body = (Vec<SignedTransaction>, Vec<Receipt>);

/// A read of an old block through the cluster.
pub type ReadReply = Result<Body, String>;

/// What the actor answers a read with: the body and its size as RLP.
type ActorReply = Result<(Arc<Body>, usize), String>;

/// Old blocks read back through the cluster, bounded by their bytes as RLP (decoded, they take
/// a few times more memory); the least recently used goes first. A height's body never
/// changes (it is final and checked against the header), so an entry never goes stale.
struct ReadCache {
    entries: lru::LruCache<u64, (Arc<Body>, usize)>,
    bytes: usize,
    limit: usize,
    hits: u64,
    misses: u64,
}

impl ReadCache {
    fn new(limit: usize) -> Self {
        Self {
            entries: lru::LruCache::unbounded(),
            bytes: 0,
            limit,
            hits: 0,
            misses: 0,
        }
    }

    fn get(&mut self, height: u64) -> Option<Arc<Body>> {
        match self.entries.get(&height) {
            Some((body, _)) => {
                self.hits += 1;
                Some(body.clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    fn insert(&mut self, height: u64, body: Arc<Body>, size: usize) {
        if size > self.limit {
            return;
        }
        if let Some((_, old)) = self.entries.put(height, (body, size)) {
            self.bytes -= old;
        }
        self.bytes += size;
        while self.bytes > self.limit {
            let Some((_, (_, size))) = self.entries.pop_lru() else {
                break;
            };
            self.bytes -= size;
        }
    }

    fn view(&self) -> ReadCacheView {
        ReadCacheView {
            blocks: self.entries.len() as u64,
            bytes: self.bytes as u64,
            limit_bytes: self.limit as u64,
            hits: self.hits,
            misses: self.misses,
        }
    }
}

/// Requests the API makes of the cluster.
pub struct ClusterHandle {
    chain: Arc<Chain>,
    reads: mpsc::Sender<(u64, oneshot::Sender<ActorReply>)>,
    expand: mpsc::Sender<()>,
    status: Arc<Mutex<ClusterStatus>>,
    cache: Mutex<ReadCache>,
}

impl ClusterHandle {
    /// The cluster as this node sees it.
    pub fn status(&self) -> ClusterStatus {
        let mut status = self.status.lock().clone();
        status.read_cache = self.cache.lock().view();
        status
    }

    /// Asks the cluster to double once as many nodes wait to join as it has members.
    pub fn expand(&self) {
        let _ = self.expand.try_send(());
    }

    /// Reads the body and receipts of the block at `height` through the cluster (or the
    /// cache of what was read before); the engine has checked them against the header.
    pub async fn read(&self, height: u64) -> ReadReply {
        let cached = self.cache.lock().get(height);
        if let Some(body) = cached {
            return Ok(Body::clone(&body));
        }
        // A block without transactions has an empty body: nothing to read (a store from
        // before such blocks were kept whole may have dropped it).
        let header = self
            .chain
            .store()
            .header(height)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the header of block {height} is missing"))?;
        if header.transactions_root == self.chain.suite().empty_root() {
            return Ok((Vec::new(), Vec::new()));
        }
        let (reply, answer) = oneshot::channel();
        self.reads
            .send((height, reply))
            .await
            .map_err(|_| "the cluster has stopped".to_string())?;
        let (body, size) = answer
            .await
            .map_err(|_| "the cluster has stopped".to_string())??;
        self.cache.lock().insert(height, body.clone(), size);
        Ok(Body::clone(&body))
    }

    /// The whole block at `height`: from the store, or its stored header and seal with the
    /// body read through the cluster.
    pub async fn read_block(&self, height: u64) -> Result<Block, String> {
        let store = self.chain.store();
        if let Some(block) = store.block(height).map_err(|e| e.to_string())? {
            return Ok(block);
        }
        let seal = store
            .pruned_seal(height)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no block {height} is stored, whole or dropped"))?;
        let header = store
            .header(height)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("the header of block {height} is missing"))?;
        let (transactions, _) = self.read(height).await?;
        Ok(Block {
            header,
            transactions,
            seal,
        })
    }
}

impl cairn_network::sync::BlockArchive for ClusterHandle {
    fn block(self: Arc<Self>, height: u64) -> cairn_network::sync::ArchiveRead {
        Box::pin(async move { self.read_block(height).await })
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn peer_bytes(peer: &PeerKey) -> Peer {
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(peer.as_ref());
    bytes
}

/// Starts the cluster: `peers` are the p2p network's members (this node included).
pub fn start<S, R>(
    chain: Arc<Chain>,
    settings: &ClusterSettings,
    me: &PeerKey,
    peers: &[PeerKey],
    (sender, receiver): (S, R),
) -> anyhow::Result<ClusterHandle>
where
    S: Sender<PublicKey = PeerKey> + Send + 'static,
    R: Receiver<PublicKey = PeerKey> + Send + 'static,
{
    let placement: Placement = settings.placement()?;
    let config = EngineConfig {
        placement,
        retain_blocks: settings.retain_blocks,
        max_data: wire::MAX_CLUSTER_MESSAGE_BYTES,
        read_timeout_ms: settings.heartbeat_ms.max(500) * 2,
        repair_batch: 128,
    };
    let me_bytes = peer_bytes(me);
    let by_bytes: BTreeMap<Peer, PeerKey> = peers
        .iter()
        .map(|peer| (peer_bytes(peer), peer.clone()))
        .collect();
    let mut membership = Membership::new(me_bytes, settings.membership());
    membership.set_connected(by_bytes.keys().copied().filter(|peer| *peer != me_bytes));
    let engine = Engine::new(membership, config, StoreShares::new(chain.store().clone())?);
    let status = Arc::new(Mutex::new(ClusterStatus {
        placement: placement.to_string(),
        retain_blocks: settings.retain_blocks,
        ..ClusterStatus::default()
    }));
    let (reads, read_requests) = mpsc::channel(256);
    let (expand, expansions) = mpsc::channel(4);
    tokio::spawn(run(
        chain.clone(),
        engine,
        by_bytes,
        sender,
        receiver,
        (read_requests, expansions),
        status.clone(),
    ));
    let cache_bytes =
        usize::try_from(settings.read_cache_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    Ok(ClusterHandle {
        chain,
        reads,
        expand,
        status,
        cache: Mutex::new(ReadCache::new(cache_bytes)),
    })
}

async fn run<S, R>(
    chain: Arc<Chain>,
    mut engine: Engine<StoreShares>,
    peers: BTreeMap<Peer, PeerKey>,
    mut sender: S,
    mut receiver: R,
    (mut read_requests, mut expansions): (
        mpsc::Receiver<(u64, oneshot::Sender<ActorReply>)>,
        mpsc::Receiver<()>,
    ),
    status: Arc<Mutex<ClusterStatus>>,
) where
    S: Sender<PublicKey = PeerKey>,
    R: Receiver<PublicKey = PeerKey>,
{
    let view = ChainView {
        chain: chain.clone(),
    };
    // Reads under way by request, with whoever waits for each; one request per height.
    let mut waiting: BTreeMap<u64, Vec<oneshot::Sender<ActorReply>>> = BTreeMap::new();
    let mut reading: BTreeMap<u64, u64> = BTreeMap::new();
    let mut tick = tokio::time::interval(TICK);
    let (placement, retain_blocks) = {
        let status = status.lock();
        (status.placement.clone(), status.retain_blocks)
    };
    let mut ticks: u64 = 0;
    let mut pruned = 0u64;
    loop {
        let (out, events) = tokio::select! {
            _ = tick.tick() => {
                let result = engine.tick(&view, now_ms());
                ticks += 1;
                // The status scans every old block: every five seconds.
                if ticks % 100 == 1 {
                    let mut described = describe(&engine, &view, &placement, retain_blocks);
                    described.pruned_blocks = pruned;
                    *status.lock() = described;
                }
                result
            }
            message = receiver.recv() => {
                let Ok((peer, bytes)) = message else { return };
                match wire::decode(bytes.as_ref()) {
                    Ok(message) => engine.receive(&view, now_ms(), peer_bytes(&peer), message),
                    Err(error) => {
                        debug!(%error, "dropping a malformed cluster message");
                        continue;
                    }
                }
            }
            Some(()) = expansions.recv() => {
                engine.membership_mut().request_expand();
                continue;
            }
            request = read_requests.recv() => {
                let Some((height, reply)) = request else { return };
                if let Some(request) = reading.get(&height) {
                    waiting.entry(*request).or_default().push(reply);
                    continue;
                }
                let (request, out) = engine.read(&view, height);
                waiting.entry(request).or_default().push(reply);
                reading.insert(height, request);
                (out, Vec::new())
            }
        };
        for (to, message) in out {
            let Some(peer) = peers.get(&to) else { continue };
            let bytes = wire::encode(&message);
            if bytes.len() <= wire::MAX_CLUSTER_MESSAGE_BYTES {
                let _ = sender.send(Recipients::One(peer.clone()), bytes, false);
            }
        }
        for event in events {
            match event {
                Event::Read {
                    request,
                    height,
                    data,
                } => {
                    if let Some(replies) = waiting.remove(&request) {
                        reading.remove(&height);
                        let body = decode_body(&data)
                            .map(|body| (Arc::new(body), data.len()))
                            .ok_or_else(|| "undecodable body".to_string());
                        for reply in replies {
                            let _ = reply.send(body.clone());
                        }
                    }
                }
                Event::Unreadable { request, height } => {
                    if let Some(replies) = waiting.remove(&request) {
                        reading.remove(&height);
                        for reply in replies {
                            let _ = reply.send(Err(format!(
                                "no member of the cluster could give block {height}"
                            )));
                        }
                    }
                }
                Event::Prune { height } => match chain.store().prune_body(height) {
                    Ok(true) => pruned += 1,
                    Ok(false) => {}
                    Err(error) => debug!(%error, height, "not pruned"),
                },
            }
        }
    }
}

fn describe(
    engine: &Engine<StoreShares>,
    view: &ChainView,
    placement: &str,
    retain_blocks: u64,
) -> ClusterStatus {
    let membership = engine.membership();
    let mut status = ClusterStatus {
        placement: placement.to_string(),
        retain_blocks,
        ..ClusterStatus::default()
    };
    if let (Some(roster), Some(online)) = (membership.roster(), membership.online()) {
        status.cluster_id = Some(roster.cluster);
        status.expires_at = Some(roster.expires_at_ms);
        status.index = roster.slot_of(membership.me()).map(|slot| slot as u32);
        status.members = roster
            .slots
            .iter()
            .enumerate()
            .map(|(index, peer)| ClusterMemberView {
                index: index as u32,
                peer: peer.map(B256::from),
                online: online.get(index).copied().unwrap_or(false),
                stored_blocks: peer
                    .as_ref()
                    .map(|peer| engine.acknowledged_by(peer))
                    .unwrap_or(0),
                stored_bytes: (peer.as_ref() == Some(membership.me()))
                    .then(|| engine.store().bytes()),
                faults: peer
                    .as_ref()
                    .and_then(|peer| engine.faults().get(peer).copied())
                    .unwrap_or(0),
                demoted: peer.as_ref().is_some_and(|peer| engine.is_demoted(peer)),
            })
            .collect();
        let (under, lost, pending) = engine.health(view);
        status.under_replicated = under;
        status.unrecoverable = lost;
        status.repair = RepairView {
            pending,
            done: engine.repaired(),
        };
    }
    status
}
