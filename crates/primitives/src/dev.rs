//! Deterministic development keys and genesis, shared by `cairn devnet`, `cairn testnet init`
//! and the tests. These keys are public knowledge: never fund them on a real chain.

use alloy_primitives::keccak256;

use crate::{Amount, GenesisAccount, GenesisConfig, GenesisValidator, SecretKey};

/// Chain id of development chains.
pub const DEV_CHAIN_ID: u64 = 1337;

/// Number of prefunded development accounts.
pub const DEV_ACCOUNTS: u32 = 10;

/// Balance of each development account: one billion units of 10^18 base units each.
pub const DEV_BALANCE: Amount = 1_000_000_000 * 10u128.pow(18);

fn derived_key(label: &str, index: u32) -> SecretKey {
    let mut preimage = label.as_bytes().to_vec();
    preimage.extend_from_slice(&index.to_be_bytes());
    SecretKey::from_bytes(keccak256(preimage).0)
}

/// The `index`-th development account's key.
pub fn dev_account_key(index: u32) -> SecretKey {
    derived_key("cairn/dev-account/", index)
}

/// The `index`-th development validator's key.
pub fn dev_validator_key(index: u32) -> SecretKey {
    derived_key("cairn/dev-validator/", index)
}

/// A development genesis: [`DEV_ACCOUNTS`] funded accounts and `validators` validators.
pub fn dev_genesis(validators: u32, timestamp_ms: u64) -> GenesisConfig {
    GenesisConfig {
        chain_id: DEV_CHAIN_ID,
        timestamp_ms,
        accounts: (0..DEV_ACCOUNTS)
            .map(|i| GenesisAccount {
                address: dev_account_key(i).address(),
                balance: DEV_BALANCE,
            })
            .collect(),
        validators: (0..validators)
            .map(|i| GenesisValidator {
                name: format!("validator-{i}"),
                public_key: dev_validator_key(i).public_key(),
            })
            .collect(),
        consensus: crate::ConsensusParams::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_keys_are_distinct_and_stable() {
        let a = dev_account_key(0).address();
        assert_eq!(a, dev_account_key(0).address());
        assert_ne!(a, dev_account_key(1).address());
        assert_ne!(
            dev_account_key(0).public_key(),
            dev_validator_key(0).public_key()
        );
        assert!(dev_genesis(4, 0).validate().is_ok());
    }
}
