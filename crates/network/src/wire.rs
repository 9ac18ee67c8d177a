//! Messages on Cairn's own channels, RLP-encoded with a leading kind byte.
//!
//! Decoding never trusts a length or count from the wire beyond the limits here; anything
//! else is a [`WireError`] and the message is dropped.

use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};
use cairn_primitives::{B256, Block, Header, MAX_EXTRA_BYTES, SignedTransaction};

/// Most blocks in one sync response.
pub const MAX_SYNC_BLOCKS: usize = 64;
/// Most bytes of blocks in one sync response (the first block is always sent).
pub const MAX_SYNC_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Most transfers in one gossip message.
pub const MAX_GOSSIP_TRANSACTIONS: usize = 4_096;
/// Largest gossip message: anything bigger cannot be a valid batch and is dropped unread.
pub const MAX_GOSSIP_BYTES: usize =
    MAX_GOSSIP_TRANSACTIONS * cairn_primitives::MAX_TRANSACTION_BYTES + 16;
/// Largest status or request message on the sync channel (blocks are bounded by the transport).
pub const MAX_SYNC_REQUEST_BYTES: usize = 128;

/// A message that is not a valid instance of its channel's protocol.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not RLP of the expected shape.
    #[error("malformed: {0}")]
    Malformed(#[from] alloy_rlp::Error),
    /// An unknown kind byte.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// More items than the protocol allows.
    #[error("{count} items, more than the {limit} allowed")]
    TooMany {
        /// Items in the message.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Bytes after the message.
    #[error("trailing bytes")]
    Trailing,
}

fn decode_list<T: Decodable>(buf: &mut &[u8], limit: usize) -> Result<Vec<T>, WireError> {
    let mut payload = RlpHeader::decode_bytes(buf, true)?;
    let mut items = Vec::new();
    while !payload.is_empty() {
        if items.len() == limit {
            return Err(WireError::TooMany {
                count: items.len() + 1,
                limit,
            });
        }
        items.push(T::decode(&mut payload)?);
    }
    Ok(items)
}

fn finish(buf: &[u8]) -> Result<(), WireError> {
    if buf.is_empty() {
        Ok(())
    } else {
        Err(WireError::Trailing)
    }
}

/// The sync channel: head announcements and block transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncMessage {
    /// "My head is at this height with this hash." Sent after each commit and periodically.
    Status {
        /// Head height.
        height: u64,
        /// Head hash.
        hash: B256,
    },
    /// "Send me committed blocks from `from`, at most `count`."
    GetBlocks {
        /// First height wanted.
        from: u64,
        /// How many.
        count: u32,
    },
    /// Committed blocks in ascending height, each with its seal.
    Blocks(Vec<Block>),
}

impl SyncMessage {
    /// The encoding sent on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Status { height, hash } => {
                0u8.encode(&mut out);
                height.encode(&mut out);
                hash.encode(&mut out);
            }
            Self::GetBlocks { from, count } => {
                1u8.encode(&mut out);
                from.encode(&mut out);
                count.encode(&mut out);
            }
            Self::Blocks(blocks) => {
                2u8.encode(&mut out);
                alloy_rlp::encode_list(blocks, &mut out);
            }
        }
        out
    }

    /// Decodes a message from a peer.
    pub fn decode(mut buf: &[u8]) -> Result<Self, WireError> {
        let message = match u8::decode(&mut buf)? {
            0 => Self::Status {
                height: u64::decode(&mut buf)?,
                hash: B256::decode(&mut buf)?,
            },
            1 => Self::GetBlocks {
                from: u64::decode(&mut buf)?,
                count: u32::decode(&mut buf)?,
            },
            2 => Self::Blocks(decode_list(&mut buf, MAX_SYNC_BLOCKS)?),
            kind => return Err(WireError::UnknownKind(kind)),
        };
        finish(buf)?;
        Ok(message)
    }
}

/// The proposal channel: a leader's proposed block, or a request for one by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposalMessage {
    /// A proposed (unsealed) block.
    Block(Box<Block>),
    /// "Send me the proposed block with this hash, if you have it."
    Request(B256),
}

impl ProposalMessage {
    /// The encoding sent on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Block(block) => {
                0u8.encode(&mut out);
                block.encode(&mut out);
            }
            Self::Request(hash) => {
                1u8.encode(&mut out);
                hash.encode(&mut out);
            }
        }
        out
    }

    /// The header of a [`ProposalMessage::Block`], decoded without its transactions, so a
    /// node can decide whether the block is worth decoding whole; `None` for a request.
    pub fn peek_header(mut buf: &[u8]) -> Result<Option<Header>, WireError> {
        match u8::decode(&mut buf)? {
            0 => {
                let mut block = RlpHeader::decode_bytes(&mut buf, true)?;
                let header = Header::decode(&mut block)?;
                if header.extra.len() > MAX_EXTRA_BYTES {
                    return Err(alloy_rlp::Error::Custom("header extra field too long").into());
                }
                Ok(Some(header))
            }
            1 => Ok(None),
            kind => Err(WireError::UnknownKind(kind)),
        }
    }

    /// Decodes a message from a peer.
    pub fn decode(mut buf: &[u8]) -> Result<Self, WireError> {
        let message = match u8::decode(&mut buf)? {
            0 => Self::Block(Box::new(Block::decode(&mut buf)?)),
            1 => Self::Request(B256::decode(&mut buf)?),
            kind => return Err(WireError::UnknownKind(kind)),
        };
        finish(buf)?;
        Ok(message)
    }
}

/// Encodes a gossip batch of transfers.
pub fn encode_transactions(transactions: &[SignedTransaction]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list(transactions, &mut out);
    out
}

/// Decodes a gossip batch of transfers.
pub fn decode_transactions(mut buf: &[u8]) -> Result<Vec<SignedTransaction>, WireError> {
    let transactions = decode_list(&mut buf, MAX_GOSSIP_TRANSACTIONS)?;
    finish(buf)?;
    Ok(transactions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_primitives::{Address, Bytes, Header, Seal, SecretKey, Transaction};
    use proptest::prelude::*;

    fn block(height: u64) -> Block {
        let tx = Transaction {
            chain_id: 1,
            nonce: height,
            to: Address::ZERO,
            amount: 1,
        }
        .sign(&SecretKey::from_bytes([1; 32]));
        Block {
            header: Header {
                parent_hash: B256::repeat_byte(1),
                height,
                timestamp_ms: 5,
                proposer: Address::ZERO,
                state_root: B256::ZERO,
                transactions_root: B256::ZERO,
                receipts_root: B256::ZERO,
                extra: Bytes::new(),
            },
            transactions: vec![tx],
            seal: Seal::Certificate(Bytes::from_static(b"cert")),
        }
    }

    #[test]
    fn messages_round_trip() {
        for message in [
            SyncMessage::Status {
                height: 9,
                hash: B256::repeat_byte(3),
            },
            SyncMessage::GetBlocks { from: 1, count: 64 },
            SyncMessage::Blocks(vec![block(1), block(2)]),
            SyncMessage::Blocks(vec![]),
        ] {
            assert_eq!(SyncMessage::decode(&message.encode()).unwrap(), message);
        }
        for message in [
            ProposalMessage::Block(Box::new(block(4))),
            ProposalMessage::Request(B256::repeat_byte(8)),
        ] {
            assert_eq!(ProposalMessage::decode(&message.encode()).unwrap(), message);
        }
        let txs = block(1).transactions;
        assert_eq!(
            decode_transactions(&encode_transactions(&txs)).unwrap(),
            txs
        );
    }

    #[test]
    fn limits_and_garbage_are_errors() {
        let too_many = SyncMessage::Blocks(vec![block(1); MAX_SYNC_BLOCKS + 1]).encode();
        assert!(matches!(
            SyncMessage::decode(&too_many),
            Err(WireError::TooMany { .. })
        ));
        let tx = block(1).transactions[0].clone();
        let flood = encode_transactions(&vec![tx; MAX_GOSSIP_TRANSACTIONS + 1]);
        assert!(matches!(
            decode_transactions(&flood),
            Err(WireError::TooMany { .. })
        ));
        assert!(matches!(
            SyncMessage::decode(&[7]),
            Err(WireError::UnknownKind(7))
        ));
        let mut trailing = SyncMessage::Status {
            height: 1,
            hash: B256::ZERO,
        }
        .encode();
        trailing.push(0);
        assert!(matches!(
            SyncMessage::decode(&trailing),
            Err(WireError::Trailing)
        ));
        assert!(SyncMessage::decode(&[]).is_err());
    }

    #[test]
    fn peeking_reads_the_header_of_a_block_and_nothing_of_a_request() {
        let block = block(4);
        let message = ProposalMessage::Block(Box::new(block.clone())).encode();
        assert_eq!(
            ProposalMessage::peek_header(&message).unwrap(),
            Some(block.header)
        );
        let request = ProposalMessage::Request(B256::repeat_byte(8)).encode();
        assert_eq!(ProposalMessage::peek_header(&request).unwrap(), None);
        assert!(ProposalMessage::peek_header(&[9]).is_err());
        assert!(ProposalMessage::peek_header(&message[..20]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = SyncMessage::decode(&bytes);
            let _ = ProposalMessage::decode(&bytes);
            let _ = ProposalMessage::peek_header(&bytes);
            let _ = decode_transactions(&bytes);
        }
    }
}
