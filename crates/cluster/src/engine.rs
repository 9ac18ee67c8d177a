//! The cluster's data plane, without I/O: storing the shares of blocks that leave the
//! retention window, acknowledging them, dropping local bodies once the cluster holds them,
//! repairing shares whose holder changed, and reading old blocks back through the members
//! (seed 000's claims 9, 13–17; seed 003's doubling with the old holder serving until the new
//! one has its share).
//!
//! The node gives the engine its chain ([`LocalChain`]: headers, the data it still has, and
//! how to check data against a header), a [`ShareStore`], the time, and the messages of its
//! peers; the engine answers with messages to send and [`Event`]s (a read finished, a body may
//! be dropped). Membership (who is in the cluster, who is online) is the engine's
//! [`Membership`].
//!
//! * **New blocks** (claims 13, 14): when block `h` leaves the window (the head passes
//!   `h + retain`), every member the placement names for a share encodes that share from its
//!   own copy (encoding is deterministic, so every member computes the same shards and the
//!   same commitment), stores it, and tells the other members. Once every share of `h` is
//!   acknowledged by the member the placement gives it to, each node may drop its own copy
//!   ([`Event::Prune`]): one member claiming every share cannot make the others drop theirs.
//! * **Repair** (claim 9): members scan the old blocks a few at a time. A share the placement
//!   now gives this member (a stand-in for an offline home, a slot it took over, a slot a
//!   doubling created) and that it lacks is fetched from an online member that still holds
//!   that very share (its old holder, in a doubling or when a home comes back), or else
//!   rebuilt by reading the block through the cluster and encoding its share. A fetched
//!   Reed-Solomon shard is kept only if it checks against its commitment and M other members
//!   holding shares of the block report that same commitment (a copy is checked against the
//!   header itself), so a doubling moves each share once, not K+M shards of it. A share it
//!   holds but no longer should is kept, and served, until the new holder has acknowledged
//!   it; then it is dropped.
//! * **Reads** (claims 15–17): a block is asked of every member that may hold a share of it;
//!   each answer is checked against its commitment, any `needed` shards of one commitment are
//!   decoded, and the result is accepted only if it matches the local header's roots. A member
//!   whose answer fails a check is counted ([`Engine::faults`]), and after
//!   [`DEMOTE_AFTER_FAULTS`] demoted ([`Engine::is_demoted`]): asked only when needed, never
//!   trusted for a handover.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{B256, keccak256};

use crate::membership::{Membership, Message, Outgoing, Peer};
use crate::placement::{Placement, Slot};
use crate::shards;

/// What the engine needs to know of a block: its header's hash and the roots its data must
/// match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Its height.
    pub height: u64,
    /// Its hash (placement reads it).
    pub hash: B256,
}

/// The node's chain, as the engine sees it.
pub trait LocalChain {
    /// The block at `height` (every node keeps every header).
    fn block(&self, height: u64) -> Option<BlockRef>;
    /// The block's data (body and receipts, encoded), if this node still has it.
    fn data(&self, height: u64) -> Option<Vec<u8>>;
    /// Whether `data` is the data of `block` (its roots match the header's).
    fn verify(&self, block: &BlockRef, data: &[u8]) -> bool;
    /// The head's height.
    fn head(&self) -> u64;
    /// Whether every node keeps block `height` whole whatever its age, because its data
    /// follows from its header (a block without transactions): the cluster stores nothing of
    /// it, and no node drops it.
    fn kept_whole(&self, _height: u64) -> bool {
        false
    }
}

/// Where a member keeps its shares.
pub trait ShareStore {
    /// Share `share` of block `height`: its commitment and bytes.
    fn get(&self, height: u64, share: u16) -> Option<(B256, Vec<u8>)>;
    /// Stores a share.
    fn put(&mut self, height: u64, share: u16, commitment: B256, bytes: Vec<u8>);
    /// Drops a share.
    fn remove(&mut self, height: u64, share: u16);
    /// Bytes stored.
    fn bytes(&self) -> u64;
    /// Every (height, share) stored, so an engine restarted over the store knows what it
    /// holds.
    fn list(&self) -> Vec<(u64, u16)>;
}

/// Data-plane messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataMessage {
    /// I store share `share` of block `height`.
    Stored {
        /// The block.
        height: u64,
        /// The share.
        share: u16,
    },
    /// Send me share `share` of block `height`.
    Fetch {
        /// The asker's request.
        request: u64,
        /// The block.
        height: u64,
        /// The share.
        share: u16,
    },
    /// Here it is.
    Share {
        /// The request answered.
        request: u64,
        /// The block.
        height: u64,
        /// The share.
        share: u16,
        /// Its commitment.
        commitment: B256,
        /// The share (the whole data for copies; a shard with its proof for `rs`).
        bytes: Vec<u8>,
    },
    /// I do not have it.
    Missing {
        /// The request answered.
        request: u64,
        /// The share asked for.
        share: u16,
    },
    /// Do you store share `share` of block `height`? (Answered with `Stored` if so: a node
    /// whose acknowledgement went missing asks again before it drops its copy.)
    Holds {
        /// The block.
        height: u64,
        /// The share.
        share: u16,
    },
    /// What commitment do your shares of block `height` have? (Answered with `Committed` by
    /// a member holding one.)
    Commitment {
        /// The asker's request.
        request: u64,
        /// The block.
        height: u64,
    },
    /// The commitment of the shares of the block a `Commitment` asked about.
    Committed {
        /// The request answered.
        request: u64,
        /// The commitment.
        commitment: B256,
    },
}

/// Either plane's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterMessage {
    /// Membership.
    Membership(Message),
    /// Data.
    Data(DataMessage),
}

/// What happened, for the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A read finished with the block's data, checked against its header.
    Read {
        /// The read.
        request: u64,
        /// The block.
        height: u64,
        /// Its data.
        data: Vec<u8>,
    },
    /// A read could not be completed: too few valid shares answered in time.
    Unreadable {
        /// The read.
        request: u64,
        /// The block.
        height: u64,
    },
    /// Every share of the block is stored in the cluster: the node may drop its own copy.
    Prune {
        /// The block.
        height: u64,
    },
}

/// Engine parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// The placement rule.
    pub placement: Placement,
    /// Blocks every node keeps whole.
    pub retain_blocks: u64,
    /// Largest block data (bounds what a shard may decode to).
    pub max_data: usize,
    /// How long a read waits for answers.
    pub read_timeout_ms: u64,
    /// Old blocks the repair scan looks at per tick.
    pub repair_batch: u64,
}

#[derive(Debug, Clone)]
struct Read {
    height: u64,
    deadline: u64,
    /// Answers so far.
    answers: Vec<Answer>,
    outstanding: usize,
    /// The (member, share) pairs asked and not answered yet: only those answers count.
    asked: BTreeSet<(Peer, u16)>,
    /// Whether the data is read to rebuild this member's shares (no event for the node).
    for_repair: bool,
    /// Times the read has asked (it asks again when answers are lost).
    attempts: u32,
    /// A repair that fetches one share from its holder rather than the whole block.
    handover: Option<Handover>,
}

/// A share fetched from the member that holds it, and the commitments other members holding
/// shares of the block report.
#[derive(Debug, Clone)]
struct Handover {
    share: u16,
    confirmations: BTreeMap<Peer, B256>,
}

/// A shard as a read received it: its index, bytes and sender.
type ShardFrom<'a> = (u16, &'a [u8], Peer);

/// An answer a read collected: share, commitment, bytes, sender.
type Answer = (u16, B256, Vec<u8>, Peer);

/// Times a read asks before it gives up.
const READ_ATTEMPTS: u32 = 3;
/// Failed checks after which a member is demoted ([`Engine::is_demoted`]).
pub const DEMOTE_AFTER_FAULTS: u64 = 3;
/// Acknowledgement queries sent per tick, at most.
const HOLDS_PER_TICK: usize = 64;

/// A node's cluster engine.
pub struct Engine<S> {
    membership: Membership,
    config: EngineConfig,
    store: S,
    /// Acknowledged shares: (height, share) → the members that said they store it.
    acks: BTreeMap<(u64, u16), BTreeSet<Peer>>,
    /// Shares this member stores, by height.
    held: BTreeMap<u64, BTreeSet<u16>>,
    /// Heights that left the window and whose body this node has not been told to drop, with
    /// when to ask again for the acknowledgements still missing.
    unpruned: BTreeMap<u64, u64>,
    reads: BTreeMap<u64, Read>,
    next_request: u64,
    /// The highest height that has left the window and been stored.
    stored_up_to: u64,
    repair_cursor: u64,
    faults: BTreeMap<Peer, u64>,
    /// Each member's network segment (for `segment:P`; 0 when unknown).
    segments: BTreeMap<Peer, u32>,
    /// Reads started to rebuild this member's shares.
    repair_reads: u64,
    /// Shares stored by repair.
    repaired: u64,
    now: u64,
}

impl<S: ShareStore> Engine<S> {
    /// An engine over `membership` and `store` (which may hold shares from before a
    /// restart: they are served and counted as this member's again).
    pub fn new(membership: Membership, config: EngineConfig, store: S) -> Self {
        let me = *membership.me();
        let mut held: BTreeMap<u64, BTreeSet<u16>> = BTreeMap::new();
        let mut acks: BTreeMap<(u64, u16), BTreeSet<Peer>> = BTreeMap::new();
        for (height, share) in store.list() {
            held.entry(height).or_default().insert(share);
            acks.entry((height, share)).or_default().insert(me);
        }
        Self {
            membership,
            config,
            store,
            acks,
            held,
            unpruned: BTreeMap::new(),
            reads: BTreeMap::new(),
            next_request: 0,
            stored_up_to: 0,
            repair_cursor: 1,
            faults: BTreeMap::new(),
            segments: BTreeMap::new(),
            repair_reads: 0,
            repaired: 0,
            now: 0,
        }
    }

    /// The membership.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// The membership, to change (connections, joins, expansion).
    pub fn membership_mut(&mut self) -> &mut Membership {
        &mut self.membership
    }

    /// The share store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The share store, to change.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The share store, giving the engine up (a node stopping).
    pub fn into_store(self) -> S {
        self.store
    }

    /// Reads this member started to rebuild shares it lacked.
    pub fn repair_reads(&self) -> u64 {
        self.repair_reads
    }

    /// How many blocks `peer` has said it stores a share of.
    pub fn acknowledged_by(&self, peer: &Peer) -> u64 {
        let heights: BTreeSet<u64> = self
            .acks
            .iter()
            .filter(|(_, acked)| acked.contains(peer))
            .map(|((height, _), _)| *height)
            .collect();
        heights.len() as u64
    }

    /// The old blocks as this member sees them: (blocks with a share its assigned holder has
    /// not acknowledged, blocks with fewer acknowledged shares on online members than it
    /// takes to rebuild them, shares still to be stored by their assigned holder). Blocks
    /// this node still keeps whole (their shares are in transit, or a holder has not
    /// acknowledged yet) are not counted: they are not at risk.
    pub fn health(&self, chain: &impl LocalChain) -> (u64, u64, u64) {
        let old = chain.head().saturating_sub(self.config.retain_blocks);
        let (Some(roster), Some(online)) = (self.membership.roster(), self.membership.online())
        else {
            return (0, 0, 0);
        };
        let (mut under, mut lost, mut pending) = (0, 0, 0);
        for height in 1..=old {
            if self.unpruned.contains_key(&height) || chain.kept_whole(height) {
                continue;
            }
            let Some(block) = chain.block(height) else {
                continue;
            };
            let mut missing = 0;
            let mut available = 0;
            for share in 0..self.config.placement.shares() {
                let acked = self.acks.get(&(height, share));
                if self
                    .assigned_slot(&block, share)
                    .is_none_or(|holder| !acked.is_some_and(|a| a.contains(&holder)))
                {
                    missing += 1;
                }
                let on_line = acked.is_some_and(|acked| {
                    acked.iter().any(|peer| {
                        roster
                            .slot_of(peer)
                            .is_some_and(|slot| online.get(slot).copied().unwrap_or(false))
                    })
                });
                if on_line {
                    available += 1;
                }
            }
            if missing > 0 {
                under += 1;
                pending += missing;
            }
            if available < self.config.placement.needed() {
                lost += 1;
            }
        }
        (under, lost, pending)
    }

    /// Shares this member stored by repair.
    pub fn repaired(&self) -> u64 {
        self.repaired
    }

    /// Answers that failed a check, by member.
    pub fn faults(&self) -> &BTreeMap<Peer, u64> {
        &self.faults
    }

    /// Whether `peer` has failed checks often enough ([`DEMOTE_AFTER_FAULTS`]) to be demoted:
    /// reads ask it only when the others cannot give enough shares, or on a retry; a share it
    /// hands over, or a commitment it reports, is not trusted. Its slot is kept (the other
    /// members cannot tell its faults from a false accusation).
    pub fn is_demoted(&self, peer: &Peer) -> bool {
        self.faults
            .get(peer)
            .is_some_and(|faults| *faults >= DEMOTE_AFTER_FAULTS)
    }

    /// Sets the members' network segments (from the node's configuration), which
    /// `segment:P` spreads copies over; a member not listed is in segment 0.
    pub fn set_segments(&mut self, segments: BTreeMap<Peer, u32>) {
        self.segments = segments;
    }

    /// The slots as the placement sees them.
    fn slots(&self) -> Option<Vec<Slot>> {
        let online = self.membership.online()?;
        let roster = self.membership.roster()?;
        Some(
            online
                .into_iter()
                .zip(&roster.slots)
                .map(|(online, member)| Slot {
                    online,
                    segment: member
                        .and_then(|peer| self.segments.get(&peer).copied())
                        .unwrap_or(0),
                })
                .collect(),
        )
    }

    /// Who holds each share of `block` now: the current assignment, and the home if it
    /// differs (a home that comes back still has its share).
    fn holders(&self, block: &BlockRef) -> Vec<(u16, Vec<Peer>)> {
        let (Some(roster), Some(slots)) = (self.membership.roster(), self.slots()) else {
            return Vec::new();
        };
        let placement = self.config.placement;
        let home = placement.home(&block.hash, &slots);
        let now = placement.assign(&block.hash, &slots);
        // Before a doubling, a share lived on the first half's slots: a joiner finds the old
        // holders there (the twin of its own slot) until they hand the share over.
        let before = if slots.len() % 2 == 0 && slots.len() / 2 >= usize::from(placement.shares()) {
            placement.home(&block.hash, &slots[..slots.len() / 2])
        } else {
            Vec::new()
        };
        let peer = |slot: u32| roster.slots.get(slot as usize).copied().flatten();
        (0..home.len())
            .map(|share| {
                let mut peers = Vec::new();
                for slot in [
                    now.get(share).copied().flatten(),
                    home.get(share).copied(),
                    before.get(share).copied(),
                ]
                .into_iter()
                .flatten()
                {
                    if let Some(peer) = peer(slot)
                        && !peers.contains(&peer)
                    {
                        peers.push(peer);
                    }
                }
                // Whoever acknowledged it too (a holder from before a change).
                for peer in self
                    .acks
                    .get(&(block.height, share as u16))
                    .into_iter()
                    .flatten()
                {
                    if !peers.contains(peer) && roster.slot_of(peer).is_some() {
                        peers.push(*peer);
                    }
                }
                (share as u16, peers)
            })
            .collect()
    }

    /// An online member other than this one that holds, or held, share `share` of `block`.
    fn online_holder(&self, block: &BlockRef, share: u16) -> Option<Peer> {
        let me = *self.membership.me();
        let roster = self.membership.roster()?;
        let online = self.membership.online()?;
        let is_online = |peer: &Peer| {
            roster
                .slot_of(peer)
                .is_some_and(|slot| online.get(slot).copied().unwrap_or(false))
        };
        let (_, peers) = self
            .holders(block)
            .into_iter()
            .find(|(index, _)| *index == share)?;
        // One that said it stores the share first: a home or a pre-doubling slot may hold
        // nothing.
        let acked = self.acks.get(&(block.height, share));
        let candidates = || {
            peers
                .iter()
                .filter(|peer| **peer != me && is_online(peer) && !self.is_demoted(peer))
        };
        candidates()
            .find(|peer| acked.is_some_and(|acked| acked.contains(*peer)))
            .or_else(|| candidates().next())
            .copied()
    }

    /// The shares of `block` the placement gives this member now.
    fn mine(&self, block: &BlockRef) -> Vec<u16> {
        let me = *self.membership.me();
        (0..self.config.placement.shares())
            .filter(|share| self.assigned_slot(block, *share) == Some(me))
            .collect()
    }

    /// The member the placement gives share `share` of `block` now.
    fn assigned_slot(&self, block: &BlockRef, share: u16) -> Option<Peer> {
        let roster = self.membership.roster()?;
        let slots = self.slots()?;
        let slot = self
            .config
            .placement
            .assign(&block.hash, &slots)
            .get(usize::from(share))
            .copied()
            .flatten()?;
        roster.slots.get(slot as usize).copied().flatten()
    }

    fn members(&self) -> Vec<Peer> {
        let me = *self.membership.me();
        self.membership
            .roster()
            .map(|roster| {
                roster
                    .slots
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|peer| *peer != me)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Encodes this member's shares of `data` and stores them, returning the acks to send.
    fn store_shares(
        &mut self,
        block: &BlockRef,
        data: &[u8],
        shares: &[u16],
    ) -> Vec<(Peer, ClusterMessage)> {
        let mut out = Vec::new();
        let encoded = match self.config.placement {
            Placement::ReedSolomon { data: k, parity } => match shards::encode(data, k, parity) {
                Ok(encoded) => Some(encoded),
                Err(_) => return out,
            },
            _ => None,
        };
        for share in shares {
            if self
                .held
                .get(&block.height)
                .is_some_and(|held| held.contains(share))
            {
                continue;
            }
            let (commitment, bytes) = match &encoded {
                Some(encoded) => match encoded.shards.get(usize::from(*share)) {
                    Some(shard) => (encoded.commitment, shard.clone()),
                    None => continue,
                },
                None => (keccak256(data), data.to_vec()),
            };
            out.extend(self.keep(block.height, *share, commitment, bytes));
        }
        out
    }

    /// Stores a share of this member's; returns the acknowledgements to send the others.
    fn keep(
        &mut self,
        height: u64,
        share: u16,
        commitment: B256,
        bytes: Vec<u8>,
    ) -> Vec<(Peer, ClusterMessage)> {
        self.store.put(height, share, commitment, bytes);
        self.held.entry(height).or_default().insert(share);
        let me = *self.membership.me();
        self.acks.entry((height, share)).or_default().insert(me);
        self.members()
            .into_iter()
            .map(|peer| {
                (
                    peer,
                    ClusterMessage::Data(DataMessage::Stored { height, share }),
                )
            })
            .collect()
    }

    /// Starts fetching share `share` of `block` from `holder`, which holds it, and asks the
    /// other members holding shares of the block for their commitment.
    fn start_handover(
        &mut self,
        block: &BlockRef,
        share: u16,
        holder: Peer,
    ) -> Vec<(Peer, ClusterMessage)> {
        self.next_request += 1;
        let request = self.next_request;
        let height = block.height;
        let me = *self.membership.me();
        let mut out = vec![(
            holder,
            ClusterMessage::Data(DataMessage::Fetch {
                request,
                height,
                share,
            }),
        )];
        if matches!(self.config.placement, Placement::ReedSolomon { .. }) {
            let mut others = BTreeSet::new();
            for (_, peers) in self.holders(block) {
                others.extend(
                    peers
                        .into_iter()
                        .filter(|peer| *peer != me && *peer != holder),
                );
            }
            out.extend(others.into_iter().map(|peer| {
                (
                    peer,
                    ClusterMessage::Data(DataMessage::Commitment { request, height }),
                )
            }));
        }
        self.reads.insert(
            request,
            Read {
                height,
                deadline: self.now + self.config.read_timeout_ms,
                answers: Vec::new(),
                outstanding: 1,
                asked: BTreeSet::from([(holder, share)]),
                for_repair: true,
                attempts: READ_ATTEMPTS,
                handover: Some(Handover {
                    share,
                    confirmations: BTreeMap::new(),
                }),
            },
        );
        self.repair_reads += 1;
        out
    }

    /// Finishes handover `request` once its share has come and is vouched for; a share that
    /// fails its check turns the handover into a read of the whole block.
    fn try_handover(
        &mut self,
        chain: &impl LocalChain,
        request: u64,
    ) -> Vec<(Peer, ClusterMessage)> {
        let mut out = Vec::new();
        let Some(read) = self.reads.get(&request) else {
            return out;
        };
        let (Some(handover), Some(block)) = (&read.handover, chain.block(read.height)) else {
            return out;
        };
        let Some((share, commitment, bytes, from)) = read.answers.first() else {
            return out;
        };
        let valid = match self.config.placement {
            Placement::ReedSolomon { data, parity } => {
                shards::check(
                    data,
                    parity,
                    commitment,
                    *share,
                    bytes,
                    self.config.max_data,
                )
                .is_ok()
                    && *share == handover.share
            }
            _ => *share == handover.share && chain.verify(&block, bytes),
        };
        if !valid {
            *self.faults.entry(*from).or_default() += 1;
            self.reads.remove(&request);
            return self.start_read(chain, request, block.height, true);
        }
        let (vouched, contradicted) = match self.config.placement {
            Placement::ReedSolomon { parity, .. } => {
                let agreeing = |with: &dyn Fn(&B256) -> bool| {
                    handover
                        .confirmations
                        .values()
                        .filter(|confirmed| with(confirmed))
                        .count()
                        >= usize::from(parity)
                };
                (
                    agreeing(&|confirmed| confirmed == commitment),
                    agreeing(&|confirmed| confirmed != commitment),
                )
            }
            _ => (true, false),
        };
        if contradicted && !vouched {
            // As many holders as could vouch for it name another commitment: the sender's
            // shard is of other data. Count it, and read the whole block now.
            *self.faults.entry(*from).or_default() += 1;
            let height = block.height;
            self.reads.remove(&request);
            return self.start_read(chain, request, height, true);
        }
        if !vouched {
            return out;
        }
        let commitment = match self.config.placement {
            Placement::ReedSolomon { .. } => *commitment,
            // A copy's commitment is its hash, whatever the sender said.
            _ => keccak256(bytes),
        };
        let (share, bytes) = (*share, bytes.clone());
        self.reads.remove(&request);
        if self.mine(&block).contains(&share)
            && !self
                .held
                .get(&block.height)
                .is_some_and(|held| held.contains(&share))
        {
            self.repaired += 1;
            out.extend(self.keep(block.height, share, commitment, bytes));
        }
        out
    }

    /// Starts reading block `height` through the cluster; the answer comes as an
    /// [`Event::Read`] or [`Event::Unreadable`] with the returned request number.
    pub fn read(
        &mut self,
        chain: &impl LocalChain,
        height: u64,
    ) -> (u64, Vec<(Peer, ClusterMessage)>) {
        self.next_request += 1;
        let request = self.next_request;
        let out = self.start_read(chain, request, height, false);
        (request, out)
    }

    fn start_read(
        &mut self,
        chain: &impl LocalChain,
        request: u64,
        height: u64,
        for_repair: bool,
    ) -> Vec<(Peer, ClusterMessage)> {
        let mut out = Vec::new();
        let Some(block) = chain.block(height) else {
            self.reads.insert(
                request,
                Read {
                    height,
                    deadline: self.now,
                    answers: Vec::new(),
                    outstanding: 0,
                    asked: BTreeSet::new(),
                    for_repair,
                    attempts: READ_ATTEMPTS,
                    handover: None,
                },
            );
            return out;
        };
        let (answers, asked) = self.ask(&block, request, &mut out, false);
        self.reads.insert(
            request,
            Read {
                height,
                deadline: self.now + self.config.read_timeout_ms,
                answers,
                outstanding: asked.len(),
                asked,
                for_repair,
                attempts: 1,
                handover: None,
            },
        );
        out
    }

    /// Asks every member that may hold a share of `block` (leaving out demoted members, unless
    /// `with_demoted` or the others cannot give enough shares); returns the shares this member
    /// holds itself and the questions sent.
    fn ask(
        &self,
        block: &BlockRef,
        request: u64,
        out: &mut Vec<(Peer, ClusterMessage)>,
        with_demoted: bool,
    ) -> (Vec<Answer>, BTreeSet<(Peer, u16)>) {
        let height = block.height;
        let me = *self.membership.me();
        let mut answers = Vec::new();
        let mut candidates = Vec::new();
        for (share, peers) in self.holders(block) {
            for peer in peers {
                if peer == me {
                    if let Some((commitment, bytes)) = self.store.get(height, share) {
                        answers.push((share, commitment, bytes, me));
                    }
                    continue;
                }
                candidates.push((peer, share));
            }
        }
        let trusted: BTreeSet<u16> = candidates
            .iter()
            .filter(|(peer, _)| !self.is_demoted(peer))
            .map(|(_, share)| *share)
            .chain(answers.iter().map(|answer| answer.0))
            .collect();
        let skip_demoted =
            !with_demoted && trusted.len() >= usize::from(self.config.placement.needed());
        let mut asked = BTreeSet::new();
        for (peer, share) in candidates {
            if skip_demoted && self.is_demoted(&peer) {
                continue;
            }
            asked.insert((peer, share));
            out.push((
                peer,
                ClusterMessage::Data(DataMessage::Fetch {
                    request,
                    height,
                    share,
                }),
            ));
        }
        (answers, asked)
    }

    /// Tries to finish read `request` from the answers so far: `Some(data)` once valid.
    fn try_finish(&mut self, chain: &impl LocalChain, request: u64) -> Option<Vec<u8>> {
        let read = self.reads.get(&request)?;
        let block = chain.block(read.height)?;
        let placement = self.config.placement;
        let mut bad: Vec<Peer> = Vec::new();
        let mut found = None;
        match placement {
            Placement::ReedSolomon { data: k, parity } => {
                // Group the shards by commitment; a group with K valid shards may decode.
                let mut groups: BTreeMap<B256, Vec<ShardFrom<'_>>> = BTreeMap::new();
                for (share, commitment, bytes, from) in &read.answers {
                    if shards::check(k, parity, commitment, *share, bytes, self.config.max_data)
                        .is_ok()
                    {
                        groups.entry(*commitment).or_default().push((
                            *share,
                            bytes.as_slice(),
                            *from,
                        ));
                    } else if !bad.contains(from) {
                        bad.push(*from);
                    }
                }
                for (commitment, group) in &groups {
                    let distinct: BTreeSet<u16> =
                        group.iter().map(|(share, _, _)| *share).collect();
                    if distinct.len() < usize::from(k) {
                        continue;
                    }
                    let shards: Vec<(u16, &[u8])> = group
                        .iter()
                        .map(|(share, bytes, _)| (*share, *bytes))
                        .collect();
                    match shards::decode(k, parity, commitment, &shards, self.config.max_data) {
                        Ok(data) if chain.verify(&block, &data) => {
                            found = Some(data);
                            break;
                        }
                        _ => {
                            // Consistent shards of data that is not this block's.
                            for (_, _, from) in group {
                                if !bad.contains(from) {
                                    bad.push(*from);
                                }
                            }
                        }
                    }
                }
            }
            _ => {
                for (_, _, bytes, from) in &read.answers {
                    if chain.verify(&block, bytes) {
                        found = Some(bytes.clone());
                        break;
                    }
                    if !bad.contains(from) {
                        bad.push(*from);
                    }
                }
            }
        }
        let me = *self.membership.me();
        if found.is_some() {
            for peer in bad {
                if peer != me {
                    *self.faults.entry(peer).or_default() += 1;
                }
            }
        }
        found
    }

    /// Advances time; runs membership, the storing of blocks that left the window, and the
    /// repair scan.
    pub fn tick(
        &mut self,
        chain: &impl LocalChain,
        now: u64,
    ) -> (Vec<(Peer, ClusterMessage)>, Vec<Event>) {
        self.now = now;
        let mut out: Vec<(Peer, ClusterMessage)> = self
            .membership
            .tick(now)
            .into_iter()
            .map(|(peer, message)| (peer, ClusterMessage::Membership(message)))
            .collect();
        let mut events = Vec::new();
        // Reads that ran out of time.
        let expired: Vec<u64> = self
            .reads
            .iter()
            .filter(|(_, read)| now >= read.deadline)
            .map(|(request, _)| *request)
            .collect();
        for request in expired {
            if let Some(read) = self.reads.get(&request)
                && read.handover.is_some()
            {
                // The holder did not answer, or too few vouched: read the whole block.
                let height = read.height;
                self.reads.remove(&request);
                out.extend(self.start_read(chain, request, height, true));
                continue;
            }
            if let Some(data) = self.try_finish(chain, request) {
                events.extend(self.finished(chain, request, data, &mut out));
                continue;
            }
            let retry = self
                .reads
                .get(&request)
                .filter(|read| read.attempts < READ_ATTEMPTS)
                .and_then(|read| chain.block(read.height));
            if let Some(block) = retry {
                // Answers may have been lost: ask again, keeping what came.
                let (_, asked) = self.ask(&block, request, &mut out, true);
                if let Some(read) = self.reads.get_mut(&request) {
                    read.attempts += 1;
                    read.outstanding = asked.len();
                    read.asked = asked;
                    read.deadline = now + self.config.read_timeout_ms;
                }
            } else if let Some(read) = self.reads.remove(&request)
                && !read.for_repair
            {
                events.push(Event::Unreadable {
                    request,
                    height: read.height,
                });
            }
        }
        if self.membership.roster().is_none() {
            return (out, events);
        }
        let old = chain.head().saturating_sub(self.config.retain_blocks);
        // Blocks that just left the window: store this member's shares from the local copy (a
        // batch per tick, so a node catching up does not stall).
        let mut batch = 0;
        while self.stored_up_to < old && batch < self.config.repair_batch {
            batch += 1;
            self.stored_up_to += 1;
            let height = self.stored_up_to;
            if chain.kept_whole(height) {
                continue;
            }
            self.unpruned
                .insert(height, now + self.config.read_timeout_ms);
            if let (Some(block), Some(data)) = (chain.block(height), chain.data(height)) {
                let shares = self.mine(&block);
                out.extend(self.store_shares(&block, &data, &shares));
            }
        }
        // Repair: a few old blocks per tick.
        for _ in 0..self.config.repair_batch {
            if old == 0 {
                break;
            }
            if self.repair_cursor > old {
                self.repair_cursor = 1;
            }
            let height = self.repair_cursor;
            self.repair_cursor += 1;
            out.extend(self.repair(chain, height));
        }
        // Bodies every share of which is acknowledged may go.
        let shares = self.config.placement.shares();
        // A share counts as stored only when the member the placement gives it to says so:
        // one member cannot make the others drop their copies by claiming every share.
        let acked = |engine: &Self, height: u64, share: u16| {
            let Some(block) = chain.block(height) else {
                return false;
            };
            let Some(holder) = engine.assigned_slot(&block, share) else {
                return false;
            };
            engine
                .acks
                .get(&(height, share))
                .is_some_and(|acked| acked.contains(&holder))
        };
        let stored: Vec<u64> = self
            .unpruned
            .keys()
            .copied()
            .filter(|height| (0..shares).all(|share| acked(self, *height, share)))
            .collect();
        for height in stored {
            self.unpruned.remove(&height);
            events.push(Event::Prune { height });
        }
        // Acknowledgements still missing after a while: ask the holders again.
        let mut asked = 0;
        let due: Vec<u64> = self
            .unpruned
            .iter()
            .filter(|(_, at)| now >= **at)
            .map(|(height, _)| *height)
            .collect();
        for height in due {
            if asked >= HOLDS_PER_TICK {
                break;
            }
            let Some(block) = chain.block(height) else {
                continue;
            };
            for share in 0..shares {
                if acked(self, height, share) {
                    continue;
                }
                if let Some(holder) = self.assigned_slot(&block, share) {
                    out.push((
                        holder,
                        ClusterMessage::Data(DataMessage::Holds { height, share }),
                    ));
                    asked += 1;
                }
            }
            self.unpruned
                .insert(height, now + self.config.read_timeout_ms);
        }
        (out, events)
    }

    /// Rebuilds this member's missing shares of `height`, and drops shares handed over.
    fn repair(&mut self, chain: &impl LocalChain, height: u64) -> Vec<(Peer, ClusterMessage)> {
        let mut out = Vec::new();
        if chain.kept_whole(height) {
            // Shares of it stored before (by an older version) serve nobody.
            for share in self.held.remove(&height).unwrap_or_default() {
                self.store.remove(height, share);
                self.acks.remove(&(height, share));
            }
            return out;
        }
        let Some(block) = chain.block(height) else {
            return out;
        };
        let mine = self.mine(&block);
        let held = self.held.get(&height).cloned().unwrap_or_default();
        let missing: Vec<u16> = mine.iter().copied().filter(|s| !held.contains(s)).collect();
        // Another member's share whose acknowledgement this node lacks (it came while this
        // node saw the cluster differently, or got lost): ask the holder.
        let me = *self.membership.me();
        for share in 0..self.config.placement.shares() {
            if let Some(holder) = self.assigned_slot(&block, share)
                && holder != me
                && !self
                    .acks
                    .get(&(height, share))
                    .is_some_and(|acked| acked.contains(&holder))
            {
                out.push((
                    holder,
                    ClusterMessage::Data(DataMessage::Holds { height, share }),
                ));
            }
        }
        if !missing.is_empty() {
            if let Some(data) = chain.data(height) {
                out.extend(self.store_shares(&block, &data, &missing));
            } else if !self
                .reads
                .values()
                .any(|read| read.for_repair && read.height == height)
            {
                // One share missing that an online member still holds: fetch just it.
                let holder = match missing.as_slice() {
                    [share] => self.online_holder(&block, *share),
                    _ => None,
                };
                if let (Some(holder), [share]) = (holder, missing.as_slice()) {
                    out.extend(self.start_handover(&block, *share, holder));
                } else {
                    self.repair_reads += 1;
                    self.next_request += 1;
                    let request = self.next_request;
                    out.extend(self.start_read(chain, request, height, true));
                }
            }
        }
        // A share no longer this member's is dropped once its new holder has it.
        for share in held {
            if mine.contains(&share) {
                continue;
            }
            let Some(holder) = self.assigned_slot(&block, share) else {
                continue;
            };
            let handed_over = self
                .acks
                .get(&(height, share))
                .is_some_and(|acked| acked.contains(&holder));
            if !handed_over {
                // Its acknowledgement may have been lost: ask.
                out.push((
                    holder,
                    ClusterMessage::Data(DataMessage::Holds { height, share }),
                ));
            } else {
                self.store.remove(height, share);
                if let Some(set) = self.held.get_mut(&height) {
                    set.remove(&share);
                }
                let me = *self.membership.me();
                if let Some(acked) = self.acks.get_mut(&(height, share)) {
                    acked.remove(&me);
                }
            }
        }
        out
    }

    fn finished(
        &mut self,
        chain: &impl LocalChain,
        request: u64,
        data: Vec<u8>,
        out: &mut Vec<(Peer, ClusterMessage)>,
    ) -> Vec<Event> {
        let Some(read) = self.reads.remove(&request) else {
            return Vec::new();
        };
        if read.for_repair {
            if let Some(block) = chain.block(read.height) {
                let held = self.held.get(&read.height).cloned().unwrap_or_default();
                let missing: Vec<u16> = self
                    .mine(&block)
                    .into_iter()
                    .filter(|share| !held.contains(share))
                    .collect();
                self.repaired += missing.len() as u64;
                out.extend(self.store_shares(&block, &data, &missing));
            }
            return Vec::new();
        }
        vec![Event::Read {
            request,
            height: read.height,
            data,
        }]
    }

    /// Handles a message from `from`.
    pub fn receive(
        &mut self,
        chain: &impl LocalChain,
        now: u64,
        from: Peer,
        message: ClusterMessage,
    ) -> (Vec<(Peer, ClusterMessage)>, Vec<Event>) {
        self.now = now;
        let mut out = Vec::new();
        let mut events = Vec::new();
        match message {
            ClusterMessage::Membership(message) => {
                let replies: Vec<Outgoing> = self.membership.receive(now, from, message);
                out.extend(
                    replies
                        .into_iter()
                        .map(|(peer, message)| (peer, ClusterMessage::Membership(message))),
                );
            }
            ClusterMessage::Data(DataMessage::Stored { height, share }) => {
                // Only for a block that has left the window, and only from a member that may
                // hold that share (its holder now, its home, or its home before a doubling).
                let old = chain.head().saturating_sub(self.config.retain_blocks);
                let may_hold = height <= old
                    && chain.block(height).is_some_and(|block| {
                        self.holders(&block)
                            .iter()
                            .any(|(index, peers)| *index == share && peers.contains(&from))
                    });
                if may_hold {
                    self.acks.entry((height, share)).or_default().insert(from);
                }
            }
            ClusterMessage::Data(DataMessage::Fetch {
                request,
                height,
                share,
            }) => {
                let member = self
                    .membership
                    .roster()
                    .is_some_and(|roster| roster.slot_of(&from).is_some());
                if !member {
                    return (out, events);
                }
                let reply = match self.store.get(height, share) {
                    Some((commitment, bytes)) => DataMessage::Share {
                        request,
                        height,
                        share,
                        commitment,
                        bytes,
                    },
                    None => match (self.config.placement, chain.data(height)) {
                        // A node that still has the whole block serves a copy's share from it.
                        (Placement::Copies(_) | Placement::Segment(_), Some(data)) => {
                            DataMessage::Share {
                                request,
                                height,
                                share,
                                commitment: keccak256(&data),
                                bytes: data,
                            }
                        }
                        _ => DataMessage::Missing { request, share },
                    },
                };
                out.push((from, ClusterMessage::Data(reply)));
            }
            ClusterMessage::Data(DataMessage::Share {
                request,
                height,
                share,
                commitment,
                bytes,
            }) => {
                // Only an answer to a question asked, once.
                let max_data = self.config.max_data;
                let accepted = match self.reads.get_mut(&request) {
                    Some(read)
                        if read.height == height
                            && bytes.len() <= max_data
                            && read.asked.contains(&(from, share)) =>
                    {
                        read.asked.remove(&(from, share));
                        read.outstanding = read.outstanding.saturating_sub(1);
                        read.answers.push((share, commitment, bytes, from));
                        true
                    }
                    _ => false,
                };
                let handover = self
                    .reads
                    .get(&request)
                    .is_some_and(|read| read.handover.is_some());
                if accepted && handover {
                    out.extend(self.try_handover(chain, request));
                } else if accepted && let Some(data) = self.try_finish(chain, request) {
                    events.extend(self.finished(chain, request, data, &mut out));
                }
            }
            ClusterMessage::Data(DataMessage::Holds { height, share }) => {
                if self
                    .held
                    .get(&height)
                    .is_some_and(|held| held.contains(&share))
                {
                    out.push((
                        from,
                        ClusterMessage::Data(DataMessage::Stored { height, share }),
                    ));
                }
            }
            ClusterMessage::Data(DataMessage::Commitment { request, height }) => {
                let member = self
                    .membership
                    .roster()
                    .is_some_and(|roster| roster.slot_of(&from).is_some());
                let held = self
                    .held
                    .get(&height)
                    .and_then(|held| held.first().copied());
                if member
                    && let Some(share) = held
                    && let Some((commitment, _)) = self.store.get(height, share)
                {
                    out.push((
                        from,
                        ClusterMessage::Data(DataMessage::Committed {
                            request,
                            commitment,
                        }),
                    ));
                }
            }
            ClusterMessage::Data(DataMessage::Committed {
                request,
                commitment,
            }) => {
                // Only from a member holding a share of the block, other than the one that
                // sent the share itself.
                let recorded = match self.reads.get(&request) {
                    Some(read) if read.handover.is_some() => {
                        let sender = read.asked.iter().next().map(|(peer, _)| *peer);
                        let vouches = chain.block(read.height).is_some_and(|block| {
                            self.holders(&block)
                                .iter()
                                .any(|(_, peers)| peers.contains(&from))
                        }) && sender != Some(from)
                            && !self.is_demoted(&from)
                            && read.answers.first().is_none_or(|answer| answer.3 != from);
                        if vouches
                            && let Some(handover) = self
                                .reads
                                .get_mut(&request)
                                .and_then(|read| read.handover.as_mut())
                        {
                            handover.confirmations.insert(from, commitment);
                        }
                        vouches
                    }
                    _ => false,
                };
                if recorded {
                    out.extend(self.try_handover(chain, request));
                }
            }
            ClusterMessage::Data(DataMessage::Missing { request, share }) => {
                if let Some(read) = self.reads.get_mut(&request)
                    && read.asked.remove(&(from, share))
                {
                    read.outstanding = read.outstanding.saturating_sub(1);
                    if read.outstanding == 0 {
                        read.deadline = now;
                    }
                }
            }
        }
        (out, events)
    }
}
