//! Deterministic simulation of a 4-validator network: Cairn's full node stack (chain, pool,
//! sync, gossip, consensus application and simplex) on Commonware's deterministic runtime and
//! simulated network, with message delay and loss, partitions, crashes and restarts (from the
//! node's files), and Byzantine peers: an equivocating leader, a validator that lies to
//! syncing nodes with forged blocks, peers that flood unsolicited blocks or swap their
//! bodies, a peer that gossips forged transfers, and (with the old bodies dropped, as storage
//! cluster members do) a validator whose archive forges the blocks a new node syncs. Every
//! run is a function of its seed: a
//! failing seed replays exactly with `CAIRN_SIM_SEED=<seed> cargo test -p cairn-consensus
//! --test simulation`; `CAIRN_SIM_SEEDS=<n>` runs n seeds per scenario (8 by default).
//!
//! Each run checks safety (every honest node has the same block, hence the same state root,
//! at every height it committed; every stored chain re-verifies with its certificates) and
//! liveness (the chain advances, with transfers, after the faults heal). The load includes a
//! contract package's deployment and calls, and its schedule runs at the start of blocks: the
//! nodes must agree on the scheduled runs as on the blocks. Attack scenarios
//! measure the honest validators' finality rate before and during the attack and require at
//! least half the fault-free rate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod attackers;
mod harness;

use cairn_primitives::CryptoSuite;
use std::sync::Arc;
use std::time::Duration;

use cairn_consensus::bft::application::Application;
use cairn_consensus::bft::engine::{
    ConsensusChannels, Roles, ValidatorParts, start_engine, start_validator,
};
use cairn_consensus::bft::ranked_keys;
use cairn_network::gossip::Gossip;
use cairn_network::sync::{SyncConfig, Syncer};
use cairn_network::{PeerKey, cairn_key};
use commonware_p2p::simulated::Link;
use commonware_runtime::{Clock, Spawner, Supervisor, deterministic};
use rand::RngExt;

use attackers::{BodySwapper, Equivocator, Flooder, ForgedGossiper, LyingSyncer};
use harness::*;

#[test]
fn four_validators_agree_on_a_lossless_network() {
    for_each_seed(Duration::from_secs(120), |mut context, seed| async move {
        let disks = validator_disks();
        let peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
        let oracle = network(&context, &peers).await;
        link_all(&oracle, &peers, &clean_link(20, 5), |_, _| true).await;
        let mut nodes = Vec::new();
        for (index, disk) in disks.iter().enumerate() {
            nodes.push(start_node(&context, &oracle, disk, Some(index)).await);
        }
        load(
            &mut context,
            &nodes.iter().collect::<Vec<_>>(),
            Duration::from_secs(10),
        )
        .await;
        context.sleep(Duration::from_secs(2)).await;
        let chains: Vec<_> = nodes.iter().map(|n| n.chain.clone()).collect();
        let height = assert_safety(&chains);
        assert!(height >= 10, "seed {seed}: only {height} blocks in 12 s");
        let moved = moved(&nodes[0].chain);
        assert!(moved > 100, "seed {seed}: only {moved} transfers committed");
        // Contract calls and scheduled runs went through consensus too: the count is both.
        let (count, runs) = ticks(&nodes[0].chain);
        assert!(runs >= 2, "seed {seed}: {runs} scheduled runs");
        assert!(
            count > runs as u64 + 5,
            "seed {seed}: count {count}, {runs} scheduled runs"
        );
        for node in &nodes {
            assert_eq!(node.stats.snapshot().consensus_faults, 0);
            assert_eq!(
                node.stats.snapshot().peers_blocked,
                0,
                "nobody honest is blocked"
            );
        }
        println!(
            "seed {seed}: height {height}, {moved} transfers, ticker at {count} after {runs} scheduled runs"
        );
    });
}

/// Faults that heal: lossy links throughout, one node partitioned away, a split with no
/// quorum on either side, a crash and restart from the node's own files (the leader, some
/// seeds). Afterwards every node catches up and keeps committing, and all chains agree.
#[test]
fn delay_loss_partitions_crashes_and_restarts_heal() {
    for_each_seed(Duration::from_secs(300), |mut context, seed| async move {
        let disks = validator_disks();
        let peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
        let oracle = network(&context, &peers).await;
        let lossy = Link {
            latency: Duration::from_millis(context.random_range(10..80)),
            jitter: Duration::from_millis(context.random_range(5..30)),
            success_rate: (context.random_range(90..99) as f64 / 100.0)
                .try_into()
                .unwrap(),
        };
        link_all(&oracle, &peers, &lossy, |_, _| true).await;
        let mut nodes = Vec::new();
        for (index, disk) in disks.iter().enumerate() {
            nodes.push(Some(start_node(&context, &oracle, disk, Some(index)).await));
        }
        async fn phase(
            context: &mut deterministic::Context,
            nodes: &[Option<Node>],
            duration: Duration,
        ) {
            let live: Vec<&Node> = nodes.iter().flatten().collect();
            load(context, &live, duration).await;
        }

        phase(&mut context, &nodes, Duration::from_secs(3)).await;

        // One node cut off while the other three (a quorum) go on.
        let isolated = context.random_range(0..VALIDATORS as u64) as usize;
        link_all(&oracle, &peers, &lossy, |a, b| {
            a != isolated && b != isolated
        })
        .await;
        let away = Duration::from_millis(context.random_range(3_000..5_000));
        phase(&mut context, &nodes, away).await;
        link_all(&oracle, &peers, &lossy, |_, _| true).await;
        phase(&mut context, &nodes, Duration::from_secs(2)).await;

        // A 2-2 split: no side can finalize anything until it heals.
        link_all(&oracle, &peers, &lossy, |a, b| (a < 2) == (b < 2)).await;
        phase(&mut context, &nodes, Duration::from_secs(2)).await;
        link_all(&oracle, &peers, &lossy, |_, _| true).await;
        phase(&mut context, &nodes, Duration::from_secs(2)).await;

        // A crash (SIGKILL: no shutdown path) and a restart that reopens the node's database
        // from its file: everything the node had committed must be there.
        let crashed = context.random_range(0..VALIDATORS as u64) as usize;
        let node = nodes[crashed].take().unwrap();
        let before = node.chain.head();
        node.crash();
        let down = Duration::from_millis(context.random_range(2_000..4_000));
        phase(&mut context, &nodes, down).await;
        nodes[crashed] = Some(start_node(&context, &oracle, &disks[crashed], Some(crashed)).await);
        let restarted = nodes[crashed].as_ref().unwrap().chain.clone();
        assert!(
            restarted.head().height >= before.height,
            "seed {seed}: restart lost committed blocks ({} < {})",
            restarted.head().height,
            before.height
        );
        assert_eq!(
            restarted
                .store()
                .header(before.height)
                .unwrap()
                .map(|h| h.hash(CryptoSuite::Ed25519Keccak)),
            Some(before.hash(CryptoSuite::Ed25519Keccak)),
            "seed {seed}: the reopened chain holds another block at the old head"
        );

        // Heal everything and check that every node goes on committing.
        link_all(&oracle, &peers, &clean_link(20, 5), |_, _| true).await;
        let healed = nodes
            .iter()
            .flatten()
            .map(|n| n.chain.head().height)
            .max()
            .unwrap();
        let target = healed + 5;
        phase(&mut context, &nodes, Duration::from_secs(8)).await;
        context.sleep(Duration::from_secs(2)).await;
        let chains: Vec<_> = nodes.iter().flatten().map(|n| n.chain.clone()).collect();
        for (index, chain) in chains.iter().enumerate() {
            assert!(
                chain.head().height >= target,
                "seed {seed}: node {index} at {} did not reach {target} after healing (isolated {isolated}, crashed {crashed})",
                chain.head().height
            );
        }
        let height = assert_safety(&chains);
        let moved = moved(&chains[0]);
        assert!(moved > 0);
        println!(
            "seed {seed}: height {height}, {moved} transfers; isolated {isolated}, crashed {crashed}"
        );
    });
}

/// Validator 0 (the first leader, by rank) equivocates every time it proposes; the three
/// honest validators stay safe and live, and record the evidence.
#[test]
fn an_equivocating_leader_cannot_split_the_honest_validators() {
    for_each_seed(Duration::from_secs(300), |mut context, seed| async move {
        let disks = validator_disks();
        let peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
        let oracle = network(&context, &peers).await;
        let link = Link {
            latency: Duration::from_millis(context.random_range(10..50)),
            jitter: Duration::from_millis(context.random_range(1..20)),
            success_rate: 0.98.try_into().unwrap(),
        };
        link_all(&oracle, &peers, &link, |_, _| true).await;

        // The Byzantine validator: Cairn's application and engine with the relay swapped.
        let byzantine = &disks[0];
        let parts = parts(&context, &oracle, byzantine).await;
        let chain = parts.chain.clone();
        let config = bft_config(0);
        let (application, mailbox, _) = Application::new(
            chain.clone(),
            parts.pool.clone(),
            Some(byzantine.peer.clone()),
            ranked_keys(chain.validators()),
            config.application.clone(),
            (
                parts.channels.proposals.0.clone(),
                parts.channels.proposals.1,
            ),
            (parts.stats.clone(), parts.control.clone()),
            parts.tracker.clone(),
        );
        let victim = peers[1 + context.random_range(0..3) as usize].clone();
        let others: Vec<_> = peers[1..]
            .iter()
            .filter(|p| **p != victim)
            .cloned()
            .collect();
        let equivocator = Equivocator::new(
            mailbox.clone(),
            chain.clone(),
            &byzantine.key,
            (parts.channels.votes.0.clone(), parts.channels.proposals.0),
            victim,
            others,
        );
        let syncer = Syncer::new(
            chain.clone(),
            parts.pool.clone(),
            parts.channels.sync,
            SyncConfig::default(),
            (parts.stats.clone(), parts.control.clone()),
            parts.tracker.clone(),
        );
        let key = byzantine.key.clone();
        let engine_chain = chain.clone();
        let control = parts.control;
        let (votes, certificates, resolver) = (
            parts.channels.votes,
            parts.channels.certificates,
            parts.channels.resolver,
        );
        context.child("byzantine").spawn(move |context| async move {
            application.start(context.child("application"));
            syncer.start(context.child("sync"));
            start_engine(
                context.child("simplex"),
                &engine_chain,
                &key,
                &config,
                control,
                Roles {
                    automaton: equivocator.clone(),
                    relay: equivocator,
                    reporter: mailbox,
                },
                (votes, certificates, resolver),
            )
            .unwrap();
            std::future::pending::<()>().await;
        });

        let mut honest = Vec::new();
        for (index, disk) in disks.iter().enumerate().skip(1) {
            honest.push(start_node(&context, &oracle, disk, Some(index)).await);
        }
        load(
            &mut context,
            &honest.iter().collect::<Vec<_>>(),
            Duration::from_secs(15),
        )
        .await;
        context.sleep(Duration::from_secs(3)).await;
        let chains: Vec<_> = honest.iter().map(|n| n.chain.clone()).collect();
        let height = assert_safety(&chains);
        assert!(
            height >= 10,
            "seed {seed}: only {height} blocks with an equivocator"
        );
        // Contract calls and scheduled runs are the same on every honest node (checked by
        // `assert_safety`).
        let (count, runs) = ticks(&chains[0]);
        // The equivocating leader keeps its rank while it proposes on time, and may propose
        // empty blocks throughout (with seed 5, no transaction at all is committed): that is
        // censorship, not a fork, and this scenario checks safety. Contracts are checked
        // whenever transactions went through.
        if moved(&chains[0]) == 0 {
            println!("seed {seed}: the equivocating leader let no transaction through");
        } else {
            assert!(
                runs >= 1 && count > runs as u64,
                "seed {seed}: count {count}, {runs} runs"
            );
        }
        // The evidence: simplex reports the conflicting votes, or blocks the equivocator on
        // them (which the honest nodes' status records), or both.
        let faults: u64 = honest
            .iter()
            .map(|n| n.stats.snapshot().consensus_faults)
            .sum();
        let equivocator = cairn_key(&peers[0]).to_string();
        let blocked = honest
            .iter()
            .filter(|n| {
                n.stats
                    .snapshot()
                    .offenders
                    .iter()
                    .any(|(peer, record)| *peer == equivocator && record.last == "consensus")
            })
            .count();
        assert!(
            faults + blocked as u64 > 0,
            "seed {seed}: nobody recorded the equivocation"
        );
        // The Byzantine validator's own chain is a prefix-consistent copy too.
        let byzantine_height = chain.head().height.min(height);
        for h in 1..=byzantine_height {
            assert_eq!(
                chain.store().header(h).unwrap(),
                chains[0].store().header(h).unwrap()
            );
        }
        println!("seed {seed}: height {height}, {faults} fault reports, blocked by {blocked}");
    });
}

/// A full node joins late with an empty chain: it catches up by sync, then follows the head,
/// and transfers submitted to it reach the validators and commit.
/// The validators' disks, a full node's, and a network linking all of them with 30 ms
/// latency and 3% loss.
async fn validators_and_a_follower(
    context: &deterministic::Context,
    follower: u8,
) -> (
    Vec<Disk>,
    Disk,
    commonware_p2p::simulated::Oracle<PeerKey, deterministic::Context>,
) {
    let disks = validator_disks();
    let follower_disk = Disk::full_node(follower);
    let mut peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
    peers.push(follower_disk.peer.clone());
    let oracle = network(context, &peers).await;
    let link = Link {
        latency: Duration::from_millis(30),
        jitter: Duration::from_millis(10),
        success_rate: 0.97.try_into().unwrap(),
    };
    link_all(&oracle, &peers, &link, |_, _| true).await;
    (disks, follower_disk, oracle)
}

#[test]
fn a_late_full_node_catches_up_and_follows() {
    for_each_seed(Duration::from_secs(300), |mut context, seed| async move {
        let (disks, follower_disk, oracle) = validators_and_a_follower(&context, 0xf0).await;
        let mut validators = Vec::new();
        for (index, disk) in disks.iter().enumerate() {
            validators.push(start_node(&context, &oracle, disk, Some(index)).await);
        }
        load(
            &mut context,
            &validators.iter().collect::<Vec<_>>(),
            Duration::from_secs(6),
        )
        .await;
        let behind_by = validators[0].chain.head().height;
        assert!(
            behind_by >= 20,
            "seed {seed}: validators made only {behind_by} blocks"
        );

        let follower = start_node(&context, &oracle, &follower_disk, None).await;
        // It reports syncing, then catches up.
        let mut saw_syncing = false;
        // Sync answers within a round trip, so look often enough to see it at work.
        for _ in 0..1_000 {
            context.sleep(Duration::from_millis(10)).await;
            let status = follower.sync.status();
            saw_syncing |= status.syncing && status.highest >= behind_by;
            if !status.syncing && follower.chain.head().height >= behind_by {
                break;
            }
        }
        assert!(
            saw_syncing,
            "seed {seed}: the full node never reported syncing"
        );
        assert!(
            follower.chain.head().height >= behind_by,
            "seed {seed}: the full node did not catch up"
        );

        // Transfers submitted to the full node are forwarded and committed.
        let before = moved(&validators[0].chain);
        load(&mut context, &[&follower], Duration::from_secs(2)).await;
        context.sleep(Duration::from_secs(3)).await;
        let after = moved(&validators[0].chain);
        assert!(
            after >= before + 150,
            "seed {seed}: transfers through the full node were not committed ({before} -> {after})"
        );

        // It keeps following: whatever it trails by at a given moment (an announcement, or a
        // lost request's timeout, behind), it is back within a few blocks of the head within
        // seconds, while the validators go on committing.
        let reference = validators[0].chain.clone();
        let following = wait_to_catch_up(
            &mut context,
            &validators.iter().collect::<Vec<_>>(),
            &reference,
            std::slice::from_ref(&follower.chain),
            Duration::from_secs(5),
        )
        .await;
        assert!(following, "seed {seed}: the full node stopped following");
        let mut chains: Vec<_> = validators.iter().map(|n| n.chain.clone()).collect();
        chains.push(follower.chain.clone());
        let height = assert_safety(&chains);
        println!("seed {seed}: full node caught up {behind_by} blocks, following at {height}");
    });
}

/// Old blocks as a storage cluster gives them back: the blocks a reference chain committed,
/// and, for a Byzantine member, forged ones (a transfer dropped, so the body no longer
/// matches its header; an empty block's header edited, so its certificate no longer fits).
struct Archive {
    blocks: std::collections::BTreeMap<u64, cairn_primitives::Block>,
    forge: bool,
}

impl cairn_network::sync::BlockArchive for Archive {
    fn block(self: Arc<Self>, height: u64) -> cairn_network::sync::ArchiveRead {
        let block = self.blocks.get(&height).cloned().map(|mut block| {
            if self.forge && block.transactions.pop().is_none() {
                block.header.timestamp_ms += 1;
            }
            block
        });
        Box::pin(async move { block.ok_or_else(|| format!("no block {height}")) })
    }
}

/// Runs of the scenario below in which the new node met the forger.
static MET_THE_FORGER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[test]
fn a_new_node_syncs_from_peers_that_dropped_old_bodies_one_of_them_forging() {
    // A new node asks the peers whose heads it has heard, in turn: which it hears first
    // depends on the seed, so it meets the forger in some runs, not all. It must catch up
    // honestly in every run, and over the default seeds meet the forger at least once.
    let runs = seeds().len();
    for_each_seed(Duration::from_secs(300), |mut context, seed| async move {
        let (disks, follower_disk, oracle) = validators_and_a_follower(&context, 0xf1).await;
        // Commit blocks with transfers, keep their bodies as the cluster would, drop them
        // from every validator, and restart the validators serving old blocks from that
        // archive (one of them from an archive that forges).
        let mut validators = Vec::new();
        for (index, disk) in disks.iter().enumerate() {
            validators.push(start_node(&context, &oracle, disk, Some(index)).await);
        }
        load(
            &mut context,
            &validators.iter().collect::<Vec<_>>(),
            Duration::from_secs(16),
        )
        .await;
        let reference = validators[0].chain.clone();
        let dropped_to = reference.head().height.saturating_sub(5);
        assert!(
            dropped_to >= 97,
            "seed {seed}: validators made only {} blocks",
            reference.head().height
        );
        let blocks: std::collections::BTreeMap<_, _> = (1..=dropped_to)
            .map(|height| (height, reference.store().block(height).unwrap().unwrap()))
            .collect();
        for validator in &validators {
            let below_head = validator.chain.head().height.saturating_sub(1);
            for height in 1..=dropped_to.min(below_head) {
                validator.chain.store().prune_body(height).unwrap();
            }
        }
        let with_transfers = blocks
            .values()
            .filter(|block| !block.transactions.is_empty())
            .count();
        assert!(with_transfers > 0, "seed {seed}: no transfers to drop");
        // The restart reopens the files: let go of every handle on them.
        drop(reference);
        for validator in validators.drain(..) {
            validator.crash();
        }
        let honest = Arc::new(Archive {
            blocks: blocks.clone(),
            forge: false,
        });
        let forging = Arc::new(Archive {
            blocks,
            forge: true,
        });
        for (index, disk) in disks.iter().enumerate() {
            let archive: Arc<dyn cairn_network::sync::BlockArchive> = if index == 3 {
                forging.clone()
            } else {
                honest.clone()
            };
            validators.push(
                start_node_with_archive(&context, &oracle, disk, Some(index), Some(archive)).await,
            );
        }
        for validator in &validators {
            assert!(
                validator.chain.store().block(1).unwrap().is_none(),
                "seed {seed}: old bodies dropped"
            );
        }

        // A new node syncs from genesis: every old block it gets is read from an archive.
        let follower = start_node(&context, &oracle, &follower_disk, None).await;
        let caught_up = wait_to_catch_up(
            &mut context,
            &validators.iter().collect::<Vec<_>>(),
            &validators[0].chain,
            std::slice::from_ref(&follower.chain),
            Duration::from_secs(30),
        )
        .await;
        assert!(caught_up, "seed {seed}: the new node did not catch up");
        assert!(follower.chain.head().height > dropped_to);
        // It holds every body whole and re-verifies; its headers are the validators'.
        for height in 1..=dropped_to {
            let block = follower.chain.store().block(height).unwrap().unwrap();
            let header = validators[0].chain.store().header(height).unwrap().unwrap();
            assert_eq!(block.header, header, "seed {seed}: block {height}");
        }
        assert_safety(std::slice::from_ref(&follower.chain));
        let forgeries = follower.stats.snapshot().forgeries;
        if forgeries > 0 {
            MET_THE_FORGER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        println!(
            "seed {seed}: new node synced {} blocks past {dropped_to} dropped bodies; {forgeries} forged answers refused",
            follower.chain.head().height
        );
    });
    if runs >= 8 {
        assert!(
            MET_THE_FORGER.load(std::sync::atomic::Ordering::Relaxed) > 0,
            "in {runs} runs the new node never met the forger"
        );
    }
}

/// Waits until every one of `chains` is within `lag` blocks of `leader`, for at most `limit`.
async fn wait_to_catch_up(
    context: &mut deterministic::Context,
    load_on: &[&Node],
    leader: &cairn_ledger::Chain,
    chains: &[Arc<cairn_ledger::Chain>],
    limit: Duration,
) -> bool {
    let started = context.current();
    while context.current().duration_since(started).unwrap() < limit {
        if chains
            .iter()
            .all(|chain| chain.head().height + 3 >= leader.head().height)
        {
            return true;
        }
        load(context, load_on, Duration::from_millis(500)).await;
    }
    false
}

/// Prints and checks the honest validators' finality rate under attack against the same run's
/// fault-free rate.
fn check_liveness(seed: u64, scenario: &str, fault_free: f64, under_attack: f64) {
    println!(
        "seed {seed}: {scenario}: {fault_free:.2} blocks/s fault-free, {under_attack:.2} blocks/s under attack ({:.0} %)",
        100.0 * under_attack / fault_free.max(f64::MIN_POSITIVE)
    );
    assert!(
        fault_free > 1.0,
        "seed {seed}: {scenario}: only {fault_free} blocks/s without faults"
    );
    assert!(
        under_attack >= fault_free / 2.0,
        "seed {seed}: {scenario}: {under_attack:.2} blocks/s under attack, less than half of {fault_free:.2}"
    );
}

/// Validator 3, with its real key, lies to every node that syncs: it announces a head a
/// thousand blocks above the real one and serves a forged chain (the honest blocks'
/// contents, sealed with its own signature, as a solo chain's would be; then empty blocks).
/// A full node that joins late and validator 1, crashed and restarted from its files, both
/// sync while it lies. Neither commits a forged block, both reach the honest head, and the
/// liar is caught (blocked for forgery) without slowing the chain.
#[test]
fn a_lying_validator_cannot_fork_or_stall_syncing_nodes() {
    for_each_seed(Duration::from_secs(300), |mut context, seed| async move {
        let disks = validator_disks();
        let follower_disk = Disk::full_node(0xf1);
        let mut peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
        peers.push(follower_disk.peer.clone());
        let oracle = network(&context, &peers).await;
        // No loss: once the honest validators block the liar, three of four vote, a quorum
        // with no spare, and every lost vote would cost a view; the point here is the lies.
        let link = clean_link(context.random_range(10..40), context.random_range(1..15));
        link_all(&oracle, &peers, &link, |_, _| true).await;

        let mut nodes: Vec<Option<Node>> = Vec::new();
        for (index, disk) in disks.iter().enumerate().take(3) {
            nodes.push(Some(start_node(&context, &oracle, disk, Some(index)).await));
        }
        // The liar: honest consensus and gossip, a lying sync actor.
        let liar = &disks[3];
        let attack_at = context.current() + Duration::from_secs(10);
        let parts = parts(&context, &oracle, liar).await;
        let liar_chain = parts.chain.clone();
        let (gossip, _) = Gossip::new(
            parts.chain.clone(),
            parts.pool.clone(),
            parts.channels.transactions,
            (parts.stats.clone(), parts.control.clone()),
            parts.tracker.clone(),
        );
        let lying = LyingSyncer {
            chain: parts.chain.clone(),
            key: liar.key.clone(),
            sender: parts.channels.sync.0,
            receiver: parts.channels.sync.1,
            inflation: 1_000,
            from: attack_at,
        };
        let validator_parts = ValidatorParts {
            chain: parts.chain.clone(),
            pool: parts.pool.clone(),
            stats: parts.stats.clone(),
            peers: parts.tracker.clone(),
        };
        let consensus = ConsensusChannels {
            votes: parts.channels.votes,
            certificates: parts.channels.certificates,
            resolver: parts.channels.resolver,
            proposals: parts.channels.proposals,
        };
        let (key, control) = (liar.key.clone(), parts.control);
        context.child("liar").spawn(move |context| async move {
            gossip.start(context.child("gossip"));
            context
                .child("lying_sync")
                .spawn(|context| lying.run(context));
            let _validator = start_validator(
                context.child("validator"),
                validator_parts,
                &key,
                bft_config(3),
                control,
                consensus,
            )
            .unwrap();
            std::future::pending::<()>().await;
        });

        fn honest(nodes: &[Option<Node>]) -> Vec<&Node> {
            nodes.iter().flatten().collect()
        }
        load(&mut context, &honest(&nodes), Duration::from_secs(3)).await;
        let reference = nodes[0].as_ref().unwrap().chain.clone();
        let fault_free = finality_rate(
            &mut context,
            &honest(&nodes),
            &reference,
            Duration::from_secs(6),
        )
        .await;

        // Validator 1 goes down; the lies start; it comes back and a new full node joins.
        // (While 1 is down, a validator that blocks the liar leaves two of four voting: no
        // quorum until 1 is back, as BFT with one crash and one traitor must allow.)
        let node = nodes[1].take().unwrap();
        node.crash();
        context.sleep_until(attack_at).await;
        load(&mut context, &honest(&nodes), Duration::from_secs(2)).await;
        nodes[1] = Some(start_node(&context, &oracle, &disks[1], Some(1)).await);
        let follower = start_node(&context, &oracle, &follower_disk, None).await;
        let victims = [
            nodes[1].as_ref().unwrap().chain.clone(),
            follower.chain.clone(),
        ];
        let caught_up = wait_to_catch_up(
            &mut context,
            &honest(&nodes),
            &reference,
            &victims,
            Duration::from_secs(30),
        )
        .await;
        assert!(
            caught_up,
            "seed {seed}: the syncing nodes did not reach the head ({} and {} of {})",
            victims[0].head().height,
            victims[1].head().height,
            reference.head().height
        );
        // With validator 1 down and the liar blocked, views were nullified in the current
        // leader's term, and simplex then lets no view of that term finalize until the term is
        // abandoned (the stall timeout, 10 s). Wait that out: it is the double fault (one
        // crash, one traitor), not the lies. Then the liar goes on lying and the honest
        // validators go on finalizing.
        let resumed = reference.head().height;
        let mut waited = Duration::ZERO;
        while reference.head().height < resumed + 2 {
            assert!(
                waited < Duration::from_secs(15),
                "seed {seed}: finality did not resume"
            );
            load(&mut context, &honest(&nodes), Duration::from_millis(500)).await;
            waited += Duration::from_millis(500);
        }
        let under_attack = finality_rate(
            &mut context,
            &honest(&nodes),
            &reference,
            Duration::from_secs(6),
        )
        .await;
        let following = wait_to_catch_up(
            &mut context,
            &honest(&nodes),
            &reference,
            std::slice::from_ref(&follower.chain),
            Duration::from_secs(5),
        )
        .await;
        assert!(following, "seed {seed}: the full node stopped following");

        let mut chains: Vec<_> = honest(&nodes).iter().map(|n| n.chain.clone()).collect();
        chains.push(follower.chain.clone());
        chains.push(liar_chain);
        let height = assert_safety(&chains);
        // Not one forged block on any honest node: every block there is certificate-sealed.
        for chain in &chains {
            for h in 1..=chain.head().height {
                let block = chain.block(h).unwrap().unwrap();
                assert!(
                    matches!(block.seal, cairn_primitives::Seal::Certificate(_)),
                    "seed {seed}: height {h} is not certificate-sealed"
                );
            }
        }
        let liar_key = cairn_key(&disks[3].peer).to_string();
        let caught: Vec<_> = [nodes[1].as_ref().unwrap(), &follower]
            .iter()
            .map(|victim| {
                let snapshot = victim.stats.snapshot();
                snapshot
                    .offenders
                    .iter()
                    .find(|(peer, _)| *peer == liar_key)
                    .map_or(0, |(_, record)| record.offences)
            })
            .collect();
        assert!(
            caught.iter().any(|offences| *offences > 0),
            "seed {seed}: no syncing node noticed the liar"
        );
        check_liveness(seed, "lying sync peer", fault_free, under_attack);
        println!(
            "seed {seed}: height {height}; liar caught by the syncing nodes: {caught:?} offences"
        );
    });
}

/// Peers flood the proposal channel at their rate limit: a full node with blocks nobody asked
/// for (fabricated, naming validators as proposers, with valid transactions roots), and
/// validator 3, which besides voting honestly floods proposals in its own name and re-sends
/// every honest proposal it hears with its body swapped. Honest proposals are neither
/// displaced nor replaced, the body swapper is blocked, and the chain keeps at least half its
/// fault-free pace.
#[test]
fn flooding_and_body_swapping_peers_cannot_displace_honest_proposals() {
    for_each_seed(Duration::from_secs(300), |mut context, seed| async move {
        let disks = validator_disks();
        let flooder_disk = Disk::full_node(0xf2);
        let mut peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
        peers.push(flooder_disk.peer.clone());
        let oracle = network(&context, &peers).await;
        link_all(
            &oracle,
            &peers,
            &clean_link(context.random_range(10..40), context.random_range(1..15)),
            |_, _| true,
        )
        .await;
        let attack_at = context.current() + Duration::from_secs(10);

        let mut honest = Vec::new();
        for (index, disk) in disks.iter().enumerate().take(3) {
            honest.push(start_node(&context, &oracle, disk, Some(index)).await);
        }
        let validators: Vec<_> = disks.iter().map(|d| d.key.address()).collect();

        // Validator 3: honest consensus over a receiver that swaps bodies, plus a flood of
        // proposals in its own name.
        let swapper = &disks[3];
        let parts = parts(&context, &oracle, swapper).await;
        let proposals_sender = parts.channels.proposals.0.clone();
        let wrap = |inner, tamper| BodySwapper {
            inner,
            sender: proposals_sender.clone(),
            tamper,
            from: attack_at,
            clock: context.child("swapper"),
        };
        let consensus = ConsensusChannels {
            votes: (parts.channels.votes.0, wrap(parts.channels.votes.1, false)),
            certificates: (
                parts.channels.certificates.0,
                wrap(parts.channels.certificates.1, false),
            ),
            resolver: (
                parts.channels.resolver.0,
                wrap(parts.channels.resolver.1, false),
            ),
            proposals: (
                parts.channels.proposals.0,
                wrap(parts.channels.proposals.1, true),
            ),
        };
        let own_flood = Flooder {
            chain: parts.chain.clone(),
            sender: proposals_sender.clone(),
            validators: vec![swapper.key.address()],
            rate: 512,
            from: attack_at,
        };
        let syncer = Syncer::new(
            parts.chain.clone(),
            parts.pool.clone(),
            parts.channels.sync,
            SyncConfig::default(),
            (parts.stats.clone(), parts.control.clone()),
            parts.tracker.clone(),
        );
        let validator_parts = ValidatorParts {
            chain: parts.chain.clone(),
            pool: parts.pool.clone(),
            stats: parts.stats.clone(),
            peers: parts.tracker.clone(),
        };
        let (key, control) = (swapper.key.clone(), parts.control);
        context.child("swapper").spawn(move |context| async move {
            syncer.start(context.child("sync"));
            context
                .child("own_flood")
                .spawn(|context| own_flood.run(context));
            let _validator = start_validator(
                context.child("validator"),
                validator_parts,
                &key,
                bft_config(3),
                control,
                consensus,
            )
            .unwrap();
            std::future::pending::<()>().await;
        });

        // The full node flooding in every validator's name.
        let flooder = parts_of_full_node(&context, &oracle, &flooder_disk).await;
        let flood = Flooder {
            chain: flooder.0,
            sender: flooder.1,
            validators,
            rate: 512,
            from: attack_at,
        };
        context.child("flooder").spawn(|context| flood.run(context));

        let reference = honest[0].chain.clone();
        let AttackRates {
            fault_free,
            under_attack,
            moved_during,
        } = rates_before_and_during(
            &mut context,
            &honest.iter().collect::<Vec<_>>(),
            &reference,
            attack_at,
            Duration::from_secs(10),
        )
        .await;
        assert!(
            moved_during > 200,
            "seed {seed}: only {moved_during} transfers committed under the flood"
        );

        let chains: Vec<_> = honest.iter().map(|n| n.chain.clone()).collect();
        let height = assert_safety(&chains);
        let swapper_key = cairn_key(&disks[3].peer).to_string();
        for (index, node) in honest.iter().enumerate() {
            let snapshot = node.stats.snapshot();
            assert!(
                snapshot.unsolicited_blocks > 0,
                "seed {seed}: validator {index} saw no unsolicited blocks"
            );
            let swapper_record = snapshot
                .offenders
                .iter()
                .find(|(peer, _)| *peer == swapper_key);
            assert!(
                swapper_record.is_some_and(|(_, record)| record.blocked > 0),
                "seed {seed}: validator {index} did not block the body swapper: {snapshot:?}"
            );
        }
        check_liveness(seed, "flood and swapped bodies", fault_free, under_attack);
        println!("seed {seed}: height {height}");
    });
}

/// A full node's chain and its proposal-channel sender, for an attacker that needs no more.
async fn parts_of_full_node(
    context: &deterministic::Context,
    oracle: &commonware_p2p::simulated::Oracle<PeerKey, deterministic::Context>,
    disk: &Disk,
) -> (
    Arc<cairn_ledger::Chain>,
    cairn_network::transport::SimulatedSender<deterministic::Context>,
) {
    let parts = parts(context, oracle, disk).await;
    // The chain follows the honest one through sync, so the flood tracks the head.
    let syncer = Syncer::new(
        parts.chain.clone(),
        parts.pool.clone(),
        parts.channels.sync,
        SyncConfig::default(),
        (parts.stats.clone(), parts.control.clone()),
        parts.tracker.clone(),
    );
    syncer.start(context.child("flooder_sync"));
    (parts.chain, parts.channels.proposals.0)
}

/// A full node gossips batches of valid-looking transfers, one forged in each, at its rate
/// limit. Every validator blocks it after its first batch, admits none of its transfers, and
/// the chain keeps its pace and keeps committing honest transfers.
#[test]
fn a_peer_gossiping_forged_transfers_is_blocked() {
    gossip_attack(CryptoSuite::Ed25519Keccak);
}

/// On an `sm2-sm3` chain, validly signed ed25519 transfers are as much a proof of a dishonest
/// peer as forged ones: no honest peer admits, so none forwards, the other suite's. The chain
/// itself runs on SM2 transfers and contract calls, SM3 blocks and tries, under the attack.
#[test]
fn on_an_sm2_sm3_chain_a_peer_gossiping_the_other_suites_transfers_is_blocked() {
    gossip_attack(CryptoSuite::Sm2Sm3);
}

fn gossip_attack(suite: CryptoSuite) {
    for_each_seed(
        Duration::from_secs(300),
        move |mut context, seed| async move {
            let disks = validator_disks_of(suite);
            let gossiper_disk = Disk::full_node_of(0xf3, suite);
            let mut peers: Vec<PeerKey> = disks.iter().map(|d| d.peer.clone()).collect();
            peers.push(gossiper_disk.peer.clone());
            let oracle = network(&context, &peers).await;
            link_all(
                &oracle,
                &peers,
                &clean_link(context.random_range(10..40), context.random_range(1..15)),
                |_, _| true,
            )
            .await;
            let attack_at = context.current() + Duration::from_secs(10);
            let mut nodes = Vec::new();
            for (index, disk) in disks.iter().enumerate() {
                nodes.push(start_node(&context, &oracle, disk, Some(index)).await);
            }
            let gossiper = parts(&context, &oracle, &gossiper_disk).await;
            let forger = ForgedGossiper {
                sender: gossiper.channels.transactions.0,
                rate: 512,
                from: attack_at,
                forge: suite == CryptoSuite::Ed25519Keccak,
            };
            context.child("forger").spawn(|context| forger.run(context));

            let reference = nodes[0].chain.clone();
            let AttackRates {
                fault_free,
                under_attack,
                moved_during,
            } = rates_before_and_during(
                &mut context,
                &nodes.iter().collect::<Vec<_>>(),
                &reference,
                attack_at,
                Duration::from_secs(8),
            )
            .await;
            assert!(
                moved_during > 200,
                "seed {seed}: honest transfers stopped ({moved_during} committed under attack)"
            );

            let gossiper_key = cairn_key(&gossiper_disk.peer).to_string();
            for (index, node) in nodes.iter().enumerate() {
                let snapshot = node.stats.snapshot();
                let record = snapshot
                    .offenders
                    .iter()
                    .find(|(peer, _)| *peer == gossiper_key);
                assert!(
                    record.is_some_and(|(_, record)| record.blocked > 0),
                    "seed {seed}: validator {index} did not block the forger: {snapshot:?}"
                );
                // Blocked at its first batch: only what was already in flight got checked, not
                // the thousands it went on sending.
                assert!(
                    snapshot.forgeries <= 100,
                    "seed {seed}: validator {index} checked {} forged batches",
                    snapshot.forgeries
                );
            }
            let chains: Vec<_> = nodes.iter().map(|n| n.chain.clone()).collect();
            let height = assert_safety(&chains);
            assert!(chains.iter().all(|chain| chain.suite() == suite));
            // The contract ran on the attacked chain too: deployed, called and scheduled.
            let (count, runs) = ticks(&reference);
            assert!(
                count > 0 && runs > 0,
                "seed {seed}: ticker {count}, runs {runs}"
            );
            check_liveness(seed, &format!("{suite} gossip"), fault_free, under_attack);
            println!("seed {seed}: {suite} height {height}");
        },
    );
}
