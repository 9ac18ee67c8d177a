//! Cairn's transaction gateway (seed 002): an off-chain process that accepts signed
//! transactions for any chain it serves, with idempotency control, forwards them to a node of
//! that chain, follows each to its result, and pushes the result to the receivers its sender
//! registered.
//!
//! Built so far: the gateway's own database ([`store`]), in which an acceptance is one durable
//! write made before the caller is answered; the submission API over it ([`api`]:
//! validation, idempotency, status); and the relay ([`relay`]) that hands each transaction to
//! a node of its chain, fails over, follows it to its result and hands it over again when a
//! node lost it. `cairn gateway` runs them. The receivers (pushed results) are not built yet.

pub mod api;
pub mod deliver;
pub mod outbox;
pub mod relay;
pub mod store;
pub mod webhook;

pub use store::{Acceptance, GatewayStore, Limits, StoreError, StoredAnswer, TxRecord, TxStatus};
