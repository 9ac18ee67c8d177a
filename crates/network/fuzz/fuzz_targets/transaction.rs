//! A transaction from a client or a peer: decodes or is refused, never panics; what decodes is
//! the one canonical encoding, so its hash (which the pool and the chain index by) is unique.
#![no_main]

use cairn_primitives::SignedTransaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = SignedTransaction::decode_exact(data) {
        assert_eq!(tx.encoded(), data);
        // The hash of the suite its key names (keccak-256 for ed25519, SM3 for SM2).
        assert_eq!(tx.hash(), tx.suite().hash(data));
        let _ = tx.verify();
    }
});
