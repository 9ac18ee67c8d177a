//! Multi-validator consensus on Commonware's simplex BFT engine.
//!
//! Simplex orders 32-byte payloads; Cairn's payload is the block hash. This module supplies
//! what simplex asks of an application:
//! * [`application`]: proposes blocks (paced by the pool and the block interval), verifies
//!   other validators' proposals by executing them, relays full blocks to peers, and commits
//!   blocks as simplex finalizes them, with the finalization certificate as their seal.
//! * [`elector`]: succession by rank (seed 003).
//! * [`seal`]: checks finalization and notarization certificates in stored blocks, so blocks
//!   fetched from any peer are verified against the validators' signatures alone.
//!
//! Safety (no two blocks final at one height, nothing final ever reverted) and liveness with
//! f faulty validators out of 3f+1, Byzantine included, are simplex's; Cairn adds that a
//! block is committed only after simplex finalizes it (or a descendant).

pub mod application;
pub mod elector;
pub mod engine;
pub mod seal;

use cairn_ledger::ValidatorSet;
use cairn_network::{PeerKey, peer_key};
use cairn_primitives::{B256, Bytes};
use commonware_consensus::types::View;
use commonware_utils::ordered::Set;

/// The signing scheme of votes and certificates: ed25519, the validators' genesis keys.
pub type Scheme = commonware_consensus::simplex::scheme::ed25519::Scheme;

/// Simplex's payload type: a 32-byte digest (Cairn puts the block hash in it).
pub type Digest = commonware_cryptography::sha256::Digest;

/// The payload for a block hash.
pub fn digest(hash: &B256) -> Digest {
    commonware_cryptography::sha256::Digest(hash.0)
}

/// The block hash of a payload.
pub fn block_hash(digest: &Digest) -> B256 {
    B256::from(digest.0)
}

/// Domain of every consensus signature on this chain: votes for one chain are worthless on
/// any other.
pub fn namespace(genesis_hash: &B256) -> Vec<u8> {
    [b"cairn/consensus/".as_slice(), genesis_hash.as_slice()].concat()
}

/// The validators as simplex participants (ordered by key), or why they cannot be.
pub fn participants(validators: &ValidatorSet) -> Result<Set<PeerKey>, String> {
    let keys = validators
        .keys()
        .iter()
        .map(|key| {
            peer_key(key).ok_or_else(|| format!("validator key {key} is not a valid ed25519 key"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Set::try_from(keys).map_err(|_| "a validator key is listed twice".to_string())
}

/// The validators' p2p keys in genesis rank order.
pub fn ranked_keys(validators: &ValidatorSet) -> Vec<PeerKey> {
    validators.keys().iter().filter_map(peer_key).collect()
}

/// What a block's header `extra` holds under BFT: the view it was proposed in.
pub fn view_extra(view: View) -> Bytes {
    Bytes::copy_from_slice(&view.get().to_be_bytes())
}

/// The view recorded in a header's `extra`, if it holds one.
pub fn extra_view(extra: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = extra.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}
