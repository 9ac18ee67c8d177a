//! Block 0: built deterministically from the genesis document on every node.

use cairn_primitives::{
    Account, Address, B256, Block, Bytes, EMPTY_ROOT, GenesisConfig, Header, Seal,
};
use cairn_trie::{MemoryNodeStore, NodeBatch};

use crate::state::{StateDb, StateError};

/// The genesis block and the state trie nodes it needs stored.
pub fn build_genesis(config: &GenesisConfig) -> Result<(Block, NodeBatch), StateError> {
    let mut state = StateDb::empty(MemoryNodeStore::default());
    for account in &config.accounts {
        state.set_account(account.address, Account::with_balance(0, account.balance));
    }
    let (state_root, nodes) = state.commit()?;
    Ok((genesis_block(config, state_root), nodes))
}

/// The genesis block for a given genesis state root.
pub fn genesis_block(config: &GenesisConfig, state_root: B256) -> Block {
    let header = Header {
        parent_hash: B256::ZERO,
        height: 0,
        timestamp_ms: config.timestamp_ms,
        proposer: Address::ZERO,
        state_root,
        transactions_root: EMPTY_ROOT,
        receipts_root: EMPTY_ROOT,
        extra: Bytes::copy_from_slice(config.params_hash().as_slice()),
    };
    Block {
        header,
        transactions: Vec::new(),
        seal: Seal::Genesis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_primitives::dev::dev_genesis;

    #[test]
    fn genesis_is_deterministic_and_commits_to_its_inputs() {
        let config = dev_genesis(1, 0);
        let (a, nodes) = build_genesis(&config).unwrap();
        let (b, _) = build_genesis(&config).unwrap();
        assert_eq!(a.hash(), b.hash());
        assert!(!nodes.is_empty());
        assert_ne!(a.header.state_root, EMPTY_ROOT);

        let mut poorer = config.clone();
        poorer.accounts[0].balance -= 1;
        assert_ne!(build_genesis(&poorer).unwrap().0.hash(), a.hash());
        let mut other_validators = config.clone();
        other_validators.validators = dev_genesis(2, 0).validators;
        assert_ne!(build_genesis(&other_validators).unwrap().0.hash(), a.hash());
        let later = dev_genesis(1, 1);
        assert_ne!(build_genesis(&later).unwrap().0.hash(), a.hash());
    }

    #[test]
    fn empty_genesis_state_has_the_empty_root() {
        let mut config = dev_genesis(1, 0);
        config.accounts.clear();
        assert_eq!(
            build_genesis(&config).unwrap().0.header.state_root,
            EMPTY_ROOT
        );
    }
}
