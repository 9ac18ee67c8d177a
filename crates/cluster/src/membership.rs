//! Cluster membership, as a state machine without I/O: formation by invitation, the cluster id
//! and its expiry, slot numbering, heartbeats and failure detection, replacement of a
//! departed member, and doubling (seed 000's claims 2–5, 7, 8, 10–12; seed 003's growth by
//! 2^n).
//!
//! The node feeds it time ([`Membership::tick`]), its current p2p connections
//! ([`Membership::set_connected`]) and the messages its peers send
//! ([`Membership::receive`]); it answers with the messages to send. Peers are authenticated
//! by the p2p layer, so a message's sender is known; everything else in a message is checked
//! here.
//!
//! * **Formation** (claims 2, 3): an idle node connected to at least `invite_min_peers` others
//!   invites them all. An idle node confirms the invitation of the smallest key it has heard
//!   from in the current window, and an inviter that hears a smaller inviter withdraws and
//!   confirms it, so concurrent invitations converge on one. When its window closes with at
//!   least `form_min_members - 1` confirmations, the inviter forms the cluster with them.
//! * **Id and numbering** (claims 4, 5): slots are the members' keys in ascending order; the
//!   cluster id is keccak256 of the slots' keys and the formation time. The id expires
//!   `id_lifetime_ms` later: every member returns to idle at the same instant (the time is in
//!   the roster) and the cluster forms again. What the members store is not touched.
//! * **Heartbeats** (claims 7, 8): every `heartbeat_ms`, to every member or only to the ring
//!   neighbours. Each member counts its heartbeats, and a heartbeat carries the highest count
//!   the sender knows of every member, so liveness spreads all round the ring. A member whose
//!   count has not risen for `offline_after_ms` is offline. Only a rising count proves a
//!   member alive, so a stale report cannot keep circulating. In ring mode the news travels a
//!   hop per heartbeat: `offline_after_ms` must exceed `heartbeat_ms` times half the cluster.
//! * **Replacement** (claims 10–12): a slot offline for `repair_after_ms` is *vacated* by the
//!   coordinator (the lowest online slot) in a new roster version; the coordinator invites a
//!   connected idle node, or one that asked to join, into the vacated slot (in place, so no
//!   other slot's share moves) in the next version.
//! * **Doubling** (seed 003): when as many joiners wait as the cluster has slots (or the
//!   operator asks), the coordinator appends that many slots, the joiners in key order.
//!
//! Rosters are versioned; a member adopts a roster for its cluster with a higher version from
//! another member, so the coordinator's changes spread, and one stale message never rolls a
//! roster back.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::{B256, keccak256};

/// A member, by its public key.
pub type Peer = [u8; 32];

/// Most slots a roster may have (bounds every message).
pub const MAX_SLOTS: usize = 256;

/// Whom heartbeats go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeartbeatMode {
    /// Every member (claim 7).
    All,
    /// The ring neighbours, previous and next slot (claim 8).
    Ring,
}

/// Membership parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipConfig {
    /// Connections an idle node needs before it invites (m).
    pub invite_min_peers: usize,
    /// Members a cluster needs to form, the inviter included (n).
    pub form_min_members: usize,
    /// How long an inviter collects confirmations.
    pub invite_window_ms: u64,
    /// How long a cluster id lives.
    pub id_lifetime_ms: u64,
    /// Heartbeat period.
    pub heartbeat_ms: u64,
    /// Silence after which a slot is offline.
    pub offline_after_ms: u64,
    /// Time offline after which a slot is vacated and replaced.
    pub repair_after_ms: u64,
    /// Whom heartbeats go to.
    pub heartbeat: HeartbeatMode,
    /// Double as soon as enough joiners wait; otherwise only when the operator asks.
    pub auto_expand: bool,
}

/// A cluster's membership at one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    /// The cluster id.
    pub cluster: B256,
    /// Bumped by every change.
    pub version: u64,
    /// When the id expires (ms since the epoch).
    pub expires_at_ms: u64,
    /// Slot `i`'s member; `None` while the slot is vacated.
    pub slots: Vec<Option<Peer>>,
}

impl Roster {
    /// The slot of `peer`.
    pub fn slot_of(&self, peer: &Peer) -> Option<usize> {
        self.slots
            .iter()
            .position(|slot| slot.as_ref() == Some(peer))
    }

    /// A digest of the roster, to order two rosters of one version.
    pub fn digest(&self) -> B256 {
        let mut bytes = Vec::with_capacity(48 + self.slots.len() * 33);
        bytes.extend_from_slice(self.cluster.as_slice());
        bytes.extend_from_slice(&self.version.to_be_bytes());
        bytes.extend_from_slice(&self.expires_at_ms.to_be_bytes());
        for slot in &self.slots {
            match slot {
                Some(peer) => {
                    bytes.push(1);
                    bytes.extend_from_slice(peer);
                }
                None => bytes.push(0),
            }
        }
        keccak256(bytes)
    }

    /// Well-formed: a size within bounds, no member twice.
    fn valid(&self) -> bool {
        let members: Vec<&Peer> = self.slots.iter().flatten().collect();
        let distinct: BTreeSet<&Peer> = members.iter().copied().collect();
        !self.slots.is_empty() && self.slots.len() <= MAX_SLOTS && distinct.len() == members.len()
    }
}

/// What membership messages say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Form a cluster with me (round: the inviter's attempt number).
    Invite {
        /// The attempt.
        round: u64,
    },
    /// I will join your cluster.
    Confirm {
        /// The attempt confirmed.
        round: u64,
    },
    /// The cluster as it is now (formation, or a change).
    Roster(Roster),
    /// I am alive: my heartbeat counter and the highest counter I know of each member, so
    /// liveness spreads (in ring mode, around the ring) and only a counter that keeps rising
    /// proves a member alive: a rumour cannot.
    Heartbeat {
        /// The cluster.
        cluster: B256,
        /// My roster version.
        version: u64,
        /// (member, highest heartbeat counter known), mine included.
        beats: Vec<(Peer, u64)>,
    },
    /// Let me into your cluster.
    JoinRequest,
    /// Take slot `slot` of this cluster (sent with the roster that gives it to you).
    JoinInvite(Roster),
}

/// Where a node stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// In no cluster.
    Idle,
    /// Inviting; collecting confirmations until `until`.
    Inviting {
        round: u64,
        until: u64,
        confirmed: BTreeSet<Peer>,
    },
    /// Confirmed `inviter`'s invitation; waiting for its roster until `until`.
    Confirmed {
        inviter: Peer,
        round: u64,
        until: u64,
    },
    /// A member.
    Member(Box<MemberState>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MemberState {
    roster: Roster,
    /// Each member's highest known heartbeat counter, and when it last rose.
    beats: BTreeMap<Peer, (u64, u64)>,
    /// This node's own counter.
    counter: u64,
    /// The latest time this node was given.
    now: u64,
    next_heartbeat: u64,
    /// Outside nodes that asked to join, in arrival order.
    joiners: Vec<Peer>,
    /// The operator asked for a doubling.
    expand: bool,
}

/// A node's membership.
#[derive(Debug, Clone)]
pub struct Membership {
    me: Peer,
    config: MembershipConfig,
    connected: BTreeSet<Peer>,
    state: State,
    rounds: u64,
    /// Invitations heard this window: inviter → round.
    invitations: BTreeMap<Peer, u64>,
}

/// A message to send.
pub type Outgoing = (Peer, Message);

impl MemberState {
    /// Whether `new` is a change of this member's roster it can agree with: the same cluster
    /// and expiry; each slot kept, vacated or handed over only where its member has been
    /// silent for `offline_after` in this member's view, or filled where it was vacated; and
    /// new slots only by a doubling that keeps the old ones. A change it cannot agree with yet
    /// is re-sent with every heartbeat of a member that has it, so views converge.
    fn allows(&self, new: &Roster, me: &Peer, offline_after: u64) -> bool {
        let old = &self.roster;
        if new.cluster != old.cluster || new.expires_at_ms != old.expires_at_ms {
            return false;
        }
        let size = old.slots.len();
        if new.slots.len() != size && new.slots.len() != 2 * size {
            return false;
        }
        (0..size).all(|slot| match (&old.slots[slot], &new.slots[slot]) {
            (a, b) if a == b => true,
            // Taking a member out, or handing its slot on: only if it is silent here.
            (Some(_), _) => self
                .silent_for(slot, me)
                .is_some_and(|silent| silent >= offline_after),
            // Filling a vacated slot with someone not already a member.
            (None, Some(peer)) => old.slot_of(peer).is_none(),
            (None, None) => true,
        })
    }

    /// How long slot `slot`'s member has been silent (its heartbeat counter not rising), as of
    /// the latest time given; `None` for this node's own slot, `Some(u64::MAX)` for a vacated
    /// slot.
    fn silent_for(&self, slot: usize, me: &Peer) -> Option<u64> {
        match self.roster.slots.get(slot)? {
            None => Some(u64::MAX),
            Some(peer) if peer == me => None,
            Some(peer) => Some(
                self.beats
                    .get(peer)
                    .map_or(u64::MAX, |(_, at)| self.now.saturating_sub(*at)),
            ),
        }
    }
}

impl Membership {
    /// An idle node.
    pub fn new(me: Peer, config: MembershipConfig) -> Self {
        Self {
            me,
            config,
            connected: BTreeSet::new(),
            state: State::Idle,
            rounds: 0,
            invitations: BTreeMap::new(),
        }
    }

    /// The node's key.
    pub fn me(&self) -> &Peer {
        &self.me
    }

    /// The roster, if the node is a member.
    pub fn roster(&self) -> Option<&Roster> {
        match &self.state {
            State::Member(member) => Some(&member.roster),
            _ => None,
        }
    }

    /// Whether each slot is online, in this node's view (`None` outside a cluster).
    pub fn online(&self) -> Option<Vec<bool>> {
        let State::Member(member) = &self.state else {
            return None;
        };
        Some(
            (0..member.roster.slots.len())
                .map(|slot| {
                    member
                        .silent_for(slot, &self.me)
                        .is_none_or(|silent| silent < self.config.offline_after_ms)
                })
                .collect(),
        )
    }

    /// Outside nodes waiting to join.
    pub fn joiners(&self) -> &[Peer] {
        match &self.state {
            State::Member(member) => &member.joiners,
            _ => &[],
        }
    }

    /// The peers this node is connected to now.
    pub fn set_connected(&mut self, peers: impl IntoIterator<Item = Peer>) {
        self.connected = peers.into_iter().filter(|peer| *peer != self.me).collect();
    }

    /// Asks for a doubling once as many joiners wait as the cluster has slots (`cairn cluster
    /// expand`); only the coordinator acts on it.
    pub fn request_expand(&mut self) {
        if let State::Member(member) = &mut self.state {
            member.expand = true;
        }
    }

    /// Asks `peer`, a member of some cluster, to let this idle node in.
    pub fn request_join(&self, peer: Peer) -> Option<Outgoing> {
        matches!(self.state, State::Idle).then_some((peer, Message::JoinRequest))
    }

    /// Advances time to `now`.
    pub fn tick(&mut self, now: u64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        match &mut self.state {
            State::Idle => {
                if self.connected.len() >= self.config.invite_min_peers {
                    self.rounds += 1;
                    let round = self.rounds;
                    self.state = State::Inviting {
                        round,
                        until: now + self.config.invite_window_ms,
                        confirmed: BTreeSet::new(),
                    };
                    for peer in &self.connected {
                        out.push((*peer, Message::Invite { round }));
                    }
                }
            }
            State::Inviting {
                round,
                until,
                confirmed,
            } => {
                if now >= *until {
                    let (round, confirmed) = (*round, std::mem::take(confirmed));
                    self.invitations.clear();
                    if confirmed.len() + 1 >= self.config.form_min_members {
                        out.extend(self.form(now, round, confirmed));
                    } else {
                        // Too few to form: ask the connected peers' clusters to take it in
                        // (claim 11's join request); members of none ignore it.
                        self.state = State::Idle;
                        for peer in &self.connected {
                            out.push((*peer, Message::JoinRequest));
                        }
                    }
                }
            }
            State::Confirmed { until, .. } => {
                if now >= *until {
                    self.state = State::Idle;
                    self.invitations.clear();
                }
            }
            State::Member(_) => out.extend(self.member_tick(now)),
        }
        out
    }

    fn form(&mut self, now: u64, round: u64, confirmed: BTreeSet<Peer>) -> Vec<Outgoing> {
        let mut keys: Vec<Peer> = confirmed.into_iter().collect();
        keys.push(self.me);
        keys.sort();
        keys.truncate(MAX_SLOTS);
        let mut preimage = Vec::with_capacity(keys.len() * 32 + 16);
        for key in &keys {
            preimage.extend_from_slice(key);
        }
        preimage.extend_from_slice(&now.to_be_bytes());
        preimage.extend_from_slice(&round.to_be_bytes());
        let roster = Roster {
            cluster: keccak256(&preimage),
            version: 0,
            expires_at_ms: now + self.config.id_lifetime_ms,
            slots: keys.iter().map(|key| Some(*key)).collect(),
        };
        let out = keys
            .iter()
            .filter(|key| **key != self.me)
            .map(|key| (*key, Message::Roster(roster.clone())))
            .collect();
        self.become_member(now, roster);
        out
    }

    fn become_member(&mut self, now: u64, roster: Roster) {
        let beats = roster
            .slots
            .iter()
            .flatten()
            .map(|peer| (*peer, (0, now)))
            .collect();
        self.state = State::Member(Box::new(MemberState {
            roster,
            beats,
            counter: 0,
            now,
            next_heartbeat: now,
            joiners: Vec::new(),
            expand: false,
        }));
    }

    /// The slots this node watches: every other slot, or its ring neighbours.
    fn watched(&self, member: &MemberState) -> Vec<usize> {
        let size = member.roster.slots.len();
        let Some(mine) = member.roster.slot_of(&self.me) else {
            return Vec::new();
        };
        match self.config.heartbeat {
            HeartbeatMode::All => (0..size).filter(|slot| *slot != mine).collect(),
            HeartbeatMode::Ring => {
                let mut neighbours = Vec::new();
                // The nearest occupied, online-or-not slots on each side.
                for direction in [1, size - 1] {
                    let mut slot = (mine + direction) % size;
                    while slot != mine {
                        if member.roster.slots[slot].is_some() {
                            if !neighbours.contains(&slot) {
                                neighbours.push(slot);
                            }
                            if member
                                .silent_for(slot, &self.me)
                                .is_none_or(|silent| silent < self.config.offline_after_ms)
                            {
                                break;
                            }
                        }
                        slot = (slot + direction) % size;
                    }
                }
                neighbours
            }
        }
    }

    fn member_tick(&mut self, now: u64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let State::Member(member) = &self.state else {
            return out;
        };
        if now >= member.roster.expires_at_ms {
            // The id expired: an ordinary node again, free to form anew; its data stays.
            self.state = State::Idle;
            self.invitations.clear();
            return out;
        }
        let watched = self.watched(member);
        let State::Member(member) = &mut self.state else {
            return out;
        };
        member.now = now;
        if now >= member.next_heartbeat {
            member.next_heartbeat = now + self.config.heartbeat_ms;
            // The count is the time of the heartbeat: it keeps rising across a restart, so a
            // restarted member is not taken for silent while it "catches up" with its old
            // count, and a count from the future is a lie.
            member.counter = now.max(member.counter.saturating_add(1));
            member.beats.insert(self.me, (member.counter, now));
            let beats: Vec<(Peer, u64)> = member
                .beats
                .iter()
                .filter(|(peer, _)| member.roster.slot_of(peer).is_some())
                .map(|(peer, (counter, _))| (*peer, *counter))
                .collect();
            let recipients: Vec<usize> = match self.config.heartbeat {
                HeartbeatMode::All => (0..member.roster.slots.len()).collect(),
                HeartbeatMode::Ring => watched,
            };
            for slot in recipients {
                if let Some(Some(peer)) = member.roster.slots.get(slot)
                    && *peer != self.me
                {
                    out.push((
                        *peer,
                        Message::Heartbeat {
                            cluster: member.roster.cluster,
                            version: member.roster.version,
                            beats: beats.clone(),
                        },
                    ));
                }
            }
        }
        out.extend(self.coordinate(now));
        out
    }

    /// The coordinator (the lowest online slot) vacates slots offline too long, fills vacated
    /// slots with joiners or connected idle nodes, and doubles the cluster.
    fn coordinate(&mut self, now: u64) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let me = self.me;
        let repair_after = self.config.repair_after_ms;
        let auto_expand = self.config.auto_expand;
        let State::Member(member) = &mut self.state else {
            return out;
        };
        let size = member.roster.slots.len();
        let offline_after = self.config.offline_after_ms;
        let silent: Vec<Option<u64>> = (0..size).map(|slot| member.silent_for(slot, &me)).collect();
        let coordinator = (0..size).find(|slot| {
            member.roster.slots[*slot].is_some()
                && silent[*slot].is_none_or(|silent| silent < offline_after)
        });
        if coordinator != member.roster.slot_of(&me) {
            return out;
        }
        let mut changed = false;
        let mut invited = Vec::new();
        // Vacate slots offline past the repair delay.
        for slot in 0..size {
            if member.roster.slots[slot].is_some()
                && silent[slot].is_some_and(|silent| silent >= offline_after + repair_after)
            {
                member.roster.slots[slot] = None;
                changed = true;
            }
        }
        // Fill vacated slots with the nodes that asked to join, first come first served.
        let outsiders: Vec<Peer> = member
            .joiners
            .iter()
            .copied()
            .filter(|peer| member.roster.slot_of(peer).is_none())
            .collect();
        let mut candidates = outsiders.into_iter();
        for slot in 0..size {
            if member.roster.slots[slot].is_none()
                && let Some(peer) = candidates.find(|peer| member.roster.slot_of(peer).is_none())
            {
                member.roster.slots[slot] = Some(peer);
                member.beats.insert(peer, (0, now));
                member.joiners.retain(|joiner| *joiner != peer);
                invited.push(peer);
                changed = true;
            }
        }
        // Double when as many joiners wait as there are slots (automatically, or when the
        // operator asked).
        if member.joiners.len() >= size && size * 2 <= MAX_SLOTS && (auto_expand || member.expand) {
            let mut joining: Vec<Peer> = member.joiners.drain(..size).collect();
            joining.sort();
            for peer in joining {
                member.roster.slots.push(Some(peer));
                member.beats.insert(peer, (0, now));
                invited.push(peer);
            }
            member.expand = false;
            changed = true;
        }
        if changed {
            let Some(version) = member.roster.version.checked_add(1) else {
                return Vec::new();
            };
            member.roster.version = version;
            for slot in 0..member.roster.slots.len() {
                if let Some(peer) = member.roster.slots[slot]
                    && peer != me
                {
                    let message = if invited.contains(&peer) {
                        Message::JoinInvite(member.roster.clone())
                    } else {
                        Message::Roster(member.roster.clone())
                    };
                    out.push((peer, message));
                }
            }
        }
        out
    }

    /// Handles a message from `from` at `now`.
    pub fn receive(&mut self, now: u64, from: Peer, message: Message) -> Vec<Outgoing> {
        let mut out = Vec::new();
        if from == self.me {
            return out;
        }
        // A member of this cluster acting as if it were in none (it missed the roster that
        // made it one) is sent the roster again.
        if matches!(message, Message::Invite { .. } | Message::JoinRequest)
            && let State::Member(member) = &self.state
            && member.roster.slot_of(&from).is_some()
        {
            out.push((from, Message::JoinInvite(member.roster.clone())));
            return out;
        }
        match message {
            Message::Invite { round } => {
                self.invitations.insert(from, round);
                let best = self.invitations.keys().next().copied();
                match &self.state {
                    State::Idle => {
                        if let Some(best) = best {
                            out.push(self.confirm(now, best));
                        }
                    }
                    State::Inviting { .. } if from < self.me && best == Some(from) => {
                        // A smaller inviter: withdraw and confirm it.
                        out.push(self.confirm(now, from));
                    }
                    // A smaller inviter, or the same one trying again.
                    State::Confirmed {
                        inviter,
                        round: confirmed,
                        ..
                    } if from < *inviter || (from == *inviter && round != *confirmed) => {
                        out.push(self.confirm(now, from));
                    }
                    _ => {}
                }
            }
            Message::Confirm { round } => {
                if let State::Inviting {
                    round: mine,
                    confirmed,
                    ..
                } = &mut self.state
                    && *mine == round
                    && confirmed.len() < MAX_SLOTS - 1
                {
                    confirmed.insert(from);
                }
            }
            Message::Roster(roster) => out.extend(self.adopt(now, from, roster, false)),
            Message::JoinInvite(roster) => out.extend(self.adopt(now, from, roster, true)),
            Message::Heartbeat {
                cluster,
                version,
                beats,
            } => {
                if let State::Member(member) = &mut self.state
                    && member.roster.cluster == cluster
                    && member.roster.slot_of(&from).is_some()
                {
                    member.now = now;
                    let latest = now.saturating_add(self.config.offline_after_ms);
                    for (peer, counter) in beats.iter().take(MAX_SLOTS) {
                        if *peer == self.me || member.roster.slot_of(peer).is_none() {
                            continue;
                        }
                        // Counts are times: none from the future. With heartbeats to all, a
                        // member's count is taken from that member alone, so no member can
                        // keep a dead one alive or silence a live one.
                        if *counter > latest
                            || (self.config.heartbeat == HeartbeatMode::All && *peer != from)
                        {
                            continue;
                        }
                        let known = member.beats.entry(*peer).or_insert((0, now));
                        if *counter > known.0 {
                            *known = (*counter, now);
                        }
                    }
                    // A member behind on the roster gets the current one.
                    if version < member.roster.version {
                        out.push((from, Message::Roster(member.roster.clone())));
                    }
                }
            }
            Message::JoinRequest => {
                if let State::Member(member) = &mut self.state
                    && member.roster.slot_of(&from).is_none()
                    && !member.joiners.contains(&from)
                    && member.joiners.len() < MAX_SLOTS
                {
                    member.joiners.push(from);
                }
            }
        }
        out
    }

    fn confirm(&mut self, now: u64, inviter: Peer) -> Outgoing {
        let round = self.invitations.get(&inviter).copied().unwrap_or_default();
        self.state = State::Confirmed {
            inviter,
            round,
            until: now + 2 * self.config.invite_window_ms,
        };
        (inviter, Message::Confirm { round })
    }

    fn adopt(&mut self, now: u64, from: Peer, roster: Roster, invited: bool) -> Vec<Outgoing> {
        if !roster.valid()
            || now >= roster.expires_at_ms
            || roster.expires_at_ms > now.saturating_add(self.config.id_lifetime_ms)
            || roster.slot_of(&self.me).is_none()
            || roster.slots.len() < self.config.form_min_members
        {
            return Vec::new();
        }
        // The sender must be in the roster it sends.
        if roster.slot_of(&from).is_none() {
            return Vec::new();
        }
        match &mut self.state {
            State::Confirmed { inviter, .. } if *inviter == from && roster.version == 0 => {
                self.become_member(now, roster);
            }
            // Invited into a cluster while in none: whatever it was attempting, it joins.
            State::Idle | State::Inviting { .. } | State::Confirmed { .. } if invited => {
                self.become_member(now, roster);
            }
            // A newer version wins; of two rosters of one version (two members that both
            // thought they coordinated), the smaller digest wins everywhere.
            State::Member(member)
                if member.roster.cluster == roster.cluster
                    && (roster.version > member.roster.version
                        || (roster.version == member.roster.version
                            && roster.digest() < member.roster.digest()))
                    && member.allows(&roster, &self.me, self.config.offline_after_ms) =>
            {
                // Members new to this node start with a fresh heartbeat history.
                for peer in roster.slots.iter().flatten() {
                    member.beats.entry(*peer).or_insert((0, now));
                }
                member
                    .beats
                    .retain(|peer, _| roster.slot_of(peer).is_some());
                member
                    .joiners
                    .retain(|joiner| roster.slot_of(joiner).is_none());
                member.roster = roster;
            }
            _ => {}
        }
        Vec::new()
    }
}
