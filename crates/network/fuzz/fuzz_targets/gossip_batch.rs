//! A gossip batch from a peer: decodes or is refused, never panics; never more transfers than
//! the limit; what decodes is the one canonical encoding of its transfers.
#![no_main]

use cairn_network::wire::{MAX_GOSSIP_TRANSACTIONS, decode_transactions, encode_transactions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(transactions) = decode_transactions(data) {
        assert!(transactions.len() <= MAX_GOSSIP_TRANSACTIONS);
        assert_eq!(encode_transactions(&transactions), data);
    }
});
