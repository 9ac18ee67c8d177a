//! Deterministic simulations of the cluster's data plane over many seeds: blocks leave the
//! retention window and are stored as shares, bodies are dropped, every old block is read back
//! from every node; two members die and nothing is lost; repair restores every share; two more
//! die and everything is still readable; a member serving corrupted shards is counted, demoted
//! and worked around; a doubling under continuous reads loses no read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use alloy_primitives::{B256, keccak256};
use cairn_cluster::Placement;
use cairn_cluster::engine::{
    BlockRef, ClusterMessage, DataMessage, Engine, EngineConfig, Event, LocalChain, ShareStore,
};
use cairn_cluster::membership::{HeartbeatMode, Membership, MembershipConfig, Peer};

const STEP_MS: u64 = 10;

/// The blocks every node agrees on: hash and the digest of the data.
struct Blocks {
    hashes: Vec<B256>,
    data: Vec<Vec<u8>>,
}

impl Blocks {
    fn new(count: u64, seed: u64) -> Self {
        let data: Vec<Vec<u8>> = (1..=count)
            .map(|height| {
                let size = 2_000 + ((height * 7_919 + seed) % 6_000) as usize;
                (0..size)
                    .map(|i| keccak256((height ^ seed).to_be_bytes())[i % 32] ^ i as u8)
                    .collect()
            })
            .collect();
        Self {
            hashes: (1..=count)
                .map(|height| keccak256([height.to_be_bytes(), seed.to_be_bytes()].concat()))
                .collect(),
            data,
        }
    }
}

struct Chain {
    blocks: Arc<Blocks>,
    head: u64,
    local: BTreeMap<u64, Vec<u8>>,
    /// Blocks whose data follows from their header (no transactions).
    empty: BTreeSet<u64>,
}

impl LocalChain for Chain {
    fn block(&self, height: u64) -> Option<BlockRef> {
        (height >= 1 && height <= self.head).then(|| BlockRef {
            height,
            hash: self.blocks.hashes[height as usize - 1],
        })
    }
    fn data(&self, height: u64) -> Option<Vec<u8>> {
        self.local.get(&height).cloned()
    }
    fn verify(&self, block: &BlockRef, data: &[u8]) -> bool {
        self.blocks
            .data
            .get(block.height as usize - 1)
            .map(Vec::as_slice)
            == Some(data)
    }
    fn head(&self) -> u64 {
        self.head
    }
    fn kept_whole(&self, height: u64) -> bool {
        self.empty.contains(&height)
    }
}

#[derive(Default)]
struct Store {
    shares: BTreeMap<(u64, u16), (B256, Vec<u8>)>,
    /// Serve corrupted bytes (a hostile member).
    corrupt: bool,
    /// Serve shards of other data, consistent with their own commitment (`rs:K+M` given).
    forge: Option<(u16, u16)>,
}

impl ShareStore for Store {
    fn get(&self, height: u64, share: u16) -> Option<(B256, Vec<u8>)> {
        let (commitment, mut bytes) = self.shares.get(&(height, share)).cloned()?;
        if let Some((k, m)) = self.forge {
            let other = vec![height as u8; 3_000];
            let forged = cairn_cluster::shards::encode(&other, k, m).unwrap();
            return Some((forged.commitment, forged.shards[usize::from(share)].clone()));
        }
        if self.corrupt && !bytes.is_empty() {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x55;
        }
        Some((commitment, bytes))
    }
    fn put(&mut self, height: u64, share: u16, commitment: B256, bytes: Vec<u8>) {
        self.shares.insert((height, share), (commitment, bytes));
    }
    fn remove(&mut self, height: u64, share: u16) {
        self.shares.remove(&(height, share));
    }
    fn bytes(&self) -> u64 {
        self.shares
            .values()
            .map(|(_, bytes)| bytes.len() as u64)
            .sum()
    }
    fn list(&self) -> Vec<(u64, u16)> {
        self.shares.keys().copied().collect()
    }
}

fn key(index: usize) -> Peer {
    let mut key = [0u8; 32];
    key[0] = (index as u8).wrapping_mul(37).wrapping_add(11);
    key[31] = index as u8;
    key
}

struct Node {
    engine: Engine<Store>,
    engine_config: EngineConfig,
    chain: Chain,
    reads: BTreeMap<u64, Option<Vec<u8>>>,
}

struct Sim {
    nodes: Vec<Node>,
    up: Vec<bool>,
    blocks: Arc<Blocks>,
    queue: BTreeMap<(u64, u64), (usize, usize, ClusterMessage)>,
    sequence: u64,
    now: u64,
    rng: u64,
    retain: u64,
    placement: Placement,
    /// A member that stores nothing, claims every share of every block, and tells every
    /// reader it has nothing.
    liar: Option<usize>,
    membership_config: MembershipConfig,
    /// Prune events that came before every honest holder had its share.
    early_prunes: Vec<(usize, u64)>,
    /// Share bytes delivered.
    share_bytes: u64,
    /// Fetches sent, by (from, to).
    fetches: BTreeMap<(usize, usize), u64>,
}

impl Sim {
    fn new(count: usize, placement: &str, form: usize, seed: u64, blocks: u64) -> Self {
        let blocks = Arc::new(Blocks::new(blocks, seed));
        let membership = MembershipConfig {
            invite_min_peers: form - 1,
            form_min_members: form,
            invite_window_ms: 300,
            id_lifetime_ms: 3_600_000,
            heartbeat_ms: 200,
            offline_after_ms: 1_000,
            repair_after_ms: 1_000,
            heartbeat: HeartbeatMode::All,
            auto_expand: true,
        };
        let config = EngineConfig {
            placement: placement.parse::<Placement>().unwrap(),
            retain_blocks: 10,
            max_data: 64 * 1024,
            read_timeout_ms: 500,
            repair_batch: 20,
        };
        let nodes = (0..count)
            .map(|i| Node {
                engine: Engine::new(
                    Membership::new(key(i), membership),
                    config,
                    Store::default(),
                ),
                engine_config: config,
                chain: Chain {
                    blocks: blocks.clone(),
                    head: 0,
                    local: BTreeMap::new(),
                    empty: BTreeSet::new(),
                },
                reads: BTreeMap::new(),
            })
            .collect();
        Self {
            up: vec![true; count],
            nodes,
            blocks,
            queue: BTreeMap::new(),
            sequence: 0,
            now: 1_000_000,
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            retain: config.retain_blocks,
            placement: config.placement,
            liar: None,
            membership_config: membership,
            early_prunes: Vec::new(),
            share_bytes: 0,
            fetches: BTreeMap::new(),
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn connect(&mut self, groups: &[usize]) {
        for a in groups {
            let peers: Vec<Peer> = groups.iter().filter(|b| *b != a).map(|b| key(*b)).collect();
            let mut all = peers;
            if let Some(existing) = self.nodes[*a].engine.membership().roster() {
                all.extend(existing.slots.iter().flatten().copied());
            }
            self.nodes[*a].engine.membership_mut().set_connected(all);
        }
    }

    fn index(&self, peer: &Peer) -> usize {
        (0..self.nodes.len()).find(|i| key(*i) == *peer).unwrap()
    }

    fn send(&mut self, from: usize, out: Vec<(Peer, ClusterMessage)>) {
        for (to, message) in out {
            let to = self.index(&to);
            if matches!(message, ClusterMessage::Data(DataMessage::Fetch { .. })) {
                *self.fetches.entry((from, to)).or_default() += 1;
            }
            if self.random() % 100 < 1 {
                continue;
            }
            let delay = 1 + self.random() % 30;
            self.sequence += 1;
            self.queue
                .insert((self.now + delay, self.sequence), (from, to, message));
        }
    }

    fn handle(&mut self, node: usize, events: Vec<Event>) {
        for event in events {
            match event {
                Event::Read { request, data, .. } => {
                    self.nodes[node].reads.insert(request, Some(data));
                }
                Event::Unreadable { request, .. } => {
                    self.nodes[node].reads.insert(request, None);
                }
                Event::Prune { height } => {
                    if !self.honestly_stored(node, height) {
                        self.early_prunes.push((node, height));
                    }
                    let chain = &mut self.nodes[node].chain;
                    if height + self.retain <= chain.head {
                        chain.local.remove(&height);
                    }
                }
            }
        }
    }

    /// Whether every share of `height` that `node`'s view gives an honest member is stored by
    /// that member.
    fn honestly_stored(&self, node: usize, height: u64) -> bool {
        let membership = self.nodes[node].engine.membership();
        let (Some(roster), Some(online)) = (membership.roster(), membership.online()) else {
            return false;
        };
        let slots: Vec<cairn_cluster::Slot> = online
            .iter()
            .map(|online| cairn_cluster::Slot {
                online: *online,
                segment: 0,
            })
            .collect();
        let hash = self.blocks.hashes[height as usize - 1];
        self.placement
            .assign(&hash, &slots)
            .iter()
            .enumerate()
            .all(|(share, slot)| {
                let Some(peer) = slot.and_then(|slot| roster.slots[slot as usize]) else {
                    return true;
                };
                let holder = self.index(&peer);
                Some(holder) == self.liar
                    || self.nodes[holder]
                        .engine
                        .store()
                        .shares
                        .contains_key(&(height, share as u16))
            })
    }

    /// The liar's messages for this step: a claim of every share of the blocks leaving the
    /// window, to everyone.
    fn lie(&mut self) {
        let Some(liar) = self.liar else { return };
        let head = self.nodes[liar].chain.head;
        let Some(height) = head.checked_sub(self.retain).filter(|h| *h > 0) else {
            return;
        };
        let shares = self.placement.shares();
        let out: Vec<(Peer, ClusterMessage)> = (0..self.nodes.len())
            .filter(|node| *node != liar)
            .flat_map(|node| {
                (0..shares).map(move |share| {
                    (
                        key(node),
                        ClusterMessage::Data(DataMessage::Stored { height, share }),
                    )
                })
            })
            .collect();
        self.send(liar, out);
    }

    /// Runs `duration`, adding a block every `block_every` steps (0: none).
    fn run(&mut self, duration: u64, block_every: u64) {
        let end = self.now + duration;
        let mut step = 0;
        while self.now < end {
            self.now += STEP_MS;
            step += 1;
            if block_every > 0 && step % block_every == 0 {
                for node in 0..self.nodes.len() {
                    let chain = &mut self.nodes[node].chain;
                    if (chain.head as usize) < self.blocks.data.len() {
                        chain.head += 1;
                        let data = self.blocks.data[chain.head as usize - 1].clone();
                        chain.local.insert(chain.head, data);
                    }
                }
            }
            let due: Vec<(u64, u64)> = self
                .queue
                .range(..(self.now + 1, 0))
                .map(|(at, _)| *at)
                .collect();
            for at in due {
                let (from, to, message) = self.queue.remove(&at).unwrap();
                if !self.up[to] || !self.up[from] {
                    continue;
                }
                if let ClusterMessage::Data(DataMessage::Share { bytes, .. }) = &message {
                    self.share_bytes += bytes.len() as u64;
                }
                let node = &mut self.nodes[to];
                let (out, events) = node
                    .engine
                    .receive(&node.chain, self.now, key(from), message);
                if Some(to) == self.liar {
                    // It answers every question with "missing", and stores nothing.
                    let lies: Vec<(Peer, ClusterMessage)> = out
                        .into_iter()
                        .map(|(peer, message)| match message {
                            ClusterMessage::Data(DataMessage::Share { request, share, .. }) => (
                                peer,
                                ClusterMessage::Data(DataMessage::Missing { request, share }),
                            ),
                            other => (peer, other),
                        })
                        .collect();
                    self.send(to, lies);
                    continue;
                }
                self.send(to, out);
                self.handle(to, events);
            }
            self.lie();
            for index in 0..self.nodes.len() {
                if !self.up[index] {
                    continue;
                }
                let node = &mut self.nodes[index];
                let (out, events) = node.engine.tick(&node.chain, self.now);
                if Some(index) == self.liar {
                    node.engine.store_mut().shares.clear();
                    let heartbeats_only: Vec<(Peer, ClusterMessage)> = out
                        .into_iter()
                        .filter(|(_, message)| matches!(message, ClusterMessage::Membership(_)))
                        .collect();
                    self.send(index, heartbeats_only);
                    continue;
                }
                self.send(index, out);
                self.handle(index, events);
            }
        }
    }

    /// Reads every old block from `reader`; returns the heights that failed.
    fn read_all(&mut self, reader: usize) -> Vec<u64> {
        let old = self.nodes[reader].chain.head.saturating_sub(self.retain);
        let mut requests = Vec::new();
        for height in 1..=old {
            let node = &mut self.nodes[reader];
            let (request, out) = node.engine.read(&node.chain, height);
            requests.push((request, height));
            self.send(reader, out);
        }
        self.run(1_500, 0);
        requests
            .into_iter()
            .filter(|(request, height)| {
                self.nodes[reader]
                    .reads
                    .get(request)
                    .cloned()
                    .flatten()
                    .as_deref()
                    != Some(self.blocks.data[*height as usize - 1].as_slice())
            })
            .map(|(_, height)| height)
            .collect()
    }

    /// Every share of every old block is held by the member the placement now names.
    fn fully_replicated(&self) -> bool {
        let live = (0..self.nodes.len()).find(|i| self.up[*i]).unwrap();
        let roster = self.nodes[live]
            .engine
            .membership()
            .roster()
            .unwrap()
            .clone();
        let online = self.nodes[live].engine.membership().online().unwrap();
        let slots: Vec<cairn_cluster::Slot> = online
            .iter()
            .map(|online| cairn_cluster::Slot {
                online: *online,
                segment: 0,
            })
            .collect();
        let old = self.nodes[live].chain.head.saturating_sub(self.retain);
        let empty = &self.nodes[live].chain.empty;
        (1..=old)
            .filter(|height| !empty.contains(height))
            .all(|height| {
                let hash = self.blocks.hashes[height as usize - 1];
                self.placement
                    .assign(&hash, &slots)
                    .iter()
                    .enumerate()
                    .all(|(share, slot)| {
                        let Some(slot) = slot else { return false };
                        let Some(peer) = roster.slots[*slot as usize] else {
                            return false;
                        };
                        self.nodes[self.index(&peer)]
                            .engine
                            .store()
                            .shares
                            .contains_key(&(height, share as u16))
                    })
            })
    }
}

fn seeds() -> std::ops::Range<u64> {
    let count = std::env::var("CAIRN_CLUSTER_SEEDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(6);
    0..count
}

#[test]
fn old_blocks_live_in_the_cluster_survive_failures_and_are_repaired() {
    for seed in seeds() {
        let mut sim = Sim::new(8, "rs:4+2", 8, seed, 120);
        sim.connect(&(0..8).collect::<Vec<_>>());
        sim.run(2_000, 0);
        assert!(
            sim.nodes
                .iter()
                .all(|n| n.engine.membership().roster().is_some()),
            "seed {seed}"
        );
        // 120 blocks, one every 50 ms.
        sim.run(120 * 50 + 2_000, 5);
        let head = sim.nodes[0].chain.head;
        assert_eq!(head, 120);
        let full: u64 = sim.blocks.data.iter().map(|d| d.len() as u64).sum();
        for (index, node) in sim.nodes.iter().enumerate() {
            // No node keeps the old bodies; each keeps about 3/16 of the chain in shares.
            assert!(
                node.chain.local.keys().all(|h| *h + sim.retain > head),
                "seed {seed}: node {index} kept old bodies"
            );
            assert!(
                node.engine.store().bytes() * 4 <= full,
                "seed {seed}: node {index}"
            );
        }
        for reader in [0, 3, 7] {
            assert_eq!(
                sim.read_all(reader),
                Vec::<u64>::new(),
                "seed {seed}: reader {reader}"
            );
        }
        // Two members die: everything is still readable.
        sim.up[6] = false;
        sim.up[7] = false;
        assert_eq!(
            sim.read_all(1),
            Vec::<u64>::new(),
            "seed {seed}: after two failures"
        );
        // Repair puts every share on the members the placement now names.
        sim.run(6_000, 0);
        assert!(sim.fully_replicated(), "seed {seed}: not repaired");
        // Two more die: still readable.
        sim.up[0] = false;
        sim.up[5] = false;
        assert_eq!(
            sim.read_all(2),
            Vec::<u64>::new(),
            "seed {seed}: after four failures"
        );
    }
}

#[test]
fn a_member_serving_corrupted_shards_is_counted_and_worked_around() {
    for seed in seeds() {
        let mut sim = Sim::new(8, "rs:4+2", 8, seed, 60);
        sim.connect(&(0..8).collect::<Vec<_>>());
        sim.run(2_000, 0);
        sim.run(60 * 50 + 2_000, 5);
        sim.nodes[4].engine.store_mut().corrupt = true;
        assert_eq!(sim.read_all(1), Vec::<u64>::new(), "seed {seed}");
        let faults = sim.nodes[1]
            .engine
            .faults()
            .get(&key(4))
            .copied()
            .unwrap_or(0);
        assert!(
            faults > 0,
            "seed {seed}: the corrupting member was not counted"
        );
        assert!(
            sim.nodes[1]
                .engine
                .faults()
                .keys()
                .all(|peer| *peer == key(4)),
            "seed {seed}: an honest member was blamed"
        );
        // Demoted: the next reads leave it out (but for a retry after lost answers, which
        // asks everyone), and still succeed.
        assert!(
            sim.nodes[1].engine.is_demoted(&key(4)),
            "seed {seed}: {faults} faults and not demoted"
        );
        sim.fetches.clear();
        assert_eq!(sim.read_all(1), Vec::<u64>::new(), "seed {seed}");
        let demoted = sim.fetches.get(&(1, 4)).copied().unwrap_or(0);
        let honest = sim.fetches.get(&(1, 5)).copied().unwrap_or(0);
        assert!(
            honest > 0 && demoted * 10 <= honest,
            "seed {seed}: the demoted member was asked {demoted} times, an honest one {honest}"
        );
    }
}

#[test]
fn a_doubling_under_continuous_reads_loses_no_read() {
    for seed in seeds() {
        let mut sim = Sim::new(8, "rs:2+1", 4, seed, 60);
        sim.connect(&[0, 1, 2, 3]);
        sim.run(2_000, 0);
        sim.run(60 * 50 + 2_000, 5);
        let before: Vec<u64> = (0..4)
            .map(|i| sim.nodes[i].engine.store().bytes())
            .collect();
        // Four nodes join (connected to the members only); reads go on throughout.
        for joiner in 4..8 {
            // A joiner has the headers, not the old blocks: it must get its shares from the
            // cluster.
            let head = sim.nodes[0].chain.head;
            let chain = &mut sim.nodes[joiner].chain;
            chain.head = head;
            chain.local.retain(|height, _| height + sim.retain > head);
            sim.connect(&[0, 1, 2, 3, joiner]);
        }
        let mut failed = Vec::new();
        for round in 0..8 {
            failed.extend(sim.read_all((round % 4) as usize));
        }
        assert_eq!(
            failed,
            Vec::<u64>::new(),
            "seed {seed}: reads failed during the doubling"
        );
        sim.run(4_000, 0);
        let roster = sim.nodes[0].engine.membership().roster().unwrap().clone();
        assert_eq!(roster.slots.len(), 8, "seed {seed}: not doubled");
        assert!(
            sim.fully_replicated(),
            "seed {seed}: new members lack their shares"
        );
        // The old members handed about half of their shares over.
        for (i, bytes) in before.iter().enumerate() {
            let after = sim.nodes[i].engine.store().bytes();
            assert!(after < *bytes, "seed {seed}: member {i} kept everything");
        }
        for reader in [4, 7] {
            assert_eq!(
                sim.read_all(reader),
                Vec::<u64>::new(),
                "seed {seed}: joiner {reader}"
            );
        }
    }
}

/// Four members with `rs:2+1` and 60 blocks, then four joiners; returns the simulation with
/// the doubling done and the share bytes it moved.
fn doubled(seed: u64, forger: Option<usize>) -> (Sim, u64) {
    let mut sim = Sim::new(8, "rs:2+1", 4, seed, 60);
    sim.connect(&[0, 1, 2, 3]);
    sim.run(2_000, 0);
    sim.run(60 * 50 + 2_000, 5);
    if let Some(forger) = forger {
        sim.nodes[forger].engine.store_mut().forge = Some((2, 1));
    }
    for joiner in 4..8 {
        let head = sim.nodes[0].chain.head;
        let chain = &mut sim.nodes[joiner].chain;
        chain.head = head;
        chain.local.retain(|height, _| height + sim.retain > head);
        sim.connect(&[0, 1, 2, 3, joiner]);
    }
    sim.share_bytes = 0;
    sim.run(6_000, 0);
    let moved = sim.share_bytes;
    (sim, moved)
}

#[test]
fn a_doubling_moves_each_share_once_and_refuses_forged_handovers() {
    for seed in seeds() {
        // Honest: each share a joiner now holds crossed the network about once (its old
        // holder handed it over), not as the K+M shards of a whole read.
        let (sim, moved) = doubled(seed, None);
        assert!(sim.fully_replicated(), "seed {seed}: not doubled");
        let received: u64 = (4..8).map(|j| sim.nodes[j].engine.store().bytes()).sum();
        assert!(received > 0, "seed {seed}: the joiners got nothing");
        assert!(
            moved * 4 <= received * 5,
            "seed {seed}: {moved} bytes moved for {received} bytes handed over"
        );

        // An old holder hands over shards of other data that check against their own
        // commitment: the other holders do not vouch for it, so no joiner keeps one.
        let (mut sim, _) = doubled(seed, Some(2));
        assert!(
            sim.fully_replicated(),
            "seed {seed}: not doubled past a forger"
        );
        for joiner in 4..8 {
            for ((height, share), (commitment, bytes)) in &sim.nodes[joiner].engine.store().shares {
                let data = &sim.blocks.data[*height as usize - 1];
                let honest = cairn_cluster::shards::encode(data, 2, 1).unwrap();
                assert_eq!(
                    (commitment, bytes),
                    (&honest.commitment, &honest.shards[usize::from(*share)]),
                    "seed {seed}: joiner {joiner} kept a forged share of block {height}"
                );
            }
        }
        // The joiners counted it.
        let counted: u64 = (4..8)
            .map(|j| {
                sim.nodes[j]
                    .engine
                    .faults()
                    .get(&key(2))
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        assert!(counted > 0, "seed {seed}: the forger was not counted");
        sim.nodes[2].engine.store_mut().forge = None;
        assert_eq!(sim.read_all(5), Vec::<u64>::new(), "seed {seed}");
    }
}

#[test]
fn blocks_without_transactions_stay_whole_and_cost_the_cluster_nothing() {
    for seed in seeds() {
        let mut sim = Sim::new(8, "rs:4+2", 8, seed, 60);
        let empty: BTreeSet<u64> = (1..=60).filter(|height| height % 3 == 0).collect();
        for node in &mut sim.nodes {
            node.chain.empty = empty.clone();
        }
        sim.connect(&(0..8).collect::<Vec<_>>());
        sim.run(2_000, 0);
        sim.run(60 * 50 + 2_000, 5);
        let old = sim.nodes[0].chain.head - sim.retain;
        assert!(sim.fully_replicated(), "seed {seed}");
        for (index, node) in sim.nodes.iter().enumerate() {
            for height in 1..=old {
                let stored = node.engine.store().shares.keys().any(|(h, _)| *h == height);
                let kept = node.chain.local.contains_key(&height);
                if empty.contains(&height) {
                    assert!(
                        kept && !stored,
                        "seed {seed}: node {index}, empty block {height}"
                    );
                } else {
                    assert!(!kept, "seed {seed}: node {index} kept block {height}");
                }
            }
            assert_eq!(
                node.engine.health(&node.chain),
                (0, 0, 0),
                "seed {seed}: node {index}"
            );
        }
    }
}

#[test]
fn a_member_claiming_every_share_makes_no_one_drop_a_body_early() {
    for seed in seeds() {
        let mut sim = Sim::new(8, "rs:4+2", 8, seed, 60);
        sim.liar = Some(5);
        sim.connect(&(0..8).collect::<Vec<_>>());
        sim.run(2_000, 0);
        // Halfway through, an honest member dies: until the others notice, the shares the
        // placement gives it are stored by no one, and only the liar's claims cover them.
        sim.run(30 * 50, 5);
        sim.up[7] = false;
        sim.run(30 * 50 + 3_000, 5);
        assert_eq!(
            sim.early_prunes,
            Vec::new(),
            "seed {seed}: bodies dropped on a lie"
        );
        // The honest nodes dropped their bodies once the real holders had the shares, and
        // every block reads back despite the liar's "missing" answers and the dead member.
        let head = sim.nodes[0].chain.head;
        for node in (0..7).filter(|node| *node != 5) {
            assert!(
                sim.nodes[node]
                    .chain
                    .local
                    .keys()
                    .all(|h| h + sim.retain > head),
                "seed {seed}: node {node} kept old bodies"
            );
        }
        assert_eq!(sim.read_all(0), Vec::<u64>::new(), "seed {seed}");
    }
}

#[test]
fn segment_copies_land_in_distinct_segments() {
    for seed in seeds() {
        let mut sim = Sim::new(6, "segment:3", 6, seed, 40);
        // Three network segments of two members each.
        let segments: std::collections::BTreeMap<Peer, u32> =
            (0..6).map(|i| (key(i), i as u32 / 2)).collect();
        for node in &mut sim.nodes {
            node.engine.set_segments(segments.clone());
        }
        sim.connect(&(0..6).collect::<Vec<_>>());
        sim.run(2_000, 0);
        sim.run(40 * 50 + 2_000, 5);
        let old = sim.nodes[0].chain.head - sim.retain;
        for height in 1..=old {
            let holders: Vec<usize> = (0..6)
                .filter(|node| {
                    sim.nodes[*node]
                        .engine
                        .store()
                        .shares
                        .keys()
                        .any(|(h, _)| *h == height)
                })
                .collect();
            let distinct: std::collections::BTreeSet<usize> =
                holders.iter().map(|node| node / 2).collect();
            assert_eq!(
                holders.len(),
                3,
                "seed {seed}: block {height} on {holders:?}"
            );
            assert_eq!(
                distinct.len(),
                3,
                "seed {seed}: block {height} on {holders:?}"
            );
        }
        assert_eq!(sim.read_all(1), Vec::<u64>::new(), "seed {seed}");
    }
}

#[test]
fn a_member_restarted_over_its_store_serves_what_it_held() {
    for seed in seeds() {
        let mut sim = Sim::new(8, "rs:4+2", 8, seed, 60);
        sim.connect(&(0..8).collect::<Vec<_>>());
        sim.run(2_000, 0);
        sim.run(60 * 50 + 2_000, 5);
        let before: Vec<(u64, u16)> = sim.nodes[3].engine.store().shares.keys().copied().collect();
        assert!(!before.is_empty());
        // Node 3 stops and starts again over its store, out of any cluster; it finds its
        // cluster again (its peers send it the roster) and serves its shares.
        let config = sim.nodes[3].engine_config;
        let fresh = Membership::new(key(3), sim.membership_config);
        let old = std::mem::replace(
            &mut sim.nodes[3].engine,
            Engine::new(fresh.clone(), config, Store::default()),
        );
        sim.nodes[3].engine = Engine::new(fresh, config, old.into_store());
        sim.connect(&(0..8).collect::<Vec<_>>());
        sim.run(2_000, 0);
        assert!(
            sim.nodes[3].engine.membership().roster().is_some(),
            "seed {seed}"
        );
        let after: Vec<(u64, u16)> = sim.nodes[3].engine.store().shares.keys().copied().collect();
        assert_eq!(
            after, before,
            "seed {seed}: the restarted member's shares changed"
        );
        assert_eq!(
            sim.nodes[3].engine.repair_reads(),
            0,
            "seed {seed}: the restarted member fetched shares it already had"
        );
        // Two others down: every block still reads, node 3's shares among those needed.
        sim.up[5] = false;
        sim.up[6] = false;
        assert_eq!(sim.read_all(3), Vec::<u64>::new(), "seed {seed}");
        assert_eq!(sim.read_all(0), Vec::<u64>::new(), "seed {seed}");
    }
}
