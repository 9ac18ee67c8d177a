//! Placement properties the cluster relies on, over random blocks and cluster sizes: any
//! `tolerates()` failures leave every block rebuildable; a failure moves only the failed
//! member's shares; a doubling moves only what the new members must receive; `rs:4+2` on 8
//! members stores at most a quarter of a full copy per member and 1.5 copies in all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use alloy_primitives::{B256, keccak256};
use cairn_cluster::{OldBlock, Placement, Slot, doubling, health, stored_per_slot};
use proptest::prelude::*;

fn rules() -> Vec<Placement> {
    ["copies:3", "segment:3", "rs:4+2", "rs:2+1", "copies:1"]
        .iter()
        .map(|text| text.parse().unwrap())
        .collect()
}

fn slots(size: usize, segments: u32) -> Vec<Slot> {
    (0..size)
        .map(|i| Slot {
            online: true,
            segment: i as u32 % segments.max(1),
        })
        .collect()
}

fn blocks(count: usize, seed: u64) -> Vec<OldBlock> {
    (0..count as u64)
        .map(|i| OldBlock {
            hash: keccak256((seed ^ i.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_be_bytes()),
            bytes: 1_000 + (i * 7919) % 50_000,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// With up to `tolerates()` members offline, no block is lost, and a stand-in on an
    /// online slot exists for every share whose home is offline while enough slots are up.
    #[test]
    fn tolerated_failures_lose_nothing(
        rule in 0usize..5,
        size in 6usize..24,
        seed: u64,
        failures in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
    ) {
        let placement = rules()[rule];
        prop_assume!(size >= usize::from(placement.shares()));
        let mut slots = slots(size, 3);
        for failure in failures.iter().take(usize::from(placement.tolerates())) {
            slots[failure.index(size)].online = false;
        }
        let blocks = blocks(50, seed);
        prop_assert_eq!(health(&placement, &blocks, &slots).unrecoverable, 0);
        let online = slots.iter().filter(|slot| slot.online).count();
        for block in &blocks {
            let home = placement.home(&block.hash, &slots);
            let now = placement.assign(&block.hash, &slots);
            let mut used = Vec::new();
            for (index, slot) in now.iter().enumerate() {
                // A stand-in exists whenever enough slots are online to hold every share.
                let Some(slot) = slot else {
                    prop_assert!(online < usize::from(placement.shares()));
                    continue;
                };
                prop_assert!(slots[*slot as usize].online);
                prop_assert!(!used.contains(slot), "two shares on one slot");
                used.push(*slot);
                // Only the shares of offline homes moved.
                if slots[home[index] as usize].online {
                    prop_assert_eq!(*slot, home[index]);
                }
            }
        }
    }

    /// A doubling moves each share to its old slot's twin or not at all, so it moves exactly
    /// the bytes the new members must receive.
    #[test]
    fn doubling_moves_only_to_the_new_members(rule in 0usize..5, size in 6usize..16, seed: u64) {
        let placement = rules()[rule];
        prop_assume!(size >= usize::from(placement.shares()));
        let slots = slots(size, 1);
        let blocks = blocks(100, seed);
        let plan = doubling(&placement, &blocks, &slots);
        prop_assert_eq!(plan.old_to_old, 0);
        prop_assert_eq!(plan.moved_bytes, plan.min_bytes);
        let mut grown = slots.clone();
        grown.extend_from_slice(&slots);
        for block in &blocks {
            let before = placement.home(&block.hash, &slots);
            let after = placement.home(&block.hash, &grown);
            for (old, new) in before.iter().zip(&after) {
                prop_assert!(new == old || *new as usize == *old as usize + size);
            }
        }
    }
}

#[test]
fn rs_4_2_on_8_members_stores_a_fraction_of_the_chain() {
    let placement: Placement = "rs:4+2".parse().unwrap();
    let slots = slots(8, 1);
    let blocks = blocks(2_000, 7);
    let full: u64 = blocks.iter().map(|b| b.bytes).sum();
    let stored = stored_per_slot(&placement, &blocks, &slots);
    let max = *stored.iter().max().unwrap();
    let total: u64 = stored.iter().sum();
    // Each member: 6 shares of a quarter over 8 members, 3/16 of a copy on average.
    assert!(max * 4 <= full, "max member {max} of {full}");
    assert!(
        total as f64 <= 1.6 * full as f64,
        "cluster {total} of {full}"
    );
    assert!(
        total as f64 >= 1.5 * full as f64,
        "shares are rounded up, never down"
    );
    // Two members down: nothing lost; three: some blocks cannot be rebuilt.
    let mut down = slots.clone();
    down[2].online = false;
    down[5].online = false;
    let two = health(&placement, &blocks, &down);
    assert_eq!(two.unrecoverable, 0);
    assert!(two.under_replicated > 0);
    down[7].online = false;
    assert!(health(&placement, &blocks, &down).unrecoverable > 0);
}

#[test]
fn the_patents_rule_places_copies_by_hash_mod_size() {
    // Claim 6: the header hash divided by the member count; the remainder and the next
    // members store the block.
    let placement: Placement = "copies:3".parse().unwrap();
    let slots = slots(5, 1);
    for value in [0u8, 1, 4, 5, 9, 254] {
        let hash = B256::with_last_byte(value);
        let start = u32::from(value) % 5;
        assert_eq!(
            placement.home(&hash, &slots),
            [start, (start + 1) % 5, (start + 2) % 5]
        );
    }
}
