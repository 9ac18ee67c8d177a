//! Deterministic development keys and genesis, shared by `cairn devnet`, `cairn testnet init`
//! and the tests. These keys are public knowledge: never fund them on a real chain.

use alloy_primitives::keccak256;

use crate::sm::Sm2SecretKey;
use crate::{
    AccountKey, Amount, CryptoSuite, GenesisAccount, GenesisConfig, GenesisValidator, SecretKey,
};

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

/// The `index`-th development account's key on a `suite` chain: on `ed25519-keccak`,
/// [`dev_account_key`]; on `sm2-sm3`, an SM2 key derived the same way from its own label.
pub fn dev_account_key_for(suite: CryptoSuite, index: u32) -> AccountKey {
    match suite {
        CryptoSuite::Ed25519Keccak => AccountKey::Ed25519(dev_account_key(index)),
        CryptoSuite::Sm2Sm3 => {
            let mut preimage = b"cairn/dev-account-sm2/".to_vec();
            preimage.extend_from_slice(&index.to_be_bytes());
            let mut scalar = keccak256(preimage);
            // About one hash in 2^32 is not a usable SM2 scalar; hash again until one is.
            loop {
                if let Some(key) = Sm2SecretKey::from_bytes(scalar.0) {
                    return AccountKey::Sm2(key);
                }
                scalar = keccak256(scalar);
            }
        }
    }
}

/// The `index`-th development validator's key.
pub fn dev_validator_key(index: u32) -> SecretKey {
    derived_key("cairn/dev-validator/", index)
}

/// A development genesis: [`DEV_ACCOUNTS`] funded accounts and `validators` validators.
pub fn dev_genesis(validators: u32, timestamp_ms: u64) -> GenesisConfig {
    dev_genesis_for(CryptoSuite::default(), validators, timestamp_ms)
}

/// A development genesis on a `suite` chain: the suite's [`DEV_ACCOUNTS`] funded accounts
/// ([`dev_account_key_for`]) and `validators` validators.
pub fn dev_genesis_for(suite: CryptoSuite, validators: u32, timestamp_ms: u64) -> GenesisConfig {
    GenesisConfig {
        chain_id: DEV_CHAIN_ID,
        timestamp_ms,
        accounts: (0..DEV_ACCOUNTS)
            .map(|i| GenesisAccount {
                address: dev_account_key_for(suite, i).address(),
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
        crypto: suite,
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
        let sm2 = dev_account_key_for(CryptoSuite::Sm2Sm3, 0);
        assert_eq!(sm2.kind(), crate::KeyKind::Sm2);
        assert_eq!(
            sm2.address(),
            dev_account_key_for(CryptoSuite::Sm2Sm3, 0).address()
        );
        assert_ne!(
            sm2.address(),
            dev_account_key_for(CryptoSuite::Sm2Sm3, 1).address()
        );
        let genesis = dev_genesis_for(CryptoSuite::Sm2Sm3, 1, 0);
        assert_eq!(genesis.crypto, CryptoSuite::Sm2Sm3);
        assert_eq!(
            genesis.accounts[3].address,
            dev_account_key_for(CryptoSuite::Sm2Sm3, 3).address()
        );
    }
}
