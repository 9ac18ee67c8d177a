//! Cairn's peer-to-peer layer: who may connect, what travels between nodes, and the two
//! protocols every node runs over it.
//!
//! * Transport: Commonware's authenticated p2p (`lookup` mode): only peers listed in the
//!   chain's configuration connect; each connection is authenticated by the peers' ed25519
//!   keys and encrypted (ChaCha20-Poly1305); every channel is rate-limited per peer and every
//!   message is bounded in size.
//! * [`gossip`]: transfers admitted on any node reach every peer's pool (seed 004's `merge`).
//! * [`sync`]: nodes announce their head; a node that is behind (offline, restarted, or a new
//!   full node) fetches the blocks it misses, each with the certificate that finalized it,
//!   validates and commits them, and reports its progress (`starting`, `current`, `highest`).
//!
//! Every peer is distrusted: malformed, oversized or unsolicited messages are dropped and
//! counted ([`NetworkStats`]), a peer whose message proves it dishonest (a forged block, a
//! forged signature) is blocked ([`Penalties`]), what a peer can make this node do is
//! budgeted ([`PeerBudgets`]), and sync peers earn their turn by backing what they announce.
//! Nothing a peer sends stops a node. Consensus itself (votes, certificates, proposals) is
//! `cairn-consensus`'s.

pub mod gossip;
pub mod identity;
mod stats;
pub mod sync;
pub mod transport;
pub mod wire;

pub use identity::{PeerKey, cairn_key, peer_key, peer_signer};
pub use stats::{
    Budget, NetworkStats, Offence, OffenderRecord, PeerBudgets, PeerTracker, Penalties,
    RecordingBlocker, StatsSnapshot,
};

/// Channel numbers on the p2p network.
pub mod channels {
    /// Consensus votes.
    pub const VOTES: u64 = 0;
    /// Consensus certificates.
    pub const CERTIFICATES: u64 = 1;
    /// Consensus certificate fetching.
    pub const RESOLVER: u64 = 2;
    /// Proposed blocks, and requests for them.
    pub const PROPOSALS: u64 = 3;
    /// Transfer gossip.
    pub const TRANSACTIONS: u64 = 4;
    /// Head announcements and block sync.
    pub const SYNC: u64 = 5;
    /// Cluster storage of old blocks: membership, shares, reads.
    pub const CLUSTER: u64 = 6;
}

/// Largest message on any channel: a full block of transfers (at most
/// `MAX_BLOCK_TRANSACTIONS` of at most `MAX_TRANSACTION_BYTES`, about 10 MiB) with room to
/// spare. The transport refuses larger frames.
pub const MAX_MESSAGE_BYTES: u32 = 16 * 1024 * 1024;

/// Whether an outgoing message fits the transport (which panics on a larger one).
pub fn fits(message: &[u8]) -> bool {
    message.len() <= MAX_MESSAGE_BYTES as usize
}
