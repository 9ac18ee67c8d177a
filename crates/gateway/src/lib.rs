//! Cairn's transaction gateway (seed 002): an off-chain process that accepts signed
//! transactions for any chain it serves, with idempotency control, forwards them to a node of
//! that chain, follows each to its result, and pushes the result to the receivers its sender
//! registered.
//!
//! Built so far: the gateway's own database ([`store`]), in which an acceptance is one durable
//! write made before the caller is answered, and the submission API over it ([`api`]:
//! validation, idempotency, status). Forwarding to nodes, following results, the receivers and
//! the `cairn gateway` command are not built yet.

pub mod api;
pub mod store;

pub use store::{Acceptance, GatewayStore, StoreError, StoredAnswer, TxRecord, TxStatus};
