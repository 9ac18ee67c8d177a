//! Request bodies read field by field, so that a bad one is refused with the field's name and
//! what it should hold (`"to": not an address (0x + 40 hex digits)`), never with a parser's
//! type names.

use std::fmt;

use cairn_primitives::serde_helpers::{parse_0x_hex_array, parse_amount};
use cairn_primitives::{AccountPublicKey, Address, Signature};
use serde_json::{Map, Value};

use crate::{BatchRequest, RawTransaction, TransactionFields, TransactionRequest};

/// A request field that does not hold what it should.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Where: `to`, `transactions[3].amount`; empty for the body as a whole.
    pub field: String,
    /// What it should be.
    pub reason: String,
}

impl FieldError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The same error for a field inside `outer`.
    fn within(self, outer: &str) -> Self {
        let field = if self.field.is_empty() {
            outer.to_string()
        } else {
            format!("{outer}.{}", self.field)
        };
        Self { field, ..self }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "\"{}\": {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for FieldError {}

const TRANSFER_FIELDS: [&str; 6] = [
    "chain_id",
    "nonce",
    "to",
    "amount",
    "public_key",
    "signature",
];

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, FieldError> {
    value
        .as_object()
        .ok_or_else(|| FieldError::new("", format!("expected {what}, got {}", kind(value))))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required<'a>(map: &'a Map<String, Value>, name: &str) -> Result<&'a Value, FieldError> {
    map.get(name)
        .ok_or_else(|| FieldError::new(name, "missing (required)"))
}

fn integer(map: &Map<String, Value>, name: &str) -> Result<u64, FieldError> {
    required(map, name)?
        .as_u64()
        .ok_or_else(|| FieldError::new(name, "not an integer from 0 to 2^64-1"))
}

fn hex<const N: usize>(
    map: &Map<String, Value>,
    name: &str,
    what: &str,
) -> Result<[u8; N], FieldError> {
    required(map, name)?
        .as_str()
        .and_then(|text| parse_0x_hex_array::<N>(text).ok())
        .ok_or_else(|| FieldError::new(name, format!("not {what} (0x + {} hex digits)", 2 * N)))
}

fn public_key(map: &Map<String, Value>, name: &str) -> Result<AccountPublicKey, FieldError> {
    required(map, name)?
        .as_str()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| {
            FieldError::new(
                name,
                "not a public key (0x + 64 hex digits for ed25519, or 66 starting 02 or 03 for a compressed SM2 point)",
            )
        })
}

fn amount(map: &Map<String, Value>, name: &str) -> Result<u128, FieldError> {
    // A string only: JSON numbers lose precision above 2^53 in most clients.
    required(map, name)?
        .as_str()
        .and_then(|text| parse_amount(text).ok())
        .ok_or_else(|| {
            FieldError::new(
                name,
                "not an amount (base units as a decimal string such as \"1000\", below 2^128)",
            )
        })
}

impl TransactionFields {
    /// Reads the fields of a signed transfer from a JSON object.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let map = object(value, "an object with the transfer's signed fields")?;
        if let Some(unknown) = map.keys().find(|k| !TRANSFER_FIELDS.contains(&k.as_str())) {
            return Err(FieldError::new(
                unknown.as_str(),
                format!(
                    "unknown field (a transfer has {})",
                    TRANSFER_FIELDS.join(", ")
                ),
            ));
        }
        Ok(Self {
            chain_id: integer(map, "chain_id")?,
            nonce: integer(map, "nonce")?,
            to: Address::from(hex::<20>(map, "to", "an address")?),
            amount: amount(map, "amount")?,
            public_key: public_key(map, "public_key")?,
            signature: Signature(hex::<64>(map, "signature", "a signature")?),
        })
    }
}

impl TransactionRequest {
    /// Reads a submitted transfer: `{"raw": "0x…"}` alone, or the signed fields.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let map = object(
            value,
            "an object: the transfer's signed fields, or {\"raw\": \"0x…\"}",
        )?;
        let Some(raw) = map.get("raw") else {
            return TransactionFields::from_json(value).map(Self::Fields);
        };
        if let Some(other) = map.keys().find(|k| *k != "raw") {
            return Err(FieldError::new(
                other.as_str(),
                "not allowed next to \"raw\" (give the encoding alone, or the fields)",
            ));
        }
        let raw = raw
            .as_str()
            .filter(|text| {
                text.strip_prefix("0x").is_some_and(|digits| {
                    !digits.is_empty()
                        && digits.len() % 2 == 0
                        && digits.bytes().all(|b| b.is_ascii_hexdigit())
                })
            })
            .ok_or_else(|| FieldError::new("raw", "not 0x-hex of a signed transaction"))?;
        Ok(Self::Raw(RawTransaction {
            raw: raw.to_string(),
        }))
    }
}

impl BatchRequest {
    /// Reads `{"transactions": [...]}`, naming the entry at fault (`transactions[3].to`).
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let map = object(value, "an object {\"transactions\": [...]}")?;
        if let Some(unknown) = map.keys().find(|k| *k != "transactions") {
            return Err(FieldError::new(
                unknown.as_str(),
                "unknown field (a batch has only \"transactions\")",
            ));
        }
        let entries = required(map, "transactions")?
            .as_array()
            .ok_or_else(|| FieldError::new("transactions", "not an array of transfers"))?;
        let transactions = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                TransactionRequest::from_json(entry)
                    .map_err(|e| e.within(&format!("transactions[{i}]")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { transactions })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn valid() -> Value {
        json!({
            "chain_id": 1, "nonce": 0, "to": format!("0x{}", "ab".repeat(20)), "amount": "10",
            "public_key": format!("0x{}", "01".repeat(32)),
            "signature": format!("0x{}", "02".repeat(64)),
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = valid();
        body[field] = value;
        body
    }

    fn error(body: &Value) -> String {
        TransactionRequest::from_json(body).unwrap_err().to_string()
    }

    #[test]
    fn a_valid_body_reads_both_ways() {
        let fields = TransactionRequest::from_json(&valid()).unwrap();
        let TransactionRequest::Fields(read) = &fields else {
            panic!("{fields:?}")
        };
        assert_eq!(read.amount, 10);
        // Serialize, then read back through serde: the same request.
        let text = serde_json::to_string(&fields).unwrap();
        assert_eq!(
            serde_json::from_str::<TransactionRequest>(&text).unwrap(),
            fields
        );
        let raw = json!({"raw": "0xc0"});
        assert_eq!(
            TransactionRequest::from_json(&raw).unwrap(),
            TransactionRequest::Raw(RawTransaction { raw: "0xc0".into() })
        );
    }

    #[test]
    fn every_bad_field_is_named_with_what_it_should_be() {
        let cases = [
            (
                with("to", json!("5fbdb2315678afecb367f032d93f642f64180aa3")),
                "\"to\": not an address (0x + 40 hex digits)",
            ),
            (with("to", json!(7)), "\"to\": not an address"),
            (with("amount", json!("-5")), "\"amount\": not an amount"),
            (with("amount", json!(-5)), "\"amount\": not an amount"),
            (
                with("amount", json!(5)),
                "\"amount\": not an amount (base units as a decimal string",
            ),
            (with("amount", json!("1.5")), "\"amount\": not an amount"),
            (with("nonce", json!("1")), "\"nonce\": not an integer"),
            (with("chain_id", json!(-1)), "\"chain_id\": not an integer"),
            (
                with("public_key", json!("0x01")),
                "\"public_key\": not a public key (0x + 64 hex digits for ed25519, or 66 starting 02 or 03 for a compressed SM2 point)",
            ),
            (
                with("signature", json!(null)),
                "\"signature\": not a signature (0x + 128 hex digits)",
            ),
            (with("memo", json!("hi")), "\"memo\": unknown field"),
            (
                json!({"raw": "0xc0", "nonce": 1}),
                "\"nonce\": not allowed next to \"raw\"",
            ),
            (json!({"raw": 5}), "\"raw\": not 0x-hex"),
            (json!({"raw": "0xzz"}), "\"raw\": not 0x-hex"),
            (json!({"raw": "c0"}), "\"raw\": not 0x-hex"),
            (json!({"raw": "0xc"}), "\"raw\": not 0x-hex"),
            (json!([1, 2]), "expected an object"),
        ];
        for (body, expected) in cases {
            let message = error(&body);
            assert!(message.starts_with(expected), "{body}: {message}");
            assert!(
                !message.contains("untagged") && !message.contains("u64"),
                "{message}"
            );
        }
        let mut missing = valid();
        missing.as_object_mut().unwrap().remove("signature");
        assert_eq!(error(&missing), "\"signature\": missing (required)");
    }

    #[test]
    fn batch_errors_name_the_entry() {
        let body = json!({"transactions": [valid(), with("to", json!("0x12"))]});
        let error = BatchRequest::from_json(&body).unwrap_err();
        assert_eq!(error.field, "transactions[1].to");
        let error = BatchRequest::from_json(&json!({"transactions": [5]})).unwrap_err();
        assert_eq!(error.field, "transactions[0]");
        assert!(error.reason.starts_with("expected an object"), "{error}");
        let error = BatchRequest::from_json(&json!({"txs": []})).unwrap_err();
        assert_eq!(error.field, "txs");
        // serde reads batches the same way.
        let text = json!({"transactions": [valid()]}).to_string();
        assert_eq!(
            serde_json::from_str::<BatchRequest>(&text)
                .unwrap()
                .transactions
                .len(),
            1
        );
    }
}
