//! Reed-Solomon shards of a block's body and receipts (`rs:K+M`), through
//! `commonware-coding`.
//!
//! Encoding cuts the data into K data and M parity shards and commits to all of them with the
//! root of a binary Merkle tree (keccak256). Each shard carries its inclusion proof, so a
//! member checks a shard it is handed against the commitment before storing or forwarding it,
//! and any K checked shards decode to the one byte string the commitment was made from: a
//! member cannot hand out shards that decode to something else.

use alloy_primitives::B256;
use commonware_codec::{Decode, Encode};
use commonware_coding::{Config, ReedSolomon, Scheme};
use commonware_cryptography::Keccak256;
use commonware_cryptography::keccak256::Digest;
use commonware_parallel::Sequential;

type Rs = ReedSolomon<Keccak256>;

/// Why shards could not be made or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// K or M is 0.
    #[error("K and M must both be at least 1")]
    BadConfig,
    /// A shard's bytes do not decode as a shard.
    #[error("shard {index} is malformed: {reason}")]
    Malformed {
        /// Its index.
        index: u16,
        /// Why.
        reason: String,
    },
    /// A shard does not belong to the commitment at its index.
    #[error("shard {index} does not match the commitment")]
    Mismatch {
        /// Its index.
        index: u16,
    },
    /// Fewer than K distinct valid shards.
    #[error("{have} valid shards, {need} needed")]
    TooFew {
        /// Valid, distinct shards given.
        have: usize,
        /// K.
        need: usize,
    },
    /// The shards decode to something the commitment does not commit to.
    #[error("the shards do not decode to the committed data: {0}")]
    Decode(String),
}

fn config(data: u16, parity: u16) -> Result<Config, ShardError> {
    Ok(Config {
        minimum_shards: std::num::NonZeroU16::new(data).ok_or(ShardError::BadConfig)?,
        extra_shards: std::num::NonZeroU16::new(parity).ok_or(ShardError::BadConfig)?,
    })
}

/// A block's data as shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The commitment every shard is checked against.
    pub commitment: B256,
    /// Shard `i`, encoded with its proof, for the member the placement gives share `i`.
    pub shards: Vec<Vec<u8>>,
}

/// Cuts `data` into `data_shards` + `parity` shards.
pub fn encode(data: &[u8], data_shards: u16, parity: u16) -> Result<Encoded, ShardError> {
    let config = config(data_shards, parity)?;
    let (commitment, shards) =
        Rs::encode(&config, data, &Sequential).map_err(|e| ShardError::Decode(format!("{e:?}")))?;
    Ok(Encoded {
        commitment: B256::from(commitment.0),
        shards: shards.iter().map(|shard| shard.encode().to_vec()).collect(),
    })
}

/// Checks one shard's bytes against the commitment at `index`. `max_data` bounds the data the
/// shard may belong to (the largest body and receipts a block can have), so a hostile shard
/// cannot make the decoder allocate more.
pub fn check(
    data_shards: u16,
    parity: u16,
    commitment: &B256,
    index: u16,
    bytes: &[u8],
    max_data: usize,
) -> Result<(), ShardError> {
    let config = config(data_shards, parity)?;
    checked(&config, commitment, index, bytes, max_data).map(|_| ())
}

fn checked(
    config: &Config,
    commitment: &B256,
    index: u16,
    bytes: &[u8],
    max_data: usize,
) -> Result<<Rs as Scheme>::CheckedShard, ShardError> {
    let shard =
        <Rs as Scheme>::Shard::decode_cfg(bytes.to_vec(), &(*config, max_data)).map_err(|e| {
            ShardError::Malformed {
                index,
                reason: e.to_string(),
            }
        })?;
    Rs::check(config, &Digest(commitment.0), index, &shard, &Sequential)
        .map_err(|_| ShardError::Mismatch { index })
}

/// Rebuilds the data from shards `(index, bytes)`: every shard is checked first, and any
/// `data_shards` valid, distinct ones suffice. Invalid shards are skipped, so one hostile
/// member cannot stop a rebuild that enough honest ones can make.
pub fn decode(
    data_shards: u16,
    parity: u16,
    commitment: &B256,
    shards: &[(u16, &[u8])],
    max_data: usize,
) -> Result<Vec<u8>, ShardError> {
    let config = config(data_shards, parity)?;
    let mut valid = Vec::new();
    let mut seen = Vec::new();
    for (index, bytes) in shards {
        if seen.contains(index) || *index >= data_shards.saturating_add(parity) {
            continue;
        }
        if let Ok(shard) = checked(&config, commitment, *index, bytes, max_data) {
            seen.push(*index);
            valid.push(shard);
        }
        if valid.len() == usize::from(data_shards) {
            break;
        }
    }
    if valid.len() < usize::from(data_shards) {
        return Err(ShardError::TooFew {
            have: valid.len(),
            need: usize::from(data_shards),
        });
    }
    Rs::decode(&config, &Digest(commitment.0), valid.iter(), &Sequential)
        .map_err(|e| ShardError::Decode(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_k_shards_rebuild_and_others_are_refused() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let encoded = encode(&data, 4, 2).unwrap();
        assert_eq!(encoded.shards.len(), 6);
        let max = 64 * 1024;
        // Every choice of 4 of the 6 shards rebuilds the data.
        for skip_a in 0..6u16 {
            for skip_b in skip_a + 1..6 {
                let some: Vec<(u16, &[u8])> = (0..6u16)
                    .filter(|i| *i != skip_a && *i != skip_b)
                    .map(|i| (i, encoded.shards[usize::from(i)].as_slice()))
                    .collect();
                assert_eq!(decode(4, 2, &encoded.commitment, &some, max).unwrap(), data);
            }
        }
        // Three are too few.
        let three: Vec<(u16, &[u8])> = (0..3u16)
            .map(|i| (i, encoded.shards[usize::from(i)].as_slice()))
            .collect();
        assert!(matches!(
            decode(4, 2, &encoded.commitment, &three, max),
            Err(ShardError::TooFew { have: 3, need: 4 })
        ));
        // A shard presented at another index, a flipped byte, or garbage do not check.
        assert_eq!(
            check(4, 2, &encoded.commitment, 1, &encoded.shards[0], max),
            Err(ShardError::Mismatch { index: 1 })
        );
        let mut flipped = encoded.shards[2].clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 1;
        assert!(check(4, 2, &encoded.commitment, 2, &flipped, max).is_err());
        assert!(check(4, 2, &encoded.commitment, 0, &[1, 2, 3], max).is_err());
        // Shards of other data do not check against this commitment...
        let other = encode(b"other data", 4, 2).unwrap();
        assert!(check(4, 2, &encoded.commitment, 0, &other.shards[0], max).is_err());
        // ...and a rebuild skips the bad ones when enough good ones remain.
        let mut mixed: Vec<(u16, &[u8])> = vec![(0, other.shards[0].as_slice()), (2, &flipped)];
        mixed.extend((0..6u16).map(|i| (i, encoded.shards[usize::from(i)].as_slice())));
        assert_eq!(
            decode(4, 2, &encoded.commitment, &mixed, max).unwrap(),
            data
        );
        assert_eq!(encode(&data, 0, 2), Err(ShardError::BadConfig));
    }

    #[test]
    fn empty_and_tiny_data_round_trip() {
        for data in [&b""[..], b"x", b"0123456789"] {
            let encoded = encode(data, 4, 2).unwrap();
            let last: Vec<(u16, &[u8])> = (2..6u16)
                .map(|i| (i, encoded.shards[usize::from(i)].as_slice()))
                .collect();
            assert_eq!(
                decode(4, 2, &encoded.commitment, &last, 1024).unwrap(),
                data
            );
        }
    }
}
