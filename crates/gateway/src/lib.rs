//! Cairn's transaction gateway (seed 002): an off-chain process that accepts signed
//! transactions for any chain it serves, with idempotency control, forwards them to a node of
//! that chain, follows each to its result, and pushes the result to the receivers its sender
//! registered.
//!
//! The parts: the gateway's own database ([`store`]), in which an acceptance is one durable
//! write made before the caller is answered; the receivers and the notifications owed to them
//! ([`outbox`]), written with the results they tell of; the HTTP API ([`api`]: validation,
//! idempotency, results, receivers, the OpenAPI document); the relay ([`relay`]) that hands
//! each transaction to a node of its chain, fails over, follows it to its result and hands it
//! over again when a node lost it; the deliverer ([`deliver`]) that POSTs each notification,
//! signed ([`webhook`]), along a retry schedule. `cairn gateway` runs them.

pub mod api;
pub mod deliver;
pub mod outbox;
pub mod relay;
pub mod store;
pub mod webhook;

pub use store::{Acceptance, GatewayStore, Limits, StoreError, StoredAnswer, TxRecord, TxStatus};
