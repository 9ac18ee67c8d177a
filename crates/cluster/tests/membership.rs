//! Deterministic simulations of cluster membership: nodes exchange messages with seeded
//! delays (1 to 50 ms) and losses (2 %); each scenario runs over many seeds
//! (`CAIRN_CLUSTER_SEEDS`, 24 by default) and checks that every live member ends with the same
//! roster. Formation, expiry and re-formation, a failure detected (all-to-all
//! and ring heartbeats) and replaced in place, and a doubling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use cairn_cluster::membership::{
    HeartbeatMode, Membership, MembershipConfig, Message, Peer, Roster,
};

const STEP_MS: u64 = 10;

fn config(form_min_members: usize, heartbeat: HeartbeatMode) -> MembershipConfig {
    MembershipConfig {
        invite_min_peers: form_min_members - 1,
        form_min_members,
        invite_window_ms: 300,
        id_lifetime_ms: 600_000,
        heartbeat_ms: 200,
        offline_after_ms: 1_000,
        repair_after_ms: 2_000,
        heartbeat,
        auto_expand: true,
    }
}

fn key(index: u8) -> Peer {
    // Keys whose order differs from their index, so numbering by key is visible.
    let mut key = [0u8; 32];
    key[0] = index.wrapping_mul(37).wrapping_add(11);
    key[31] = index;
    key
}

/// A seeded network of nodes.
struct Net {
    nodes: Vec<Membership>,
    up: Vec<bool>,
    /// Which nodes each node is connected to.
    links: Vec<Vec<usize>>,
    queue: BTreeMap<(u64, u64), (usize, Peer, Message)>,
    sequence: u64,
    now: u64,
    rng: u64,
    loss_percent: u64,
}

impl Net {
    fn new(count: u8, config: MembershipConfig, seed: u64, loss_percent: u64) -> Self {
        let nodes: Vec<Membership> = (0..count)
            .map(|i| Membership::new(key(i), config))
            .collect();
        Self {
            up: vec![true; nodes.len()],
            links: vec![Vec::new(); nodes.len()],
            nodes,
            queue: BTreeMap::new(),
            sequence: 0,
            now: 1_000_000,
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            loss_percent,
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Connects every pair among `nodes`.
    fn connect_all(&mut self, nodes: &[usize]) {
        for a in nodes {
            for b in nodes {
                if a != b && !self.links[*a].contains(b) {
                    self.links[*a].push(*b);
                }
            }
        }
        for node in 0..self.nodes.len() {
            let peers: Vec<Peer> = self.links[node].iter().map(|i| key(*i as u8)).collect();
            self.nodes[node].set_connected(peers);
        }
    }

    fn index_of(&self, peer: &Peer) -> Option<usize> {
        (0..self.nodes.len()).find(|i| key(*i as u8) == *peer)
    }

    fn send(&mut self, from: usize, out: Vec<(Peer, Message)>) {
        for (to, message) in out {
            let Some(to) = self.index_of(&to) else {
                continue;
            };
            if self.random() % 100 < self.loss_percent {
                continue;
            }
            let delay = 1 + self.random() % 50;
            self.sequence += 1;
            self.queue.insert(
                (self.now + delay, self.sequence),
                (to, key(from as u8), message),
            );
        }
    }

    fn run(&mut self, duration_ms: u64) {
        let end = self.now + duration_ms;
        while self.now < end {
            self.now += STEP_MS;
            let due: Vec<(u64, u64)> = self
                .queue
                .range(..(self.now + 1, 0))
                .map(|(at, _)| *at)
                .collect();
            for at in due {
                let (to, from, message) = self.queue.remove(&at).unwrap();
                let from_index = self.index_of(&from).unwrap();
                if !self.up[to] || !self.up[from_index] {
                    continue;
                }
                let out = self.nodes[to].receive(self.now, from, message);
                self.send(to, out);
            }
            for node in 0..self.nodes.len() {
                if self.up[node] {
                    let out = self.nodes[node].tick(self.now);
                    self.send(node, out);
                }
            }
        }
    }

    /// The roster every live node among `nodes` holds, asserting they agree.
    fn agreed(&self, nodes: &[usize], seed: u64) -> Roster {
        let rosters: Vec<Option<&Roster>> = nodes
            .iter()
            .map(|node| self.nodes[*node].roster())
            .collect();
        let first =
            rosters[0].unwrap_or_else(|| panic!("seed {seed}: node {} in no cluster", nodes[0]));
        for (node, roster) in nodes.iter().zip(&rosters) {
            assert_eq!(*roster, Some(first), "seed {seed}: node {node} disagrees");
        }
        first.clone()
    }
}

/// Seeds per scenario: `CAIRN_CLUSTER_SEEDS` (24 by default).
fn seeds() -> std::ops::Range<u64> {
    let count = std::env::var("CAIRN_CLUSTER_SEEDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(24);
    0..count
}

#[test]
fn eight_nodes_form_one_cluster_numbered_by_key() {
    for seed in seeds() {
        let mut net = Net::new(8, config(8, HeartbeatMode::All), seed, 2);
        net.connect_all(&(0..8).collect::<Vec<_>>());
        net.run(3_000);
        let all: Vec<usize> = (0..8).collect();
        let roster = net.agreed(&all, seed);
        let mut keys: Vec<Peer> = (0..8).map(key).collect();
        keys.sort();
        assert_eq!(
            roster.slots,
            keys.into_iter().map(Some).collect::<Vec<_>>(),
            "seed {seed}"
        );
        assert_eq!(net.nodes[0].online().unwrap(), vec![true; 8], "seed {seed}");
    }
}

#[test]
fn the_id_expires_and_the_cluster_forms_again() {
    for seed in seeds() {
        let mut config = config(4, HeartbeatMode::All);
        config.id_lifetime_ms = 5_000;
        let mut net = Net::new(4, config, seed, 0);
        net.connect_all(&[0, 1, 2, 3]);
        net.run(2_000);
        let first = net.agreed(&[0, 1, 2, 3], seed);
        // Past the expiry, every member is an ordinary node for a moment, then they form
        // again, under a new id.
        net.run(first.expires_at_ms - net.now + STEP_MS);
        assert!(
            net.nodes
                .iter()
                .all(|node| node.roster().is_none_or(|r| r.cluster != first.cluster))
        );
        net.run(2_000);
        let second = net.agreed(&[0, 1, 2, 3], seed);
        assert_ne!(second.cluster, first.cluster, "seed {seed}");
        assert!(second.expires_at_ms > first.expires_at_ms);
    }
}

fn failure_is_replaced_in_place(heartbeat: HeartbeatMode) {
    for seed in seeds() {
        let mut config = config(8, heartbeat);
        if heartbeat == HeartbeatMode::Ring {
            // News of a member goes a hop per heartbeat: half the ring is four hops.
            config.offline_after_ms = 1_400;
        }
        let mut net = Net::new(9, config, seed, 2);
        let members: Vec<usize> = (0..8).collect();
        net.connect_all(&members);
        net.run(2_000);
        let formed = net.agreed(&members, seed);
        // The spare comes online afterwards: too late to form, it asks to join.
        net.connect_all(&(0..9).collect::<Vec<_>>());
        net.run(1_000);
        // A member dies.
        let dead = (seed % 8) as usize;
        let slot = formed.slot_of(&key(dead as u8)).unwrap();
        net.up[dead] = false;
        // Its last count reaches the far side of a ring half a ring of heartbeats later.
        let spread = match heartbeat {
            HeartbeatMode::All => 0,
            HeartbeatMode::Ring => 5 * config.heartbeat_ms,
        };
        net.run(config.offline_after_ms + spread + 500);
        // Everyone alive sees its slot offline (in ring mode too, by the neighbours' reports).
        for node in members.iter().filter(|node| **node != dead) {
            let online = net.nodes[*node].online().unwrap();
            assert!(
                !online[slot],
                "seed {seed}: node {node} still sees slot {slot} online"
            );
        }
        net.run(3_000);
        let alive: Vec<usize> = (0..9).filter(|node| *node != dead).collect();
        let repaired = net.agreed(&alive, seed);
        // In place: the spare holds the dead member's slot; no other slot changed.
        assert_eq!(repaired.slot_of(&key(8)), Some(slot), "seed {seed}");
        for other in 0..8 {
            if other != slot {
                assert_eq!(repaired.slots[other], formed.slots[other], "seed {seed}");
            }
        }
        assert!(repaired.version > formed.version);
        assert_eq!(repaired.cluster, formed.cluster);
        // Reports of the old member's silence fade once the new one is heard.
        net.run(2_000);
        for node in &alive {
            let online = net.nodes[*node].online().unwrap();
            assert!(
                online.iter().all(|up| *up),
                "seed {seed}: node {node} sees {online:?}"
            );
        }
    }
}

#[test]
fn a_failed_member_is_detected_and_replaced_in_place_with_heartbeats_to_all() {
    failure_is_replaced_in_place(HeartbeatMode::All);
}

#[test]
fn a_failed_member_is_detected_and_replaced_in_place_with_ring_heartbeats() {
    failure_is_replaced_in_place(HeartbeatMode::Ring);
}

#[test]
fn four_joiners_double_a_cluster_of_four() {
    for seed in seeds() {
        let mut net = Net::new(8, config(4, HeartbeatMode::All), seed, 2);
        net.connect_all(&[0, 1, 2, 3]);
        net.run(2_000);
        let small = net.agreed(&[0, 1, 2, 3], seed);
        assert_eq!(small.slots.len(), 4);
        // Four more nodes arrive, each connected to the members only (so they cannot form a
        // cluster of their own); the members ignore their invitations, so they ask to join,
        // and the coordinator doubles the cluster.
        for joiner in 4..8 {
            net.connect_all(&[0, 1, 2, 3, joiner]);
        }
        net.run(4_000);
        let all: Vec<usize> = (0..8).collect();
        let doubled = net.agreed(&all, seed);
        assert_eq!(doubled.slots.len(), 8, "seed {seed}");
        assert_eq!(
            doubled.slots[..4],
            small.slots[..],
            "seed {seed}: old slots kept"
        );
        let mut joiners: Vec<Peer> = (4..8).map(key).collect();
        joiners.sort();
        assert_eq!(
            doubled.slots[4..],
            joiners.into_iter().map(Some).collect::<Vec<_>>()[..],
            "seed {seed}: new slots in key order"
        );
    }
}

#[test]
fn a_member_ignores_rosters_that_are_malformed_stale_or_not_its_own() {
    let config = config(2, HeartbeatMode::All);
    let mut a = Membership::new(key(0), config);
    let mut b = Membership::new(key(1), config);
    a.set_connected([key(1)]);
    b.set_connected([key(0)]);
    let mut now = 1_000;
    let mut to_b = a.tick(now);
    to_b.extend(b.tick(now));
    // Deliver everything until both are members.
    let mut pending: Vec<(Peer, Peer, Message)> = to_b
        .into_iter()
        .map(|(to, message)| (to, if to == key(1) { key(0) } else { key(1) }, message))
        .collect();
    for _ in 0..100 {
        now += 50;
        let mut next = Vec::new();
        for (to, from, message) in pending.drain(..) {
            let node = if to == key(0) { &mut a } else { &mut b };
            for (to2, message2) in node.receive(now, from, message) {
                next.push((to2, to, message2));
            }
        }
        for (node, me) in [(&mut a, key(0)), (&mut b, key(1))] {
            for (to, message) in node.tick(now) {
                next.push((to, me, message));
            }
        }
        pending = next;
    }
    let roster = a.roster().unwrap().clone();
    assert_eq!(b.roster(), Some(&roster));
    // A roster naming a member twice, one without the receiver, one from a stranger, and an
    // older version are all ignored.
    let mut twice = roster.clone();
    twice.version += 1;
    twice.slots = vec![Some(key(0)), Some(key(0)), Some(key(1))];
    let mut without = roster.clone();
    without.version += 1;
    without.slots = vec![Some(key(0))];
    let mut newer = roster.clone();
    newer.version += 1;
    for (from, message) in [
        (key(0), Message::Roster(twice)),
        (key(0), Message::Roster(without)),
        (key(9), Message::Roster(newer.clone())),
    ] {
        b.receive(now, from, message);
        assert_eq!(b.roster(), Some(&roster));
    }
    b.receive(now, key(0), Message::Roster(newer.clone()));
    assert_eq!(b.roster(), Some(&newer));
    b.receive(now, key(0), Message::Roster(roster));
    assert_eq!(
        b.roster(),
        Some(&newer),
        "an older version never rolls back"
    );

    // A member cannot change the expiry, nor hand a live member's slot to someone else.
    let mut longer = newer.clone();
    longer.version += 1;
    longer.expires_at_ms += 1;
    b.receive(now, key(0), Message::Roster(longer));
    assert_eq!(b.roster(), Some(&newer));
    let a_slot = newer.slot_of(&key(0)).unwrap();
    let b_slot = newer.slot_of(&key(1)).unwrap();
    let mut usurped = newer.clone();
    usurped.version += 1;
    usurped.slots[a_slot] = Some(key(5));
    b.receive(now, key(5), Message::Roster(usurped.clone()));
    assert_eq!(
        b.roster(),
        Some(&newer),
        "a live member's slot is not handed over"
    );
    // Once `key(0)` has been silent long enough in b's view (and before b, coordinating now,
    // vacates the slot itself), the same change is agreed.
    for step in 1..=15 {
        b.tick(now + step * 100);
    }
    now += 1_500;
    b.receive(now, key(5), Message::Roster(usurped.clone()));
    assert_eq!(b.roster(), Some(&usurped));
    // A heartbeat count from the future is not believed: `key(5)` stays silent.
    b.receive(
        now,
        key(5),
        Message::Heartbeat {
            cluster: usurped.cluster,
            version: usurped.version,
            beats: vec![(key(5), u64::MAX)],
        },
    );
    b.tick(now + 1_100);
    let online = b.online().unwrap();
    assert!(online[b_slot]);
    assert!(!online[a_slot], "a count from the future proves nothing");
}
