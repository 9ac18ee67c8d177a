//! ZIP-215's edge cases: single and batch verification must reach the same verdict on every
//! signature, or one crafted transfer could be valid on one validator (that checked it alone)
//! and invalid on another (that checked it in a batch) and split them. This is why Cairn
//! uses `ed25519-zebra` (ZIP-215 rules) rather than `ed25519-dalek`, whose single check is
//! cofactorless while its batch check is cofactored.
//!
//! The cases, from ZIP-215 (<https://zips.z.cash/zip-0215>): public keys and nonces `R` of
//! small order, in canonical and non-canonical encodings; valid signatures with a torsion
//! component added to `R` or to the key; and a non-canonical `s`.
#![allow(clippy::unwrap_used)]

use cairn_primitives::{
    Address, PublicKey, SecretKey, Signature, SignedTransaction, Transaction,
    find_invalid_signature, verify_batch, verify_signatures,
};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};

/// p = 2^255 - 19, little-endian.
fn field_prime() -> [u8; 32] {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
}

/// `y` (a small number) plus p, little-endian, with the sign bit `sign`: a non-canonical
/// encoding of the point with y-coordinate `y`.
fn y_plus_p(y: u8, sign: bool) -> [u8; 32] {
    let mut bytes = field_prime();
    let (sum, carry) = bytes[0].overflowing_add(y);
    bytes[0] = sum;
    assert!(!carry, "small y only");
    if sign {
        bytes[31] |= 0x80;
    }
    bytes
}

/// Every encoding of a point of small order: the eight torsion points as their canonical
/// encodings, and the six non-canonical encodings of such points (y = 0 or 1 written as y + p,
/// either sign; and x = 0 written with the sign bit set, for y = 1 and y = -1).
fn small_order_encodings() -> Vec<[u8; 32]> {
    let mut encodings: Vec<[u8; 32]> = EIGHT_TORSION.iter().map(|t| t.compress().0).collect();
    for y in [0, 1] {
        for sign in [false, true] {
            encodings.push(y_plus_p(y, sign));
        }
    }
    let mut one_negative_zero = [0u8; 32];
    one_negative_zero[0] = 1;
    one_negative_zero[31] = 0x80;
    encodings.push(one_negative_zero);
    let mut minus_one_negative_zero = field_prime();
    minus_one_negative_zero[0] -= 1;
    minus_one_negative_zero[31] |= 0x80;
    encodings.push(minus_one_negative_zero);
    for encoding in &encodings {
        if let Some(point) = CompressedEdwardsY(*encoding).decompress() {
            assert!(point.is_small_order(), "{}", hex::encode(encoding));
        }
    }
    encodings.sort();
    encodings.dedup();
    encodings
}

fn signature(r: &[u8; 32], s: &[u8; 32]) -> Signature {
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(r);
    bytes[32..].copy_from_slice(s);
    Signature(bytes)
}

/// k = SHA-512(R || A || M) mod l, as Ed25519 defines it.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let digest: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(message)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&digest)
}

/// A signature on `message` by secret scalar `a` under public key encoding `key` and nonce
/// point `nonce` (whose discrete log is `r` up to torsion): s = r + k·a.
fn sign_raw(
    a: &Scalar,
    key: &[u8; 32],
    r: &Scalar,
    nonce: &EdwardsPoint,
    message: &[u8],
) -> Signature {
    let r_bytes = nonce.compress().0;
    let s = r + challenge(&r_bytes, key, message) * a;
    signature(&r_bytes, &s.to_bytes())
}

/// The single verdict, and the batch verdicts alone and among valid signatures, agree.
fn check_agreement(key: &PublicKey, message: &[u8], signature: &Signature) -> bool {
    let single = key.verify(message, signature).is_ok();
    let alone = verify_batch([(key, message, signature)]).is_ok();
    let honest: Vec<(PublicKey, Vec<u8>, Signature)> = (0u8..3)
        .map(|i| {
            let secret = SecretKey::from_bytes([i + 40; 32]);
            let message = vec![i; 7];
            let signature = secret.sign(&message);
            (secret.public_key(), message, signature)
        })
        .collect();
    let mut mixed: Vec<(&PublicKey, &[u8], &Signature)> = honest
        .iter()
        .map(|(k, m, s)| (k, m.as_slice(), s))
        .collect();
    mixed.insert(1, (key, message, signature));
    let among_others = verify_batch(mixed).is_ok();
    assert_eq!(single, alone, "key {key}, signature {signature:?}");
    assert_eq!(single, among_others, "key {key}, signature {signature:?}");
    single
}

#[test]
fn small_order_keys_and_nonces_get_one_verdict_alone_and_in_batches() {
    let encodings = small_order_encodings();
    assert_eq!(encodings.len(), 14);
    let zero = [0u8; 32];
    let mut accepted = 0;
    for a in &encodings {
        for r in &encodings {
            if check_agreement(&PublicKey(*a), b"Zcash", &signature(r, &zero)) {
                accepted += 1;
            }
        }
    }
    // ZIP-215: all 196 combinations satisfy the cofactored equation and are valid (a
    // cofactorless single check, as dalek's, would reject most of them).
    assert_eq!(accepted, 196);
}

#[test]
fn torsion_in_the_nonce_or_the_key_gets_one_verdict_alone_and_in_batches() {
    let message = b"cairn/transfer/v1 torsion";
    let a = Scalar::from_bytes_mod_order([7u8; 32]);
    let key_point = EdwardsPoint::mul_base(&a);
    let r = Scalar::from_bytes_mod_order([9u8; 32]);
    let nonce = EdwardsPoint::mul_base(&r);
    let key = key_point.compress().0;
    // The plain signature, for reference.
    assert!(check_agreement(
        &PublicKey(key),
        message,
        &sign_raw(&a, &key, &r, &nonce, message)
    ));
    for torsion in EIGHT_TORSION.iter() {
        // R + T: only the cofactored equation holds.
        let skewed_nonce = nonce + torsion;
        let signature = sign_raw(&a, &key, &r, &skewed_nonce, message);
        assert!(check_agreement(&PublicKey(key), message, &signature));
        // A + T signing as A + T (the challenge hashes the skewed key).
        let skewed_key = (key_point + torsion).compress().0;
        let signature = sign_raw(&a, &skewed_key, &r, &nonce, message);
        assert!(check_agreement(&PublicKey(skewed_key), message, &signature));
    }
}

#[test]
fn a_non_canonical_s_is_refused_alone_and_in_batches() {
    let secret = SecretKey::from_bytes([3; 32]);
    let message = b"s must be below the group order";
    let valid = secret.sign(message);
    assert!(check_agreement(&secret.public_key(), message, &valid));
    // s + l: the same scalar modulo l, but not its canonical encoding.
    let l: [u8; 32] =
        hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap()
            .try_into()
            .unwrap();
    let mut s = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(valid.0[32 + i]) + u16::from(l[i]) + carry;
        s[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    let mut r = [0u8; 32];
    r.copy_from_slice(&valid.0[..32]);
    assert!(!check_agreement(
        &secret.public_key(),
        message,
        &signature(&r, &s)
    ));
}

/// The same cases as transfers: the pool's and the block validator's batched checks reach the
/// verdicts of checking each transfer alone.
#[test]
fn transfers_with_edge_case_signatures_get_the_verdicts_of_single_checks() {
    let a = Scalar::from_bytes_mod_order([11u8; 32]);
    let key_point = EdwardsPoint::mul_base(&a);
    let r = Scalar::from_bytes_mod_order([13u8; 32]);
    let mut transfers = Vec::new();
    for (i, torsion) in EIGHT_TORSION.iter().enumerate() {
        let key = (key_point + torsion).compress().0;
        let tx = Transaction {
            chain_id: 1,
            nonce: i as u64,
            to: Address::repeat_byte(1),
            amount: 5,
        };
        let nonce = EdwardsPoint::mul_base(&r) + EIGHT_TORSION[(i + 3) % 8];
        let skewed = sign_raw(&a, &key, &r, &nonce, &tx.signing_message());
        transfers.push(SignedTransaction::new(tx, PublicKey(key), skewed));
        // And a small-order key with a zero s.
        let small = small_order_encodings()[i];
        transfers.push(SignedTransaction::new(
            tx,
            PublicKey(small),
            signature(&small, &[0u8; 32]),
        ));
        // And a plainly forged one.
        let mut forged = transfers[transfers.len() - 2].signature().0;
        forged[40] ^= 1;
        transfers.push(SignedTransaction::new(
            tx,
            PublicKey(key),
            Signature(forged),
        ));
    }
    let singles: Vec<bool> = transfers.iter().map(|tx| tx.verify().is_ok()).collect();
    assert_eq!(
        singles.iter().filter(|ok| !**ok).count(),
        8,
        "only the forged ones fail"
    );
    assert_eq!(verify_signatures(&transfers), singles);
    assert_eq!(
        find_invalid_signature(&transfers),
        singles.iter().position(|ok| !ok)
    );
}
