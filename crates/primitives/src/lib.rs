//! Cairn's shared vocabulary: hashes, addresses, amounts, keys and signatures, transfers,
//! accounts, receipts, block headers and blocks, the genesis description, and their canonical
//! encodings.
//!
//! Everything that is hashed or signed has exactly one byte encoding here (RLP via
//! `alloy-rlp`), so two nodes that agree on a value agree on its hash. This crate does no I/O
//! and holds no state: execution lives in `cairn-ledger`, persistence in `cairn-storage`.

mod account;
mod acs;
mod block;
pub mod clock;
mod crypto;
pub mod dev;
mod genesis;
mod receipt;
pub mod serde_helpers;
pub mod sm;
mod suite;
mod transaction;

pub use account::Account;
pub use acs::{
    ACS_TX_TYPE, AcsAction, AcsTransaction, ContractError, JobRun, MAX_ACS_TRANSACTION_BYTES,
    MAX_ERROR_BYTES, MAX_NAME_BYTES, MAX_PACKAGE_SOURCE_BYTES, MAX_SET_FIELDS, is_contract_name,
    is_field_name, package_address,
};
pub use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
pub use block::{Block, Header, MAX_EXTRA_BYTES, Seal};
pub use crypto::{PublicKey, SecretKey, Signature, SignatureError, address_of, verify_batch};
pub use genesis::{
    ConsensusEngine, ConsensusParams, GenesisAccount, GenesisConfig, GenesisError, GenesisValidator,
};
pub use receipt::{ContractResult, FailureReason, Outcome, Receipt};
pub use suite::{AccountKey, AccountPublicKey, CryptoSuite, KeyKind, TransactionSigner};
pub use transaction::{
    Body, MAX_TRANSACTION_BYTES, SignedTransaction, Transaction, TransactionError,
    all_signatures_valid, find_invalid_signature, verify_signatures,
};

/// An amount of the chain's native unit, in indivisible base units.
pub type Amount = u128;

/// keccak256 of the empty byte string: the code hash of an account without code.
pub const KECCAK_EMPTY: B256 =
    alloy_primitives::b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

/// Root of the empty Merkle Patricia Trie: keccak256(rlp("")).
pub const EMPTY_ROOT: B256 =
    alloy_primitives::b256!("56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// Errors from decoding a canonical encoding that came from outside the process.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not valid RLP of the expected shape.
    #[error("malformed encoding: {0}")]
    Rlp(#[from] alloy_rlp::Error),
    /// Bytes were left over after a complete value.
    #[error("{0} trailing bytes after the encoded value")]
    TrailingBytes(usize),
    /// A field holds a value outside its allowed range.
    #[error("invalid field: {0}")]
    InvalidField(&'static str),
}

/// Decodes exactly one `T` from `bytes`, rejecting trailing bytes.
pub fn decode_exact<T: alloy_rlp::Decodable>(bytes: &[u8]) -> Result<T, DecodeError> {
    let mut buf = bytes;
    let value = T::decode(&mut buf)?;
    if !buf.is_empty() {
        return Err(DecodeError::TrailingBytes(buf.len()));
    }
    Ok(value)
}

/// Formats an address as 0x + 40 lowercase hex digits (the form Cairn prints everywhere).
pub fn format_address(address: &Address) -> String {
    format!("{address:#x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_the_hashes_they_claim() {
        assert_eq!(keccak256([]), KECCAK_EMPTY);
        assert_eq!(keccak256([0x80]), EMPTY_ROOT);
    }

    #[test]
    fn decode_exact_rejects_trailing_bytes() {
        let mut bytes = alloy_rlp::encode(7u64);
        assert_eq!(decode_exact::<u64>(&bytes).unwrap(), 7);
        bytes.push(0);
        assert!(matches!(
            decode_exact::<u64>(&bytes),
            Err(DecodeError::TrailingBytes(1))
        ));
    }
}
