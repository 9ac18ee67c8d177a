//! Contract (ACS) transactions and the records of scheduled runs.
//!
//! An ACS transaction travels in a typed envelope, as Ethereum's EIP-2718 transactions do:
//! the type byte [`ACS_TX_TYPE`] followed by `rlp([chain_id, nonce, gas_limit, action,
//! public_key, signature])`. A transfer's encoding is an RLP list, whose first byte is at least
//! `0xc0`, so the first byte tells the two apart and every transfer keeps its encoding and hash.
//! Inside a block (an RLP list of transactions) a typed transaction is an RLP string holding
//! its envelope, again as in Ethereum.
//!
//! The signature covers `ACS_SIGNING_DOMAIN || rlp([chain_id, nonce, gas_limit, action])`.
//! Actions:
//!
//! | action | encoding |
//! | --- | --- |
//! | deploy a package | `[0, source]` |
//! | join a package as a holder | `[1, package]` |
//! | set fields of a record | `[2, package, record, [[name, value], …]]` |
//! | call a contract on a record | `[3, package, contract, record]` |
//!
//! Field values are ACS decimals: 18 decimal places in an `i128`, carried as the 16 bytes of
//! its two's complement, big-endian.

use alloy_primitives::{Address, Bytes};
use alloy_rlp::{BufMut, Decodable, Encodable, Header as RlpHeader};

/// The envelope type byte of an ACS transaction.
pub const ACS_TX_TYPE: u8 = 0x01;
/// Largest encoded ACS transaction (a deployment carries its package's source).
pub const MAX_ACS_TRANSACTION_BYTES: usize = 32 * 1024;
/// Largest package source a deployment may carry.
pub const MAX_PACKAGE_SOURCE_BYTES: usize = 24 * 1024;
/// Most fields one `set` may write.
pub const MAX_SET_FIELDS: usize = 64;
/// Longest field or contract name.
pub const MAX_NAME_BYTES: usize = 64;

/// Prefix of every ACS transaction's signing message (transfers and block seals use others).
pub(crate) const ACS_SIGNING_DOMAIN: &[u8] = b"cairn/acs/v1";

/// What an ACS transaction does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcsAction {
    /// Deploy a package: a properties file of contracts, constants and `#when` lines. The
    /// sender becomes the package's operator.
    Deploy {
        /// The package's source, UTF-8.
        source: Bytes,
    },
    /// Join a package as a holder (the sender's own record).
    Join {
        /// The package.
        package: Address,
    },
    /// Set fields of a record (the operator only).
    Set {
        /// The package.
        package: Address,
        /// Whose record.
        record: Address,
        /// Field names and their new values (decimals, 18 places).
        fields: Vec<(String, i128)>,
    },
    /// Run a contract on a record.
    Call {
        /// The package.
        package: Address,
        /// The contract's name (`holder`, `holder.getvbl`).
        contract: String,
        /// Whose record it runs on.
        record: Address,
    },
}

/// An unsigned ACS transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsTransaction {
    /// The chain it is valid on.
    pub chain_id: u64,
    /// The sender's sequence number (shared with its transfers).
    pub nonce: u64,
    /// Most gas the transaction may spend.
    pub gas_limit: u64,
    /// What it does.
    pub action: AcsAction,
}

impl AcsAction {
    /// A short name for the action: `deploy`, `join`, `set`, `call`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Deploy { .. } => "deploy",
            Self::Join { .. } => "join",
            Self::Set { .. } => "set",
            Self::Call { .. } => "call",
        }
    }

    /// The package the action addresses (`None` for a deployment, which creates one).
    pub fn package(&self) -> Option<Address> {
        match self {
            Self::Deploy { .. } => None,
            Self::Join { package } | Self::Set { package, .. } | Self::Call { package, .. } => {
                Some(*package)
            }
        }
    }

    fn payload_length(&self) -> usize {
        match self {
            Self::Deploy { source } => 0u8.length() + source.length(),
            Self::Join { package } => 1u8.length() + package.length(),
            Self::Set {
                package,
                record,
                fields,
            } => 2u8.length() + package.length() + record.length() + fields_length(fields),
            Self::Call {
                package,
                contract,
                record,
            } => 3u8.length() + package.length() + contract.as_bytes().length() + record.length(),
        }
    }
}

fn field_length(name: &str, value: i128) -> usize {
    let payload = name.as_bytes().length() + value.to_be_bytes().length();
    payload + alloy_rlp::length_of_length(payload)
}

fn fields_payload_length(fields: &[(String, i128)]) -> usize {
    fields
        .iter()
        .map(|(name, value)| field_length(name, *value))
        .sum()
}

fn fields_length(fields: &[(String, i128)]) -> usize {
    let payload = fields_payload_length(fields);
    payload + alloy_rlp::length_of_length(payload)
}

impl Encodable for AcsAction {
    fn encode(&self, out: &mut dyn BufMut) {
        RlpHeader {
            list: true,
            payload_length: self.payload_length(),
        }
        .encode(out);
        match self {
            Self::Deploy { source } => {
                0u8.encode(out);
                source.encode(out);
            }
            Self::Join { package } => {
                1u8.encode(out);
                package.encode(out);
            }
            Self::Set {
                package,
                record,
                fields,
            } => {
                2u8.encode(out);
                package.encode(out);
                record.encode(out);
                RlpHeader {
                    list: true,
                    payload_length: fields_payload_length(fields),
                }
                .encode(out);
                for (name, value) in fields {
                    RlpHeader {
                        list: true,
                        payload_length: name.as_bytes().length() + value.to_be_bytes().length(),
                    }
                    .encode(out);
                    name.as_bytes().encode(out);
                    value.to_be_bytes().encode(out);
                }
            }
            Self::Call {
                package,
                contract,
                record,
            } => {
                3u8.encode(out);
                package.encode(out);
                contract.as_bytes().encode(out);
                record.encode(out);
            }
        }
    }

    fn length(&self) -> usize {
        let payload = self.payload_length();
        payload + alloy_rlp::length_of_length(payload)
    }
}

/// Whether `name` may name a field: a letter or `_`, then letters, digits and `_`.
pub fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_BYTES
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` may name a contract: field-name parts joined by dots (`holder.getvbl`).
pub fn is_contract_name(name: &str) -> bool {
    name.len() <= MAX_NAME_BYTES && name.split('.').all(is_field_name)
}

fn decode_name(buf: &mut &[u8], what: &'static str) -> alloy_rlp::Result<String> {
    let bytes = RlpHeader::decode_bytes(buf, false)?;
    let name = std::str::from_utf8(bytes).map_err(|_| alloy_rlp::Error::Custom(what))?;
    Ok(name.to_owned())
}

impl Decodable for AcsAction {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut payload = RlpHeader::decode_bytes(buf, true)?;
        let action = match u8::decode(&mut payload)? {
            0 => {
                let source = Bytes::decode(&mut payload)?;
                if source.len() > MAX_PACKAGE_SOURCE_BYTES {
                    return Err(alloy_rlp::Error::Custom("package source too long"));
                }
                if std::str::from_utf8(&source).is_err() {
                    return Err(alloy_rlp::Error::Custom("package source is not UTF-8"));
                }
                Self::Deploy { source }
            }
            1 => Self::Join {
                package: Address::decode(&mut payload)?,
            },
            2 => {
                let package = Address::decode(&mut payload)?;
                let record = Address::decode(&mut payload)?;
                let mut list = RlpHeader::decode_bytes(&mut payload, true)?;
                let mut fields: Vec<(String, i128)> = Vec::new();
                while !list.is_empty() {
                    if fields.len() == MAX_SET_FIELDS {
                        return Err(alloy_rlp::Error::Custom("too many fields"));
                    }
                    let mut pair = RlpHeader::decode_bytes(&mut list, true)?;
                    let name = decode_name(&mut pair, "field name is not UTF-8")?;
                    if !is_field_name(&name) {
                        return Err(alloy_rlp::Error::Custom("invalid field name"));
                    }
                    let value = i128::from_be_bytes(<[u8; 16]>::decode(&mut pair)?);
                    if !pair.is_empty() {
                        return Err(alloy_rlp::Error::Custom("trailing items in a field"));
                    }
                    if fields.iter().any(|(seen, _)| *seen == name) {
                        return Err(alloy_rlp::Error::Custom("a field is set twice"));
                    }
                    fields.push((name, value));
                }
                if fields.is_empty() {
                    return Err(alloy_rlp::Error::Custom("no fields to set"));
                }
                Self::Set {
                    package,
                    record,
                    fields,
                }
            }
            3 => {
                let package = Address::decode(&mut payload)?;
                let contract = decode_name(&mut payload, "contract name is not UTF-8")?;
                if !is_contract_name(&contract) {
                    return Err(alloy_rlp::Error::Custom("invalid contract name"));
                }
                let record = Address::decode(&mut payload)?;
                Self::Call {
                    package,
                    contract,
                    record,
                }
            }
            _ => return Err(alloy_rlp::Error::Custom("unknown ACS action")),
        };
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::Custom("trailing items in an ACS action"));
        }
        Ok(action)
    }
}

impl AcsTransaction {
    pub(crate) fn fields_length(&self) -> usize {
        self.chain_id.length()
            + self.nonce.length()
            + self.gas_limit.length()
            + self.action.length()
    }

    pub(crate) fn encode_fields(&self, out: &mut dyn BufMut) {
        self.chain_id.encode(out);
        self.nonce.encode(out);
        self.gas_limit.encode(out);
        self.action.encode(out);
    }

    pub(crate) fn decode_fields(payload: &mut &[u8]) -> alloy_rlp::Result<Self> {
        Ok(Self {
            chain_id: u64::decode(payload)?,
            nonce: u64::decode(payload)?,
            gas_limit: u64::decode(payload)?,
            action: AcsAction::decode(payload)?,
        })
    }

    /// The exact bytes the sender signs.
    pub fn signing_message(&self) -> Vec<u8> {
        let payload_length = self.fields_length();
        let header = RlpHeader {
            list: true,
            payload_length,
        };
        let mut out =
            Vec::with_capacity(ACS_SIGNING_DOMAIN.len() + header.length() + payload_length);
        out.extend_from_slice(ACS_SIGNING_DOMAIN);
        header.encode(&mut out);
        self.encode_fields(&mut out);
        out
    }
}

/// The address of the package `deployer` creates with its `nonce`-th transaction on a `suite`
/// chain: the last 20 bytes of H("cairn/acs/package" || deployer || nonce as 8 bytes,
/// big-endian), H the suite's hash. No key controls it, and no two deployments share one.
pub fn package_address(suite: crate::CryptoSuite, deployer: &Address, nonce: u64) -> Address {
    let mut preimage = Vec::with_capacity(17 + 20 + 8);
    preimage.extend_from_slice(b"cairn/acs/package");
    preimage.extend_from_slice(deployer.as_slice());
    preimage.extend_from_slice(&nonce.to_be_bytes());
    Address::from_slice(&suite.hash(&preimage)[12..])
}

/// Where a contract failed: its message and its place in the package's source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractError {
    /// What went wrong.
    pub message: String,
    /// Line in the package source (1-based; 0 when the failure has no place, such as a
    /// refused action).
    pub line: u32,
    /// Column (1-based; 0 when there is no place).
    pub col: u32,
}

impl ContractError {
    /// An error without a place in the source.
    pub fn unplaced(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            line: 0,
            col: 0,
        }
    }
}

impl ContractError {
    /// The error with its message cut to [`MAX_ERROR_BYTES`] (at a character boundary), as
    /// receipts and run records store it, so what a node keeps in memory is what it stores.
    pub fn bounded(mut self) -> Self {
        if self.message.len() > MAX_ERROR_BYTES {
            self.message = bounded_message(&self.message).to_owned();
        }
        self
    }
}

impl std::fmt::Display for ContractError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "{}:{}: {}", self.line, self.col, self.message)
        }
    }
}

/// Longest error message a receipt or run record keeps (longer ones are cut at a character
/// boundary).
pub const MAX_ERROR_BYTES: usize = 512;

pub(crate) fn bounded_message(message: &str) -> &str {
    if message.len() <= MAX_ERROR_BYTES {
        return message;
    }
    let mut end = MAX_ERROR_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

/// One scheduled run: what the chain's job executor did at the start of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    /// The package whose schedule line fell due.
    pub package: Address,
    /// The contract run, or `commitACS` for an activation.
    pub contract: String,
    /// The record it ran on.
    pub record: Address,
    /// Height of the block whose start it ran at.
    pub height: u64,
    /// That block's timestamp (ms since the Unix epoch, UTC).
    pub time_ms: u64,
    /// How many blocks after it fell due it ran (0: in the block it fell due in).
    pub late_blocks: u64,
    /// Gas it spent.
    pub gas_used: u64,
    /// Why it failed; `None` if it ran to the end.
    pub error: Option<ContractError>,
}

impl JobRun {
    fn payload_length(&self) -> usize {
        let (message, line, col) = error_parts(self.error.as_ref());
        self.package.length()
            + self.contract.as_bytes().length()
            + self.record.length()
            + self.height.length()
            + self.time_ms.length()
            + self.late_blocks.length()
            + self.gas_used.length()
            + message.as_bytes().length()
            + line.length()
            + col.length()
    }
}

pub(crate) fn error_parts(error: Option<&ContractError>) -> (&str, u32, u32) {
    match error {
        None => ("", 0, 0),
        Some(error) => (bounded_message(&error.message), error.line, error.col),
    }
}

pub(crate) fn error_from_parts(message: String, line: u32, col: u32) -> Option<ContractError> {
    (!message.is_empty() || line != 0 || col != 0).then_some(ContractError { message, line, col })
}

impl Encodable for JobRun {
    fn encode(&self, out: &mut dyn BufMut) {
        RlpHeader {
            list: true,
            payload_length: self.payload_length(),
        }
        .encode(out);
        let (message, line, col) = error_parts(self.error.as_ref());
        self.package.encode(out);
        self.contract.as_bytes().encode(out);
        self.record.encode(out);
        self.height.encode(out);
        self.time_ms.encode(out);
        self.late_blocks.encode(out);
        self.gas_used.encode(out);
        message.as_bytes().encode(out);
        line.encode(out);
        col.encode(out);
    }

    fn length(&self) -> usize {
        let payload = self.payload_length();
        payload + alloy_rlp::length_of_length(payload)
    }
}

impl Decodable for JobRun {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        let mut payload = RlpHeader::decode_bytes(buf, true)?;
        let run = Self {
            package: Address::decode(&mut payload)?,
            contract: decode_name(&mut payload, "contract name is not UTF-8")?,
            record: Address::decode(&mut payload)?,
            height: u64::decode(&mut payload)?,
            time_ms: u64::decode(&mut payload)?,
            late_blocks: u64::decode(&mut payload)?,
            gas_used: u64::decode(&mut payload)?,
            error: {
                let message = decode_name(&mut payload, "error is not UTF-8")?;
                let line = u32::decode(&mut payload)?;
                let col = u32::decode(&mut payload)?;
                error_from_parts(message, line, col)
            },
        };
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::Custom("trailing items in a job run"));
        }
        Ok(run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(action: AcsAction) {
        let bytes = alloy_rlp::encode(&action);
        assert_eq!(bytes.len(), action.length());
        assert_eq!(crate::decode_exact::<AcsAction>(&bytes).unwrap(), action);
    }

    #[test]
    fn actions_round_trip() {
        round_trip(AcsAction::Deploy {
            source: Bytes::from_static(b"afs.x.acs.operator={p.w.a = 1;}"),
        });
        round_trip(AcsAction::Join {
            package: Address::repeat_byte(7),
        });
        round_trip(AcsAction::Set {
            package: Address::repeat_byte(7),
            record: Address::repeat_byte(8),
            fields: vec![("bl".into(), 900 * 10i128.pow(18)), ("x_1".into(), -5)],
        });
        round_trip(AcsAction::Call {
            package: Address::repeat_byte(7),
            contract: "holder.getvbl".into(),
            record: Address::repeat_byte(9),
        });
    }

    #[test]
    fn invalid_actions_are_refused() {
        let set = |fields: Vec<(String, i128)>| {
            alloy_rlp::encode(AcsAction::Set {
                package: Address::ZERO,
                record: Address::ZERO,
                fields,
            })
        };
        for (bytes, why) in [
            (set(vec![]), "no fields"),
            (set(vec![("a".into(), 1), ("a".into(), 2)]), "twice"),
            (set(vec![("1a".into(), 1)]), "invalid field name"),
            (set(vec![("a b".into(), 1)]), "invalid field name"),
            (
                set((0..=MAX_SET_FIELDS).map(|i| (format!("f{i}"), 1)).collect()),
                "too many",
            ),
            (
                alloy_rlp::encode(AcsAction::Call {
                    package: Address::ZERO,
                    contract: "holder..x".into(),
                    record: Address::ZERO,
                }),
                "invalid contract name",
            ),
            (
                alloy_rlp::encode(AcsAction::Deploy {
                    source: Bytes::from(vec![b'a'; MAX_PACKAGE_SOURCE_BYTES + 1]),
                }),
                "too long",
            ),
            (
                alloy_rlp::encode(AcsAction::Deploy {
                    source: Bytes::from(vec![0xff, 0xfe]),
                }),
                "UTF-8",
            ),
        ] {
            let error = crate::decode_exact::<AcsAction>(&bytes).unwrap_err();
            assert!(error.to_string().contains(why), "{why}: {error}");
        }
        // An unknown action kind.
        let mut unknown = Vec::new();
        RlpHeader {
            list: true,
            payload_length: 1,
        }
        .encode(&mut unknown);
        9u8.encode(&mut unknown);
        assert!(crate::decode_exact::<AcsAction>(&unknown).is_err());
    }

    #[test]
    fn job_runs_round_trip() {
        for error in [
            None,
            Some(ContractError {
                message: "division by zero".into(),
                line: 3,
                col: 17,
            }),
        ] {
            let run = JobRun {
                package: Address::repeat_byte(1),
                contract: "holder".into(),
                record: Address::repeat_byte(2),
                height: 12,
                time_ms: 1_700_000_000_000,
                late_blocks: 2,
                gas_used: 345,
                error,
            };
            let bytes = alloy_rlp::encode(&run);
            assert_eq!(bytes.len(), run.length());
            assert_eq!(crate::decode_exact::<JobRun>(&bytes).unwrap(), run);
        }
    }

    #[test]
    fn package_addresses_differ_by_deployer_and_nonce() {
        let a = Address::repeat_byte(1);
        let b = Address::repeat_byte(2);
        let ed = crate::CryptoSuite::Ed25519Keccak;
        let sm = crate::CryptoSuite::Sm2Sm3;
        assert_ne!(package_address(ed, &a, 0), package_address(ed, &a, 1));
        assert_ne!(package_address(ed, &a, 0), package_address(ed, &b, 0));
        assert_eq!(package_address(ed, &a, 3), package_address(ed, &a, 3));
        assert_ne!(package_address(ed, &a, 3), package_address(sm, &a, 3));
    }

    #[test]
    fn long_errors_are_cut_at_a_character_boundary() {
        let message = "é".repeat(MAX_ERROR_BYTES);
        let cut = bounded_message(&message);
        assert!(cut.len() <= MAX_ERROR_BYTES);
        assert!(message.starts_with(cut));
    }
}
