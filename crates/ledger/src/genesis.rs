//! Block 0: built deterministically from the genesis document on every node.

use cairn_primitives::{Account, Address, B256, Block, Bytes, GenesisConfig, Header, Seal};
use cairn_trie::{MemoryNodeStore, NodeBatch};

use crate::state::{StateDb, StateError};

/// The genesis block and the state trie nodes it needs stored.
pub fn build_genesis(config: &GenesisConfig) -> Result<(Block, NodeBatch), StateError> {
    let suite = config.crypto;
    let mut state = StateDb::empty(MemoryNodeStore::default(), suite);
    for account in &config.accounts {
        state.set_account(
            account.address,
            Account::with_balance(suite, 0, account.balance),
        );
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
        transactions_root: config.crypto.empty_root(),
        receipts_root: config.crypto.empty_root(),
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
    use cairn_primitives::dev::{dev_genesis, dev_genesis_for};
    use cairn_primitives::{CryptoSuite, EMPTY_ROOT};

    const KECCAK: CryptoSuite = CryptoSuite::Ed25519Keccak;

    #[test]
    fn genesis_is_deterministic_and_commits_to_its_inputs() {
        let config = dev_genesis(1, 0);
        let (a, nodes) = build_genesis(&config).unwrap();
        let (b, _) = build_genesis(&config).unwrap();
        assert_eq!(a.hash(KECCAK), b.hash(KECCAK));
        assert!(!nodes.is_empty());
        assert_ne!(a.header.state_root, EMPTY_ROOT);

        let mut poorer = config.clone();
        poorer.accounts[0].balance -= 1;
        assert_ne!(
            build_genesis(&poorer).unwrap().0.hash(KECCAK),
            a.hash(KECCAK)
        );
        let mut other_validators = config.clone();
        other_validators.validators = dev_genesis(2, 0).validators;
        assert_ne!(
            build_genesis(&other_validators).unwrap().0.hash(KECCAK),
            a.hash(KECCAK)
        );
        let later = dev_genesis(1, 1);
        assert_ne!(
            build_genesis(&later).unwrap().0.hash(KECCAK),
            a.hash(KECCAK)
        );
        // The same accounts and validators on the other suite: another chain.
        let mut sm = config.clone();
        sm.crypto = CryptoSuite::Sm2Sm3;
        let (sm_block, _) = build_genesis(&sm).unwrap();
        assert_ne!(sm_block.header.state_root, a.header.state_root);
        assert_ne!(sm_block.header.extra, a.header.extra);
    }

    #[test]
    fn empty_genesis_state_has_the_empty_root() {
        for suite in CryptoSuite::ALL {
            let mut config = dev_genesis_for(suite, 1, 0);
            config.accounts.clear();
            let header = build_genesis(&config).unwrap().0.header;
            assert_eq!(header.state_root, suite.empty_root());
            assert_eq!(header.transactions_root, suite.empty_root());
        }
        assert_eq!(CryptoSuite::Ed25519Keccak.empty_root(), EMPTY_ROOT);
    }

    #[test]
    fn an_sm3_genesis_state_is_an_sm3_trie_of_sm3_accounts() {
        // Rebuilt by hand with the trie crate's SM3 hashing: one account, at SM3(address).
        let mut config = dev_genesis_for(CryptoSuite::Sm2Sm3, 1, 0);
        config.accounts.truncate(1);
        let account = &config.accounts[0];
        let mut trie =
            cairn_trie::SecureTrie::new_with(MemoryNodeStore::default(), cairn_trie::NodeHash::Sm3);
        let expected = Account::with_balance(CryptoSuite::Sm2Sm3, 0, account.balance);
        assert_eq!(expected.storage_root, CryptoSuite::Sm2Sm3.empty_root());
        trie.insert(account.address.as_slice(), &expected.encoded())
            .unwrap();
        let header = build_genesis(&config).unwrap().0.header;
        assert_eq!(header.state_root, trie.root_hash().unwrap());
    }
}
