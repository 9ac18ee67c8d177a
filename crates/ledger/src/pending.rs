//! Trie nodes of executed-but-uncommitted blocks, layered over the committed store.
//!
//! Consensus may build on blocks that are not final yet, so a block's state must be readable
//! before it is committed. Each executed block's new trie nodes go into this layer; a child
//! opens its parent's state root and finds them here, and everything older in the committed
//! store below. Nodes are content-addressed, so two pending blocks may create the same node:
//! a reference count keeps it until the last of them leaves.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_primitives::{B256, Bytes};
use cairn_storage::NodeSource;
use cairn_trie::{CachedNodeStore, NodeBatch, NodeStore, NodeStoreError};
use parking_lot::RwLock;

/// Pending nodes over the (cached) committed store.
pub struct LayeredNodes {
    pending: RwLock<HashMap<B256, (Bytes, u32)>>,
    committed: CachedNodeStore<NodeSource>,
}

impl LayeredNodes {
    /// A layer over `committed` with no pending nodes.
    pub fn new(committed: CachedNodeStore<NodeSource>) -> Self {
        Self {
            pending: RwLock::new(HashMap::new()),
            committed,
        }
    }

    /// Adds an executed block's nodes.
    pub fn retain(&self, batch: &NodeBatch) {
        let mut pending = self.pending.write();
        for (hash, node) in batch.iter() {
            pending.entry(hash).or_insert((node, 0)).1 += 1;
        }
    }

    /// Drops a block's nodes: it was committed (they are in the store now) or abandoned.
    pub fn release(&self, batch: &NodeBatch) {
        let mut pending = self.pending.write();
        for (hash, _) in batch.iter() {
            if let Some(entry) = pending.get_mut(&hash) {
                entry.1 -= 1;
                if entry.1 == 0 {
                    pending.remove(&hash);
                }
            }
        }
    }

    /// Number of pending nodes held.
    pub fn pending_len(&self) -> usize {
        self.pending.read().len()
    }
}

impl NodeStore for LayeredNodes {
    fn get_node(&self, hash: &B256) -> Result<Option<Bytes>, NodeStoreError> {
        if let Some((node, _)) = self.pending.read().get(hash) {
            return Ok(Some(node.clone()));
        }
        self.committed.get_node(hash)
    }
}

/// The shared handle execution uses.
pub type Nodes = Arc<LayeredNodes>;
