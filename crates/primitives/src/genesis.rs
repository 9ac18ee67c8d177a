//! The genesis description: the chain id, the prefunded accounts and the validators in rank
//! order. Every node builds block 0 from this file, so it is the chain's identity.

use std::collections::HashSet;

use alloy_primitives::{Address, B256};
use alloy_rlp::Encodable;
use serde::{Deserialize, Serialize};

use crate::{Amount, CryptoSuite, PublicKey};

/// A genesis file (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisConfig {
    /// Chain id; every transaction must carry it.
    pub chain_id: u64,
    /// Timestamp of block 0, in milliseconds since the Unix epoch.
    #[serde(default)]
    pub timestamp_ms: u64,
    /// Accounts that exist at genesis with their balances.
    #[serde(default)]
    pub accounts: Vec<GenesisAccount>,
    /// Validators in rank order: the first leads, the next takes over when it fails.
    pub validators: Vec<GenesisValidator>,
    /// Consensus parameters every validator must share.
    #[serde(default)]
    pub consensus: ConsensusParams,
    /// The crypto suite of the chain's accounts and hashes: `ed25519-keccak` (left out, the
    /// default) or `sm2-sm3`. Validators keep ed25519 consensus keys in either suite.
    #[serde(default, skip_serializing_if = "is_default_suite")]
    pub crypto: CryptoSuite,
}

fn is_default_suite(suite: &CryptoSuite) -> bool {
    *suite == CryptoSuite::default()
}

/// How a chain's validators agree on blocks, and therefore what seals a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusEngine {
    /// One validator orders blocks alone and seals each with its own signature.
    Solo,
    /// Validators agree by BFT consensus; a block is final only under a certificate signed by
    /// a quorum of them. No single validator's signature makes a block final.
    Bft,
}

impl ConsensusEngine {
    /// The engine's name, as genesis and configuration files write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Solo => "solo",
            Self::Bft => "bft",
        }
    }
}

impl std::fmt::Display for ConsensusEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Parameters of consensus that are part of the chain's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    /// The engine. Left out, it is `solo` for a single validator and `bft` for more; a solo
    /// chain must have exactly one validator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<ConsensusEngine>,
    /// Views a leader keeps before the next validator in rank takes over even without a
    /// failure. A failing leader is replaced at once, whatever this says.
    #[serde(default = "ConsensusParams::default_term_length")]
    pub term_length: u32,
}

impl ConsensusParams {
    /// 100,000 views: about a day of idle one-second blocks.
    pub const DEFAULT_TERM_LENGTH: u32 = 100_000;

    fn default_term_length() -> u32 {
        Self::DEFAULT_TERM_LENGTH
    }
}

impl Default for ConsensusParams {
    fn default() -> Self {
        Self {
            engine: None,
            term_length: Self::DEFAULT_TERM_LENGTH,
        }
    }
}

/// A prefunded account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// The account's address.
    pub address: Address,
    /// Its balance in base units (a decimal string in JSON).
    #[serde(with = "crate::serde_helpers::u128_string")]
    pub balance: Amount,
}

/// A validator, identified by its ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Human-readable name (the operating organisation); not part of consensus.
    #[serde(default)]
    pub name: String,
    /// The validator's signing key.
    pub public_key: PublicKey,
}

/// Why a genesis description cannot start a chain.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file is not valid genesis JSON.
    #[error("genesis is not valid JSON: {0}")]
    Json(String),
    /// Chain id 0 is reserved.
    #[error("chain_id must be non-zero")]
    ZeroChainId,
    /// A chain needs someone to produce blocks.
    #[error("genesis lists no validators")]
    NoValidators,
    /// The same validator key appears twice.
    #[error("validator {0} is listed twice")]
    DuplicateValidator(PublicKey),
    /// The same account appears twice.
    #[error("account {0:#x} is listed twice")]
    DuplicateAccount(Address),
    /// Balances must fit in the amount type, in total.
    #[error("total genesis balance exceeds the largest amount")]
    SupplyOverflow,
    /// A leader term must span at least two views.
    #[error("consensus.term_length must be at least 2")]
    TermTooShort,
    /// Only a chain of one validator can be sealed by one validator's signature.
    #[error("consensus.engine \"solo\" needs exactly one validator, genesis lists {0}")]
    SoloWithManyValidators(usize),
}

impl GenesisConfig {
    /// Parses and validates a genesis JSON document.
    pub fn from_json(text: &str) -> Result<Self, GenesisError> {
        let config: Self =
            serde_json::from_str(text).map_err(|e| GenesisError::Json(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the rules every genesis must satisfy.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.chain_id == 0 {
            return Err(GenesisError::ZeroChainId);
        }
        if self.validators.is_empty() {
            return Err(GenesisError::NoValidators);
        }
        if self.consensus.term_length < 2 {
            return Err(GenesisError::TermTooShort);
        }
        if self.engine() == ConsensusEngine::Solo && self.validators.len() != 1 {
            return Err(GenesisError::SoloWithManyValidators(self.validators.len()));
        }
        let mut keys = HashSet::new();
        for validator in &self.validators {
            if !keys.insert(validator.public_key) {
                return Err(GenesisError::DuplicateValidator(validator.public_key));
            }
        }
        let mut addresses = HashSet::new();
        let mut supply: Amount = 0;
        for account in &self.accounts {
            if !addresses.insert(account.address) {
                return Err(GenesisError::DuplicateAccount(account.address));
            }
            supply = supply
                .checked_add(account.balance)
                .ok_or(GenesisError::SupplyOverflow)?;
        }
        Ok(())
    }

    /// The consensus engine: as given, or implied by the number of validators.
    pub fn engine(&self) -> ConsensusEngine {
        self.consensus.engine.unwrap_or(self.implied_engine())
    }

    /// The engine a genesis that names none runs: solo for one validator, BFT for more.
    fn implied_engine(&self) -> ConsensusEngine {
        if self.validators.len() == 1 {
            ConsensusEngine::Solo
        } else {
            ConsensusEngine::Bft
        }
    }

    /// Hash of the consensus parameters (chain id, validator keys in rank order, term length,
    /// the engine where it is not the one the validator count implies, and the crypto suite
    /// where it is not the default), under the suite's hash, stored in the genesis header's
    /// `extra` so the genesis hash commits to them: two nodes agree on how blocks are sealed
    /// and on the suite exactly when they agree on genesis. (The engine and the suite enter
    /// only when they depart from the defaults, so chains made before genesis could name them
    /// keep their hash.)
    pub fn params_hash(&self) -> B256 {
        let keys: Vec<[u8; 32]> = self.validators.iter().map(|v| v.public_key.0).collect();
        let mut out = Vec::new();
        self.chain_id.encode(&mut out);
        keys.encode(&mut out);
        self.consensus.term_length.encode(&mut out);
        if self.engine() != self.implied_engine() {
            self.engine().name().as_bytes().encode(&mut out);
        }
        if self.crypto != CryptoSuite::default() {
            b"crypto".as_slice().encode(&mut out);
            self.crypto.name().as_bytes().encode(&mut out);
        }
        self.crypto.hash(&out)
    }

    /// The validators' public keys in rank order.
    pub fn validator_keys(&self) -> Vec<PublicKey> {
        self.validators.iter().map(|v| v.public_key).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn validator(seed: u8) -> GenesisValidator {
        GenesisValidator {
            name: format!("org-{seed}"),
            public_key: SecretKey::from_bytes([seed; 32]).public_key(),
        }
    }

    #[test]
    fn parses_documented_json_form() {
        let key = validator(1).public_key;
        let text = format!(
            r#"{{"chain_id": 42, "accounts": [{{"address": "0x{}", "balance": "1000"}}],
                "validators": [{{"name": "bank-a", "public_key": "{key}"}}]}}"#,
            "11".repeat(20)
        );
        let config = GenesisConfig::from_json(&text).unwrap();
        assert_eq!(config.chain_id, 42);
        assert_eq!(config.accounts[0].balance, 1000);
        assert_eq!(config.accounts[0].address, Address::repeat_byte(0x11));
        assert_eq!(config.validators[0].public_key, key);
    }

    #[test]
    fn rejects_invalid_genesis() {
        let ok = GenesisConfig {
            chain_id: 1,
            timestamp_ms: 0,
            accounts: vec![],
            validators: vec![validator(1)],
            consensus: ConsensusParams::default(),
            crypto: CryptoSuite::default(),
        };
        assert!(ok.validate().is_ok());
        let zero = GenesisConfig {
            chain_id: 0,
            ..ok.clone()
        };
        assert!(matches!(zero.validate(), Err(GenesisError::ZeroChainId)));
        let none = GenesisConfig {
            validators: vec![],
            ..ok.clone()
        };
        assert!(matches!(none.validate(), Err(GenesisError::NoValidators)));
        let twice = GenesisConfig {
            validators: vec![validator(1), validator(1)],
            ..ok.clone()
        };
        assert!(matches!(
            twice.validate(),
            Err(GenesisError::DuplicateValidator(_))
        ));
        let rich = GenesisAccount {
            address: Address::repeat_byte(1),
            balance: u128::MAX,
        };
        let richer = GenesisAccount {
            address: Address::repeat_byte(2),
            balance: 1,
        };
        let overflow = GenesisConfig {
            accounts: vec![rich.clone(), richer],
            ..ok.clone()
        };
        assert!(matches!(
            overflow.validate(),
            Err(GenesisError::SupplyOverflow)
        ));
        let dup = GenesisConfig {
            accounts: vec![rich.clone(), rich],
            ..ok
        };
        assert!(matches!(
            dup.validate(),
            Err(GenesisError::DuplicateAccount(_))
        ));
        assert!(matches!(
            GenesisConfig::from_json("{"),
            Err(GenesisError::Json(_))
        ));
        assert!(GenesisConfig::from_json(r#"{"chain_id": 1, "validators": [], "x": 1}"#).is_err());
    }

    #[test]
    fn the_engine_is_implied_by_the_validator_count_unless_named() {
        let solo = GenesisConfig {
            chain_id: 1,
            timestamp_ms: 0,
            accounts: vec![],
            validators: vec![validator(1)],
            consensus: ConsensusParams::default(),
            crypto: CryptoSuite::default(),
        };
        assert_eq!(solo.engine(), ConsensusEngine::Solo);
        let four = GenesisConfig {
            validators: (1..=4).map(validator).collect(),
            ..solo.clone()
        };
        assert_eq!(four.engine(), ConsensusEngine::Bft);
        // One validator running BFT (a network that will grow) is a different chain.
        let bft_of_one = GenesisConfig {
            consensus: ConsensusParams {
                engine: Some(ConsensusEngine::Bft),
                ..ConsensusParams::default()
            },
            ..solo.clone()
        };
        assert_eq!(bft_of_one.engine(), ConsensusEngine::Bft);
        assert!(bft_of_one.validate().is_ok());
        assert_ne!(bft_of_one.params_hash(), solo.params_hash());
        // Naming the implied engine changes nothing.
        let named_solo = GenesisConfig {
            consensus: ConsensusParams {
                engine: Some(ConsensusEngine::Solo),
                ..ConsensusParams::default()
            },
            ..solo.clone()
        };
        assert_eq!(named_solo.params_hash(), solo.params_hash());
        // A genesis whose engine is the implied one hashes as before genesis could name an
        // engine: existing chains keep their identity.
        let mut before = Vec::new();
        solo.chain_id.encode(&mut before);
        vec![validator(1).public_key.0].encode(&mut before);
        solo.consensus.term_length.encode(&mut before);
        assert_eq!(solo.params_hash(), crate::keccak256(before));
        // A solo chain of four would let any one of them seal blocks alone.
        let solo_of_four = GenesisConfig {
            consensus: named_solo.consensus,
            ..four
        };
        assert!(matches!(
            solo_of_four.validate(),
            Err(GenesisError::SoloWithManyValidators(4))
        ));
        let parsed = GenesisConfig::from_json(&format!(
            r#"{{"chain_id": 9, "validators": [{{"public_key": "{}"}}],
                "consensus": {{"engine": "bft"}}}}"#,
            validator(1).public_key
        ))
        .unwrap();
        assert_eq!(parsed.engine(), ConsensusEngine::Bft);
        assert!(
            GenesisConfig::from_json(&format!(
                r#"{{"chain_id": 9, "validators": [{{"public_key": "{}"}}],
                    "consensus": {{"engine": "pow"}}}}"#,
                validator(1).public_key
            ))
            .is_err()
        );
    }

    #[test]
    fn params_hash_depends_on_chain_id_and_validator_order() {
        let a = GenesisConfig {
            chain_id: 1,
            timestamp_ms: 0,
            accounts: vec![],
            validators: vec![validator(1), validator(2)],
            consensus: ConsensusParams::default(),
            crypto: CryptoSuite::default(),
        };
        let swapped = GenesisConfig {
            validators: vec![validator(2), validator(1)],
            ..a.clone()
        };
        let other_chain = GenesisConfig {
            chain_id: 2,
            ..a.clone()
        };
        assert_ne!(a.params_hash(), swapped.params_hash());
        assert_ne!(a.params_hash(), other_chain.params_hash());
        let renamed = GenesisConfig {
            validators: a
                .validators
                .iter()
                .map(|v| GenesisValidator {
                    name: "x".into(),
                    ..v.clone()
                })
                .collect(),
            ..a.clone()
        };
        assert_eq!(a.params_hash(), renamed.params_hash());
    }

    #[test]
    fn the_crypto_suite_is_read_from_json_and_part_of_the_identity() {
        let key = validator(1).public_key;
        let json = |crypto: &str| {
            format!(r#"{{"chain_id": 42, "validators": [{{"public_key": "{key}"}}]{crypto}}}"#)
        };
        let default = GenesisConfig::from_json(&json("")).unwrap();
        assert_eq!(default.crypto, CryptoSuite::Ed25519Keccak);
        // Writing the default out changes nothing; leaving it out of the JSON keeps old files.
        let named = GenesisConfig::from_json(&json(r#", "crypto": "ed25519-keccak""#)).unwrap();
        assert_eq!(named.params_hash(), default.params_hash());
        assert!(!serde_json::to_string(&default).unwrap().contains("crypto"));
        let sm = GenesisConfig::from_json(&json(r#", "crypto": "sm2-sm3""#)).unwrap();
        assert_eq!(sm.crypto, CryptoSuite::Sm2Sm3);
        assert_ne!(sm.params_hash(), default.params_hash());
        assert!(
            serde_json::to_string(&sm)
                .unwrap()
                .contains(r#""crypto":"sm2-sm3""#)
        );
        let error = GenesisConfig::from_json(&json(r#", "crypto": "sm9""#)).unwrap_err();
        assert!(error.to_string().contains("sm9"), "{error}");
    }
}
