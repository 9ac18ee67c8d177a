//! Placement rules: which members store which share of a block.
//!
//! Members are numbered `0..size` (the cluster's *slots*). A block's rule starts at slot
//! `hash mod size` (the block hash read as a big-endian 256-bit number, as the patent's claim 6
//! divides the header hash by the member count) and walks the ring of slots from there:
//!
//! | rule | shares | where |
//! | --- | --- | --- |
//! | `copies:P` | P whole copies | the first P slots from the start (claim 6: the start and the next P−1 members) |
//! | `segment:P` | P whole copies | the same walk, taking a slot only if its network segment holds no copy yet, then filling from the rest in ring order (claim 18) |
//! | `rs:K+M` | K data and M parity shards, any K of which rebuild the block | share `i` on the i-th slot of the walk |
//!
//! That is each share's *home*. A share whose home slot is offline is kept by a stand-in: the
//! next slot of the walk that is online and holds no share of the block.
//!
//! Two properties follow from the ring, and the cluster relies on both:
//! - **A member that goes offline moves only its own shares**, each to a stand-in: the
//!   others' assignments do not change.
//! - **Doubling moves only to the new members.** From `K` slots to `2K`, `hash mod 2K` is
//!   either `hash mod K` or that plus `K`, so share `i` either stays on the old slot `j` or
//!   moves to its twin `j + K`, which is new ([`crate::plan::doubling`]).
//!
//! Slots are renumbered by *in-place replacement*: a member that joins to replace a departed
//! one takes the departed member's slot (claims 11 and 12: the joiner adjacent to the departed
//! number receives its share), and a doubling appends slots `K..2K`. No other renumbering
//! exists, so no placement ever moves because of numbering. Rendezvous hashing would also move
//! little, but cannot give the doubling its exact halves.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::{B256, U256};

/// Most shares (copies, or data plus parity shards) one block is stored as.
pub const MAX_SHARES: u16 = 64;

/// A placement rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// `copies:P`: P whole copies on consecutive online slots.
    Copies(u16),
    /// `segment:P`: P whole copies on slots in distinct network segments where possible.
    Segment(u16),
    /// `rs:K+M`: K data and M parity Reed-Solomon shards on K+M distinct slots.
    ReedSolomon {
        /// Shards needed to rebuild.
        data: u16,
        /// Shards beyond those.
        parity: u16,
    },
}

/// A placement that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a placement: copies:P, segment:P or rs:K+M (P, K, M from 1; at most {MAX_SHARES} shares)"
)]
pub struct ParsePlacementError(pub String);

impl FromStr for Placement {
    type Err = ParsePlacementError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParsePlacementError(text.to_string());
        let number = |digits: &str| -> Result<u16, ParsePlacementError> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error());
            }
            match digits.parse::<u16>() {
                Ok(n) if (1..=MAX_SHARES).contains(&n) => Ok(n),
                _ => Err(error()),
            }
        };
        let (rule, argument) = text.split_once(':').ok_or_else(error)?;
        let placement = match rule {
            "copies" => Self::Copies(number(argument)?),
            "segment" => Self::Segment(number(argument)?),
            "rs" => {
                let (data, parity) = argument.split_once('+').ok_or_else(error)?;
                Self::ReedSolomon {
                    data: number(data)?,
                    parity: number(parity)?,
                }
            }
            _ => return Err(error()),
        };
        if placement.shares() > MAX_SHARES {
            return Err(error());
        }
        Ok(placement)
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Copies(p) => write!(f, "copies:{p}"),
            Self::Segment(p) => write!(f, "segment:{p}"),
            Self::ReedSolomon { data, parity } => write!(f, "rs:{data}+{parity}"),
        }
    }
}

/// One slot of the cluster as the placement sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Whether its member is online (an offline slot is skipped).
    pub online: bool,
    /// Its member's network segment (for `segment:P`).
    pub segment: u32,
}

impl Placement {
    /// How many shares a block is stored as.
    pub fn shares(&self) -> u16 {
        match *self {
            Self::Copies(p) | Self::Segment(p) => p,
            Self::ReedSolomon { data, parity } => data.saturating_add(parity),
        }
    }

    /// How many of those shares rebuild the block.
    pub fn needed(&self) -> u16 {
        match *self {
            Self::Copies(_) | Self::Segment(_) => 1,
            Self::ReedSolomon { data, .. } => data,
        }
    }

    /// How many members may fail with every block still rebuildable.
    pub fn tolerates(&self) -> u16 {
        self.shares() - self.needed()
    }

    /// Stored bytes per byte of block: P for copies, (K+M)/K for shards.
    pub fn overhead(&self) -> f64 {
        f64::from(self.shares()) / f64::from(self.needed())
    }

    /// Where each share of the block with hash `block` lives when every slot is online (its
    /// *home*): `result[i]` is the slot of share `i`. At most one share per slot, so fewer
    /// entries than [`Placement::shares`] only when the cluster has fewer slots.
    pub fn home(&self, block: &B256, slots: &[Slot]) -> Vec<u32> {
        let size = slots.len();
        if size == 0 {
            return Vec::new();
        }
        let wanted = usize::from(self.shares()).min(size);
        let walk = walk(block, size);
        match self {
            Self::Copies(_) | Self::ReedSolomon { .. } => {
                walk.take(wanted).map(|slot| slot as u32).collect()
            }
            Self::Segment(_) => {
                let order: Vec<usize> = walk.collect();
                let mut chosen: Vec<usize> = Vec::with_capacity(wanted);
                let mut segments: Vec<u32> = Vec::with_capacity(wanted);
                for slot in &order {
                    if chosen.len() == wanted {
                        break;
                    }
                    if !segments.contains(&slots[*slot].segment) {
                        segments.push(slots[*slot].segment);
                        chosen.push(*slot);
                    }
                }
                for slot in &order {
                    if chosen.len() == wanted {
                        break;
                    }
                    if !chosen.contains(slot) {
                        chosen.push(*slot);
                    }
                }
                chosen.into_iter().map(|slot| slot as u32).collect()
            }
        }
    }

    /// Where each share goes now: its home, or, when its home slot is offline, the next slot
    /// of the block's walk that is online and holds no share of the block yet (`None` when
    /// there is none). Only the shares of offline slots move, each to a stand-in that keeps it
    /// until its home slot is back (or taken by a replacement).
    pub fn assign(&self, block: &B256, slots: &[Slot]) -> Vec<Option<u32>> {
        let home = self.home(block, slots);
        let mut taken: Vec<u32> = home
            .iter()
            .copied()
            .filter(|slot| slots[*slot as usize].online)
            .collect();
        let mut stand_ins = walk(block, slots.len())
            .map(|slot| slot as u32)
            .filter(|slot| slots[*slot as usize].online && !home.contains(slot));
        home.iter()
            .map(|slot| {
                if slots[*slot as usize].online {
                    return Some(*slot);
                }
                let stand_in = stand_ins.find(|candidate| !taken.contains(candidate))?;
                taken.push(stand_in);
                Some(stand_in)
            })
            .collect()
    }
}

/// The slots of a block's walk: from its start slot around the ring.
fn walk(block: &B256, size: usize) -> impl Iterator<Item = usize> {
    let start = start_slot(block, size);
    (0..size).map(move |step| (start + step) % size)
}

/// The slot a block's walk starts at: its hash, a big-endian 256-bit number, mod `size`.
pub fn start_slot(block: &B256, size: usize) -> usize {
    if size == 0 {
        return 0;
    }
    let remainder = U256::from_be_bytes(block.0) % U256::from(size);
    remainder.to::<u64>() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placements_parse_and_print() {
        for text in ["copies:3", "segment:2", "rs:4+2", "rs:1+1", "copies:64"] {
            assert_eq!(text.parse::<Placement>().unwrap().to_string(), text);
        }
        for bad in [
            "",
            "copies",
            "copies:",
            "copies:0",
            "copies:-1",
            "copies:+3",
            "rs:4",
            "rs:4+",
            "rs:+2",
            "rs:4+0",
            "rs:40+30",
            "mirror:3",
            "copies:65",
            "copies:3 ",
            "rs:4+2+1",
        ] {
            assert!(bad.parse::<Placement>().is_err(), "{bad:?}");
        }
        let rs: Placement = "rs:4+2".parse().unwrap();
        assert_eq!((rs.shares(), rs.needed(), rs.tolerates()), (6, 4, 2));
        assert!((rs.overhead() - 1.5).abs() < 1e-9);
        let copies: Placement = "copies:3".parse().unwrap();
        assert_eq!(
            (copies.shares(), copies.needed(), copies.tolerates()),
            (3, 1, 2)
        );
    }

    fn online(size: usize) -> Vec<Slot> {
        vec![
            Slot {
                online: true,
                segment: 0,
            };
            size
        ]
    }

    #[test]
    fn the_walk_starts_at_the_hash_mod_the_size() {
        // 0x…0b = 11: 11 mod 8 = 3.
        let block = B256::with_last_byte(11);
        assert_eq!(start_slot(&block, 8), 3);
        assert_eq!(Placement::Copies(3).home(&block, &online(8)), [3, 4, 5]);
        assert_eq!(
            Placement::ReedSolomon { data: 4, parity: 2 }.home(&block, &online(8)),
            [3, 4, 5, 6, 7, 0]
        );
        // The whole 256-bit hash counts, not its last bytes: 2^255 mod 3 = 2.
        let mut high = [0u8; 32];
        high[0] = 0x80;
        assert_eq!(start_slot(&B256::from(high), 3), 2);
        // An offline slot's share goes to the next online slot that holds none of the
        // block's; the others stay home.
        let mut slots = online(8);
        slots[4].online = false;
        assert_eq!(
            Placement::Copies(3).assign(&block, &slots),
            [Some(3), Some(6), Some(5)]
        );
        assert_eq!(
            Placement::ReedSolomon { data: 4, parity: 2 }.assign(&block, &slots),
            [Some(3), Some(1), Some(5), Some(6), Some(7), Some(0)]
        );
        // Fewer slots than shares: one share per slot.
        assert_eq!(Placement::Copies(3).home(&block, &online(2)), [1, 0]);
        assert!(Placement::Copies(3).home(&block, &[]).is_empty());
        // Nowhere to go: none.
        let mut two = online(3);
        two[0].online = false;
        assert_eq!(
            Placement::Copies(3).assign(&B256::ZERO, &two),
            [None, Some(1), Some(2)]
        );
    }

    #[test]
    fn segment_copies_go_to_distinct_segments_first() {
        let block = B256::with_last_byte(0);
        let slots: Vec<Slot> = [0, 0, 1, 1, 2, 2]
            .into_iter()
            .map(|segment| Slot {
                online: true,
                segment,
            })
            .collect();
        assert_eq!(Placement::Segment(3).home(&block, &slots), [0, 2, 4]);
        // Only two segments: the third copy goes to the next slot in ring order.
        let two: Vec<Slot> = slots
            .iter()
            .map(|slot| Slot {
                segment: slot.segment.min(1),
                ..*slot
            })
            .collect();
        assert_eq!(Placement::Segment(3).home(&block, &two), [0, 2, 1]);
    }
}
