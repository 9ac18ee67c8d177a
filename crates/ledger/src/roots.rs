//! Transactions and receipts roots: tries keyed by rlp(index), as Ethereum builds them.

use cairn_primitives::{B256, CryptoSuite, Receipt, SignedTransaction};
use cairn_trie::{MemoryNodeStore, Trie};

fn ordered_root<I: IntoIterator<Item = Vec<u8>>>(suite: CryptoSuite, values: I) -> B256 {
    let mut trie = Trie::new_with(MemoryNodeStore::default(), crate::node_hash(suite));
    let writes = values
        .into_iter()
        .enumerate()
        .map(|(index, value)| (alloy_rlp::encode(index as u64), value));
    // An in-memory trie without a backing store cannot fail to resolve a node.
    if let Err(error) = trie.insert_batch(writes) {
        unreachable!("in-memory trie insert failed: {error}");
    }
    match trie.root_hash() {
        Ok(root) => root,
        Err(error) => unreachable!("in-memory trie hashing failed: {error}"),
    }
}

/// Root of the trie (under the `suite`'s hash) mapping rlp(i) to the i-th transaction's
/// canonical encoding.
pub fn transactions_root(suite: CryptoSuite, transactions: &[SignedTransaction]) -> B256 {
    ordered_root(suite, transactions.iter().map(SignedTransaction::encoded))
}

/// Root of the trie (under the `suite`'s hash) mapping rlp(i) to the i-th receipt's canonical
/// encoding.
pub fn receipts_root(suite: CryptoSuite, receipts: &[Receipt]) -> B256 {
    ordered_root(suite, receipts.iter().map(Receipt::encoded))
}
