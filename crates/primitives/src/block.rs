//! Block headers, blocks and seals.

use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{BufMut, Decodable, Encodable, Header as RlpHeader, RlpDecodable, RlpEncodable};

use crate::{CryptoSuite, PublicKey, SecretKey, Signature, SignatureError, SignedTransaction};

/// Upper bound on a header's `extra` field.
pub const MAX_EXTRA_BYTES: usize = 256;

/// Prefix of the message a proposer signs to seal a block (see [`Seal::Proposer`]).
const SEAL_DOMAIN: &[u8] = b"cairn/block-seal/v1";

/// A block header; its hash identifies the block.
#[derive(Debug, Clone, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Header {
    /// Hash of the previous block (zero for genesis).
    pub parent_hash: B256,
    /// Distance from genesis (genesis is 0).
    pub height: u64,
    /// Milliseconds since the Unix epoch, never less than the parent's.
    pub timestamp_ms: u64,
    /// Address of the validator that proposed the block (zero for genesis).
    pub proposer: Address,
    /// Root of the secure trie of accounts after executing the block.
    pub state_root: B256,
    /// Root of the trie mapping rlp(index) to each transaction's encoding.
    pub transactions_root: B256,
    /// Root of the trie mapping rlp(index) to each receipt's encoding.
    pub receipts_root: B256,
    /// Consensus-specific data; for genesis, the hash of the chain's parameters.
    pub extra: Bytes,
}

impl Header {
    /// The chain suite's hash (keccak-256 or SM3) of the header's RLP encoding.
    pub fn hash(&self, suite: CryptoSuite) -> B256 {
        suite.hash(&alloy_rlp::encode(self))
    }
}

/// Evidence that a block was agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seal {
    /// Genesis needs no agreement: every node builds it from the same file.
    Genesis,
    /// The proposer's signature over the block hash (single-validator chains).
    Proposer(Signature),
    /// A consensus engine's finalization certificate, in the engine's own encoding.
    Certificate(Bytes),
}

impl Seal {
    /// The message a proposer signs to seal the block with hash `block_hash`.
    pub fn signing_message(block_hash: &B256) -> Vec<u8> {
        [SEAL_DOMAIN, block_hash.as_slice()].concat()
    }

    /// Seals `block_hash` with the proposer's key.
    pub fn sign(block_hash: &B256, key: &SecretKey) -> Self {
        Self::Proposer(key.sign(&Self::signing_message(block_hash)))
    }

    /// Checks a [`Seal::Proposer`] signature against the proposer's key.
    pub fn verify_proposer(
        &self,
        block_hash: &B256,
        proposer: &PublicKey,
    ) -> Result<(), SignatureError> {
        match self {
            Self::Proposer(signature) => {
                proposer.verify(&Self::signing_message(block_hash), signature)
            }
            _ => Err(SignatureError),
        }
    }

    fn parts(&self) -> (u8, &[u8]) {
        match self {
            Self::Genesis => (0, &[]),
            Self::Proposer(signature) => (1, &signature.0),
            Self::Certificate(bytes) => (2, bytes),
        }
    }
}

impl Encodable for Seal {
    fn encode(&self, out: &mut dyn BufMut) {
        let (kind, payload) = self.parts();
        let payload_length = kind.length() + payload.length();
        RlpHeader {
            list: true,
            payload_length,
        }
        .encode(out);
        kind.encode(out);
        payload.encode(out);
    }
    fn length(&self) -> usize {
        let (kind, payload) = self.parts();
        let payload_length = kind.length() + payload.length();
        payload_length + alloy_rlp::length_of_length(payload_length)
    }
}

impl Decodable for Seal {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut payload = RlpHeader::decode_bytes(buf, true)?;
        let kind = u8::decode(&mut payload)?;
        let body = Bytes::decode(&mut payload)?;
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::Custom("trailing fields in seal"));
        }
        match kind {
            0 if body.is_empty() => Ok(Self::Genesis),
            1 => {
                let signature: [u8; 64] = body
                    .as_ref()
                    .try_into()
                    .map_err(|_| alloy_rlp::Error::Custom("proposer seal is not 64 bytes"))?;
                Ok(Self::Proposer(Signature(signature)))
            }
            2 => Ok(Self::Certificate(body)),
            _ => Err(alloy_rlp::Error::Custom("unknown seal kind")),
        }
    }
}

/// A header, its transactions in execution order, and the seal that makes it final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The header (its hash is the block hash).
    pub header: Header,
    /// Transactions in execution order.
    pub transactions: Vec<SignedTransaction>,
    /// Evidence of agreement.
    pub seal: Seal,
}

impl Block {
    /// The block hash on a `suite` chain (the header's hash; the seal is not part of it).
    pub fn hash(&self, suite: CryptoSuite) -> B256 {
        self.header.hash(suite)
    }

    /// The canonical encoding: `rlp([header, [tx, ...], seal])`.
    pub fn encoded(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }

    fn payload_length(&self) -> usize {
        self.header.length() + transactions_length(&self.transactions) + self.seal.length()
    }
}

fn transactions_length(transactions: &[SignedTransaction]) -> usize {
    let payload: usize = transactions.iter().map(Encodable::length).sum();
    payload + alloy_rlp::length_of_length(payload)
}

impl Encodable for Block {
    fn encode(&self, out: &mut dyn BufMut) {
        RlpHeader {
            list: true,
            payload_length: self.payload_length(),
        }
        .encode(out);
        self.header.encode(out);
        let payload_length = self.transactions.iter().map(Encodable::length).sum();
        RlpHeader {
            list: true,
            payload_length,
        }
        .encode(out);
        for tx in &self.transactions {
            tx.encode(out);
        }
        self.seal.encode(out);
    }
    fn length(&self) -> usize {
        let payload_length = self.payload_length();
        payload_length + alloy_rlp::length_of_length(payload_length)
    }
}

impl Decodable for Block {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut payload = RlpHeader::decode_bytes(buf, true)?;
        let header = Header::decode(&mut payload)?;
        if header.extra.len() > MAX_EXTRA_BYTES {
            return Err(alloy_rlp::Error::Custom("header extra field too long"));
        }
        let mut txs_payload = RlpHeader::decode_bytes(&mut payload, true)?;
        let mut transactions = Vec::new();
        while !txs_payload.is_empty() {
            transactions.push(SignedTransaction::decode(&mut txs_payload)?);
        }
        let seal = Seal::decode(&mut payload)?;
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::Custom("trailing fields in block"));
        }
        Ok(Self {
            header,
            transactions,
            seal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transaction;

    fn sample_block() -> Block {
        let key = SecretKey::from_bytes([5; 32]);
        let tx = Transaction {
            chain_id: 7,
            nonce: 0,
            to: Address::repeat_byte(1),
            amount: 3,
        }
        .sign(&key);
        let header = Header {
            parent_hash: B256::repeat_byte(2),
            height: 9,
            timestamp_ms: 1_700_000_000_000,
            proposer: key.address(),
            state_root: B256::repeat_byte(3),
            transactions_root: B256::repeat_byte(4),
            receipts_root: B256::repeat_byte(5),
            extra: Bytes::from_static(b"x"),
        };
        let seal = Seal::sign(&header.hash(CryptoSuite::Ed25519Keccak), &key);
        Block {
            header,
            transactions: vec![tx.clone(), tx],
            seal,
        }
    }

    #[test]
    fn blocks_round_trip() {
        let block = sample_block();
        let bytes = block.encoded();
        assert_eq!(bytes.len(), block.length());
        assert_eq!(crate::decode_exact::<Block>(&bytes).unwrap(), block);
        for seal in [
            Seal::Genesis,
            Seal::Certificate(Bytes::from_static(b"cert")),
        ] {
            let block = Block {
                seal,
                ..sample_block()
            };
            assert_eq!(
                crate::decode_exact::<Block>(&block.encoded()).unwrap(),
                block
            );
        }
    }

    #[test]
    fn seal_binds_the_block_hash_and_the_proposer() {
        let block = sample_block();
        let key = SecretKey::from_bytes([5; 32]);
        assert!(
            block
                .seal
                .verify_proposer(&block.hash(CryptoSuite::Ed25519Keccak), &key.public_key())
                .is_ok()
        );
        let mut other = block.header.clone();
        other.height += 1;
        assert!(
            block
                .seal
                .verify_proposer(&other.hash(CryptoSuite::Ed25519Keccak), &key.public_key())
                .is_err()
        );
        let stranger = SecretKey::from_bytes([6; 32]).public_key();
        assert!(
            block
                .seal
                .verify_proposer(&block.hash(CryptoSuite::Ed25519Keccak), &stranger)
                .is_err()
        );
        assert!(
            Seal::Genesis
                .verify_proposer(&block.hash(CryptoSuite::Ed25519Keccak), &key.public_key())
                .is_err()
        );
    }

    #[test]
    fn truncated_blocks_are_errors() {
        let bytes = sample_block().encoded();
        for len in 0..bytes.len() {
            assert!(
                crate::decode_exact::<Block>(&bytes[..len]).is_err(),
                "prefix of {len}"
            );
        }
    }
}
