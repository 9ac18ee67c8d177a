//! Checking the certificates that seal BFT blocks.

use cairn_ledger::{SealStrength, SealVerifier, ValidatorSet};
use cairn_primitives::{B256, Header, Seal};
use commonware_codec::{Copying, Decode, Encode};
use commonware_consensus::simplex::types::{Certificate, Finalization, Notarization};
use commonware_consensus::types::Epoch;
use commonware_cryptography::certificate::Verifier as _;
use commonware_parallel::Sequential;

use super::{Digest, Scheme, digest, extra_view, namespace, participants};

/// Verifies finalization and notarization certificates against the genesis validators.
pub struct CertificateSeals {
    scheme: Scheme,
}

impl CertificateSeals {
    /// A verifier for the chain with this genesis hash and validator set.
    pub fn new(genesis_hash: &B256, validators: &ValidatorSet) -> Result<Self, String> {
        let scheme = Scheme::verifier(&namespace(genesis_hash), participants(validators)?);
        Ok(Self { scheme })
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
        let config = self.scheme.certificate_codec_config();
        let certificate =
            Certificate::<Scheme, Digest>::decode_cfg(Copying(bytes.as_ref()), &config)
                .map_err(|e| format!("undecodable certificate: {e}"))?;
        let mut rng = rand::rng();
        let (proposal, strength, valid) = match &certificate {
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
}
