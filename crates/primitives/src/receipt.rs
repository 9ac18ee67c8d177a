//! Receipts: what executing a transaction did.

use alloy_primitives::B256;
use alloy_rlp::{BufMut, Decodable, Encodable, RlpDecodable, RlpEncodable};
use serde::{Deserialize, Serialize};

/// Why an included transaction had no effect besides consuming its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The sender's balance was below the amount when the transfer executed.
    InsufficientFunds,
    /// The recipient's balance would have exceeded the largest representable amount.
    BalanceOverflow,
}

impl FailureReason {
    fn code(self) -> u8 {
        match self {
            Self::InsufficientFunds => 1,
            Self::BalanceOverflow => 2,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::InsufficientFunds),
            2 => Some(Self::BalanceOverflow),
            _ => None,
        }
    }
}

/// The result of executing one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The transfer moved the funds.
    Success,
    /// The transfer was included (its nonce is used) but moved nothing.
    Failed(FailureReason),
}

impl Outcome {
    /// Whether the transfer took effect.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Success)
    }
}

/// A transaction's receipt: `rlp([tx_hash, status, reason])` where status is 1 for success and
/// 0 for failure (as in Ethereum's EIP-658 receipts) and reason is 0 or a failure code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Hash of the transaction this receipt belongs to.
    pub tx_hash: B256,
    /// What happened.
    pub outcome: Outcome,
}

#[derive(RlpEncodable, RlpDecodable)]
struct ReceiptFields {
    tx_hash: B256,
    status: u8,
    reason: u8,
}

impl Receipt {
    fn fields(&self) -> ReceiptFields {
        let (status, reason) = match self.outcome {
            Outcome::Success => (1, 0),
            Outcome::Failed(reason) => (0, reason.code()),
        };
        ReceiptFields {
            tx_hash: self.tx_hash,
            status,
            reason,
        }
    }

    /// The canonical encoding (the value stored in the receipts trie).
    pub fn encoded(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }
}

impl Encodable for Receipt {
    fn encode(&self, out: &mut dyn BufMut) {
        self.fields().encode(out)
    }
    fn length(&self) -> usize {
        self.fields().length()
    }
}

impl Decodable for Receipt {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let fields = ReceiptFields::decode(buf)?;
        let outcome = match (fields.status, fields.reason) {
            (1, 0) => Outcome::Success,
            (0, code) => Outcome::Failed(
                FailureReason::from_code(code).ok_or(alloy_rlp::Error::Custom("unknown reason"))?,
            ),
            _ => return Err(alloy_rlp::Error::Custom("invalid receipt status")),
        };
        Ok(Self {
            tx_hash: fields.tx_hash,
            outcome,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_round_trip_and_reject_unknown_codes() {
        for outcome in [
            Outcome::Success,
            Outcome::Failed(FailureReason::InsufficientFunds),
            Outcome::Failed(FailureReason::BalanceOverflow),
        ] {
            let receipt = Receipt {
                tx_hash: B256::repeat_byte(9),
                outcome,
            };
            assert_eq!(
                crate::decode_exact::<Receipt>(&receipt.encoded()).unwrap(),
                receipt
            );
        }
        let bad = alloy_rlp::encode(ReceiptFields {
            tx_hash: B256::ZERO,
            status: 0,
            reason: 9,
        });
        assert!(crate::decode_exact::<Receipt>(&bad).is_err());
        let bad = alloy_rlp::encode(ReceiptFields {
            tx_hash: B256::ZERO,
            status: 1,
            reason: 1,
        });
        assert!(crate::decode_exact::<Receipt>(&bad).is_err());
    }
}
