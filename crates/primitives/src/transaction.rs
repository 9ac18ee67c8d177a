//! Signed transfers and their canonical encoding.
//!
//! Encoding (RLP list): `[chain_id, nonce, to, amount, public_key, signature]`.
//! The signature covers `SIGNING_DOMAIN || rlp([chain_id, nonce, to, amount])`, so a transfer
//! signed for one chain is invalid on every other, and the nonce makes it valid once per chain.
//! The public key is 32 bytes (ed25519) or 33 (a compressed SM2 point): it names the crypto
//! suite that signed the transaction, whose hash gives the transaction hash (of the full
//! encoding) and the sender's address (of the key). A chain admits only its own suite's.

use alloy_primitives::{Address, B256};
use alloy_rlp::{BufMut, Decodable, Encodable, Header as RlpHeader};

use crate::acs::{ACS_TX_TYPE, AcsTransaction, MAX_ACS_TRANSACTION_BYTES};
use crate::{AccountPublicKey, Amount, CryptoSuite, Signature, SignatureError, TransactionSigner};

/// Upper bound on an encoded transfer; anything longer is malformed (ACS transactions have
/// their own bound, [`MAX_ACS_TRANSACTION_BYTES`]).
pub const MAX_TRANSACTION_BYTES: usize = 256;

/// Prefix of every transfer's signing message: keeps transfer signatures from being valid as
/// any other kind of signed Cairn message (block seals use a different domain).
const SIGNING_DOMAIN: &[u8] = b"cairn/transfer/v1";

/// What a sender asks for: move `amount` to `to`, as the sender's `nonce`-th transaction on
/// chain `chain_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transaction {
    /// The chain this transfer is valid on.
    pub chain_id: u64,
    /// The sender's sequence number: equals the number of transactions the sender has had
    /// included before this one.
    pub nonce: u64,
    /// Recipient.
    pub to: Address,
    /// Base units to move.
    pub amount: Amount,
}

impl Transaction {
    fn fields_length(&self) -> usize {
        self.chain_id.length() + self.nonce.length() + self.to.length() + self.amount.length()
    }

    fn encode_fields(&self, out: &mut dyn BufMut) {
        self.chain_id.encode(out);
        self.nonce.encode(out);
        self.to.encode(out);
        self.amount.encode(out);
    }

    /// The exact bytes the sender signs.
    pub fn signing_message(&self) -> Vec<u8> {
        let payload_length = self.fields_length();
        let header = RlpHeader {
            list: true,
            payload_length,
        };
        let mut out = Vec::with_capacity(SIGNING_DOMAIN.len() + header.length() + payload_length);
        out.extend_from_slice(SIGNING_DOMAIN);
        header.encode(&mut out);
        self.encode_fields(&mut out);
        out
    }

    /// Signs the transfer with `key`.
    pub fn sign(self, key: &impl TransactionSigner) -> SignedTransaction {
        Body::Transfer(self).sign(key)
    }
}

/// What a signed transaction asks for: a transfer, or a contract (ACS) action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Move funds.
    Transfer(Transaction),
    /// Deploy, join, set or call a contract package.
    Acs(AcsTransaction),
}

impl From<Transaction> for Body {
    fn from(tx: Transaction) -> Self {
        Self::Transfer(tx)
    }
}

impl From<AcsTransaction> for Body {
    fn from(tx: AcsTransaction) -> Self {
        Self::Acs(tx)
    }
}

impl Body {
    /// The exact bytes the sender signs.
    pub fn signing_message(&self) -> Vec<u8> {
        match self {
            Self::Transfer(tx) => tx.signing_message(),
            Self::Acs(tx) => tx.signing_message(),
        }
    }

    /// Signs with `key`.
    pub fn sign(self, key: &impl TransactionSigner) -> SignedTransaction {
        let signature = key.sign_message(&self.signing_message());
        SignedTransaction::new(self, key.account_public_key(), signature)
    }

    fn chain_id(&self) -> u64 {
        match self {
            Self::Transfer(tx) => tx.chain_id,
            Self::Acs(tx) => tx.chain_id,
        }
    }

    fn nonce(&self) -> u64 {
        match self {
            Self::Transfer(tx) => tx.nonce,
            Self::Acs(tx) => tx.nonce,
        }
    }

    fn fields_length(&self) -> usize {
        match self {
            Self::Transfer(tx) => tx.fields_length(),
            Self::Acs(tx) => tx.fields_length(),
        }
    }

    fn encode_fields(&self, out: &mut dyn BufMut) {
        match self {
            Self::Transfer(tx) => tx.encode_fields(out),
            Self::Acs(tx) => tx.encode_fields(out),
        }
    }
}

impl AcsTransaction {
    /// Signs the ACS transaction with `key`.
    pub fn sign(self, key: &impl TransactionSigner) -> SignedTransaction {
        Body::Acs(self).sign(key)
    }
}

/// A transaction with its sender's public key and signature.
///
/// The hash and sender address are computed once, at construction or decoding. A value of this
/// type is well-formed but not necessarily validly signed: call [`SignedTransaction::verify`]
/// (or verify in batches) before trusting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTransaction {
    body: Body,
    public_key: AccountPublicKey,
    signature: Signature,
    hash: B256,
    sender: Address,
}

impl SignedTransaction {
    /// Assembles a signed transaction (without checking the signature).
    pub fn new(
        body: impl Into<Body>,
        public_key: impl Into<AccountPublicKey>,
        signature: Signature,
    ) -> Self {
        let public_key = public_key.into();
        let mut signed = Self {
            body: body.into(),
            public_key,
            signature,
            hash: B256::ZERO,
            sender: Address::ZERO,
        };
        signed.hash = public_key.suite().hash(&signed.encoded());
        signed.sender = public_key.address();
        signed
    }

    /// What the transaction asks for.
    pub fn tx(&self) -> &Body {
        &self.body
    }
    /// The transfer, if this is one.
    pub fn transfer(&self) -> Option<&Transaction> {
        match &self.body {
            Body::Transfer(tx) => Some(tx),
            Body::Acs(_) => None,
        }
    }
    /// The contract action, if this is one.
    pub fn acs(&self) -> Option<&AcsTransaction> {
        match &self.body {
            Body::Transfer(_) => None,
            Body::Acs(tx) => Some(tx),
        }
    }
    /// The sender's public key.
    pub fn public_key(&self) -> &AccountPublicKey {
        &self.public_key
    }
    /// The crypto suite that signed the transaction (named by its public key).
    pub fn suite(&self) -> CryptoSuite {
        self.public_key.suite()
    }
    /// The sender's signature.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }
    /// The suite's hash (keccak-256 or SM3) of the canonical encoding.
    pub fn hash(&self) -> B256 {
        self.hash
    }
    /// The sender's address (derived from the public key).
    pub fn sender(&self) -> Address {
        self.sender
    }
    /// Chain id.
    pub fn chain_id(&self) -> u64 {
        self.body.chain_id()
    }
    /// Sender nonce.
    pub fn nonce(&self) -> u64 {
        self.body.nonce()
    }
    /// Base units the transaction moves out of the sender's balance (0 for contract actions).
    pub fn amount(&self) -> Amount {
        self.transfer().map_or(0, |tx| tx.amount)
    }

    /// Checks the signature alone (ZIP-215 rules for ed25519; SM2 with the default user id).
    pub fn verify(&self) -> Result<(), SignatureError> {
        self.public_key
            .verify(&self.body.signing_message(), &self.signature)
    }

    /// The canonical encoding: a transfer's RLP list, or an ACS transaction's typed envelope
    /// (the type byte, then the RLP list).
    pub fn encoded(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.envelope_length());
        self.encode_envelope(&mut out);
        out
    }

    /// Decodes one transaction from exactly `bytes` (a transfer or an ACS envelope), enforcing
    /// the size bound of its kind first.
    pub fn decode_exact(bytes: &[u8]) -> Result<Self, TransactionError> {
        let limit = match bytes.first() {
            Some(first) if *first < 0xc0 => MAX_ACS_TRANSACTION_BYTES,
            _ => MAX_TRANSACTION_BYTES,
        };
        if bytes.len() > limit {
            return Err(TransactionError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        match bytes.first() {
            Some(&ACS_TX_TYPE) => {
                let mut rest = &bytes[1..];
                let tx = Self::decode_list(&mut rest, true)
                    .map_err(|e| TransactionError::Malformed(crate::DecodeError::Rlp(e)))?;
                if !rest.is_empty() {
                    return Err(TransactionError::Malformed(
                        crate::DecodeError::TrailingBytes(rest.len()),
                    ));
                }
                Ok(tx)
            }
            Some(first) if *first < 0xc0 => Err(TransactionError::Malformed(
                crate::DecodeError::InvalidField("unknown transaction type"),
            )),
            _ => crate::decode_exact(bytes).map_err(TransactionError::Malformed),
        }
    }

    /// The encoded size.
    pub fn encoded_len(&self) -> usize {
        self.envelope_length()
    }

    fn payload_length(&self) -> usize {
        self.body.fields_length() + self.public_key.as_bytes().length() + self.signature.0.length()
    }

    fn list_length(&self) -> usize {
        let payload_length = self.payload_length();
        payload_length + alloy_rlp::length_of_length(payload_length)
    }

    fn envelope_length(&self) -> usize {
        match self.body {
            Body::Transfer(_) => self.list_length(),
            Body::Acs(_) => 1 + self.list_length(),
        }
    }

    fn encode_envelope(&self, out: &mut dyn BufMut) {
        if matches!(self.body, Body::Acs(_)) {
            out.put_u8(ACS_TX_TYPE);
        }
        RlpHeader {
            list: true,
            payload_length: self.payload_length(),
        }
        .encode(out);
        self.body.encode_fields(out);
        self.public_key.as_bytes().encode(out);
        self.signature.0.encode(out);
    }

    /// Decodes the RLP list of a transfer (`acs` false) or of an ACS envelope (`acs` true).
    fn decode_list(buf: &mut &[u8], acs: bool) -> alloy_rlp::Result<Self> {
        let header = RlpHeader::decode(buf)?;
        if !header.list {
            return Err(alloy_rlp::Error::UnexpectedString);
        }
        if buf.len() < header.payload_length {
            return Err(alloy_rlp::Error::InputTooShort);
        }
        let (mut payload, rest) = buf.split_at(header.payload_length);
        let body = if acs {
            Body::Acs(AcsTransaction::decode_fields(&mut payload)?)
        } else {
            Body::Transfer(Transaction {
                chain_id: u64::decode(&mut payload)?,
                nonce: u64::decode(&mut payload)?,
                to: Address::decode(&mut payload)?,
                amount: u128::decode(&mut payload)?,
            })
        };
        let public_key =
            AccountPublicKey::from_slice(RlpHeader::decode_bytes(&mut payload, false)?).ok_or(
                alloy_rlp::Error::Custom(
                    "public key is neither 32 bytes (ed25519) nor a compressed SM2 point",
                ),
            )?;
        let signature = Signature(<[u8; 64]>::decode(&mut payload)?);
        if !payload.is_empty() {
            return Err(alloy_rlp::Error::ListLengthMismatch {
                expected: header.payload_length,
                got: header.payload_length - payload.len(),
            });
        }
        *buf = rest;
        Ok(Self::new(body, public_key, signature))
    }
}

/// Inside an RLP list (a block's transactions, a gossip batch): a transfer is its RLP list; an
/// ACS transaction is an RLP string holding its envelope, as Ethereum embeds typed
/// transactions.
impl Encodable for SignedTransaction {
    fn encode(&self, out: &mut dyn BufMut) {
        if matches!(self.body, Body::Acs(_)) {
            RlpHeader {
                list: false,
                payload_length: self.envelope_length(),
            }
            .encode(out);
        }
        self.encode_envelope(out);
    }

    fn length(&self) -> usize {
        match self.body {
            Body::Transfer(_) => self.list_length(),
            Body::Acs(_) => {
                let envelope = self.envelope_length();
                envelope + alloy_rlp::length_of_length(envelope)
            }
        }
    }
}

impl Decodable for SignedTransaction {
    fn decode(buf: &mut &[u8]) -> alloy_rlp::Result<Self> {
        match buf.first() {
            Some(first) if *first >= 0xc0 => Self::decode_list(buf, false),
            _ => {
                let envelope = RlpHeader::decode_bytes(buf, false)?;
                if envelope.len() > MAX_ACS_TRANSACTION_BYTES {
                    return Err(alloy_rlp::Error::Custom("ACS transaction too large"));
                }
                match envelope.split_first() {
                    Some((&ACS_TX_TYPE, mut rest)) => {
                        let tx = Self::decode_list(&mut rest, true)?;
                        if !rest.is_empty() {
                            return Err(alloy_rlp::Error::Custom(
                                "trailing bytes in a transaction envelope",
                            ));
                        }
                        Ok(tx)
                    }
                    _ => Err(alloy_rlp::Error::Custom("unknown transaction type")),
                }
            }
        }
    }
}

/// Checks every transaction's signature; one verdict per transaction, in order.
///
/// ed25519 signatures are checked in batches: one batch check when all are valid (the common
/// case). When the batch fails, it is halved and the halves checked as batches, recursively,
/// so a few bad signatures among many cost a few small batches (about twice one batch for a
/// single bad one) instead of a single check each. The halving spends at most two more
/// batches' worth of work in all; whatever is still undecided then is checked one by one, so
/// even a batch of nothing but bad signatures costs a bounded multiple of checking each alone.
/// SM2 has no batch check: SM2 signatures are checked one by one, spread over all cores.
pub fn verify_signatures(txs: &[SignedTransaction]) -> Vec<bool> {
    let (ed25519, sm2) = by_suite(txs);
    let mut verdicts = vec![true; txs.len()];
    for (index, ok) in sm2.iter().zip(verify_each(txs, &sm2)) {
        verdicts[*index] = ok;
    }
    let checks = SignatureChecks::new(txs, ed25519);
    let n = checks.len();
    if n == 0 || checks.batch(0..n) {
        return verdicts;
    }
    let mut budget = 2 * n;
    // Ranges to settle, each with whether it is already known to hold a bad signature.
    let mut pending = vec![(0..n, true)];
    while let Some((range, known_bad)) = pending.pop() {
        if !known_bad {
            if budget < range.len() {
                checks.singles(range, &mut verdicts);
                continue;
            }
            budget -= range.len();
            if checks.batch(range.clone()) {
                continue;
            }
        }
        if range.len() <= SINGLE_CHECK_BELOW || budget < range.len() / 2 {
            checks.singles(range, &mut verdicts);
            continue;
        }
        let middle = range.start + range.len() / 2;
        let (left, right) = (range.start..middle, middle..range.end);
        budget -= left.len();
        if checks.batch(left.clone()) {
            // The bad signature is on the right.
            pending.push((right, true));
        } else {
            pending.push((right, false));
            pending.push((left, true));
        }
    }
    verdicts
}

/// Whether every signature among `txs` is valid: one batch check of the ed25519 ones, each
/// SM2 one alone (over all cores), and no search for a bad one (for callers that refuse the
/// whole batch if any is bad).
pub fn all_signatures_valid(txs: &[SignedTransaction]) -> bool {
    let (ed25519, sm2) = by_suite(txs);
    let checks = SignatureChecks::new(txs, ed25519);
    checks.batch(0..checks.len()) && all_each_valid(txs, &sm2)
}

/// The index of an invalid signature among `txs` (the first, if several), or `None` if all
/// are valid: for ed25519, one batch check, and on failure about one more batch's worth of
/// halving; SM2 signatures are checked each alone (over all cores).
pub fn find_invalid_signature(txs: &[SignedTransaction]) -> Option<usize> {
    let (ed25519, sm2) = by_suite(txs);
    let first_sm2 = sm2
        .iter()
        .zip(verify_each(txs, &sm2))
        .find(|(_, ok)| !ok)
        .map(|(index, _)| *index);
    let checks = SignatureChecks::new(txs, ed25519);
    let mut range = 0..checks.len();
    if range.is_empty() || checks.batch(range.clone()) {
        return first_sm2;
    }
    while range.len() > 1 {
        let middle = range.start + range.len() / 2;
        range = if checks.batch(range.start..middle) {
            middle..range.end
        } else {
            range.start..middle
        };
    }
    let first_ed25519 = checks.indices[range.start];
    Some(first_sm2.map_or(first_ed25519, |sm2| sm2.min(first_ed25519)))
}

/// Below this many, a failed batch is settled by single checks rather than halved further.
const SINGLE_CHECK_BELOW: usize = 8;

/// Fewer single checks than this per thread are not worth a thread of their own.
const SINGLES_PER_THREAD: usize = 8;

/// The indices of the ed25519-signed and of the SM2-signed transactions.
fn by_suite(txs: &[SignedTransaction]) -> (Vec<usize>, Vec<usize>) {
    (0..txs.len()).partition(|&index| txs[index].suite() == CryptoSuite::Ed25519Keccak)
}

/// The cores to spread single checks over, read once (it may read cgroup files each time).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Checks the signatures of `txs[indices]` one by one, spread over the cores; one verdict per
/// index, in order.
fn verify_each(txs: &[SignedTransaction], indices: &[usize]) -> Vec<bool> {
    checked_each(txs, indices, None)
}

/// Whether every signature of `txs[indices]` is valid, each checked alone over the cores; the
/// first bad one stops every worker, so a forged batch costs no more than the checks up to it.
fn all_each_valid(txs: &[SignedTransaction], indices: &[usize]) -> bool {
    let bad = std::sync::atomic::AtomicBool::new(false);
    checked_each(txs, indices, Some(&bad)).iter().all(|ok| *ok)
}

/// The verdicts of `txs[indices]`, checked alone over the cores. With `stop`, a bad signature
/// sets it and every worker stops; the verdicts left unchecked are then `false`.
fn checked_each(
    txs: &[SignedTransaction],
    indices: &[usize],
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Vec<bool> {
    use std::sync::atomic::Ordering;
    if indices.is_empty() {
        return Vec::new();
    }
    let check = |chunk: &[usize]| -> Vec<bool> {
        let mut verdicts = Vec::with_capacity(chunk.len());
        for &index in chunk {
            if stop.is_some_and(|stop| stop.load(Ordering::Relaxed)) {
                verdicts.resize(chunk.len(), false);
                break;
            }
            let ok = txs[index].verify().is_ok();
            if let Some(stop) = stop.filter(|_| !ok) {
                stop.store(true, Ordering::Relaxed);
            }
            verdicts.push(ok);
        }
        verdicts
    };
    let threads = cores().min(indices.len() / SINGLES_PER_THREAD).max(1);
    if threads == 1 {
        return check(indices);
    }
    let chunk = indices.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let mut parts = indices.chunks(chunk);
        // This thread takes the first part; a thread the system refuses leaves its part to
        // this one too, so the checks never fail for want of threads.
        let first = parts.next().unwrap_or(&[]);
        let workers: Vec<_> = parts
            .map(|part| {
                let worker = std::thread::Builder::new().spawn_scoped(scope, move || check(part));
                (part, worker)
            })
            .collect();
        let mut verdicts = check(first);
        for (part, worker) in workers {
            match worker {
                Ok(handle) => match handle.join() {
                    Ok(part_verdicts) => verdicts.extend(part_verdicts),
                    // A panic inside a signature check is the library's bug; re-raise it.
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                Err(_) => verdicts.extend(check(part)),
            }
        }
        verdicts
    })
}

/// ed25519-signed transactions (`txs[indices]`) with their signing messages, checked in
/// batches or one by one; ranges are positions in `indices`.
struct SignatureChecks<'a> {
    txs: &'a [SignedTransaction],
    indices: Vec<usize>,
    messages: Vec<Vec<u8>>,
}

impl<'a> SignatureChecks<'a> {
    fn new(txs: &'a [SignedTransaction], indices: Vec<usize>) -> Self {
        let messages = indices
            .iter()
            .map(|&index| txs[index].body.signing_message())
            .collect();
        Self {
            txs,
            indices,
            messages,
        }
    }

    fn len(&self) -> usize {
        self.indices.len()
    }

    fn batch(&self, range: std::ops::Range<usize>) -> bool {
        let mut keys = Vec::with_capacity(range.len());
        for &index in &self.indices[range.clone()] {
            match &self.txs[index].public_key {
                AccountPublicKey::Ed25519(key) => keys.push(key),
                AccountPublicKey::Sm2(_) => return false,
            }
        }
        let items = keys
            .into_iter()
            .zip(&self.indices[range.clone()])
            .zip(&self.messages[range])
            .map(|((key, &index), message)| (key, message.as_slice(), &self.txs[index].signature));
        crate::verify_batch(items).is_ok()
    }

    fn singles(&self, range: std::ops::Range<usize>, verdicts: &mut [bool]) {
        for position in range {
            let tx = &self.txs[self.indices[position]];
            verdicts[self.indices[position]] = tx
                .public_key
                .verify(&self.messages[position], &tx.signature)
                .is_ok();
        }
    }
}

/// Why bytes are not an acceptable transaction, before any state is consulted.
#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    /// Longer than its kind allows ([`MAX_TRANSACTION_BYTES`] for a transfer,
    /// [`MAX_ACS_TRANSACTION_BYTES`] for an ACS transaction).
    #[error("transaction is {size} bytes, more than the {limit}-byte limit")]
    TooLarge {
        /// Size of the rejected encoding.
        size: usize,
        /// The limit for its kind.
        limit: usize,
    },
    /// Not a canonical transaction encoding.
    #[error("malformed transaction: {0}")]
    Malformed(crate::DecodeError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sm::Sm2SecretKey;
    use crate::{SecretKey, keccak256};
    use proptest::prelude::*;

    fn sample(nonce: u64, amount: u128) -> SignedTransaction {
        let key = SecretKey::from_bytes([3; 32]);
        Transaction {
            chain_id: 1337,
            nonce,
            to: Address::repeat_byte(0xaa),
            amount,
        }
        .sign(&key)
    }

    #[test]
    fn signed_transaction_verifies_and_detects_tampering() {
        let tx = sample(0, 10);
        assert!(tx.verify().is_ok());
        let mut forged = *tx.transfer().unwrap();
        forged.amount = 11;
        let forged = SignedTransaction::new(forged, tx.public_key, tx.signature);
        assert!(forged.verify().is_err());
        assert_ne!(forged.hash(), tx.hash());
    }

    #[test]
    fn chain_id_is_part_of_the_signed_message() {
        let tx = sample(0, 10);
        let mut other_chain = *tx.transfer().unwrap();
        other_chain.chain_id = 1338;
        let replayed = SignedTransaction::new(other_chain, tx.public_key, tx.signature);
        assert!(replayed.verify().is_err());
    }

    #[test]
    fn encoding_has_the_documented_shape() {
        let tx = sample(5, 1_000);
        let bytes = tx.encoded();
        // list header, then chain id 1337 = 0x0539 as a 2-byte string, nonce 5 as one byte.
        assert_eq!(bytes[0], 0xf8, "payload is longer than 55 bytes");
        assert_eq!(&bytes[2..6], &[0x82, 0x05, 0x39, 0x05]);
        assert_eq!(bytes.len(), tx.length());
        assert!(bytes.len() <= MAX_TRANSACTION_BYTES);
        assert_eq!(tx.hash(), keccak256(&bytes));
    }

    #[test]
    fn decoding_rejects_trailing_fields_and_oversize() {
        let tx = sample(1, 2);
        let bytes = tx.encoded();
        assert_eq!(SignedTransaction::decode_exact(&bytes).unwrap(), tx);
        let mut extra = bytes.clone();
        extra.push(0x80);
        assert!(SignedTransaction::decode_exact(&extra).is_err());
        let big = vec![0xf9u8; MAX_TRANSACTION_BYTES + 1];
        assert!(matches!(
            SignedTransaction::decode_exact(&big),
            Err(TransactionError::TooLarge { .. })
        ));
        // A list with one field too many inside the list header.
        let mut fields = bytes[2..].to_vec();
        fields.push(0x01);
        let mut longer = Vec::new();
        RlpHeader {
            list: true,
            payload_length: fields.len(),
        }
        .encode(&mut longer);
        longer.extend_from_slice(&fields);
        assert!(SignedTransaction::decode_exact(&longer).is_err());
    }

    fn forged(tx: &SignedTransaction) -> SignedTransaction {
        let mut signature = *tx.signature();
        signature.0[7] ^= 0x10;
        SignedTransaction::new(tx.tx().clone(), *tx.public_key(), signature)
    }

    proptest! {
        /// Halving reaches the same verdicts as checking each signature alone, wherever the
        /// bad signatures are and however many there are.
        #[test]
        fn verdicts_match_single_checks(bad in proptest::collection::vec(any::<bool>(), 0..70)) {
            let txs: Vec<SignedTransaction> = bad
                .iter()
                .enumerate()
                .map(|(i, bad)| {
                    let tx = sample(i as u64, 1);
                    if *bad { forged(&tx) } else { tx }
                })
                .collect();
            let expected: Vec<bool> = txs.iter().map(|tx| tx.verify().is_ok()).collect();
            prop_assert_eq!(verify_signatures(&txs), expected.clone());
            prop_assert_eq!(find_invalid_signature(&txs), expected.iter().position(|ok| !ok));
        }
    }

    #[test]
    fn verify_signatures_names_each_bad_one() {
        let good: Vec<_> = (0..5).map(|n| sample(n, 1)).collect();
        assert_eq!(verify_signatures(&good), vec![true; 5]);
        let mut mixed = good.clone();
        mixed[3] =
            SignedTransaction::new(good[3].tx().clone(), good[3].public_key, good[2].signature);
        assert_eq!(
            verify_signatures(&mixed),
            vec![true, true, true, false, true]
        );
        assert!(verify_signatures(&[]).is_empty());
    }

    fn sm2_sample(nonce: u64, amount: u128) -> SignedTransaction {
        Transaction {
            chain_id: 1337,
            nonce,
            to: Address::repeat_byte(0xaa),
            amount,
        }
        .sign(&Sm2SecretKey::from_bytes([3; 32]).unwrap())
    }

    #[test]
    fn sm2_transactions_carry_a_compressed_key_and_hash_with_sm3() {
        let tx = sm2_sample(2, 500);
        assert_eq!(tx.suite(), CryptoSuite::Sm2Sm3);
        assert!(tx.verify().is_ok());
        let bytes = tx.encoded();
        assert!(bytes.len() <= MAX_TRANSACTION_BYTES);
        assert_eq!(tx.hash().0, crate::sm::sm3(&bytes));
        assert_eq!(
            tx.sender().as_slice(),
            &crate::sm::sm3(tx.public_key().as_bytes())[12..]
        );
        // The key field is the 33-byte string (0xa1 header) before the 64-byte signature.
        let key_at = bytes.len() - 66 - 34;
        assert_eq!(bytes[key_at], 0xa1);
        assert_eq!(&bytes[key_at + 1..key_at + 34], tx.public_key().as_bytes());
        let decoded = SignedTransaction::decode_exact(&bytes).unwrap();
        assert_eq!(decoded, tx);
        // Tampering fails; a key of the wrong length or prefix does not decode.
        let mut forged = bytes.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert!(
            SignedTransaction::decode_exact(&forged)
                .unwrap()
                .verify()
                .is_err()
        );
        let mut bad_prefix = bytes.clone();
        bad_prefix[key_at + 1] = 0x04;
        assert!(SignedTransaction::decode_exact(&bad_prefix).is_err());
        // The same signature under the ed25519 reading of the key's first 32 bytes: no.
        let as_ed = SignedTransaction::new(
            tx.tx().clone(),
            crate::PublicKey(tx.public_key().as_bytes()[1..].try_into().unwrap()),
            *tx.signature(),
        );
        assert!(as_ed.verify().is_err());
        assert_ne!(as_ed.hash(), tx.hash());
    }

    #[test]
    fn mixed_suites_get_one_verdict_each() {
        // Ed25519 and SM2, good and forged, interleaved: every path (batches, halving,
        // single SM2 checks over several threads) must agree with checking each alone.
        // 30 SM2 signatures: more than one thread's share (SINGLES_PER_THREAD) on any machine
        // of two cores or more.
        let txs: Vec<SignedTransaction> = (0..60u64)
            .map(|i| {
                let tx = if i % 2 == 0 {
                    sm2_sample(i, 1)
                } else {
                    sample(i, 1)
                };
                if i % 7 == 5 { forged(&tx) } else { tx }
            })
            .collect();
        let expected: Vec<bool> = txs.iter().map(|tx| tx.verify().is_ok()).collect();
        assert!(expected.iter().any(|ok| !ok));
        assert!(expected.iter().filter(|ok| **ok).count() > 45);
        assert_eq!(verify_signatures(&txs), expected);
        assert_eq!(find_invalid_signature(&txs), Some(5));
        assert!(!all_signatures_valid(&txs));
        let good: Vec<SignedTransaction> = txs
            .iter()
            .zip(&expected)
            .filter(|(_, ok)| **ok)
            .map(|(tx, _)| tx.clone())
            .collect();
        assert!(all_signatures_valid(&good));
        assert_eq!(find_invalid_signature(&good), None);
        // The first bad one is SM2, a later one ed25519: the SM2 one is named.
        let sm_at = (10..good.len())
            .find(|&i| good[i].suite() == CryptoSuite::Sm2Sm3)
            .unwrap();
        let ed_at = (sm_at + 1..good.len())
            .find(|&i| good[i].suite() == CryptoSuite::Ed25519Keccak)
            .unwrap();
        let mut first_sm2 = good.clone();
        first_sm2[sm_at] = forged(&first_sm2[sm_at]);
        first_sm2[ed_at] = forged(&first_sm2[ed_at]);
        assert_eq!(find_invalid_signature(&first_sm2), Some(sm_at));
        // Only SM2, one forged late: found, and the others are valid; all_signatures_valid
        // stops early and says no.
        let mut sm2: Vec<_> = (0..40).map(|i| sm2_sample(i, 1)).collect();
        sm2[37] = forged(&sm2[37]);
        assert_eq!(find_invalid_signature(&sm2), Some(37));
        let verdicts = verify_signatures(&sm2);
        assert_eq!(verdicts.iter().filter(|ok| !**ok).count(), 1);
        assert!(!verdicts[37]);
        assert!(!all_signatures_valid(&sm2));
        sm2[37] = sm2_sample(37, 1);
        assert!(all_signatures_valid(&sm2));
    }

    fn acs_sample(nonce: u64, action: crate::AcsAction) -> SignedTransaction {
        AcsTransaction {
            chain_id: 1337,
            nonce,
            gas_limit: 50_000,
            action,
        }
        .sign(&SecretKey::from_bytes([3; 32]))
    }

    #[test]
    fn acs_transactions_travel_in_a_typed_envelope() {
        let call = acs_sample(
            4,
            crate::AcsAction::Call {
                package: Address::repeat_byte(7),
                contract: "holder.getvbl".into(),
                record: Address::repeat_byte(8),
            },
        );
        assert!(call.verify().is_ok());
        let bytes = call.encoded();
        assert_eq!(bytes[0], ACS_TX_TYPE);
        assert_eq!(call.hash(), keccak256(&bytes));
        assert_eq!(bytes.len(), call.encoded_len());
        assert_eq!(SignedTransaction::decode_exact(&bytes).unwrap(), call);
        // Inside a list (a block, a gossip batch) it is a string holding the envelope, next
        // to transfers in their own encoding.
        let transfer = sample(5, 10);
        let list = vec![transfer.clone(), call.clone(), transfer.clone()];
        let mut encoded = Vec::new();
        alloy_rlp::encode_list(&list, &mut encoded);
        let decoded: Vec<SignedTransaction> = crate::decode_exact(&encoded).unwrap();
        assert_eq!(decoded, list);
        assert_eq!(alloy_rlp::encode(&call).len(), call.length());
        // The signature covers the action: another contract name does not verify.
        let Body::Acs(mut forged) = call.tx().clone() else {
            unreachable!()
        };
        forged.action = crate::AcsAction::Call {
            package: Address::repeat_byte(7),
            contract: "holder".into(),
            record: Address::repeat_byte(8),
        };
        assert!(
            SignedTransaction::new(forged, *call.public_key(), *call.signature())
                .verify()
                .is_err()
        );
        // A transfer's signature is never valid for an ACS transaction: different domains.
        assert_ne!(
            call.tx().signing_message()[..12],
            transfer.tx().signing_message()[..12]
        );
    }

    #[test]
    fn typed_envelopes_are_bounded_and_checked() {
        let deploy = acs_sample(
            0,
            crate::AcsAction::Deploy {
                source: alloy_primitives::Bytes::from(vec![b'a'; crate::MAX_PACKAGE_SOURCE_BYTES]),
            },
        );
        let bytes = deploy.encoded();
        assert!(bytes.len() > MAX_TRANSACTION_BYTES);
        assert!(bytes.len() <= MAX_ACS_TRANSACTION_BYTES);
        assert_eq!(SignedTransaction::decode_exact(&bytes).unwrap(), deploy);
        let mut unknown = bytes.clone();
        unknown[0] = 0x02;
        assert!(SignedTransaction::decode_exact(&unknown).is_err());
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(SignedTransaction::decode_exact(&trailing).is_err());
        let huge = vec![ACS_TX_TYPE; MAX_ACS_TRANSACTION_BYTES + 1];
        assert!(matches!(
            SignedTransaction::decode_exact(&huge),
            Err(TransactionError::TooLarge {
                limit: MAX_ACS_TRANSACTION_BYTES,
                ..
            })
        ));
        // In a list, a string that is not an ACS envelope is refused.
        let mut list = Vec::new();
        alloy_rlp::encode_list::<&[u8], [u8]>(&[&[0x02, 0xc0][..]], &mut list);
        assert!(crate::decode_exact::<Vec<SignedTransaction>>(&list).is_err());
    }

    proptest! {
        #[test]
        fn encoding_round_trips(chain_id: u64, nonce: u64, amount: u128, to: [u8; 20], seed: [u8; 32]) {
            let key = SecretKey::from_bytes(seed);
            let tx = Transaction { chain_id, nonce, to: Address::from(to), amount }.sign(&key);
            let decoded = SignedTransaction::decode_exact(&tx.encoded()).unwrap();
            prop_assert_eq!(&decoded, &tx);
            prop_assert!(decoded.verify().is_ok());
            prop_assert_eq!(decoded.sender(), key.address());
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = SignedTransaction::decode_exact(&bytes);
        }

        #[test]
        fn decoding_arbitrary_envelopes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut envelope = vec![ACS_TX_TYPE];
            envelope.extend_from_slice(&bytes);
            let _ = SignedTransaction::decode_exact(&envelope);
            let _ = crate::decode_exact::<Vec<SignedTransaction>>(&bytes);
        }
    }
}
