//! What the cluster's storage looks like under a placement: how much each member holds, which
//! blocks lack shares or cannot be rebuilt when members are offline, and what a doubling
//! moves.

use alloy_primitives::B256;

use crate::placement::{Placement, Slot};

/// A block outside the retention window: its hash and the bytes of its body and receipts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OldBlock {
    /// The block's hash.
    pub hash: B256,
    /// Bytes of its body and receipts.
    pub bytes: u64,
}

impl Placement {
    /// Bytes of one share of a block of `bytes`: the whole block for copies, a K-th of it
    /// (rounded up) for Reed-Solomon shards, proofs aside.
    pub fn share_bytes(&self, bytes: u64) -> u64 {
        bytes.div_ceil(u64::from(self.needed()))
    }
}

/// Bytes each slot stores when every block's shares are at home.
pub fn stored_per_slot(placement: &Placement, blocks: &[OldBlock], slots: &[Slot]) -> Vec<u64> {
    let mut stored = vec![0u64; slots.len()];
    for block in blocks {
        for slot in placement.home(&block.hash, slots) {
            stored[slot as usize] += placement.share_bytes(block.bytes);
        }
    }
    stored
}

/// How the stored blocks stand with some slots offline (shares at home, not yet repaired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Health {
    /// Blocks with at least one share on an offline slot.
    pub under_replicated: usize,
    /// Blocks with fewer shares on online slots than it takes to rebuild them.
    pub unrecoverable: usize,
}

/// [`Health`] of `blocks` with their shares at home and `slots` as they are.
pub fn health(placement: &Placement, blocks: &[OldBlock], slots: &[Slot]) -> Health {
    let mut health = Health::default();
    for block in blocks {
        let home = placement.home(&block.hash, slots);
        let available = home
            .iter()
            .filter(|slot| slots[**slot as usize].online)
            .count();
        if available < home.len() {
            health.under_replicated += 1;
        }
        if available < usize::from(placement.needed()) {
            health.unrecoverable += 1;
        }
    }
    health
}

/// What growing from `size` slots to `2 × size` moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Doubling {
    /// Shares whose home changes.
    pub moved_shares: u64,
    /// Their bytes.
    pub moved_bytes: u64,
    /// Bytes the new slots must receive whatever the rule: everything the larger cluster
    /// homes on them, since they start empty.
    pub min_bytes: u64,
    /// Shares whose home moved from one old slot to another (0 for the ring rules: a share
    /// either stays or moves to its old slot's twin, `slot + size`).
    pub old_to_old: u64,
}

/// The moves of a doubling from `size` to `2 × size` slots, all online, with `segments` for
/// the new slots' networks (their segment is that of their twin when empty).
pub fn doubling(placement: &Placement, blocks: &[OldBlock], slots: &[Slot]) -> Doubling {
    let size = slots.len();
    let mut grown = slots.to_vec();
    grown.extend_from_slice(slots);
    let mut plan = Doubling::default();
    for block in blocks {
        let before = placement.home(&block.hash, slots);
        let after = placement.home(&block.hash, &grown);
        let share = placement.share_bytes(block.bytes);
        for (index, new) in after.iter().enumerate() {
            let old = before.get(index).copied();
            if (*new as usize) >= size {
                plan.min_bytes += share;
            }
            if old != Some(*new) {
                plan.moved_shares += 1;
                plan.moved_bytes += share;
                if (*new as usize) < size {
                    plan.old_to_old += 1;
                }
            }
        }
    }
    plan
}
