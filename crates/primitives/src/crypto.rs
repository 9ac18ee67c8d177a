//! Ed25519 keys and signatures with ZIP-215 validation rules.
//!
//! Why ZIP-215 (`ed25519-zebra`) and not plain `ed25519-dalek`: a validator must reach the same
//! verdict on a signature whether it checks it alone or inside a batch, and whichever other
//! signatures share that batch. Under ZIP-215 single and batch verification both use the
//! cofactored equation, so they agree; dalek's cofactorless batch equation can accept a
//! signature with a torsion component that its single check rejects, which would let one
//! crafted transfer split honest validators.

use std::fmt;

use alloy_primitives::{Address, keccak256};
use ed25519_zebra::{SigningKey, VerificationKey, VerificationKeyBytes, batch};
use serde::{Deserialize, Serialize};

/// A signature failed to verify (or its key or encoding is not a valid curve point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid ed25519 signature")]
pub struct SignatureError;

/// An ed25519 secret key (the 32-byte seed).
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// Generates a key from the operating system's randomness.
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    /// The key with this 32-byte seed.
    pub fn from_bytes(seed: [u8; 32]) -> Self {
        Self(SigningKey::from(seed))
    }

    /// The 32-byte seed.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.into()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(VerificationKeyBytes::from(&self.0).into())
    }

    /// The address of the matching public key.
    pub fn address(&self) -> Address {
        address_of(&self.public_key())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material, even in debug logs.
        write!(f, "SecretKey({:#x})", self.address())
    }
}

/// An ed25519 public key as its 32-byte compressed encoding.
///
/// The bytes are not checked to be a curve point until a signature is verified against them, so
/// decoding a transaction stays cheap and infallible for well-formed lengths.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PublicKey(#[serde(with = "crate::serde_helpers::hex_array")] pub [u8; 32]);

impl PublicKey {
    /// Verifies one signature under ZIP-215 rules.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        let key = VerificationKey::try_from(self.0).map_err(|_| SignatureError)?;
        key.verify(&ed25519_zebra::Signature::from_bytes(&signature.0), message)
            .map_err(|_| SignatureError)
    }

    /// The address derived from this key.
    pub fn address(&self) -> Address {
        address_of(self)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(0x{})", hex::encode(self.0))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

/// A 64-byte ed25519 signature (R || s).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature(#[serde(with = "crate::serde_helpers::hex_array")] pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature(0x{})", hex::encode(self.0))
    }
}

/// The address of a public key: the last 20 bytes of keccak256(key), as Ethereum derives
/// addresses from keys.
pub fn address_of(key: &PublicKey) -> Address {
    Address::from_slice(&keccak256(key.0)[12..])
}

/// Verifies many signatures at once; `Ok` only if every one is valid.
///
/// Agrees with [`PublicKey::verify`] on every input (ZIP-215), so a caller may fall back to
/// single checks to find which signature of a failed batch is bad.
pub fn verify_batch<'a>(
    items: impl IntoIterator<Item = (&'a PublicKey, &'a [u8], &'a Signature)>,
) -> Result<(), SignatureError> {
    let mut verifier = batch::Verifier::new();
    for (key, message, signature) in items {
        let signature = ed25519_zebra::Signature::from_bytes(&signature.0);
        verifier.queue((VerificationKeyBytes::from(key.0), signature, message));
    }
    verifier.verify(rand::rng()).map_err(|_| SignatureError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let key = SecretKey::from_bytes([7; 32]);
        let signature = key.sign(b"transfer");
        assert_eq!(key.public_key().verify(b"transfer", &signature), Ok(()));
        assert_eq!(
            key.public_key().verify(b"transfes", &signature),
            Err(SignatureError)
        );
        let other = SecretKey::from_bytes([8; 32]);
        assert_eq!(
            other.public_key().verify(b"transfer", &signature),
            Err(SignatureError)
        );
    }

    #[test]
    fn rfc8032_test_vector_1_verifies() {
        // RFC 8032 section 7.1, TEST 1: empty message.
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let key = SecretKey::from_bytes(seed);
        assert_eq!(
            hex::encode(key.public_key().0),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(key.sign(b"").0),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn batch_agrees_with_single_checks() {
        let keys: Vec<_> = (0u8..8).map(|i| SecretKey::from_bytes([i; 32])).collect();
        let publics: Vec<_> = keys.iter().map(SecretKey::public_key).collect();
        let messages: Vec<Vec<u8>> = (0u8..8).map(|i| vec![i; 10]).collect();
        let mut signatures: Vec<_> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
        let items = |sigs: &[Signature]| -> Result<(), SignatureError> {
            verify_batch(
                publics
                    .iter()
                    .zip(&messages)
                    .zip(sigs)
                    .map(|((k, m), s)| (k, m.as_slice(), s))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(items(&signatures), Ok(()));
        signatures[3].0[10] ^= 1;
        assert_eq!(items(&signatures), Err(SignatureError));
        assert!(publics[3].verify(&messages[3], &signatures[3]).is_err());
    }

    #[test]
    fn address_is_keccak_suffix() {
        let key = SecretKey::from_bytes([1; 32]);
        let digest = keccak256(key.public_key().0);
        assert_eq!(key.address().as_slice(), &digest[12..]);
    }
}
