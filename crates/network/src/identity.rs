//! Peer identities: Cairn's ed25519 keys as the p2p layer's keys.
//!
//! A validator's p2p identity is its genesis validator key; a full node has a key of its own,
//! listed in the chain's configuration. Both are plain ed25519, so the same 32 bytes name the
//! peer everywhere.

use cairn_primitives::{PublicKey, SecretKey};
use commonware_codec::{Copying, DecodeExt};
use commonware_cryptography::ed25519;

/// A peer's identity on the p2p network.
pub type PeerKey = ed25519::PublicKey;

/// The p2p identity of a Cairn public key, or `None` if the bytes are not a valid point.
pub fn peer_key(key: &PublicKey) -> Option<PeerKey> {
    PeerKey::decode(Copying(key.0.as_slice())).ok()
}

/// The Cairn public key of a p2p identity.
pub fn cairn_key(peer: &PeerKey) -> PublicKey {
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(peer.as_ref());
    PublicKey(bytes)
}

/// The p2p signer for a Cairn secret key (the same ed25519 key).
pub fn peer_signer(key: &SecretKey) -> ed25519::PrivateKey {
    // A 32-byte seed always decodes to a signing key.
    match ed25519::PrivateKey::decode(Copying(key.to_bytes().as_slice())) {
        Ok(signer) => signer,
        Err(error) => unreachable!("a 32-byte seed is a valid ed25519 key: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::{Signer as _, Verifier as _};

    #[test]
    fn the_same_key_on_both_sides() {
        let key = SecretKey::from_bytes([7; 32]);
        let signer = peer_signer(&key);
        let peer = peer_key(&key.public_key()).unwrap();
        assert_eq!(signer.public_key(), peer);
        assert_eq!(cairn_key(&peer), key.public_key());
        // A commonware signature over a namespaced message verifies with the derived key.
        let signature = signer.sign(b"ns", b"message");
        assert!(peer.verify(b"ns", b"message", &signature));
    }
}
