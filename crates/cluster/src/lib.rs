//! Cluster storage of old blocks (seed 000, patent CN107079059A; seed 003's AFS doubling).
//!
//! Every node keeps the headers, the state, and the most recent blocks. Older bodies and
//! receipts are kept by the cluster members a placement rule names, so the cluster together
//! holds the whole chain and no member needs it all. This crate holds the parts that decide
//! and verify, without I/O:
//!
//! * [`placement`]: the rules (`copies:P`, `segment:P`, `rs:K+M`) that give each share of a
//!   block a home slot, and a stand-in while the home is offline; the numbering they rest on
//!   (in-place replacement, doubling by appending slots).
//! * [`shards`]: Reed-Solomon shards through `commonware-coding`, each checked against a
//!   commitment before it is stored or used, any K rebuilding the data.
//! * [`membership`]: formation by invitation, the cluster id and its expiry, numbering,
//!   heartbeats, replacement and doubling, as a state machine fed time and messages.
//! * [`engine`]: the data plane: storing the shares of blocks that leave the retention window,
//!   acknowledgements and when a body may be dropped, repair, and reads through the members.
//! * [`wire`]: the messages' bounded encoding.
//! * [`plan`]: bytes per member, the health of the stored blocks with members offline, and
//!   what a doubling moves.
//!
//! See docs/CLUSTER.md for what is built and what is not.

pub mod engine;
pub mod membership;
pub mod placement;
pub mod plan;
pub mod shards;
pub mod wire;

pub use placement::{MAX_SHARES, ParsePlacementError, Placement, Slot, start_slot};
pub use plan::{Doubling, Health, OldBlock, doubling, health, stored_per_slot};
pub use shards::{Encoded, ShardError};
