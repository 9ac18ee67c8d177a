//! Checking the certificates that seal BFT blocks.

use cairn_ledger::{SealStrength, SealVerifier, ValidatorSet};
use cairn_primitives::{B256, CryptoSuite, Header, Seal};
use commonware_codec::{Copying, Decode, Encode};
use commonware_consensus::simplex::types::{Certificate, Finalization, Notarization};
use commonware_consensus::types::Epoch;
use commonware_cryptography::certificate::Verifier as _;
use commonware_parallel::Sequential;

use super::{Digest, Scheme, digest, extra_view, namespace, participants};

/// Verifies finalization and notarization certificates against the genesis validators.
pub struct CertificateSeals {
    scheme: Scheme,
    /// The chain's suite, whose hash links the headers of a seal through a descendant.
    suite: CryptoSuite,
}

impl CertificateSeals {
    /// A verifier for the `suite` chain with this genesis hash and validator set.
    pub fn new(
        genesis_hash: &B256,
        validators: &ValidatorSet,
        suite: CryptoSuite,
    ) -> Result<Self, String> {
        let scheme = Scheme::verifier(&namespace(genesis_hash), participants(validators)?);
        Ok(Self { scheme, suite })
    }
}

/// The seal of a block finalized by `finalization`.
pub fn finalization_seal(finalization: &Finalization<Scheme, Digest>) -> Seal {
    Seal::Certificate(
        Certificate::Finalization(finalization.clone())
            .encode()
            .to_vec()
            .into(),
    )
}

/// The seal of a block notarized by `notarization` (final through a final descendant).
pub fn notarization_seal(notarization: &Notarization<Scheme, Digest>) -> Seal {
    Seal::Certificate(
        Certificate::Notarization(notarization.clone())
            .encode()
            .to_vec()
            .into(),
    )
}

/// First byte of a seal that proves a block final through a final descendant: the headers
/// from the block's child up to that descendant, then the descendant's finalization. (A
/// certificate's own encoding starts with its variant's tag, never this byte.)
const THROUGH: u8 = 0xff;

/// Most headers a seal through a descendant may carry: as many blocks as may wait for
/// finality on a node.
const MAX_THROUGH: usize = cairn_ledger::MAX_PENDING_BLOCKS;

impl CertificateSeals {
    fn certificate(&self, bytes: &[u8]) -> Result<Certificate<Scheme, Digest>, String> {
        let config = self.scheme.certificate_codec_config();
        Certificate::<Scheme, Digest>::decode_cfg(Copying(bytes), &config)
            .map_err(|e| format!("undecodable certificate: {e}"))
    }

    /// Checks that `certificate` certifies the block `header` (with hash `block_hash`) in the
    /// view the block records, and what it proves.
    fn certifies(
        &self,
        certificate: &Certificate<Scheme, Digest>,
        block_hash: &B256,
        header: &Header,
    ) -> Result<SealStrength, String> {
        let mut rng = rand::rng();
        let (proposal, strength, valid) = match certificate {
            Certificate::Finalization(f) => (
                &f.proposal,
                SealStrength::Final,
                f.verify(&mut rng, &self.scheme, &Sequential),
            ),
            Certificate::Notarization(n) => (
                &n.proposal,
                SealStrength::Notarized,
                n.verify(&mut rng, &self.scheme, &Sequential),
            ),
            Certificate::Nullification(_) => return Err("a nullification seals nothing".into()),
        };
        if proposal.payload != digest(block_hash) {
            return Err("the certificate is for another block".into());
        }
        if proposal.round.epoch() != Epoch::zero() {
            return Err("the certificate is for another epoch".into());
        }
        if extra_view(&header.extra) != Some(proposal.round.view().get()) {
            return Err("the certificate is for another view than the block records".into());
        }
        if !valid {
            return Err("the certificate's signatures do not verify".into());
        }
        Ok(strength)
    }

    /// Checks a seal through a descendant: the headers link the block to the descendant by
    /// parent hashes, and the descendant's finalization verifies. Then the block is final.
    fn through(&self, mut bytes: &[u8], block_hash: &B256, header: &Header) -> Result<(), String> {
        let malformed = |e: alloy_rlp::Error| format!("malformed seal through a descendant: {e}");
        let mut list = alloy_rlp::Header::decode_bytes(&mut bytes, true).map_err(malformed)?;
        let mut path: Vec<Header> = Vec::new();
        while !list.is_empty() {
            if path.len() == MAX_THROUGH {
                return Err(format!(
                    "more than {MAX_THROUGH} headers to a final descendant"
                ));
            }
            path.push(alloy_rlp::Decodable::decode(&mut list).map_err(malformed)?);
        }
        let (mut parent_hash, mut height) = (*block_hash, header.height);
        for descendant in &path {
            if descendant.parent_hash != parent_hash
                || Some(descendant.height) != height.checked_add(1)
            {
                return Err("the headers do not link the block to its final descendant".into());
            }
            parent_hash = descendant.hash(self.suite);
            height = descendant.height;
        }
        let last = path
            .last()
            .ok_or("a seal through a descendant names none")?;
        match self.certificate(bytes)? {
            certificate @ Certificate::Finalization(_) => {
                self.certifies(&certificate, &parent_hash, last).map(|_| ())
            }
            _ => Err("a seal through a descendant needs the descendant's finalization".into()),
        }
    }
}

impl SealVerifier for CertificateSeals {
    fn verify(
        &self,
        block_hash: &B256,
        header: &Header,
        seal: &Seal,
        _validators: &ValidatorSet,
    ) -> Result<SealStrength, String> {
        let Seal::Certificate(bytes) = seal else {
            return Err("not a consensus certificate".into());
        };
        match bytes.split_first() {
            Some((&THROUGH, rest)) => self
                .through(rest, block_hash, header)
                .map(|()| SealStrength::Final),
            _ => self.certifies(&self.certificate(bytes)?, block_hash, header),
        }
    }

    fn seal_through(&self, final_seal: &Seal, path: &[Header]) -> Option<Seal> {
        let Seal::Certificate(finalization) = final_seal else {
            return None;
        };
        if path.is_empty()
            || path.len() > MAX_THROUGH
            || !matches!(
                self.certificate(finalization),
                Ok(Certificate::Finalization(_))
            )
        {
            return None;
        }
        let mut bytes = vec![THROUGH];
        alloy_rlp::encode_list(path, &mut bytes);
        bytes.extend_from_slice(finalization);
        Some(Seal::Certificate(bytes.into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::bft::view_extra;
    use cairn_network::peer_signer;
    use cairn_primitives::Bytes;
    use cairn_primitives::dev::{dev_genesis, dev_validator_key};
    use commonware_consensus::simplex::types::{
        Finalize, Notarize, Nullification, Nullify, Proposal,
    };
    use commonware_consensus::types::{Round, View};
    use commonware_utils::non_empty;

    const VIEW: u64 = 7;

    struct Setup {
        validators: ValidatorSet,
        signers: Vec<Scheme>,
        seals: CertificateSeals,
        header: Header,
    }

    fn signers(genesis_hash: &B256, validators: &ValidatorSet) -> Vec<Scheme> {
        (0..4)
            .map(|i| {
                Scheme::signer(
                    &namespace(genesis_hash),
                    participants(validators).unwrap(),
                    peer_signer(&dev_validator_key(i)),
                )
                .unwrap()
            })
            .collect()
    }

    fn setup() -> Setup {
        let genesis_hash = B256::repeat_byte(0x9e);
        let validators = ValidatorSet::from_genesis(&dev_genesis(4, 0));
        let header = Header {
            parent_hash: B256::repeat_byte(1),
            height: 3,
            timestamp_ms: 1,
            proposer: dev_validator_key(0).address(),
            state_root: B256::repeat_byte(2),
            transactions_root: B256::repeat_byte(3),
            receipts_root: B256::repeat_byte(4),
            extra: view_extra(View::new(VIEW)),
        };
        Setup {
            signers: signers(&genesis_hash, &validators),
            seals: CertificateSeals::new(&genesis_hash, &validators, CryptoSuite::Ed25519Keccak)
                .unwrap(),
            validators,
            header,
        }
    }

    fn proposal(epoch: u64, view: u64, hash: &B256) -> Proposal<Digest> {
        Proposal::new(
            Round::new(Epoch::new(epoch), View::new(view)),
            View::new(view - 1),
            digest(hash),
        )
    }

    fn finalized(signers: &[Scheme], proposal: &Proposal<Digest>) -> Seal {
        let votes: Vec<_> = signers[..3]
            .iter()
            .map(|s| Finalize::sign(s, proposal.clone()).unwrap())
            .collect();
        let certificate =
            Finalization::from_finalizes(&signers[0], non_empty![@&votes], &Sequential).unwrap();
        finalization_seal(&certificate)
    }

    fn check(setup: &Setup, seal: &Seal) -> Result<SealStrength, String> {
        setup.seals.verify(
            &setup.header.hash(CryptoSuite::Ed25519Keccak),
            &setup.header,
            seal,
            &setup.validators,
        )
    }

    #[test]
    fn a_quorum_certificate_for_the_block_seals_it() {
        let setup = setup();
        let hash = setup.header.hash(CryptoSuite::Ed25519Keccak);
        let proposal = proposal(0, VIEW, &hash);
        assert_eq!(
            check(&setup, &finalized(&setup.signers, &proposal)),
            Ok(SealStrength::Final)
        );
        let votes: Vec<_> = setup.signers[1..]
            .iter()
            .map(|s| Notarize::sign(s, proposal.clone()).unwrap())
            .collect();
        let notarization =
            Notarization::from_notarizes(&setup.signers[0], non_empty![@&votes], &Sequential)
                .unwrap();
        assert_eq!(
            check(&setup, &notarization_seal(&notarization)),
            Ok(SealStrength::Notarized)
        );
    }

    fn refused(setup: &Setup, seal: &Seal, why: &str) {
        match check(setup, seal) {
            Err(message) => assert!(message.contains(why), "{message} (expected {why})"),
            Ok(strength) => panic!("accepted as {strength:?}; expected: {why}"),
        }
    }

    /// An ancestor this node never saw notarized is sealed through a final descendant: the
    /// headers that link it to that descendant, and the descendant's finalization. The seal
    /// proves it final on its own; a broken link, a path to another block, or a notarization
    /// in place of the finalization proves nothing.
    #[test]
    fn a_seal_through_a_final_descendant_proves_the_block_final() {
        let setup = setup();
        let hash = setup.header.hash(CryptoSuite::Ed25519Keccak);
        let child = Header {
            parent_hash: hash,
            height: setup.header.height + 1,
            extra: view_extra(View::new(VIEW + 1)),
            ..setup.header.clone()
        };
        let grandchild = Header {
            parent_hash: child.hash(CryptoSuite::Ed25519Keccak),
            height: child.height + 1,
            extra: view_extra(View::new(VIEW + 3)),
            ..setup.header.clone()
        };
        let path = vec![child.clone(), grandchild.clone()];
        let final_seal = finalized(
            &setup.signers,
            &proposal(0, VIEW + 3, &grandchild.hash(CryptoSuite::Ed25519Keccak)),
        );
        let through = setup.seals.seal_through(&final_seal, &path).unwrap();
        assert_eq!(check(&setup, &through), Ok(SealStrength::Final));

        // The same finalization with a path that skips the child links nothing.
        let skipping = setup
            .seals
            .seal_through(&final_seal, std::slice::from_ref(&grandchild))
            .unwrap();
        refused(&setup, &skipping, "do not link");
        // A path to another block than the one finalized.
        let other_seal = finalized(
            &setup.signers,
            &proposal(0, VIEW + 3, &B256::repeat_byte(7)),
        );
        let wrong = setup.seals.seal_through(&other_seal, &path).unwrap();
        refused(&setup, &wrong, "another block");
        // A notarization is no proof of finality, so no seal is built from one, and a
        // hand-made one is refused.
        let votes: Vec<_> = setup.signers[..3]
            .iter()
            .map(|s| {
                Notarize::sign(
                    s,
                    proposal(0, VIEW + 3, &grandchild.hash(CryptoSuite::Ed25519Keccak)),
                )
                .unwrap()
            })
            .collect();
        let notarization =
            Notarization::from_notarizes(&setup.signers[0], non_empty![@&votes], &Sequential)
                .unwrap();
        let notarized = notarization_seal(&notarization);
        assert!(setup.seals.seal_through(&notarized, &path).is_none());
        let Seal::Certificate(bytes) = notarized else {
            unreachable!()
        };
        let mut forged = vec![THROUGH];
        alloy_rlp::encode_list(&path, &mut forged);
        forged.extend_from_slice(&bytes);
        refused(
            &setup,
            &Seal::Certificate(forged.into()),
            "needs the descendant's finalization",
        );
        // Garbage after the marker.
        refused(
            &setup,
            &Seal::Certificate(vec![THROUGH, 0x01].into()),
            "malformed",
        );
        refused(
            &setup,
            &Seal::Certificate(vec![THROUGH, 0xc0].into()),
            "names none",
        );
        // A later block's finalization on its own (no path) is for another block.
        refused(&setup, &final_seal, "another block");
    }

    #[test]
    fn every_other_seal_is_refused_with_its_reason() {
        let setup = setup();
        let hash = setup.header.hash(CryptoSuite::Ed25519Keccak);
        // Not a certificate at all.
        let proposer_seal = Seal::sign(&hash, &dev_validator_key(0));
        refused(&setup, &proposer_seal, "not a consensus certificate");
        refused(
            &setup,
            &Seal::Certificate(Bytes::from_static(b"garbage")),
            "undecodable",
        );
        // A nullification certifies that a view produced nothing.
        let round = Round::new(Epoch::zero(), View::new(VIEW));
        let votes: Vec<_> = setup.signers[..3]
            .iter()
            .map(|s| Nullify::sign::<Digest>(s, round).unwrap())
            .collect();
        let nullification =
            Nullification::from_nullifies(&setup.signers[0], non_empty![@&votes], &Sequential)
                .unwrap();
        let nullification_seal = Seal::Certificate(
            Certificate::<Scheme, Digest>::Nullification(nullification)
                .encode()
                .to_vec()
                .into(),
        );
        refused(&setup, &nullification_seal, "seals nothing");
        // Genuine certificates, but for something else.
        let other_block = finalized(&setup.signers, &proposal(0, VIEW, &B256::repeat_byte(5)));
        refused(&setup, &other_block, "another block");
        let earlier_block = finalized(
            &setup.signers,
            &proposal(0, VIEW - 2, &B256::repeat_byte(5)),
        );
        refused(&setup, &earlier_block, "another block");
        let other_epoch = finalized(&setup.signers, &proposal(1, VIEW, &hash));
        refused(&setup, &other_epoch, "another epoch");
        let other_view = finalized(&setup.signers, &proposal(0, VIEW + 1, &hash));
        refused(&setup, &other_view, "another view");
        // Signed by the same validators for another chain: the namespace differs.
        let foreign = signers(&B256::repeat_byte(0x11), &setup.validators);
        let foreign_seal = finalized(&foreign, &proposal(0, VIEW, &hash));
        refused(&setup, &foreign_seal, "do not verify");
        // Signed by keys that are not this chain's validators.
        let strangers = ValidatorSet::from_genesis(&{
            let mut genesis = dev_genesis(4, 0);
            for (i, validator) in genesis.validators.iter_mut().enumerate() {
                validator.public_key =
                    cairn_primitives::SecretKey::from_bytes([i as u8 + 100; 32]).public_key();
            }
            genesis
        });
        let stranger_signers: Vec<Scheme> = (0..4)
            .map(|i| {
                Scheme::signer(
                    &namespace(&B256::repeat_byte(0x9e)),
                    participants(&strangers).unwrap(),
                    peer_signer(&cairn_primitives::SecretKey::from_bytes([i + 100; 32])),
                )
                .unwrap()
            })
            .collect();
        let stranger_seal = finalized(&stranger_signers, &proposal(0, VIEW, &hash));
        assert!(check(&setup, &stranger_seal).is_err());
        // A valid certificate with one byte of a signature changed.
        let Seal::Certificate(bytes) = finalized(&setup.signers, &proposal(0, VIEW, &hash)) else {
            unreachable!()
        };
        let mut tampered = bytes.to_vec();
        let last = tampered.len() - 5;
        tampered[last] ^= 1;
        assert!(check(&setup, &Seal::Certificate(tampered.into())).is_err());
    }
}
