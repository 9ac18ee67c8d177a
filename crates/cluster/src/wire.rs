//! The cluster's messages on the wire: a kind byte, then RLP fields. Decoding bounds every
//! count and length before it allocates, and never panics: anything else is a [`WireError`]
//! and the message is dropped (and its sender counted by the node).

use alloy_primitives::B256;
use alloy_rlp::{Decodable, Encodable, Header as RlpHeader};

use crate::engine::{ClusterMessage, DataMessage};
use crate::membership::{MAX_SLOTS, Message, Peer, Roster};

/// Largest cluster message: a share of the largest block data plus framing.
pub const MAX_CLUSTER_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// A message that is not a valid cluster message.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Not RLP of the expected shape.
    #[error("malformed: {0}")]
    Malformed(#[from] alloy_rlp::Error),
    /// An unknown kind byte.
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    /// More items than allowed.
    #[error("{0} items, more than allowed")]
    TooMany(usize),
    /// Bytes after the message, or a message over the size bound.
    #[error("trailing bytes or oversized message")]
    Oversized,
}

fn encode_roster(roster: &Roster, out: &mut Vec<u8>) {
    roster.cluster.encode(out);
    roster.version.encode(out);
    roster.expires_at_ms.encode(out);
    let slots: Vec<Vec<u8>> = roster
        .slots
        .iter()
        .map(|slot| slot.map(|peer| peer.to_vec()).unwrap_or_default())
        .collect();
    let refs: Vec<&[u8]> = slots.iter().map(Vec::as_slice).collect();
    alloy_rlp::encode_list::<&[u8], [u8]>(&refs, out);
}

fn decode_peer(bytes: &[u8]) -> Result<Peer, WireError> {
    bytes
        .try_into()
        .map_err(|_| WireError::Malformed(alloy_rlp::Error::Custom("a key is 32 bytes")))
}

fn decode_roster(buf: &mut &[u8]) -> Result<Roster, WireError> {
    let cluster = B256::decode(buf)?;
    let version = u64::decode(buf)?;
    let expires_at_ms = u64::decode(buf)?;
    let mut list = RlpHeader::decode_bytes(buf, true)?;
    let mut slots = Vec::new();
    while !list.is_empty() {
        if slots.len() == MAX_SLOTS {
            return Err(WireError::TooMany(slots.len() + 1));
        }
        let bytes = RlpHeader::decode_bytes(&mut list, false)?;
        slots.push(if bytes.is_empty() {
            None
        } else {
            Some(decode_peer(bytes)?)
        });
    }
    Ok(Roster {
        cluster,
        version,
        expires_at_ms,
        slots,
    })
}

/// The encoding sent on the wire.
pub fn encode(message: &ClusterMessage) -> Vec<u8> {
    let mut out = Vec::new();
    match message {
        ClusterMessage::Membership(message) => match message {
            Message::Invite { round } => {
                0u8.encode(&mut out);
                round.encode(&mut out);
            }
            Message::Confirm { round } => {
                1u8.encode(&mut out);
                round.encode(&mut out);
            }
            Message::Roster(roster) => {
                2u8.encode(&mut out);
                encode_roster(roster, &mut out);
            }
            Message::Heartbeat {
                cluster,
                version,
                beats,
            } => {
                3u8.encode(&mut out);
                cluster.encode(&mut out);
                version.encode(&mut out);
                let pairs: Vec<Vec<u8>> = beats
                    .iter()
                    .map(|(peer, count)| {
                        let mut pair = peer.to_vec();
                        pair.extend_from_slice(&count.to_be_bytes());
                        pair
                    })
                    .collect();
                let refs: Vec<&[u8]> = pairs.iter().map(Vec::as_slice).collect();
                alloy_rlp::encode_list::<&[u8], [u8]>(&refs, &mut out);
            }
            Message::JoinRequest => 4u8.encode(&mut out),
            Message::JoinInvite(roster) => {
                5u8.encode(&mut out);
                encode_roster(roster, &mut out);
            }
        },
        ClusterMessage::Data(message) => match message {
            DataMessage::Stored { height, share } => {
                6u8.encode(&mut out);
                height.encode(&mut out);
                share.encode(&mut out);
            }
            DataMessage::Fetch {
                request,
                height,
                share,
            } => {
                7u8.encode(&mut out);
                request.encode(&mut out);
                height.encode(&mut out);
                share.encode(&mut out);
            }
            DataMessage::Share {
                request,
                height,
                share,
                commitment,
                bytes,
            } => {
                8u8.encode(&mut out);
                request.encode(&mut out);
                height.encode(&mut out);
                share.encode(&mut out);
                commitment.encode(&mut out);
                bytes.as_slice().encode(&mut out);
            }
            DataMessage::Missing { request, share } => {
                9u8.encode(&mut out);
                request.encode(&mut out);
                share.encode(&mut out);
            }
            DataMessage::Holds { height, share } => {
                10u8.encode(&mut out);
                height.encode(&mut out);
                share.encode(&mut out);
            }
            DataMessage::Commitment { request, height } => {
                11u8.encode(&mut out);
                request.encode(&mut out);
                height.encode(&mut out);
            }
            DataMessage::Committed {
                request,
                commitment,
            } => {
                12u8.encode(&mut out);
                request.encode(&mut out);
                commitment.encode(&mut out);
            }
        },
    }
    out
}

/// Decodes a message from a peer.
pub fn decode(bytes: &[u8]) -> Result<ClusterMessage, WireError> {
    if bytes.len() > MAX_CLUSTER_MESSAGE_BYTES {
        return Err(WireError::Oversized);
    }
    let mut buf = bytes;
    let kind = u8::decode(&mut buf)?;
    let message = match kind {
        0 => ClusterMessage::Membership(Message::Invite {
            round: u64::decode(&mut buf)?,
        }),
        1 => ClusterMessage::Membership(Message::Confirm {
            round: u64::decode(&mut buf)?,
        }),
        2 => ClusterMessage::Membership(Message::Roster(decode_roster(&mut buf)?)),
        3 => {
            let cluster = B256::decode(&mut buf)?;
            let version = u64::decode(&mut buf)?;
            let mut list = RlpHeader::decode_bytes(&mut buf, true)?;
            let mut beats = Vec::new();
            while !list.is_empty() {
                if beats.len() == MAX_SLOTS {
                    return Err(WireError::TooMany(beats.len() + 1));
                }
                let pair = RlpHeader::decode_bytes(&mut list, false)?;
                if pair.len() != 40 {
                    return Err(WireError::Malformed(alloy_rlp::Error::Custom(
                        "a heartbeat entry is 40 bytes",
                    )));
                }
                let peer = decode_peer(&pair[..32])?;
                let mut count = [0u8; 8];
                count.copy_from_slice(&pair[32..]);
                beats.push((peer, u64::from_be_bytes(count)));
            }
            ClusterMessage::Membership(Message::Heartbeat {
                cluster,
                version,
                beats,
            })
        }
        4 => ClusterMessage::Membership(Message::JoinRequest),
        5 => ClusterMessage::Membership(Message::JoinInvite(decode_roster(&mut buf)?)),
        6 => ClusterMessage::Data(DataMessage::Stored {
            height: u64::decode(&mut buf)?,
            share: u16::decode(&mut buf)?,
        }),
        7 => ClusterMessage::Data(DataMessage::Fetch {
            request: u64::decode(&mut buf)?,
            height: u64::decode(&mut buf)?,
            share: u16::decode(&mut buf)?,
        }),
        8 => ClusterMessage::Data(DataMessage::Share {
            request: u64::decode(&mut buf)?,
            height: u64::decode(&mut buf)?,
            share: u16::decode(&mut buf)?,
            commitment: B256::decode(&mut buf)?,
            bytes: RlpHeader::decode_bytes(&mut buf, false)?.to_vec(),
        }),
        9 => ClusterMessage::Data(DataMessage::Missing {
            request: u64::decode(&mut buf)?,
            share: u16::decode(&mut buf)?,
        }),
        10 => ClusterMessage::Data(DataMessage::Holds {
            height: u64::decode(&mut buf)?,
            share: u16::decode(&mut buf)?,
        }),
        11 => ClusterMessage::Data(DataMessage::Commitment {
            request: u64::decode(&mut buf)?,
            height: u64::decode(&mut buf)?,
        }),
        12 => ClusterMessage::Data(DataMessage::Committed {
            request: u64::decode(&mut buf)?,
            commitment: B256::decode(&mut buf)?,
        }),
        other => return Err(WireError::UnknownKind(other)),
    };
    if !buf.is_empty() {
        return Err(WireError::Oversized);
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn samples() -> Vec<ClusterMessage> {
        let roster = Roster {
            cluster: B256::repeat_byte(7),
            version: 3,
            expires_at_ms: 1_700_000_000_000,
            slots: vec![Some([1; 32]), None, Some([2; 32])],
        };
        vec![
            ClusterMessage::Membership(Message::Invite { round: 9 }),
            ClusterMessage::Membership(Message::Confirm { round: 0 }),
            ClusterMessage::Membership(Message::Roster(roster.clone())),
            ClusterMessage::Membership(Message::Heartbeat {
                cluster: B256::repeat_byte(7),
                version: 3,
                beats: vec![([1; 32], 5), ([2; 32], u64::MAX)],
            }),
            ClusterMessage::Membership(Message::JoinRequest),
            ClusterMessage::Membership(Message::JoinInvite(roster)),
            ClusterMessage::Data(DataMessage::Stored {
                height: 12,
                share: 5,
            }),
            ClusterMessage::Data(DataMessage::Fetch {
                request: 1,
                height: 12,
                share: 0,
            }),
            ClusterMessage::Data(DataMessage::Share {
                request: 1,
                height: 12,
                share: 0,
                commitment: B256::repeat_byte(3),
                bytes: vec![0, 1, 2, 0xc0, 0x80],
            }),
            ClusterMessage::Data(DataMessage::Missing {
                request: 4,
                share: 2,
            }),
            ClusterMessage::Data(DataMessage::Holds {
                height: 2,
                share: 1,
            }),
            ClusterMessage::Data(DataMessage::Commitment {
                request: 8,
                height: 2,
            }),
            ClusterMessage::Data(DataMessage::Committed {
                request: 8,
                commitment: B256::repeat_byte(9),
            }),
        ]
    }

    #[test]
    fn every_message_round_trips_and_trailing_bytes_are_refused() {
        for message in samples() {
            let bytes = encode(&message);
            assert_eq!(decode(&bytes).unwrap(), message);
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode(&longer).is_err());
            if bytes.len() > 1 {
                assert!(decode(&bytes[..bytes.len() - 1]).is_err());
            }
        }
        assert!(matches!(decode(&[42]), Err(WireError::UnknownKind(42))));
        assert!(decode(&[]).is_err());
    }

    #[test]
    fn rosters_and_heartbeats_are_bounded() {
        let beats = ClusterMessage::Membership(Message::Heartbeat {
            cluster: B256::ZERO,
            version: 0,
            beats: vec![([1; 32], 1); MAX_SLOTS + 1],
        });
        assert!(matches!(
            decode(&encode(&beats)),
            Err(WireError::TooMany(_))
        ));
        let roster = Roster {
            cluster: B256::ZERO,
            version: 0,
            expires_at_ms: 0,
            slots: vec![Some([1; 32]); MAX_SLOTS + 1],
        };
        let bytes = encode(&ClusterMessage::Membership(Message::Roster(roster)));
        assert!(matches!(decode(&bytes), Err(WireError::TooMany(_))));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&bytes);
        }
    }
}
