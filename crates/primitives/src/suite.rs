//! Crypto suites: the algorithms a chain's accounts and hashes use, chosen once in genesis.
//!
//! `ed25519-keccak` (the default) signs with ed25519 and hashes with keccak-256, so its tries
//! and proofs are Ethereum's. `sm2-sm3` signs with SM2 and hashes with SM3, for consortiums
//! that must use the national algorithms. A suite covers account keys and signatures, account
//! addresses, transaction and block hashes, and the tries' node hashing. Validators' consensus
//! signatures and peer handshakes stay on the consensus layer's own ed25519 in every suite.
//!
//! Account keys, signatures and addresses of both suites are here: an account's public key
//! names its suite by its length (32 bytes ed25519, 33 bytes a compressed SM2 point), so a
//! transaction says which suite signed it and a chain refuses the other one's.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::{Address, B256, keccak256};
use serde::{Deserialize, Serialize};

use crate::sm::{Sm2PublicKey, Sm2SecretKey, Sm2Signature, sm3};
use crate::{PublicKey, SecretKey, Signature, SignatureError};

/// A chain's crypto suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum CryptoSuite {
    /// ed25519 signatures and keccak-256 hashes (Ethereum-compatible proofs).
    #[default]
    #[serde(rename = "ed25519-keccak")]
    Ed25519Keccak,
    /// SM2 signatures and SM3 hashes (GB/T 32918, GB/T 32905).
    #[serde(rename = "sm2-sm3")]
    Sm2Sm3,
}

impl CryptoSuite {
    /// Every suite, the default first.
    pub const ALL: [Self; 2] = [Self::Ed25519Keccak, Self::Sm2Sm3];

    /// `ed25519-keccak` or `sm2-sm3`, as genesis files and flags write it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519Keccak => "ed25519-keccak",
            Self::Sm2Sm3 => "sm2-sm3",
        }
    }

    /// The suite's hash of `data`: keccak-256 or SM3.
    #[inline]
    pub fn hash(self, data: &[u8]) -> B256 {
        match self {
            Self::Ed25519Keccak => keccak256(data),
            Self::Sm2Sm3 => B256::new(sm3(data)),
        }
    }

    /// Root of the empty trie under this suite's hash: hash(rlp("")).
    pub fn empty_root(self) -> B256 {
        match self {
            Self::Ed25519Keccak => crate::EMPTY_ROOT,
            Self::Sm2Sm3 => self.hash(&[0x80]),
        }
    }

    /// Hash of the empty byte string: the code hash of an account without code.
    pub fn empty_code_hash(self) -> B256 {
        match self {
            Self::Ed25519Keccak => crate::KECCAK_EMPTY,
            Self::Sm2Sm3 => self.hash(&[]),
        }
    }

    /// The signature scheme of the suite's account keys.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Self::Ed25519Keccak => KeyKind::Ed25519,
            Self::Sm2Sm3 => KeyKind::Sm2,
        }
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CryptoSuite {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|suite| suite.name() == text)
            .ok_or_else(|| format!("a crypto suite is ed25519-keccak or sm2-sm3, not {text:?}"))
    }
}

/// The signature scheme of an account key: what key files and `cairn keys new --suite` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// ed25519 (the `ed25519-keccak` suite).
    #[default]
    Ed25519,
    /// SM2 (the `sm2-sm3` suite).
    Sm2,
}

impl KeyKind {
    /// `ed25519` or `sm2`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Sm2 => "sm2",
        }
    }

    /// The suite whose accounts use keys of this kind.
    pub fn suite(self) -> CryptoSuite {
        match self {
            Self::Ed25519 => CryptoSuite::Ed25519Keccak,
            Self::Sm2 => CryptoSuite::Sm2Sm3,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ed25519" => Ok(Self::Ed25519),
            "sm2" => Ok(Self::Sm2),
            other => Err(format!("a key suite is ed25519 or sm2, not {other:?}")),
        }
    }
}

/// An account's public key, of either suite.
///
/// The bytes are not checked to be a curve point until a signature is verified against them,
/// so decoding a transaction stays cheap; an invalid point fails every verification.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountPublicKey {
    /// A 32-byte ed25519 key.
    Ed25519(PublicKey),
    /// A 33-byte compressed SM2 point.
    Sm2(Sm2PublicKey),
}

impl AccountPublicKey {
    /// The key whose encoding is `bytes`: 32 bytes for ed25519, 33 for a compressed SM2 point
    /// (its prefix 02 or 03; the point itself is checked when a signature is).
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        match bytes.len() {
            32 => Some(Self::Ed25519(PublicKey(bytes.try_into().ok()?))),
            33 if matches!(bytes[0], 2 | 3) => Some(Self::Sm2(Sm2PublicKey::from_encoding(
                bytes.try_into().ok()?,
            ))),
            _ => None,
        }
    }

    /// The key's encoding, as transactions carry it.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Ed25519(key) => &key.0,
            Self::Sm2(key) => key.as_bytes(),
        }
    }

    /// The suite this key belongs to.
    pub fn suite(&self) -> CryptoSuite {
        match self {
            Self::Ed25519(_) => CryptoSuite::Ed25519Keccak,
            Self::Sm2(_) => CryptoSuite::Sm2Sm3,
        }
    }

    /// The account address: the last 20 bytes of the suite's hash of the key's encoding.
    pub fn address(&self) -> Address {
        Address::from_slice(&self.suite().hash(self.as_bytes())[12..])
    }

    /// Checks `signature` on `message` (ZIP-215 for ed25519; SM2 with the default user id).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        match self {
            Self::Ed25519(key) => key.verify(message, signature),
            Self::Sm2(key) => key.verify(message, &Sm2Signature(signature.0)),
        }
    }
}

impl From<PublicKey> for AccountPublicKey {
    fn from(key: PublicKey) -> Self {
        Self::Ed25519(key)
    }
}

impl From<Sm2PublicKey> for AccountPublicKey {
    fn from(key: Sm2PublicKey) -> Self {
        Self::Sm2(key)
    }
}

impl fmt::Display for AccountPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.as_bytes()))
    }
}

impl fmt::Debug for AccountPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountPublicKey({}, {self})", self.suite())
    }
}

impl FromStr for AccountPublicKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits = text
            .strip_prefix("0x")
            .ok_or("a public key is 0x-prefixed hex")?;
        let bytes = hex::decode(digits).map_err(|e| format!("a public key is hex: {e}"))?;
        Self::from_slice(&bytes).ok_or_else(|| {
            "a public key is 32 bytes (ed25519) or 33 bytes starting 02 or 03 (a compressed SM2 point)"
                .to_string()
        })
    }
}

impl Serialize for AccountPublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AccountPublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An account's secret key, of either suite.
#[derive(Clone, Debug)]
pub enum AccountKey {
    /// An ed25519 seed.
    Ed25519(SecretKey),
    /// An SM2 scalar.
    Sm2(Sm2SecretKey),
}

impl AccountKey {
    /// A new key of `kind` from the operating system's randomness.
    pub fn generate(kind: KeyKind) -> Self {
        match kind {
            KeyKind::Ed25519 => Self::Ed25519(SecretKey::generate()),
            KeyKind::Sm2 => Self::Sm2(Sm2SecretKey::generate()),
        }
    }

    /// The key of `kind` with these 32 bytes (an ed25519 seed, or an SM2 scalar in [1, n-2]).
    pub fn from_bytes(kind: KeyKind, bytes: [u8; 32]) -> Option<Self> {
        match kind {
            KeyKind::Ed25519 => Some(Self::Ed25519(SecretKey::from_bytes(bytes))),
            KeyKind::Sm2 => Sm2SecretKey::from_bytes(bytes).map(Self::Sm2),
        }
    }

    /// The 32 secret bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        match self {
            Self::Ed25519(key) => key.to_bytes(),
            Self::Sm2(key) => key.to_bytes(),
        }
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        match self {
            Self::Ed25519(_) => KeyKind::Ed25519,
            Self::Sm2(_) => KeyKind::Sm2,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> AccountPublicKey {
        self.account_public_key()
    }

    /// The account's address.
    pub fn address(&self) -> Address {
        self.account_public_key().address()
    }
}

impl From<SecretKey> for AccountKey {
    fn from(key: SecretKey) -> Self {
        Self::Ed25519(key)
    }
}

impl From<Sm2SecretKey> for AccountKey {
    fn from(key: Sm2SecretKey) -> Self {
        Self::Sm2(key)
    }
}

/// What signs transactions: an account key of either suite.
pub trait TransactionSigner {
    /// The public key transactions carry.
    fn account_public_key(&self) -> AccountPublicKey;
    /// Signs `message`.
    fn sign_message(&self, message: &[u8]) -> Signature;
}

impl TransactionSigner for SecretKey {
    fn account_public_key(&self) -> AccountPublicKey {
        AccountPublicKey::Ed25519(self.public_key())
    }
    fn sign_message(&self, message: &[u8]) -> Signature {
        self.sign(message)
    }
}

impl TransactionSigner for Sm2SecretKey {
    fn account_public_key(&self) -> AccountPublicKey {
        AccountPublicKey::Sm2(self.public_key())
    }
    fn sign_message(&self, message: &[u8]) -> Signature {
        Signature(self.sign(message).0)
    }
}

impl TransactionSigner for AccountKey {
    fn account_public_key(&self) -> AccountPublicKey {
        match self {
            Self::Ed25519(key) => key.account_public_key(),
            Self::Sm2(key) => key.account_public_key(),
        }
    }
    fn sign_message(&self, message: &[u8]) -> Signature {
        match self {
            Self::Ed25519(key) => key.sign_message(message),
            Self::Sm2(key) => key.sign_message(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_parse_print_and_serialize_by_name() {
        for suite in CryptoSuite::ALL {
            assert_eq!(suite.name().parse::<CryptoSuite>(), Ok(suite));
            assert_eq!(
                serde_json::to_string(&suite).unwrap(),
                format!("\"{}\"", suite.name())
            );
        }
        assert!("sm2".parse::<CryptoSuite>().is_err());
        assert_eq!(CryptoSuite::default(), CryptoSuite::Ed25519Keccak);
    }

    #[test]
    fn each_suite_hashes_with_its_own_function() {
        // SM3("abc"), GB/T 32905-2016 appendix A.1.
        assert_eq!(
            hex::encode(CryptoSuite::Sm2Sm3.hash(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(CryptoSuite::Ed25519Keccak.hash(b"abc"), keccak256(b"abc"));
        assert_eq!(
            CryptoSuite::Ed25519Keccak.empty_code_hash(),
            crate::KECCAK_EMPTY
        );
        // The SM3 trie's empty root, as the trie crate's tests pin it from gmssl.
        assert_eq!(
            hex::encode(CryptoSuite::Sm2Sm3.empty_root()),
            "995b949869f80fa1465a9d8b6fa759ec65c3020d59c2624662bdff059bdf19b3"
        );
    }

    #[test]
    fn account_keys_name_their_suite_and_derive_addresses_with_its_hash() {
        let ed = AccountKey::from_bytes(KeyKind::Ed25519, [5; 32]).unwrap();
        let sm = AccountKey::from_bytes(KeyKind::Sm2, [5; 32]).unwrap();
        assert_eq!(ed.public_key().as_bytes().len(), 32);
        assert_eq!(sm.public_key().as_bytes().len(), 33);
        assert_eq!(sm.public_key().suite(), CryptoSuite::Sm2Sm3);
        assert_eq!(
            sm.address().as_slice(),
            &sm3(sm.public_key().as_bytes())[12..]
        );
        assert_eq!(
            ed.address().as_slice(),
            &keccak256(ed.public_key().as_bytes())[12..]
        );
        // The ed25519 address is the one Cairn has always derived.
        assert_eq!(ed.address(), SecretKey::from_bytes([5; 32]).address());
        for key in [&ed, &sm] {
            let signature = key.sign_message(b"m");
            assert_eq!(key.public_key().verify(b"m", &signature), Ok(()));
            assert!(key.public_key().verify(b"n", &signature).is_err());
            let text = key.public_key().to_string();
            assert_eq!(text.parse::<AccountPublicKey>(), Ok(key.public_key()));
            let json = serde_json::to_string(&key.public_key()).unwrap();
            assert_eq!(
                serde_json::from_str::<AccountPublicKey>(&json).unwrap(),
                key.public_key()
            );
        }
        // A signature of one suite is not valid under the other's key of the same bytes.
        let signature = sm.sign_message(b"m");
        assert!(ed.public_key().verify(b"m", &signature).is_err());
    }

    #[test]
    fn malformed_public_keys_are_refused_or_fail_to_verify() {
        assert!(AccountPublicKey::from_slice(&[2; 31]).is_none());
        assert!(AccountPublicKey::from_slice(&[4; 33]).is_none());
        assert!(AccountPublicKey::from_slice(&[2; 34]).is_none());
        assert!("0x02".parse::<AccountPublicKey>().is_err());
        // 33 bytes of hex without the 0x; then with it, a well-formed key (checked at use).
        assert!("02".repeat(33).parse::<AccountPublicKey>().is_err());
        let prefixed = format!("0x{}", "02".repeat(33));
        assert!(prefixed.parse::<AccountPublicKey>().is_ok());
        assert!(
            format!("0x04{}", "02".repeat(32))
                .parse::<AccountPublicKey>()
                .is_err()
        );
        // 02 then an x with no point on the curve: accepted as bytes, never verifies.
        let mut bytes = [0xffu8; 33];
        bytes[0] = 2;
        let key = AccountPublicKey::from_slice(&bytes).unwrap();
        assert!(key.verify(b"m", &Signature([1; 64])).is_err());
    }
}
