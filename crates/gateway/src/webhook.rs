//! Webhooks as [Standard Webhooks] has them: what a receiver matches, its secret, and the
//! signature each delivery carries.
//!
//! A secret is `whsec_` and the base64 of 24 random bytes; the key is those bytes. Each attempt
//! at a delivery is signed afresh: `webhook-signature: v1,<base64 of HMAC-SHA256(key,
//! "{webhook-id}.{webhook-timestamp}.{body}")>`, so any Standard Webhooks library checks it.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use cairn_primitives::{Address, B256};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// What a receiver is told about: the results of the transactions one device sent, of the
/// transfers to one account, or of one transaction (seed 002's steps 303–304 and 42–43).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Match {
    /// Transactions sent by this device (`X-Device-Id`).
    Device(String),
    /// Transfers to this account.
    Recipient(Address),
    /// This transaction.
    Transaction(B256),
}

impl Match {
    /// The key receivers with this match are indexed under.
    pub(crate) fn index_key(&self) -> String {
        match self {
            Self::Device(device) => format!("device\0{device}"),
            Self::Recipient(account) => format!("recipient\0{account:#x}"),
            Self::Transaction(hash) => format!("transaction\0{hash}"),
        }
    }
}

/// Prefix of a secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new random secret: `whsec_` and the base64 of 24 random bytes.
pub fn new_secret() -> String {
    let key: [u8; 24] = rand::random();
    format!("{SECRET_PREFIX}{}", BASE64.encode(key))
}

/// The HMAC key of a secret: the bytes its base64 part stands for.
fn key_of(secret: &str) -> Option<Vec<u8>> {
    BASE64
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
}

fn mac(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)?).ok()?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// The `webhook-signature` of a delivery: `v1,` and the base64 of its HMAC-SHA256.
/// `None` for a secret that is not `whsec_` and base64 (the gateway makes none such).
pub fn sign(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> Option<String> {
    let tag = mac(secret, id, timestamp, body)?.finalize().into_bytes();
    Some(format!("v1,{}", BASE64.encode(tag)))
}

/// Whether `signatures` (a `webhook-signature` header: space-separated `v1,…` entries) holds a
/// valid signature of the delivery, compared in constant time. Receivers written in Rust can
/// use this; the format is the standard one, so any Standard Webhooks library works too.
pub fn verify(secret: &str, id: &str, timestamp: u64, body: &[u8], signatures: &str) -> bool {
    signatures.split(' ').any(|entry| {
        let Some(tag) = entry
            .strip_prefix("v1,")
            .and_then(|tag| BASE64.decode(tag).ok())
        else {
            return false;
        };
        mac(secret, id, timestamp, body).is_some_and(|mac| mac.verify_slice(&tag).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_standard_webhooks_test_vector() {
        // The vector the Standard Webhooks reference libraries test against: a receiver's
        // library accepts what the gateway sends only if this comes out exactly.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(sign(secret, id, 1_614_265_330, body).unwrap(), expected);
        assert!(verify(secret, id, 1_614_265_330, body, expected));
        assert!(verify(
            secret,
            id,
            1_614_265_330,
            body,
            &format!("v1,bm9wZQ== {expected}")
        ));
        assert!(!verify(secret, id, 1_614_265_331, body, expected));
        assert!(!verify(secret, id, 1_614_265_330, b"{}", expected));
        assert!(!verify(secret, "msg_other", 1_614_265_330, body, expected));
        assert!(!verify(secret, id, 1_614_265_330, body, "v1,not-base64"));
        assert!(!verify(secret, id, 1_614_265_330, body, "v2,g0hM9SsE"));
    }

    #[test]
    fn new_secrets_are_distinct_and_usable() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(SECRET_PREFIX));
        let signature = sign(&a, "msg_1", 1, b"x").unwrap();
        assert!(verify(&a, "msg_1", 1, b"x", &signature));
        assert!(!verify(&b, "msg_1", 1, b"x", &signature));
    }

    #[test]
    fn matches_read_and_write_as_the_api_has_them() {
        let device: Match = serde_json::from_str(r#"{"device": "teller-1"}"#).unwrap();
        assert_eq!(device, Match::Device("teller-1".into()));
        let recipient: Match =
            serde_json::from_str(r#"{"recipient": "0x00000000000000000000000000000000000000b0"}"#)
                .unwrap();
        assert_eq!(recipient, Match::Recipient(Address::with_last_byte(0xb0)));
        assert!(serde_json::from_str::<Match>(r#"{"device": "a", "recipient": "0x00"}"#).is_err());
        assert!(serde_json::from_str::<Match>(r#"{"sender": "a"}"#).is_err());
        assert_eq!(
            serde_json::to_value(Match::Transaction(B256::repeat_byte(1))).unwrap(),
            serde_json::json!({"transaction": B256::repeat_byte(1).to_string()})
        );
    }
}
