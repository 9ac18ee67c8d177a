//! The national algorithms (seed 003: "支持国密植入算法"): SM3 hashing (GB/T 32905-2016) and
//! SM2 signatures (GB/T 32918.2-2016) on the recommended curve (GB/T 32918.5), with the
//! default user id of GM/T 0009-2012, through RustCrypto's `sm2` and `sm3` crates.
//!
//! These are the parts of the `sm2-sm3` crypto suite. A key is 32 bytes, a public key the
//! 33-byte compressed SEC1 point, a signature 64 bytes (`r ‖ s`, each big-endian). SM2 has no
//! batch check: each signature is checked alone.

use std::fmt;

use sm2::dsa::signature::{Signer, Verifier};
use sm2::elliptic_curve::sec1::ToEncodedPoint;
use sm3::Digest;

use crate::SignatureError;

/// The user id GM/T 0009-2012 names for when the parties agreed on none: the ASCII digits
/// "1234567812345678". It enters every signature through Z_A.
pub const DEFAULT_USER_ID: &str = "1234567812345678";

/// n - 1, n being the order of the curve's group: the one scalar in [1, n-1] that is not a
/// usable SM2 key (1 + d must be invertible mod n).
const ORDER_LESS_ONE: [u8; 32] = [
    0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x72, 0x03, 0xDF, 0x6B, 0x21, 0xC6, 0x05, 0x2B, 0x53, 0xBB, 0xF4, 0x09, 0x39, 0xD5, 0x41, 0x22,
];

/// SM3 of `data`.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    sm3::Sm3::digest(data).into()
}

/// An SM2 secret key.
#[derive(Clone)]
pub struct Sm2SecretKey(sm2::dsa::SigningKey);

impl Sm2SecretKey {
    /// Generates a key from the operating system's randomness.
    pub fn generate() -> Self {
        loop {
            if let Some(key) = Self::from_bytes(rand::random()) {
                return key;
            }
        }
    }

    /// The key with this big-endian scalar, or `None` unless it is in [1, n-2] (SM2 signing
    /// needs 1 + d invertible, so n-1 is refused too).
    pub fn from_bytes(bytes: [u8; 32]) -> Option<Self> {
        // The `sm2` crate takes n - 1, whose signatures it then cannot make (it would panic).
        if bytes == ORDER_LESS_ONE {
            return None;
        }
        let secret = sm2::SecretKey::from_bytes(&bytes.into()).ok()?;
        sm2::dsa::SigningKey::new(DEFAULT_USER_ID, &secret)
            .ok()
            .map(Self)
    }

    /// The scalar, big-endian.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes().into()
    }

    /// The matching public key.
    pub fn public_key(&self) -> Sm2PublicKey {
        let point = self.0.verifying_key().as_affine().to_encoded_point(true);
        let mut bytes = [0u8; 33];
        bytes.copy_from_slice(point.as_bytes());
        Sm2PublicKey(bytes)
    }

    /// Signs `message` (hashed with SM3 after Z_A, as the standard says).
    pub fn sign(&self, message: &[u8]) -> Sm2Signature {
        let signature: sm2::dsa::Signature = self.0.sign(message);
        Sm2Signature(signature.to_bytes())
    }
}

impl fmt::Debug for Sm2SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        write!(f, "Sm2SecretKey({})", self.public_key())
    }
}

/// An SM2 public key: the compressed SEC1 encoding of a point of the curve.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sm2PublicKey([u8; 33]);

impl Sm2PublicKey {
    /// The key in `bytes`: a compressed (33 bytes) or uncompressed (65 bytes) SEC1 point of
    /// the curve, not the identity; `None` otherwise.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let key = sm2::PublicKey::from_sec1_bytes(bytes).ok()?;
        let point = key.as_affine().to_encoded_point(true);
        let mut compressed = [0u8; 33];
        compressed.copy_from_slice(point.as_bytes());
        Some(Self(compressed))
    }

    /// The key whose compressed encoding is `bytes`, not checked to be a point of the curve:
    /// a key that is not one fails every verification. (Decoding a transaction takes its key
    /// this way, so that a forged key costs the node no square root before its signature is
    /// checked.)
    pub fn from_encoding(bytes: [u8; 33]) -> Self {
        Self(bytes)
    }

    /// The compressed encoding.
    pub fn to_bytes(&self) -> [u8; 33] {
        self.0
    }

    /// The compressed encoding, borrowed.
    pub fn as_bytes(&self) -> &[u8; 33] {
        &self.0
    }

    /// The uncompressed encoding (`04 ‖ x ‖ y`), as other tools often want it.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        if let Ok(key) = sm2::PublicKey::from_sec1_bytes(&self.0) {
            out.copy_from_slice(key.as_affine().to_encoded_point(false).as_bytes());
        }
        out
    }

    /// Checks `signature` on `message` under the default user id.
    pub fn verify(&self, message: &[u8], signature: &Sm2Signature) -> Result<(), SignatureError> {
        let key = sm2::dsa::VerifyingKey::from_sec1_bytes(DEFAULT_USER_ID, &self.0)
            .map_err(|_| SignatureError)?;
        let signature =
            sm2::dsa::Signature::from_bytes(&signature.0).map_err(|_| SignatureError)?;
        key.verify(message, &signature).map_err(|_| SignatureError)
    }
}

impl fmt::Display for Sm2PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Sm2PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sm2PublicKey({self})")
    }
}

/// An SM2 signature: `r ‖ s`, each 32 bytes big-endian.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sm2Signature(pub [u8; 64]);

impl fmt::Debug for Sm2Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sm2Signature(0x{})", hex::encode(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex<const N: usize>(text: &str) -> [u8; N] {
        hex::decode(text.replace(' ', ""))
            .unwrap()
            .try_into()
            .unwrap()
    }

    /// GB/T 32905-2016, appendix A: the two examples.
    #[test]
    fn sm3_gives_the_standards_examples() {
        assert_eq!(
            sm3(b"abc"),
            unhex::<32>("66c7f0f4 62eeedd9 d1f2d46b dc10e4e2 4167c487 5cf2f7a2 297da02b 8f4ba8e0")
        );
        assert_eq!(
            sm3(&b"abcd".repeat(16)),
            unhex::<32>("debe9ff9 2275b8a1 38604889 c18e5a4d 6fdb70e5 387e5765 293dcba3 9c0c5732")
        );
    }

    /// The signature example on the recommended curve (GM/T 0003.5-2012, appendix A; GB/T
    /// 32918.2's own appendix uses a test curve no implementation of the recommended one can
    /// take): "message digest" signed by the key below with the default user id.
    #[test]
    fn sm2_checks_the_standards_signature_example() {
        let secret = Sm2SecretKey::from_bytes(unhex(
            "3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8",
        ))
        .unwrap();
        let public = secret.public_key();
        let uncompressed = public.to_uncompressed();
        assert_eq!(
            uncompressed[1..33],
            unhex::<32>("09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020")
        );
        assert_eq!(
            uncompressed[33..],
            unhex::<32>("CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13")
        );
        let mut signature = [0u8; 64];
        signature[..32].copy_from_slice(&unhex::<32>(
            "F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3",
        ));
        signature[32..].copy_from_slice(&unhex::<32>(
            "B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA",
        ));
        let signature = Sm2Signature(signature);
        assert!(public.verify(b"message digest", &signature).is_ok());
        // The uncompressed key reads as the same key.
        assert_eq!(Sm2PublicKey::from_bytes(&uncompressed), Some(public));
        // Another message, another byte of the signature, another key: refused.
        assert!(public.verify(b"message digesT", &signature).is_err());
        let mut bent = signature;
        bent.0[63] ^= 1;
        assert!(public.verify(b"message digest", &bent).is_err());
        let other = Sm2SecretKey::from_bytes([7; 32]).unwrap().public_key();
        assert!(other.verify(b"message digest", &signature).is_err());
    }

    #[test]
    fn keys_sign_and_verify_and_bad_input_is_refused() {
        let key = Sm2SecretKey::generate();
        let signature = key.sign(b"transfer");
        assert!(key.public_key().verify(b"transfer", &signature).is_ok());
        assert_eq!(
            Sm2SecretKey::from_bytes(key.to_bytes())
                .unwrap()
                .public_key(),
            key.public_key()
        );
        // Zero and the group order are not keys; junk is not a point.
        assert!(Sm2SecretKey::from_bytes([0; 32]).is_none());
        let order =
            unhex::<32>("FFFFFFFE FFFFFFFF FFFFFFFF FFFFFFFF 7203DF6B 21C6052B 53BBF409 39D54123");
        assert!(Sm2SecretKey::from_bytes(order).is_none());
        let mut order_less_one = order;
        order_less_one[31] -= 1;
        assert!(
            Sm2SecretKey::from_bytes(order_less_one).is_none(),
            "1 + d must be invertible"
        );
        order_less_one[31] -= 1;
        assert!(
            Sm2SecretKey::from_bytes(order_less_one).is_some(),
            "n - 2 is a key"
        );
        assert!(Sm2PublicKey::from_bytes(&[5; 33]).is_none());
        assert!(Sm2PublicKey::from_bytes(&[]).is_none());
        // r or s out of range, and all zeros: refused, never a panic.
        assert!(
            key.public_key()
                .verify(b"transfer", &Sm2Signature([0; 64]))
                .is_err()
        );
        assert!(
            key.public_key()
                .verify(b"transfer", &Sm2Signature([0xff; 64]))
                .is_err()
        );
        assert!(!format!("{key:?}").contains(&hex::encode(key.to_bytes())));
    }
}
