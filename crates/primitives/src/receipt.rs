//! Receipts: what executing a transaction did.

use alloy_primitives::B256;
use alloy_rlp::{BufMut, Decodable, Encodable, Header as RlpHeader};
use serde::{Deserialize, Serialize};

use crate::ContractError;
use crate::acs::{error_from_parts, error_parts};

/// Why an included transaction had no effect besides consuming its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The sender's balance was below the amount when the transfer executed.
    InsufficientFunds,
    /// The recipient's balance would have exceeded the largest representable amount.
    BalanceOverflow,
    /// A contract action failed or was refused; the receipt's contract result says why.
    Contract,
}

impl FailureReason {
    fn code(self) -> u8 {
        match self {
            Self::InsufficientFunds => 1,
            Self::BalanceOverflow => 2,
            Self::Contract => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::InsufficientFunds),
            2 => Some(Self::BalanceOverflow),
            3 => Some(Self::Contract),
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

/// What a contract action did, beyond its status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContractResult {
    /// Gas spent.
    pub gas_used: u64,
    /// The value the contract returned (`p.w.return`), an ACS decimal with 18 places.
    pub returned: Option<i128>,
    /// Why the action failed, with its place in the package source.
    pub error: Option<ContractError>,
}

/// A transaction's receipt.
///
/// Version 1 (transfers): `rlp([tx_hash, status, reason])`, where status is 1 for success and
/// 0 for failure (as in Ethereum's EIP-658 receipts) and reason is 0 or a failure code.
/// Version 2 (contract actions) appends the contract result: `rlp([tx_hash, status, reason,
/// gas_used, returned, error, line, col])`, `returned` being empty or the 16 bytes of the
/// decimal, `error` empty or the message. The field count tells the versions apart, so every
/// receipt written before contracts existed still decodes, and hashes, as it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Hash of the transaction this receipt belongs to.
    pub tx_hash: B256,
    /// What happened.
    pub outcome: Outcome,
    /// For a contract action, what the contract did.
    pub contract: Option<ContractResult>,
}

impl Receipt {
    /// A transfer's receipt.
    pub fn transfer(tx_hash: B256, outcome: Outcome) -> Self {
        Self {
            tx_hash,
            outcome,
            contract: None,
        }
    }

    fn status_reason(&self) -> (u8, u8) {
        match self.outcome {
            Outcome::Success => (1, 0),
            Outcome::Failed(reason) => (0, reason.code()),
        }
    }

    fn payload_length(&self) -> usize {
        let (status, reason) = self.status_reason();
        let mut length = self.tx_hash.length() + status.length() + reason.length();
        if let Some(result) = &self.contract {
            let (message, line, col) = error_parts(result.error.as_ref());
            length += result.gas_used.length()
                + returned_bytes(result.returned).as_slice().length()
                + message.as_bytes().length()
                + line.length()
                + col.length();
        }
        length
    }

    /// The canonical encoding (the value stored in the receipts trie).
    pub fn encoded(&self) -> Vec<u8> {
        alloy_rlp::encode(self)
    }
}

fn returned_bytes(returned: Option<i128>) -> Vec<u8> {
    returned.map_or_else(Vec::new, |value| value.to_be_bytes().to_vec())
}

impl Encodable for Receipt {
    fn encode(&self, out: &mut dyn BufMut) {
        RlpHeader {
            list: true,
            payload_length: self.payload_length(),
        }
        .encode(out);
        let (status, reason) = self.status_reason();
        self.tx_hash.encode(out);
        status.encode(out);
        reason.encode(out);
        if let Some(result) = &self.contract {
            let (message, line, col) = error_parts(result.error.as_ref());
            result.gas_used.encode(out);
            returned_bytes(result.returned).as_slice().encode(out);
            message.as_bytes().encode(out);
            line.encode(out);
            col.encode(out);
        }
    }
    fn length(&self) -> usize {
        let payload = self.payload_length();
        payload + alloy_rlp::length_of_length(payload)
    }
}

impl Decodable for Receipt {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut payload = RlpHeader::decode_bytes(buf, true)?;
        let tx_hash = B256::decode(&mut payload)?;
        let status = u8::decode(&mut payload)?;
        let reason = u8::decode(&mut payload)?;
        let outcome = match (status, reason) {
            (1, 0) => Outcome::Success,
            (0, code) => Outcome::Failed(
                FailureReason::from_code(code).ok_or(alloy_rlp::Error::Custom("unknown reason"))?,
            ),
            _ => return Err(alloy_rlp::Error::Custom("invalid receipt status")),
        };
        let contract = if payload.is_empty() {
            None
        } else {
            let gas_used = u64::decode(&mut payload)?;
            let returned = match RlpHeader::decode_bytes(&mut payload, false)? {
                [] => None,
                bytes => Some(i128::from_be_bytes(bytes.try_into().map_err(|_| {
                    alloy_rlp::Error::Custom("a returned value is 16 bytes")
                })?)),
            };
            let message = std::str::from_utf8(RlpHeader::decode_bytes(&mut payload, false)?)
                .map_err(|_| alloy_rlp::Error::Custom("error is not UTF-8"))?
                .to_owned();
            let line = u32::decode(&mut payload)?;
            let col = u32::decode(&mut payload)?;
            if !payload.is_empty() {
                return Err(alloy_rlp::Error::Custom("trailing fields in a receipt"));
            }
            Some(ContractResult {
                gas_used,
                returned,
                error: error_from_parts(message, line, col),
            })
        };
        Ok(Self {
            tx_hash,
            outcome,
            contract,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(alloy_rlp::RlpEncodable)]
    struct V1Fields {
        tx_hash: B256,
        status: u8,
        reason: u8,
    }

    #[test]
    fn receipts_round_trip_and_reject_unknown_codes() {
        for outcome in [
            Outcome::Success,
            Outcome::Failed(FailureReason::InsufficientFunds),
            Outcome::Failed(FailureReason::BalanceOverflow),
        ] {
            let receipt = Receipt::transfer(B256::repeat_byte(9), outcome);
            assert_eq!(
                crate::decode_exact::<Receipt>(&receipt.encoded()).unwrap(),
                receipt
            );
        }
        let bad = alloy_rlp::encode(V1Fields {
            tx_hash: B256::ZERO,
            status: 0,
            reason: 9,
        });
        assert!(crate::decode_exact::<Receipt>(&bad).is_err());
        let bad = alloy_rlp::encode(V1Fields {
            tx_hash: B256::ZERO,
            status: 1,
            reason: 1,
        });
        assert!(crate::decode_exact::<Receipt>(&bad).is_err());
    }

    #[test]
    fn transfer_receipts_keep_the_version_1_encoding() {
        // Written before contracts existed: three fields, byte for byte.
        let v1 = alloy_rlp::encode(V1Fields {
            tx_hash: B256::repeat_byte(4),
            status: 0,
            reason: 1,
        });
        let receipt = crate::decode_exact::<Receipt>(&v1).unwrap();
        assert_eq!(receipt.contract, None);
        assert_eq!(receipt.encoded(), v1);
    }

    #[test]
    fn contract_receipts_round_trip() {
        for (outcome, result) in [
            (
                Outcome::Success,
                ContractResult {
                    gas_used: 120,
                    returned: Some(-51_900_000_000_000_000_000),
                    error: None,
                },
            ),
            (
                Outcome::Success,
                ContractResult {
                    gas_used: 0,
                    returned: None,
                    error: None,
                },
            ),
            (
                Outcome::Failed(FailureReason::Contract),
                ContractResult {
                    gas_used: 77,
                    returned: None,
                    error: Some(ContractError {
                        message: "division by zero".into(),
                        line: 4,
                        col: 9,
                    }),
                },
            ),
        ] {
            let receipt = Receipt {
                tx_hash: B256::repeat_byte(1),
                outcome,
                contract: Some(result),
            };
            let bytes = receipt.encoded();
            assert_eq!(bytes.len(), receipt.length());
            assert_eq!(crate::decode_exact::<Receipt>(&bytes).unwrap(), receipt);
        }
        // A returned value must be 16 bytes.
        let mut bad = Vec::new();
        RlpHeader {
            list: true,
            payload_length: 33 + 1 + 1 + 1 + 3 + 1 + 1 + 1,
        }
        .encode(&mut bad);
        B256::ZERO.encode(&mut bad);
        1u8.encode(&mut bad);
        0u8.encode(&mut bad);
        5u64.encode(&mut bad);
        [1u8, 2].as_slice().encode(&mut bad);
        b"".as_slice().encode(&mut bad);
        0u32.encode(&mut bad);
        0u32.encode(&mut bad);
        assert!(crate::decode_exact::<Receipt>(&bad).is_err());
    }
}
