//! Account state, encoded exactly as Ethereum encodes an account in its state trie.
//!
//! Keeping Ethereum's four-field shape (with the empty storage root and code hash while Cairn
//! accounts hold neither) means an `eth_getProof`-style proof of a Cairn account checks out in
//! any Ethereum tool that verifies EIP-1186 account proofs.

use alloy_primitives::B256;
use alloy_rlp::{RlpDecodable, RlpEncodable};

use crate::{Amount, CryptoSuite};

/// One account's state: `rlp([nonce, balance, storage_root, code_hash])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Account {
    /// Number of transactions this account has had included.
    pub nonce: u64,
    /// Balance in base units.
    pub balance: Amount,
    /// Root of the account's storage trie (empty for plain accounts).
    pub storage_root: B256,
    /// Hash of the account's code (keccak256 of nothing for plain accounts).
    pub code_hash: B256,
}

impl Account {
    /// A plain account of a `suite` chain holding `balance` with nonce `nonce`: its storage
    /// root and code hash are the suite's empty ones.
    pub fn with_balance(suite: CryptoSuite, nonce: u64, balance: Amount) -> Self {
        Self {
            nonce,
            balance,
            storage_root: suite.empty_root(),
            code_hash: suite.empty_code_hash(),
        }
    }

    /// The account of a `suite` chain that does not exist yet: no nonce, no balance.
    pub fn empty(suite: CryptoSuite) -> Self {
        Self::with_balance(suite, 0, 0)
    }

    /// The canonical encoding stored in the state trie.
    pub fn encoded(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EMPTY_ROOT, KECCAK_EMPTY};

    #[test]
    fn encoding_matches_ethereum_account_rlp() {
        // rlp([1, 0x0f4240, EMPTY_ROOT, KECCAK_EMPTY]) written out by hand.
        let mut expected = vec![0xf8, 0x47, 0x01, 0x83, 0x0f, 0x42, 0x40, 0xa0];
        expected.extend_from_slice(EMPTY_ROOT.as_slice());
        expected.push(0xa0);
        expected.extend_from_slice(KECCAK_EMPTY.as_slice());
        assert_eq!(
            Account::with_balance(CryptoSuite::Ed25519Keccak, 1, 1_000_000).encoded(),
            expected
        );
        assert_eq!(
            crate::decode_exact::<Account>(&expected).unwrap().balance,
            1_000_000
        );
    }
}
