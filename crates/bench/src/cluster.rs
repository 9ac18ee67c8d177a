//! `cairn-bench cluster`: what the storage cluster stores, repairs, moves and reads, against a
//! full node holding the same chain.
//!
//! A chain of transfers is built with Cairn's ledger on a real redb store: that store is the
//! full node, and its bodies and receipts (RLP, as the node hands them to the cluster) are
//! what the members share. Eight members run Cairn's cluster engine, each over its own redb
//! store of shares (every write durable, as in the node), and exchange every message through
//! the wire codec. The chain grows a block at a time; blocks that leave the retention window
//! are stored by the members the placement names and dropped by the others after the
//! acknowledgements, as in a running node.
//!
//! Time is simulated in the node's own steps (its cluster actor ticks every 50 ms) and
//! messages arrive at once, so the figures leave the network out: a read's latency here is the
//! members' work (redb reads, Reed-Solomon decoding, the commitment and root checks), and
//! the repair time counts each 50 ms step as the longer of 50 ms and the busiest member's
//! measured work in it. Over a real network, add a round trip to a read.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use cairn_cluster::engine::{
    BlockRef, ClusterMessage, DataMessage, Engine, EngineConfig, Event, LocalChain, ShareStore,
};
use cairn_cluster::membership::{HeartbeatMode, Membership, MembershipConfig, Peer};
use cairn_cluster::{Placement, Slot, plan, wire};
use cairn_ledger::{Chain, receipts_root, transactions_root};
use cairn_node::cluster::{StoreShares, decode_body, encode_body};
use cairn_primitives::dev::{DEV_CHAIN_ID, dev_genesis, dev_validator_key};
use cairn_primitives::{
    Address, B256, CryptoSuite, GenesisAccount, Header, Seal, SecretKey, Transaction, keccak256,
};
use cairn_storage::Store;
use serde::Serialize;

/// The node's cluster tick.
const STEP_MS: u64 = 50;
/// The members of the measured cluster.
const MEMBERS: usize = 8;
/// Old blocks read for the latency figures.
const READS: usize = 300;

/// What `cairn-bench cluster` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Members of the cluster.
    pub members: usize,
    /// Blocks in the chain.
    pub blocks: u64,
    /// Transfers in them.
    pub transactions: u64,
    /// The placement measured.
    pub placement: String,
    /// Blocks every node keeps whole.
    pub retain_blocks: u64,
    /// Bytes of every body and receipt list: what a full node stores.
    pub full_node_bytes: u64,
    /// The most a member stores: its shares and the bodies it keeps whole.
    pub max_member_bytes: u64,
    /// `max_member_bytes / full_node_bytes` (target: at most 0.25).
    pub member_ratio: f64,
    /// Bytes of the bodies and receipts outside the retention window, one copy.
    pub old_blocks_bytes: u64,
    /// What the whole cluster stores of them.
    pub cluster_old_blocks_bytes: u64,
    /// `cluster_old_blocks_bytes / old_blocks_bytes` (target: at most 1.6).
    pub old_ratio: f64,
    /// From two members killed to every share stored again, detection included.
    pub repair_s: f64,
    /// The part of it from the first share rebuilt (before it: the grace the configuration
    /// gives a silent member, 3 s to be offline and 5 s more to be replaced).
    pub rebuild_s: f64,
    /// Shares rebuilt by the survivors.
    pub repaired_shares: u64,
    /// The placement of the 4-member cluster doubled (rs:4+2 needs six members).
    pub doubling_placement: String,
    /// Share bytes sent while a cluster of 4 doubled to 8.
    pub doubling_moved_bytes: u64,
    /// What the new members must receive whatever the rule (the data of the shares they
    /// home, without proofs).
    pub doubling_min_bytes: u64,
    /// `doubling_moved_bytes / doubling_min_bytes`.
    pub doubling_ratio: f64,
    /// Median read of an old block through the cluster, verified against its header.
    pub cluster_read_p50_ms: f64,
    /// 99th percentile of the same.
    pub cluster_read_p99_ms: f64,
    /// Median read of the same block's body and receipts from the full node's store.
    pub local_read_p50_ms: f64,
    /// `cluster_read_p50_ms / local_read_p50_ms`.
    pub read_ratio: f64,
}

/// One block as the cluster sees it.
struct BlockData {
    hash: B256,
    header: Header,
    data: Vec<u8>,
}

/// A member's view of the chain: every header up to its head, and the bodies it has not
/// dropped.
struct View {
    blocks: Arc<Vec<BlockData>>,
    head: u64,
    dropped: BTreeSet<u64>,
}

impl LocalChain for View {
    fn block(&self, height: u64) -> Option<BlockRef> {
        (height >= 1 && height <= self.head).then(|| BlockRef {
            height,
            hash: self.blocks[height as usize - 1].hash,
        })
    }

    fn data(&self, height: u64) -> Option<Vec<u8>> {
        (height >= 1 && height <= self.head && !self.dropped.contains(&height))
            .then(|| self.blocks[height as usize - 1].data.clone())
    }

    fn verify(&self, block: &BlockRef, data: &[u8]) -> bool {
        // What the node checks: the body and receipts against the header's roots.
        let Some(known) = self.blocks.get(block.height as usize - 1) else {
            return false;
        };
        let Some((transactions, receipts)) = decode_body(data) else {
            return false;
        };
        transactions.len() == receipts.len()
            && transactions_root(CryptoSuite::Ed25519Keccak, &transactions)
                == known.header.transactions_root
            && receipts_root(CryptoSuite::Ed25519Keccak, &receipts) == known.header.receipts_root
    }

    fn head(&self) -> u64 {
        self.head
    }

    fn kept_whole(&self, height: u64) -> bool {
        self.blocks[height as usize - 1].header.transactions_root == cairn_primitives::EMPTY_ROOT
    }
}

struct Member {
    peer: Peer,
    engine: Engine<StoreShares>,
    view: View,
    up: bool,
    /// Work measured in the current step.
    work: Duration,
    _dir: tempfile::TempDir,
}

/// Members exchanging encoded messages, delivered at once, in order.
struct Cluster {
    members: Vec<Member>,
    now: u64,
    queue: VecDeque<(usize, usize, Vec<u8>)>,
    /// Share payload bytes delivered.
    share_bytes: u64,
    /// Reads under way: (member, request) → started.
    reads: BTreeMap<(usize, u64), (u64, Instant)>,
    finished: Vec<(u64, Duration, Vec<u8>)>,
    failed: Vec<u64>,
    /// Modelled time: each step costs the longer of a step and the busiest member's work.
    modelled: Duration,
}

fn peer_key(index: usize) -> Peer {
    keccak256(format!("cairn-bench/cluster/{index}")).0
}

impl Cluster {
    fn new(
        count: usize,
        blocks: &Arc<Vec<BlockData>>,
        engine: EngineConfig,
        membership: MembershipConfig,
    ) -> anyhow::Result<Self> {
        let mut members = Vec::new();
        for index in 0..count {
            let dir = tempfile::tempdir()?;
            let store = Store::open(dir.path().join("shares.redb"))?;
            members.push(Member {
                peer: peer_key(index),
                engine: Engine::new(
                    Membership::new(peer_key(index), membership),
                    engine,
                    StoreShares::new(store)?,
                ),
                view: View {
                    blocks: blocks.clone(),
                    head: 0,
                    dropped: BTreeSet::new(),
                },
                up: true,
                work: Duration::ZERO,
                _dir: dir,
            });
        }
        Ok(Self {
            members,
            now: 1_000_000,
            queue: VecDeque::new(),
            share_bytes: 0,
            reads: BTreeMap::new(),
            finished: Vec::new(),
            failed: Vec::new(),
            modelled: Duration::ZERO,
        })
    }

    /// Connects every member of `group` with the others (and with its roster).
    fn connect(&mut self, group: &[usize]) {
        for a in group {
            let mut peers: Vec<Peer> = group
                .iter()
                .filter(|b| *b != a)
                .map(|b| self.members[*b].peer)
                .collect();
            let member = &mut self.members[*a];
            if let Some(roster) = member.engine.membership().roster() {
                peers.extend(roster.slots.iter().flatten().copied());
            }
            member.engine.membership_mut().set_connected(peers);
        }
    }

    fn index(&self, peer: &Peer) -> Option<usize> {
        self.members.iter().position(|member| member.peer == *peer)
    }

    fn send(&mut self, from: usize, out: Vec<(Peer, ClusterMessage)>) {
        for (to, message) in out {
            if let Some(to) = self.index(&to) {
                self.queue.push_back((from, to, wire::encode(&message)));
            }
        }
    }

    fn handle(&mut self, member: usize, events: Vec<Event>) {
        for event in events {
            match event {
                Event::Prune { height } => {
                    self.members[member].view.dropped.insert(height);
                }
                Event::Read { request, data, .. } => {
                    if let Some((height, started)) = self.reads.remove(&(member, request)) {
                        self.finished.push((height, started.elapsed(), data));
                    }
                }
                Event::Unreadable { request, height } => {
                    if self.reads.remove(&(member, request)).is_some() {
                        self.failed.push(height);
                    }
                }
            }
        }
    }

    fn deliver(&mut self) -> anyhow::Result<()> {
        while let Some((from, to, bytes)) = self.queue.pop_front() {
            if !self.members[to].up || !self.members[from].up {
                continue;
            }
            let message = wire::decode(&bytes).context("a member sent an undecodable message")?;
            if let ClusterMessage::Data(DataMessage::Share { bytes, .. }) = &message {
                self.share_bytes += bytes.len() as u64;
            }
            let sender = self.members[from].peer;
            let member = &mut self.members[to];
            let started = Instant::now();
            let (out, events) = member
                .engine
                .receive(&member.view, self.now, sender, message);
            member.work += started.elapsed();
            self.send(to, out);
            self.handle(to, events);
        }
        Ok(())
    }

    /// One step of the node's clock: every live member ticks, and every message arrives.
    fn step(&mut self) -> anyhow::Result<()> {
        self.now += STEP_MS;
        for index in 0..self.members.len() {
            if !self.members[index].up {
                continue;
            }
            let member = &mut self.members[index];
            let started = Instant::now();
            let (out, events) = member.engine.tick(&member.view, self.now);
            member.work += started.elapsed();
            self.send(index, out);
            self.handle(index, events);
        }
        self.deliver()?;
        let busiest = self
            .members
            .iter_mut()
            .map(|member| std::mem::take(&mut member.work))
            .max()
            .unwrap_or_default();
        self.modelled += busiest.max(Duration::from_millis(STEP_MS));
        Ok(())
    }

    /// Steps until `done` holds, for at most `limit_ms` of simulated time.
    fn run_until(
        &mut self,
        what: &str,
        limit_ms: u64,
        mut done: impl FnMut(&Self) -> bool,
    ) -> anyhow::Result<()> {
        let end = self.now + limit_ms;
        while !done(self) {
            if self.now >= end {
                let health: Vec<String> = self
                    .members
                    .iter()
                    .map(|member| {
                        let (under, lost, pending) = member.engine.health(&member.view);
                        format!("{under}/{lost}/{pending}")
                    })
                    .collect();
                bail!(
                    "{what}: not within {} s of cluster time (under-replicated/unrecoverable/pending by member: {})",
                    limit_ms / 1_000,
                    health.join(" ")
                );
            }
            self.step()?;
        }
        Ok(())
    }

    fn grow_to(&mut self, head: u64) {
        for member in &mut self.members {
            member.view.head = head;
        }
    }

    fn formed(&self, group: &[usize], size: usize) -> bool {
        group.iter().all(|index| {
            self.members[*index]
                .engine
                .membership()
                .roster()
                .is_some_and(|roster| roster.slots.iter().flatten().count() == size)
        })
    }

    /// Old blocks with a share not stored by its holder, in `member`'s view.
    fn under_replicated(&self, member: usize) -> u64 {
        let member = &self.members[member];
        member.engine.health(&member.view).0
    }

    /// Reads `height` through `member`, waiting for the answer.
    fn read(&mut self, member: usize, height: u64) -> anyhow::Result<()> {
        let started = Instant::now();
        let node = &mut self.members[member];
        let (request, out) = node.engine.read(&node.view, height);
        self.reads.insert((member, request), (height, started));
        self.send(member, out);
        self.deliver()?;
        let mut waited = 0;
        while self.reads.contains_key(&(member, request)) {
            ensure!(waited < 100, "read of block {height} did not finish");
            self.step()?;
            waited += 1;
        }
        Ok(())
    }
}

/// Builds `blocks` blocks of `per_block` transfers on a real store; returns the chain and its
/// blocks as the cluster sees them.
fn build_chain(
    blocks: u64,
    per_block: usize,
) -> anyhow::Result<(tempfile::TempDir, Chain, Arc<Vec<BlockData>>, u64)> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("full.redb"))?;
    let mut genesis = dev_genesis(1, 1_000);
    let senders: Vec<SecretKey> = (0..per_block)
        .map(|i| SecretKey::from_bytes(keccak256(format!("cairn-bench/cluster/sender/{i}")).0))
        .collect();
    genesis
        .accounts
        .extend(senders.iter().map(|key| GenesisAccount {
            address: key.address(),
            balance: u128::from(u64::MAX),
        }));
    Chain::initialize(&store, &genesis)?;
    let chain = Chain::open(store)?;
    let validator = dev_validator_key(0);
    let mut data = Vec::with_capacity(blocks as usize);
    let mut transactions = 0u64;
    for height in 1..=blocks {
        let txs = senders
            .iter()
            .enumerate()
            .map(|(i, key)| {
                Transaction {
                    chain_id: DEV_CHAIN_ID,
                    nonce: height - 1,
                    to: Address::from_word(keccak256((height * 1_000 + i as u64).to_be_bytes())),
                    amount: 1 + i as u128,
                }
                .sign(key)
            })
            .collect::<Vec<_>>();
        let executed = chain.propose(txs, chain.head().timestamp_ms + 1, validator.address())?;
        let seal = Seal::sign(&executed.hash(), &validator);
        let committed = chain.commit(&executed.hash(), seal)?;
        let block = &committed.block;
        ensure!(
            block.transactions.len() == per_block,
            "block {height} took {} of {per_block} transfers",
            block.transactions.len()
        );
        transactions += block.transactions.len() as u64;
        let receipts = chain
            .store()
            .receipts(height)?
            .context("receipts just committed")?;
        data.push(BlockData {
            hash: block.hash(chain.suite()),
            header: block.header.clone(),
            data: encode_body(&block.transactions, &receipts),
        });
    }
    Ok((dir, chain, Arc::new(data), transactions))
}

fn membership_config(form: usize) -> MembershipConfig {
    // `cairn testnet init`'s cluster settings.
    MembershipConfig {
        invite_min_peers: form - 1,
        form_min_members: form,
        invite_window_ms: 500,
        id_lifetime_ms: 86_400_000,
        heartbeat_ms: 500,
        offline_after_ms: 3_000,
        repair_after_ms: 5_000,
        heartbeat: HeartbeatMode::All,
        auto_expand: true,
    }
}

fn engine_config(placement: Placement, retain_blocks: u64) -> EngineConfig {
    // The node's engine settings.
    EngineConfig {
        placement,
        retain_blocks,
        max_data: wire::MAX_CLUSTER_MESSAGE_BYTES,
        read_timeout_ms: 1_000,
        repair_batch: 128,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1_000.0
}

/// Grows the cluster's chain a block per step to the chain's height, then until every old
/// block is stored and dropped where it may be.
fn fill(cluster: &mut Cluster, head: u64, retain: u64, live: &[usize]) -> anyhow::Result<()> {
    for height in 1..=head {
        cluster.grow_to(height);
        cluster.step()?;
    }
    let old = head - retain;
    cluster.run_until("storing the old blocks", 600_000, |cluster| {
        live.iter().all(|member| {
            cluster.under_replicated(*member) == 0
                && cluster.members[*member].view.dropped.len() as u64 == old
        })
    })
}

/// Runs the benchmark.
pub fn run(blocks: u64, per_block: usize, retain: u64) -> anyhow::Result<Report> {
    ensure!(blocks > retain, "--blocks must exceed --retain-blocks");
    let placement: Placement = "rs:4+2".parse()?;
    eprintln!("building a chain of {blocks} blocks of {per_block} transfers");
    let (_full_dir, full, chain, transactions) = build_chain(blocks, per_block)?;
    let full_node_bytes: u64 = chain.iter().map(|block| block.data.len() as u64).sum();
    let old = blocks - retain;
    let old_blocks_bytes: u64 = chain[..old as usize]
        .iter()
        .map(|block| block.data.len() as u64)
        .sum();

    // Eight members store the chain as it grows.
    eprintln!("storing it across {MEMBERS} members ({placement})");
    let all: Vec<usize> = (0..MEMBERS).collect();
    let mut cluster = Cluster::new(
        MEMBERS,
        &chain,
        engine_config(placement, retain),
        membership_config(MEMBERS),
    )?;
    cluster.connect(&all);
    cluster.run_until("forming", 60_000, |cluster| cluster.formed(&all, MEMBERS))?;
    fill(&mut cluster, blocks, retain, &all)?;
    let member_bytes: Vec<u64> = cluster
        .members
        .iter()
        .map(|member| {
            let kept: u64 = (1..=blocks)
                .filter(|height| !member.view.dropped.contains(height))
                .map(|height| chain[height as usize - 1].data.len() as u64)
                .sum();
            member.engine.store().bytes() + kept
        })
        .collect();
    let max_member_bytes = member_bytes.iter().copied().max().unwrap_or(0);
    let cluster_old_blocks_bytes: u64 = cluster
        .members
        .iter()
        .map(|member| member.engine.store().bytes())
        .sum();

    // Reads of old blocks: through the cluster, against the full node's store.
    eprintln!("reading {READS} old blocks both ways");
    let heights: Vec<u64> = (0..READS as u64).map(|i| 1 + (i * 7_919) % old).collect();
    for (i, height) in heights.iter().enumerate() {
        cluster.read(i % MEMBERS, *height)?;
    }
    ensure!(
        cluster.failed.is_empty(),
        "reads failed: {:?}",
        cluster.failed
    );
    for (height, _, data) in &cluster.finished {
        ensure!(
            *data == chain[*height as usize - 1].data,
            "block {height} read back wrong"
        );
    }
    let mut cluster_reads: Vec<Duration> = cluster.finished.iter().map(|(_, d, _)| *d).collect();
    cluster_reads.sort();
    let mut local_reads = Vec::with_capacity(heights.len());
    for height in &heights {
        let started = Instant::now();
        let block = full.store().block(*height)?.context("full node block")?;
        let receipts = full
            .store()
            .receipts(*height)?
            .context("full node receipts")?;
        local_reads.push(started.elapsed());
        ensure!(encode_body(&block.transactions, &receipts) == chain[*height as usize - 1].data);
    }
    local_reads.sort();

    // Two members die; the survivors rebuild their shares.
    eprintln!("killing two members and repairing");
    cluster.members[6].up = false;
    cluster.members[7].up = false;
    let survivors: Vec<usize> = (0..6).collect();
    let repaired_before: u64 = cluster.members.iter().map(|m| m.engine.repaired()).sum();
    let modelled_before = cluster.modelled;
    let mut first_rebuilt = None;
    cluster.run_until("repair", 1_800_000, |cluster| {
        let repaired: u64 = cluster.members.iter().map(|m| m.engine.repaired()).sum();
        if repaired > repaired_before && first_rebuilt.is_none() {
            first_rebuilt = Some(cluster.modelled);
        }
        // Done once every survivor sees the dead members offline (so it counts their shares
        // as missing) and every share is stored again.
        let dead = [cluster.members[6].peer, cluster.members[7].peer];
        let noticed = survivors.iter().all(|member| {
            let membership = cluster.members[*member].engine.membership();
            let (Some(roster), Some(online)) = (membership.roster(), membership.online()) else {
                return false;
            };
            dead.iter().all(|peer| {
                roster
                    .slot_of(peer)
                    .is_none_or(|slot| !online.get(slot).copied().unwrap_or(false))
            })
        });
        noticed
            && survivors
                .iter()
                .all(|member| cluster.under_replicated(*member) == 0)
    })?;
    let repair = cluster.modelled - modelled_before;
    let rebuild = cluster.modelled - first_rebuilt.unwrap_or(cluster.modelled);
    let repaired_shares = cluster
        .members
        .iter()
        .map(|m| m.engine.repaired())
        .sum::<u64>()
        - repaired_before;
    // Everything is still there.
    cluster.finished.clear();
    for (i, height) in heights.iter().take(50).enumerate() {
        cluster.read(survivors[i % survivors.len()], *height)?;
    }
    ensure!(
        cluster.failed.is_empty() && cluster.finished.len() == 50,
        "reads failed after the repair: {:?}",
        cluster.failed
    );
    drop(cluster);

    // A cluster of four doubles to eight.
    let small: Placement = "rs:2+1".parse()?;
    eprintln!("doubling a cluster of 4 ({small}) to 8");
    let four: Vec<usize> = (0..4).collect();
    let mut doubling = Cluster::new(
        8,
        &chain,
        engine_config(small, retain),
        membership_config(4),
    )?;
    doubling.connect(&four);
    doubling.run_until("forming four", 60_000, |cluster| cluster.formed(&four, 4))?;
    // The joiners follow the chain but, new, hold no old body.
    for joiner in 4..8 {
        doubling.members[joiner].up = false;
    }
    fill(&mut doubling, blocks, retain, &four)?;
    let slots: Vec<Slot> = (0..4)
        .map(|_| Slot {
            online: true,
            segment: 0,
        })
        .collect();
    let old_blocks: Vec<plan::OldBlock> = chain[..old as usize]
        .iter()
        .map(|block| plan::OldBlock {
            hash: block.hash,
            bytes: block.data.len() as u64,
        })
        .collect();
    let doubling_min_bytes = plan::doubling(&small, &old_blocks, &slots).min_bytes;
    for joiner in 4..8 {
        let member = &mut doubling.members[joiner];
        member.up = true;
        member.view.dropped = (1..=old).collect();
    }
    for joiner in 4..8 {
        doubling.connect(&[0, 1, 2, 3, joiner]);
    }
    doubling.share_bytes = 0;
    let everyone: Vec<usize> = (0..8).collect();
    doubling.run_until("doubling", 1_800_000, |cluster| {
        cluster.formed(&everyone, 8)
            && everyone
                .iter()
                .all(|member| cluster.under_replicated(*member) == 0)
    })?;
    let doubling_moved_bytes = doubling.share_bytes;
    for joiner in 4..8 {
        ensure!(
            doubling.members[joiner].engine.store().bytes() > 0,
            "joiner {joiner} received no share"
        );
    }

    let cluster_read_p50_ms = percentile(&cluster_reads, 0.5);
    let local_read_p50_ms = percentile(&local_reads, 0.5);
    Ok(Report {
        members: MEMBERS,
        blocks,
        transactions,
        placement: placement.to_string(),
        retain_blocks: retain,
        full_node_bytes,
        max_member_bytes,
        member_ratio: max_member_bytes as f64 / full_node_bytes as f64,
        old_blocks_bytes,
        cluster_old_blocks_bytes,
        old_ratio: cluster_old_blocks_bytes as f64 / old_blocks_bytes as f64,
        repair_s: repair.as_secs_f64(),
        rebuild_s: rebuild.as_secs_f64(),
        repaired_shares,
        doubling_placement: small.to_string(),
        doubling_moved_bytes,
        doubling_min_bytes,
        doubling_ratio: doubling_moved_bytes as f64 / doubling_min_bytes.max(1) as f64,
        cluster_read_p50_ms,
        cluster_read_p99_ms: percentile(&cluster_reads, 0.99),
        local_read_p50_ms,
        read_ratio: cluster_read_p50_ms / local_read_p50_ms,
    })
}
